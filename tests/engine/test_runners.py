"""The control loop's batch-of-one runners against the batched path they share kernels with:
identical Q-values, actions, spikes and error counts, on shipped and on random networks."""

from pathlib import Path

import numpy as np
import pytest
import torch

from snn_policy_node.ann2snn.calibration import CalibrationConfig
from snn_policy_node.ann2snn.conversion import ActorRunner, SpikingActor
from snn_policy_node.policy.model_io import load_model
from snn_policy_node.snn.dsqn import DSQN, DSQNRunner

MODELS = Path(__file__).parents[2] / "models"
OBSERVATIONS = np.random.default_rng(0).normal(scale=1.5, size=(20, 11))


@pytest.mark.parametrize("dsqn", [
    lambda: load_model(MODELS / "dsqn/CartPole-v0/seed0/model.safetensors")[0],
    lambda: load_model(MODELS / "dsqn/Acrobot-v1/seed1/model.safetensors")[0],
    lambda: DSQN(11, 3, hidden=(32, 16), threshold=0.3, timesteps=5),
], ids=["cartpole", "acrobot", "random"])
def test_the_dsqn_runner_gives_what_simulate_gives(dsqn):
    torch.manual_seed(0)
    model = dsqn().requires_grad_(False)
    runner = DSQNRunner(model)
    for obs in OBSERVATIONS[:, : model.obs_dim]:
        q_values = runner.run(obs).copy()
        simulation = model.simulate(torch.as_tensor(obs, dtype=torch.float32).reshape(1, -1))
        np.testing.assert_array_equal(q_values, simulation.q_values[0].numpy())
        for mine, theirs in zip(runner.spikes, simulation.spikes):
            np.testing.assert_array_equal(mine, theirs.numpy())


def test_the_dsqn_runner_sees_weights_changed_in_place_and_replaced():
    model = load_model(MODELS / "dsqn/CartPole-v0/seed0/model.safetensors")[0].requires_grad_(False)
    runner, obs = DSQNRunner(model), OBSERVATIONS[0, :4]
    before = runner.run(obs).copy()
    model.layers[2].weight.mul_(2.0)
    np.testing.assert_allclose(runner.run(obs), 2.0 * before, rtol=1e-6)
    model.layers[2].weight = torch.nn.Parameter(torch.zeros_like(model.layers[2].weight), requires_grad=False)
    runner = DSQNRunner(model)
    np.testing.assert_array_equal(runner.run(obs), [0.0, 0.0])


def actors(random_qcfs_actor):
    shipped = load_model(MODELS / "td3bc/Hopper-v5/spiking_actor.safetensors")[0]
    busy = SpikingActor.from_qcfs(random_qcfs_actor(3, hidden=(64, 32)), calibration=CalibrationConfig(rho=8))
    return {"hopper": shipped, "random rho 8": busy}


@pytest.mark.parametrize("name", ["hopper", "random rho 8"])
def test_the_actor_runner_gives_what_simulate_gives_for_every_i_with_errors_and_noise(random_qcfs_actor, name):
    actor = actors(random_qcfs_actor)[name]
    runner, rng = ActorRunner(actor), np.random.default_rng(1)
    for k, obs in enumerate(OBSERVATIONS):
        iterations, errors = k % 4, k % 2 == 0
        noise = rng.normal(scale=0.3, size=(actor.steps, 1, 64 if name != "hopper" else 256)).astype(np.float32)
        perturbed = k % 3 == 0
        action = runner.run(obs, iterations, errors, noise if perturbed else None, 0 if perturbed else -1).copy()
        simulation = actor.simulate(torch.as_tensor(obs, dtype=torch.float32).reshape(1, -1), iterations, errors=errors,
                                    noise={0: torch.from_numpy(noise)} if perturbed else None)
        np.testing.assert_array_equal(action, simulation.action[0].numpy())
        for mine, theirs in zip(runner.spikes, simulation.spikes):
            np.testing.assert_array_equal(mine[: actor.timesteps], theirs.numpy())
        if errors:
            np.testing.assert_array_equal(runner.error_spikes, simulation.error_spikes.numpy())
