"""The benchmark's baseline: a bare rclpy node that answers every joint state at once.

It does what the policy node does minus the policy: take a JointState (sensor QoS) and
publish a Float64MultiArray (reliable) on the command topic, so the difference in round
trip between the two is the cost of observation building and spiking inference.
"""

from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray

from . import messages
from .process import run_node


class EchoNode(Node):
    def __init__(self):
        super().__init__("echo")
        self.publisher = self.create_publisher(Float64MultiArray, messages.COMMANDS, messages.COMMAND_QOS)
        self.create_subscription(JointState, messages.JOINT_STATES, self.on_joint_state, messages.SENSOR_QOS)

    def on_joint_state(self, message: JointState) -> None:
        reply = Float64MultiArray()
        reply.data = message.position
        self.publisher.publish(reply)


def main(args: list[str] | None = None) -> int:
    return run_node(EchoNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
