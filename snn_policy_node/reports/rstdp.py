"""The reproduction of paper 004's multi-parameter experiment (Figure 4, Table 3).

For each task and each of the "random normal" and "random extreme" profiles: 10 seeded
parameter settings x every trained model x the 100 evaluation seeds, before and after r-STDP.
All runs of one task and profile (or sweep) adapt together as one population, whose state
is saved every 10 episodes; an interrupted report resumes where it stopped.
"""

import json
import os
from pathlib import Path

import numpy as np
from scipy import stats

from sim_bridge.randomization import draw_settings, sweep_settings
from sim_bridge.tasks import physics_defaults
from snn_policy_node.atomic import atomic_path
from snn_policy_node.experiments.adaptation import AdaptationConfig, adapt_population, saved_population_returns, saved_timing
from snn_policy_node.experiments.evaluation import ADAPT_SEEDS, EVAL_SEEDS, HELDOUT_SEEDS, evaluate
from snn_policy_node.policy.model_io import load_model
from snn_policy_node.reports.results import write_results
from snn_policy_node.snn.rstdp import model_amplitudes
from snn_policy_node.tasks import dsqn_task

SETTINGS_PER_PROFILE = 10
SETTINGS_SEEDS = {"normal": 4_000, "extreme": 4_001}  # seeds of the parameter draws

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


def stop_at(env_id: str) -> float | None:
    """The best possible evaluation mean, where one exists (CartPole: every episode at 200)."""
    return 200.0 if env_id == "CartPole-v0" else None


def population_files(work_dir: Path, env_id: str, name: str, sign: float) -> tuple[Path, Path]:
    """A population's finished runs (JSON) and its saved state while it runs."""
    stem = f"{env_id}-{name}-sign{sign:+g}"
    return work_dir / f"{stem}.json", work_dir / f"{stem}.state.pt"


def run_cells(env_id: str, name: str, settings: list[dict], models: list[Path], work_dir: Path,
              sign: float, episodes: int, compute: bool = True) -> list[dict] | None:
    """Adapt every model under every setting as one population; resume from ``work_dir``.

    Every run's trained and selected weights are also scored on the held-out seeds. With
    ``compute`` false a population that has not finished is left alone and None returned."""
    path, state_path = population_files(work_dir, env_id, name, sign)
    config = AdaptationConfig(episodes=episodes, sign=sign, stop_at=stop_at(env_id))
    if path.exists():
        cells = json.loads(path.read_text())
        check_cells(path, cells, models, settings, episodes)
    elif compute:
        cells = adapt_cells(env_id, settings, models, state_path, config)
    else:
        return None
    if "heldout_after" not in cells[0]:
        trained, selected = saved_population_returns(
            [load_model(c["model"])[0] for c in cells], dsqn_task(env_id), [c["setting"] for c in cells], state_path,
            HELDOUT_SEEDS, config.layer)
        for cell, before, after in zip(cells, trained, selected):
            cell.update(heldout_before=before.tolist(), heldout_after=after.tolist())
        with atomic_path(path) as temporary:
            temporary.write_text(json.dumps(cells))
    return cells


def check_cells(path: Path, cells: list[dict], models: list[Path], settings: list[dict], episodes: int) -> None:
    """Finished runs are reused only for the same models, settings and episode budget."""
    runs = [(str(m), s) for m in models for s in settings]
    if [(c["model"], c["setting"]) for c in cells] != runs or cells[0]["max_episodes"] != episodes:
        raise ValueError(f"{path} holds other runs (models, settings or --episodes differ from this report's); "
                         "give another --work-dir")


def progress(env_id: str, name: str, work_dir: Path, sign: float) -> str:
    """How far an unfinished population got, from its saved state."""
    state_path = population_files(work_dir, env_id, name, sign)[1]
    if not state_path.exists():
        return "not started"
    return f"{saved_timing(state_path)['episodes']} training episodes done (saved every 10)"


def adapt_cells(env_id: str, settings: list[dict], models: list[Path], state_path: Path,
                config: AdaptationConfig) -> list[dict]:
    """One cell per (model, setting): returns on the evaluation seeds before and after r-STDP."""
    state_path.parent.mkdir(parents=True, exist_ok=True)
    runs = [(m, k) for m in range(len(models)) for k in range(len(settings))]
    loaded = [load_model(models[m]) for m, _ in runs]
    population = [model for model, _ in loaded]
    amplitudes = [model_amplitudes(model.layers[config.layer].weight, checkpoint.provenance) for model, checkpoint in loaded]
    results = adapt_population(population, dsqn_task(env_id), [settings[k] for _, k in runs], config,
                               state_path=state_path, progress=True, amplitudes=amplitudes)
    timing = saved_timing(state_path)
    cells = [
        {
            "model": str(models[m]),
            "setting": settings[k],
            "before": r.before.tolist(),
            "after": r.after.tolist(),
            "best_episode": r.best_episode,
            "eval_means": r.eval_means,
            "train_returns": r.train_returns,
            "seconds": timing["seconds"] / len(runs),
            "timed_episodes": timing["timed_episodes"],
            "episodes": timing["episodes"],
            "max_episodes": config.episodes,
        }
        for (m, k), r in zip(runs, results)
    ]
    return cells


def profile_settings(env_id: str, profile: str) -> list[dict]:
    return draw_settings(env_id, profile, SETTINGS_PER_PROFILE, SETTINGS_SEEDS[profile])


def default_returns(env_id: str, models: list[Path], seeds=EVAL_SEEDS) -> np.ndarray:
    return np.concatenate([evaluate(load_model(path)[0], env_id, seeds) for path in models])


def summarise(default: np.ndarray, cells: list[dict], heldout_default: np.ndarray | None = None) -> dict:
    before = np.concatenate([c["before"] for c in cells])
    after = np.concatenate([c["after"] for c in cells])
    drop = lambda x: 100.0 * (default.mean() - x.mean()) / abs(default.mean())  # noqa: E731
    test = stats.ttest_rel(before, after)
    return {
        "runs": len(before),
        "adaptation_runs": len(cells),
        "default_mean": float(default.mean()),
        "default_std": float(default.std()),
        "before_mean": float(before.mean()),
        "before_std": float(before.std()),
        "after_mean": float(after.mean()),
        "after_std": float(after.std()),
        "drop_before_pct": float(drop(before)),
        "drop_after_pct": float(drop(after)),
        "recovered_pct": recovered_pct(default, before, after),
        "episodes_to_best_mean": float(np.mean([c["best_episode"] for c in cells])),
        "episodes_to_best_std": float(np.std([c["best_episode"] for c in cells])),
        "t": float(test.statistic),
        "p": float(test.pvalue),
        **(_heldout_summary(heldout_default, cells) if heldout_default is not None else {}),
        "seconds": float(sum(c["seconds"] for c in cells)),
        # runs resumed from a state saved without its time are timed from the resume on
        "timed_episodes": min(c.get("timed_episodes", -1) for c in cells),
        "episodes": max(c.get("episodes", -1) for c in cells),
    }


def recovered_pct(default: np.ndarray, before: np.ndarray, after: np.ndarray) -> float | None:
    """How much of the randomization's drop r-STDP won back; None where randomization caused no drop."""
    drop = default.mean() - before.mean()
    return float(100 * (after.mean() - before.mean()) / drop) if drop > 0 else None


def _heldout_summary(default: np.ndarray, cells: list[dict]) -> dict:
    """Trained against selected weights on seeds that took no part in the selection."""
    if not all("heldout_after" in c for c in cells):
        return {}
    before = np.concatenate([c["heldout_before"] for c in cells])
    after = np.concatenate([c["heldout_after"] for c in cells])
    test = stats.ttest_rel(before, after)
    return {"heldout_default_mean": float(default.mean()),
            "heldout_before_mean": float(before.mean()), "heldout_after_mean": float(after.mean()),
            "heldout_recovered_pct": recovered_pct(default, before, after),
            "heldout_t": float(test.statistic), "heldout_p": float(test.pvalue)}


def summarise_sweep(parameter: str, settings: list[dict], cells: list[dict], env_id: str) -> list[dict]:
    """Per sweep point: returns before and after r-STDP, and episodes to the best weights."""
    default = physics_defaults(env_id)[parameter]
    points = []
    for k, setting in enumerate(settings):
        here = [c for c in cells if c["setting"] == setting]
        before = np.concatenate([c["before"] for c in here])
        after = np.concatenate([c["after"] for c in here])
        best = [c["best_episode"] for c in here]
        points.append({
            "value": setting[parameter],
            "change_pct": 100 * (setting[parameter] - default) / default,
            "before_mean": float(before.mean()), "before_std": float(before.std()),
            "after_mean": float(after.mean()), "after_std": float(after.std()),
            "episodes_to_best_mean": float(np.mean(best)), "episodes_to_best_std": float(np.std(best)),
        })
    return points


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


def write_report(models: dict[str, list[Path]], profiles: list[str], work_dir: Path, out_dir: Path,
                 sign: float | None, episodes: int, command: str, sweep_points: int = 0,
                 sweep_parameters: list[str] | None = None, finished_only: bool = False) -> dict:
    """``sign`` None: each task's own (``tasks.DSQNTask.sign``). Runs of the other sign found in
    ``work_dir`` are summarised as an ablation. ``sweep_parameters`` None sweeps every parameter
    of a task; a list sweeps those of them that the task has. ``finished_only`` reports the
    populations that have finished and lists the others with their progress."""
    if sweep_parameters is not None:
        known = {name for env_id in models for name in physics_defaults(env_id)}
        if unknown := set(sweep_parameters) - known:
            raise ValueError(f"{sorted(unknown)} are no parameters of {list(models)}")
        if not sweep_points:
            raise ValueError("sweep parameters were named, but there are no sweep points")
    results, sweeps, ablation, signs, pending = {}, {}, {}, {}, []

    def cells_of(env_id: str, name: str, settings: list[dict]) -> list[dict] | None:
        cells = run_cells(env_id, name, settings, models[env_id], work_dir, signs[env_id], episodes, not finished_only)
        if cells is None:
            pending.append({"env_id": env_id, "population": name, "progress": progress(env_id, name, work_dir, signs[env_id])})
        return cells

    for env_id, paths in models.items():
        signs[env_id] = dsqn_task(env_id).sign if sign is None else sign
        if sweep_points:
            sweeps[env_id] = {}
            for parameter in physics_defaults(env_id):
                if sweep_parameters is not None and parameter not in sweep_parameters:
                    continue
                settings = sweep_settings(env_id, parameter, sweep_points)
                if (cells := cells_of(env_id, f"sweep-{parameter}", settings)) is not None:
                    sweeps[env_id][parameter] = summarise_sweep(parameter, settings, cells, env_id)
        default, heldout_default = default_returns(env_id, paths), default_returns(env_id, paths, HELDOUT_SEEDS)
        finished = {profile: cells for profile in profiles
                    if (cells := cells_of(env_id, profile, profile_settings(env_id, profile))) is not None}
        if finished:
            results[env_id] = {profile: summarise(default, cells, heldout_default) for profile, cells in finished.items()}
        other_sign = {profile: run_cells(env_id, profile, profile_settings(env_id, profile), paths, work_dir,
                                         -signs[env_id], episodes, compute=False) for profile in profiles}
        ablation[env_id] = {profile: summarise(default, cells, heldout_default)
                            for profile, cells in other_sign.items() if cells is not None}
    report = {
        "command": command,
        "cpu_cores": os.cpu_count(),
        "work_dir": str(work_dir),
        "sign": signs,
        "ablation": {env_id: a for env_id, a in ablation.items() if a},
        "episodes": episodes,
        "models": {env_id: [str(p) for p in paths] for env_id, paths in models.items()},
        "models_per_task": max(len(p) for p in models.values()),
        "settings": {
            env_id: {p: profile_settings(env_id, p) for p in profiles}
            for env_id in models
        },
        "results": results,
        "sweeps": {env_id: s for env_id, s in sweeps.items() if s},
        "pending": pending,
        "paper": PAPER,
    }
    write_results(out_dir, "rstdp", report, markdown, lambda r, path: figure(r["results"], path))
    if report["sweeps"]:
        sweep_figure(report["sweeps"], out_dir / "rstdp_sweeps.png")
    return report
