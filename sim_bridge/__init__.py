"""Bridge between simulators (MuJoCo via gymnasium) and the ROS 2 topics of snn_robot."""
