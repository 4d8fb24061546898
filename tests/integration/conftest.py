"""Real nodes in real processes, talking DDS on this machine's loopback.

Each node runs as its console script, exactly as users start it. The test process joins
the graph with a probe node that publishes and records messages from a spinning thread.
The ROS domain comes from the environment (scripts/run-tests.sh picks one per run), and
discovery stays on this machine.
"""

import os
import shutil
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("ROS_DOMAIN_ID", str(os.getpid() % 100 + 1))

rclpy = pytest.importorskip("rclpy")
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from std_msgs.msg import String  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from snn_policy_node.ros.common import messages  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def executable(name: str) -> str:
    path = shutil.which(name, path=str(Path(sys.executable).parent))
    if path is None:
        pytest.fail(f"console script {name} is not installed in {Path(sys.executable).parent}")
    return path


class NodeProcess:
    """One node started from its console script with ``-p name:=value`` parameters."""

    def __init__(self, script: str, name: str, **params):
        self.name = name
        command = [executable(script), "--ros-args", "-r", f"__node:={name}"]
        for key, value in params.items():
            command += ["-p", f"{key}:={_ros_value(value)}"]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "RCUTILS_COLORIZED_OUTPUT": "0"}
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_for_output(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            if time.monotonic() > deadline or not self.alive() and text not in self.output:
                raise AssertionError(f"{self.name} never printed {text!r}; output:\n{self.output}")
            time.sleep(0.05)

    def stop(self) -> int:
        if self.alive():
            self.process.send_signal(subprocess.signal.SIGINT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def _ros_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if value else "''"
    return repr(value)


class Probe:
    """The test's own node: publishers and recording subscriptions, spun in a thread."""

    def __init__(self):
        self.node = rclpy.create_node(f"probe_{os.getpid()}")
        self.received: dict[str, list] = defaultdict(list)
        self.recorders: dict = {}
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.spinning = True
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.thread.start()

    def _spin(self) -> None:
        while self.spinning:
            self.executor.spin_once(timeout_sec=0.05)

    def record(self, message_type, topic: str, qos) -> list:
        messages = self.received[topic]
        self.recorders[topic] = self.node.create_subscription(message_type, topic, messages.append, qos)
        return messages

    def matched_publishers(self, topic: str) -> int:
        """How many writers a recorded topic's reader has matched: what is published before
        a writer is matched never reaches the recording."""
        return self.recorders[topic].get_publisher_count()

    def play_episodes(self, count: int, bridge: str = "/sim_bridge", timeout: float = 120.0) -> list:
        """Have a bridge started with ``wait_for_start`` play ``count`` episodes, one at a time,
        and return their records. Episodes begin once the bridge's record writer has matched the
        probe: a record sent before would go unrecorded."""
        if messages.EPISODE not in self.recorders:
            self.record(String, messages.EPISODE, messages.EVENT_QOS)
        episodes = self.received[messages.EPISODE]
        self.wait_for(lambda: self.matched_publishers(messages.EPISODE) > 0, timeout, what="the bridge's record writer")
        starter = self.node.create_client(Trigger, f"{bridge}/start_episode")
        if not starter.wait_for_service(timeout_sec=timeout):
            raise AssertionError(f"{bridge}/start_episode never appeared")
        for played in range(len(episodes) + 1, len(episodes) + count + 1):
            starter.call_async(Trigger.Request())  # the record, not the answer, says the episode ran
            self.wait_for(lambda: len(episodes) >= played, timeout, what=f"episode {played}")
        return episodes

    def publisher(self, message_type, topic: str, qos):
        return self.node.create_publisher(message_type, topic, qos)

    def wait_for(self, condition, timeout: float = 30.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            time.sleep(0.02)

    def ask(self, states, commands: list, message) -> np.ndarray:
        """Publish one joint state on ``states`` and return the command recorded in ``commands``
        for it (re-sent if lost: the sensor QoS is best effort)."""
        count = len(commands)
        for _ in range(5):
            states.publish(message)
            try:
                self.wait_for(lambda: len(commands) > count, timeout=2.0, what="a command")
                break
            except AssertionError:
                continue
        self.wait_for(lambda: len(commands) > count, timeout=0.1, what="the policy's answer")
        time.sleep(0.05)  # answers to a re-sent message are identical: take the newest
        return np.array(commands[-1].data)

    def call(self, service_type, name: str, request, timeout: float = 10.0, ask_every: float = 2.0):
        """A service's response (the probe's spinning thread completes the call). Unanswered
        requests are sent again every ``ask_every`` s, as an answer sent before the server has
        matched a new client is lost: only for requests that may arrive twice."""
        client = self.node.create_client(service_type, name)
        if not client.wait_for_service(timeout_sec=timeout):
            raise AssertionError(f"service {name} never appeared")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            future = client.call_async(request)
            try:
                self.wait_for(future.done, min(ask_every, deadline - time.monotonic()), what=f"{name} to answer")
                return future.result()
            except AssertionError:
                future.cancel()
        raise AssertionError(f"{name} did not answer within {timeout} s")

    def close(self) -> None:
        """Stop the spinning thread before tearing down what it spins: rclpy's
        ``Executor.shutdown`` does not wait for another thread's ``spin``."""
        self.spinning = False
        self.thread.join(timeout=5)
        if self.thread.is_alive():
            raise AssertionError("the probe's executor thread did not stop")
        self.executor.shutdown()
        self.node.destroy_node()


@pytest.fixture
def start_policy(nodes, probe):
    """Starts a policy node on a checkpoint and waits until it has loaded and its joint-state reader
    has matched the probe's writer; gives the node, that writer and the recorded commands."""
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Float64MultiArray

    def start(checkpoint: Path, name: str, **params):
        node = nodes("snn_policy_node", name, checkpoint=str(checkpoint), **params)
        commands = probe.record(Float64MultiArray, messages.COMMANDS, messages.COMMAND_QOS)
        states = probe.publisher(JointState, messages.JOINT_STATES, messages.SENSOR_QOS)
        node.wait_for_output("loaded")
        probe.wait_for(lambda: states.get_subscription_count() > 0, what="the policy's joint-state subscription")
        return node, states, commands

    return start


@pytest.fixture
def cartpole() -> Path:
    """The shipped seed-0 CartPole-v0 DSQN."""
    return REPO / "models/dsqn/CartPole-v0/seed0/model.safetensors"


def untrained_spiking_actor(env_id: str, path: Path) -> Path:
    """A seeded, untrained spiking actor for a MuJoCo task, saved with the task's specs."""
    import torch

    from sim_bridge.tasks import make_task_env
    from snn_policy_node.ann2snn.conversion import SpikingActor
    from snn_policy_node.experiments.conversion_check import percentile_actor, random_states
    from snn_policy_node.policy.model_io import save_model
    from snn_policy_node.tasks import mujoco_specs

    states = random_states(env_id, 300, seed=0)
    mean, std = states.mean(0), states.std(0) + 1e-3
    actor = percentile_actor(torch.as_tensor((states - mean) / std), make_task_env(env_id).action_space.shape[0], seed=0)
    observation, action = mujoco_specs(env_id, mean, std)
    save_model(path, SpikingActor.from_qcfs(actor), observation, action, {"env_id": env_id})
    return path


@pytest.fixture
def ant_actor(tmp_path) -> Path:
    """Ant-v5 observes its torso through odometry."""
    return untrained_spiking_actor("Ant-v5", tmp_path / "ant.safetensors")


@pytest.fixture
def hopper_actor(tmp_path) -> Path:
    return untrained_spiking_actor("Hopper-v5", tmp_path / "hopper.safetensors")


@pytest.fixture(scope="session")
def ros():
    rclpy.init()
    yield
    rclpy.try_shutdown()


@pytest.fixture
def probe(ros):
    probe = Probe()
    yield probe
    probe.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so fixtures can see whether the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def nodes(request):
    """Starts nodes; stops them after the test, printing what each said if the test failed."""
    started: list[NodeProcess] = []

    def start(script: str, name: str, **params) -> NodeProcess:
        node = NodeProcess(script, name, **params)
        started.append(node)
        return node

    yield start
    for node in started:
        node.stop()
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        for node in started:
            print(f"----- {node.name} (exit {node.process.returncode}) -----\n{node.output}")
