import numpy as np
import pytest
import torch

from snn_policy_node import adaptation
from snn_policy_node.adaptation import AdaptationConfig, adapt
from snn_policy_node.dsqn import DSQN
from snn_policy_node.evaluation import evaluate
from snn_policy_node.tasks import TASKS

CARTPOLE = TASKS["CartPole-v0"]
SETTING = {"force_mag": 6.0, "length": 0.7, "masspole": 0.3}


def test_training_and_evaluation_seeds_must_be_disjoint():
    with pytest.raises(ValueError, match="disjoint"):
        AdaptationConfig(eval_seeds=range(0, 100), train_seeds=range(50, 300))
    with pytest.raises(ValueError, match="training seeds"):
        AdaptationConfig(episodes=300)


def test_best_weights_are_restored_and_bookkeeping_is_kept(monkeypatch):
    """Evaluation is scripted here (and only here) so that the best episode is known."""
    scripted = iter([10.0, 12.0, 30.0, 20.0, 25.0])  # before, then after episodes 1..4
    weights_seen, seeds_played = [], []

    def fake_evaluate(model, env_id, seeds, parameters):
        weights_seen.append(model.layers[1].weight.clone())
        return np.full(len(seeds), next(scripted))

    def record_episode(model, env_id, seed, parameters, trace, layer):
        seeds_played.append(seed)
        trace.c.normal_()  # some eligibility, so that every episode changes the weights
        return 50.0

    monkeypatch.setattr(adaptation, "evaluate", fake_evaluate)
    monkeypatch.setattr(adaptation, "play_training_episode", record_episode)
    torch.manual_seed(0)
    model = DSQN(**CARTPOLE.dsqn)
    config = AdaptationConfig(episodes=4, eval_seeds=range(3), train_seeds=range(100, 110))
    result = adapt(model, CARTPOLE, SETTING, config)

    assert seeds_played == [100, 101, 102, 103]
    assert result.best_episode == 2
    assert result.eval_means == [12.0, 30.0, 20.0, 25.0]
    assert result.before.mean() == 10.0 and result.after.mean() == 30.0
    assert torch.equal(model.layers[1].weight, weights_seen[2])
    assert not torch.equal(weights_seen[2], weights_seen[0])
    assert result.train_returns == [50.0] * 4


def test_stop_at_ends_adaptation_once_the_best_possible_is_reached(monkeypatch):
    monkeypatch.setattr(adaptation, "evaluate", lambda m, e, seeds, p: np.full(len(seeds), 200.0))
    model = DSQN(**CARTPOLE.dsqn)
    result = adapt(model, CARTPOLE, SETTING, AdaptationConfig(stop_at=200.0))
    assert result.eval_means == [] and result.best_episode == 0


def test_real_adaptation_never_ends_worse_than_it_started():
    torch.manual_seed(1)
    model = DSQN(**CARTPOLE.dsqn)
    originals = [layer.weight.clone() for layer in model.layers]
    original = originals[1]
    result = adapt(model, CARTPOLE, SETTING, AdaptationConfig(episodes=3))
    assert len(result.eval_means) == 3
    assert result.after.mean() >= result.before.mean()
    np.testing.assert_array_equal(evaluate(model, "CartPole-v0", parameters=SETTING), result.after)
    if result.best_episode == 0:
        assert torch.equal(model.layers[1].weight, original)
    else:
        assert not torch.equal(model.layers[1].weight, original)
    for k in (0, 2):  # only the plastic layer changes
        assert torch.equal(model.layers[k].weight, originals[k])
