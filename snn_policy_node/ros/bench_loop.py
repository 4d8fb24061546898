"""Control-loop benchmark: /joint_states -> command round trip of the policy node.

For each rate, a bare echo node (the baseline) and the policy node are driven in turn by
this process for the same time: joint states go out at a fixed rate from a pacing thread,
commands come back to an executor thread, and both are time-stamped with the same clock.
Both nodes answer with stamped commands (the policy node's ``joint_state`` command format),
so every reply is matched to its request by the stamp; a request never answered is a drop.
"""

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass

import numpy as np
import rclpy
from rclpy.executors import SingleThreadedExecutor
from sensor_msgs.msg import JointState

from snn_policy_node.ros.common import messages


@dataclass
class LoopResult:
    target: str  # "echo" or "policy"
    rate_hz: float
    seconds: float
    sent: int
    received: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    late_sends: int  # requests the pacing thread sent more than one period late

    @property
    def dropped(self) -> int:
        return self.sent - self.received


BENCH_COMMANDS = "/bench/commands"


class Driver:
    """Publishes joint states at a fixed rate and time-stamps the commands that come back.

    Request k carries the stamp k nanoseconds; the reply carries it back.
    """

    def __init__(self, joint_names: tuple[str, ...]):
        self.node = rclpy.create_node(f"bench_driver_{os.getpid()}")
        self.publisher = self.node.create_publisher(JointState, messages.JOINT_STATES, messages.SENSOR_QOS)
        self.arrivals: dict[int, float] = {}
        self.node.create_subscription(JointState, BENCH_COMMANDS, self.on_reply, messages.COMMAND_QOS)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        threading.Thread(target=self.executor.spin, daemon=True).start()
        self.message = JointState(name=list(joint_names))

    def on_reply(self, message: JointState) -> None:
        self.arrivals.setdefault(messages.stamp_nanoseconds(message.header.stamp), time.perf_counter())

    def wait_until_answered(self, timeout: float = 60.0) -> None:
        """Warm-up: until the target is up and answering."""
        self.arrivals.clear()
        deadline = time.monotonic() + timeout
        while not self.arrivals:
            if time.monotonic() > deadline:
                raise RuntimeError("the node under test never answered a joint state")
            self.publish(0)
            time.sleep(0.05)
        time.sleep(0.5)

    def publish(self, k: int) -> None:
        self.message.header.stamp = messages.nanoseconds_stamp(k)
        value = 0.01 * np.sin(0.01 * k)
        self.message.position = messages.float64_sequence(np.full(len(self.message.name), value))
        self.message.velocity = self.message.position
        self.publisher.publish(self.message)

    def drive(self, rate_hz: float, seconds: float) -> tuple[list[float], int]:
        """Send time of every request (request k has stamp k) and the number sent late."""
        period, count = 1.0 / rate_hz, int(rate_hz * seconds)
        self.arrivals.clear()
        sent, late = [], 0
        start = time.perf_counter() + 0.01
        for k in range(count):
            deadline = start + k * period
            while (remaining := deadline - time.perf_counter()) > 0:
                time.sleep(remaining * 0.8 if remaining > 2e-4 else 0)
            if time.perf_counter() - deadline > period:
                late += 1
            sent.append(time.perf_counter())
            self.publish(k)
        time.sleep(0.5)  # stragglers
        return sent, late

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()


def start_target(target: str, checkpoint: str, log) -> subprocess.Popen:
    if target == "echo":
        command = [sys.executable, "-m", "snn_policy_node.ros.echo_node", "--ros-args"]
    else:
        command = [sys.executable, "-m", "snn_policy_node.ros.policy_node", "--ros-args", "-p", f"checkpoint:={checkpoint}",
                   "-p", "diagnostics_period:=5.0", "-p", "command_format:=joint_state"]
    command += ["-p", f"command_topic:={BENCH_COMMANDS}"]
    env = {**os.environ, "ROS_AUTOMATIC_DISCOVERY_RANGE": os.environ.get("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")}
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log, text=True)


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def measure(driver: Driver, target: str, checkpoint: str, rate_hz: float, seconds: float) -> LoopResult:
    with tempfile.TemporaryFile("w+") as log:
        process = start_target(target, checkpoint, log)
        try:
            driver.wait_until_answered()
        except RuntimeError:
            stop(process)
            log.seek(0)
            raise RuntimeError(f"the {target} node never answered a joint state; its output:\n{log.read()}") from None
        try:
            sent, late = driver.drive(rate_hz, seconds)
            arrivals = dict(driver.arrivals)
        finally:
            stop(process)
    answered = [k for k in range(len(sent)) if k in arrivals]
    if not answered:
        raise RuntimeError(f"the {target} node answered none of {len(sent)} joint states at {rate_hz} Hz")
    latency = np.array([arrivals[k] - sent[k] for k in answered]) * 1e3
    return LoopResult(target, rate_hz, seconds, len(sent), len(answered), float(np.percentile(latency, 50)),
                      float(np.percentile(latency, 99)), float(latency.max()), late)


def run_loop_bench(checkpoint: str, rates: list[float], seconds: float, progress=print) -> list[LoopResult]:
    """Echo then policy at every rate; the same driver and process measure both."""
    from snn_policy_node.policy.model_io import load_model

    _, loaded = load_model(checkpoint)
    joints = tuple(dict.fromkeys(e.name for e in loaded.observation.entries))
    rclpy.init()
    driver = Driver(joints)
    results = []
    try:
        for rate in rates:
            for target in ("echo", "policy"):
                result = measure(driver, target, checkpoint, rate, seconds)
                progress(f"{target:6s} at {rate:6.0f} Hz: p50 {result.p50_ms:.3f} ms, p99 {result.p99_ms:.3f} ms, "
                         f"dropped {result.dropped} of {result.sent}")
                results.append(result)
    finally:
        driver.close()
        rclpy.try_shutdown()
    return results


def as_records(results: list[LoopResult]) -> list[dict]:
    return [{**asdict(r), "dropped": r.dropped} for r in results]
