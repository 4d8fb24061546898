"""The registry of the project's tasks: every fact about a task in one entry.

The DSQN tasks of paper 004 (CartPole-v0, Acrobot-v1: Table 1's network and r-STDP parameters,
reward shaping, sign of the update, DQN settings, specs by joint name) and the MuJoCo tasks of
paper 000 (Hopper, HalfCheetah, Walker2d, Ant: D4RL references, dataset names, specs by joint
name). Each entry holds the simulator's own facts (physics defaults, how Gymnasium makes it) as
``sim``, from ``sim_bridge.tasks``, so nothing is stated twice.
"""

from snn_policy_node.tasks.dsqn import DSQN_TASKS, DSQNTask, dsqn_task
from snn_policy_node.tasks.mujoco import (
    MUJOCO_TASKS,
    MujocoTask,
    mujoco_specs,
    mujoco_task,
    mujoco_task_of_dataset,
    normalised_score,
)

__all__ = ["DSQN_TASKS", "DSQNTask", "dsqn_task", "MUJOCO_TASKS", "MujocoTask", "mujoco_specs", "mujoco_task",
           "mujoco_task_of_dataset", "normalised_score"]
