"""ROS 2 nodes over the spiking library: the policy node and the r-STDP service."""
