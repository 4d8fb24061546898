"""The plumbing the nodes share: parameter declaration, choice checks, /diagnostics reports."""

import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.context import Context
from rclpy.exceptions import ParameterException
from rclpy.node import Node
from rclpy.parameter import Parameter

from snn_policy_node.ros.common import diagnostics, messages
from snn_policy_node.ros.common.parameters import check_choice, declare_parameters

PARAMETERS = {
    "rate_hz": (50.0, "command rate"),
    "topic": ("/in", "input topic"),
    "iterations": ("0", "0, 1, 2, ... or 'adaptive'"),
}


@pytest.fixture
def make_node():
    """Nodes on a context of their own, so that nothing here touches the default one."""
    context = Context()
    rclpy.init(context=context)
    made = []

    def make(node_type=Node, name: str = "common_under_test", **parameters):
        overrides = [Parameter(key, value=value) for key, value in parameters.items()]
        made.append(node_type(name, context=context, parameter_overrides=overrides))
        return made[-1]

    yield make
    for node in made:
        node.destroy_node()
    rclpy.shutdown(context=context)


def test_declared_parameters_take_their_defaults_overrides_and_descriptions(make_node):
    node = make_node(topic="/other")
    values = declare_parameters(node, PARAMETERS, dynamic_typing={"iterations"})
    assert values == {"rate_hz": 50.0, "topic": "/other", "iterations": "0"}
    assert {key: node.get_parameter(key).value for key in PARAMETERS} == values
    for key, (_, description) in PARAMETERS.items():
        descriptor = node.describe_parameter(key)
        assert descriptor.description == description
        assert descriptor.dynamic_typing == (key == "iterations")


def test_only_dynamically_typed_parameters_take_a_value_of_another_type(make_node):
    assert declare_parameters(make_node(iterations=2), PARAMETERS, dynamic_typing={"iterations"})["iterations"] == 2
    with pytest.raises(ParameterException):  # run_node turns this into exit status 2
        declare_parameters(make_node(rate_hz="fast"), PARAMETERS, dynamic_typing={"iterations"})


def test_the_policy_node_declares_its_parameters_with_calibration_iterations_dynamically_typed(make_node):
    from snn_policy_node.ros.policy_node import PolicyNode
    from snn_policy_node.ros.policy_parameters import PARAMETERS as POLICY

    node = make_node(PolicyNode, "policy_parameters_under_test", autostart=False, calibration_iterations="adaptive")
    assert node.param("calibration_iterations") == "adaptive" and node.param("command_topic") == messages.COMMANDS
    for key, (default, description) in POLICY.items():
        descriptor = node.describe_parameter(key)
        assert (descriptor.description, descriptor.dynamic_typing) == (description, key == "calibration_iterations")


def test_a_choice_outside_the_set_is_refused_in_the_nodes_words():
    check_choice("command_format", "joint_state", messages.COMMAND_FORMATS)
    with pytest.raises(ValueError) as refused:
        check_choice("command_format", "bytes", messages.COMMAND_FORMATS)
    assert str(refused.value) == "command_format must be 'float64_multiarray' or 'joint_state', got 'bytes'"
    with pytest.raises(ValueError, match=r"^mode must be 'lockstep' or 'realtime', got ''$"):
        check_choice("mode", "", ("lockstep", "realtime"))


def test_a_status_report_names_the_node_and_carries_its_values_as_strings(make_node):
    node = make_node(name="reporter")
    before = node.get_clock().now().nanoseconds
    report = diagnostics.status_report(node, "simulation", "CartPole-v0", diagnostics.WARN, "deadlines missed",
                                       {"episode": 3, "running": True, "sim_time": "0.020"})
    after = node.get_clock().now().nanoseconds
    assert isinstance(report, DiagnosticArray) and len(report.status) == 1
    status = report.status[0]
    assert (status.name, status.hardware_id, status.level, status.message) == (
        "reporter: simulation", "CartPole-v0", DiagnosticStatus.WARN, "deadlines missed")
    assert [(kv.key, kv.value) for kv in status.values] == [("episode", "3"), ("running", "True"), ("sim_time", "0.020")]
    assert before <= messages.stamp_nanoseconds(report.header.stamp) <= after


def test_the_diagnostics_publisher_sends_arrays_on_the_diagnostics_topic(make_node):
    node = make_node()
    publisher = diagnostics.diagnostics_publisher(node)
    assert (publisher.topic_name, publisher.msg_type, publisher.qos_profile.depth) == ("/diagnostics", DiagnosticArray, 10)


def test_a_stamped_command_fills_the_field_of_its_command_interface():
    import numpy as np

    stamp = messages.nanoseconds_stamp(1_500_000_000)
    position = messages.joint_command(("hip", "knee"), np.array([0.1, -0.2]), stamp, "position")
    assert list(position.position) == [0.1, -0.2] and not position.effort and position.header.stamp.sec == 1
    assert list(messages.joint_command(("hip",), np.array([3.0]), stamp).effort) == [3.0]
