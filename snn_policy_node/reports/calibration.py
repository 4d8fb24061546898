"""The report of paper 000's Tables 1 and 2 on our own datasets (``experiments.calibration_study``):
every variant per training seed, mean +- std over seeds, with the paper's numbers beside ours,
the datasets and what every run cost; Markdown, JSON and a figure.

A re-run keeps the pairs, datasets and shipped models of the report it replaces whose runs are
no longer on the machine, and ships each task's best spiking actor (``reports.shipping``).
"""

import json
from collections import Counter
from pathlib import Path

import matplotlib
import numpy as np
from scipy.stats import binom

from snn_policy_node.evaluation.actor_variants import LABELS, VARIANTS
from snn_policy_node.experiments.calibration_study import (
    ARCHIVE,
    COLLAPSE,
    PREREGISTERED_EPISODES,
    PREREGISTERED_SEEDS,
    archive_pair,
    archived_pairs,
    collapsed,
    dataset_key,
    dataset_summaries,
    run_level,
    score_runs,
    summarise,
)
from snn_policy_node.reports.results import write_results
from snn_policy_node.reports.shipping import ship_best
from snn_policy_node.tasks import mujoco_task_of_dataset, normalised_score

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# Paper 000, Table 2 (converted spiking actor, I = 0..3 and adaptive) and Table 1's ReLU and
# QCFS columns, D4RL-normalised. Table 1's extracted rows hold one value fewer than its header.
# Table 2 prints Hopper medium-replay I = 2 as 229.68, a typo for 29.68 (its neighbours, its own std).
PAPER = {
    ("hopper", "expert"): {"relu": "112.2±0.2", "qcfs": "112.1±1.3", "i0": "114.49±0.70", "i1": "110.8±1.90",
                           "i2": "109.81±4.86", "i3": "110.75±2.83", "adaptive": "112.19±0.33"},
    ("hopper", "medium-expert"): {"relu": "112.2±0.2", "qcfs": "95.4±26.6", "i0": "83.18±17.72", "i1": "88.22±28.29",
                                  "i2": "91.19±24.00", "i3": "89.10±27.90", "adaptive": "95.07±21.34"},
    ("hopper", "medium"): {"relu": "99.5±1.0", "qcfs": "99.6±0.1", "i0": "98.57±2.76", "i1": "99.70±0.18",
                           "i2": "99.79±0.20", "i3": "99.68±0.22", "adaptive": "99.08±1.48"},
    ("hopper", "medium-replay"): {"relu": "31.4±3.0", "qcfs": "31.1±1.9", "i0": "23.82±4.29", "i1": "29.78±3.15",
                                  "i2": "29.68±3.44", "i3": "29.25±2.60", "adaptive": "29.81±2.46"},
    ("halfcheetah", "expert"): {"relu": "105.7±1.9", "qcfs": "94.0±3.2", "i0": "64.93±16.46", "i1": "91.88±3.00",
                                "i2": "84.00±8.70", "i3": "88.95±7.99", "adaptive": "86.40±11.07"},
    ("halfcheetah", "medium"): {"relu": "42.8", "qcfs": "42.3±0.4", "i0": "40.65±0.22", "i1": "42.40±0.47",
                                "i2": "42.36±0.44", "i3": "42.31±0.53", "adaptive": "42.12±0.53"},
    ("walker2d", "expert"): {"relu": "105.7±2.7", "qcfs": "91.5±15.8", "i0": "97.53±13.58", "i1": "101.25±4.34",
                             "i2": "101.11±3.93", "i3": "101.71±4.18", "adaptive": "99.41±3.90"},
    ("walker2d", "medium"): {"relu": "79.7±1.8", "qcfs": "76.5±3.2", "i0": "72.85±6.61", "i1": "78.95±2.63",
                             "i2": "75.85±3.34", "i3": "77.13±2.91", "adaptive": "74.00±3.50"},
    ("halfcheetah", "medium-expert"): {"relu": "97.9±4.4", "qcfs": "56.8±7.9", "i0": "46.08±9.49", "i1": "59.62±5.06",
                                       "i2": "60.53±5.17", "i3": "60.79±6.12", "adaptive": "60.59±4.84"},
    ("halfcheetah", "medium-replay"): {"relu": "43.3±0.5", "qcfs": "42.1±0.4", "i0": "35.85±1.61", "i1": "41.23±0.41",
                                       "i2": "41.28±0.32", "i3": "41.29±0.50", "adaptive": "40.66±0.34"},
    ("walker2d", "medium-expert"): {"relu": "101.1±9.3", "qcfs": "94.1±11.5", "i0": "95.22±12.31", "i1": "99.23±4.81",
                                    "i2": "95.90±7.85", "i3": "91.68±10.79", "adaptive": "92.96±12.67"},
    ("walker2d", "medium-replay"): {"relu": "25.2±5.1", "qcfs": "23.8±6.7", "i0": "17.86±4.09", "i1": "26.61±8.98",
                                    "i2": "24.47±9.13", "i3": "26.21±12.38", "adaptive": "26.03±8.04"},
    ("ant", "expert"): {"qcfs": "72.1±21.1", "i0": "77.56±15.63", "i1": "74.46±16.26",
                        "i2": "82.23±9.63", "i3": "87.79±9.79", "adaptive": "89.44±11.48"},
    ("ant", "medium-expert"): {"qcfs": "111.3±10.7", "i0": "117.64±13.88", "i1": "122.66±14.70",
                               "i2": "104.80±8.05", "i3": "105.22±10.51", "adaptive": "116.11±7.89"},
    ("ant", "medium"): {"qcfs": "119.6±3.6", "i0": "121.46±1.98", "i1": "122.22±0.86",
                        "i2": "120.50±3.01", "i3": "120.48±2.85", "adaptive": "122.17±1.21"},
    ("ant", "medium-replay"): {"qcfs": "75.9±4.1", "i0": "77.32±4.26", "i1": "77.69±2.18",
                               "i2": "76.48±3.78", "i3": "76.48±3.89", "adaptive": "79.74±1.95"},
}


def markdown(report: dict) -> str:
    lines = ["# Calibrated spiking TD3+BC actors (paper 000), reproduced", "",
             "Reproduce with: `scripts/reproduce-calibration.sh` (datasets, TD3+BC actors, then this report: "
             f"`{report['command']}`); every step resumes where it stopped.", "",
             "D4RL-normalised scores, mean +- std over training seeds, each seed scored on the same evaluation "
             f"episodes (seeds 0..; this command scores {report['episodes']}, pairs kept from earlier reports keep "
             "theirs). Spiking actors: T = 4, rho = 4. Datasets made here (`snn-robot data generate`); paper values "
             "beside ours.", "",
             "| dataset | seeds | episodes | " + " | ".join(LABELS[v] for v in VARIANTS) + " |",
             "|---|---:|---:|" + "---:|" * len(VARIANTS)]
    for name, result in report["results"].items():
        paper = PAPER.get(dataset_key(name), {})
        cells = [_score_cell(result[v]) if v in result else "-" for v in VARIANTS]
        lines.append(f"| {_title(name)} | {result['qcfs']['seeds']} | {result['episodes']} | " + " | ".join(cells) + " |")
        if paper:
            lines.append("| (paper) | - | - | " + " | ".join(paper.get(v, "-") for v in VARIANTS) + " |")
    if report.get("derived"):
        lines += ["", f"Re-derived from the per-episode returns committed in `{ARCHIVE}/` (their runs are not on this "
                  "machine now): " + ", ".join(_title(n) for n in report["derived"]) + "."]
    if report.get("kept"):
        lines += ["", "Kept from the report this one replaced (scored by an earlier run of this command; their runs "
                  "are not on this machine now, nor their per-episode returns in the repository): "
                  + ", ".join(_title(n) for n in report["kept"]) + "."]
    if report.get("remade"):
        lines += ["", "The datasets of " + ", ".join(report["remade"]) + " were made again since the kept or re-derived "
                  "pairs of that task were trained: those pairs learned from the earlier datasets, the tables below "
                  "describe the new ones."]
    lines += _comparison_lines(report)
    lines += ["", "Error spikes per action and hidden layer, against the source QCFS network:", "",
              "| dataset | I = 0 | I = 1 | I = 2 | I = 3 | adaptive |", "|---|---:|---:|---:|---:|---:|"]
    for name, result in report["results"].items():
        cells = [" / ".join(f"{e:.2f}" for e in result[v].get("error_spikes", [])) for v in ("i0", "i1", "i2", "i3", "adaptive")]
        lines.append(f"| {_title(name)} | " + " | ".join(cells) + " |")
    lines += _provenance_lines(report)
    if report.get("shipped"):
        lines += ["", "## Shipped models", "", "| task | run | adaptive I score | QCFS actors scored |", "|---|---|---:|---:|"]
        lines += [f"| {env_id} | `{s['run']}` | {s['adaptive_score']:.1f} | {s['runs']} |"
                  for env_id, s in report["shipped"].items()]
    s = report["summary"]
    lines += ["", "## Targets", "",
              _preregistered_line(s),
              f"- Calibrated (best of I = 1..3 and adaptive) beats I = 0 on {s['calibrated_wins']} of {s['pairs']} "
              f"task-dataset pairs. This count says nothing: it compares the best of three distinct variants (I = 2 and "
              f"I = 3 act alike) with one, which with no effect at all wins with probability 3/4 per pair, and "
              f"{s['calibrated_wins']} or more of {s['pairs']} then happens with probability "
              f"{binom.sf(s['calibrated_wins'] - 1, s['pairs'], 0.75):.2f}.",
              f"- Calibrated spiking actor minus its QCFS ANN, mean over pairs: {s['gap_snn_qcfs']:+.1f} points "
              f"({_verdict(s['gap_snn_qcfs'])}); QCFS ANN minus ReLU ANN: {s['gap_qcfs_relu']:+.1f} points "
              f"({_verdict(s['gap_qcfs_relu'])}). Target: within 5 points each.", "",
              *_fidelity_lines(s),
              "![scores and learning curves](calibration.png)", "",
              "Below the scores: each run's evaluations during TD3+BC training (its train_log.csv); the tables "
              "score the final actor.", ""]
    if report.get("diagnosis"):
        lines += [DIAGNOSIS_TEXT, "", "![training diagnosis](calibration_diagnosis.png)", ""]
    return "\n".join(lines)


DIAGNOSIS_TEXT = (
    "What the critic and actor did while the curves rose and fell, per run whose log records it (`TD3.diagnose` "
    "on 4096 fixed dataset transitions at each evaluation): the score; the critic's mean Q of the actor's actions "
    "minus that of the data's actions (a critic that values actions off the data above the data's own is "
    "over-estimating where it has seen nothing); the actor's squared distance to the data's actions.")


COMPARISONS = [
    f"Adaptive I (Algorithm 2, I in [0, 3]) against I = 0, on every task-dataset pair with at least "
    f"{PREREGISTERED_SEEDS} TD3+BC training seeds, each scored on the same {PREREGISTERED_EPISODES} evaluation "
    "episodes (seeds 0..): the per-seed difference of D4RL-normalised scores, its mean with a 95 % interval and a "
    "paired t-test over training seeds. Counted: the pairs where adaptive I is better at p < 0.05, and where worse "
    "(target: better on at least half).",
    "Adaptive I against its source QCFS ANN, the same way (the paper's claim: as good as the ANN).",
    "Every seed's actor enters: no best-of-several in any of these figures. The actor shipped per task is chosen "
    "on these evaluation seeds and scored on held-out seeds by `snn-robot report fidelity` (its card says so).",
]


def _comparison_lines(report: dict) -> list[str]:
    """The comparisons named before the runs, and the table of their figures per pair."""
    lines = ["", "## Comparisons, named before the runs", ""] + [f"{k}. {c}" for k, c in enumerate(COMPARISONS, 1)]
    rows = report.get("comparisons", {})
    if not rows:
        return lines + ["", "No pair has per-seed scores yet."]
    lines += ["", "| dataset | seeds | episodes | adaptive I - I = 0 [95 % CI] | p | adaptive I - QCFS [95 % CI] | p | "
              "counted |", "|---|---:|---:|---|---:|---|---:|---|"]
    for name, c in rows.items():
        cells = [f"{_difference(c[k])} | {c[k]['p']:.2g}" for k in ("minus_i0", "minus_qcfs")]
        lines.append(f"| {_title(name)} | {c['seeds']} | {c['episodes']} | " + " | ".join(cells) +
                     f" | {'yes' if c['preregistered'] else 'no: too few seeds or episodes'} |")
    return lines


def _difference(d: dict) -> str:
    low, high = d["ci95"]
    return f"{d['mean']:+.1f} [{low:+.1f}, {high:+.1f}]" if np.isfinite(low) else f"{d['mean']:+.1f}"


def _preregistered_line(s: dict) -> str:
    counted = s.get("pairs_preregistered", 0)
    if not counted:
        return (f"- Adaptive I against I = 0 at the run level (named before the runs): no pair has {PREREGISTERED_SEEDS} "
                f"training seeds scored on {PREREGISTERED_EPISODES} episodes yet.")
    return (f"- Adaptive I against I = 0 at the run level (named before the runs): better at p < 0.05 on "
            f"{s['adaptive_vs_i0_wins_p05']} of {counted} pairs, worse on {s['adaptive_vs_i0_losses_p05']} (target: better "
            f"on at least half). Against the QCFS ANN: better on {s['adaptive_vs_qcfs_wins_p05']}, worse on "
            f"{s['adaptive_vs_qcfs_losses_p05']}.")


def _fidelity_lines(summary: dict) -> list[str]:
    """The open-loop figures of ``report fidelity``, where it has run."""
    if "open_loop_error_ratio_adaptive_over_i0" not in summary:
        return []
    return [f"- Open loop (`conversion_fidelity.md`): adaptive I's action error over I = 0's at T = 4, mean over the "
            f"shipped actors: {summary['open_loop_error_ratio_adaptive_over_i0']:.2f} (target: <= 0.25 on every task); "
            "the literal reading of Algorithm 1 and CRPI's carry-over are in its tables.", ""]


def _score_cell(score: dict) -> str:
    """Mean +- std over training seeds; a single seed has no spread to show."""
    return f"{score['mean']:.1f} +- {score['std']:.1f}" if score["seeds"] > 1 else f"{score['mean']:.1f}"


def _title(dataset_dir: str) -> str:
    """``snn-robot_hopper_medium-v0`` -> "hopper medium", the paper's row names."""
    return " ".join(dataset_key(dataset_dir))


def _verdict(gap: float) -> str:
    return "no pairs yet" if np.isnan(gap) else ("met" if abs(gap) <= 5 else "not met")


def collapse_counts(curves: dict[str, dict[str, list]]) -> dict[str, list[int]]:
    """Per pair with learning curves: [collapsed runs, runs]."""
    return {name: [sum(collapsed(curve) for curve in runs.values()), len(runs)] for name, runs in curves.items() if runs}


def _collapse_lines(curves: dict[str, dict[str, list]]) -> list[str]:
    counts = {name: c for name, c in collapse_counts(curves).items() if c[0]}
    if not counts:
        return []
    return ["", "## Collapsed training runs", "",
            f"Runs with two evaluations in a row, past half their training, below {COLLAPSE:.0%} of the best before "
            "them (the curves below): "
            + "; ".join(f"{_title(name)} {k} of {n}" for name, (k, n) in counts.items())
            + ". A collapsed run is never chosen to ship; a model kept from an earlier report whose run collapsed "
            "says so on its card until one that held replaces it."]


def _provenance_lines(report: dict) -> list[str]:
    """The datasets and training runs behind the tables, with what they cost on this machine."""
    lines = []
    for d in report.get("datasets", []):
        lines += ["", f"## Datasets of {d['env_id']}", "",
                  f"Online TD3 ran {d.get('online_steps', '?')} steps ({d.get('online_hours', float('nan')):.1f} h). "
                  f"Expert: the snapshot at step {d['expert_step']} (evaluation return {d['expert_eval_return']:.1f}); "
                  f"medium: step {d['medium_step']} ({d['medium_eval_return']:.1f}). Roll-outs with action noise "
                  f"{d['rollout_noise']}.", "", "| dataset | episodes | transitions | mean return | D4RL-normalised |",
                  "|---|---:|---:|---:|---:|"]
        lines += [f"| {e['id']} | {e['episodes']} | {e['transitions']} | {e['return_mean']:.1f} | "
                  f"{normalised_score(d['env_id'], e['return_mean']):.1f} |" for e in d["datasets"].values()]
    lines += _collapse_lines(report.get("curves", {}))
    costs = {name: c for name, c in report.get("training", {}).items() if c}
    if costs:
        lines += ["", "## TD3+BC runs", "", "| dataset | actor | runs | gradient steps | minutes per run |",
                  "|---|---|---:|---:|---:|"]
        lines += [f"| {_title(name)} | {activation} | {c['runs']} | {'/'.join(map(str, c['steps']))} | {c['minutes_mean']:.0f} |"
                  for name, by_activation in costs.items() for activation, c in by_activation.items()]
    return lines


CURVE_COLUMNS = 4


def figure(report: dict, path: Path) -> None:
    """The scores' bars above, every run's learning curve below (a panel per dataset)."""
    names = list(report["results"])
    curve_rows = -(-len(names) // CURVE_COLUMNS)
    fig = plt.figure(figsize=(max(10, 2.4 * len(names)), 4.5 + 2.6 * curve_rows))
    grid = fig.add_gridspec(1 + curve_rows, CURVE_COLUMNS, height_ratios=[1.7] + [1] * curve_rows)
    score_bars(report, fig.add_subplot(grid[0, :]))
    for k, name in enumerate(names):
        learning_panel(name, report["curves"].get(name, {}), fig.add_subplot(grid[1 + k // CURVE_COLUMNS, k % CURVE_COLUMNS]))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    if report.get("diagnosis"):
        diagnosis_figure(report, path.with_name(f"{path.stem}_diagnosis.png"))


def diagnosis_figure(report: dict, path: Path) -> None:
    """A column per dataset with diagnosed runs: score, the critic's Q gap (policy minus data), the actor's
    distance to the data; a colour per seed, QCFS solid, ReLU dashed, as the learning curves."""
    names = list(report["diagnosis"])
    fig, axes = plt.subplots(3, len(names), figsize=(3.2 * len(names) + 1, 7.5), sharex="col", squeeze=False)
    for k, name in enumerate(names):
        runs = report["diagnosis"][name]
        learning_panel(name, {run: report["curves"].get(name, {}).get(run, []) for run in runs}, axes[0, k])
        for row, label, value in ((1, "Q(s, pi(s)) - Q(s, a)", lambda r: r[2] - r[1]),
                                  (2, "|pi(s) - a|^2", lambda r: r[3])):
            for run, points in sorted(runs.items()):
                activation, seed = run.split("-seed")
                axes[row, k].plot([r[0] / 1000 for r in points], [value(r) for r in points],
                                  "-" if activation == "qcfs" else "--", color=f"C{int(seed) % 10}", linewidth=1)
            axes[row, k].set_ylabel(label, fontsize=8)
            axes[row, k].tick_params(labelsize=7)
        axes[2, k].set_yscale("log")
        axes[2, k].set_xlabel("gradient steps (k)", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def learning_panel(name: str, curves: dict[str, list[list[float]]], ax) -> None:
    """Evaluations during TD3+BC training: QCFS runs solid, ReLU dashed, a colour per seed."""
    for run, points in sorted(curves.items()):
        if points:
            activation, seed = run.split("-seed")
            steps, scores = zip(*points)
            ax.plot(np.array(steps) / 1000, scores, "-" if activation == "qcfs" else "--", color=f"C{int(seed) % 10}",
                    label=f"{activation} {seed}", linewidth=1)
    ax.set_title(_title(name), fontsize=9)
    ax.set_xlabel("gradient steps (k)", fontsize=8)
    ax.set_ylabel("score", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=6, ncol=2)


def score_bars(report: dict, ax) -> None:
    """Bars per dataset and variant (mean +- std over seeds), the paper's value as a black tick."""
    names = list(report["results"])
    width = 0.8 / len(VARIANTS)
    for j, variant in enumerate(VARIANTS):
        x = np.arange(len(names)) + (j - len(VARIANTS) / 2 + 0.5) * width
        means = [report["results"][n].get(variant, {}).get("mean", np.nan) for n in names]
        stds = [report["results"][n].get(variant, {}).get("std", 0.0) for n in names]
        ax.bar(x, means, width, yerr=stds, label=LABELS[variant], capsize=2)
        paper = [paper_value(PAPER.get(dataset_key(n), {}).get(variant)) for n in names]
        ax.plot(x, paper, "_", color="black", markersize=9, markeredgewidth=2, label="paper" if j == 0 else None)
    ax.set_xticks(range(len(names)), [_title(n) for n in names])
    ax.set_ylabel("D4RL-normalised score")
    ax.legend(ncol=8, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.08))


def paper_value(text: str | None) -> float:
    """``"112.2±0.2"`` -> 112.2; NaN where the paper has no value."""
    return float(text.split("±")[0]) if text else np.nan


def write_report(runs_dir: Path, out: Path, episodes: int, command: str, data_dir: Path | None = None,
                 models_dir: Path | None = None, rescore: bool = False, keep_missing: bool = True) -> dict:
    """Score every run (or take its kept scores), write the tables and figure to ``out``, and
    (with ``models_dir``) ship the best spiking actor of every task there. With ``keep_missing``,
    the pairs, datasets and shipped models of the report already in ``out`` whose runs are not
    under ``runs_dir`` stay in the new one, marked as kept."""
    kept = kept_report(out) if keep_missing else {}
    scored, training, curves, diagnosis, adaptive_scores = score_runs(runs_dir, episodes, rescore)
    archived = archived_pairs(out) if keep_missing else {}
    drop_archives(out, keep=set(scored) | set(archived))
    for name, runs in scored.items():
        archive_pair(out, name, episodes, runs)
    derived = sorted(set(archived) - set(scored))
    pairs = {**archived, **{name: {"episodes": episodes, "runs": runs} for name, runs in scored.items()}}
    results = {name: {**summarise([pair["runs"][run] for run in sorted(pair["runs"])]), "episodes": pair["episodes"]}
               for name, pair in pairs.items()}
    carried = sorted(set(kept.get("results", {})) - set(results))
    for name in carried:
        results[name] = {"episodes": kept["episodes"], **kept["results"][name]}
    for name in derived + carried:
        training[name], curves[name] = kept.get("training", {}).get(name, {}), kept.get("curves", {}).get(name, {})
        if name in kept.get("diagnosis", {}):
            diagnosis[name] = kept["diagnosis"][name]
    if not results:
        raise ValueError(f"no QCFS actors under {runs_dir} (snn-robot train td3bc --activation qcfs)")
    results = dict(sorted(results.items()))
    comparisons = {name: c for name, result in results.items() if (c := run_level(result, result["episodes"]))}
    best = {n: max(r[v]["mean"] for v in ("i1", "i2", "i3", "adaptive")) for n, r in results.items()}
    with_relu = [n for n, r in results.items() if "relu" in r]
    summary = {
        "pairs": len(results), "calibrated_wins": sum(r["calibrated_beats_i0"] for r in results.values()),
        "gap_snn_qcfs": float(np.mean([best[n] - results[n]["qcfs"]["mean"] for n in results])),
        "gap_qcfs_relu": float(np.mean([results[n]["qcfs"]["mean"] - results[n]["relu"]["mean"] for n in with_relu]))
        if with_relu else float("nan"),
        **preregistered_counts(comparisons),
        "collapsed_runs": collapse_counts(curves),
    }
    summary.update(fidelity_summary(out))
    datasets = dataset_summaries(data_dir) if data_dir is not None else []
    made_here = {d["env_id"] for d in datasets}
    remade = {d["env_id"] for d in kept.get("datasets", []) if d["env_id"] in made_here and d not in datasets}
    remade = sorted(remade | set(kept.get("remade", [])))  # said until those pairs are trained again
    datasets += [d for d in kept.get("datasets", []) if d["env_id"] not in made_here]
    report = {"command": command, "episodes": episodes, "results": results, "comparisons": comparisons,
              "summary": summary, "training": training, "curves": curves, "diagnosis": dict(sorted(diagnosis.items())),
              "datasets": sorted(datasets, key=lambda d: d["env_id"]), "kept": carried, "derived": derived,
              "remade": [env_id for env_id in remade if any(_env_of(n) == env_id for n in derived + carried)]}
    report["shipped"] = kept.get("shipped", {})  # without models_dir, the models shipped before stay
    if models_dir is not None:
        kept_seeds = Counter()
        for name in derived + carried:
            kept_seeds[_env_of(name)] += results[name]["qcfs"]["seeds"]
        report["shipped"] = ship_best(adaptive_scores, models_dir, data_dir, command, report["shipped"], kept_seeds)
    return write_results(out, "calibration", report, markdown, figure)


def _env_of(dataset_dir: str) -> str:
    return mujoco_task_of_dataset(dataset_key(dataset_dir)[0]).env_id


def preregistered_counts(comparisons: dict[str, dict]) -> dict:
    """Over the pairs with the seeds and episodes the comparison asks: where adaptive I beats, or loses to,
    I = 0 and its QCFS ANN at run-level p < 0.05."""
    counted = [c for c in comparisons.values() if c["preregistered"]]

    def count(other: str, sign: int) -> int:
        return sum(c[other]["p"] < 0.05 and sign * c[other]["mean"] > 0 for c in counted)

    return {"pairs_preregistered": len(counted),
            "adaptive_vs_i0_wins_p05": count("minus_i0", 1), "adaptive_vs_i0_losses_p05": count("minus_i0", -1),
            "adaptive_vs_qcfs_wins_p05": count("minus_qcfs", 1), "adaptive_vs_qcfs_losses_p05": count("minus_qcfs", -1)}


def drop_archives(out: Path, keep: set[str]) -> None:
    """Remove the archived pairs of ``out`` not in ``keep`` (``--drop-missing`` leaves them out of the report)."""
    for path in (out / ARCHIVE).glob("*.json"):
        if path.stem not in keep:
            path.unlink()


FIDELITY_KEYS = ("open_loop_error_ratio_adaptive_over_i0", "crpi_compared", "literal_mode_reported", "shipped_heldout")


def fidelity_summary(out: Path) -> dict:
    """What ``snn-robot report fidelity`` measured into ``out`` (conversion_fidelity.json), for this
    report's summary: nothing where it has not run."""
    path = out / "conversion_fidelity.json"
    if not path.exists():
        return {}
    measured = json.loads(path.read_text())["summary"]
    return {key: measured[key] for key in FIDELITY_KEYS}


def kept_report(out: Path) -> dict:
    """The report an earlier run wrote to ``out`` (empty if none), refusing a file that is not one rather than
    writing over what it holds."""
    path = out / "calibration.json"
    if not path.exists():
        return {}
    try:
        kept = json.loads(path.read_text())
        is_report = isinstance(kept.get("episodes"), int) and all(
            isinstance(kept.get(k, {}), dict) for k in ("results", "training", "curves", "shipped")) and all(
            "qcfs" in r and "calibrated_beats_i0" in r for r in kept.get("results", {}).values())
    except (json.JSONDecodeError, TypeError, AttributeError):
        is_report = False
    if not is_report:
        raise ValueError(f"{path} is not a calibration report: move it away, or pass --drop-missing to write a new one")
    return kept


