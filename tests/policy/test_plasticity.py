"""A deployed policy's plastic layer: rewards matched to their inferences, updates that land whole."""

from pathlib import Path

import numpy as np
import pytest
import torch

from snn_policy_node.ann2snn.conversion import SpikingActor
from snn_policy_node.policy.checkpoint import Checkpoint
from snn_policy_node.policy.model_io import load_model
from snn_policy_node.policy.policy import Policy
from snn_policy_node.policy.specs import ActionSpec, ObservationEntry, ObservationSpec
from snn_policy_node.snn.node_perturbation import DenseEligibility, PerturbationRule
from snn_policy_node.snn.rstdp import ModulationRule
from snn_policy_node.tasks import DSQN_TASKS

CARTPOLE = Path(__file__).parents[2] / "models/dsqn/CartPole-v0/seed0/model.safetensors"
RULE = PerturbationRule(exploration=0.3, trace_steps=3.0, window=4, step=0.01)


@pytest.fixture
def actor_policy(random_qcfs_actor):
    def make(**options) -> Policy:
        model = SpikingActor.from_qcfs(random_qcfs_actor(0, obs_dim=3, act_dim=2, hidden=(24, 24)))
        spec = ObservationSpec(tuple(ObservationEntry(f"j{k}", "position") for k in range(3)))
        action = ActionSpec("continuous", joints=("j0", "j1"), low=(-1.0, -1.0), high=(1.0, 1.0))
        checkpoint = Checkpoint("spiking_actor", model.config(), spec, action, dict(model.state_dict()))
        return Policy(model, checkpoint, plastic_layer=1, **({"perturbation": RULE} | options))

    return make


def test_a_reward_that_comes_after_the_next_inference_credits_its_own_step(actor_policy):
    policy = actor_policy()
    model = policy.model
    observations = np.random.default_rng(0).normal(size=(3, 3))
    rewards = (1.0, -0.5, 2.0)
    policy.act(observations[0])
    for k in range(1, 3):  # each reward arrives one inference late
        policy.act(observations[k])
        assert policy.reward(rewards[k - 1])
    assert policy.reward(rewards[2])

    reference = DenseEligibility(RULE, 24, 24, model.folded_weight(1).norm()[None])
    row = torch.tensor([0])
    for obs, reward in zip(observations, rewards):
        noise = {1: reference.noise(model.steps, row)}  # the same generator, so the same noise
        simulation = model.simulate(torch.tensor(obs, dtype=torch.float32)[None], noise=noise, errors=False)
        reference.observe(noise[1][: model.timesteps], simulation.spikes[0], row)
        reference.credit(torch.tensor([reward]), row)
    eligibility = policy.plasticity.eligibility
    assert eligibility.g.abs().sum() > 0
    torch.testing.assert_close(eligibility.g, reference.g)
    torch.testing.assert_close(eligibility.e, reference.e)


def test_a_reward_with_no_inference_waiting_is_counted_and_dropped(actor_policy):
    policy = actor_policy()
    assert not policy.reward(1.0)
    assert policy.plasticity.unmatched_rewards == 1
    with pytest.raises(ValueError, match="finite"):
        policy.reward(float("nan"))


def test_an_update_moves_the_spiking_weights_one_step_and_the_source_follows(actor_policy):
    policy = actor_policy()
    model = policy.model
    rng = np.random.default_rng(1)
    for _ in range(12):
        policy.act(rng.normal(size=3))
        policy.reward(float(rng.normal()))
    folded, source = model.folded_weight(1), policy.plastic_weight.clone()
    policy.apply_modulation(-1.0)
    change = model.folded_weight(1) - folded
    assert change.norm().item() == pytest.approx(RULE.step * folded.norm().item(), rel=1e-4)
    scale = folded / source  # the fold: lambda_0 / lambda_1, one number
    torch.testing.assert_close(model.folded_weight(1), policy.plastic_weight * scale.flatten()[0])
    assert policy.plasticity.eligibility.g.abs().sum() == 0 and not policy.plasticity.waiting


def test_modulation_zero_changes_nothing_and_starts_a_fresh_episode(actor_policy):
    policy = actor_policy()
    for obs in np.random.default_rng(2).normal(size=(5, 3)):
        policy.act(obs)
        policy.reward(1.0 + obs[0])
    before = policy.plastic_weight.clone()
    policy.apply_modulation(0.0)
    assert torch.equal(policy.plastic_weight, before)
    assert policy.plasticity.eligibility.g.abs().sum() == 0


def test_a_policy_that_does_not_explore_acts_as_the_frozen_network(actor_policy):
    policy = actor_policy()
    policy.plasticity.exploring = False
    obs = np.random.default_rng(3).normal(size=3)
    expected = policy.model.simulate(torch.tensor(obs, dtype=torch.float32)[None], errors=False).action[0].numpy()
    np.testing.assert_array_equal(policy.act(obs).output, expected)
    assert not policy.plasticity.waiting  # nothing to credit


def test_an_actor_plastic_layer_joins_two_hidden_layers(random_qcfs_actor):
    model = SpikingActor.from_qcfs(random_qcfs_actor(0, obs_dim=3, act_dim=2, hidden=(8, 8)))
    spec = ObservationSpec(tuple(ObservationEntry(f"j{k}", "position") for k in range(3)))
    action = ActionSpec("continuous", joints=("j0", "j1"), low=(-1.0, -1.0), high=(1.0, 1.0))
    checkpoint = Checkpoint("spiking_actor", model.config(), spec, action, dict(model.state_dict()))
    for layer in (0, 2):
        with pytest.raises(ValueError, match="join two hidden layers"):
            Policy(model, checkpoint, plastic_layer=layer)


def test_a_bounded_dsqn_update_moves_at_most_its_share_of_the_trained_norm():
    policy = Policy.load(CARTPOLE, plastic_layer=1, rstdp=DSQN_TASKS["CartPole-v0"].rstdp, max_change=0.01)
    for obs in np.random.default_rng(4).uniform(-0.1, 0.1, size=(30, 4)):
        policy.act(obs)
    trained = policy.plastic_weight.clone()
    policy.apply_modulation(1e6)  # an unbounded update would move the weights by far more than their norm
    change = (policy.plastic_weight - trained).norm().item()
    assert change == pytest.approx(0.01 * trained.norm().item(), rel=1e-4)


PAIR = ModulationRule("pair", max_norm=0.05, exploration=0.5, hold="pair")


def play_pair_episode(policy: Policy, observations: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Acts on each observation; returns the plastic layer's pre- and postsynaptic spike counts."""
    pre = post = 0
    layer = policy.plasticity.layer
    for obs in observations:
        policy.act(obs)
        pre = pre + torch.from_numpy(policy.runner.spikes[layer - 1].sum((0, 1)))
        post = post + torch.from_numpy(policy.runner.spikes[layer].sum((0, 1)))
    return pre, post


@pytest.mark.parametrize("kind", ["dsqn", "actor"])
def test_the_pair_rule_plays_xi_then_minus_xi_and_steps_along_xi_times_both_episodes_counts(kind, actor_policy):
    if kind == "dsqn":
        model, checkpoint = load_model(CARTPOLE)
        policy = Policy(model, checkpoint, plastic_layer=1, pair=PAIR)
        observations, threshold = np.random.default_rng(0).normal(0, 0.5, size=(6, 4)), model.threshold
        weight = lambda: policy.model.layers[1].weight.detach().clone()  # noqa: E731
    else:
        policy = actor_policy(pair=PAIR)
        observations, threshold = np.random.default_rng(0).normal(size=(6, 3)), 1.0
        weight = lambda: policy.model.folded_weight(1)  # noqa: E731
    before = weight()
    _, quiet = play_pair_episode(policy, observations[:3])  # the schedule has not asked for exploration: no noise
    assert policy.plasticity.noise() is None and policy.plasticity.c.abs().sum() == 0
    policy.apply_modulation(0.0, explore=1)
    xi = policy.plasticity.held[0].clone()
    generator = torch.Generator().manual_seed(0)  # one draw per episode, as a population of one run draws
    draws = [torch.randn((1, len(xi)), generator=generator) * (torch.tensor([0.5]) * threshold)[:, None] for _ in range(2)]
    torch.testing.assert_close(xi, draws[1][0])  # the second episode's
    torch.testing.assert_close(policy.plasticity.noise()[1][0, 0], xi)
    first, explored = play_pair_episode(policy, observations[:3])
    assert not torch.equal(explored, quiet)  # the held offset changes the plastic layer's spikes
    policy.apply_modulation(0.0, explore=-1)
    torch.testing.assert_close(policy.plasticity.noise()[1][0, 0], -xi)
    second, _ = play_pair_episode(policy, observations[3:])
    c = xi[:, None] * (first + second)[None, :].to(xi.dtype)
    torch.testing.assert_close(policy.plasticity.c, c)
    torch.testing.assert_close(weight(), before)  # nothing moved during the pair
    policy.apply_modulation(0.4, explore=0)
    step = 0.4 * 0.05 * before.norm() * c / c.norm()
    torch.testing.assert_close(weight(), before + step, rtol=1e-5, atol=1e-6)
    assert policy.plasticity.noise() is None and policy.plasticity.c.abs().sum() == 0
    with pytest.raises(ValueError, match="first episode of a pair"):
        policy.apply_modulation(0.0, explore=-1)


def test_a_pair_started_at_a_shrunk_scale_draws_xi_that_much_smaller(actor_policy):
    """The same generator draw as a full-scale pair, times the schedule's scale: what a shrunk run of
    a population plays (AntitheticPairs.rolled_back)."""
    full, shrunk = actor_policy(pair=PAIR), actor_policy(pair=PAIR)
    full.apply_modulation(0.0, explore=1)
    shrunk.apply_modulation(0.0, explore=0.25)
    torch.testing.assert_close(shrunk.plasticity.held, 0.25 * full.plasticity.held)
    shrunk.apply_modulation(0.0, explore=-0.25)
    torch.testing.assert_close(shrunk.plasticity.held, -0.25 * full.plasticity.held)
    for bad in (1.5, float("nan")):
        with pytest.raises(ValueError, match=r"\[-1, 1\]"):
            shrunk.apply_modulation(0.0, explore=bad)
