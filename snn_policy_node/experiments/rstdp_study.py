"""Paper 004's multi-parameter experiment (Figure 4, Table 3) and its single-parameter sweeps (Figure 3).

For each task and each of the "random normal" and "random extreme" profiles: 10 seeded
parameter settings x every trained model x the 100 evaluation seeds, before and after r-STDP.
All runs of one task and profile (or sweep) adapt together as one population, whose state
is saved every 10 episodes; an interrupted study resumes where it stopped. Finished
populations are kept as JSON in the work directory, from which the report is rebuilt.
"""

import functools
import json
import os
from pathlib import Path

import numpy as np
from scipy import stats

from sim_bridge.randomization import draw_settings, sweep_settings
from sim_bridge.tasks import physics_defaults
from snn_policy_node.atomic import atomic_path
from snn_policy_node.evaluation.batched import evaluate
from snn_policy_node.evaluation.seeds import EVAL_SEEDS, HELDOUT_SEEDS
from snn_policy_node.experiments.adaptation import AdaptationConfig, adapt_population, saved_population_returns, saved_timing
from snn_policy_node.experiments.grid import Compute, Grid
from snn_policy_node.policy.model_io import load_model
from snn_policy_node.snn.rstdp import model_amplitudes
from snn_policy_node.tasks import dsqn_task

SETTINGS_PER_PROFILE = 10
SETTINGS_SEEDS = {"normal": 4_000, "extreme": 4_001}  # seeds of the parameter draws
TUNING_SETTINGS_SEEDS = {"normal": 5_000, "extreme": 5_001}  # the draws a rule's settings are tuned on

def stop_at(env_id: str) -> float | None:
    """The best possible evaluation mean, where one exists (CartPole: every episode at 200)."""
    return 200.0 if env_id == "CartPole-v0" else None


def population_files(work_dir: Path, env_id: str, name: str, sign: float) -> tuple[Path, Path]:
    """A population's finished runs (JSON) and its saved state while it runs."""
    stem = f"{env_id}-{name}-sign{sign:+g}"
    return work_dir / f"{stem}.json", work_dir / f"{stem}.state.pt"


def run_cells(env_id: str, name: str, settings: list[dict], models: list[Path], work_dir: Path,
              sign: float, episodes: int, compute: Compute = True) -> list[dict] | None:
    """Adapt every model under every setting as one population; resume from ``work_dir``.

    Every run's trained and selected weights are also scored on the held-out seeds. With
    ``compute`` false a population that has not finished is left alone and None returned; a
    :class:`Grid` takes it as a unit to run."""
    path, state_path = population_files(work_dir, env_id, name, sign)
    config = AdaptationConfig(episodes=episodes, sign=sign, stop_at=stop_at(env_id))
    if path.exists():
        cells = json.loads(path.read_text())
        check_cells(path, cells, models, settings, episodes)
    elif compute is True:
        cells = adapt_cells(env_id, settings, models, state_path, config)
    else:
        if isinstance(compute, Grid):
            compute.add(path.stem, functools.partial(run_cells, env_id, name, settings, models, work_dir, sign, episodes))
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


def profile_settings(env_id: str, profile: str, tuning: bool = False) -> list[dict]:
    """The profile's reported settings, or (``tuning``) the disjoint draws that tune a rule."""
    return draw_settings(env_id, profile, SETTINGS_PER_PROFILE, (TUNING_SETTINGS_SEEDS if tuning else SETTINGS_SEEDS)[profile])


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


def run_study(models: dict[str, list[Path]], profiles: list[str], work_dir: Path, sign: float | None, episodes: int,
              sweep_points: int = 0, sweep_parameters: list[str] | None = None, compute: Compute = True) -> dict:
    """Every population of the study, run or resumed, summarised (what ``reports.rstdp`` writes).

    ``sign`` None: each task's own (``DSQNTask.sign``). Runs of the other sign found in
    ``work_dir`` are summarised as an ablation. ``sweep_parameters`` None sweeps every parameter
    of a task; a list sweeps those of them that the task has. ``compute`` as :func:`run_cells` takes
    it: False summarises the populations that have finished and lists the others with their progress."""
    if sweep_parameters is not None:
        known = {name for env_id in models for name in physics_defaults(env_id)}
        if unknown := set(sweep_parameters) - known:
            raise ValueError(f"{sorted(unknown)} are no parameters of {list(models)}")
        if not sweep_points:
            raise ValueError("sweep parameters were named, but there are no sweep points")
    results, sweeps, ablation, signs, pending = {}, {}, {}, {}, []

    def cells_of(env_id: str, name: str, settings: list[dict]) -> list[dict] | None:
        cells = run_cells(env_id, name, settings, models[env_id], work_dir, signs[env_id], episodes, compute)
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
    return {
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
    }
