"""Spiking neural network policies for robots: the library under the ROS 2 nodes.

The modules of this package never import rclpy; the nodes that adapt them to ROS live in
``snn_policy_node.ros``.
"""

__version__ = "0.1.0"
