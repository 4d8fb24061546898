"""What the simulator knows of each task: how Gymnasium makes it and which physical parameters it has.

This is the one place for a task's simulator facts; the policy library's registry
(``snn_policy_node.tasks``) builds on these entries and never restates them.

Classic-control parameters are absolute values, named as the Gymnasium wrappers
(``randomization.py``) and the batched tasks (``simulators/batch.py``) both read them, so one
randomization draw configures either. MuJoCo parameters are scales of the model's own values
(1 = as loaded), so one profile fits every MuJoCo robot.

Ant-v5 is made without contact forces in its observation: a real walking robot reports its
joints and, through odometry, its floating base, but no per-body contact wrenches, so a
policy that ROS can drive observes exactly those. (D4RL's Ant datasets carried the contact
forces as zeros, so they never informed a policy there either.)
"""

from dataclasses import dataclass, field

import gymnasium as gym

MUJOCO_SCALES = {"body_mass": 1.0, "friction": 1.0, "joint_damping": 1.0, "actuator_gear": 1.0, "gravity": 1.0}


@dataclass(frozen=True)
class SimTask:
    env_id: str
    physics: dict  # physical parameter -> default (Table 2 of paper 004 for classic control)
    mujoco: bool = False
    make_options: dict = field(default_factory=dict)  # gym.make arguments every part of the project uses
    velocity_clip: float = float("inf")  # Gymnasium clips these tasks' observed qvel to +- this


SIM_TASKS = {
    "CartPole-v0": SimTask("CartPole-v0", {"force_mag": 10.0, "length": 0.5, "masspole": 0.1}),
    "Acrobot-v1": SimTask("Acrobot-v1", {"link_length": 1.0, "link_mass": 1.0, "link_moi": 1.0}),
    "Hopper-v5": SimTask("Hopper-v5", MUJOCO_SCALES, mujoco=True, velocity_clip=10.0),
    "HalfCheetah-v5": SimTask("HalfCheetah-v5", MUJOCO_SCALES, mujoco=True),
    "Walker2d-v5": SimTask("Walker2d-v5", MUJOCO_SCALES, mujoco=True, velocity_clip=10.0),
    "Ant-v5": SimTask("Ant-v5", MUJOCO_SCALES, mujoco=True, make_options={"include_cfrc_ext_in_observation": False}),
}
MUJOCO_TASKS = tuple(env_id for env_id, task in SIM_TASKS.items() if task.mujoco)


def registry_entry(registry: dict, env_id: str, what: str):
    """``registry[env_id]``, or a ValueError that names the tasks there are."""
    try:
        return registry[env_id]
    except KeyError:
        raise ValueError(f"no {what} {env_id!r}; choose one of {sorted(registry)}") from None


def sim_task(env_id: str) -> SimTask:
    return registry_entry(SIM_TASKS, env_id, "simulated task")


def physics_defaults(env_id: str) -> dict:
    return sim_task(env_id).physics


def make_task_env(env_id: str, **options) -> gym.Env:
    """``gym.make(env_id)`` with the project's options for that task (``options`` override them)."""
    known = SIM_TASKS.get(env_id)
    return gym.make(env_id, **{**(known.make_options if known else {}), **options})


def step_period(env: gym.Env) -> float:
    """Seconds of simulated time per action: MuJoCo's ``dt`` (frame skip included), or a classic
    control task's ``dt`` or ``tau``."""
    unwrapped = env.unwrapped
    return float(getattr(unwrapped, "dt", None) or unwrapped.tau)
