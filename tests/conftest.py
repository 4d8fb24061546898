import pytest
import torch

from snn_policy_node.ann2snn.qcfs import MLPActor


@pytest.fixture
def random_qcfs_actor():
    """A QCFS actor whose neurons are busy: weights and thresholds scaled so that most
    hidden neurons fire some but not all of the time."""

    def make(seed: int, obs_dim: int = 11, act_dim: int = 3, hidden=(256, 256)) -> MLPActor:
        torch.manual_seed(seed)
        actor = MLPActor(obs_dim, act_dim, hidden, activation="qcfs", levels=4, lambda_init=1.0)
        with torch.no_grad():
            for linear in actor.linears:
                linear.weight.normal_(std=1.5 / linear.in_features**0.5)
                linear.bias.normal_(std=0.3)
        return actor

    return make


@pytest.fixture
def cartpole_checkpoint():
    """The shipped seed-0 CartPole-v0 DSQN (read only: copy it before changing it)."""
    from pathlib import Path

    return Path(__file__).resolve().parents[1] / "models/dsqn/CartPole-v0/seed0/model.safetensors"
