"""Every topic of a running graph, as it appears, taken as the CDR bytes that came over DDS.

The graph is looked at every ``discovery_period`` s; ``topics`` (TOPIC:TYPE pairs) are taken before
their publishers appear. Each topic is subscribed with what its publishers offer (transient local
when all of them latch, best effort when any is best effort), so latched messages come too and no
best-effort publisher is refused. What happens to the bytes is the subclass's: the recorder writes
them to a bag, the live view streams them to Foxglove.
"""

import importlib
import re

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rosbags.typesys import Stores, get_typestore

from snn_policy_node.ros.common.parameters import declare_parameters
from snn_policy_node.ros.common.process import StartupError

DEPTH = 1000  # messages a subscription holds while the executor is busy
TAP_PARAMETERS = {
    "topics": ([""], "TOPIC:TYPE pairs to take from the start, before their publishers appear "
                     "(e.g. /joint_states:sensor_msgs/msg/JointState); others are taken as they appear"),
    "discovery_period": (0.5, "seconds between two looks at the graph for new topics"),
    "include": (".*", "regular expression a discovered topic's name must match to be taken (as ros2 bag record --regex)"),
}


def message_class(type_name: str):
    """The rclpy message class of ``package/msg/Name``."""
    package, kind, name = type_name.split("/")
    return getattr(importlib.import_module(f"{package}.{kind}"), name)


class GraphTap(Node):
    """Subclasses open a topic in :meth:`open_topic` and take each message's bytes in :meth:`take`;
    ``parameters`` are theirs, declared with the tap's own (``self.p``)."""

    def __init__(self, name: str, parameters: dict):
        super().__init__(name)
        self.p = declare_parameters(self, {**parameters, **TAP_PARAMETERS})
        self._named = [pair.partition(":") for pair in filter(None, self.p["topics"])]
        if any(not type_name for _, _, type_name in self._named):
            raise StartupError(f"{name}: topics are TOPIC:TYPE pairs, got {self.p['topics']}")
        try:
            self.include = re.compile(self.p["include"])
        except re.error as error:
            raise StartupError(f"{name}: include is not a regular expression: {error}") from None
        self.typestore = get_typestore(Stores.ROS2_KILTED)
        self.tapped: set[str] = set()
        self.counts: dict[str, int] = {}

    def start_tapping(self) -> None:
        """Take the named topics, then every topic the graph shows (call once the subclass is ready)."""
        for topic, _, type_name in self._named:
            self.tap(topic, type_name, QoSProfile(depth=DEPTH))
        self.create_timer(self.p["discovery_period"], self.discover)
        self.discover()

    def discover(self) -> None:
        for topic, types in self.get_topic_names_and_types():
            if topic not in self.tapped and len(types) == 1 and self.include.search(topic):
                publishers = self.get_publishers_info_by_topic(topic)
                if publishers:
                    self.tap(topic, types[0], offered_qos(publishers))

    def tap(self, topic: str, type_name: str, qos: QoSProfile) -> None:
        self.tapped.add(topic)
        if type_name not in self.typestore.fielddefs:
            self.get_logger().warning(f"not taking {topic}: {type_name} is not a ROS 2 Kilted message type")
            return
        self.open_topic(topic, type_name)
        self.counts[topic] = 0
        self.create_subscription(message_class(type_name), topic, lambda data, topic=topic: self._take(topic, data),
                                 qos, raw=True)

    def _take(self, topic: str, data: bytes) -> None:
        self.take(topic, data)
        self.counts[topic] += 1

    def open_topic(self, topic: str, type_name: str) -> None:
        raise NotImplementedError

    def take(self, topic: str, data: bytes) -> None:
        raise NotImplementedError


def offered_qos(publishers) -> QoSProfile:
    """What every publisher of a topic can serve: latched only if all latch, reliable only if all are."""
    latched = all(p.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL for p in publishers)
    reliable = all(p.qos_profile.reliability == ReliabilityPolicy.RELIABLE for p in publishers)
    return QoSProfile(depth=DEPTH, durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
                      reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT)
