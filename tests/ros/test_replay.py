"""Reading a recording for replay: a lockstep bridge's re-offered states and the policy's second answers
to them are one step, so reading k still pairs with command k (real rosbag2 files on disk)."""

import pytest
from rclpy.serialization import serialize_message
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray

from snn_policy_node.ros.common import messages
from snn_policy_node.ros.replay import read_recording

TYPESTORE = get_typestore(Stores.ROS2_KILTED)


def _state(step: int) -> JointState:
    message = JointState(name=["cart_slider"], position=[0.1 * step], velocity=[0.0])
    message.header.stamp = messages.nanoseconds_stamp(step * 20_000_000)
    return message


def _command(step: int, effort: float) -> JointState:
    message = JointState(name=["cart_slider"], effort=[effort])
    message.header.stamp = messages.nanoseconds_stamp(step * 20_000_000)
    return message


def _write(path, topics: dict[str, str], sent: list[tuple[str, object]]) -> None:
    writer = Writer(path, version=9, storage_plugin=StoragePlugin.MCAP)
    writer.open()
    connections = {topic: writer.add_connection(topic, kind, typestore=TYPESTORE) for topic, kind in topics.items()}
    for time, (topic, message) in enumerate(sent):
        writer.write(connections[topic], time + 1, serialize_message(message))
    writer.close()


def test_re_offered_states_and_their_second_answers_are_read_once(tmp_path):
    """States 0, 1, 1 (re-offered), 2 answered by 0, 1, 1, 2 (the second answer repeats the first)."""
    sent = [("/joint_states", _state(0)), ("/policy_controller/commands", _command(0, 10.0)),
            ("/joint_states", _state(1)), ("/joint_states", _state(1)),
            ("/policy_controller/commands", _command(1, -10.0)), ("/policy_controller/commands", _command(1, -10.0)),
            ("/joint_states", _state(2)), ("/policy_controller/commands", _command(2, 10.0))]
    _write(tmp_path / "bag", {"/joint_states": "sensor_msgs/msg/JointState",
                              "/policy_controller/commands": "sensor_msgs/msg/JointState"}, sent)
    recorded = read_recording(tmp_path / "bag")
    assert recorded.command_format == "joint_state"
    assert [m.position[0] for _, m in recorded.readings] == pytest.approx([0.0, 0.1, 0.2])
    assert [c.tolist() for c in recorded.commands] == [[10.0], [-10.0], [10.0]]


def test_unstamped_commands_keep_every_reading_and_every_answer(tmp_path):
    """Float64MultiArray commands say not which state they answer: a lockstep bridge steps on each,
    so a re-offered state and its answer stay two places."""
    sent = [("/joint_states", _state(0)), ("/commands", Float64MultiArray(data=[1.0])),
            ("/joint_states", _state(0)), ("/commands", Float64MultiArray(data=[1.0]))]
    _write(tmp_path / "bag", {"/joint_states": "sensor_msgs/msg/JointState",
                              "/commands": "std_msgs/msg/Float64MultiArray"}, sent)
    recorded = read_recording(tmp_path / "bag", command_topic="commands")
    assert recorded.command_format == "float64_multiarray"
    assert len(recorded.readings) == 2 and [c.tolist() for c in recorded.commands] == [[1.0], [1.0]]


def test_a_recording_without_commands_is_refused(tmp_path):
    _write(tmp_path / "bag", {"/joint_states": "sensor_msgs/msg/JointState"}, [("/joint_states", _state(0))])
    with pytest.raises(ValueError, match="holds no commands"):
        read_recording(tmp_path / "bag")
