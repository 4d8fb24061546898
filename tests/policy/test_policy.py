from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from snn_policy_node.ann2snn.conversion import SpikingActor
from snn_policy_node.policy.checkpoint import Checkpoint
from snn_policy_node.policy.model_io import load_model, save_model
from snn_policy_node.policy.policy import AC_ENERGY_J, MAC_ENERGY_J, Policy
from snn_policy_node.policy.specs import ActionSpec, ObservationEntry, ObservationSpec
from snn_policy_node.snn.rstdp import AMPLITUDES_KEY, EligibilityTrace, synapse_spikes, weight_amplitudes
from snn_policy_node.tasks import DSQN_TASKS

CARTPOLE_RSTDP = DSQN_TASKS["CartPole-v0"].rstdp
CARTPOLE = Path(__file__).parents[2] / "models/dsqn/CartPole-v0/seed0/model.safetensors"


def test_dsqn_policy_commands_the_row_of_the_best_q_value_and_counts_its_cost():
    policy = Policy.load(CARTPOLE)
    obs = np.array([0.01, -0.2, 0.03, 0.4])
    inference = policy.act(obs)
    simulation = policy.model.simulate(torch.tensor(obs, dtype=torch.float32).reshape(1, -1))
    assert inference.command.tolist() == [[-10.0], [10.0]][int(simulation.q_values.argmax())]
    spikes = [int(s.sum()) for s in simulation.spikes]
    assert inference.spikes == tuple(spikes)
    assert inference.synaptic_ops == spikes[0] * 64 + spikes[1] * 2  # each spike reaches every next-layer neuron
    assert inference.macs == 8 * 64
    assert inference.energy_j == pytest.approx(inference.synaptic_ops * AC_ENERGY_J + 512 * MAC_ENERGY_J)
    assert inference.spike_rates == tuple(s / (64 * 8) for s in spikes)  # per neuron (64) per time step (T = 8)


def test_plastic_policy_applies_dw_equal_to_r_times_its_trace():
    policy = Policy.load(CARTPOLE, plastic_layer=1, rstdp=CARTPOLE_RSTDP)
    model, checkpoint = load_model(CARTPOLE)
    a_plus, a_minus = weight_amplitudes(model.layers[1].weight)
    params = replace(DSQN_TASKS["CartPole-v0"].rstdp, a_plus=a_plus, a_minus=a_minus)
    reference = EligibilityTrace(params, 64, 64)
    rng = np.random.default_rng(1)
    for _ in range(20):
        obs = rng.uniform(-0.1, 0.1, 4)
        policy.act(obs)
        pre, post = synapse_spikes(model.simulate(torch.tensor(obs, dtype=torch.float32).reshape(1, -1)).spikes, 1)
        reference.accumulate(pre[:, 0], post[:, 0])
    assert reference.c.abs().sum() > 0
    before = policy.plastic_weight.clone()
    policy.apply_modulation(0.37)
    torch.testing.assert_close(policy.plastic_weight - before, 0.37 * reference.c)
    assert policy.plasticity.trace.c.abs().sum() == 0  # a fresh trace for the next episode


def test_a_plastic_policy_learns_with_the_amplitudes_its_checkpoint_records(tmp_path):
    model, checkpoint = load_model(CARTPOLE)
    path = tmp_path / "adapted.safetensors"
    save_model(path, model, checkpoint.observation, checkpoint.action, {**checkpoint.provenance, AMPLITUDES_KEY: [0.5, 0.25]})
    trace = Policy.load(path, plastic_layer=1, rstdp=CARTPOLE_RSTDP).plasticity.trace
    assert (trace.a_plus.item(), trace.a_minus.item()) == (0.5, 0.25)
    assert Policy.load(CARTPOLE, plastic_layer=1, rstdp=CARTPOLE_RSTDP).plasticity.trace.a_plus.item() == pytest.approx(
        weight_amplitudes(model.layers[1].weight)[0])
    save_model(path, model, checkpoint.observation, checkpoint.action, {**checkpoint.provenance, AMPLITUDES_KEY: [0.5]})
    with pytest.raises(ValueError, match="two positive numbers"):
        Policy.load(path, plastic_layer=1, rstdp=CARTPOLE_RSTDP)


def test_plastic_weights_are_checked_before_they_replace_the_layer():
    policy = Policy.load(CARTPOLE, plastic_layer=1, rstdp=CARTPOLE_RSTDP)
    before = policy.plastic_weight.clone()
    with pytest.raises(ValueError, match="do not fit"):
        policy.set_plastic_weight(np.zeros((64, 8)))
    with pytest.raises(ValueError, match="NaN or inf"):
        policy.set_plastic_weight(np.full((64, 64), np.nan))
    with pytest.raises(ValueError, match="finite"):
        policy.apply_modulation(float("inf"))
    assert torch.equal(policy.plastic_weight, before)
    policy.set_plastic_weight(np.ones((64, 64)))
    assert policy.plastic_weight.sum() == 64 * 64


def test_plasticity_needs_spiking_neurons_on_both_sides():
    with pytest.raises(ValueError, match="plastic layer must be in 1..1"):
        Policy.load(CARTPOLE, plastic_layer=2, rstdp=CARTPOLE_RSTDP)


def test_spiking_actor_policy_clips_to_the_action_bounds(random_qcfs_actor):
    actor = random_qcfs_actor(0, obs_dim=3, act_dim=2, hidden=(32, 32))
    actor.max_action = 2.0
    model = SpikingActor.from_qcfs(actor)
    spec = ObservationSpec(tuple(ObservationEntry(f"j{k}", "position") for k in range(3)))
    action = ActionSpec("continuous", joints=("j0", "j1"), low=(-0.5, -0.5), high=(0.5, 0.5))
    checkpoint = Checkpoint("spiking_actor", model.config(), spec, action, dict(model.state_dict()))
    for iterations in (0, 2, "adaptive"):
        policy = Policy(model, checkpoint, iterations=iterations)
        for obs in np.random.default_rng(0).normal(scale=3.0, size=(10, 3)):
            inference = policy.act(obs)
            assert np.all(np.abs(inference.command) <= 0.5)
            assert inference.command == pytest.approx(np.clip(inference.output, -0.5, 0.5))


def test_a_position_target_actor_commands_its_default_pose_plus_the_scaled_action(random_qcfs_actor):
    model = SpikingActor.from_qcfs(random_qcfs_actor(0, obs_dim=3, act_dim=2, hidden=(32, 32)))
    spec = ObservationSpec(tuple(ObservationEntry(f"j{k}", "position") for k in range(3)))
    action = ActionSpec("continuous", joints=("j0", "j1"), low=(-0.5, -0.5), high=(0.5, 0.5), scale=(0.25, -2.0),
                        offset=(0.1, 1.2), interface="position")
    policy = Policy(model, Checkpoint("spiking_actor", model.config(), spec, action, dict(model.state_dict())))
    for obs in np.random.default_rng(1).normal(scale=3.0, size=(10, 3)):
        inference = policy.act(obs)
        clipped = np.clip(inference.output, -0.5, 0.5)
        assert inference.command == pytest.approx([0.1 + 0.25 * clipped[0], 1.2 - 2.0 * clipped[1]])


def test_a_plastic_layer_without_r_stdp_parameters_is_refused():
    with pytest.raises(ValueError, match="needs r-STDP parameters"):
        Policy.load(CARTPOLE, plastic_layer=1)
