"""A running graph, live in Foxglove: every topic streamed over the Foxglove WebSocket protocol.

Topics are taken as they appear (:class:`~snn_policy_node.ros.common.graph_tap.GraphTap`) and each
message goes out as the CDR bytes that came over DDS, on a channel whose schema is the type's ROS 2
message definition (``ros2msg``), so Foxglove decodes joint states, commands, rewards, diagnostics
(with the policy's spike counts) and the r-STDP status as ROS messages. Open Foxglove, connect to
``ws://HOST:PORT`` ("Foxglove WebSocket"), and load ``docs/foxglove_layout.json`` for the panels.
Needs ``pip install '.[viz]'`` (foxglove-sdk).
"""

import time

from snn_policy_node.ros.common.graph_tap import GraphTap
from snn_policy_node.ros.common.process import StartupError, run_node

PARAMETERS = {
    "host": ("127.0.0.1", "address the WebSocket server listens on (0.0.0.0: every interface of the machine)"),
    "port": (8765, "its port (0: any free one, said in the log)"),
}


class LiveView(GraphTap):
    def __init__(self):
        super().__init__("live_view", PARAMETERS)
        try:
            import foxglove
        except ImportError:
            raise StartupError("live_view: foxglove-sdk is not installed (pip install '.[viz]')") from None
        self.foxglove = foxglove
        try:
            self.server = foxglove.start_server(name="snn_robot", host=self.p["host"], port=self.p["port"])
        except RuntimeError as error:
            raise StartupError(f"live_view: cannot listen on {self.p['host']}:{self.p['port']}: {error}") from None
        self.channels: dict[str, object] = {}
        self.get_logger().info(f"Foxglove WebSocket server on ws://{self.p['host']}:{self.server.port}")
        self.start_tapping()

    def open_topic(self, topic: str, type_name: str) -> None:
        definition, _ = self.typestore.generate_msgdef(type_name, ros_version=2)
        schema = self.foxglove.Schema(name=type_name, encoding="ros2msg", data=definition.encode())
        self.channels[topic] = self.foxglove.Channel(topic, message_encoding="cdr", schema=schema)
        self.get_logger().info(f"streaming {topic} ({type_name})")

    def take(self, topic: str, data: bytes) -> None:
        self.channels[topic].log(bytes(data), log_time=time.time_ns())

    def destroy_node(self) -> None:
        self.server.stop()
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    return run_node(LiveView, args)


if __name__ == "__main__":
    raise SystemExit(main())
