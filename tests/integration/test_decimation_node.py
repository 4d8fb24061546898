"""Rate mode's decimation over DDS: the network at its period, the ticks between held or ramped."""

import time

import pytest
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import JointState

from snn_policy_node.ros.common import messages

pytestmark = pytest.mark.integration


def drive(start_policy, probe, cartpole, name: str, decimation: str):
    """A CartPole DSQN commanding at 50 Hz with its network every 0.1 s, fed 100 readings a second
    whose pole falls left, then right, every 0.3 s; the commands and the diagnostics reports."""
    node, states, commands = start_policy(cartpole, name, mode="rate", rate_hz=50.0, policy_period=0.1,
                                          decimation=decimation, diagnostics_period=0.5)
    diagnostics = probe.record(DiagnosticArray, "/diagnostics", 10)
    start = time.monotonic()
    for k in range(250):
        falling = 1.0 if int((time.monotonic() - start) / 0.3) % 2 else -1.0  # rad/s: the DSQN pushes that way
        message = JointState(name=["cart_slider", "pole_hinge"], position=[0.0, 0.0], velocity=[0.0, falling])
        message.header.stamp = messages.nanoseconds_stamp(1_000_000_000 + k * 10_000_000)
        states.publish(message)
        time.sleep(0.01)
    node.wait_for_output("every 100 ms, " + decimation + " between (rate mode)")
    values = [{kv.key: kv.value for kv in s.values} for d in diagnostics for s in d.status]
    running = [v for v in values if v.get("policy_period_ms") and int(v["inferences"]) >= 4]
    return [c.data[0] for c in commands], running


def test_hold_runs_the_network_at_its_period_and_repeats_its_command_between(start_policy, probe, cartpole):
    commands, reports = drive(start_policy, probe, cartpole, "holding_policy", "hold")
    assert set(commands) == {-10.0, 10.0}  # the DSQN's two rows, nothing in between
    assert reports, "no diagnostics report covered a stretch of commanding"
    for report in reports:
        assert 80.0 <= float(report["policy_period_ms"]) <= 130.0
        assert 15.0 <= float(report["command_period_ms"]) <= 30.0
        assert report["trained_period_ms"] == "20"
    runs = sum(int(r["inferences"]) for r in reports)
    assert runs * 3 < len(commands)  # about one network run per five commands


def test_interpolate_ramps_between_the_networks_commands(start_policy, probe, cartpole):
    commands, reports = drive(start_policy, probe, cartpole, "ramping_policy", "interpolate")
    assert reports and all(80.0 <= float(r["policy_period_ms"]) <= 130.0 for r in reports)
    assert all(-10.0 <= c <= 10.0 for c in commands)
    between = [c for c in commands if abs(c) < 9.0]
    assert between, f"no ramp: {commands}"
    steps = [abs(b - a) for a, b in zip(commands, commands[1:])]
    assert max(steps) < 20.0  # never the full flip in one tick
