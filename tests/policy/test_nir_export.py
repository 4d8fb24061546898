"""The NIR export read back by a second library: snnTorch's import_from_nir runs the file and must give
the DSQN's own Q-values and spike trains."""

from pathlib import Path

import nir
import numpy as np
import pytest
import torch
from snntorch import utils
from snntorch.import_nir import import_from_nir

from snn_policy_node.cli import main
from snn_policy_node.policy.model_io import load_model
from snn_policy_node.policy.nir_export import READOUT, dsqn_graph, export_nir
from snn_policy_node.snn.dsqn import DSQN, two_neuron_encoding

REPO = Path(__file__).resolve().parents[2]
SHIPPED = [REPO / "models/dsqn/CartPole-v0/seed0/model.safetensors", REPO / "models/dsqn/Acrobot-v1/seed0/model.safetensors"]


def snntorch_run(graph: nir.NIRGraph, encoded: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The Q-values (read-out v after the last step) and each hidden layer's spikes ``[T, batch, n]``."""
    net = import_from_nir(graph)
    hidden = sorted(name for name in graph.nodes if name.startswith("lif"))
    spikes = {name: [] for name in hidden}
    for name in hidden:
        getattr(net, name).register_forward_hook(lambda _module, _inputs, out, name=name: spikes[name].append(out.detach()))
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


def test_an_actor_checkpoint_is_refused_with_the_reason(tmp_path, capsys):
    actor = REPO / "models/td3bc/Hopper-v5/spiking_actor.safetensors"
    assert main(["export", "nir", str(actor), str(tmp_path / "actor.nir")]) == 2
    assert "reset by subtraction" in capsys.readouterr().err
    assert not (tmp_path / "actor.nir").exists()


def test_the_command_writes_the_file(tmp_path, capsys):
    assert main(["export", "nir", str(SHIPPED[0]), str(tmp_path / "cartpole.nir")]) == 0
    assert "8 steps per observation" in capsys.readouterr().out
    assert set(nir.read(str(tmp_path / "cartpole.nir")).nodes) >= {"input", "fc0", "lif0", READOUT, "output"}
