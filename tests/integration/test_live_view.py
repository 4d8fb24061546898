"""The live view over real DDS and a real WebSocket: a Foxglove client (the protocol spoken by hand,
with the websockets library) sees the graph's topics advertised with their ROS 2 definitions and
gets, on subscribing, the CDR bytes of the messages a probe publishes, which decode to them."""

import asyncio
import json
import re
import struct
from pathlib import Path

import pytest
import websockets
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import JointState

from snn_policy_node.ros.common import messages

pytestmark = pytest.mark.integration


async def first_frames(port: int, topic: str, publish, wanted: int) -> tuple[dict, list[bytes]]:
    """The channel advertised for ``topic`` and the first ``wanted`` message payloads on it."""
    async with websockets.connect(f"ws://127.0.0.1:{port}", subprotocols=["foxglove.sdk.v1"]) as client:
        channel = None
        while channel is None:
            message = json.loads(await asyncio.wait_for(client.recv(), 30))
            if message["op"] == "advertise":
                channel = next((c for c in message["channels"] if c["topic"] == topic), None)
        await client.send(json.dumps({"op": "subscribe", "subscriptions": [{"id": 5, "channelId": channel["id"]}]}))
        await asyncio.sleep(0.5)
        payloads = []
        while len(payloads) < wanted:
            publish()
            frame = await asyncio.wait_for(client.recv(), 10)
            if isinstance(frame, bytes) and frame[0] == 1:  # message data: op, subscription id, log time, payload
                subscription, _ = struct.unpack("<IQ", frame[1:13])
                assert subscription == 5
                payloads.append(frame[13:])
        return channel, payloads


def test_the_live_view_streams_every_topic_as_ros2_cdr_to_a_foxglove_client(nodes, probe):
    view = nodes("live_view", "live_view", port=0)
    states = probe.publisher(JointState, messages.JOINT_STATES, messages.SENSOR_QOS)
    view.wait_for_output("streaming /joint_states", timeout=60)
    port = int(re.search(r"ws://127.0.0.1:(\d+)", view.output).group(1))
    sent = JointState(name=["cart_slider", "pole_hinge"], position=[0.1, -0.02], velocity=[0.5, 1.5])
    channel, payloads = asyncio.run(first_frames(port, "/joint_states", lambda: states.publish(sent), 3))
    assert channel["encoding"] == "cdr" and channel["schemaEncoding"] == "ros2msg"
    assert channel["schemaName"] == "sensor_msgs/msg/JointState" and "MSG: std_msgs/Header" in channel["schema"]
    received = deserialize_message(payloads[0], JointState)
    assert list(received.name) == list(sent.name) and list(received.position) == list(sent.position)
    assert list(received.velocity) == list(sent.velocity)
    assert view.stop() == 0


def test_a_live_view_on_a_port_in_use_says_so_and_exits(nodes):
    first = nodes("live_view", "live_view", port=0)
    first.wait_for_output("Foxglove WebSocket server on", timeout=60)
    port = int(re.search(r"ws://127.0.0.1:(\d+)", first.output).group(1))
    second = nodes("live_view", "live_view_2", port=port)
    assert second.process.wait(30) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in second.output


def test_the_foxglove_layout_shows_topics_the_graph_publishes():
    layout = json.loads((Path(__file__).parents[2] / "docs/foxglove_layout.json").read_text())
    graph = {"/" + t for t in (messages.JOINT_STATES, messages.COMMANDS, messages.REWARD, messages.RSTDP_STATUS)}
    graph.add("/diagnostics")
    shown = set()
    for config in layout["configById"].values():
        paths = [p["value"] for p in config.get("paths", [])] + [config.get("topicPath", ""), config.get("topicToRender", "")]
        shown |= {re.match(r"(/[\w/]+?)(\.|$)", p).group(1) for p in paths if p}
    assert shown == graph
    panels = re.findall(r'"(\w+![\w]+)"', json.dumps(layout["layout"]))
    assert sorted(panels) == sorted(layout["configById"])  # every panel placed, none missing
