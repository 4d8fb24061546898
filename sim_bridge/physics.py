"""Physical parameters of the tasks, applied to Gymnasium's own environments.

Classic-control parameters are absolute values; their names are shared by the Gymnasium
wrappers (``randomization.py``) and the batched tasks (``batch_envs.py``), so one
randomization draw configures either. MuJoCo parameters are scales of the model's own
values (1 = as loaded), so one profile fits every MuJoCo robot.
"""

import gymnasium as gym
import numpy as np

MUJOCO_SCALES = {"body_mass": 1.0, "friction": 1.0, "joint_damping": 1.0, "actuator_gear": 1.0, "gravity": 1.0}
MUJOCO_TASKS = ("Hopper-v5", "HalfCheetah-v5", "Walker2d-v5", "Ant-v5")

# Defaults of Table 2 of paper 004, under the names used throughout the project.
DEFAULTS = {
    "CartPole-v0": {"force_mag": 10.0, "length": 0.5, "masspole": 0.1},
    "Acrobot-v1": {"link_length": 1.0, "link_mass": 1.0, "link_moi": 1.0},
    **{task: MUJOCO_SCALES for task in MUJOCO_TASKS},
}


def task_of(env: gym.Env) -> str:
    spec = env.spec or env.unwrapped.spec
    if spec is None or spec.id not in DEFAULTS:
        raise ValueError(f"physics randomization supports {sorted(DEFAULTS)}, not {spec and spec.id}")
    return spec.id


def check_parameters(task: str, parameters: dict) -> None:
    unknown = set(parameters) - set(DEFAULTS[task])
    if unknown:
        raise ValueError(f"{task} has no physical parameters {sorted(unknown)}; known: {sorted(DEFAULTS[task])}")
    for name, value in parameters.items():
        if not value > 0:
            raise ValueError(f"{task} parameter {name} must be positive, got {value}")


def apply_physics(env: gym.Env, parameters: dict) -> None:
    """Set physical parameters on a CartPole-v0, Acrobot-v1 or MuJoCo environment (in place).

    Both Acrobot links share each value, as in the paper. Gymnasium's Acrobot dynamics
    ignore the second link's length and keep the centres of mass at 0.5 m, so a length change
    also moves each link's centre of mass to its middle; at the default length this is
    exactly Gymnasium's model.
    """
    task = task_of(env)
    check_parameters(task, parameters)
    values = {**DEFAULTS[task], **parameters}
    target = env.unwrapped
    if task in MUJOCO_TASKS:
        _scale_mujoco(target, values)
    elif task == "CartPole-v0":
        target.force_mag = values["force_mag"]
        target.length = values["length"]
        target.masspole = values["masspole"]
        target.total_mass = target.masspole + target.masscart
        target.polemass_length = target.masspole * target.length
    else:
        target.LINK_LENGTH_1 = target.LINK_LENGTH_2 = values["link_length"]
        target.LINK_COM_POS_1 = target.LINK_COM_POS_2 = values["link_length"] / 2
        target.LINK_MASS_1 = target.LINK_MASS_2 = values["link_mass"]
        target.LINK_MOI = values["link_moi"]


def _scale_mujoco(env, scales: dict) -> None:
    """Scale masses (and inertias with them), sliding friction, joint damping, actuator gear and gravity from the values
    the model was loaded with (kept on the environment at the first call)."""
    model = env.model
    nominal = env.__dict__.setdefault("nominal_physics", {
        "body_mass": model.body_mass.copy(), "body_inertia": model.body_inertia.copy(), "friction": model.geom_friction[:, 0].copy(),
        "joint_damping": model.dof_damping.copy(), "actuator_gear": model.actuator_gear[:, 0].copy(),
        "gravity": model.opt.gravity.copy(),
    })
    model.body_mass[:] = nominal["body_mass"] * scales["body_mass"]
    model.body_inertia[:] = nominal["body_inertia"] * scales["body_mass"]  # same shapes, denser material
    model.geom_friction[:, 0] = nominal["friction"] * scales["friction"]
    model.dof_damping[:] = nominal["joint_damping"] * scales["joint_damping"]
    model.actuator_gear[:, 0] = nominal["actuator_gear"] * scales["actuator_gear"]
    model.opt.gravity[:] = nominal["gravity"] * scales["gravity"]


def parameter_arrays(task: str, settings: list[dict], repeat: int = 1):
    """Per-copy parameter arrays for a batch: setting k fills copies k*repeat .. (k+1)*repeat - 1.

    Parameters a setting leaves out take their default values.
    """
    for setting in settings:
        check_parameters(task, setting)
    return {
        name: np.repeat([setting.get(name, default) for setting in settings], repeat)
        for name, default in DEFAULTS[task].items()
    }
