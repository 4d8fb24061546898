# shellcheck shell=bash
# Environment shared by the scripts that start ROS 2 things. Source it; do not execute it.
# Keep ROS 2 discovery on this machine unless the caller chose otherwise.
export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
