"""Control-loop benchmark: /joint_states -> command round trip of the policy node.

A bare echo node (the baseline) and the policy node run side by side, each in its own process on its
own topics. This process drives them in alternating windows (echo, policy, then policy, echo, ...)
at each rate, so that both see the machine's background load alike, and several windows per rate
give each ratio a spread. Joint states go out at a fixed rate from a pacing thread, commands come
back to an executor thread, both time-stamped with the same clock. Both nodes answer with stamped
commands (the policy node's ``joint_state`` command format), so every reply is matched to its
request by the stamp; a request never answered is a drop.
"""

import os
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass

import numpy as np
import rclpy
from rclpy.executors import SingleThreadedExecutor
from sensor_msgs.msg import JointState

from snn_policy_node.ros.common import messages
from snn_policy_node.ros.common.process import loopback_env, stop_process

TARGETS = ("echo", "policy")


def topics(target: str) -> tuple[str, str]:
    """The joint-state and command topics of a node under test."""
    return f"/bench/{target}/joint_states", f"/bench/{target}/commands"


@dataclass
class LoopResult:
    target: str  # "echo" or "policy"
    rate_hz: float
    window: int  # the window's place among those of its rate and target
    seconds: float
    sent: int
    received: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    late_sends: int  # requests the pacing thread sent more than one period late
    cpu_percent: float  # the node's CPU time over the window's wall time (100: one core)

    @property
    def dropped(self) -> int:
        return self.sent - self.received


class Driver:
    """Publishes joint states at a fixed rate to one node at a time and time-stamps the commands that
    come back. Requests carry increasing stamps (nanoseconds) across windows, so a late reply is never
    taken for an answer to a later window's request."""

    def __init__(self, joint_names: tuple[str, ...], targets: tuple[str, ...] = TARGETS):
        self.node = rclpy.create_node(f"bench_driver_{os.getpid()}")
        self.publishers, self.arrivals = {}, {target: {} for target in targets}
        for target in targets:
            states, commands = topics(target)
            self.publishers[target] = self.node.create_publisher(JointState, states, messages.SENSOR_QOS)
            self.node.create_subscription(JointState, commands, lambda message, t=target: self.on_reply(t, message),
                                          messages.COMMAND_QOS)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        threading.Thread(target=self.executor.spin, daemon=True).start()
        self.message = JointState(name=list(joint_names))
        self.next_stamp = 1

    def on_reply(self, target: str, message: JointState) -> None:
        self.arrivals[target].setdefault(messages.stamp_nanoseconds(message.header.stamp), time.perf_counter())

    def wait_until_answered(self, target: str, timeout: float = 60.0) -> None:
        """Warm-up: until the target is up and answering."""
        deadline = time.monotonic() + timeout
        self.arrivals[target].clear()
        while not self.arrivals[target]:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the {target} node never answered a joint state")
            self.publish(target, self.take_stamp())
            time.sleep(0.05)

    def take_stamp(self) -> int:
        self.next_stamp += 1
        return self.next_stamp - 1

    def publish(self, target: str, stamp: int) -> None:
        self.message.header.stamp = messages.nanoseconds_stamp(stamp)
        value = 0.01 * np.sin(0.01 * stamp)
        self.message.position = messages.float64_sequence(np.full(len(self.message.name), value))
        self.message.velocity = self.message.position
        self.publishers[target].publish(self.message)

    def drive(self, target: str, rate_hz: float, seconds: float) -> tuple[dict[int, float], int]:
        """Send time per request stamp, and the number of requests sent more than a period late."""
        period, count = 1.0 / rate_hz, int(rate_hz * seconds)
        sent, late = {}, 0
        start = time.perf_counter() + 0.01
        for k in range(count):
            deadline = start + k * period
            while (remaining := deadline - time.perf_counter()) > 0:
                time.sleep(remaining * 0.8 if remaining > 2e-4 else 0)
            if time.perf_counter() - deadline > period:
                late += 1
            stamp = self.take_stamp()
            sent[stamp] = time.perf_counter()
            self.publish(target, stamp)
        time.sleep(0.3)  # stragglers
        return sent, late

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()


def start_target(target: str, checkpoint: str, log) -> subprocess.Popen:
    """The echo node, or (any other target) a policy node, on the target's topics."""
    states, commands = topics(target)
    if target == "echo":
        command = [sys.executable, "-m", "snn_policy_node.ros.echo_node", "--ros-args"]
    else:
        command = [sys.executable, "-m", "snn_policy_node.ros.policy_node", "--ros-args", "-p", f"checkpoint:={checkpoint}",
                   "-p", "diagnostics_period:=5.0", "-p", "command_format:=joint_state"]
    command += ["-p", f"command_topic:={commands}", "-p", f"joint_states_topic:={states}"]
    return subprocess.Popen(command, env=loopback_env(), stdout=subprocess.DEVNULL, stderr=log, text=True)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux /proc)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def latencies(driver: Driver, target: str, rate_hz: float, seconds: float) -> tuple[np.ndarray, int, int]:
    """Round trips (ms) of the answered requests of one drive, the number sent, and the number sent late."""
    sent, late = driver.drive(target, rate_hz, seconds)
    arrivals = driver.arrivals[target]
    answered = [k for k in sent if k in arrivals]
    if not answered:
        raise RuntimeError(f"the {target} node answered none of {len(sent)} joint states at {rate_hz} Hz")
    return np.array([arrivals[k] - sent[k] for k in answered]) * 1e3, len(sent), late


def measure(driver: Driver, target: str, pid: int, rate_hz: float, seconds: float, window: int) -> LoopResult:
    cpu, start = cpu_seconds(pid), time.perf_counter()
    latency, sent, late = latencies(driver, target, rate_hz, seconds)
    cpu_percent = 100.0 * (cpu_seconds(pid) - cpu) / (time.perf_counter() - start)
    return LoopResult(target, rate_hz, window, seconds, sent, len(latency), float(np.percentile(latency, 50)),
                      float(np.percentile(latency, 99)), float(latency.max()), late, cpu_percent)


SOAK_BINS_MS = np.concatenate([np.arange(0.0, 5.0, 0.1), np.arange(5.0, 20.0, 1.0), [20.0, 50.0, 100.0, 1e9]])


def soak(driver: Driver, rate_hz: float, seconds: float) -> dict:
    """The policy alone at one rate for a long run: its latency histogram (ms bins) and drops."""
    latency, sent, late = latencies(driver, "policy", rate_hz, seconds)
    counts, _ = np.histogram(latency, SOAK_BINS_MS)
    return {"rate_hz": rate_hz, "seconds": seconds, "sent": sent, "dropped": sent - len(latency), "late_sends": late,
            "p50_ms": float(np.percentile(latency, 50)), "p99_ms": float(np.percentile(latency, 99)),
            "p999_ms": float(np.percentile(latency, 99.9)), "max_ms": float(latency.max()),
            "bins_ms": SOAK_BINS_MS.tolist(), "counts": counts.tolist()}


def run_loop_bench(checkpoint: str, rates: list[float], seconds: float, windows: int = 6, soak_seconds: float = 0.0,
                   soak_rate: float = 500.0, progress=print) -> tuple[list[LoopResult], dict | None]:
    """``windows`` alternating windows of ``seconds`` per node and rate, both nodes running throughout;
    then, if ``soak_seconds``, the policy alone at ``soak_rate``."""
    with ExitStack() as stack:
        driver, processes = start_bench(stack, checkpoint, TARGETS)
        results = alternate(driver, processes, rates, seconds, windows, progress)
        soaked = None
        if soak_seconds > 0:
            progress(f"soak: the policy alone at {soak_rate:.0f} Hz for {soak_seconds:.0f} s")
            soaked = soak(driver, soak_rate, soak_seconds)
            progress(f"soak: p99 {soaked['p99_ms']:.3f} ms, p99.9 {soaked['p999_ms']:.3f} ms, dropped {soaked['dropped']}")
    return results, soaked


def run_recording_bench(checkpoint: str, rate: float, seconds: float, windows: int = 6,
                        progress=print) -> list[LoopResult]:
    """Two policy nodes of ``checkpoint`` side by side, a recorder (:mod:`snn_policy_node.ros.recorder`)
    writing every topic of the second ("recorded") to a bag, driven in alternating windows at ``rate``."""
    with ExitStack() as stack:
        directory = stack.enter_context(tempfile.TemporaryDirectory())
        log = stack.enter_context(tempfile.TemporaryFile("w+"))
        recorder = subprocess.Popen([sys.executable, "-m", "snn_policy_node.ros.recorder", "--ros-args", "-p",
                                     f"path:={directory}/bag", "-p", "include:=^/bench/recorded/"],
                                    env=loopback_env(), stdout=log, stderr=log, text=True)
        stack.callback(stop_process, recorder)
        driver, processes = start_bench(stack, checkpoint, RECORDING_TARGETS)
        log.seek(0)
        deadline = time.monotonic() + 30
        while log.read().count("recording /bench/recorded/") < 2:  # its joint states and commands both
            if time.monotonic() > deadline or recorder.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"the recorder never took the recorded node's topics; its output:\n{log.read()}")
            time.sleep(0.2)
            log.seek(0)
        return alternate(driver, processes, [rate], seconds, windows, progress)


RECORDING_TARGETS = ("policy", "recorded")


def start_bench(stack: ExitStack, checkpoint: str, targets: tuple[str, ...]) -> tuple[Driver, dict]:
    """rclpy, a driver and one node per target, each answering (closed and stopped by ``stack``)."""
    from snn_policy_node.policy.model_io import load_model

    _, loaded = load_model(checkpoint)
    joints = tuple(dict.fromkeys(e.name for e in loaded.observation.entries))
    rclpy.init()
    stack.callback(rclpy.try_shutdown)
    driver = Driver(joints, targets)
    stack.callback(driver.close)
    logs = {target: stack.enter_context(tempfile.TemporaryFile("w+")) for target in targets}
    processes = {target: start_target(target, checkpoint, logs[target]) for target in targets}
    for process in processes.values():
        stack.callback(stop_process, process)
    for target in targets:
        try:
            driver.wait_until_answered(target)
        except RuntimeError:
            logs[target].seek(0)
            raise RuntimeError(f"the {target} node never answered a joint state; its output:\n{logs[target].read()}") from None
    return driver, processes


def alternate(driver: Driver, processes: dict, rates: list[float], seconds: float, windows: int,
              progress) -> list[LoopResult]:
    """``windows`` windows per target and rate, the targets' order reversed every other window."""
    targets, results = tuple(processes), []
    for rate in rates:
        for window in range(windows):
            for target in targets if window % 2 == 0 else targets[::-1]:
                results.append(measure(driver, target, processes[target].pid, rate, seconds, window))
            progress(f"{rate:6.0f} Hz, window {window + 1}/{windows}: " + ", ".join(
                f"{r.target} p99 {r.p99_ms:.3f} ms, dropped {r.dropped}, CPU {r.cpu_percent:.0f} %"
                for r in results[-len(targets):]))
    return results


def as_records(results: list[LoopResult]) -> list[dict]:
    return [{**asdict(r), "dropped": r.dropped} for r in results]
