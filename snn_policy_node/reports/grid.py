"""The grid's throughput report (``snn-robot bench grid``): a fixed slice of the calibration pipeline
with 1 and 2 workers, Ray's start-up, and the scaling plan for a cluster, its unit counts and costs
read from the committed results."""

import json
from pathlib import Path

import matplotlib
import numpy as np

from snn_policy_node.reports.bench import machine
from snn_policy_node.reports.results import write_results

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SPEEDUP_TARGET = 1.8  # 2 workers against 1 on these 2 cores
STARTUP_TARGET = 15.0  # seconds Ray's start-up may add to a short command
FULL_GRID = {"tasks": 4, "levels": 4, "seeds": 3, "activations": 2}  # paper 000's tables, as the pipeline runs them


def scaling_plan(results: Path) -> dict:
    """The long jobs' unit counts and costs, from the committed reports: the calibration pipeline's
    full grid and the adaptation and r-STDP populations."""
    calibration = json.loads((results / "calibration.json").read_text())
    minutes = [c["minutes_mean"] for t in calibration["training"].values() for c in t.values()]
    online_hours = [d["online_hours"] for d in calibration["datasets"] if "online_hours" in d]
    grid = FULL_GRID
    runs = grid["tasks"] * grid["levels"] * grid["seeds"] * grid["activations"]
    populations = [json.loads(p.read_text()) for p in sorted((results / "adaptation_runs").glob("*.json"))]
    seconds = [p["seconds"] for p in populations if "seconds" in p]
    return {
        "calibration": {"data_units": grid["tasks"], "td3bc_units": runs, "score_units": runs // 2,
                        "online_hours": [min(online_hours), max(online_hours)],
                        "td3bc_minutes": [min(minutes), max(minutes)],
                        "core_hours": sum(online_hours) + runs * float(np.mean(minutes)) / 60},
        "adaptation": {"units": len(populations), "minutes": [min(seconds) / 60, max(seconds) / 60],
                       "core_hours": sum(seconds) / 3600},
        "rstdp": {"units": len(list((results / "rstdp_runs").glob("*.json")))},
    }


def summary(report: dict) -> dict:
    by_workers = {w: [r for r in report["runs"] if r["workers"] == w] for w in (1, 2)}
    ratios = [one["seconds"] / two["seconds"] for one, two in zip(by_workers[1], by_workers[2])]
    return {"speedup_2_over_1": float(np.median(ratios)), "speedups": ratios,
            "units_per_hour": {w: float(np.median([r["units_per_hour"] for r in rs])) for w, rs in by_workers.items()},
            "startup_seconds": float(np.median(report["startup_seconds"])),
            "speedup_target_met": bool(np.median(ratios) >= SPEEDUP_TARGET),
            "startup_target_met": bool(np.median(report["startup_seconds"]) <= STARTUP_TARGET)}


def markdown(report: dict) -> str:
    s, plan = report["summary"], report["plan"]
    cal, ada = plan["calibration"], plan["adaptation"]
    lines = ["# The long jobs on Ray: throughput here, and the plan for a cluster", "",
             f"Reproduce with: `{report['command']}`. Machine: {report['machine']['cpu']}, {report['machine']['cores']} "
             "cores.", "",
             f"The slice: the calibration pipeline's TD3+BC round on small Hopper datasets (expert and medium, QCFS and "
             f"ReLU, seed 0: {report['runs'][0]['units']} units of {report['td3bc_steps']} gradient steps, each a whole "
             "run with its evaluations, conversion and card). Every timing starts a fresh local Ray (on 127.0.0.1) and "
             "runs the slice from scratch; 1 and 2 workers alternate.", "",
             "| workers | repetition | seconds | units per hour |", "|---:|---:|---:|---:|"]
    lines += [f"| {r['workers']} | {r['repetition']} | {r['seconds']:.1f} | {r['units_per_hour']:.0f} |" for r in report["runs"]]
    lines += ["",
              f"- 2 workers over 1: **{s['speedup_2_over_1']:.2f} x** (median of the paired repetitions: "
              + ", ".join(f"{x:.2f}" for x in s["speedups"]) + f"; target >= {SPEEDUP_TARGET}: "
              f"{'met' if s['speedup_target_met'] else 'not met'}).",
              f"- Starting and stopping a local Ray for a grid of one unit that does nothing: **{s['startup_seconds']:.1f} s** "
              f"(median of {len(report['startup_seconds'])}; target <= {STARTUP_TARGET:.0f} s: "
              f"{'met' if s['startup_target_met'] else 'not met'}). Commands with nothing to run start no Ray, and "
              "commands that need no grid never import it.",
              f"- The driver holds each unit as a pickled callable of at most {report['unit_bytes']:,} bytes and waits on "
              "its reference; results go to files on the shared filesystem, never through Ray's object store.", "",
              "## Scaling plan", "",
              "| job | units | a unit costs | core-hours |", "|---|---:|---|---:|",
              f"| calibration pipeline, full grid ({FULL_GRID['tasks']} tasks x {FULL_GRID['levels']} levels x "
              f"{FULL_GRID['seeds']} seeds x {FULL_GRID['activations']} activations) | {cal['data_units']} online runs + "
              f"{cal['td3bc_units']} TD3+BC runs + {cal['score_units']} scorings | online {cal['online_hours'][0]:.1f}-"
              f"{cal['online_hours'][1]:.1f} h; TD3+BC {cal['td3bc_minutes'][0]:.0f}-{cal['td3bc_minutes'][1]:.0f} min "
              f"| {cal['core_hours']:.0f} |",
              f"| adaptation populations (committed) | {ada['units']} | {ada['minutes'][0]:.0f}-{ada['minutes'][1]:.0f} min "
              f"| {ada['core_hours']:.0f} |",
              f"| r-STDP populations (committed) | {plan['rstdp']['units']} | see rstdp.md | - |", "",
              "- What dominates: the TD3+BC runs, in core-hours; the online TD3 runs, in wall time: every TD3+BC run of a "
              "task waits on its task's datasets, so the grid's critical path is the longest online run plus one TD3+BC "
              f"run and its scoring (about {cal['online_hours'][1] + cal['td3bc_minutes'][1] / 60:.1f} h plus the "
              "scoring), however many machines there are.",
              f"- Width: the TD3+BC round has {cal['td3bc_units']} independent units, so up to {cal['td3bc_units']} cores "
              "shorten it; beyond that, only the online runs (one per task) remain.",
              "- Every machine needs this repository's environment at the same path and a shared filesystem for `runs/` "
              "and `docs/results/`: units read their inputs and write their results there, and a unit's lock file keeps "
              "a second attempt from running beside a first.", "",
              "![throughput](grid_throughput.png)", ""]
    return "\n".join(lines)


def figure(report: dict, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for workers, color in ((1, "tab:blue"), (2, "tab:orange")):
        runs = [r for r in report["runs"] if r["workers"] == workers]
        ax.bar([r["repetition"] + (workers - 1.5) * 0.4 for r in runs], [r["units_per_hour"] for r in runs], 0.4,
               color=color, label=f"{workers} worker{'s' * (workers > 1)}")
    ax.set_xlabel("repetition")
    ax.set_ylabel("units per hour")
    ax.set_xticks(sorted({r["repetition"] for r in report["runs"]}))
    ax.set_title("The calibration slice through the grid")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(measured: dict, results: Path, out: Path, command: str) -> dict:
    report = {"command": command, "machine": machine(), **measured, "plan": scaling_plan(results)}
    report["summary"] = summary(report)
    return write_results(out, "grid_throughput", report, markdown, figure)
