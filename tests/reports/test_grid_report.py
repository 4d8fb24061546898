"""The grid's throughput report: its figures come from the timings it is given and from the committed
results it reads, and its verdicts follow the targets."""

import json
from pathlib import Path

import pytest

from snn_policy_node.reports.grid import write_report

RESULTS = Path(__file__).parents[2] / "docs/results"


def measured(one: list[float], two: list[float], startup: list[float]) -> dict:
    runs = [{"workers": w, "repetition": r, "units": 4, "seconds": s, "units_per_hour": 4 / s * 3600}
            for r, (a, b) in enumerate(zip(one, two)) for w, s in ((1, a), (2, b))]
    return {"td3bc_steps": 3000, "runs": runs, "startup_seconds": startup, "unit_bytes": 700}


def test_the_speedup_is_the_median_of_paired_repetitions_and_the_plan_counts_the_committed_units(tmp_path):
    report = write_report(measured([100.0, 120.0, 90.0], [50.0, 80.0, 60.0], [9.0, 11.0, 30.0]), RESULTS, tmp_path,
                          "snn-robot bench grid")
    s = report["summary"]
    assert s["speedups"] == pytest.approx([2.0, 1.5, 1.5]) and s["speedup_2_over_1"] == pytest.approx(1.5)
    assert not s["speedup_target_met"] and s["startup_seconds"] == 11.0 and s["startup_target_met"]
    assert s["units_per_hour"][1] == pytest.approx(4 / 100 * 3600)
    plan = report["plan"]
    assert plan["adaptation"]["units"] == len(list((RESULTS / "adaptation_runs").glob("*.json")))
    assert plan["calibration"]["td3bc_units"] == 96 and plan["calibration"]["score_units"] == 48
    text = (tmp_path / "grid_throughput.md").read_text()
    assert "**1.50 x**" in text and "target >= 1.8: not met" in text and "96 TD3+BC runs" in text
    assert json.loads((tmp_path / "grid_throughput.json").read_text())["summary"]["speedups"] == s["speedups"]
    fast = write_report(measured([100.0], [52.0], [20.0]), RESULTS, tmp_path, "snn-robot bench grid")["summary"]
    assert fast["speedup_target_met"] and not fast["startup_target_met"]
