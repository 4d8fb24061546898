"""The deployment protocol: online episodes only, frozen runs untouched, the guard's rollback."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from snn_policy_node.evaluation import batched
from snn_policy_node.experiments import deployment
from snn_policy_node.experiments.deployment import Arm, DeploymentConfig, deploy
from snn_policy_node.policy.model_io import load_model
from snn_policy_node.snn.rstdp import ModulationRule
from snn_policy_node.tasks import DSQN_TASKS

CARTPOLE = Path(__file__).parents[2] / "models/dsqn/CartPole-v0/seed0/model.safetensors"
SETTING = {"force_mag": 6.0, "length": 0.9, "masspole": 0.2}


def test_the_protocol_plays_only_online_episodes_and_scores_held_out_seeds_once(monkeypatch):
    played, evaluated = [], []
    play = deployment.play_training_episodes
    monkeypatch.setattr(deployment, "play_training_episodes", lambda *a, **k: played.append(a[3]) or play(*a, **k))
    evaluate = batched.evaluate_population
    monkeypatch.setattr(deployment, "evaluate_population", lambda *a, **k: evaluated.append(a[3]) or evaluate(*a, **k))
    model = load_model(CARTPOLE)[0]
    config = DeploymentConfig(episodes=6, baseline_episodes=2, window=2)
    runs = deploy([model], DSQN_TASKS["CartPole-v0"], [SETTING], [Arm(None), Arm(ModulationRule())], config)
    assert played == list(config.train_seeds[:6])  # one episode per training seed, none for evaluation
    assert evaluated == [config.heldout_seeds]
    assert runs.online.shape == (2, 6) and runs.heldout.shape == (2, len(config.heldout_seeds))
    np.testing.assert_array_equal(runs.online[0, :2], runs.online[1, :2])  # the baseline block plays frozen weights
    frozen = batched.evaluate(model, "CartPole-v0", config.heldout_seeds, SETTING)
    np.testing.assert_array_equal(runs.heldout[0], frozen)
    assert not np.array_equal(runs.heldout[1], frozen)  # the rule changed the adapted run's weights


def test_a_guarded_run_that_falls_below_its_baseline_goes_back_to_its_trained_weights():
    model = load_model(CARTPOLE)[0]
    wrecking = Arm(ModulationRule(), sign=1000.0)  # every update a thousand times the rule's: the policy falls
    arms = [Arm(None), wrecking, Arm(wrecking.rule, sign=1000.0, guard=True)]
    config = DeploymentConfig(episodes=8, baseline_episodes=2, window=2, margin=0.05)
    runs = deploy([model], DSQN_TASKS["CartPole-v0"], [SETTING], arms, config)
    frozen, wrecked, guarded = runs.online
    assert wrecked[3:].mean() < 0.5 * frozen[:2].mean() and runs.rollbacks[1] == 0
    # Episode 2 plays trained weights, episode 3 the wrecked ones: the guard's first window ends
    # there below the baseline, and the next two episodes play the trained weights again.
    np.testing.assert_array_equal(guarded[:4], wrecked[:4])
    np.testing.assert_array_equal(guarded[4:6], frozen[4:6])
    assert runs.rollbacks[2] >= 1 and runs.rollbacks[0] == 0
    assert runs.heldout[2].mean() > runs.heldout[1].mean()


def test_an_interrupted_deployment_resumes_exactly(tmp_path, monkeypatch):
    model = load_model(CARTPOLE)[0]
    arms = [Arm(ModulationRule("rpe", direction="random"), guard=True),
            Arm(ModulationRule("rpe", max_norm=0.01, exploration=0.3), guard=True),
            Arm(ModulationRule("pair", max_norm=0.05, exploration=0.3, hold="pair"), guard=True)]
    config = DeploymentConfig(episodes=9, baseline_episodes=2, window=2)
    whole = deploy([model], DSQN_TASKS["CartPole-v0"], [SETTING], arms, config)
    state, play, calls = tmp_path / "population.state.pt", deployment.play_training_episodes, []

    def stop_at_the_fifth(*a, **k):
        calls.append(a[3])
        if calls == list(config.train_seeds[:5]):
            raise KeyboardInterrupt
        return play(*a, **k)

    monkeypatch.setattr(deployment, "play_training_episodes", stop_at_the_fifth)
    with pytest.raises(KeyboardInterrupt):
        deploy([model], DSQN_TASKS["CartPole-v0"], [SETTING], arms, config, state_path=state, save_every=2)
    calls.clear()
    resumed = deploy([model], DSQN_TASKS["CartPole-v0"], [SETTING], arms, config, state_path=state, save_every=2)
    assert calls == list(config.train_seeds[4:9])  # episodes 0-3 were saved; 4 onwards played again (a pair's second half first)
    np.testing.assert_array_equal(resumed.online, whole.online)
    np.testing.assert_array_equal(resumed.heldout, whole.heldout)


def test_a_pair_run_explores_with_minus_xi_after_xi_and_moves_only_when_its_pair_is_complete(monkeypatch):
    held, play = [], deployment.play_training_episodes

    def record(*a, **k):
        held.append(None if a[-1] is None else a[-1].clone())
        return play(*a, **k)

    monkeypatch.setattr(deployment, "play_training_episodes", record)
    model = load_model(CARTPOLE)[0]
    rule = ModulationRule("pair", max_norm=0.05, exploration=0.3, hold="pair")
    config = DeploymentConfig(episodes=5, baseline_episodes=2, window=10)
    runs = deploy([model], DSQN_TASKS["CartPole-v0"], [SETTING], [Arm(None), Arm(rule)], config)
    assert held[0].abs().sum() == 0 and held[1].abs().sum() == 0  # the baseline plays the trained weights
    assert held[2][0].abs().sum() == 0 and held[2][1].abs().sum() > 0  # only the learning run explores
    torch.testing.assert_close(held[3], -held[2])
    assert not torch.allclose(held[4][1], held[2][1]) and not torch.allclose(held[4][1], -held[2][1])  # a new pair
    assert runs.online.shape == (2, 5) and not np.array_equal(runs.heldout[0], runs.heldout[1])


def test_a_pair_run_rolled_back_explores_with_its_noise_shrunk_once_per_rollback(monkeypatch):
    """Margin 0 and no confidence term: the guard rolls runs back on noise, so rollbacks happen."""
    made, held, play = [], [], deployment.play_training_episodes

    class Recorded(deployment.AntitheticPairs):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            made.append(self)

    def record(*a, **k):
        held.append(a[-1].clone())
        return play(*a, **k)

    monkeypatch.setattr(deployment, "AntitheticPairs", Recorded)
    monkeypatch.setattr(deployment, "play_training_episodes", record)
    model = load_model(CARTPOLE)[0]
    shrinking = ModulationRule("pair", max_norm=0.05, exploration=0.3, hold="pair", rollback_shrink=0.5)
    arms = [Arm(replace(shrinking, rollback_shrink=1.0), sign=-1.0, guard=True), Arm(shrinking, sign=-1.0, guard=True),
            Arm(replace(shrinking, exploration_start=0.25), sign=-1.0, guard=True)]
    config = DeploymentConfig(episodes=24, baseline_episodes=2, window=2, margin=0.0)
    runs = deploy([model], DSQN_TASKS["CartPole-v0"], [{"force_mag": 4.0, "length": 1.2, "masspole": 0.3}], arms, config)
    assert runs.rollbacks.min() >= 1
    torch.testing.assert_close(made[0].exploration, torch.tensor([0.3, 0.3, 0.3]))
    torch.testing.assert_close(made[0].scale.scale, torch.tensor([1.0, 0.5 ** int(runs.rollbacks[1]),
                                                                  0.25 * 0.5 ** int(runs.rollbacks[2])]))
    std = [float(h[1].std()) for h in held if h[1].abs().sum() > 0]  # the shrinking run's held currents
    assert std[-1] < 0.5 * std[0]
