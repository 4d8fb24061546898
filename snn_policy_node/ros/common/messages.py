"""Topic names, QoS profiles and message conversions shared by the project's nodes.

Only standard message packages are used. Arrays go in and out of messages through
``array.array`` buffers, not element by element: rclpy stores a float sequence given as
an ``array.array`` as it is, which keeps a message's cost independent of its length.
Structured per-episode records travel as JSON in ``std_msgs/String``, readable with
``ros2 topic echo``.
"""

import array
import json

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point, Quaternion, Vector3
from nav_msgs.msg import Odometry
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Float32MultiArray, Float64MultiArray, MultiArrayDimension, String

from snn_policy_node.policy.observation import ImuReading, InputFault, OdometryReading

# Relative names: a node started in a namespace (``__ns:=/robot1``, a launch group's
# push_ros_namespace) talks on its robot's topics, /robot1/joint_states; without one, /joint_states.
JOINT_STATES = "joint_states"
ODOMETRY = "odom"
IMU = "imu"
COMMANDS = "policy_controller/commands"
REWARD = "reward"
EPISODE = "episode"
PHYSICS = "~/physics"  # the bridge's own: /sim_bridge/physics
MODULATION = "rstdp/modulation"
RSTDP_WEIGHTS = "rstdp/weights"  # weights the r-STDP service restores or rolls back to
PLASTIC_WEIGHTS = "policy/plastic_weights"  # the policy's plastic layer after every change
RSTDP_STATUS = "rstdp/status"

# How commands travel: Float64MultiArray values in the action's joint order (ros2_control's
# forward command controllers), or JointState efforts by name, stamped with the state they answer.
COMMAND_FORMATS = ("float64_multiarray", "joint_state")

SENSOR_QOS = qos_profile_sensor_data
# A controller acts on the newest state only: readings it had no time for are skipped, not queued.
NEWEST_SENSOR_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
COMMAND_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
EVENT_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
# The last message stays available to nodes that start (or restart) later.
LATCHED_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


def stamp_nanoseconds(stamp: Time) -> int:
    return stamp.sec * 1_000_000_000 + stamp.nanosec


def nanoseconds_stamp(nanoseconds: int) -> Time:
    sec, nanosec = divmod(nanoseconds, 1_000_000_000)
    return Time(sec=sec, nanosec=nanosec)


def float64_sequence(values: np.ndarray) -> array.array:
    """A float64[] message field's value, copied in one block."""
    return array.array("d", np.ascontiguousarray(values, dtype=np.float64).tobytes())


def float64_array(values: np.ndarray) -> Float64MultiArray:
    message = Float64MultiArray()
    message.data = float64_sequence(values)
    return message


def joint_command(joints: tuple[str, ...], values: np.ndarray, stamp, interface: str = "effort") -> JointState:
    """A command as a JointState stamped with the time of the state it answers, the values in the
    field of its command ``interface`` (effort, position or velocity)."""
    message = JointState(name=list(joints))
    message.header.stamp = stamp
    setattr(message, interface, float64_sequence(values))
    return message


def odometry_message(body: str, reading: OdometryReading, stamp, frame: str = "odom") -> Odometry:
    """A floating base's odometry; ROS orders a quaternion (x, y, z, w), MuJoCo (w, x, y, z).

    ``reading`` is anything with an :class:`OdometryReading`'s four fields, such as the sim
    bridge's own sample of a floating base."""
    message = Odometry(child_frame_id=body)
    message.header.stamp, message.header.frame_id = stamp, frame
    w, x, y, z = map(float, reading.orientation)
    message.pose.pose.position = Point(**dict(zip("xyz", map(float, reading.position))))
    message.pose.pose.orientation = Quaternion(x=x, y=y, z=z, w=w)
    message.twist.twist.linear = Vector3(**dict(zip("xyz", map(float, reading.linear))))
    message.twist.twist.angular = Vector3(**dict(zip("xyz", map(float, reading.angular))))
    return message


def imu_message(body: str, reading, stamp) -> Imu:
    """A floating base's orientation and body-frame angular velocity as an IMU reports them; no
    linear acceleration (covariance -1, REP 145: not provided)."""
    message = Imu()
    message.header.stamp, message.header.frame_id = stamp, body
    w, x, y, z = map(float, reading.orientation)
    message.orientation = Quaternion(x=x, y=y, z=z, w=w)
    message.angular_velocity = Vector3(**dict(zip("xyz", map(float, reading.angular))))
    message.linear_acceleration_covariance[0] = -1.0
    return message


def message_imu(message: Imu) -> ImuReading:
    """The IMU's orientation and angular velocity; :class:`InputFault` if it reports no orientation."""
    if message.orientation_covariance[0] == -1.0:
        raise InputFault("invalid_orientation", "the IMU reports no orientation (covariance -1)")
    q, w = message.orientation, message.angular_velocity
    return ImuReading(orientation=(q.w, q.x, q.y, q.z), angular=(w.x, w.y, w.z))


def message_odometry(message: Odometry) -> OdometryReading:
    pose, twist = message.pose.pose, message.twist.twist
    q = pose.orientation
    return OdometryReading(
        position=(pose.position.x, pose.position.y, pose.position.z),
        orientation=(q.w, q.x, q.y, q.z),
        linear=(twist.linear.x, twist.linear.y, twist.linear.z),
        angular=(twist.angular.x, twist.angular.y, twist.angular.z),
    )


def matrix_message(matrix: np.ndarray) -> Float32MultiArray:
    """A 2-D float32 matrix, row-major, with its two dimensions labelled."""
    matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    rows, cols = matrix.shape
    message = Float32MultiArray()
    message.layout.dim = [
        MultiArrayDimension(label="rows", size=rows, stride=rows * cols),
        MultiArrayDimension(label="cols", size=cols, stride=cols),
    ]
    message.data = array.array("f", matrix.tobytes())
    return message


def message_matrix(message: Float32MultiArray) -> np.ndarray:
    """The matrix in ``message``; ValueError if its layout does not describe its data."""
    dims = message.layout.dim
    if len(dims) != 2:
        raise ValueError(f"a weight matrix needs 2 layout dimensions, got {len(dims)}")
    rows, cols = dims[0].size, dims[1].size
    data = np.frombuffer(message.data, dtype=np.float32) if len(message.data) else np.zeros(0, np.float32)
    if data.size != rows * cols:
        raise ValueError(f"layout {rows}x{cols} does not match {data.size} values")
    return data.reshape(rows, cols).copy()


def json_message(record: dict) -> String:
    return String(data=json.dumps(record, sort_keys=True))


def message_json(message: String) -> dict:
    record = json.loads(message.data)
    if not isinstance(record, dict):
        raise ValueError("expected a JSON object")
    return record
