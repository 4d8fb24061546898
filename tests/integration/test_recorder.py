"""The recorder over real DDS: a lockstep CartPole episode recorded to a rosbag2 directory, read back
by two readers that share no code with the writer's side (rosbags' AnyReader and the mcap library's
ROS 2 decoder), holding exactly the messages the probe saw."""

import json
import os
import subprocess
import sys
import time

import pytest
from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosbags.highlevel import AnyReader
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64

from snn_policy_node.reports.recording import recording_summary
from snn_policy_node.ros.common import messages

pytestmark = pytest.mark.integration
DEEP = QoSProfile(depth=1000, reliability=ReliabilityPolicy.BEST_EFFORT)


def _joint_state(message) -> tuple:
    return (message.header.stamp.sec, message.header.stamp.nanosec, tuple(message.name), tuple(message.position),
            tuple(message.velocity), tuple(message.effort))


def recording_graph(nodes, probe, cartpole, bag, topics):
    """A recorder, the shipped DSQN's policy node and a lockstep CartPole bridge waiting for its episode,
    once the recorder reads every one of ``topics``."""
    recorder = nodes("recorder", "recorder", path=str(bag))
    nodes("snn_policy_node", "policy", checkpoint=str(cartpole), command_format="joint_state")
    nodes("sim_bridge", "sim_bridge", env_id="CartPole-v0", max_episodes=1, command_format="joint_state",
          wait_for_start=True)
    for topic in ("/" + name.lstrip("/") for name in topics):
        recorder.wait_for_output(f"recording {topic} ", timeout=60)
        probe.wait_for(lambda: any(s.node_name == "recorder" for s in probe.node.get_subscriptions_info_by_topic(topic)),
                       what=f"the recorder's reader of {topic} in the graph")
    time.sleep(0.5)  # the publishers match the reader the probe has seen
    return recorder


def test_a_recorded_lockstep_episode_holds_every_message_the_probe_saw(nodes, probe, cartpole, tmp_path):
    bag = tmp_path / "episode"
    seen = {messages.JOINT_STATES: probe.record(JointState, messages.JOINT_STATES, DEEP),
            messages.COMMANDS: probe.record(JointState, messages.COMMANDS, messages.EVENT_QOS),
            messages.REWARD: probe.record(Float64, messages.REWARD, messages.EVENT_QOS)}
    recorder = recording_graph(nodes, probe, cartpole, bag, (*seen, messages.EPISODE))
    episodes = probe.play_episodes(1)
    probe.wait_for(lambda: len(seen[messages.REWARD]) == json.loads(episodes[0].data)["steps"], what="every reward")
    assert recorder.stop() == 0
    assert "wrote" in recorder.output

    with AnyReader([bag]) as reader:
        recorded = {topic: [] for topic in seen}
        for connection, _, data in reader.messages(reader.connections):
            if connection.topic.lstrip("/") in recorded:
                recorded[connection.topic.lstrip("/")].append(reader.deserialize(data, connection.msgtype))
        types = {c.topic: c.msgtype for c in reader.connections}
    assert types["/joint_states"] == "sensor_msgs/msg/JointState" and types["/episode"] == "std_msgs/msg/String"
    assert len(seen[messages.JOINT_STATES]) > 20  # a whole episode: states, commands and rewards to compare
    for topic in (messages.JOINT_STATES, messages.COMMANDS):
        assert [_joint_state(m) for m in recorded[topic]] == [_joint_state(m) for m in seen[topic]], topic
    assert [m.data for m in recorded[messages.REWARD]] == [m.data for m in seen[messages.REWARD]]

    summary = {t["topic"]: t for t in recording_summary(bag)["topics"]}
    assert summary["/joint_states"]["count"] == len(seen[messages.JOINT_STATES])
    assert summary["/episode"]["count"] == 1 and summary["/joint_states"]["rate_hz"] > 0

    with open(next(bag.glob("*.mcap")), "rb") as stream:  # the schemas in the file decode it on their own
        decoded = [(channel.topic, message) for _, channel, _, message in
                   make_reader(stream, decoder_factories=[DecoderFactory()]).iter_decoded_messages()]
    episode_records = [m.data for topic, m in decoded if topic == "/episode"]
    assert episode_records == [episodes[0].data]
    assert [_joint_state(m) for topic, m in decoded if topic == "/joint_states"] == \
        [_joint_state(m) for m in seen[messages.JOINT_STATES]]


def test_the_recorder_refuses_an_existing_directory(nodes, tmp_path):
    recorder = nodes("recorder", "recorder", path=str(tmp_path))
    assert recorder.process.wait(30) == 2
    assert "exists; give a new directory" in recorder.output


def test_a_recorded_episode_replayed_into_a_policy_node_gives_its_commands_again(nodes, probe, cartpole, tmp_path):
    """Record a lockstep episode of the shipped DSQN, then play its joint states into fresh policy nodes
    (`snn-robot replay`): the same checkpoint reproduces every command; another one diverges, and says where."""
    bag = tmp_path / "episode"
    recorder = recording_graph(nodes, probe, cartpole, bag, (messages.JOINT_STATES, messages.COMMANDS, messages.EPISODE))
    episode = json.loads(probe.play_episodes(1)[0].data)
    time.sleep(0.5)
    assert recorder.stop() == 0

    def replay(checkpoint) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "snn_policy_node.cli", "replay", str(bag), "--policy", str(checkpoint)],
                              capture_output=True, text=True, timeout=300)

    same = replay(cartpole)
    steps = episode["steps"]
    assert same.returncode == 0, same.stdout + same.stderr
    assert f"{steps} joint states replayed, {steps} answered, {steps} commands identical" in same.stdout
    assert "first divergence none" in same.stdout
    other = replay(cartpole.parent.parent / "seed1" / "model.safetensors")
    assert other.returncode == 1, other.stdout + other.stderr
    assert "first divergence at joint state" in other.stdout


def test_a_recorder_with_include_takes_only_the_topics_that_match(nodes, probe, tmp_path):
    bag = tmp_path / "only_rewards"
    rewards = probe.publisher(Float64, messages.REWARD, messages.EVENT_QOS)
    states = probe.publisher(JointState, messages.JOINT_STATES, messages.SENSOR_QOS)
    recorder = nodes("recorder", "recorder", path=str(bag), include="^/reward$")
    recorder.wait_for_output("recording /reward ", timeout=60)
    assert os.getpriority(os.PRIO_PROCESS, recorder.process.pid) == min(os.getpriority(os.PRIO_PROCESS, 0) + 10, 19)
    probe.wait_for(lambda: rewards.get_subscription_count() > 0, what="the recorder's reader of /reward")
    for value in (1.0, 2.0, 3.0):
        rewards.publish(Float64(data=value))
        states.publish(JointState(name=["j"], position=[value]))
    time.sleep(1.0)
    assert recorder.stop() == 0
    summary = {t["topic"]: t["count"] for t in recording_summary(bag)["topics"]}
    assert summary == {"/reward": 3}
