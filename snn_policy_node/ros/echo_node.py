"""The benchmark's baseline: a bare rclpy node that answers every joint state at once.

It does what the policy node does minus the policy: take a JointState (the policy's QoS) and
publish a stamped command (a JointState, reliable, as the policy node's ``joint_state`` command
format), so the difference in round trip between the two is the cost of observation building
and spiking inference.
"""

from rclpy.node import Node
from sensor_msgs.msg import JointState

from snn_policy_node.ros.common import messages
from snn_policy_node.ros.common.process import run_node


class EchoNode(Node):
    def __init__(self):
        super().__init__("echo")
        self.declare_parameter("command_topic", messages.COMMANDS)
        self.declare_parameter("joint_states_topic", messages.JOINT_STATES)
        topic = self.get_parameter("command_topic").value
        self.publisher = self.create_publisher(JointState, topic, messages.COMMAND_QOS)
        self.create_subscription(JointState, self.get_parameter("joint_states_topic").value, self.on_joint_state,
                                 messages.NEWEST_SENSOR_QOS)

    def on_joint_state(self, message: JointState) -> None:
        self.publisher.publish(messages.joint_command(message.name[:1], message.position[:1], message.header.stamp))


def main(args: list[str] | None = None) -> int:
    return run_node(EchoNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
