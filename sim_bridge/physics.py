"""Physical parameters of the classic-control tasks, applied to Gymnasium's own environments.

Parameter names are shared by the Gymnasium wrappers (``randomization.py``) and the batched
tasks (``batch_envs.py``), so one randomization draw configures either.
"""

import gymnasium as gym
import numpy as np

# Defaults of Table 2 of paper 004, under the names used throughout the project.
DEFAULTS = {
    "CartPole-v0": {"force_mag": 10.0, "length": 0.5, "masspole": 0.1},
    "Acrobot-v1": {"link_length": 1.0, "link_mass": 1.0, "link_moi": 1.0},
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
    """Set physical parameters on a CartPole-v0 or Acrobot-v1 environment (in place).

    Both Acrobot links share each value, as in the paper. Gymnasium's Acrobot dynamics
    ignore the second link's length and keep the centres of mass at 0.5 m, so a length change
    also moves each link's centre of mass to its middle; at the default length this is
    exactly Gymnasium's model.
    """
    task = task_of(env)
    check_parameters(task, parameters)
    values = {**DEFAULTS[task], **parameters}
    target = env.unwrapped
    if task == "CartPole-v0":
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
