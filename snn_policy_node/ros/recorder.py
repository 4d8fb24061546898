"""Every topic of a running ROS 2 graph into a rosbag2 directory in MCAP storage.

The directory is what ``ros2 bag record -s mcap`` writes (``metadata.yaml`` beside one ``.mcap`` file
with the ROS 2 message definitions), so ``ros2 bag info`` and ``ros2 bag play`` take it, Foxglove
opens the ``.mcap``, and rosbags reads both. Topics are taken as they appear
(:class:`~snn_policy_node.ros.common.graph_tap.GraphTap`), and their messages are written as the CDR
bytes that came over DDS, stamped with their arrival on the system clock. The bag is closed, and
complete, when the node ends. The recorder runs at a lower CPU priority (``nice``) than the nodes it
records: where cores are shared, the control loop goes first and the recorder catches up from its
subscriptions' queues.
"""

import os
import time
from pathlib import Path

from rosbags.rosbag2 import StoragePlugin, Writer

from snn_policy_node.ros.common.graph_tap import GraphTap
from snn_policy_node.ros.common.process import StartupError, run_node

PARAMETERS = {"path": ("", "the rosbag2 directory to write (must not exist yet)"),
              "nice": (10, "added to the recorder's CPU niceness at start-up (0-19), so the control loop goes first")}


class Recorder(GraphTap):
    def __init__(self):
        super().__init__("recorder", PARAMETERS)
        if not self.p["path"]:
            raise StartupError("recorder: parameter path is empty")
        if not 0 <= self.p["nice"] <= 19:
            raise StartupError(f"recorder: nice must be in 0-19, got {self.p['nice']}")
        os.nice(self.p["nice"])
        path = Path(self.p["path"])
        if path.exists():
            raise StartupError(f"recorder: {path} exists; give a new directory")
        self.writer = Writer(path, version=9, storage_plugin=StoragePlugin.MCAP)
        self.writer.open()
        self.connections: dict[str, object] = {}
        self.start_tapping()

    def open_topic(self, topic: str, type_name: str) -> None:
        self.connections[topic] = self.writer.add_connection(topic, type_name, typestore=self.typestore)
        self.get_logger().info(f"recording {topic} ({type_name})")

    def take(self, topic: str, data: bytes) -> None:
        self.writer.write(self.connections[topic], time.time_ns(), data)

    def destroy_node(self) -> None:
        self.writer.close()
        total = sum(self.counts.values())
        self.get_logger().info(f"wrote {total} messages on {len(self.counts)} topics to {self.p['path']}")
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    return run_node(Recorder, args)


if __name__ == "__main__":
    raise SystemExit(main())
