"""Spiking neural network policies for robots: the library under the ROS 2 nodes, and the nodes.

Rooms, each importing only the ones listed before it (``tests/test_layout.py`` checks):
``snn`` (neurons, DSQN, r-STDP) -> ``ann2snn`` (QCFS, conversion, calibration) -> ``policy``
(checkpoints, specs, the deployable policy) -> ``tasks`` (the task registry) -> ``evaluation``
(rollouts, batched evaluation) -> ``training`` -> ``experiments`` (the studies) -> ``reports``
-> ``ros`` (the nodes, the only rclpy code); ``cli`` on top.
"""

__version__ = "0.1.0"
