import json

import numpy as np
import pytest
import torch

from snn_policy_node.ann2snn.conversion import SpikingActor
from snn_policy_node.ann2snn.qcfs import MLPActor
from snn_policy_node.cli import main
from snn_policy_node.evaluation.actor_variants import VARIANTS, evaluate_variants
from snn_policy_node.experiments.calibration_study import find_runs
from snn_policy_node.experiments.conversion_check import percentile_actor, random_states
from snn_policy_node.policy.checkpoint import load_checkpoint
from snn_policy_node.policy.model_io import save_model
from snn_policy_node.tasks import mujoco_specs, normalised_score


def relu_twin(qcfs_actor: MLPActor) -> MLPActor:
    """A ReLU actor with the QCFS actor's weights."""
    relu = MLPActor(11, 3, activation="relu")
    relu.load_state_dict({k: v for k, v in qcfs_actor.state_dict().items() if not k.endswith(".lam")})
    return relu


LOG = "step,return_mean,return_std,normalised_score,critic_loss,seconds\n5000,1.0,0.1,2.0,0.5,60.0\n10000,2.0,0.1,3.0,0.4,180.0\n"
DIAGNOSED_LOG = ("step,return_mean,return_std,normalised_score,critic_loss,seconds,q_data,q_policy,bc_mse,saturated\n"
                 "5000,1.0,0.1,2.0,0.5,60.0,10.0,11.0,0.2,0.0\n10000,2.0,0.1,3.0,0.4,180.0,12.0,30.0,0.5,0.25\n")


def save_actor(path, actor, mean, std):
    path.parent.mkdir(parents=True)
    torch.save({"actor": actor.state_dict(), "mean": torch.as_tensor(mean), "std": torch.as_tensor(std)}, path)


def make_runs(tmp_path):
    """Three seeds of QCFS runs on Hopper medium (two with their ReLU twins), and the task's data run."""
    torch.set_num_threads(1)
    states = random_states("Hopper-v5", 300, seed=0)
    mean, std = states.mean(0), states.std(0) + 1e-3
    obs = torch.as_tensor((states - mean) / std)
    runs = tmp_path / "runs"
    for seed in (0, 1, 2):  # seed 2's ReLU run has not finished, nor its QCFS one its card
        qcfs = runs / "snn-robot_hopper_medium-v0" / f"qcfs-seed{seed}"
        save_actor(qcfs / "actor.pt", percentile_actor(obs, act_dim=3, seed=seed), mean, std)
        observation, action = mujoco_specs("Hopper-v5", mean, std)
        save_model(qcfs / "spiking_actor.safetensors", SpikingActor.from_qcfs(percentile_actor(obs, act_dim=3, seed=seed)),
                   observation, action, {"env_id": "Hopper-v5", "seed": seed})
        (qcfs / "train_log.csv").write_text(DIAGNOSED_LOG if seed == 0 else LOG)  # seed 0 logged TD3.diagnose
        if seed < 2:
            (qcfs / "card.md").write_text(f"# card of seed {seed}\n")
        if seed < 2:
            save_actor(runs / "snn-robot_hopper_medium-v0" / f"relu-seed{seed}" / "actor.pt",
                       relu_twin(percentile_actor(obs, act_dim=3, seed=seed)), mean, std)
    assert set(find_runs(runs)["snn-robot_hopper_medium-v0"]) == {"relu", "qcfs"}
    data = tmp_path / "data" / "Hopper-v5" / "seed0"
    data.mkdir(parents=True)
    (data / "train_log.csv").write_text("step,eval_return_mean,eval_return_std,seconds\n20000,900.0,10.0,7200.0\n")
    level = {"id": "snn-robot/hopper/medium-v0", "episodes": 4, "transitions": 900, "return_mean": 850.0}
    (data / "datasets.json").write_text(json.dumps({
        "env_id": "Hopper-v5", "expert_step": 20000, "medium_step": 10000, "expert_eval_return": 900.0,
        "medium_eval_return": 400.0, "rollout_noise": 0.1, "datasets": {"medium": level}}))
    return runs, tmp_path / "data"


def test_calibration_report_scores_every_variant_and_counts_error_spikes(tmp_path):
    runs, data_dir = make_runs(tmp_path)
    data = data_dir / "Hopper-v5" / "seed0"
    models = tmp_path / "models"
    assert main(["report", "calibration", "--runs-dir", str(runs), "--episodes", "3", "--out", str(tmp_path / "out"),
                 "--data-dir", str(tmp_path / "data"), "--models-dir", str(models)]) == 0
    report = json.loads((tmp_path / "out" / "calibration.json").read_text())
    result = report["results"]["snn-robot_hopper_medium-v0"]
    assert result["relu"]["seeds"] == 2 and all(result[v]["seeds"] == 3 for v in VARIANTS if v != "relu")
    errors = {v: np.sum(result[v]["error_spikes"]) for v in ("i0", "i1", "i2", "i3", "adaptive")}
    assert errors["i0"] > 0 and errors["i1"] < errors["i0"]  # calibration removes error spikes
    text = (tmp_path / "out" / "calibration.md").read_text()
    assert "| (paper) |" in text and "99.70±0.18" in text and (tmp_path / "out" / "calibration.png").exists()
    assert report["summary"]["pairs"] == 1
    assert report["curves"]["snn-robot_hopper_medium-v0"]["qcfs-seed0"] == [[5000, 2.0], [10000, 3.0]]
    assert report["diagnosis"] == {"snn-robot_hopper_medium-v0": {"qcfs-seed0": [[5000, 10.0, 11.0, 0.2, 0.0],
                                                                                [10000, 12.0, 30.0, 0.5, 0.25]]}}
    assert "![training diagnosis](calibration_diagnosis.png)" in text
    assert (tmp_path / "out" / "calibration_diagnosis.png").stat().st_size > 10_000
    assert "Online TD3 ran 20000 steps (2.0 h)" in text and "| snn-robot/hopper/medium-v0 | 4 | 900 | 850.0 | 26.7 |" in text
    assert "| hopper medium | qcfs | 3 | 10000 | 3 |" in text

    # The best finished run (by adaptive I) is shipped with its card and the task's datasets.json.
    adaptive = {seed: evaluate_variants(None, runs / "snn-robot_hopper_medium-v0" / f"qcfs-seed{seed}" / "actor.pt",
                                        "Hopper-v5", 3)["adaptive"]["score"] for seed in (0, 1)}
    best_seed = max(adaptive, key=adaptive.get)
    assert report["shipped"]["Hopper-v5"] == {"run": f"snn-robot_hopper_medium-v0/qcfs-seed{best_seed}",
                                              "adaptive_score": adaptive[best_seed], "runs": 3}
    assert load_checkpoint(models / "Hopper-v5" / "spiking_actor.safetensors").provenance["seed"] == best_seed
    card = (models / "Hopper-v5" / "card.md").read_text()
    assert card.startswith(f"# card of seed {best_seed}\n") and "Shipped as the best finished one of 3 QCFS actors" in card
    assert (models / "Hopper-v5" / "datasets.json").read_text() == (data / "datasets.json").read_text()
    assert f"| Hopper-v5 | `snn-robot_hopper_medium-v0/qcfs-seed{best_seed}` |" in text
    summary = report["summary"]
    assert summary["gap_qcfs_relu"] == pytest.approx(result["qcfs"]["mean"] - result["relu"]["mean"])
    best = max(result[v]["mean"] for v in ("i1", "i2", "i3", "adaptive"))
    assert summary["gap_snn_qcfs"] == pytest.approx(best - result["qcfs"]["mean"])
    assert f"| hopper medium | 3 | 3 | {result['relu']['mean']:.1f} +- {result['relu']['std']:.1f} |" in text

    # Every episode's return is archived beside the report; each seed's scores pair the variants by seed.
    archived = json.loads((tmp_path / "out" / "calibration_runs" / "snn-robot_hopper_medium-v0.json").read_text())
    assert archived["episodes"] == 3 and sorted(archived["runs"]) == ["qcfs-seed0", "qcfs-seed1", "qcfs-seed2"]
    seed0 = archived["runs"]["qcfs-seed0"]
    assert all(len(seed0[v]["returns"]) == 3 for v in VARIANTS)
    assert normalised_score("Hopper-v5", float(np.mean(seed0["adaptive"]["returns"]))) == pytest.approx(seed0["adaptive"]["score"])
    assert result["adaptive"]["scores"] == [archived["runs"][r]["adaptive"]["score"] for r in sorted(archived["runs"])]
    comparison = report["comparisons"]["snn-robot_hopper_medium-v0"]
    differences = np.subtract(result["adaptive"]["scores"], result["i0"]["scores"])
    assert comparison["minus_i0"]["mean"] == pytest.approx(differences.mean())
    assert comparison["seeds"] == 3 and not comparison["preregistered"]  # 3 seeds of 3 episodes: not counted
    assert summary["pairs_preregistered"] == 0 and "no pair has 5 training seeds scored on 50 episodes yet" in text
    assert "## Comparisons, named before the runs" in text and "| hopper medium | 3 | 3 |" in text


def test_paper_values_are_read_from_the_tables_text():
    from snn_policy_node.reports.calibration import PAPER, paper_value

    assert paper_value("112.2±0.2") == 112.2 and np.isnan(paper_value(None))
    assert all(np.isfinite(paper_value(v)) for row in PAPER.values() for v in row.values())


def test_a_report_rerun_scores_only_the_runs_that_changed(tmp_path):
    """Scoring runs as grid units (Ray workers): which runs were scored shows in which scores.json were written."""
    runs, data_dir = make_runs(tmp_path)
    dataset = runs / "snn-robot_hopper_medium-v0"
    args = ["report", "calibration", "--runs-dir", str(runs), "--episodes", "2", "--data-dir", str(data_dir),
            "--models-dir", "", "--grid-logs", str(tmp_path / "logs")]

    def written() -> dict[str, int]:
        return {p.parent.name: p.stat().st_mtime_ns for p in sorted(dataset.glob("qcfs-seed*/scores.json"))}

    def scored_since(before: dict[str, int]) -> list[str]:
        return [name for name, stamp in written().items() if before.get(name) != stamp]

    assert main([*args, "--out", str(tmp_path / "first")]) == 0
    before = written()
    assert list(before) == ["qcfs-seed0", "qcfs-seed1", "qcfs-seed2"]
    assert main([*args, "--out", str(tmp_path / "again")]) == 0
    first, again = (json.loads((tmp_path / out / "calibration.json").read_text())["results"] for out in ("first", "again"))
    assert scored_since(before) == [] and again == first

    (dataset / "qcfs-seed0" / "scores.json").write_text('{"key": ')  # truncated
    save_actor(dataset / "relu-seed2" / "actor.pt", MLPActor(11, 3, activation="relu"), np.zeros(11), np.ones(11))
    before = written()
    assert main([*args, "--out", str(tmp_path / "changed")]) == 0
    assert scored_since(before) == ["qcfs-seed0", "qcfs-seed2"]  # seed 2's ReLU run finished since
    before = written()
    assert main([*args, "--out", str(tmp_path / "rescored"), "--rescore"]) == 0
    assert scored_since(before) == ["qcfs-seed0", "qcfs-seed1", "qcfs-seed2"]


def test_a_report_keeps_the_pairs_whose_runs_are_gone_and_refuses_a_foreign_file(tmp_path, capsys):
    runs, data_dir = make_runs(tmp_path)
    out, models = tmp_path / "out", tmp_path / "models"
    args = ["report", "calibration", "--episodes", "2", "--out", str(out), "--models-dir", str(models)]
    assert main([*args, "--runs-dir", str(runs), "--data-dir", str(data_dir)]) == 0
    first = json.loads((out / "calibration.json").read_text())
    shipped_actor = (models / "Hopper-v5" / "spiking_actor.safetensors").read_bytes()

    # A new checkout: the medium runs and the data run are gone, expert runs (the same actors) are new.
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (runs / "snn-robot_hopper_medium-v0").rename(fresh / "snn-robot_hopper_expert-v0")
    assert main([*args, "--runs-dir", str(fresh), "--data-dir", str(tmp_path / "no-data")]) == 0
    merged = json.loads((out / "calibration.json").read_text())
    assert list(merged["results"]) == ["snn-robot_hopper_expert-v0", "snn-robot_hopper_medium-v0"]
    assert merged["derived"] == ["snn-robot_hopper_medium-v0"] and merged["kept"] == []  # from its per-episode returns
    assert merged["comparisons"]["snn-robot_hopper_medium-v0"] == first["comparisons"]["snn-robot_hopper_medium-v0"]
    assert merged["results"]["snn-robot_hopper_medium-v0"] == first["results"]["snn-robot_hopper_medium-v0"]
    assert merged["results"]["snn-robot_hopper_expert-v0"] == first["results"]["snn-robot_hopper_medium-v0"]
    assert merged["datasets"] == first["datasets"] and merged["summary"]["pairs"] == 2
    assert merged["diagnosis"] == {name: first["diagnosis"]["snn-robot_hopper_medium-v0"] for name in merged["results"]}
    # No better actor than the shipped one among the new runs: the shipped model stays, and its card
    # now counts the new runs it won over beside the kept pair's.
    assert merged["shipped"]["Hopper-v5"] == {**first["shipped"]["Hopper-v5"], "runs": 6}
    assert (models / "Hopper-v5" / "spiking_actor.safetensors").read_bytes() == shipped_actor
    card = (models / "Hopper-v5" / "card.md").read_text()
    assert card.count("Shipped as the best") == 1 and "best finished one of 6 QCFS actors scored for Hopper-v5" in card
    assert "committed in `calibration_runs/` (their runs are not on this machine now): hopper medium." in (
        out / "calibration.md").read_text()

    # A report from before the pairs grew: with no runs here, the kept card is brought to the count.
    older = {**merged, "shipped": {"Hopper-v5": {**merged["shipped"]["Hopper-v5"], "runs": 1}}}
    (out / "calibration.json").write_text(json.dumps(older))
    (models / "Hopper-v5" / "card.md").write_text(card.replace("one of 6 QCFS", "one of 1 QCFS"))
    assert main([*args, "--runs-dir", str(tmp_path / "no-runs")]) == 0
    assert json.loads((out / "calibration.json").read_text())["shipped"] == merged["shipped"]
    assert (models / "Hopper-v5" / "card.md").read_text() == card

    # A command that scores more episodes keeps each archived pair's own count, in its tables and comparison.
    assert main([*args, "--runs-dir", str(tmp_path / "no-runs"), "--episodes", "3"]) == 0
    longer = json.loads((out / "calibration.json").read_text())
    assert longer["episodes"] == 3 and {r["episodes"] for r in longer["results"].values()} == {2}
    assert {c["episodes"] for c in longer["comparisons"].values()} == {2} and longer["derived"] == sorted(longer["results"])
    assert "| hopper medium | 3 | 2 |" in (out / "calibration.md").read_text()
    assert main([*args, "--runs-dir", str(fresh), "--drop-missing"]) == 0
    assert list(json.loads((out / "calibration.json").read_text())["results"]) == ["snn-robot_hopper_expert-v0"]
    assert [p.name for p in (out / "calibration_runs").iterdir()] == ["snn-robot_hopper_expert-v0.json"]

    (out / "calibration.json").write_text('{"results": [1, 2]}')
    assert main([*args, "--runs-dir", str(fresh)]) == 2
    assert "is not a calibration report" in capsys.readouterr().err
    assert (out / "calibration.json").read_text() == '{"results": [1, 2]}'


def test_a_report_from_an_old_report_without_per_episode_returns_keeps_its_pairs_marked_so(tmp_path):
    """Pairs scored before returns were archived stay in the tables, said to lack their returns, and out of
    the run-level comparison."""
    runs, data_dir = make_runs(tmp_path)
    out = tmp_path / "out"
    args = ["report", "calibration", "--episodes", "2", "--out", str(out), "--models-dir", ""]
    assert main([*args, "--runs-dir", str(runs), "--data-dir", str(data_dir)]) == 0
    old = json.loads((out / "calibration.json").read_text())
    for result in old["results"].values():
        for variant in VARIANTS:
            result[variant].pop("scores")
    (out / "calibration.json").write_text(json.dumps(old))
    (out / "calibration_runs" / "snn-robot_hopper_medium-v0.json").unlink()
    assert main([*args, "--runs-dir", str(tmp_path / "no-runs")]) == 0
    report = json.loads((out / "calibration.json").read_text())
    assert report["kept"] == ["snn-robot_hopper_medium-v0"] and report["comparisons"] == {}
    assert "nor their per-episode returns in the repository): hopper medium." in (out / "calibration.md").read_text()

    # The task's datasets made again: the kept pair learned from the earlier ones, and the report keeps saying so.
    datasets = data_dir / "Hopper-v5" / "seed0" / "datasets.json"
    datasets.write_text(datasets.read_text().replace('"transitions": 900', '"transitions": 1000000'))
    for _ in range(2):
        assert main([*args, "--runs-dir", str(tmp_path / "no-runs"), "--data-dir", str(data_dir)]) == 0
        assert json.loads((out / "calibration.json").read_text())["remade"] == ["Hopper-v5"]
    assert "The datasets of Hopper-v5 were made again since" in (out / "calibration.md").read_text()


def test_the_preregistered_comparison_counts_pairs_with_five_seeds_of_fifty_episodes():
    from snn_policy_node.experiments.calibration_study import run_level
    from snn_policy_node.reports.calibration import preregistered_counts

    def pair(adaptive: list[float], i0: list[float], qcfs: list[float]) -> dict:
        return {"adaptive": {"scores": adaptive}, "i0": {"scores": i0}, "qcfs": {"scores": qcfs}}

    better = pair([60.0, 62.0, 61.0, 63.0, 64.0], [50.0, 51.5, 50.5, 52.0, 53.5], [60.5, 61.0, 61.5, 63.0, 63.5])
    worse = pair([40.0, 41.0, 39.0, 42.0, 40.5], [45.0, 46.5, 44.0, 47.5, 45.0], [40.0, 41.0, 39.0, 42.0, 40.5])
    comparisons = {"better": run_level(better, 50), "worse": run_level(worse, 50), "short": run_level(better, 10),
                   "few": run_level(pair([1.0, 9.0], [0.0, 7.0], [1.0, 9.0]), 50)}
    assert comparisons["better"]["minus_i0"]["mean"] == pytest.approx(10.5) and comparisons["better"]["minus_i0"]["p"] < 0.05
    assert comparisons["worse"]["minus_qcfs"]["p"] == 1.0  # identical to its ANN: no difference to test
    assert [name for name, c in comparisons.items() if c["preregistered"]] == ["better", "worse"]
    assert preregistered_counts(comparisons) == {
        "pairs_preregistered": 2, "adaptive_vs_i0_wins_p05": 1, "adaptive_vs_i0_losses_p05": 1,
        "adaptive_vs_qcfs_wins_p05": 0, "adaptive_vs_qcfs_losses_p05": 0}
    assert run_level({"adaptive": {"mean": 1.0}, "i0": {"mean": 0.0}, "qcfs": {"mean": 1.0}}, 50) is None


def test_a_collapsed_run_is_counted_and_never_shipped(tmp_path):
    """The best-scoring run by adaptive I, had its training curve fallen to below half its best, is passed over."""
    runs, data_dir = make_runs(tmp_path)
    dataset = runs / "snn-robot_hopper_medium-v0"
    adaptive = {seed: evaluate_variants(None, dataset / f"qcfs-seed{seed}" / "actor.pt", "Hopper-v5", 2)["adaptive"]["score"]
                for seed in (0, 1)}
    best = max(adaptive, key=adaptive.get)
    (dataset / f"qcfs-seed{best}" / "train_log.csv").write_text(
        "step,return_mean,return_std,normalised_score,critic_loss,seconds\n5000,1.0,0.1,80.0,0.5,60.0\n"
        "10000,2.0,0.1,3.0,8.4,180.0\n15000,2.0,0.1,2.0,8.4,270.0\n")
    out, models = tmp_path / "out", tmp_path / "models"
    assert main(["report", "calibration", "--runs-dir", str(runs), "--episodes", "2", "--out", str(out), "--data-dir",
                 str(data_dir), "--models-dir", str(models)]) == 0
    report = json.loads((out / "calibration.json").read_text())
    assert report["shipped"]["Hopper-v5"]["run"] == f"snn-robot_hopper_medium-v0/qcfs-seed{1 - best}"
    assert report["summary"]["collapsed_runs"] == {"snn-robot_hopper_medium-v0": [1, 5]}  # 3 QCFS runs, 2 ReLU
    assert "below 50% of the best before them (the curves below): hopper medium 1 of 5. A collapsed run is never chosen" in (
        out / "calibration.md").read_text()


def test_a_curve_collapses_when_past_half_its_steps_it_stays_below_half_the_best_before():
    from snn_policy_node.experiments.calibration_study import collapsed

    assert collapsed([[5000, 14.1], [35000, 85.2], [85000, -0.1], [90000, -0.1]])  # Walker2d expert, qcfs seed 0
    assert collapsed([[5000, 14.1], [55000, 85.4], [85000, -0.1], [90000, -0.1], [100000, 75.3]])  # came back
    assert not collapsed([[5000, 44.0], [50000, 89.0], [75000, 42.0], [80000, 51.0], [100000, 85.0]])  # one low
    assert not collapsed([[5000, 14.1], [35000, 85.2], [85000, 75.0], [90000, 70.0]])
    assert not collapsed([[10000, 30.4], [15000, 9.3], [20000, 9.0], [100000, 80.0]])  # lows in the first half
    assert not collapsed([]) and not collapsed([[5000, -0.5], [10000, -2.0]])  # never above 0: nothing to fall from
