"""The NIR export read back by a second library: snnTorch's import_from_nir runs the file and must give
the DSQN's own Q-values and spike trains, and the converted actor's actions and spike trains."""

import json
from pathlib import Path

import nir
import numpy as np
import pytest
import snntorch as snn
import torch
from snntorch import utils
from snntorch.import_nir import import_from_nir

from sim_bridge.tasks import make_task_env
from snn_policy_node.ann2snn.conversion import SpikingActor
from snn_policy_node.cli import main
from snn_policy_node.policy.model_io import load_model
from snn_policy_node.policy.nir_export import READOUT, actor_graph, dsqn_graph, export_nir
from snn_policy_node.policy.observation import ObservationBuilder
from snn_policy_node.snn.dsqn import DSQN, two_neuron_encoding

REPO = Path(__file__).resolve().parents[2]
SHIPPED = [REPO / "models/dsqn/CartPole-v0/seed0/model.safetensors", REPO / "models/dsqn/Acrobot-v1/seed0/model.safetensors"]
ACTORS = sorted(REPO.glob("models/td3bc/*/spiking_actor.safetensors"))


def recording_spikes(net: torch.nn.Module, layers: list[str]) -> dict[str, list[torch.Tensor]]:
    """Each named layer's spikes, appended at every step the imported network runs."""
    spikes = {name: [] for name in layers}
    for name in layers:
        getattr(net, name).register_forward_hook(lambda _module, _inputs, out, name=name: spikes[name].append(out.detach()))
    return spikes


def snntorch_run(graph: nir.NIRGraph, encoded: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The Q-values (read-out v after the last step) and each hidden layer's spikes ``[T, batch, n]``."""
    net = import_from_nir(graph)
    hidden = sorted(name for name in graph.nodes if name.startswith("lif"))
    spikes = recording_spikes(net, hidden)
    utils.reset(net)
    with torch.no_grad():
        for _ in range(int(graph.metadata["timesteps"])):
            net(encoded)
    return getattr(net, READOUT).mem.detach(), [torch.stack(spikes[name]) for name in hidden]


@pytest.mark.parametrize("checkpoint", SHIPPED, ids=lambda path: path.parts[-3])
def test_snntorch_runs_the_exported_file_to_the_dsqn_s_q_values_and_spikes(checkpoint, tmp_path):
    out = tmp_path / "model.nir"
    export_nir(checkpoint, out)
    model, _ = load_model(checkpoint)
    obs = torch.randn(256, model.obs_dim, generator=torch.Generator().manual_seed(0))
    ours = model.simulate(obs)
    q_values, spikes = snntorch_run(nir.read(str(out)), two_neuron_encoding(obs))
    assert sum(int(s.sum()) for s in ours.spikes) > 0  # the hidden layers fire, so the spikes are compared
    for theirs, own in zip(spikes, ours.spikes):
        assert torch.equal(theirs, own)
    torch.testing.assert_close(q_values, ours.q_values, rtol=0, atol=1e-5)


def test_a_random_deeper_dsqn_round_trips_through_the_file_with_its_parameters(tmp_path):
    model = DSQN(3, 4, hidden=(16, 12, 8), alpha=0.6, beta=0.9, threshold=0.3, timesteps=5).requires_grad_(False)
    graph = dsqn_graph(model)
    nir.write(str(tmp_path / "model.nir"), graph)
    read = nir.read(str(tmp_path / "model.nir"))
    assert read.metadata["timesteps"] == 5 and read.metadata["dt"] == pytest.approx(1e-4)
    assert [edge for edge in read.edges] == [tuple(edge) for edge in graph.edges]
    lif = read.nodes["lif1"]
    dt = read.metadata["dt"]
    assert np.float32(1 - dt / lif.tau_syn[0]) == np.float32(0.6) and np.float32(1 - dt / lif.tau_mem[0]) == np.float32(0.9)
    assert np.all(read.nodes[READOUT].v_threshold == np.inf)
    obs = torch.randn(64, 3, generator=torch.Generator().manual_seed(1))
    q_values, spikes = snntorch_run(read, two_neuron_encoding(obs))
    ours = model.simulate(obs)
    assert all(torch.equal(a, b) for a, b in zip(spikes, ours.spikes))
    torch.testing.assert_close(q_values, ours.q_values, rtol=0, atol=1e-5)


def test_the_graph_follows_the_dsqn_s_weights(tmp_path):
    model = DSQN(2, 2, hidden=(4,)).requires_grad_(False)
    graph = dsqn_graph(model)
    np.testing.assert_array_equal(graph.nodes["fc1"].weight, model.layers[1].weight.numpy())
    model.layers[1].weight.mul_(2.0)
    np.testing.assert_array_equal(dsqn_graph(model).nodes["fc1"].weight, model.layers[1].weight.numpy())


def test_the_command_writes_the_file(tmp_path, capsys):
    assert main(["export", "nir", str(SHIPPED[0]), str(tmp_path / "cartpole.nir")]) == 0
    assert "8 steps per observation" in capsys.readouterr().out
    assert set(nir.read(str(tmp_path / "cartpole.nir")).nodes) >= {"input", "fc0", "lif0", READOUT, "output"}


def resetting_by_subtraction(net: torch.nn.Module, graph: nir.NIRGraph) -> list[str]:
    """What the actor graph's metadata asks of a consumer: its IF layers (snnTorch imports every CubaLIF
    resetting to zero) reset by subtraction, on the potential before the step's reset. Returns their names."""
    hidden = sorted(name for name in graph.nodes if name.startswith("if"))
    assert all(name in graph.metadata["reset"] for name in hidden)
    for name in hidden:
        imported = getattr(net, name)
        setattr(net, name, snn.Synaptic(alpha=imported.alpha, beta=imported.beta, threshold=imported.threshold,
                                        reset_mechanism="subtract", reset_delay=True, init_hidden=True))
    return hidden


def snntorch_actor_run(graph: nir.NIRGraph, obs: torch.Tensor, subtract: bool = True
                       ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The action and each IF layer's spikes ``[T, batch, n + 1]`` (the pulse neuron last), feeding the
    observation and the start pulse for the graph's timesteps."""
    net = import_from_nir(graph)
    hidden = resetting_by_subtraction(net, graph) if subtract else sorted(n for n in graph.nodes if n.startswith("if"))
    spikes = recording_spikes(net, hidden)
    utils.reset(net)
    steps = int(graph.metadata["timesteps"])
    with torch.no_grad():
        for t in range(steps):
            net(torch.cat([obs, torch.full((len(obs), 1), float(t == 0))], dim=1))
    action = graph.metadata["max_action"] * torch.tanh(getattr(net, READOUT).mem / steps)
    return action, [torch.stack(spikes[name]) for name in hidden]


def visited_states(checkpoint: Path, steps: int = 300) -> torch.Tensor:
    """Normalised observations of the actor's own task, played by the actor (I = 0) from seed 0."""
    actor, loaded = load_model(checkpoint)
    builder = ObservationBuilder(loaded.observation)
    env = make_task_env(checkpoint.parts[-2])
    obs, _ = env.reset(seed=0)
    states = []
    for _ in range(steps):
        states.append(torch.as_tensor(builder.normalise(obs), dtype=torch.float32))
        obs, _, terminated, truncated, _ = env.step(actor(states[-1][None])[0].numpy())
        if terminated or truncated:
            obs, _ = env.reset()
    env.close()
    return torch.stack(states)


def divergences(actor: SpikingActor, ours: list[torch.Tensor], theirs: list[torch.Tensor]
                ) -> tuple[list[list[torch.Tensor]], list[list[torch.Tensor]], list[int]]:
    """Per observation, our and snnTorch's trains of every hidden layer over the actor's T steps (the pulse
    neuron left out), and the observations whose trains differ anywhere."""
    rows = range(ours[0].shape[1])
    ours_by_state = [[own[: actor.timesteps, b] for own in ours] for b in rows]
    theirs_by_state = [[layer[:, b, :-1] for layer in theirs] for b in rows]
    diverged = [b for b in rows if any(not torch.equal(a, t) for a, t in zip(ours_by_state[b], theirs_by_state[b]))]
    return ours_by_state, theirs_by_state, diverged


def potential_at_first_divergence(actor: SpikingActor, obs: torch.Tensor, ours: list[torch.Tensor],
                                  theirs: list[torch.Tensor]) -> float:
    """Where the trains of one observation first differ (the lowest layer, whose inputs still agree, then the
    earliest step): that neuron's potential before the step's reset, in float64 from the shared inputs."""
    layer = next(k for k, (a, b) in enumerate(zip(ours, theirs)) if not torch.equal(a, b))
    step, neuron = min(map(tuple, (ours[layer] != theirs[layer]).nonzero().tolist()))
    weight = actor.folded_weight(layer)[neuron].double()
    inputs = obs.double().expand(len(ours[0]), -1) if layer == 0 else ours[layer - 1].double()
    currents = inputs @ weight + float(actor.folded_bias(layer)[neuron])
    fired_before = float(ours[layer][:step, neuron].sum())
    return actor.membrane.initial + float(currents[: step + 1].sum()) - fired_before


@pytest.mark.parametrize("checkpoint", ACTORS, ids=lambda path: path.parts[-2])
def test_snntorch_runs_the_exported_actor_to_its_actions_and_spikes(checkpoint, tmp_path):
    """On states the robot visits and on wider random ones, snnTorch's spike trains are ours but where a
    neuron's potential lies within rounding of the threshold: there the two sums of its weighted inputs,
    each in float32 in its own order, may fall on either side, and the spike moves by a step."""
    out = tmp_path / "actor.nir"
    export_nir(checkpoint, out)
    actor, _ = load_model(checkpoint)
    wide = 2.0 * torch.randn(512, actor.weight0.shape[1], generator=torch.Generator().manual_seed(0))
    obs = torch.cat([visited_states(checkpoint), wide])
    ours = actor.simulate(obs, iterations=0, errors=False)
    action, spikes = snntorch_actor_run(nir.read(str(out)), obs)
    for theirs, own in zip(spikes, ours.spikes):
        assert 0 < int(own.sum()) < own.numel()  # spikes and silences both, so the trains are compared
        assert theirs[..., -1].sum(dim=1).tolist() == [len(obs)] + [0] * (actor.timesteps - 1)  # the pulse: step 1 only
    ours_by_state, theirs_by_state, diverged = divergences(actor, ours.spikes, spikes)
    assert len(diverged) <= len(obs) // 100
    for b in diverged:
        assert potential_at_first_divergence(actor, obs[b], ours_by_state[b], theirs_by_state[b]) == pytest.approx(1.0, abs=1e-5)
    same = [b for b in range(len(obs)) if b not in diverged]
    torch.testing.assert_close(action[same], ours.action[same], rtol=0, atol=1e-6)


def test_resetting_to_zero_as_nir_s_cubalif_says_would_change_the_actor():
    """The reset in the metadata is needed: snnTorch's import as it stands (reset to zero) fires otherwise."""
    actor, _ = load_model(ACTORS[0])
    graph = actor_graph(actor)
    obs = 2.0 * torch.randn(256, actor.weight0.shape[1], generator=torch.Generator().manual_seed(1))
    ours = actor.simulate(obs, iterations=0, errors=False)
    _, spikes = snntorch_actor_run(graph, obs, subtract=False)
    assert not torch.equal(spikes[0][..., :-1], ours.spikes[0][: actor.timesteps])


def tiny_actor(bias: float) -> SpikingActor:
    """One IF neuron driven by a constant ``bias`` (its threshold 1), read out with weight 1."""
    actor = SpikingActor(weights=[torch.zeros(1, 1), torch.ones(1, 1)], biases=[torch.tensor([bias]), torch.zeros(1)],
                         thresholds=[1.0], levels=4, timesteps=4, max_action=1.0)
    return actor.requires_grad_(False)


def test_a_potential_landing_on_the_threshold_is_the_one_divergence():
    """The IF spikes where v >= 1, snnTorch where v > 1: with V(0) = 1/2 and a current of exactly 1/2 the
    potential hits 1.0 on steps 1 and 3, where the source fires and snnTorch fires a step later; the
    spike count, and with it the action, agree."""
    actor = tiny_actor(0.5)
    obs = torch.zeros(1, 1)
    ours = actor.simulate(obs, iterations=0, errors=False)
    action, spikes = snntorch_actor_run(actor_graph(actor), obs)
    assert ours.spikes[0][:4, 0, 0].tolist() == [1.0, 0.0, 1.0, 0.0]
    assert spikes[0][:, 0, 0].tolist() == [0.0, 1.0, 0.0, 1.0]
    torch.testing.assert_close(action, ours.action, rtol=0, atol=1e-6)
    off_threshold = tiny_actor(0.51)  # v never lands on 1.0: identical trains
    ours = off_threshold.simulate(obs, iterations=0, errors=False)
    assert torch.equal(snntorch_actor_run(actor_graph(off_threshold), obs)[1][0][..., :-1], ours.spikes[0][:4])


def test_the_actor_graph_holds_the_folded_layers_and_the_start_pulse():
    actor, _ = load_model(ACTORS[0])
    graph = actor_graph(actor)
    fc0, fc1 = graph.nodes["fc0"], graph.nodes["fc1"]
    hidden = actor.folded_weight(0).shape[0]
    np.testing.assert_array_equal(fc0.weight[:hidden, :-1], actor.folded_weight(0).numpy())
    np.testing.assert_array_equal(fc0.bias[:hidden], actor.folded_bias(0).numpy())
    assert np.all(fc0.weight[:hidden, -1] == 0.5) and fc0.weight[hidden, -1] == 1.5 and not fc0.weight[hidden, :-1].any()
    assert np.all(fc1.weight[:-1, -1] == 0.5) and fc1.weight[-1, -1] == 1.5 and not fc1.weight[-1, :-1].any()
    readout = graph.nodes[f"fc{actor.depth - 1}"]
    assert not readout.weight[:, -1].any() and readout.weight.shape[0] == actor.folded_weight(actor.depth - 1).shape[0]
    assert np.float32(1 - graph.metadata["dt"] / graph.nodes["if0"].tau_mem[0]) == 1.0
    assert graph.metadata["reset"].startswith("subtract") and "I = 0" in graph.metadata["calibration"]


def test_the_command_writes_an_actor_file(tmp_path, capsys):
    assert main(["export", "nir", str(ACTORS[0]), str(tmp_path / "actor.nir")]) == 0
    assert "4 steps per observation" in capsys.readouterr().out
    read = nir.read(str(tmp_path / "actor.nir"))
    assert {"input", "fc0", "if0", READOUT, "output"} <= set(read.nodes) and read.metadata["max_action"] == 1.0
    observation = json.loads(read.metadata["observation"])
    assert len(observation["entries"]) == len(observation["mean"]) == read.nodes["fc0"].weight.shape[1] - 1
