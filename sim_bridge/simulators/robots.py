"""Gymnasium environments seen as robots: named joints to read, a command vector to obey.

The bridge publishes what a joint_state_broadcaster would (positions and velocities by joint
name) and takes what a forward command controller would (one value per commanded joint),
so a policy talks to a simulated robot exactly as to a real one.
"""

from dataclasses import dataclass

import gymnasium as gym
import mujoco
import numpy as np


@dataclass(frozen=True)
class JointSample:
    position: np.ndarray
    velocity: np.ndarray


@dataclass(frozen=True)
class BaseSample:
    """A floating base as odometry reports it (REP 105): position and orientation quaternion
    (w, x, y, z) in the world frame, linear and angular velocity in the body frame."""

    body: str
    position: np.ndarray
    orientation: np.ndarray
    linear: np.ndarray
    angular: np.ndarray


class Robot:
    """Joint names, joint readings and command translation for one environment."""

    joint_names: tuple[str, ...]
    command_joints: tuple[str, ...]

    def __init__(self, env: gym.Env):
        self.env = env

    def sample(self) -> JointSample:
        raise NotImplementedError

    def base(self) -> BaseSample | None:
        """The floating base's odometry; None for a robot fixed to the world."""
        return None

    def env_action(self, command: np.ndarray):
        """The environment's action for a command vector (already checked finite, right length)."""
        raise NotImplementedError

    @property
    def idle_command(self) -> np.ndarray:
        """What the robot gets when nobody commands it: zero force or torque (CartPole, which
        can only push, pushes left)."""
        return np.zeros(len(self.command_joints))


class CartPoleRobot(Robot):
    """Cart on a slider with a hinged pole; the command is the force on the cart.

    CartPole pushes with a fixed magnitude (a randomized physical parameter), so the sign of
    the commanded force picks the direction; zero pushes left, as Gymnasium's action 0.
    """

    joint_names = ("cart_slider", "pole_hinge")
    command_joints = ("cart_slider",)

    def sample(self) -> JointSample:
        x, x_dot, theta, theta_dot = self.env.unwrapped.state
        return JointSample(np.array([x, theta], dtype=np.float64), np.array([x_dot, theta_dot], dtype=np.float64))

    def env_action(self, command: np.ndarray) -> int:
        return int(command[0] > 0)


class AcrobotRobot(Robot):
    """Two-link pendulum; the command is the torque on the second joint, -1, 0 or +1 N m."""

    joint_names = ("joint1", "joint2")
    command_joints = ("joint2",)

    def sample(self) -> JointSample:
        theta1, theta2, omega1, omega2 = self.env.unwrapped.state
        return JointSample(np.array([theta1, theta2]), np.array([omega1, omega2]))

    def env_action(self, command: np.ndarray) -> int:
        torques = np.asarray(self.env.unwrapped.AVAIL_TORQUE, dtype=np.float64)
        return int(np.abs(torques - command[0]).argmin())


class MujocoRobot(Robot):
    """Any MuJoCo environment: its hinge and slide joints by name, its actuators in order.

    Free and ball joints have no single position. The first free joint, the floating base
    of a walking robot, is reported as odometry (:meth:`base`); further free bodies (loose
    objects) and ball joints are not reported.
    """

    def __init__(self, env: gym.Env):
        super().__init__(env)
        model = env.unwrapped.model
        scalar = {int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE)}
        joints = [j for j in range(model.njnt) if int(model.jnt_type[j]) in scalar]
        self.joint_names = tuple(model.joint(j).name for j in joints)
        self._qpos = model.jnt_qposadr[joints]
        self._qvel = model.jnt_dofadr[joints]
        self.command_joints = tuple(_actuated_joint(model, a) for a in range(model.nu))
        self._low, self._high = env.action_space.low, env.action_space.high
        free = [j for j in range(model.njnt) if int(model.jnt_type[j]) == int(mujoco.mjtJoint.mjJNT_FREE)]
        self._base = None
        if free:
            j = free[0]
            self._base = model.body(model.jnt_bodyid[j]).name, model.jnt_qposadr[j], model.jnt_dofadr[j]

    def sample(self) -> JointSample:
        data = self.env.unwrapped.data
        return JointSample(data.qpos[self._qpos].copy(), data.qvel[self._qvel].copy())

    def base(self) -> BaseSample | None:
        """MuJoCo keeps a free joint's linear velocity in the world frame; odometry wants it in the body frame."""
        if self._base is None:
            return None
        body, qpos, dof = self._base
        data = self.env.unwrapped.data
        orientation, inverse, linear = data.qpos[qpos + 3: qpos + 7].copy(), np.empty(4), np.empty(3)
        mujoco.mju_negQuat(inverse, orientation / np.linalg.norm(orientation))  # unnormalised after a noisy reset
        mujoco.mju_rotVecQuat(linear, data.qvel[dof: dof + 3], inverse)
        return BaseSample(body, data.qpos[qpos: qpos + 3].copy(), orientation, linear, data.qvel[dof + 3: dof + 6].copy())

    def env_action(self, command: np.ndarray) -> np.ndarray:
        return np.clip(command, self._low, self._high).astype(self.env.action_space.dtype)


def _actuated_joint(model, actuator: int) -> str:
    if int(model.actuator_trntype[actuator]) != int(mujoco.mjtTrn.mjTRN_JOINT):
        return model.actuator(actuator).name
    return model.joint(model.actuator_trnid[actuator, 0]).name


def robot_for(env: gym.Env) -> Robot:
    """The robot view of ``env``: CartPole, Acrobot or any MuJoCo environment."""
    unwrapped = env.unwrapped
    if hasattr(unwrapped, "model") and hasattr(unwrapped, "data"):
        return MujocoRobot(env)
    spec_id = (env.spec or unwrapped.spec).id if (env.spec or unwrapped.spec) else ""
    if spec_id.startswith("CartPole"):
        return CartPoleRobot(env)
    if spec_id.startswith("Acrobot"):
        return AcrobotRobot(env)
    raise ValueError(f"no robot view of {spec_id or type(unwrapped).__name__}; CartPole, Acrobot and MuJoCo tasks have one")
