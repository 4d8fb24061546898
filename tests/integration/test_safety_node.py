"""The policy node's safety layer and watchdog, driven over DDS by the test's own messages."""

import math
import time

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import JointState
from std_srvs.srv import Trigger

from snn_policy_node.policy.observation import JointReading, ObservationBuilder
from snn_policy_node.policy.policy import Policy
from snn_policy_node.ros.common import messages

pytestmark = pytest.mark.integration
CARTPOLE_JOINTS = ["cart_slider", "pole_hinge"]


def cartpole_state(theta: float, sec: int, nanosec: int = 0) -> JointState:
    message = JointState(name=CARTPOLE_JOINTS, position=[0.0, float(theta)], velocity=[0.0, 0.0])
    message.header.stamp.sec, message.header.stamp.nanosec = sec, nanosec
    return message


def reports(diagnostics: list) -> list[tuple[bytes, str, dict]]:
    return [(s.level, s.message, {kv.key: kv.value for kv in s.values}) for d in diagnostics for s in d.status]


def test_commands_fade_in_over_the_readings_time_within_the_command_limits(start_policy, probe, hopper_actor):
    from sim_bridge.simulators.robots import MujocoRobot
    from sim_bridge.tasks import make_task_env

    node, states, commands = start_policy(hopper_actor, "fading_policy",
                                   **{"safety.fade_in": 1.0, "safety.command_high": [0.05]})
    env = make_task_env("Hopper-v5")
    env.reset(seed=0)
    robot = MujocoRobot(env)
    joints = robot.sample()
    policy = Policy.load(hopper_actor)
    reading = JointReading(robot.joint_names, joints.position, joints.velocity)
    full = policy.act(ObservationBuilder(policy.checkpoint.observation).build(reading)).command
    message = JointState(name=list(robot.joint_names), position=list(map(float, joints.position)),
                         velocity=list(map(float, joints.velocity)))
    for seconds in (0.0, 0.25, 0.5, 1.0, 2.0):  # stamps: the robot's time, not the arrival time
        message.header.stamp.sec, message.header.stamp.nanosec = 100 + int(seconds), round(seconds % 1 * 1e9)
        sent = probe.ask(states, commands, message)
        np.testing.assert_allclose(sent, np.minimum(min(seconds, 1.0) * full, 0.05), atol=1e-12)
    assert "safety: fading_in (activated)" in node.output and "safety: running (faded in over 1 s)" in node.output


def test_out_of_domain_readings_latch_the_safe_command_until_reset(start_policy, probe, cartpole):
    node, states, commands = start_policy(cartpole, "latching_policy", diagnostics_period=0.2,
                                   **{"safety.bounded_entries": ["pole_hinge.position"], "safety.bounds_low": [-0.5],
                                      "safety.bounds_high": [0.5], "safety.fault_limit": 3})
    diagnostics = probe.record(DiagnosticArray, "/diagnostics", 10)
    reset = "/latching_policy/reset_safety"
    assert abs(probe.ask(states, commands, cartpole_state(0.05, 1))[0]) == 10.0
    assert probe.ask(states, commands, cartpole_state(0.6, 2)).tolist() == [0.0]  # the reading that trips it
    assert probe.ask(states, commands, cartpole_state(0.05, 3)).tolist() == [0.0]  # latched: a good one too
    probe.wait_for(lambda: any(level == DiagnosticStatus.ERROR and "pole_hinge.position = 0.6 outside [-0.5, 0.5]"
                               in message for level, message, _ in reports(diagnostics)), timeout=5,
                   what="the latched state in /diagnostics")
    assert "safety: latched (pole_hinge.position = 0.6 outside [-0.5, 0.5])" in node.output
    answer = probe.call(Trigger, reset, Trigger.Request())
    assert answer.success and answer.message == "safety reset: running"
    assert abs(probe.ask(states, commands, cartpole_state(0.05, 4))[0]) == 10.0
    assert not probe.call(Trigger, reset, Trigger.Request()).success  # nothing latched

    assert probe.ask(states, commands, cartpole_state(1e308, 5)).tolist() == [0.0]  # finite but absurd
    assert "pole_hinge.position = 1e+308 beyond +-1e+06" in node.output
    assert probe.call(Trigger, reset, Trigger.Request()).success
    assert abs(probe.ask(states, commands, cartpole_state(0.05, 6))[0]) == 10.0

    count = len(commands)  # faulty readings get no command until the third in a row trips the layer
    probe.ask(states, commands, cartpole_state(math.nan, 7))
    assert "3 faulty readings in a row (the last: non_finite)" in node.output
    assert [c.data.tolist() for c in commands[count:]] == [[0.0]] * (len(commands) - count)
    assert all(abs(c.data[0]) in (0.0, 10.0) for c in commands)


def test_the_watchdog_stops_commanding_on_the_steady_clock_when_clock_and_readings_stop(start_policy, probe, cartpole):
    node, states, commands = start_policy(cartpole, "watched_policy", mode="rate", rate_hz=50.0,
                                   command_timeout=1.0, diagnostics_period=0.2, use_sim_time=True)
    diagnostics = probe.record(DiagnosticArray, "/diagnostics", 10)
    clock = probe.publisher(Clock, "/clock", 10)

    def stream(start_s: float, seconds: float) -> float:
        t = start_s
        while t < start_s + seconds:
            stamp = messages.nanoseconds_stamp(round(t * 1e9))
            clock.publish(Clock(clock=stamp))
            states.publish(cartpole_state(0.05, stamp.sec, stamp.nanosec))
            time.sleep(0.02)
            t += 0.02
        return t

    t = stream(10.0, 1.5)
    probe.wait_for(lambda: commands, timeout=5, what="commands while readings and /clock flow")
    stopped, seen = time.monotonic(), len(diagnostics)
    time.sleep(1.6)  # command_timeout 1 s, then the watchdog
    after_timeout = len(commands)
    time.sleep(0.8)
    assert len(commands) == after_timeout, "commands went on after the watchdog fired"
    assert "watchdog: no fresh joint state for 1 s; commanding stopped" in node.output
    late = reports(diagnostics[seen:])  # reported on the steady clock while /clock stood still
    assert len(late) >= 5 and late[-1][2]["stale"] == "True" and int(late[-1][2]["watchdog_stops"]) >= 1
    assert time.monotonic() - stopped < 5

    t = stream(t, 1.0)  # fresh readings: commanding resumes
    probe.wait_for(lambda: len(commands) > after_timeout, timeout=5, what="commands once readings returned")
    clock.publish(Clock(clock=messages.nanoseconds_stamp(round((t - 5.0) * 1e9))))  # rewound, readings stop
    probe.wait_for(lambda: "clock jumped back" in node.output, timeout=5, what="the jump in the log")
    jumped = len(commands)
    time.sleep(0.8)  # within command_timeout: without the jump the pending reading would be commanded 40 times
    assert len(commands) - jumped <= 2, f"{len(commands) - jumped} commands after /clock was rewound"
