"""The compiled IF layers against paper 000's equations written out in tensors: eq. 5-7 (IFNeuron),
Conclusions 1 and 2 and Algorithm 1 (below), and the layer-by-layer actor of section 3."""

from pathlib import Path

import numpy as np
import pytest
import torch

from snn_policy_node.ann2snn.calibration import CalibrationConfig, calibrate_layer
from snn_policy_node.ann2snn.conversion import ActorRunner, Membrane, SpikingActor
from snn_policy_node.engine import if_layers
from snn_policy_node.policy.model_io import load_model
from snn_policy_node.snn.neurons import IFNeuron

EPSILON = 1e-3
HOPPER = Path(__file__).resolve().parents[2] / "models/td3bc/Hopper-v5/spiking_actor.safetensors"


def run_if(currents: torch.Tensor, v0: torch.Tensor):
    neuron = IFNeuron(1.0)
    neuron.reset(v0)
    return neuron.run(currents)


def count_shifts(spikes, potentials, epsilon):
    """Conclusion 2: D_f = max(theta, eps + min{V(t) | s(t) = 1}), D_s = max(theta, theta + eps - max{V(t) | s(t) = 0})."""
    fired = spikes > 0
    inf = torch.tensor(float("inf"), dtype=potentials.dtype)
    lowest_firing = torch.where(fired, potentials, inf).amin(0)
    highest_silent = torch.where(fired, -inf, potentials).amax(0)
    return torch.clamp(lowest_firing + epsilon, min=1.0), torch.clamp(1.0 + epsilon - highest_silent, min=1.0)


def algorithm_1(currents, iterations, config: CalibrationConfig):
    """Algorithm 1 in tensors: each pass simulates rho steps from V(0) and, by Conclusion 1, lowers a
    neuron that fired too often (ended below 0) by D_f and raises one that fired too rarely (ended at
    or above threshold) by D_s; ``accumulate`` judges the end with the earlier passes' shift taken out."""
    iterations = torch.as_tensor(iterations).expand(currents.shape[1])
    v0 = torch.full(currents.shape[1:], 0.5, dtype=currents.dtype)
    for i in range(int(iterations.max())):
        spikes, potentials = run_if(currents, v0)
        earlier = v0 - 0.5 if config.accumulate else 0.0
        lower, raise_ = count_shifts(spikes, potentials, config.epsilon)
        fired, final = spikes > 0, potentials[-1] - earlier
        too_many, too_few = (final < 0) & fired.any(0), (final >= 1) & (~fired).any(0)
        shift = torch.where(too_few, raise_, 0.0) - torch.where(too_many, lower, 0.0)
        v0 = torch.where((iterations > i).unsqueeze(-1), 0.5 + earlier + shift, v0)
    return v0


def reference_actor(actor: SpikingActor, obs: torch.Tensor, iterations):
    """Section 3's actor layer by layer in tensors, with BLAS products: hidden spikes and the action."""
    weight, bias = actor._folded[0]
    currents = (obs @ weight.T + bias).expand(actor.steps, *obs.shape[:-1], weight.shape[0])
    spikes = []
    for weight, bias in actor._folded[1:]:
        v0 = algorithm_1(currents[: actor.calibration.rho], iterations, actor.calibration)
        spikes.append(run_if(currents, v0)[0])
        currents = spikes[-1] @ weight.T + bias
    return [s[: actor.timesteps] for s in spikes], actor.max_action * torch.tanh(currents[: actor.timesteps].mean(0))


def random_currents(steps: int, n: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.cat([torch.rand(1, n // 2, generator=generator).expand(steps, -1) * 1.2 - 0.1,  # constant input
                      torch.rand(steps, n // 2, generator=generator) * 2 - 0.5], dim=1)  # uneven input


def test_conclusion_2_shifts_remove_or_add_exactly_one_spike():
    """Over 200k random neurons and input sequences of both signs (the reference's own check)."""
    steps, n = 8, 200_000
    currents = random_currents(steps, n).double()
    v0 = torch.full((n,), 0.5, dtype=torch.float64)
    spikes, potentials = run_if(currents, v0)
    count = spikes.sum(0)
    d_f, d_s = count_shifts(spikes, potentials, EPSILON)
    can_lose, can_gain = count > 0, count < steps
    assert can_lose.sum() > n // 2 and can_gain.sum() > n // 2
    fewer = run_if(currents, v0 - torch.where(can_lose, d_f, 0.0))[0].sum(0)
    more = run_if(currents, v0 + torch.where(can_gain, d_s, 0.0))[0].sum(0)
    assert torch.equal(fewer[can_lose], count[can_lose] - 1)
    assert torch.equal(more[can_gain], count[can_gain] + 1)


@pytest.mark.parametrize("accumulate", [True, False])
def test_compiled_algorithm_1_gives_the_tensor_potentials_bit_for_bit(accumulate):
    config = CalibrationConfig(rho=4, epsilon=EPSILON, accumulate=accumulate)
    currents = random_currents(4, 40_000, seed=1).reshape(4, 400, 100).contiguous()
    iterations = torch.arange(400) % 4  # every row its own I, 0..3
    expected = algorithm_1(currents, iterations, config)
    assert (expected != 0.5).sum() > 1000  # the passes moved over a thousand neurons
    assert torch.equal(calibrate_layer(currents, iterations, config), expected)


def test_compiled_firing_gives_the_neuron_s_spikes_bit_for_bit():
    currents = random_currents(6, 20_000, seed=2).reshape(6, 20, 1000).contiguous()
    v0 = torch.rand(20, 1000, generator=torch.Generator().manual_seed(3))
    config = CalibrationConfig()
    no_passes = np.zeros(20, dtype=np.int64)
    starts = v0.numpy().copy()
    spikes = if_layers.fire(currents.numpy(), no_passes, config.rho, config.kernel_epsilon, True, starts,
                            Membrane().kernel, 6, np.empty((6, 20, 1000), np.float32))
    expected = run_if(currents, v0)[0]
    assert 0.2 < expected.mean() < 0.8
    assert torch.equal(torch.from_numpy(spikes), expected)
    assert torch.equal(torch.from_numpy(starts), v0)  # nothing carried


def crpi_residual(currents: torch.Tensor, spikes: torch.Tensor, membrane: Membrane) -> torch.Tensor:
    """CRPI's next start: initial + clip(alpha max(V(T) - V(0), -N), -1/2, 1/2), V(T) - V(0) written as
    the charge minus the spikes (threshold 1, soft reset)."""
    residual = torch.maximum(currents.sum(0) - spikes.sum(0), -spikes.sum(0))
    return membrane.initial + torch.clamp(membrane.carry * residual, -0.5, 0.5)


@pytest.mark.parametrize("iterations", [0, 2])
def test_a_carrying_layer_starts_the_next_observation_with_crpi_s_residual(iterations):
    currents = random_currents(4, 20_000, seed=4).reshape(4, 20, 1000).contiguous()
    config, membrane = CalibrationConfig(), Membrane(carry=0.6)
    starts = np.full((20, 1000), 0.5, np.float32)
    rows = np.full(20, iterations, dtype=np.int64)
    spikes = if_layers.fire(currents.numpy(), rows, config.rho, config.kernel_epsilon, True, starts,
                            membrane.kernel, 4, np.empty((4, 20, 1000), np.float32))
    v0 = algorithm_1(currents, iterations, config) if iterations else torch.full((20, 1000), 0.5)
    expected_spikes, _ = run_if(currents, v0)
    assert torch.equal(torch.from_numpy(spikes), expected_spikes)
    expected = crpi_residual(currents, expected_spikes, membrane)
    torch.testing.assert_close(torch.from_numpy(starts), expected, rtol=0, atol=1e-6)
    assert ((expected - 0.5).abs() == 0.5).sum() > 20 and ((expected - 0.5).abs() < 0.5).sum() > 1000  # both regimes


def test_an_actor_carries_its_residual_through_an_episode_and_restarts_from_its_initial_potential(random_qcfs_actor):
    """Each observation starts where CRPI's residual of the one before left it; a runner's reset, and a
    call without starts, begin an episode; V(0) = 0 starts every neuron empty."""
    actor = SpikingActor.from_qcfs(random_qcfs_actor(0))
    observations = torch.randn(5, 3, 11, generator=torch.Generator().manual_seed(9))
    actor.membrane = Membrane(carry=0.5)
    starts, runner = actor.starts(3), ActorRunner(actor)
    for step, obs in enumerate(observations):
        before = tuple(s.copy() for s in starts)
        simulation = actor.simulate(obs, 1, starts=starts)
        assert np.array_equal(runner.run(obs[0].numpy(), 1), simulation.action[0].numpy())  # row 0's episode alone
        assert (step == 0) == all(np.all(b == 0.5) for b in before)
        assert not all(np.array_equal(b, s) for b, s in zip(before, starts))
    fresh = actor.simulate(observations[0], 1)
    runner.reset()
    assert np.array_equal(runner.run(observations[0, 0].numpy(), 1), fresh.action[0].numpy())
    actor.membrane = Membrane(initial=0.0)
    empty = actor.simulate(observations[0], 0)
    weight, bias = actor._folded[0]
    first = run_if((observations[0] @ weight.T + bias).expand(actor.steps, 3, -1), torch.zeros(3, 256))[0]
    assert torch.equal(empty.spikes[0], first[: actor.timesteps])
    with pytest.raises(ValueError, match="starts must be"):
        actor.simulate(observations[0], 0, starts=actor.starts(2))
    with pytest.raises(ValueError, match="carry"):
        Membrane(carry=1.5)


def actors(random_qcfs_actor):
    yield "shipped Hopper-v5", load_model(HOPPER)[0]
    for seed in range(2):
        yield f"random {seed}", SpikingActor.from_qcfs(random_qcfs_actor(seed))


@pytest.mark.parametrize("iterations", [0, 1, 3, "per row"])
def test_the_compiled_actor_fires_the_reference_spikes_and_acts_alike(random_qcfs_actor, iterations):
    """Spikes equal those of the tensor reference except where a synaptic sum rounds across the
    threshold (the kernels add a spike's weights in order, BLAS in blocks): at most 1 in 10^5 spikes,
    and rows with no such flip act within 1e-5 and count the same error spikes."""
    for name, actor in actors(random_qcfs_actor):
        obs = torch.randn(500, actor.weight0.shape[1], generator=torch.Generator().manual_seed(5))
        rows = torch.arange(500) % 4 if iterations == "per row" else iterations
        simulation = actor.simulate(obs, rows)
        spikes, action = reference_actor(actor, obs, rows)
        flipped = sum((a != b).any(0).any(-1) for a, b in zip(simulation.spikes, spikes))
        total_flips = sum(int((a != b).sum()) for a, b in zip(simulation.spikes, spikes))
        assert total_flips <= 1e-5 * sum(s.numel() for s in spikes), name
        same = ~flipped
        torch.testing.assert_close(simulation.action[same], action[same], rtol=0, atol=1e-5, msg=name)
        expected_errors = torch.stack([(abs(rate - s.mean(0)) * actor.timesteps).sum(-1)
                                       for rate, s in zip(actor.source_rates(obs), spikes)], -1)
        torch.testing.assert_close(simulation.error_spikes[same], expected_errors[same], rtol=0, atol=1e-4, msg=name)


def test_a_robot_s_batch_of_one_is_its_row_of_a_population(random_qcfs_actor):
    actor = SpikingActor.from_qcfs(random_qcfs_actor(0))
    obs = torch.randn(8, 11, generator=torch.Generator().manual_seed(6))
    plastic = actor.folded_weight(1)[None].repeat(8, 1, 1) * (1 + 0.05 * torch.randn(8, 1, 1))
    noise = torch.randn(actor.steps, 8, 256) * 0.1
    batch = actor.simulate(obs, 2, weights={1: plastic}, noise={1: noise})
    for row in range(8):
        alone = actor.simulate(obs[row: row + 1], 2, weights={1: plastic[row: row + 1]}, noise={1: noise[:, row: row + 1]})
        assert torch.equal(alone.action[0], batch.action[row])
        assert all(torch.equal(a[:, 0], b[:, row]) for a, b in zip(alone.spikes, batch.spikes))
        assert torch.equal(alone.error_spikes[0], batch.error_spikes[row])


def test_rows_take_their_variants_by_index_as_if_each_had_its_own_copy(random_qcfs_actor):
    actor = SpikingActor.from_qcfs(random_qcfs_actor(0))
    obs = torch.randn(6, 11, generator=torch.Generator().manual_seed(8))
    plastic = actor.folded_weight(1)[None].repeat(3, 1, 1) * (1 + 0.05 * torch.randn(3, 1, 1))
    variants = np.array([2, 0, 1, 1, 2, 0])
    indexed = actor.simulate(obs, 1, weights=actor.plastic_rows({1: plastic}), variants=variants)
    copied = actor.simulate(obs, 1, weights={1: plastic[variants]})
    assert torch.equal(indexed.action, copied.action) and torch.equal(indexed.error_spikes, copied.error_spikes)
    assert all(torch.equal(a, b) for a, b in zip(indexed.spikes, copied.spikes))
    rates = actor.source_rates(obs, actor.plastic_rows({1: plastic}), variants)
    assert all(torch.equal(a, b) for a, b in zip(rates, actor.source_rates(obs, {1: plastic[variants]})))
    with pytest.raises(ValueError, match="variants"):
        actor.simulate(obs, 1, weights={1: plastic})  # 3 variants for 6 rows, and no index
    with pytest.raises(ValueError, match="variants"):
        actor.simulate(obs, 1, weights={1: plastic}, variants=np.array([0, 1, 2, 3, 0, 1]))
