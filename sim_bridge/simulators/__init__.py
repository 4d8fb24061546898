"""The simulated robots the bridge plays.

- ``batch``: Gymnasium's CartPole and Acrobot dynamics as array operations, many copies at once.
- ``robots``: joint-level views of Gymnasium's MuJoCo environments (names, states, commands, floating base).
- ``xml_robot``: any raw MuJoCo XML robot as an environment (actuator controls in, joints out).
"""

__all__ = ["batch", "robots", "xml_robot"]
