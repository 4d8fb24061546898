"""ROS 2 nodes over the spiking library: the policy node, the r-STDP service, and the benchmark's echo
node and driver (the only rclpy code of this package)."""
