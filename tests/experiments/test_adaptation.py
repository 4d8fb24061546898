import numpy as np
import pytest
import torch

from snn_policy_node.evaluation.batched import evaluate
from snn_policy_node.evaluation.seeds import EVAL_SEEDS
from snn_policy_node.experiments import adaptation
from snn_policy_node.experiments.adaptation import AdaptationConfig, adapt, adapt_population
from snn_policy_node.snn.dsqn import DSQN
from snn_policy_node.tasks import DSQN_TASKS

CARTPOLE = DSQN_TASKS["CartPole-v0"]
SETTING = {"force_mag": 6.0, "length": 0.7, "masspole": 0.3}


def models(count: int, seed: int = 0) -> list[DSQN]:
    torch.manual_seed(seed)
    return [DSQN(**CARTPOLE.dsqn) for _ in range(count)]


def test_training_and_evaluation_seeds_must_be_disjoint():
    with pytest.raises(ValueError, match="disjoint"):
        AdaptationConfig(eval_seeds=range(0, 100), train_seeds=range(50, 300))
    with pytest.raises(ValueError, match="training seeds"):
        AdaptationConfig(episodes=300)


def test_best_weights_are_restored_and_bookkeeping_is_kept(monkeypatch):
    """Evaluation is scripted here (and only here) so that the best episode is known."""
    scripted = iter([10.0, 12.0, 30.0, 20.0, 25.0])  # before, then after episodes 1..4
    weights_seen, seeds_played = [], []

    def scripted_evaluation(model, weights, env_id, seeds, settings):
        weights_seen.append(weights[1][0].clone())
        return np.full((1, len(seeds)), next(scripted))

    def record_episode(model, weights, env_id, seed, settings, trace, layer):
        seeds_played.append(seed)
        trace.c.normal_()  # some eligibility, so that every episode changes the weights
        return np.array([50.0])

    monkeypatch.setattr(adaptation, "evaluate_population", scripted_evaluation)
    monkeypatch.setattr(adaptation, "play_training_episodes", record_episode)
    (model,) = models(1)
    config = AdaptationConfig(episodes=4, eval_seeds=range(3), train_seeds=range(100, 110))
    result = adapt(model, CARTPOLE, SETTING, config)

    assert seeds_played == [100, 101, 102, 103]
    assert result.best_episode == 2
    assert result.eval_means == [12.0, 30.0, 20.0, 25.0]
    assert result.before.mean() == 10.0 and result.after.mean() == 30.0
    assert torch.equal(model.layers[1].weight, weights_seen[2])
    assert not torch.equal(weights_seen[2], weights_seen[0])
    assert result.train_returns == [50.0] * 4


def test_a_run_stops_once_the_best_possible_is_reached(monkeypatch):
    monkeypatch.setattr(
        adaptation, "evaluate_population", lambda m, w, e, seeds, settings: np.full((len(settings), len(seeds)), 200.0)
    )
    (model,) = models(1)
    result = adapt(model, CARTPOLE, SETTING, AdaptationConfig(stop_at=200.0))
    assert result.eval_means == [] and result.best_episode == 0


def test_real_adaptation_ends_holding_the_best_evaluated_weights(monkeypatch):
    """Every episode's weights are evaluated afresh here; the run must keep the first best of them.

    The model and physics are chosen so that the choice matters: episode 1 improves on the trained
    weights, episode 2 improves again, episode 3 is worse, so keeping the trained weights, the
    first improvement or the last weights each give another answer."""
    snapshots = []  # the plastic weights after each training episode
    real_step = adaptation.Population.step

    def recording_step(self):
        real_step(self)
        snapshots.append(self.plastic[0].clone())

    monkeypatch.setattr(adaptation.Population, "step", recording_step)
    (model,) = models(1, seed=13)
    originals = [layer.weight.clone() for layer in model.layers]
    trained = evaluate(model, "CartPole-v0", parameters=SETTING)
    result = adapt(model, CARTPOLE, SETTING, AdaptationConfig(episodes=3))
    assert len(result.eval_means) == len(snapshots) == 3
    np.testing.assert_array_equal(result.before, trained)

    replica = models(1, seed=13)[0]
    fresh = []
    for weight in snapshots:
        with torch.no_grad():
            replica.layers[1].weight.copy_(weight)
        fresh.append(evaluate(replica, "CartPole-v0", parameters=SETTING))
    assert result.eval_means == [float(returns.mean()) for returns in fresh]
    means = [trained.mean()] + result.eval_means
    assert means[0] < means[1] < means[2] > means[3]  # the case that tells the selection rules apart
    best = int(np.argmax(means))  # the first best; 0: the trained weights
    assert result.best_episode == best
    np.testing.assert_array_equal(result.after, ([trained] + fresh)[best])
    np.testing.assert_array_equal(evaluate(model, "CartPole-v0", parameters=SETTING), result.after)
    assert torch.equal(model.layers[1].weight, ([originals[1]] + snapshots)[best])
    for k in (0, 2):  # only the plastic layer changes
        assert torch.equal(model.layers[k].weight, originals[k])


def test_a_population_gives_the_results_of_separate_runs():
    settings = [SETTING, {"force_mag": 15.0}, {"length": 0.3, "masspole": 0.05}]
    config = AdaptationConfig(episodes=3)
    together = models(3, seed=2)
    batched = adapt_population(together, CARTPOLE, settings, config)
    for model, alone, setting, result in zip(together, models(3, seed=2), settings, batched):
        single = adapt(alone, CARTPOLE, setting, config)
        assert single.eval_means == pytest.approx(result.eval_means)
        assert single.best_episode == result.best_episode
        torch.testing.assert_close(alone.layers[1].weight, model.layers[1].weight)


def test_an_interrupted_population_resumes_where_it_stopped(tmp_path, monkeypatch):
    settings = [SETTING, {"force_mag": 15.0}]
    config = AdaptationConfig(episodes=4)
    uninterrupted = adapt_population(models(2, seed=3), CARTPOLE, settings, config)

    state = tmp_path / "population.pt"
    real_step = adaptation.Population.step
    calls = {"n": 0}

    def crash_after_two(self):
        if calls["n"] == 2:
            raise KeyboardInterrupt
        calls["n"] += 1
        real_step(self)

    monkeypatch.setattr(adaptation.Population, "step", crash_after_two)
    with pytest.raises(KeyboardInterrupt):
        adapt_population(models(2, seed=3), CARTPOLE, settings, config, state_path=state, save_every=2)
    first_session = adaptation.saved_timing(state)
    assert first_session["episodes"] == first_session["timed_episodes"] == 2 and first_session["seconds"] > 0
    resumed_steps = []

    def count_steps(self):
        resumed_steps.append(self.episode)
        real_step(self)

    monkeypatch.setattr(adaptation.Population, "step", count_steps)
    resumed = adapt_population(models(2, seed=3), CARTPOLE, settings, config, state_path=state)
    assert resumed_steps == [2, 3]  # only the episodes the first session did not play (a restart plays 0..3)
    for a, b in zip(uninterrupted, resumed):
        assert a.eval_means == pytest.approx(b.eval_means) and a.best_episode == b.best_episode
    timing = adaptation.saved_timing(state)  # the time of both sessions
    assert timing["episodes"] == timing["timed_episodes"] == 4 and timing["seconds"] > first_session["seconds"]


def test_a_population_saved_without_its_time_is_timed_from_its_resume(tmp_path):
    settings, config, state = [SETTING], AdaptationConfig(episodes=3), tmp_path / "population.pt"
    adapt_population(models(1, seed=3), CARTPOLE, settings, AdaptationConfig(episodes=1), state_path=state)
    saved = torch.load(state, weights_only=True)
    del saved["seconds"], saved["timed_from"]  # as saved before time was kept
    torch.save(saved, state)
    adapt_population(models(1, seed=3), CARTPOLE, settings, config, state_path=state)
    assert {k: v for k, v in adaptation.saved_timing(state).items() if k != "seconds"} == {"episodes": 3, "timed_episodes": 2}


def test_a_saved_population_replays_its_trained_and_selected_weights(tmp_path):
    settings, state = [SETTING, {"force_mag": 15.0}], tmp_path / "population.pt"
    results = adapt_population(models(2, seed=3), CARTPOLE, settings, AdaptationConfig(episodes=3), state_path=state)
    # Run 0 selects episode 1 of 3: its selected weights are neither the trained nor the last ones.
    assert [r.best_episode for r in results] == [1, 0]
    trained, selected = adaptation.saved_population_returns(models(2, seed=3), CARTPOLE, settings, state, EVAL_SEEDS)
    for result, before, after in zip(results, trained, selected):
        np.testing.assert_array_equal(before, result.before)
        np.testing.assert_array_equal(after, result.after)


def test_adaptation_takes_the_task_sign_unless_told_and_needs_an_episode():
    from snn_policy_node.experiments.adaptation import Population
    from snn_policy_node.tasks import dsqn_task

    for env_id in ("CartPole-v0", "Acrobot-v1"):
        spec = dsqn_task(env_id)
        model = DSQN(**spec.dsqn)
        assert Population([model], [{}], AdaptationConfig(), spec).sign == spec.sign
        assert Population([model], [{}], AdaptationConfig(sign=-spec.sign), spec).sign == -spec.sign
    assert dsqn_task("CartPole-v0").sign == -1.0 and dsqn_task("Acrobot-v1").sign == 1.0
    with pytest.raises(ValueError, match="at least one training episode"):
        AdaptationConfig(episodes=0)
