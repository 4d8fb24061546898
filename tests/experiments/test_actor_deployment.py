"""The spiking actors' deployment protocol on real MuJoCo physics, in short episodes."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from snn_policy_node.experiments import actor_deployment
from snn_policy_node.experiments.actor_deployment import ActorArm, ActorDeploymentConfig, deploy_actor
from snn_policy_node.policy.model_io import load_model
from snn_policy_node.snn.node_perturbation import PerturbationRule
from snn_policy_node.snn.rstdp import ModulationRule

HOPPER = Path(__file__).parents[2] / "models/td3bc/Hopper-v5/spiking_actor.safetensors"
SETTINGS = [{}, {"body_mass": 1.3}]
CONFIG = ActorDeploymentConfig(episodes=4, baseline_episodes=1, window=1, heldout_episodes=2, max_steps=25)
RULE = PerturbationRule(step=0.05)
ARMS = [ActorArm(None), ActorArm(RULE, guard=True), ActorArm(replace(RULE, direction="random"), guard=True)]
PAIR = ModulationRule("pair", max_norm=0.05, exploration=0.3, hold="pair")


@pytest.fixture(scope="module")
def hopper():
    return load_model(HOPPER)


def test_the_protocol_plays_only_online_episodes_and_scores_held_out_seeds_once(hopper, monkeypatch):
    seeds_played = []
    play = actor_deployment.play_episodes
    monkeypatch.setattr(actor_deployment, "play_episodes",
                        lambda env, act, seeds, *a, **k: seeds_played.append(sorted(set(seeds))) or play(env, act, seeds, *a, **k))
    actor, checkpoint = hopper
    runs = deploy_actor(actor, checkpoint.observation, "Hopper-v5", SETTINGS, ARMS, CONFIG)
    online = [[seed] for seed in CONFIG.train_seeds[: CONFIG.episodes]]
    assert seeds_played == [*online, list(CONFIG.heldout_seeds[:2])]  # one call per episode, then the held-out block
    assert runs.online.shape == (6, 4) and runs.heldout.shape == (6, 2)
    frozen = deploy_actor(actor, checkpoint.observation, "Hopper-v5", SETTINGS, ARMS[:1], CONFIG)
    # Frozen runs play as if alone, up to float rounding (a batch of 6 rows sums in another order than 2)
    np.testing.assert_allclose(runs.online[:2], frozen.online, rtol=1e-6)
    np.testing.assert_allclose(runs.heldout[:2], frozen.heldout, rtol=1e-6)
    assert not np.array_equal(runs.heldout[2:4], runs.heldout[:2])  # the learners' weights moved


@pytest.mark.parametrize("arms", [ARMS, [ActorArm(None), ActorArm(PAIR, guard=True), ActorArm(PAIR, sign=-1.0)]],
                         ids=["dense", "pairs"])
def test_an_interrupted_actor_deployment_resumes_exactly(hopper, tmp_path, monkeypatch, arms):
    actor, checkpoint = hopper
    whole = deploy_actor(actor, checkpoint.observation, "Hopper-v5", SETTINGS, arms, CONFIG)
    state, play, calls = tmp_path / "population.state.pt", actor_deployment.play_episodes, []

    def stop_at_the_fourth(*a, **k):
        calls.append(a[2][0])
        if len(calls) == 4:
            raise KeyboardInterrupt
        return play(*a, **k)

    monkeypatch.setattr(actor_deployment, "play_episodes", stop_at_the_fourth)
    with pytest.raises(KeyboardInterrupt):
        deploy_actor(actor, checkpoint.observation, "Hopper-v5", SETTINGS, arms, CONFIG, state_path=state, save_every=2)
    calls.clear()
    resumed = deploy_actor(actor, checkpoint.observation, "Hopper-v5", SETTINGS, arms, CONFIG, state_path=state,
                           save_every=2)
    assert calls[:2] == list(CONFIG.train_seeds[2:4])  # episodes 0-1 were saved
    np.testing.assert_array_equal(resumed.online, whole.online)
    np.testing.assert_array_equal(resumed.heldout, whole.heldout)


def test_learning_arms_must_share_their_rule_but_for_its_direction(hopper):
    actor, checkpoint = hopper
    with pytest.raises(ValueError, match="share exploration"):
        deploy_actor(actor, checkpoint.observation, "Hopper-v5", SETTINGS,
                     [ActorArm(RULE), ActorArm(replace(RULE, step=0.01))], CONFIG)


def test_a_pair_run_plays_minus_xi_after_xi_and_its_pairs_move_the_weights_by_their_return_difference(hopper, monkeypatch):
    held, play = [], actor_deployment.ActorPopulation.play

    def record(self, seeds, physics, plastic, dense=None, learner_rows=None, pairs=None):
        held.append(None if pairs is None else pairs[0].clone())
        return play(self, seeds, physics, plastic, dense, learner_rows, pairs)

    monkeypatch.setattr(actor_deployment.ActorPopulation, "play", record)
    actor, checkpoint = hopper
    config = replace(CONFIG, episodes=5)
    runs = deploy_actor(actor, checkpoint.observation, "Hopper-v5", SETTINGS[:1], [ActorArm(None), ActorArm(PAIR)], config)
    assert held[0] is None  # the baseline episode plays the trained weights, without noise
    assert held[1][0].abs().sum() == 0 and held[1][1].abs().sum() > 0  # the frozen run never explores
    np.testing.assert_array_equal(held[2].numpy(), -held[1].numpy())
    assert not np.allclose(held[3][1].numpy(), held[1][1].numpy())  # the next pair draws afresh
    assert runs.online[1, 1] != runs.online[1, 2]  # +xi and -xi play differently
    assert not np.array_equal(runs.heldout[0], runs.heldout[1])  # the completed pairs moved the weights
