"""The policy node alone, driven by the test's own joint-state messages over DDS."""

import math
import signal
import time
from types import SimpleNamespace

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Float64MultiArray

from snn_policy_node.policy.policy import Policy
from snn_policy_node.ros.common import messages

pytestmark = pytest.mark.integration


def joint_state(names, position, velocity=None) -> JointState:
    message = JointState(name=list(names))
    message.position = [float(v) for v in position]
    message.velocity = [float(v) for v in (velocity if velocity is not None else position)]
    return message


@pytest.fixture
def policy_node(start_policy, cartpole):
    return start_policy(cartpole, "policy_under_test", diagnostics_period=0.5)


@pytest.fixture
def ant_graph(nodes, probe, ant_actor):
    """Returns a starter of an Ant actor's policy node with the probe's joint-state and odometry
    writers, and one sampled Ant state: its joint state and its odometry message for a stamp."""
    from nav_msgs.msg import Odometry

    from sim_bridge.simulators.robots import MujocoRobot
    from sim_bridge.tasks import make_task_env
    from snn_policy_node.policy.observation import OdometryReading

    def start(name: str, **params) -> SimpleNamespace:
        node = nodes("snn_policy_node", name, checkpoint=str(ant_actor), **params)
        graph = SimpleNamespace(
            node=node, commands=probe.record(Float64MultiArray, messages.COMMANDS, messages.COMMAND_QOS),
            diagnostics=probe.record(DiagnosticArray, "/diagnostics", 10),
            states=probe.publisher(JointState, messages.JOINT_STATES, messages.SENSOR_QOS),
            odometry=probe.publisher(Odometry, messages.ODOMETRY, messages.SENSOR_QOS),
            imu=probe.publisher(Imu, messages.IMU, messages.SENSOR_QOS))
        node.wait_for_output("loaded spiking_actor")
        probe.wait_for(lambda: graph.odometry.get_subscription_count() > 0, what="the policy's odometry subscription")
        if params.get("base_source") == "imu":
            probe.wait_for(lambda: graph.imu.get_subscription_count() > 0, what="the policy's IMU subscription")
        env = make_task_env("Ant-v5")
        env.reset(seed=0)
        robot = MujocoRobot(env)
        joints, base = robot.sample(), robot.base()
        graph.state = joint_state(robot.joint_names, joints.position, joints.velocity)
        graph.base = OdometryReading(base.position, base.orientation, base.linear, base.angular)
        graph.odometry_message = lambda stamp: messages.odometry_message(base.body, graph.base, stamp)

        def send_pair() -> None:  # best effort: re-sent until a command answers the pair
            for _ in range(10):
                graph.odometry.publish(graph.odometry_message(graph.state.header.stamp))
                graph.states.publish(graph.state)
                if graph.commands:
                    return
                time.sleep(0.2)

        graph.send_pair = send_pair
        return graph

    return start


def test_joint_order_and_extra_joints_give_the_same_actions(policy_node, probe, cartpole):
    _, states, commands = policy_node
    policy = Policy.load(cartpole)
    rng = np.random.default_rng(0)
    for _ in range(12):
        x, x_dot, theta, theta_dot = rng.uniform(-0.2, 0.2, 4)
        expected = policy.act(np.array([x, x_dot, theta, theta_dot])).command
        canonical = probe.ask(states, commands, joint_state(["cart_slider", "pole_hinge"], [x, theta], [x_dot, theta_dot]))
        shuffled = probe.ask(states, commands, joint_state(
            ["wheel", "pole_hinge", "camera_tilt", "cart_slider"], [9.0, theta, -3.0, x], [1.0, theta_dot, 2.0, x_dot]))
        np.testing.assert_array_equal(canonical, expected)
        np.testing.assert_array_equal(shuffled, expected)


def test_malformed_input_never_crashes_the_node_nor_yields_a_bad_command(policy_node, probe):
    node, states, commands = policy_node
    diagnostics = probe.record(DiagnosticArray, "/diagnostics", 10)
    # reports are volatile: one received means the next, those on the faults, cannot be missed
    probe.wait_for(lambda: len(diagnostics) > 0, timeout=10, what="a first /diagnostics report")
    names = ["cart_slider", "pole_hinge"]
    # an answer means the node's reader has matched our writer: a best-effort burst sent before that is lost
    probe.ask(states, commands, joint_state(names, [0.0, 0.05], [0.0, 0.0]))
    bad = [
        joint_state(names, [math.nan, 0.0]),
        joint_state(names, [0.0, math.inf], [0.0, -math.inf]),
        joint_state(names, [0.1], [0.1, 0.2]),  # too few positions
        joint_state(names, [0.1, 0.2, 0.3], [0.1, 0.2]),  # too many positions
        joint_state(["cart_slider"], [0.1], [0.1]),  # a joint missing
        joint_state(["cart_slider", "cart_slider"], [0.1, 0.2], [0.1, 0.2]),  # a joint twice
        JointState(),  # empty
    ]  # finite but absurd readings latch the safe state: tests/integration/test_safety_node.py
    for message in bad:
        for _ in range(3):
            states.publish(message)
    for k in range(2000):  # a burst of valid and broken messages as fast as rclpy publishes
        states.publish(bad[k % len(bad)] if k % 2 else joint_state(names, [0.01 * (k % 7), 0.0]))
    time.sleep(1.0)
    assert node.alive(), node.output
    valid = probe.ask(states, commands, joint_state(names, [0.0, 0.05], [0.0, 0.0]))
    assert valid.tolist() in ([-10.0], [10.0])
    sent = [np.array(c.data) for c in commands]
    assert sent and all(c.shape == (1,) and np.isfinite(c).all() and abs(c[0]) == 10.0 for c in sent)
    probe.wait_for(lambda: any(_fault_count(d) > 0 and d.status[0].level == DiagnosticStatus.WARN for d in diagnostics),
                   timeout=5, what="faults in /diagnostics")
    assert node.alive()
    seen = len(diagnostics)  # with valid input only, the next reports are OK again and still count the faults
    deadline = time.monotonic() + 10
    while not any(_fault_count(d) > 0 and d.status[0].level == DiagnosticStatus.OK for d in diagnostics[seen:]):
        assert time.monotonic() < deadline, "no OK report once the faults stopped"
        states.publish(joint_state(names, [0.0, 0.01]))
        time.sleep(0.05)


def test_a_reading_offered_again_gets_its_command_without_a_second_inference(policy_node, probe):
    _, states, commands = policy_node
    diagnostics = probe.record(DiagnosticArray, "/diagnostics", 10)
    probe.wait_for(lambda: diagnostics, timeout=10, what="a first /diagnostics report")
    reading = joint_state(["cart_slider", "pole_hinge"], [0.0, 0.05], [0.0, 0.0])
    reading.header.stamp.sec = 42
    first = probe.ask(states, commands, reading)
    for _ in range(3):
        np.testing.assert_array_equal(probe.ask(states, commands, reading), first)
    reading.header.stamp.sec = 43  # a new reading with the same values is a new step
    probe.ask(states, commands, reading)

    def counts() -> tuple[int, int]:
        reports = [{kv.key: kv.value for kv in status.values} for d in diagnostics for status in d.status]
        return sum(int(r["inferences"]) for r in reports), int(reports[-1]["repeated_readings"])

    probe.wait_for(lambda: counts()[0] == 2 and counts()[1] >= 3, timeout=10,
                   what="two inferences and three repeated readings in /diagnostics")


def _value(array: DiagnosticArray, key: str) -> str | None:
    return next((kv.value for status in array.status for kv in status.values if kv.key == key), None)


def _fault_count(array: DiagnosticArray) -> int:
    values = {kv.key: kv.value for status in array.status for kv in status.values}
    return sum(int(v) for k, v in values.items() if k.startswith("faults_"))


def test_a_floating_base_policy_acts_only_with_odometry_as_new_as_the_joint_state(ant_graph, probe):
    graph = ant_graph("policy_under_test", diagnostics_period=0.5)
    for k in range(1, 4):  # joint states alone: nothing to act on
        graph.state.header.stamp.sec = k
        graph.states.publish(graph.state)
        time.sleep(0.1)
    probe.wait_for(lambda: any(_fault_count(d) > 0 for d in graph.diagnostics), timeout=5,
                   what="missing odometry in /diagnostics")
    assert not graph.commands
    graph.send_pair()
    probe.wait_for(lambda: graph.commands, timeout=2, what="a command once odometry came")
    command = np.array(graph.commands[-1].data)
    assert command.shape == (8,) and np.all(np.abs(command) <= 1.0) and graph.node.alive()


def test_corrupt_checkpoint_fails_start_up_with_a_clear_message(nodes, tmp_path, cartpole):
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(cartpole.read_bytes()[:1000])
    node = nodes("snn_policy_node", "policy_with_broken_checkpoint", checkpoint=str(broken))
    assert node.process.wait(30) == 2
    assert "cannot configure" in node.output and "truncated" in node.output


@pytest.mark.parametrize("parameter, value, says", [
    ("rate_hz", 0.0, "rate_hz must be a positive number"),
    ("command_timeout", float("nan"), "command_timeout must be a positive number"),
    ("rate_hz", "fast", "expecting type 'DOUBLE'"),
    ("command_topic", "bad//topic", "cannot configure"),
])
def test_bad_parameters_fail_start_up_with_a_clear_message(nodes, cartpole, parameter, value, says):
    node = nodes("snn_policy_node", "policy_with_bad_parameter", checkpoint=str(cartpole), **{parameter: value})
    assert node.process.wait(30) == 2
    assert says in node.output and "Traceback" not in node.output


def test_missing_checkpoint_parameter_is_explained(nodes):
    node = nodes("snn_policy_node", "policy_without_checkpoint")
    assert node.process.wait(30) == 2
    assert "parameter 'checkpoint' is empty" in node.output


def test_stamped_joint_state_commands_carry_the_stamp_of_the_state_they_answer(nodes, probe, cartpole):
    node = nodes("snn_policy_node", "stamped_policy", checkpoint=str(cartpole), command_format="joint_state",
                 command_topic="/stamped/commands")
    replies = probe.record(JointState, "/stamped/commands", messages.COMMAND_QOS)
    states = probe.publisher(JointState, messages.JOINT_STATES, messages.SENSOR_QOS)
    node.wait_for_output("loaded dsqn")
    message = joint_state(["cart_slider", "pole_hinge"], [0.0, 0.05], [0.0, 0.0])
    for k in (7, 8, 9):
        message.header.stamp.sec, message.header.stamp.nanosec = k, 123
        deadline = time.monotonic() + 10
        while not any(r.header.stamp.sec == k for r in replies):  # re-sent: the sensor QoS is best effort
            assert time.monotonic() < deadline, f"no reply to stamp {k}"
            states.publish(message)
            time.sleep(0.2)
    reply = next(r for r in replies if r.header.stamp.sec == 9)
    assert list(reply.name) == ["cart_slider"] and abs(reply.effort[0]) == 10.0 and reply.header.stamp.nanosec == 123


def test_lifecycle_cleanup_removes_what_configure_made(ros, cartpole):
    from rclpy.lifecycle import TransitionCallbackReturn
    from rclpy.parameter import Parameter

    from snn_policy_node.ros.policy_node import PolicyNode

    parameters = [Parameter("autostart", value=False), Parameter("checkpoint", value=str(cartpole)),
                  Parameter("plastic_layer", value=1)]
    node = PolicyNode("lifecycle_under_test", parameter_overrides=parameters)
    try:
        def entities():
            return tuple(len(list(kind)) for kind in (node.publishers, node.subscriptions, node.timers, node.services))

        before = entities()
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        configured = entities()
        # joint states, modulation, plastic weights and /reward; ~/reset_state, ~/reset_safety and ~/explore
        assert configured[1] == before[1] + 4 and configured[3] == before[3] + 3 and node.policy is not None
        assert node.trigger_cleanup() == TransitionCallbackReturn.SUCCESS
        assert entities() == before
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS  # and configures again
        assert entities() == configured
    finally:
        node.destroy_node()


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM])
def test_the_node_exits_cleanly_on_a_signal_while_driven(policy_node, probe, signal_number):
    node, states, commands = policy_node
    probe.ask(states, commands, joint_state(["cart_slider", "pole_hinge"], [0.0, 0.01]))
    for _ in range(20):  # keep callbacks coming while the signal arrives
        states.publish(joint_state(["cart_slider", "pole_hinge"], [0.0, 0.01]))
    node.process.send_signal(signal_number)
    assert node.process.wait(5) == 0
    assert "Traceback" not in node.output


def test_a_joint_state_too_old_when_odometry_comes_is_dropped_and_missing_odometry_is_said_once(ant_graph, probe):
    graph = ant_graph("waiting_policy", diagnostics_period=0.2, command_timeout=0.5)
    for k in range(1, 6):
        graph.state.header.stamp.sec = k
        graph.states.publish(graph.state)
        time.sleep(0.05)
    graph.node.wait_for_output("no odometry on /odom", timeout=5)
    probe.wait_for(lambda: any(s.message == "waiting for odometry on /odom" for d in graph.diagnostics for s in d.status),
                   timeout=5, what="the wait in /diagnostics")
    time.sleep(0.8)  # the waiting reading (stamp 5) is now older than command_timeout
    for _ in range(3):
        graph.odometry.publish(graph.odometry_message(graph.state.header.stamp))
        time.sleep(0.1)
    time.sleep(0.3)
    assert not graph.commands, "a joint state 1 s old was acted on when odometry came"
    assert graph.node.output.count("no odometry on /odom") == 1
    graph.state.header.stamp.sec = 6  # a fresh pair is acted on
    graph.send_pair()
    probe.wait_for(lambda: graph.commands, timeout=2, what="a command for a fresh pair")


def test_a_joint_name_mismatch_is_refused_and_said_once_naming_missing_and_unexpected_joints(policy_node, probe):
    node, states, commands = policy_node
    renamed = joint_state(["cart", "pole_hinge"], [0.0, 0.05], [0.0, 0.0])
    for _ in range(20):
        states.publish(renamed)
        time.sleep(0.02)
    node.wait_for_output("joint states lack ['cart_slider'], which the policy needs; they list ['cart'] it does "
                         "not know: no command until they match", timeout=5)
    assert not commands
    assert node.output.count("joint states lack") == 1
    assert abs(probe.ask(states, commands, joint_state(["cart_slider", "pole_hinge"], [0.0, 0.05], [0.0, 0.0]))[0]) == 10


def test_a_robot_with_a_trusted_key_refuses_an_unsigned_model_and_runs_a_signed_one(nodes, tmp_path, cartpole):
    import shutil

    from snn_policy_node.policy.signing import generate_keys, sign_checkpoint

    generate_keys(tmp_path / "owner.pem", tmp_path / "owner.pub")
    model = tmp_path / "model.safetensors"
    shutil.copy(cartpole, model)
    refused = nodes("snn_policy_node", "policy_refusing", checkpoint=str(model), trusted_key=str(tmp_path / "owner.pub"))
    assert refused.process.wait(30) == 2
    assert "is not signed, and this robot loads only models signed by" in refused.output
    sign_checkpoint(model, tmp_path / "owner.pem")
    accepted = nodes("snn_policy_node", "policy_trusting", checkpoint=str(model), trusted_key=str(tmp_path / "owner.pub"))
    accepted.wait_for_output("loaded dsqn")


def test_a_base_tilted_beyond_its_bound_latches_the_safe_command(ant_graph, probe):
    from dataclasses import replace

    graph = ant_graph("tilt_policy", **{"safety.max_tilt": 0.5, "safety.safe_action": ["damping"]})
    graph.state.header.stamp.sec = 1
    graph.send_pair()
    probe.wait_for(lambda: graph.commands, timeout=2, what="a command while upright")
    assert np.any(np.array(graph.commands[-1].data) != 0.0)
    half = math.radians(60) / 2  # rolled 60 degrees about x
    graph.base = replace(graph.base, orientation=(math.cos(half), math.sin(half), 0.0, 0.0))
    count = len(graph.commands)
    graph.state.header.stamp.sec = 2
    graph.send_pair()
    probe.wait_for(lambda: len(graph.commands) > count, timeout=2, what="the answer to the tilted reading")
    graph.node.wait_for_output("safety: latched (base tilted 60.0 deg, beyond 28.6)", timeout=5)
    velocity = dict(zip(graph.state.name, graph.state.velocity))
    joints = ("hip_4", "ankle_4", "hip_1", "ankle_1", "hip_2", "ankle_2", "hip_3", "ankle_3")  # the action's order
    np.testing.assert_allclose(graph.commands[-1].data, [-velocity[j] for j in joints])  # damping, kd 1


def ant_command(ant_actor, graph) -> np.ndarray:
    """What the policy commands for the graph's Ant state, computed in this process."""
    from snn_policy_node.policy.observation import JointReading, ObservationBuilder

    policy = Policy.load(ant_actor)
    state = graph.state
    reading = JointReading(state.name, state.position, state.velocity)
    return policy.act(ObservationBuilder(policy.checkpoint.observation).build(reading, graph.base)).command


def test_an_ant_reading_its_base_from_imu_and_odometry_commands_as_from_odometry_alone(ant_graph, probe, ant_actor):
    from dataclasses import replace

    graph = ant_graph("imu_policy", base_source="imu")
    graph.node.wait_for_output("floating base from odometry on /odom and imu on /imu")
    stamp = messages.nanoseconds_stamp(1_000_000_000)
    graph.state.header.stamp = stamp
    # odometry's own orientation and angular velocity are wrong: only the IMU's may be used
    blind = replace(graph.base, orientation=(1.0, 0.0, 0.0, 0.0), angular=(0.0, 0.0, 0.0))
    for _ in range(10):
        graph.odometry.publish(messages.odometry_message("torso", blind, stamp))
        graph.imu.publish(messages.imu_message("torso", graph.base, stamp))
        graph.states.publish(graph.state)
        if graph.commands:
            break
        time.sleep(0.2)
    probe.wait_for(lambda: graph.commands, timeout=2, what="a command from joint states, IMU and odometry")
    np.testing.assert_allclose(graph.commands[0].data, ant_command(ant_actor, graph), rtol=0, atol=1e-12)


def test_an_imu_without_orientation_is_a_fault_and_nothing_is_commanded(ant_graph, probe):
    graph = ant_graph("imu_blind_policy", base_source="imu", diagnostics_period=0.2)
    graph.state.header.stamp.sec = 1
    no_orientation = messages.imu_message("torso", graph.base, graph.state.header.stamp)
    no_orientation.orientation_covariance[0] = -1.0
    for _ in range(5):
        graph.odometry.publish(graph.odometry_message(graph.state.header.stamp))
        graph.imu.publish(no_orientation)
        graph.states.publish(graph.state)
        time.sleep(0.1)
    probe.wait_for(lambda: any(_value(d, "faults_invalid_orientation") not in (None, "0") for d in graph.diagnostics),
                   timeout=5, what="the IMU fault in /diagnostics")
    assert not graph.commands


def test_commands_go_out_in_the_controllers_joint_order(ant_graph, probe, ant_actor):
    order = ["ankle_3", "hip_3", "ankle_2", "hip_2", "ankle_1", "hip_1", "ankle_4", "hip_4"]
    graph = ant_graph("reordering_policy", controller_joints=order)
    graph.node.wait_for_output(f"commands {order} (effort)")
    graph.state.header.stamp.sec = 1
    graph.send_pair()
    probe.wait_for(lambda: graph.commands, timeout=2, what="a command")
    expected = dict(zip(("hip_4", "ankle_4", "hip_1", "ankle_1", "hip_2", "ankle_2", "hip_3", "ankle_3"),
                        ant_command(ant_actor, graph)))
    np.testing.assert_allclose(graph.commands[0].data, [expected[j] for j in order], rtol=0, atol=1e-12)


@pytest.mark.parametrize("parameter, value, says", [
    ("robot_joints", ["cart_slider", "pole"], "robot_joints lack ['pole_hinge'], which the policy needs; they list "
                                              "['pole'] it does not know"),
    ("controller_joints", ["cart"], "controller_joints lack ['cart_slider']"),
])
def test_a_robot_or_controller_without_the_contracts_joints_fails_configuration(nodes, cartpole, parameter, value, says):
    node = nodes("snn_policy_node", "policy_on_the_wrong_robot", checkpoint=str(cartpole), **{parameter: value})
    assert node.process.wait(30) == 2
    assert says in node.output and "cannot configure" in node.output

