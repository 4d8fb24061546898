"""The benchmark report: docs/results/bench.md, bench.json and bench.png.

Every ratio is taken within one window (round trip) or one round (inference) of the same run, so
the machine's load falls on both sides alike; its median over windows is the figure, and its
minimum and maximum show how far the machine's noise moves it.
"""

import os
import platform
from pathlib import Path

import matplotlib
import numpy as np

from snn_policy_node.reports.results import write_results

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LOOP_TARGET = 1.25  # policy p99 and drops / echo's, at 500 Hz and 1 kHz
ACTOR_TARGET = 2.0  # shipped spiking actor (adaptive I) / its ANN on ONNX Runtime, batch of one
DSQN_TARGET_US = 50.0  # CartPole DSQN, batch of one
HEADLINE_ACTOR, HEADLINE_DSQN = "Hopper-v5", "CartPole-v0"


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "rmw": os.environ.get("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp (default)")}


def _spread(values: list[float]) -> dict:
    return {"median": float(np.median(values)), "min": float(np.min(values)), "max": float(np.max(values))}


def loop_ratios(loop: list[dict], target: str = "policy", baseline: str = "echo") -> dict[str, dict]:
    """Per rate: ``target``'s p99 and drops over ``baseline``'s (drops floored at 1), window by window."""
    windows: dict[float, dict[int, dict]] = {}
    for record in loop:
        windows.setdefault(record["rate_hz"], {}).setdefault(record["window"], {})[record["target"]] = record
    ratios = {}
    for rate, pairs in windows.items():
        complete = [pair for pair in pairs.values() if {baseline, target} <= pair.keys()]
        ratios[f"{rate:g}"] = {
            f"p99_over_{baseline}": _spread([p[target]["p99_ms"] / p[baseline]["p99_ms"] for p in complete]),
            f"drops_over_{baseline}": _spread([p[target]["dropped"] / max(p[baseline]["dropped"], 1) for p in complete]),
            "windows": len(complete)}
    return ratios


def summary(loop: list[dict], inference: dict) -> dict:
    ratios, us = loop_ratios(loop), inference["us"]
    figures = {
        "actor_adaptive_us": us[f"{HEADLINE_ACTOR} spiking actor, adaptive I"]["median"],
        "actor_ann_onnx_us": us[f"{HEADLINE_ACTOR} QCFS ANN, ONNX Runtime"]["median"],
        "actor_adaptive_over_onnx_ann": inference["ratios"][f"{HEADLINE_ACTOR} spiking actor / ONNX ANN"]["median"],
        "dsqn_us": us[f"{HEADLINE_DSQN} DSQN"]["median"],
    }
    for rate, name in (("500", "500hz"), ("1000", "1khz")):
        if rate in ratios:
            figures[f"loop_{name}_p99_over_echo"] = ratios[rate]["p99_over_echo"]["median"]
            figures[f"loop_{name}_drops_over_echo"] = ratios[rate]["drops_over_echo"]["median"]
    figures["targets"] = {
        "actor": figures["actor_adaptive_over_onnx_ann"] <= ACTOR_TARGET,
        "dsqn": figures["dsqn_us"] <= DSQN_TARGET_US,
        **{f"loop_{name}": figures[f"loop_{name}_p99_over_echo"] <= LOOP_TARGET
           and figures[f"loop_{name}_drops_over_echo"] <= LOOP_TARGET
           for name in ("500hz", "1khz") if f"loop_{name}_p99_over_echo" in figures}}
    return figures


def _cell(spread: dict, digits: int = 2) -> str:
    return f"{spread['median']:.{digits}f} [{spread['min']:.{digits}f}, {spread['max']:.{digits}f}]"


def _met(flag: bool) -> str:
    return "met" if flag else "not met"


def markdown(report: dict) -> str:
    s, ratios, inference = report["summary"], loop_ratios(report["loop"]), report["inference"]
    lines = ["# Control-loop and inference benchmark", "", f"Command: `{report['command']}`", "",
             f"Machine: {report['machine']['cpu']}, {report['machine']['cores']} cores, Python "
             f"{report['machine']['python']}, {report['machine']['rmw']}; DDS on loopback only.", "",
             "## /joint_states -> command round trip", "",
             f"Policy: `{report['model']}` (event mode, stamped JointState commands). Baseline: a bare rclpy node that "
             f"answers each joint state with a command. Both run throughout, each in its own process on its own topics, and "
             f"are driven in alternating windows of {report['seconds']:g} s (echo first in even windows, the policy first in "
             f"odd ones). Figures per node: medians over windows; ratios: median [min, max] over windows of the ratio "
             f"within a window (drops over the echo's, those floored at 1).", "",
             "| rate (Hz) | node | windows | sent | dropped | p50 (ms) | p99 (ms) | max (ms) | CPU (% of a core) | p99 / echo | drops / echo |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for rate in sorted({r["rate_hz"] for r in report["loop"]}):
        for target in ("echo", "policy"):
            records = [r for r in report["loop"] if r["rate_hz"] == rate and r["target"] == target]
            ratio = ratios[f"{rate:g}"]
            extra = (f"{_cell(ratio['p99_over_echo'])} | {_cell(ratio['drops_over_echo'])}" if target == "policy"
                     else " | ")
            lines.append(f"| {rate:.0f} | {target} | {len(records)} | {sum(r['sent'] for r in records)} | "
                         f"{sum(r['dropped'] for r in records)} | {np.median([r['p50_ms'] for r in records]):.3f} | "
                         f"{np.median([r['p99_ms'] for r in records]):.3f} | {max(r['max_ms'] for r in records):.3f} | "
                         f"{np.median([r['cpu_percent'] for r in records]):.0f} | {extra} |")
    lines += ["", "Every command carries the stamp of the joint state it answers, so latencies are exact; both nodes "
              "keep only the newest unread joint state, so a node that falls behind skips (drops) states instead of "
              "queueing them. Latencies are those of the answered states; CPU is the node process's user and system "
              "time over the window's wall time.", "",
              *_soak_lines(report.get("soak")),
              "## Batch-of-one inference", "",
              f"Every shipped model through `Policy.act` in its shipped configuration, and each actor's source QCFS network "
              f"on ONNX Runtime and in NumPy; one thread, {inference['rounds']} interleaved rounds of "
              f"{inference['calls_per_round']} calls (seed {inference['seed']}). Time: median [min, max] over rounds of "
              f"each round's median.", "", "| call | us per action |", "|---|---|"]
    lines += [f"| {name} | {_cell(spread, 1)} |" for name, spread in inference["us"].items()]
    lines += ["", "| ratio, within each round | median [min, max] |", "|---|---|"]
    lines += [f"| {name} | {_cell(spread)} |" for name, spread in inference["ratios"].items()]
    lines += ["", "## Targets", "",
              f"- {HEADLINE_ACTOR} spiking actor (adaptive I) <= {ACTOR_TARGET:g} x its ANN on ONNX Runtime: "
              f"{_met(s['targets']['actor'])} ({s['actor_adaptive_over_onnx_ann']:.2f}; {s['actor_adaptive_us']:.1f} us "
              f"against {s['actor_ann_onnx_us']:.1f} us).",
              f"- {HEADLINE_DSQN} DSQN <= {DSQN_TARGET_US:g} us: {_met(s['targets']['dsqn'])} ({s['dsqn_us']:.1f} us)."]
    for name, label in (("500hz", "500 Hz"), ("1khz", "1 kHz")):
        if f"loop_{name}" in s["targets"]:
            lines.append(f"- {label}: policy p99 and drops <= {LOOP_TARGET:g} x the echo's: {_met(s['targets'][f'loop_{name}'])} "
                         f"(p99 {s[f'loop_{name}_p99_over_echo']:.2f}, drops {s[f'loop_{name}_drops_over_echo']:.2f}).")
    lines += ["", "![benchmark](bench.png)", ""]
    return "\n".join(lines)


def _soak_lines(soak: dict | None) -> list[str]:
    if soak is None:
        return []
    return [f"### Soak: the policy alone at {soak['rate_hz']:.0f} Hz for {soak['seconds']:.0f} s", "",
            f"{soak['sent']} joint states, {soak['dropped']} dropped, {soak['late_sends']} sent late; round trip p50 "
            f"{soak['p50_ms']:.3f} ms, p99 {soak['p99_ms']:.3f} ms, p99.9 {soak['p999_ms']:.3f} ms, max {soak['max_ms']:.3f} ms "
            "(histogram in the figure and in bench.json).", ""]


def figure(report: dict, path: Path) -> None:
    loop, inference = report["loop"], report["inference"]
    rates = sorted({r["rate_hz"] for r in loop})
    soak = report.get("soak")
    fig, axes = plt.subplots(1, 3 if soak else 2, figsize=(17 if soak else 12, 4.2))
    for offset, target in ((-0.15, "echo"), (0.15, "policy")):
        for k, rate in enumerate(rates):
            values = [r["p99_ms"] for r in loop if r["rate_hz"] == rate and r["target"] == target]
            axes[0].scatter([k + offset] * len(values), values, s=14, color="C0" if target == "echo" else "C1",
                            label=target if k == 0 else None)
    axes[0].set_xticks(range(len(rates)), [f"{r:.0f} Hz" for r in rates])
    axes[0].set_ylabel("p99 round trip per window (ms)")
    axes[0].set_title("round trip, window by window")
    axes[0].legend()
    names = list(inference["us"])
    medians = [inference["us"][n]["median"] for n in names]
    errors = [[m - inference["us"][n]["min"] for n, m in zip(names, medians)],
              [inference["us"][n]["max"] - m for n, m in zip(names, medians)]]
    axes[1].barh(range(len(names)), medians, xerr=errors, color=["C1" if "ANN" not in n else "C0" for n in names])
    axes[1].set_yticks(range(len(names)), names, fontsize=7)
    axes[1].invert_yaxis()
    axes[1].set_xscale("log")
    axes[1].set_xlabel("us per action (batch of one)")
    axes[1].set_title("inference")
    if soak:
        edges, counts = np.asarray(soak["bins_ms"]), np.asarray(soak["counts"])
        shown = edges[1:] <= 20.0
        widths = np.diff(edges)[shown]
        axes[2].bar(edges[:-1][shown], counts[shown] / widths, width=widths, align="edge")  # bins widen past 5 ms
        axes[2].set_yscale("log")
        axes[2].set_xlabel("round trip (ms)")
        axes[2].set_ylabel("joint states per ms of round trip")
        axes[2].set_title(f"soak, {soak['rate_hz']:.0f} Hz for {soak['seconds']:.0f} s ({counts[~shown].sum()} over 20 ms)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_bench_report(loop: list[dict], inference: dict, model: str, seconds: float, command: str, out: Path,
                       soak: dict | None = None) -> dict:
    report = {"command": command, "machine": machine(), "model": model, "seconds": seconds, "loop": loop,
              "inference": inference, "soak": soak}
    report["summary"] = summary(loop, inference)
    return write_results(out, "bench", report, markdown, figure)
