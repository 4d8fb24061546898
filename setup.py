"""Packaging for the snn_robot ROS 2 ament_python package."""

import os
from glob import glob

from setuptools import find_packages, setup

PACKAGE_NAME = "snn_robot"
HERE = os.path.dirname(os.path.abspath(__file__))


def _files(pattern):
    """Plain files matching ``pattern`` (relative to this file); empty when none match."""
    return sorted(
        os.path.relpath(path, HERE)
        for path in glob(os.path.join(HERE, pattern))
        if os.path.isfile(path)
    )


data_files = [
    ("share/ament_index/resource_index/packages", ["resource/" + PACKAGE_NAME]),
    ("share/" + PACKAGE_NAME, ["package.xml"]),
]
for subdir in ("launch", "config"):
    matched = _files(os.path.join(subdir, "*"))
    if matched:
        data_files.append((os.path.join("share", PACKAGE_NAME, subdir), matched))
# Shipped models keep their folder layout under share/, where launch files find them.
for folder, _, names in sorted(os.walk(os.path.join(HERE, "models"))):
    relative = os.path.relpath(folder, HERE)
    if names:
        data_files.append((os.path.join("share", PACKAGE_NAME, relative), [os.path.join(relative, n) for n in sorted(names)]))

setup(
    name=PACKAGE_NAME,
    version="0.1.0",
    description="Spiking neural network policies for robots, served as ROS 2 nodes.",
    license="Apache-2.0",
    packages=find_packages(exclude=["tests", "tests.*", "ros2_ws", "ros2_ws.*"]),
    package_data={"sim_bridge": ["profiles/*.yaml"]},
    data_files=data_files,
    python_requires=">=3.10",
    install_requires=[
        "cryptography",
        "numba",
        "numpy",
        "pyyaml",
        "safetensors",
        "torch>=2.4",
    ],
    extras_require={
        "bench": ["onnx", "onnxruntime"],  # snn-robot bench loop's ANN baseline
        "grid": ["ray"],  # the long jobs' units as Ray tasks, here or on a cluster (snn_policy_node.experiments.grid)
        "nir": ["nir"],  # snn-robot export nir
        "viz": ["foxglove-sdk"],  # the live view: snn-robot run SCENARIO live:=PORT
    },
    entry_points={
        "console_scripts": [
            "snn-robot = snn_policy_node.cli:main",
            "snn_policy_node = snn_policy_node.ros.policy_node:main",
            "sim_bridge = sim_bridge.ros.bridge_node:main",
            "rstdp_service = snn_policy_node.ros.rstdp_service:main",
            "recorder = snn_policy_node.ros.recorder:main",
            "live_view = snn_policy_node.ros.live_view:main",
        ],
    },
)
