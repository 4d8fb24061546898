"""The nodes' health reports on ``/diagnostics`` (diagnostic_msgs), built in one way.

Each node publishes one status per report, named after the node, with its values as
strings, so that ``ros2 topic echo /diagnostics`` and diagnostic aggregators read every
node alike.
"""

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node
from rclpy.publisher import Publisher

DIAGNOSTICS = "/diagnostics"
DIAGNOSTICS_QOS = 10
OK, WARN, ERROR = DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR


def diagnostics_publisher(node: Node) -> Publisher:
    return node.create_publisher(DiagnosticArray, DIAGNOSTICS, DIAGNOSTICS_QOS)


def status_report(node: Node, component: str, hardware_id: str, level: bytes, message: str,
                  values: dict[str, object]) -> DiagnosticArray:
    """One status named "<node>: <component>" (the node's namespaced name: two robots' nodes stay
    apart on /diagnostics), its values as strings, stamped with the node's clock now."""
    status = DiagnosticStatus(name=f"{node.get_fully_qualified_name().lstrip('/')}: {component}", hardware_id=hardware_id, level=level,
                              message=message, values=[KeyValue(key=k, value=str(v)) for k, v in values.items()])
    report = DiagnosticArray(status=[status])
    report.header.stamp = node.get_clock().now().to_msg()
    return report
