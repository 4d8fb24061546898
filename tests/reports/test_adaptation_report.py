"""The deployment study's report: the keys it promises, its controls, and runs kept and reused."""

import json
from pathlib import Path

import numpy as np
import pytest

from snn_policy_node.experiments import adaptation_study
from snn_policy_node.experiments.deployment import DeploymentConfig
from snn_policy_node.reports import adaptation as adaptation_report
from snn_policy_node.tasks import adaptation

CARTPOLE = Path(__file__).parents[2] / "models/dsqn/CartPole-v0/seed0/model.safetensors"
KEYS = {"task", "profile", "variant", "runs", "frozen_heldout", "adapted_heldout", "random_control_heldout",
        "default_heldout", "recovered_pct", "p_vs_frozen", "p_vs_random", "worst_block_vs_frozen_pct"}


@pytest.fixture(autouse=True)
def short_study(monkeypatch):
    """Blocks of 4 episodes, and a tuning population of two grid points on 10 held-out seeds."""
    monkeypatch.setattr(adaptation_study, "BLOCK", 4)
    monkeypatch.setattr(adaptation_study, "TUNING_GRID", adaptation_study.TUNING_GRID[:2])
    monkeypatch.setattr(adaptation_study, "TUNING_SEEDS", range(40_000, 40_010))


def test_the_report_holds_every_variant_beside_its_controls_and_reuses_finished_runs(tmp_path, monkeypatch):
    config = DeploymentConfig(episodes=8, baseline_episodes=2, window=2, heldout_seeds=range(30_000, 30_010))
    models = {"CartPole-v0": [CARTPOLE]}
    study = adaptation_study.run_study(models, ["extreme"], tmp_path / "work", config)
    report = adaptation_report.write_report(study, tmp_path / "out", "snn-robot report adaptation")
    rows = report["deployment"]
    headlines = [study.headline for study in adaptation_study.STUDIES]
    assert [r["variant"] for r in rows] == [*adaptation_study.VARIANTS, *headlines[1:]]
    assert all(KEYS <= set(r) and r["runs"] == 10 for r in rows)
    assert [r["variant"] for r in rows if r["headline"]] == headlines
    for tuning, study in zip(report["tuning"], adaptation_study.TUNINGS, strict=True):  # settings and seeds of their own
        assert [r["variant"] for r in tuning["rows"]] == [adaptation_study.tuning_name(study.headline, *p)
                                                          for p in adaptation_study.TUNING_GRID]
        assert tuning["heldout_seeds"] == list(range(40_000, 40_010)) and tuning["settings_seed"] == 5_001
        population = json.loads((tmp_path / "work" / f"CartPole-v0-extreme{study.suffix}.json").read_text())
        assert population["config"].get("confidence", 0.0) == study.confidence
    comparison, = report["study_comparisons"]  # study 5 against study 4, paired across their populations
    assert (comparison["later"], comparison["earlier"]) == ("pair_earned_guarded", "pair_cautious_guarded")
    assert comparison["frozen_identical"] and comparison["runs"] == 10
    written = json.loads((tmp_path / "out" / "adaptation.json").read_text())
    assert written["deployment"] == json.loads(json.dumps(rows))
    for name in ("adaptation.md", "adaptation.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    population = json.loads((tmp_path / "work" / "CartPole-v0-extreme.json").read_text())
    frozen = [r["heldout_mean"] for r in population["runs"] if r["arm"] == "frozen"]
    assert rows[0]["frozen_heldout"] == pytest.approx(sum(frozen) / len(frozen))
    assert len(population["runs"]) == len(adaptation_study.arms("CartPole-v0")) * 10

    monkeypatch.setattr(adaptation_study, "deploy", lambda *a, **k: pytest.fail("a finished population ran again"))
    assert adaptation_study.run_study(models, ["extreme"], tmp_path / "work", config)["deployment"] == rows
    with pytest.raises(ValueError, match="holds another population"):
        adaptation_study.run_study(models, ["extreme"], tmp_path / "work", DeploymentConfig(episodes=9, baseline_episodes=2,
                                                                                              window=2))
    pending = adaptation_study.run_study(models, ["normal"], tmp_path / "work", config, compute=False)
    assert pending["pending"] == [f"CartPole-v0 normal{study.suffix}" for study in adaptation_study.STUDIES]
    assert pending["deployment"] == []
    others = adaptation_study.run_study(models, ["normal"], tmp_path / "work", config, studies={"another_method"})
    assert others["pending"] == pending["pending"]  # studies not named are read, never run


def test_a_kept_population_belongs_to_its_weights_wherever_they_are_and_to_no_other_weights(tmp_path):
    """Shipping a better model to the path a population was measured on must not pass that population off as the
    new model's; the measured model, moved elsewhere, still owns it."""
    shipped, moved = tmp_path / "models/model.safetensors", tmp_path / "archive/model.safetensors"
    for path in (shipped, moved):
        path.parent.mkdir(parents=True)
        path.write_bytes(CARTPOLE.read_bytes())
    config, work = DeploymentConfig(episodes=6, baseline_episodes=2, window=2), tmp_path / "work/population.json"

    def measured(state_path):
        return {"arms": ["frozen"], **adaptation_study.models_record([shipped]),
                "config": adaptation_study.config_record(config)}

    def never(state_path):
        pytest.fail("a kept population ran again")

    kept = adaptation_study.cached_population(work, ["frozen"], [shipped], config, measured)
    assert adaptation_study.cached_population(work, ["frozen"], [moved], config, never) == kept
    shipped.write_bytes((CARTPOLE.parents[1] / "seed1/model.safetensors").read_bytes())  # a better model shipped there
    with pytest.raises(ValueError, match="was measured on .* whose weights differ"):
        adaptation_study.cached_population(work, ["frozen"], [shipped], config, never)


def population_of(headline: str, frozen: list[float], method: list[float]) -> dict:
    """A finished population of two runs (frozen and ``headline``), held-out means as given, online = held-out."""
    runs = [{"arm": arm, "model": 0, "setting": k, "online": [value] * 4, "rollbacks": 0, "heldout_mean": value}
            for arm, values in (("frozen", frozen), (headline, method)) for k, value in enumerate(values)]
    return {"env_id": "Hopper-v5", "profile": "normal", "headline": headline, "arms": ["frozen", headline], "runs": runs}


def test_study_5_is_paired_with_study_4_run_by_run_and_says_whether_their_frozen_arms_agree():
    earlier = population_of("pair_cautious_guarded", [100.0, 200.0], [110.0, 230.0])
    later = population_of("pair_earned_guarded", [100.0, 200.0], [120.0, 250.0])
    comparison = adaptation_study.study_against(later, earlier)
    assert comparison["frozen_identical"] and comparison["heldout_gain"]["mean"] == pytest.approx(15.0)
    assert comparison["worst_block_vs_frozen_pct"] == {"pair_earned_guarded": pytest.approx(100 * 35 / 150),
                                                       "pair_cautious_guarded": pytest.approx(100 * 20 / 150)}
    drifted = population_of("pair_earned_guarded", [100.0, 200.5], [120.0, 250.0])
    assert not adaptation_study.study_against(drifted, earlier)["frozen_identical"]


@pytest.mark.parametrize("study, chosen", [(adaptation_study.TUNINGS[0], adaptation.PAIR),
                                           (adaptation_study.TUNINGS[1], adaptation.SIGNIFICANCE_PAIR)],
                         ids=["pairs", "pairs-significance"])
def test_each_pair_studys_settings_are_the_best_of_its_committed_tuning_population(study, chosen):
    kept = Path(__file__).parents[2] / f"docs/results/adaptation_runs/CartPole-v0-extreme{study.suffix}.json"
    best = max(adaptation_study.tuning_rows(json.loads(kept.read_text())), key=lambda r: r["heldout"])
    assert best["variant"] == adaptation_study.tuning_name(study.headline, chosen["exploration"], chosen["step"])


def test_the_randomized_training_control_pairs_seed_k_with_shipped_model_k(tmp_path, monkeypatch):
    """A "randomized" model that is the shipped model itself scores exactly what frozen weights score."""
    config = DeploymentConfig(episodes=6, baseline_episodes=2, window=2, heldout_seeds=range(30_000, 30_005))
    trained = tmp_path / "randomized/CartPole-v0/extreme/seed0/model.safetensors"
    trained.parent.mkdir(parents=True)
    trained.write_bytes(CARTPOLE.read_bytes())
    study = adaptation_study.run_study({"CartPole-v0": [CARTPOLE]}, ["extreme"], tmp_path / "work", config,
                                       randomized_dir=tmp_path / "randomized")
    assert study["pending"] == []
    for row in study["deployment"]:
        assert row["randomized_training_heldout"] == pytest.approx(row["frozen_heldout"])
        assert row["gain_vs_randomized_training"]["mean"] == pytest.approx(row["gain_vs_frozen"]["mean"])
    kept = json.loads((tmp_path / "work/CartPole-v0-extreme-randomized-training.json").read_text())
    assert len(kept["runs"]) == 10
    assert all(len(run["heldout"]) == 5 and np.mean(run["heldout"]) == pytest.approx(run["heldout_mean"])
               for run in kept["runs"])
    monkeypatch.setattr(adaptation_study, "evaluate_population", lambda *a: pytest.fail("a kept control ran again"))
    again = adaptation_study.run_study({"CartPole-v0": [CARTPOLE]}, ["extreme"], tmp_path / "work", config,
                                       randomized_dir=tmp_path / "randomized")
    assert again["deployment"] == study["deployment"]
    adaptation_report.write_report(study, tmp_path / "out", "snn-robot report adaptation")
    assert "trained under the profile" in (tmp_path / "out/adaptation.md").read_text()


def test_the_actors_pair_settings_are_the_best_of_their_committed_tuning_population():
    from snn_policy_node.experiments import actor_adaptation_study as actors

    kept = Path(__file__).parents[2] / f"docs/results/adaptation_runs/{actors.TUNING_TASK}-normal{actors.ACTOR_TUNING.suffix}.json"
    best = max(adaptation_study.tuning_rows(json.loads(kept.read_text())), key=lambda r: r["heldout"])
    chosen = adaptation.ACTOR_SIGNIFICANCE_PAIR
    assert best["variant"] == adaptation_study.tuning_name(actors.ACTOR_TUNING.headline, chosen["exploration"], chosen["step"])
