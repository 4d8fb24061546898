"""The report of paper 004's r-STDP study (``experiments.rstdp_study``): Markdown, JSON and figures.

Writes what the study found beside the paper's figures; runs nothing.
"""

from pathlib import Path

import numpy as np

from snn_policy_node.evaluation.seeds import ADAPT_SEEDS, EVAL_SEEDS, HELDOUT_SEEDS
from snn_policy_node.experiments.rstdp_study import SETTINGS_PER_PROFILE, SETTINGS_SEEDS
from snn_policy_node.reports.results import write_results

# Paper 004, section 3: default return and randomized return before/after r-STDP, drops in %.
PAPER = {
    "CartPole-v0": {
        "normal": {"drop_before_pct": 5.47, "drop_after_pct": 0.401, "t": -22.16},
        "extreme": {"drop_before_pct": 19.28, "drop_after_pct": 2.05, "t": -35.71},
    },
    "Acrobot-v1": {
        "default": -91.22,
        "normal": {"drop_before_pct": 5.34, "after": -88.2, "t": -10.13},
        "extreme": {"drop_before_pct": 11.4, "after": -86.90, "t": -11.97},
    },
}


def sweep_figure(sweeps: dict, path: Path) -> None:
    """Panels in the style of the paper's Figure 3: return before/after and episodes to best."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = [(env_id, parameter) for env_id, params in sweeps.items() for parameter in params]
    fig, axes = plt.subplots(2, len(columns), figsize=(3.4 * len(columns), 5.5), squeeze=False, sharex="col")
    for col, (env_id, parameter) in enumerate(columns):
        points = sweeps[env_id][parameter]
        x = [p["change_pct"] for p in points]
        top, bottom = axes[0][col], axes[1][col]
        for key, color, label in (("before", "tab:red", "randomized"), ("after", "tab:green", "+ r-STDP")):
            top.errorbar(x, [p[f"{key}_mean"] for p in points], yerr=[p[f"{key}_std"] for p in points],
                         fmt="o-", color=color, label=label, capsize=3)
        bottom.errorbar(x, [p["episodes_to_best_mean"] for p in points],
                        yerr=[p["episodes_to_best_std"] for p in points], fmt="o-", color="tab:gray", capsize=3)
        top.set_title(f"{env_id}: {parameter}", fontsize=9)
        bottom.set_xlabel("change from default (%)")
    axes[0][0].set_ylabel("mean return")
    axes[1][0].set_ylabel("episodes to best")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def figure(results: dict, path: Path) -> None:
    """Bars in the style of the paper's Figure 4: default, randomized, randomized + r-STDP."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    envs = list(results)
    if not envs:
        return
    fig, axes = plt.subplots(1, len(envs), figsize=(5 * len(envs), 4), squeeze=False)
    for ax, env_id in zip(axes[0], envs):
        profiles = list(results[env_id])
        x = np.arange(len(profiles))
        bars = [
            ("default", "default_mean", "default_std", "tab:blue"),
            ("randomized", "before_mean", "before_std", "tab:red"),
            ("randomized + r-STDP", "after_mean", "after_std", "tab:green"),
        ]
        for i, (label, mean, std, color) in enumerate(bars):
            values = [results[env_id][p][mean] for p in profiles]
            errors = [results[env_id][p][std] for p in profiles]
            ax.bar(x + (i - 1) * 0.27, values, 0.27, yerr=errors, label=label, color=color, capsize=3)
        ax.set_xticks(x, [f"random {p}" for p in profiles])
        ax.set_title(env_id)
        ax.set_ylabel("mean return (100 seeds x settings x models)")
        if env_id == "Acrobot-v1":
            ax.invert_yaxis()
            ax.set_ylabel("mean return (less negative is better)")
    axes[0][0].legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _pending_lines(pending: list[dict]) -> list[str]:
    if not pending:
        return []
    return (["## Not finished yet", "", "Reported without these populations (`--finished-only`); the same command "
             "without that flag runs them, resuming from their saved state:", ""]
            + [f"- {p['env_id']} {p['population']}: {p['progress']}" for p in pending] + [""])


def _span(seeds: range) -> str:
    return f"{seeds[0]}-{seeds[-1]}"


def markdown(report: dict) -> str:
    lines = [
        "# r-STDP domain adaptation (paper 004), reproduced",
        "",
        f"Reproduce with: `{report['command']}`. Finished runs are read from `{report['work_dir']}` (one JSON file "
        "per task, profile or sweep, and sign, with every run's returns per seed); `--work-dir` set to an empty folder "
        "recomputes them all (times at the end).",
        "",
        f"Per task and profile: {SETTINGS_PER_PROFILE} parameter settings drawn with seed "
        f"{SETTINGS_SEEDS['normal']} (normal) / {SETTINGS_SEEDS['extreme']} (extreme) x "
        f"{report['models_per_task']} models x {len(EVAL_SEEDS)} evaluation seeds ({_span(EVAL_SEEDS)}). r-STDP: at most "
        f"{report['episodes']} training episodes on seeds {_span(ADAPT_SEEDS[:report['episodes']])}, weights changed once "
        "per episode by dw = sign r c ("
        + ", ".join(f"{env_id} {s:+g}" for env_id, s in report["sign"].items())
        + "), best evaluation weights kept; CartPole stops early at a mean of 200, the best possible. "
        "Drop = (default - randomized) / |default|; the t-test pairs before and after per run and evaluation seed.",
        "",
        "| task | profile | default | randomized | randomized + r-STDP | drop before | drop after | recovered | "
        "episodes to best | t | p | paper |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for env_id, profiles in report["results"].items():
        for profile, r in profiles.items():
            paper = PAPER[env_id][profile]
            paper_text = ", ".join(f"{k} {v}" for k, v in paper.items())
            recovered = "n/a" if r["recovered_pct"] is None else f"{r['recovered_pct']:.1f} %"
            lines.append(
                f"| {env_id} | {profile} | {r['default_mean']:.2f} +- {r['default_std']:.2f} | "
                f"{r['before_mean']:.2f} +- {r['before_std']:.2f} | {r['after_mean']:.2f} +- {r['after_std']:.2f} | "
                f"{r['drop_before_pct']:.2f} % | {r['drop_after_pct']:.2f} % | {recovered} | "
                f"{r['episodes_to_best_mean']:.1f} +- {r['episodes_to_best_std']:.1f} | {r['t']:.2f} | {r['p']:.2g} | "
                f"{paper_text} |"
            )
    if report["results"]:
        lines += ["", "![before and after r-STDP](rstdp.png)"]
    lines += [""] + _pending_lines(report["pending"]) + _heldout_lines(report["results"])
    lines += _target_lines(report["results"])
    if report["ablation"]:
        lines += ["## The sign of dw", "",
                  "Paper eq. 7 prints dw = r c; the authors' code flips the sign for CartPole. The same runs with the "
                  "other sign:", "",
                  "| task | profile | sign | randomized | randomized + r-STDP | drop before | drop after | recovered | t | p |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for env_id, profiles in report["ablation"].items():
            for profile, r in profiles.items():
                recovered = "n/a" if r["recovered_pct"] is None else f"{r['recovered_pct']:.1f} %"
                lines.append(
                    f"| {env_id} | {profile} | {-report['sign'][env_id]:+g} | {r['before_mean']:.2f} | "
                    f"{r['after_mean']:.2f} | {r['drop_before_pct']:.2f} % | {r['drop_after_pct']:.2f} % | {recovered} | "
                    f"{r['t']:.2f} | {r['p']:.2g} |")
        lines.append("")
    if report["sweeps"]:
        lines += ["## Single-parameter sweeps (section 3, Figure 3)", "",
                  "| task | parameter | change | randomized | + r-STDP | episodes to best |", "|---|---|---|---|---|---|"]
        for env_id, params in report["sweeps"].items():
            for parameter, points in params.items():
                for p in points:
                    lines.append(
                        f"| {env_id} | {parameter} | {p['change_pct']:+.0f} % | {p['before_mean']:.2f} +- {p['before_std']:.2f} | "
                        f"{p['after_mean']:.2f} +- {p['after_std']:.2f} | {p['episodes_to_best_mean']:.1f} |"
                    )
        lines += ["", "![single-parameter sweeps](rstdp_sweeps.png)", ""]
    lines += ["## Time on this machine", ""]
    for env_id, profiles in report["results"].items():
        for profile, r in profiles.items():
            lines.append(f"- {env_id} {profile}: {r['seconds'] / 60:.1f} min of adaptation and evaluation "
                         f"({r['adaptation_runs']} adaptation runs, {report['cpu_cores']} CPU cores){_timed(r)}")
    return "\n".join(lines) + "\n"


RECOVERY_TARGET_PCT = 80.0  # CartPole: share of the randomization drop won back
IMPROVEMENT_P = 0.01  # Acrobot: a paired improvement at this significance


def _target_lines(results: dict) -> list[str]:
    """The issue's targets, judged on the evaluation seeds and, where played, on held-out seeds."""
    lines = ["## Targets", ""]
    for env_id, profiles in results.items():
        for profile, r in profiles.items():
            judged = [("evaluation seeds", "")] + [("held-out seeds", "heldout_")] * ("heldout_after_mean" in r)
            if env_id == "CartPole-v0":
                verdicts = [f"{r[k + 'recovered_pct']:.1f} % on {where}: "
                            f"{'met' if (r[k + 'recovered_pct'] or 0) >= RECOVERY_TARGET_PCT else 'not met'}"
                            if r[k + "recovered_pct"] is not None else f"no drop on {where}" for where, k in judged]
                goal = f"recover >= {RECOVERY_TARGET_PCT:.0f} % of the drop"
            else:
                verdicts = [f"{r[k + 'after_mean'] - r[k + 'before_mean']:+.2f} (p = {r[k + 'p']:.2g}) on {where}: "
                            f"{'met' if r[k + 'after_mean'] > r[k + 'before_mean'] and r[k + 'p'] < IMPROVEMENT_P else 'not met'}"
                            for where, k in judged]
                goal = f"improve the randomized return with p < {IMPROVEMENT_P}"
            lines.append(f"- {env_id} {profile}, {goal}: " + "; ".join(verdicts) + ".")
    return lines + [""]


def _heldout_lines(results: dict) -> list[str]:
    """The selected weights on seeds that took no part in selecting them."""
    rows = [(env_id, profile, r) for env_id, profiles in results.items() for profile, r in profiles.items()
            if "heldout_after_mean" in r]
    if not rows:
        return []
    lines = ["## On held-out seeds", "",
             f"The protocol keeps the weights with the best mean over the {len(EVAL_SEEDS)} evaluation seeds after each "
             "training episode, so \"randomized + r-STDP\" above is the best of up to that many evaluations on the same "
             f"seeds and reads optimistically. Here the same trained and selected weights play {len(HELDOUT_SEEDS)} seeds "
             f"({_span(HELDOUT_SEEDS)}) that took no part in training, validation or selection:", "",
             "| task | profile | default | randomized | randomized + r-STDP | recovered | t | p |",
             "|---|---|---|---|---|---|---|---|"]
    for env_id, profile, r in rows:
        recovered = "n/a" if r["heldout_recovered_pct"] is None else f"{r['heldout_recovered_pct']:.1f} %"
        lines.append(f"| {env_id} | {profile} | {r['heldout_default_mean']:.2f} | {r['heldout_before_mean']:.2f} | "
                     f"{r['heldout_after_mean']:.2f} | {recovered} | {r['heldout_t']:.2f} | {r['heldout_p']:.2g} |")
    return lines + [""]


def _timed(summary: dict) -> str:
    """What the time covers, where that is not the whole protocol."""
    timed, episodes = summary["timed_episodes"], summary["episodes"]
    if timed < 0:
        return " (timed in the session that finished the runs)"
    if timed < episodes:
        return f"; {timed} of {episodes} training episodes timed (resumed from a state saved without its time)"
    return ""


def write_report(study: dict, out_dir: Path, command: str) -> dict:
    """``rstdp.{json,md,png}`` (and ``rstdp_sweeps.png``) in ``out_dir`` from a finished ``run_study``."""
    report = {"command": command, **study, "paper": PAPER}
    write_results(out_dir, "rstdp", report, markdown, lambda r, path: figure(r["results"], path))
    if report["sweeps"]:
        sweep_figure(report["sweeps"], out_dir / "rstdp_sweeps.png")
    return report
