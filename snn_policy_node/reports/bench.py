"""The benchmark report: docs/results/bench.md, bench.json and bench.png."""

import os
import platform
from pathlib import Path

import matplotlib

from snn_policy_node.reports.results import write_results

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROUND_TRIP_TARGET = 1.25  # policy p99 / echo p99 at 1 kHz
INFERENCE_TARGET = 2.0  # spiking actor / ANN, batch of one


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "rmw": os.environ.get("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp (default)")}


def summary(loop: list[dict], inference: dict) -> dict:
    pairs = {}
    for record in loop:
        pairs.setdefault(record["rate_hz"], {})[record["target"]] = record
    ratios = {f"{rate:g}": pair["policy"]["p99_ms"] / pair["echo"]["p99_ms"] for rate, pair in pairs.items()}
    top = max(pairs)
    return {
        "p99_ratio_by_rate": ratios,
        "drops_at_top_rate": pairs[top]["policy"]["dropped"],
        "round_trip_target_met": pairs[top]["policy"]["dropped"] == 0 and ratios[f"{top:g}"] <= ROUND_TRIP_TARGET,
        "inference_ratio_i0": inference["snn_i0"] / inference["ann"],
        "inference_target_met": inference["snn_i0"] / inference["ann"] <= INFERENCE_TARGET,
    }


def markdown(report: dict) -> str:
    s, lines = report["summary"], []
    top = f"{max(r['rate_hz'] for r in report['loop']):g}"
    lines += ["# Control-loop and inference benchmark", "",
              f"Command: `{report['command']}`", "",
              f"Machine: {report['machine']['cpu']}, {report['machine']['cores']} cores, Python "
              f"{report['machine']['python']}, {report['machine']['rmw']}; DDS on loopback only.", "",
              "## /joint_states -> command round trip", "",
              f"Policy: `{report['model']}` (event mode, stamped JointState commands). Baseline: a bare rclpy node that answers each joint state "
              f"with a command, measured in the same run. {report['seconds']:.0f} s per rate and node.", "",
              "| rate (Hz) | node | sent | dropped | p50 (ms) | p99 (ms) | max (ms) | p99 / echo p99 |",
              "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in report["loop"]:
        rate = f"{r['rate_hz']:g}"
        ratio = f"{s['p99_ratio_by_rate'][rate]:.2f}" if r["target"] == "policy" else ""
        lines.append(f"| {r['rate_hz']:.0f} | {r['target']} | {r['sent']} | {r['dropped']} | {r['p50_ms']:.3f} | "
                     f"{r['p99_ms']:.3f} | {r['max_ms']:.3f} | {ratio} |")
    inference = report["inference"]
    lines += ["", "Every command carries the stamp of the joint state it answers, so latencies are exact; both nodes "
              "keep only the newest unread joint state, so a node that falls behind skips (drops) states instead of "
              "queueing them. Latencies are those of the answered states.", "",
              "## Batch-of-one inference", "",
              f"Actor {'-'.join(map(str, [inference['obs_dim'], *inference['hidden'], inference['act_dim']]))} on {inference['env_id']} states (seeded QCFS actor), T = "
              f"{inference['timesteps']}, one thread, median of {inference['rounds']} calls in interleaved rounds.", "",
              "| network | time per action (ms) | / ANN |", "|---|---:|---:|"]
    for name, label in (("ann", "QCFS ANN"), ("snn_i0", "spiking actor, I = 0"), ("snn_i1", "spiking actor, I = 1")):
        lines.append(f"| {label} | {inference[name] * 1e3:.3f} | {inference[name] / inference['ann']:.2f} |")
    lines += ["", "## Targets", "",
              f"- 1 kHz: zero drops and policy p99 <= {ROUND_TRIP_TARGET} x echo p99: "
              f"{'met' if s['round_trip_target_met'] else 'not met'} (drops {s['drops_at_top_rate']}, "
              f"p99 ratio {s['p99_ratio_by_rate'][top]:.2f}).",
              f"- Spiking actor (I = 0) <= {INFERENCE_TARGET} x its ANN: "
              f"{'met' if s['inference_target_met'] else 'not met'} (ratio {s['inference_ratio_i0']:.2f}).", "",
              "![latency](bench.png)", ""]
    return "\n".join(lines)


def figure(report: dict, path: Path) -> None:
    loop = report["loop"]
    rates = sorted({r["rate_hz"] for r in loop})
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, key, title in ((axes[0], "p50_ms", "median round trip"), (axes[1], "p99_ms", "99th percentile round trip")):
        for offset, target in ((-0.2, "echo"), (0.2, "policy")):
            values = [next(r[key] for r in loop if r["rate_hz"] == rate and r["target"] == target) for rate in rates]
            ax.bar([k + offset for k in range(len(rates))], values, width=0.4, label=target)
        ax.set_xticks(range(len(rates)), [f"{r:.0f} Hz" for r in rates])
        ax.set_ylabel("ms")
        ax.set_title(title)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_bench_report(loop: list[dict], inference: dict, model: str, seconds: float, command: str, out: Path) -> dict:
    report = {"command": command, "machine": machine(), "model": model, "seconds": seconds, "loop": loop,
              "inference": inference}
    report["summary"] = summary(loop, inference)
    return write_results(out, "bench", report, markdown, figure)
