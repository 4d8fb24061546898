import json

import numpy as np
import pytest
import torch

from snn_policy_node.experiments import rstdp_study
from snn_policy_node.policy.model_io import save_model
from snn_policy_node.reports import rstdp as rstdp_report
from snn_policy_node.snn.dsqn import DSQN
from snn_policy_node.tasks import DSQN_TASKS


def test_summary_drops_recovery_and_paired_t_test():
    default = np.full(200, 200.0)
    cells = [
        {"before": [180.0, 160.0], "after": [200.0, 190.0], "best_episode": 4, "seconds": 1.0},
        {"before": [170.0, 190.0], "after": [195.0, 200.0], "best_episode": 6, "seconds": 2.0},
    ]
    summary = rstdp_study.summarise(default, cells)
    assert summary["before_mean"] == 175.0 and summary["after_mean"] == 196.25
    assert summary["drop_before_pct"] == pytest.approx(12.5)
    assert summary["drop_after_pct"] == pytest.approx(1.875)
    assert summary["recovered_pct"] == pytest.approx(85.0)
    no_drop = np.array([150.0, 210.0])  # randomized no worse than default: nothing to recover
    assert rstdp_study.recovered_pct(no_drop, np.array([180.0]), np.array([170.0])) is None
    assert summary["episodes_to_best_mean"] == 5.0 and summary["seconds"] == 3.0
    assert summary["t"] < 0 and summary["p"] < 0.05


def study_and_report(models, out_dir, command, **study):
    """The study run (or resumed) and its report written, as ``snn-robot report rstdp`` does."""
    return rstdp_report.write_report(rstdp_study.run_study(models, **study), out_dir, command)


@pytest.fixture
def model_path(tmp_path):
    """An untrained CartPole-v0 DSQN checkpoint."""
    torch.manual_seed(0)
    spec = DSQN_TASKS["CartPole-v0"]
    path = tmp_path / "models" / "seed0" / "model.safetensors"
    save_model(path, DSQN(**spec.dsqn), spec.observation, spec.action, {"env_id": "CartPole-v0"})
    return path


def test_report_is_written_and_resumes_from_finished_runs(tmp_path, monkeypatch, model_path):
    monkeypatch.setattr(rstdp_study, "SETTINGS_PER_PROFILE", 2)
    args = dict(profiles=["normal"], work_dir=tmp_path / "work", out_dir=tmp_path / "out", sign=1.0, episodes=1,
                command="snn-robot report rstdp", sweep_points=1)
    report = study_and_report({"CartPole-v0": [model_path]}, **args)
    written = json.loads((tmp_path / "out" / "rstdp.json").read_text())
    assert written["results"]["CartPole-v0"]["normal"]["runs"] == 2 * 100
    assert len(written["sweeps"]["CartPole-v0"]["length"]) == 1
    for name in ("rstdp.md", "rstdp.png", "rstdp_sweeps.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    assert "snn-robot report rstdp" in (tmp_path / "out" / "rstdp.md").read_text()
    cells = json.loads((tmp_path / "work" / "CartPole-v0-normal-sign+1.json").read_text())
    assert all(len(c["heldout_before"]) == len(c["heldout_after"]) == 100 for c in cells)
    normal = written["results"]["CartPole-v0"]["normal"]
    assert normal["heldout_before_mean"] == pytest.approx(np.mean([c["heldout_before"] for c in cells]))
    assert "## On held-out seeds" in (tmp_path / "out" / "rstdp.md").read_text()

    def no_new_runs(*a, **k):
        raise AssertionError("a finished run was repeated")

    monkeypatch.setattr(rstdp_study, "adapt_population", no_new_runs)
    again = study_and_report({"CartPole-v0": [model_path]}, **args)
    assert again["results"] == report["results"]


def test_a_finished_only_report_runs_nothing_and_lists_what_has_not_finished(tmp_path, monkeypatch, model_path):
    monkeypatch.setattr(rstdp_study, "SETTINGS_PER_PROFILE", 1)
    args = dict(work_dir=tmp_path / "work", out_dir=tmp_path / "out", sign=1.0, episodes=1,
                command="snn-robot report rstdp")
    study_and_report({"CartPole-v0": [model_path]}, profiles=["normal"], **args)
    monkeypatch.setattr(rstdp_study, "adapt_population", lambda *a, **k: pytest.fail("ran a population"))
    report = study_and_report({"CartPole-v0": [model_path]}, profiles=["normal", "extreme"], sweep_points=1,
                                       compute=False, **args)
    assert list(report["results"]["CartPole-v0"]) == ["normal"] and not report["sweeps"]
    assert {p["population"] for p in report["pending"]} == {"extreme", "sweep-force_mag", "sweep-length", "sweep-masspole"}
    text = (tmp_path / "out" / "rstdp.md").read_text()
    assert "## Not finished yet" in text and "- CartPole-v0 extreme: not started" in text


def test_a_report_can_sweep_some_parameters_only(tmp_path, model_path):
    args = dict(work_dir=tmp_path / "work", out_dir=tmp_path / "out", sign=1.0, episodes=1,
                command="snn-robot report rstdp", sweep_points=1)
    report = study_and_report({"CartPole-v0": [model_path]}, profiles=[], sweep_parameters=["masspole"], **args)
    assert list(report["sweeps"]["CartPole-v0"]) == ["masspole"] and report["results"] == {}
    assert [p.name for p in (tmp_path / "work").glob("*.json")] == ["CartPole-v0-sweep-masspole-sign+1.json"]
    with pytest.raises(ValueError, match=r"\['link_moi'\] are no parameters"):
        study_and_report({"CartPole-v0": [model_path]}, profiles=[], sweep_parameters=["link_moi"], **args)


def test_finished_runs_are_reused_only_for_the_same_runs(tmp_path, monkeypatch, model_path):
    monkeypatch.setattr(rstdp_study, "SETTINGS_PER_PROFILE", 1)
    args = dict(profiles=["normal"], work_dir=tmp_path / "work", out_dir=tmp_path / "out", sign=1.0,
                command="snn-robot report rstdp")
    study_and_report({"CartPole-v0": [model_path]}, episodes=1, **args)
    written = (tmp_path / "work" / "CartPole-v0-normal-sign+1.json").read_text()
    with pytest.raises(ValueError, match="holds other runs"):
        study_and_report({"CartPole-v0": [model_path]}, episodes=2, **args)
    monkeypatch.setattr(rstdp_study, "SETTINGS_PER_PROFILE", 2)
    with pytest.raises(ValueError, match="holds other runs"):
        study_and_report({"CartPole-v0": [model_path]}, episodes=1, **args)
    assert (tmp_path / "work" / "CartPole-v0-normal-sign+1.json").read_text() == written


def test_runs_of_the_other_sign_appear_as_an_ablation(tmp_path, monkeypatch, model_path):
    spec = DSQN_TASKS["CartPole-v0"]
    monkeypatch.setattr(rstdp_study, "SETTINGS_PER_PROFILE", 1)
    args = dict(profiles=["normal"], work_dir=tmp_path / "work", out_dir=tmp_path / "out", episodes=1,
                command="snn-robot report rstdp")
    alone = study_and_report({"CartPole-v0": [model_path]}, sign=None, **args)
    assert alone["sign"] == {"CartPole-v0": spec.sign} and not alone["ablation"]
    other = study_and_report({"CartPole-v0": [model_path]}, sign=-spec.sign, **args)
    finite = lambda r: {k: v for k, v in r.items() if k not in ("t", "p", "heldout_t", "heldout_p")}  # noqa: E731 (NaN when nothing changed)
    assert finite(other["ablation"]["CartPole-v0"]["normal"]) == finite(alone["results"]["CartPole-v0"]["normal"])
    assert "## The sign of dw" in (tmp_path / "out" / "rstdp.md").read_text()


def test_every_task_adapts_with_its_own_sign(tmp_path, monkeypatch):
    signs = {}

    def record_sign(env_id, name, settings, paths, work_dir, sign, episodes, compute=True):
        if not compute:
            return None  # the other sign's runs, looked up for the ablation: none finished
        signs[env_id] = sign
        return [{"before": [1.0, 2.0], "after": [2.0, 3.5], "best_episode": 1, "seconds": 1.0}]

    monkeypatch.setattr(rstdp_study, "run_cells", record_sign)
    monkeypatch.setattr(rstdp_study, "default_returns", lambda env_id, paths, seeds=None: np.array([3.0, 4.0]))
    models = {"CartPole-v0": [tmp_path / "a"], "Acrobot-v1": [tmp_path / "b"]}
    report = study_and_report(models, profiles=["normal"], work_dir=tmp_path / "work",
                                       out_dir=tmp_path / "out", sign=None, episodes=1, command="snn-robot report rstdp")
    assert signs == {env_id: DSQN_TASKS[env_id].sign for env_id in models} == report["sign"]
    assert DSQN_TASKS["CartPole-v0"].sign != DSQN_TASKS["Acrobot-v1"].sign


def test_targets_are_judged_on_evaluation_and_held_out_seeds():
    acrobot = {"before_mean": -85.3, "after_mean": -83.5, "p": 4e-6, "recovered_pct": 100.0,
               "heldout_before_mean": -85.06, "heldout_after_mean": -85.15, "heldout_p": 0.81, "heldout_recovered_pct": None}
    cartpole = {"recovered_pct": 86.2, "heldout_recovered_pct": 79.9, "heldout_after_mean": 1.0}
    text = "\n".join(rstdp_report._target_lines({"CartPole-v0": {"normal": cartpole}, "Acrobot-v1": {"normal": acrobot}}))
    assert "86.2 % on evaluation seeds: met; 79.9 % on held-out seeds: not met" in text
    assert "+1.80 (p = 4e-06) on evaluation seeds: met; -0.09 (p = 0.81) on held-out seeds: not met" in text
