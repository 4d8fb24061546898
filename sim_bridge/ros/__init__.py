"""ROS 2 node that plays Gymnasium/MuJoCo robots: the sim bridge."""
