import json

import pytest

from snn_policy_node.reports.bench import write_bench_report


def loop(policy_drops: int, policy_p99: float, echo_drops: int = 0) -> list[dict]:
    records = []
    for rate in (500.0, 1000.0):
        for window in range(3):
            for target, p99, dropped in (("echo", 1.0, echo_drops), ("policy", policy_p99 + 0.1 * window, policy_drops)):
                records.append({"target": target, "rate_hz": rate, "window": window, "seconds": 1.0, "sent": 1000,
                                "received": 1000 - dropped, "dropped": dropped, "p50_ms": p99 / 2, "p99_ms": p99,
                                "max_ms": p99 * 2, "late_sends": 0, "cpu_percent": 20.0})
    return records


def inference(actor_us: float, dsqn_us: float) -> dict:
    us = {"Hopper-v5 spiking actor, adaptive I": actor_us, "Hopper-v5 QCFS ANN, ONNX Runtime": 20.0,
          "Hopper-v5 QCFS ANN, NumPy": 30.0, "CartPole-v0 DSQN": dsqn_us}
    return {"rounds": 3, "calls_per_round": 10, "seed": 0, "models": {},
            "us": {k: {"median": v, "min": v * 0.9, "max": v * 1.2} for k, v in us.items()},
            "ratios": {"Hopper-v5 spiking actor / ONNX ANN": {"median": actor_us / 20.0, "min": 1.0, "max": 9.0}}}


def test_targets_are_judged_from_the_medians_of_the_measured_ratios(tmp_path):
    met = write_bench_report(loop(0, 1.1), inference(39.0, 45.0), "model", 1.0, "snn-robot bench loop", tmp_path / "met")
    s = met["summary"]
    assert s["loop_1khz_p99_over_echo"] == pytest.approx(1.2)  # windows 1.1, 1.2, 1.3: the median
    assert s["targets"] == {"actor": True, "dsqn": True, "loop_500hz": True, "loop_1khz": True}
    slow = write_bench_report(loop(0, 1.3), inference(41.0, 55.0), "model", 1.0, "cmd", tmp_path / "slow")["summary"]
    assert not any(slow["targets"].values())
    dropping = write_bench_report(loop(3, 1.0, echo_drops=2), inference(39.0, 45.0), "model", 1.0, "cmd", tmp_path / "d")
    assert dropping["summary"]["loop_1khz_drops_over_echo"] == 1.5 and not dropping["summary"]["targets"]["loop_1khz"]
    floored = write_bench_report(loop(1, 1.0), inference(39.0, 45.0), "model", 1.0, "cmd", tmp_path / "f")["summary"]
    assert floored["loop_1khz_drops_over_echo"] == 1.0  # no echo drop counts as one
    text = (tmp_path / "d" / "bench.md").read_text()
    assert "1 kHz: policy p99 and drops <= 1.25 x the echo's: not met (p99 1.10, drops 1.50)" in text
    assert "| Hopper-v5 QCFS ANN, ONNX Runtime | 20.0 [18.0, 24.0] |" in text and (tmp_path / "d" / "bench.png").exists()
    saved = json.loads((tmp_path / "met" / "bench.json").read_text())["summary"]
    assert saved["actor_adaptive_over_onnx_ann"] == 39.0 / 20.0 and saved["dsqn_us"] == 45.0


def test_a_soak_adds_its_histogram(tmp_path):
    soak = {"rate_hz": 500.0, "seconds": 600.0, "sent": 300000, "dropped": 12, "late_sends": 3, "p50_ms": 1.0,
            "p99_ms": 2.0, "p999_ms": 4.0, "max_ms": 30.0, "bins_ms": [0.0, 1.0, 20.0, 50.0], "counts": [10, 20, 1]}
    write_bench_report(loop(0, 1.1), inference(39.0, 45.0), "model", 1.0, "cmd", tmp_path, soak)
    text = (tmp_path / "bench.md").read_text()
    assert "### Soak: the policy alone at 500 Hz for 600 s" in text and "12 dropped" in text and "p99.9 4.000 ms" in text
    assert json.loads((tmp_path / "bench.json").read_text())["soak"]["counts"] == [10, 20, 1]



def test_the_recording_overhead_is_the_recorded_nodes_p99_over_the_plain_ones_window_by_window(tmp_path):
    from snn_policy_node.reports.recording import write_overhead_report

    records = []
    for window, (plain, recorded) in enumerate(((2.0, 2.2), (2.0, 2.0), (4.0, 4.1))):  # ratios 1.1, 1.0, 1.025
        for target, p99 in (("policy", plain), ("recorded", recorded)):
            records.append({"target": target, "rate_hz": 100.0, "window": window, "seconds": 1.0, "sent": 100,
                            "received": 100, "dropped": 0, "p50_ms": 1.0, "p99_ms": p99, "max_ms": 5.0, "late_sends": 0,
                            "cpu_percent": 5.0})
    report = write_overhead_report(records, "model", 1.0, "snn-robot bench recording", tmp_path)
    assert report["ratios"]["100"]["p99_over_policy"] == pytest.approx({"median": 1.025, "min": 1.0, "max": 1.1})
    assert report["met"] == {"100": True}  # the median, 1.025, is within 1.05
    written = json.loads((tmp_path / "recording_overhead.json").read_text())
    assert written["ratios"] == report["ratios"]
    assert "| 100 | 3 | 2.000 | 2.200 | 1.025 [1.000, 1.100] | 0 / 0 | <= 1.05: met |" in (tmp_path / "recording_overhead.md").read_text()
