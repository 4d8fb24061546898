"""Every shipped checkpoint records the control period its simulator steps at."""

from pathlib import Path

import pytest

from sim_bridge.tasks import make_task_env
from snn_policy_node.policy.checkpoint import load_checkpoint
from snn_policy_node.tasks import DSQN_TASKS, mujoco_specs

MODELS = Path(__file__).parents[2] / "models"
SHIPPED = sorted(MODELS.glob("**/*.safetensors"))


def simulator_period(env_id: str) -> float:
    """What the sim bridge steps its clock by per action."""
    env = make_task_env(env_id).unwrapped
    return float(getattr(env, "dt", None) or env.tau)


@pytest.mark.parametrize("env_id", sorted(DSQN_TASKS))
def test_dsqn_tasks_declare_their_simulators_period(env_id):
    assert DSQN_TASKS[env_id].action.period == pytest.approx(simulator_period(env_id))


@pytest.mark.parametrize("env_id", ["Hopper-v5", "Ant-v5"])
def test_mujoco_specs_take_the_period_from_the_environment(env_id):
    assert mujoco_specs(env_id)[1].period == pytest.approx(simulator_period(env_id))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(MODELS)))
def test_shipped_checkpoints_carry_their_control_period(path):
    checkpoint = load_checkpoint(path)
    assert checkpoint.action.period == pytest.approx(simulator_period(checkpoint.provenance["env_id"]))
