"""Observation and action specs of the MuJoCo locomotion tasks, by joint name.

Gymnasium's locomotion tasks observe the model's positions without the root's horizontal
ones, then every velocity, in model order (clipped to +-10 where Gymnasium clips).
The planar walkers' root is three scalar joints (rootx, rootz, rooty), so their whole
observation comes from ``/joint_states``; Ant's root is a free joint, whose height,
orientation and twist come from odometry. The action is one control per actuator, in
actuator order.
"""

from sim_bridge.physics import MUJOCO_TASKS
from sim_bridge.robots import MujocoRobot
from sim_bridge.task_envs import make_task_env

from .specs import ActionSpec, ObservationEntry, ObservationSpec

VELOCITY_CLIP = {"Hopper-v5": 10.0, "Walker2d-v5": 10.0}  # Gymnasium clips these tasks' qvel


def mujoco_specs(env_id: str, mean=None, std=None) -> tuple[ObservationSpec, ActionSpec]:
    """The specs of ``env_id``'s observation (with the normalisation ``mean``/``std``) and action."""
    if env_id not in MUJOCO_TASKS:
        raise ValueError(f"specs exist for {MUJOCO_TASKS}, not {env_id}")
    env = make_task_env(env_id)
    robot = MujocoRobot(env)
    entries = _observation_entries(robot)
    if len(entries) != env.observation_space.shape[0]:
        raise ValueError(f"{env_id}: {len(entries)} entries for a {env.observation_space.shape[0]}-d observation")
    bound = VELOCITY_CLIP.get(env_id, float("inf"))
    clip = tuple(bound if e.field == "velocity" else float("inf") for e in entries)
    space = env.action_space
    action = ActionSpec("continuous", joints=robot.command_joints, low=tuple(map(float, space.low)),
                        high=tuple(map(float, space.high)))
    observation = ObservationSpec(tuple(entries), mean=None if mean is None else tuple(map(float, mean)),
                                  std=None if std is None else tuple(map(float, std)), clip=clip)
    return observation, action


def _observation_entries(robot: MujocoRobot) -> list[ObservationEntry]:
    """qpos without the root's horizontal position, then qvel, each element named."""
    base = robot.base()
    if base is None:  # planar: the root's first joint is its x
        positions = [ObservationEntry(name, "position") for name in robot.joint_names[1:]]
        return positions + [ObservationEntry(name, "velocity") for name in robot.joint_names]
    pose = [ObservationEntry(base.body, field, "odometry") for field in ("z", "qw", "qx", "qy", "qz")]
    twist = [ObservationEntry(base.body, field, "odometry") for field in ("vx", "vy", "vz", "wx", "wy", "wz")]
    return (pose + [ObservationEntry(name, "position") for name in robot.joint_names]
            + twist + [ObservationEntry(name, "velocity") for name in robot.joint_names])
