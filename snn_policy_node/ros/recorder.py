"""Every topic of a running ROS 2 graph into a rosbag2 directory in MCAP storage.

The directory is what ``ros2 bag record -s mcap`` writes (``metadata.yaml`` beside one ``.mcap`` file
with the ROS 2 message definitions), so ``ros2 bag info`` and ``ros2 bag play`` take it, Foxglove
opens the ``.mcap``, and rosbags reads both. Topics are found as they appear (the graph is looked at
every ``discovery_period`` s; ``topics`` names those to record before they appear, with their types);
each is subscribed with what its publishers offer (transient local when all of them latch, best
effort when any is best effort), and its messages are written as the CDR bytes that came over DDS,
stamped with their arrival on the system clock. The bag is closed, and complete, when the node ends.
"""

import importlib
import time
from pathlib import Path

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from snn_policy_node.ros.common.parameters import declare_parameters
from snn_policy_node.ros.common.process import StartupError, run_node

PARAMETERS = {
    "path": ("", "the rosbag2 directory to write (must not exist yet)"),
    "topics": ([""], "TOPIC:TYPE pairs to record from the start, before their publishers appear "
                     "(e.g. /joint_states:sensor_msgs/msg/JointState); others are recorded as they appear"),
    "discovery_period": (0.5, "seconds between two looks at the graph for new topics"),
}
DEPTH = 1000  # messages a subscription holds while the executor is busy


def message_class(type_name: str):
    """The rclpy message class of ``package/msg/Name``."""
    package, kind, name = type_name.split("/")
    return getattr(importlib.import_module(f"{package}.{kind}"), name)


class Recorder(Node):
    def __init__(self):
        super().__init__("recorder")
        self.p = declare_parameters(self, PARAMETERS)
        if not self.p["path"]:
            raise StartupError("recorder: parameter path is empty")
        path = Path(self.p["path"])
        if path.exists():
            raise StartupError(f"recorder: {path} exists; give a new directory")
        named = [pair.partition(":") for pair in filter(None, self.p["topics"])]
        if any(not type_name for _, _, type_name in named):
            raise StartupError(f"recorder: topics are TOPIC:TYPE pairs, got {self.p['topics']}")
        self.typestore = get_typestore(Stores.ROS2_KILTED)
        self.writer = Writer(path, version=9, storage_plugin=StoragePlugin.MCAP)
        self.writer.open()
        self.recorded: dict[str, object] = {}  # topic -> its connection in the bag (None: not recorded)
        self.counts: dict[str, int] = {}
        for topic, _, type_name in named:
            self.record(topic, type_name, QoSProfile(depth=DEPTH))
        self.create_timer(self.p["discovery_period"], self.discover)
        self.discover()

    def discover(self) -> None:
        for topic, types in self.get_topic_names_and_types():
            if topic not in self.recorded and len(types) == 1:
                publishers = self.get_publishers_info_by_topic(topic)
                if publishers:
                    self.record(topic, types[0], _offered_qos(publishers))

    def record(self, topic: str, type_name: str, qos: QoSProfile) -> None:
        if type_name not in self.typestore.fielddefs:
            self.get_logger().warning(f"not recording {topic}: {type_name} is not a ROS 2 Kilted message type")
            self.recorded[topic] = None
            return
        self.recorded[topic] = self.writer.add_connection(topic, type_name, typestore=self.typestore)
        self.counts[topic] = 0
        self.create_subscription(message_class(type_name), topic, lambda data, topic=topic: self.write(topic, data),
                                 qos, raw=True)
        self.get_logger().info(f"recording {topic} ({type_name})")

    def write(self, topic: str, data: bytes) -> None:
        self.writer.write(self.recorded[topic], time.time_ns(), data)
        self.counts[topic] += 1

    def destroy_node(self) -> None:
        self.writer.close()
        total = sum(self.counts.values())
        self.get_logger().info(f"wrote {total} messages on {len(self.counts)} topics to {self.p['path']}")
        super().destroy_node()


def _offered_qos(publishers) -> QoSProfile:
    """What every publisher of a topic can serve: latched only if all latch, reliable only if all are."""
    latched = all(p.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL for p in publishers)
    reliable = all(p.qos_profile.reliability == ReliabilityPolicy.RELIABLE for p in publishers)
    return QoSProfile(depth=DEPTH, durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
                      reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT)


def main(args: list[str] | None = None) -> int:
    return run_node(Recorder, args)


if __name__ == "__main__":
    raise SystemExit(main())
