import json

from snn_policy_node.reports.bench import write_bench_report


def loop(policy_drops: int, policy_p99: float) -> list[dict]:
    records = []
    for rate in (100.0, 1000.0):
        for target, p99, dropped in (("echo", 1.0, 0), ("policy", policy_p99, policy_drops if rate == 1000.0 else 0)):
            records.append({"target": target, "rate_hz": rate, "seconds": 1.0, "sent": 1000, "received": 1000 - dropped,
                            "dropped": dropped, "p50_ms": p99 / 2, "p99_ms": p99, "max_ms": p99 * 2, "late_sends": 0})
    return records


INFERENCE = {"ann": 1e-4, "snn_i0": 1.5e-4, "snn_i1": 3e-4, "env_id": "Hopper-v5", "obs_dim": 11, "hidden": [256, 256], "act_dim": 3,
             "timesteps": 4, "rounds": 10}


def test_targets_are_judged_from_the_measured_figures(tmp_path):
    met = write_bench_report(loop(0, 1.2), INFERENCE, "model", 1.0, "snn-robot bench loop", tmp_path / "met")
    assert met["summary"]["round_trip_target_met"] and met["summary"]["inference_target_met"]
    slow = write_bench_report(loop(0, 1.3), {**INFERENCE, "snn_i0": 2.5e-4}, "model", 1.0, "cmd", tmp_path / "slow")
    assert not slow["summary"]["round_trip_target_met"] and not slow["summary"]["inference_target_met"]
    dropping = write_bench_report(loop(3, 1.0), INFERENCE, "model", 1.0, "cmd", tmp_path / "dropping")
    assert not dropping["summary"]["round_trip_target_met"]
    text = (tmp_path / "dropping" / "bench.md").read_text()
    assert "not met (drops 3, p99 ratio 1.00)" in text and (tmp_path / "dropping" / "bench.png").exists()
    assert "Actor 11-256-256-3 on Hopper-v5" in text
    assert json.loads((tmp_path / "met" / "bench.json").read_text())["summary"]["p99_ratio_by_rate"]["1000"] == 1.2
