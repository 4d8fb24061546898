"""A recording's readings played back into a policy node, and its answers compared with the recorded commands.

The policy node runs in a process of its own, in the namespace ``/replay`` (a live graph on the same
domain is left alone), with the checkpoint and parameters given: a recording holds topics, not
parameters, so they must be the recorded run's. Every recorded odometry, IMU and joint-state message
is published again, in recorded order, on the node's own topic; after each joint state the replay waits
for the answer, re-sending the reading if the best-effort sensor QoS lost it (a reading seen again is
answered with the command it got, without running the network again). The policy therefore sees the
readings as the recorded run did, and a deterministic policy gives the recorded commands, in order.
"""

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rclpy
from nav_msgs.msg import Odometry
from rclpy.executors import SingleThreadedExecutor
from rclpy.serialization import deserialize_message
from rosbags.highlevel import AnyReader
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Float64MultiArray

from snn_policy_node.ros.common import messages
from snn_policy_node.ros.common.process import loopback_env, stop_process

NAMESPACE = "/replay"
READINGS = {"sensor_msgs/msg/JointState": JointState, "nav_msgs/msg/Odometry": Odometry, "sensor_msgs/msg/Imu": Imu}
COMMAND_TYPES = {"sensor_msgs/msg/JointState": JointState, "std_msgs/msg/Float64MultiArray": Float64MultiArray}


@dataclass
class Recorded:
    readings: list[tuple[str, object]]  # (the node's relative topic, message), in recorded order
    commands: list[np.ndarray]  # the recorded commands' values, in order
    command_format: str  # the policy parameter that gives the recorded command type


@dataclass
class ReplayResult:
    readings: int  # joint states replayed
    answered: int  # of them, those the policy answered
    identical: int  # answers equal to the recorded command at the same place
    max_difference: float  # largest |answer - recorded| over the compared commands
    first_divergence: int | None  # index of the first answer that differs from the recorded one

    @property
    def reproduced(self) -> bool:
        return self.answered == self.readings and self.identical == self.answered

    def line(self) -> str:
        divergence = "none" if self.first_divergence is None else f"at joint state {self.first_divergence}"
        return (f"{self.readings} joint states replayed, {self.answered} answered, {self.identical} commands identical "
                f"to the recording; max |difference| {self.max_difference:.3g}; first divergence {divergence}")


def read_recording(path: str | Path, command_topic: str = messages.COMMANDS) -> Recorded:
    """The policy's inputs and the commands of a rosbag2 recording, as rclpy messages.

    With stamped commands (joint_state) a lockstep bridge's re-offered state, and the policy's second
    answer to it, are one step: readings that repeat their topic's last stamp and commands that repeat
    the last command's stamp are dropped, so that reading k still pairs with command k."""
    command_name = "/" + command_topic.lstrip("/")
    readings, commands, command_type = [], [], None
    with AnyReader([Path(path)]) as reader:
        for connection, _, data in reader.messages():
            if connection.topic == command_name:
                if connection.msgtype not in COMMAND_TYPES:
                    raise ValueError(f"{command_name} holds {connection.msgtype}; a policy's commands are "
                                     f"{' or '.join(COMMAND_TYPES)}")
                command_type = connection.msgtype
                commands.append(deserialize_message(data, COMMAND_TYPES[command_type]))
            elif connection.msgtype in READINGS:
                readings.append((connection.topic.lstrip("/"), deserialize_message(data, READINGS[connection.msgtype])))
    if command_type is None:
        raise ValueError(f"{path} holds no commands on {command_name}; give the recorded command topic")
    if not any(isinstance(message, JointState) for _, message in readings):
        raise ValueError(f"{path} holds no joint states to replay")
    stamped = command_type.startswith("sensor")
    if stamped:
        readings = _first_of_each_stamp(readings)
        commands = [message for _, message in _first_of_each_stamp([(command_name, m) for m in commands])]
    values = [np.asarray(message.effort if stamped else message.data) for message in commands]
    return Recorded(readings, values, "joint_state" if stamped else "float64_multiarray")


def _first_of_each_stamp(messages_in_order: list[tuple[str, object]]) -> list[tuple[str, object]]:
    """Each (topic, message) but those stamped as their topic's previous message (a re-sent one)."""
    last: dict[str, int] = {}
    kept = []
    for topic, message in messages_in_order:
        stamp = messages.stamp_nanoseconds(message.header.stamp)
        if last.get(topic) != stamp:
            kept.append((topic, message))
        last[topic] = stamp
    return kept


def compare(answers: list[np.ndarray], recorded: list[np.ndarray], readings: int) -> ReplayResult:
    """Answers (an empty one for an unanswered reading) against the recorded commands, place by place."""
    pairs = list(zip(answers, recorded))
    equal = [a.shape == r.shape and np.array_equal(a, r) for a, r in pairs]
    differences = [float(np.max(np.abs(a - r))) if a.shape == r.shape and a.size else np.inf for a, r in pairs]
    first = next((k for k, same in enumerate(equal) if not same), None)
    if first is None and len(answers) != len(recorded):
        first = len(pairs)
    return ReplayResult(readings, sum(a.size > 0 for a in answers), sum(equal), max(differences, default=0.0), first)


def replay(path: str | Path, checkpoint: str, parameters: dict[str, str] | None = None,
           command_topic: str = messages.COMMANDS, answer_timeout: float = 5.0) -> ReplayResult:
    """Play the recording's readings into a fresh policy node (``checkpoint``, ``parameters``) and compare."""
    recorded = read_recording(path, command_topic)
    process = start_policy(checkpoint, {"command_format": recorded.command_format, "mode": "event",
                                        "command_topic": command_topic, **(parameters or {})})
    rclpy.init()
    node = rclpy.create_node("replay_driver", namespace=NAMESPACE)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    answers: list[np.ndarray] = []
    stamps: list[int] = []  # stamped answers (joint_state format): a second answer to one reading is dropped
    stamped = recorded.command_format == "joint_state"

    def answered(message) -> None:
        if stamped:
            stamp = messages.stamp_nanoseconds(message.header.stamp)
            if stamps and stamps[-1] == stamp:
                return
            stamps.append(stamp)
        answers.append(np.asarray(message.effort if stamped else message.data))

    node.create_subscription(JointState if stamped else Float64MultiArray, command_topic, answered, messages.COMMAND_QOS)
    publishers = {topic: node.create_publisher(type(message), topic, messages.SENSOR_QOS)
                  for topic, message in recorded.readings}
    try:
        _wait(executor, lambda: all(p.get_subscription_count() > 0 for p in publishers.values())
              and node.count_publishers(command_topic) > 0, 60.0, "the policy node", process)
        states = 0
        for topic, message in recorded.readings:
            publishers[topic].publish(message)
            if isinstance(message, JointState):
                states += 1
                _answer(executor, publishers[topic], message, answers, states, answer_timeout, process)
        return compare(answers, recorded.commands, states)
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.shutdown()
        stop_process(process)


def _answer(executor, publisher, message, answers: list, count: int, timeout: float, process) -> None:
    """Wait for the answer to the ``count``-th joint state, re-sending it while none comes; an unanswered
    reading leaves its place empty (an empty command), so that later answers keep their places."""
    resent = False
    deadline = time.monotonic() + timeout
    while len(answers) < count and time.monotonic() < deadline:
        _wait(executor, lambda: len(answers) >= count, 1.0, None, process)
        if len(answers) < count:
            publisher.publish(message)
            resent = True
    if resent:  # a late answer to the first sending may follow: it repeats the one kept
        _wait(executor, lambda: False, 0.1, None, process)
    del answers[count:]
    answers.extend(np.zeros(0) for _ in range(count - len(answers)))


def _wait(executor, condition, timeout: float, what: str | None, process) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the policy node exited with code {process.returncode}: {process.stderr.read()[-2000:]}")
        executor.spin_once(timeout_sec=0.05)
    if what is not None and not condition():
        raise RuntimeError(f"{what} did not come up within {timeout:.0f} s")


def start_policy(checkpoint: str, parameters: dict[str, str]) -> subprocess.Popen:
    command = [sys.executable, "-m", "snn_policy_node.ros.policy_node", "--ros-args", "-r", f"__ns:={NAMESPACE}",
               "-r", "__node:=snn_policy", "-p", f"checkpoint:={checkpoint}"]
    for name, value in parameters.items():
        command += ["-p", f"{name}:={value}"]
    return subprocess.Popen(command, env=loopback_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


