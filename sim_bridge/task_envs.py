"""The Gymnasium environments of the project's tasks, made the one way every part agrees on.

Ant-v5 is made without contact forces in its observation: a real walking robot reports its
joints and, through odometry, its floating base, but no per-body contact wrenches, so a
policy that ROS can drive observes exactly those. (D4RL's Ant datasets carried the contact
forces as zeros, so they never informed a policy there either.)
"""

import gymnasium as gym

TASK_OPTIONS = {"Ant-v5": {"include_cfrc_ext_in_observation": False}}


def make_task_env(env_id: str, **options) -> gym.Env:
    """``gym.make(env_id)`` with the project's options for that task (``options`` override them)."""
    return gym.make(env_id, **{**TASK_OPTIONS.get(env_id, {}), **options})
