"""Observation and action specs of the MuJoCo locomotion tasks, by joint name.

Gymnasium's planar walkers observe ``qpos[1:]`` (every joint position but the root's x)
and ``qvel`` (every joint velocity, clipped to +-10 where Gymnasium clips), in model order;
their root is three scalar joints (rootx, rootz, rooty), so the whole observation comes from
``/joint_states``. The action is one control per actuator, in actuator order.
"""

import gymnasium as gym

from sim_bridge.robots import MujocoRobot

from .specs import ActionSpec, ObservationEntry, ObservationSpec

PLANAR_TASKS = ("Hopper-v5", "HalfCheetah-v5", "Walker2d-v5")
VELOCITY_CLIP = {"Hopper-v5": 10.0, "Walker2d-v5": 10.0}  # Gymnasium clips these tasks' qvel


def mujoco_specs(env_id: str, mean=None, std=None) -> tuple[ObservationSpec, ActionSpec]:
    """The specs of ``env_id``'s observation (with the normalisation ``mean``/``std``) and action."""
    if env_id not in PLANAR_TASKS:
        raise ValueError(f"joint-state specs exist for {PLANAR_TASKS}; {env_id} needs odometry for its floating base")
    env = gym.make(env_id)
    robot = MujocoRobot(env)
    entries = [ObservationEntry(name, "position") for name in robot.joint_names[1:]]
    entries += [ObservationEntry(name, "velocity") for name in robot.joint_names]
    if len(entries) != env.observation_space.shape[0]:
        raise ValueError(f"{env_id}: {len(entries)} joint entries for a {env.observation_space.shape[0]}-d observation")
    bound = VELOCITY_CLIP.get(env_id, float("inf"))
    clip = tuple(float("inf") if e.field == "position" else bound for e in entries)
    space = env.action_space
    action = ActionSpec("continuous", joints=robot.command_joints, low=tuple(map(float, space.low)),
                        high=tuple(map(float, space.high)))
    observation = ObservationSpec(tuple(entries), mean=None if mean is None else tuple(map(float, mean)),
                                  std=None if std is None else tuple(map(float, std)), clip=clip)
    return observation, action
