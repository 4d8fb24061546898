"""The simulator side: robots, their physics and its randomization, and the bridge node.

- ``tasks``: what the simulator knows of each task (physics defaults, how Gymnasium makes it).
- ``physics``: physical parameters applied to Gymnasium's environments.
- ``randomization``: seeded, recorded domain randomization (``profiles/*.yaml``) as a Gymnasium wrapper.
- ``simulators/``: batched classic control, MuJoCo robot views, raw MuJoCo XML robots.
- ``ros/``: the bridge node, on ``snn_policy_node.ros.common``; nothing outside ``ros/`` imports
  the policy library.
"""
