"""Declaring and checking the parameters of the project's nodes.

Every node lists its parameters in a ``PARAMETERS`` dict, name -> (default, description),
which the launch tests read; these functions turn such a dict into declared ROS parameters
and check the values a node accepts from a fixed set, so that every node declares and
refuses in the same way and words.
"""

from collections.abc import Collection

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node


def declare_parameters(node: Node, parameters: dict[str, tuple[object, str]],
                       dynamic_typing: Collection[str] = ()) -> dict[str, object]:
    """Declare each parameter with its default and description; return the values it took (overrides applied).

    The parameters named in ``dynamic_typing`` may take a value of another type than their default's."""
    values = {}
    for name, (default, description) in parameters.items():
        descriptor = ParameterDescriptor(description=description, dynamic_typing=name in dynamic_typing)
        values[name] = node.declare_parameter(name, default, descriptor).value
    return values


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    """ValueError unless ``value`` is one of ``choices``: "mode must be 'a' or 'b', got 'c'"."""
    if value not in choices:
        raise ValueError(f"{name} must be {' or '.join(map(repr, choices))}, got {value!r}")
