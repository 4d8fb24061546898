import pytest
import torch

from snn_policy_node.snn.dsqn import DSQN, two_neuron_encoding

snntorch = pytest.importorskip("snntorch")  # test-only reference implementation

# Largest |difference| allowed between our DSQN and the snnTorch reference on the same
# weights and inputs; float32 sums in a different order differ by a few ulps.
REFERENCE_TOLERANCE = 1e-5


def reference_forward(model: DSQN, obs: torch.Tensor):
    """The same network built from snnTorch ``Synaptic`` neurons, stepped time-first."""
    cfg = model.config()
    hidden = [
        snntorch.Synaptic(
            alpha=cfg["alpha"], beta=cfg["beta"], threshold=cfg["threshold"], reset_mechanism="zero", reset_delay=False
        )
        for _ in cfg["hidden"]
    ]
    readout = snntorch.Synaptic(alpha=cfg["alpha"], beta=cfg["beta"], threshold=cfg["threshold"], reset_mechanism="none")
    neurons = [*hidden, readout]
    state = [neuron.init_synaptic() for neuron in neurons]
    encoded = two_neuron_encoding(obs)
    spikes = [[] for _ in hidden]
    for _ in range(cfg["timesteps"]):
        x = encoded
        for k, (layer, neuron) in enumerate(zip(model.layers, neurons)):
            spk, syn, mem = neuron(layer(x), *state[k])
            state[k] = (syn, mem)
            if k < len(hidden):
                spikes[k].append(spk)
            x = spk
    return mem, [torch.stack(s) for s in spikes]


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(obs_dim=4, n_actions=2, hidden=(64, 64), threshold=0.5, timesteps=8),  # CartPole, Table 1
        dict(obs_dim=6, n_actions=3, hidden=(256, 256), threshold=1.0, timesteps=3),  # Acrobot, Table 1
    ],
)
def test_dsqn_agrees_with_snntorch_synaptic_neurons(kwargs):
    torch.manual_seed(0)
    model = DSQN(**kwargs)
    obs = torch.randn(128, kwargs["obs_dim"]) * 2
    with torch.no_grad():
        ours = model.simulate(obs)
        q_ref, spikes_ref = reference_forward(model, obs)
    assert sum(s.sum() for s in ours.spikes) > 100  # the comparison exercises spiking
    for mine, theirs in zip(ours.spikes, spikes_ref):
        assert torch.equal(mine, theirs)
    torch.testing.assert_close(ours.q_values, q_ref, rtol=0, atol=REFERENCE_TOLERANCE)


def test_two_neuron_encoding_splits_signs():
    encoded = two_neuron_encoding(torch.tensor([[1.5, -2.0, 0.0]]))
    assert encoded.tolist() == [[1.5, 0.0, 0.0, 0.0, 2.0, 0.0]]


def test_state_is_reset_for_every_observation():
    torch.manual_seed(1)
    model = DSQN(4, 2)
    obs = torch.randn(3, 4)
    first = model(obs)
    model(torch.randn(3, 4) * 10)
    torch.testing.assert_close(model(obs), first)


def test_surrogate_gradients_reach_every_layer():
    torch.manual_seed(2)
    model = DSQN(4, 2)
    model(torch.randn(32, 4) * 2).sum().backward()
    for layer in model.layers:
        assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0


def test_weights_follow_the_authors_initialisation():
    torch.manual_seed(3)
    model = DSQN(6, 3, hidden=(256, 256))
    for layer in model.layers:
        assert layer.bias is None
        assert layer.weight.std().item() == pytest.approx(layer.in_features**-0.5, rel=0.1)


@pytest.mark.parametrize("batch", [1, 4, 100])
@pytest.mark.parametrize("timesteps, hidden", [(8, (64, 64)), (3, (256, 256))])
def test_each_run_of_a_population_computes_exactly_what_its_model_computes_alone(batch, timesteps, hidden):
    """r-STDP populations stack the runs' weights; run r must play as model r would on a robot."""
    from snn_policy_node.evaluation.batched import stacked_weights

    torch.manual_seed(batch)
    models = [DSQN(6, 3, hidden=hidden, timesteps=timesteps) for _ in range(3)]
    obs = 2 * torch.randn(3, batch, 6)
    with torch.no_grad():
        population = models[0].simulate(obs, stacked_weights(models))
        for r, model in enumerate(models):
            alone = model.simulate(obs[r])
            assert torch.equal(population.q_values[r], alone.q_values)
            for together, single in zip(population.spikes, alone.spikes):
                assert torch.equal(together[:, r], single)


def test_simulation_takes_an_empty_batch_a_single_observation_and_shared_observations():
    from snn_policy_node.evaluation.batched import stacked_weights

    torch.manual_seed(0)
    models = [DSQN(4, 2) for _ in range(3)]
    assert models[0].simulate(torch.randn(0, 4)).q_values.shape == (0, 2)
    obs = torch.randn(5, 4)
    assert torch.equal(models[0].simulate(obs[0]).q_values, models[0].simulate(obs[:1]).q_values[0])
    shared = models[0].simulate(obs, stacked_weights(models)).q_values  # every run sees the same observations
    assert shared.shape == (3, 5, 2)
    for r, model in enumerate(models):
        assert torch.equal(shared[r], model.simulate(obs).q_values)


def test_a_population_s_weights_changed_in_place_show_in_the_next_pass():
    model = DSQN(4, 2, hidden=(16, 16)).requires_grad_(False)
    weights = [layer.weight[None].repeat(3, 1, 1) for layer in model.layers]
    obs = torch.randn(3, 5, 4, generator=torch.Generator().manual_seed(2))
    before = model.simulate(obs, weights).q_values.clone()
    weights[2][1] *= 2.0  # the read-out of variant 1, in place (as an r-STDP update of a population is)
    after = model.simulate(obs, weights).q_values
    assert torch.equal(after[0], before[0]) and torch.equal(after[2], before[2])
    torch.testing.assert_close(after[1], 2.0 * before[1])
