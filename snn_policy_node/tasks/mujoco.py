"""The MuJoCo locomotion tasks of paper 000: D4RL references, dataset names, and specs by joint name.

Gymnasium's locomotion tasks observe the model's positions without the root's horizontal
ones, then every velocity, in model order (clipped to +-10 where Gymnasium clips).
The planar walkers' root is three scalar joints (rootx, rootz, rooty), so their whole
observation comes from ``/joint_states``; Ant's root is a free joint, whose height,
orientation and twist come from odometry. The action is one control per actuator, in
actuator order.
"""

from dataclasses import dataclass

from sim_bridge.simulators.robots import MujocoRobot
from sim_bridge.tasks import SimTask, make_task_env, registry_entry, sim_task
from snn_policy_node.policy.specs import ActionSpec, ObservationEntry, ObservationSpec


@dataclass(frozen=True)
class MujocoTask:
    sim: SimTask
    dataset_name: str  # the task's part of its dataset ids, snn-robot/<name>/<level>-v0
    d4rl_reference: tuple[float, float]  # D4RL's random and expert returns

    @property
    def env_id(self) -> str:
        return self.sim.env_id

    def dataset_id(self, level: str) -> str:
        return f"snn-robot/{self.dataset_name}/{level}-v0"

    def normalised_score(self, episode_return: float) -> float:
        """D4RL's normalised score: 0 for a random policy, 100 for D4RL's expert."""
        low, high = self.d4rl_reference
        return 100.0 * (episode_return - low) / (high - low)


MUJOCO_TASKS = {
    "Hopper-v5": MujocoTask(sim_task("Hopper-v5"), "hopper", (-20.272305, 3234.3)),
    "HalfCheetah-v5": MujocoTask(sim_task("HalfCheetah-v5"), "halfcheetah", (-280.178953, 12135.0)),
    "Walker2d-v5": MujocoTask(sim_task("Walker2d-v5"), "walker2d", (1.629008, 4592.3)),
    "Ant-v5": MujocoTask(sim_task("Ant-v5"), "ant", (-325.6, 3879.7)),
}


def mujoco_task(env_id: str) -> MujocoTask:
    return registry_entry(MUJOCO_TASKS, env_id, "MuJoCo task")


def mujoco_task_of_dataset(dataset_name: str) -> MujocoTask:
    """The task whose datasets are named ``snn-robot/<dataset_name>/...``."""
    for task in MUJOCO_TASKS.values():
        if task.dataset_name == dataset_name:
            return task
    raise ValueError(f"no MuJoCo task has datasets named {dataset_name!r}")


def normalised_score(env_id: str, episode_return: float) -> float:
    return mujoco_task(env_id).normalised_score(episode_return)


def mujoco_specs(env_id: str, mean=None, std=None) -> tuple[ObservationSpec, ActionSpec]:
    """The specs of ``env_id``'s observation (with the normalisation ``mean``/``std``) and action."""
    task = mujoco_task(env_id)
    env = make_task_env(env_id)
    robot = MujocoRobot(env)
    entries = _observation_entries(robot)
    if len(entries) != env.observation_space.shape[0]:
        raise ValueError(f"{env_id}: {len(entries)} entries for a {env.observation_space.shape[0]}-d observation")
    bound = task.sim.velocity_clip
    clip = tuple(bound if e.field == "velocity" else float("inf") for e in entries)
    space = env.action_space
    action = ActionSpec("continuous", joints=robot.command_joints, low=tuple(map(float, space.low)),
                        high=tuple(map(float, space.high)), period=float(env.unwrapped.dt))
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
