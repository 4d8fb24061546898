"""The benchmark as users run it: both nodes over DDS, alternating windows, and the report with its summary."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_bench_loop_alternates_windows_and_writes_the_summary(tmp_path):
    run = subprocess.run([sys.executable, "-m", "snn_policy_node.cli", "bench", "loop", "--rates", "200", "--seconds", "0.5", "--windows", "2",
                          "--rounds", "1", "--out", str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr
    assert "200 Hz, window 2/2: policy p99" in run.stdout  # the odd window drives the policy first
    report = json.loads((tmp_path / "bench.json").read_text())
    windows = [(r["window"], r["target"]) for r in report["loop"]]
    assert windows == [(0, "echo"), (0, "policy"), (1, "policy"), (1, "echo")]
    assert all(r["received"] > 0.5 * r["sent"] for r in report["loop"])
    summary = report["summary"]
    assert summary["actor_adaptive_us"] > 0 and summary["dsqn_us"] > 0 and summary["actor_ann_onnx_us"] > 0
    assert (tmp_path / "bench.png").exists() and "p99 / echo" in (tmp_path / "bench.md").read_text()
