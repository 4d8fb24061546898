"""Physical parameters of the tasks (named in ``sim_bridge.tasks``), applied to Gymnasium's own environments."""

import gymnasium as gym
import numpy as np

from sim_bridge.tasks import SIM_TASKS, physics_defaults


def task_of(env: gym.Env) -> str:
    spec = env.spec or env.unwrapped.spec
    if spec is None or spec.id not in SIM_TASKS:
        raise ValueError(f"physics randomization supports {sorted(SIM_TASKS)}, not {spec and spec.id}")
    return spec.id


def check_parameters(task: str, parameters: dict) -> None:
    unknown = set(parameters) - set(physics_defaults(task))
    if unknown:
        raise ValueError(f"{task} has no physical parameters {sorted(unknown)}; known: {sorted(physics_defaults(task))}")
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
    values = {**physics_defaults(task), **parameters}
    target = env.unwrapped
    if SIM_TASKS[task].mujoco:
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
        for name, default in physics_defaults(task).items()
    }
