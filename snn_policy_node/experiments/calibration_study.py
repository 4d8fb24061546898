"""Paper 000's study on the runs of ``snn-robot train td3bc``: every variant of
``evaluation.actor_variants`` scored per training seed (scores kept beside each run, so a re-run
scores only new or retrained runs), summarised over seeds, with each run's training cost and
learning curve and the datasets it learned from."""

import functools
import hashlib
import json
import re
from pathlib import Path

import numpy as np
from tqdm import tqdm

from snn_policy_node.atomic import atomic_path
from snn_policy_node.evaluation.actor_variants import VARIANTS, evaluate_variants
from snn_policy_node.evaluation.statistics import paired
from snn_policy_node.experiments.grid import Grid
from snn_policy_node.tasks import mujoco_task_of_dataset
from snn_policy_node.training.logs import last_row, rows
from snn_policy_node.training.td3bc import DIAGNOSTICS


def find_runs(runs_dir: Path) -> dict[str, dict[str, list[Path]]]:
    """``runs_dir/<dataset>/<activation>-seed<S>/actor.pt`` grouped by dataset and activation."""
    found: dict[str, dict[str, list[Path]]] = {}
    for path in sorted(runs_dir.glob("*/*-seed*/actor.pt")):
        match = re.fullmatch(r"(relu|qcfs)-seed(\d+)", path.parent.name)
        if match:
            found.setdefault(path.parent.parent.name, {}).setdefault(match[1], []).append(path)
    return found


def training_costs(runs: dict[str, list[Path]]) -> dict[str, dict]:
    """Per activation: how many training runs, their gradient steps and wall-clock minutes."""
    costs = {}
    for activation, paths in runs.items():
        rows = [row for p in paths if (row := last_row(p.parent / "train_log.csv"))]
        if rows:
            costs[activation] = {"runs": len(rows), "steps": sorted({int(r["step"]) for r in rows}),
                                 "minutes_mean": float(np.mean([float(r["seconds"]) for r in rows]) / 60)}
    return costs


def learning_curves(runs: dict[str, list[Path]]) -> dict[str, list[list[float]]]:
    """Per run (``qcfs-seed0``, ...): its :func:`learning_curve`."""
    return {path.parent.name: learning_curve(path.parent) for paths in runs.values() for path in paths}


def learning_curve(run: Path) -> list[list[float]]:
    """The evaluations of a run's training (its train_log.csv), ``[step, normalised score]``."""
    return [[int(r["step"]), float(r["normalised_score"])] for r in rows(run / "train_log.csv")]


def training_diagnoses(runs: dict[str, list[Path]]) -> dict[str, list[list[float]]]:
    """Per run whose log has them: TD3+BC's diagnosis at each evaluation, ``[step, q_data, q_policy, bc_mse,
    saturated]`` (:meth:`TD3.diagnose`), what shows whether a falling curve follows a diverging critic."""
    found = {}
    for path in (path for paths in runs.values() for path in paths):
        logged = [r for r in rows(path.parent / "train_log.csv") if all(r.get(k) for k in DIAGNOSTICS)]
        if logged:
            found[path.parent.name] = [[int(r["step"]), *(float(r[k]) for k in DIAGNOSTICS)] for r in logged]
    return found


COLLAPSE = 0.5  # a run collapsed when, past half its training, two evaluations in a row fall below this share of the best


def collapsed(curve: list[list[float]]) -> bool:
    """Whether a learning curve (``[step, normalised score]`` per evaluation) fell, in the second half of its
    steps, below half the best score before it at two evaluations in a row: training got somewhere and lost it,
    even if it came back (the Walker2d expert run shipped before scored 85 at 55k steps, -0.1 at 85k and 90k,
    and 75 at 100k). One low evaluation is a policy that oscillates (Hopper's do, by 40 points between
    checkpoints); dips in the first half are the learner finding its feet."""
    best, low = float("-inf"), 0
    for step, score in curve:
        low = low + 1 if step > curve[-1][0] / 2 and best > 0 and score < COLLAPSE * best else 0
        if low == 2:
            return True
        best = max(best, score)
    return False


def dataset_summaries(data_dir: Path) -> list[dict]:
    """What ``snn-robot data generate`` made: its datasets.json and the online run's length and time."""
    summaries = []
    for path in sorted(data_dir.glob("*/seed*/datasets.json")):
        summary = json.loads(path.read_text())
        row = last_row(path.parent / "train_log.csv")
        if row:
            summary.update(online_steps=int(row["step"]), online_hours=float(row["seconds"]) / 3600)
        summaries.append(summary)
    return summaries


def dataset_key(dataset_dir: str) -> tuple[str, str]:
    """``snn-robot_hopper_medium-v0`` -> ("hopper", "medium")."""
    task, level = dataset_dir.split("_")[-2:]
    return task, level.rsplit("-v", 1)[0]


def summarise(per_seed: list[dict]) -> dict:
    """Per variant: mean, std and each training seed's score (in seed order, so that variants pair by seed)."""
    out = {}
    for name in VARIANTS:
        scores = [r[name]["score"] for r in per_seed if name in r]
        if scores:
            out[name] = {"mean": float(np.mean(scores)), "std": float(np.std(scores)), "seeds": len(scores),
                         "scores": scores}
            errors = [r[name]["error_spikes"] for r in per_seed if r.get(name, {}).get("error_spikes")]
            if errors:
                out[name]["error_spikes"] = np.mean(errors, axis=0).tolist()
    calibrated = max((out[n]["mean"] for n in ("i1", "i2", "i3", "adaptive") if n in out), default=None)
    out["calibrated_beats_i0"] = calibrated is not None and calibrated > out["i0"]["mean"]
    return out


SCORES_FILE = "scores.json"  # beside a QCFS run's actor.pt


def kept_scores(relu_path: Path | None, qcfs_path: Path, episodes: int) -> dict | None:
    """The scores kept beside a QCFS run for exactly these actors and ``episodes``, else None."""
    key = score_key(relu_path, qcfs_path, episodes)
    saved = qcfs_path.parent / SCORES_FILE
    try:
        kept = json.loads(saved.read_text())
        return kept["results"] if kept.get("key") == key else None
    except (FileNotFoundError, json.JSONDecodeError, AttributeError, KeyError, TypeError):
        return None  # missing or unreadable: scored again and replaced


def score_key(relu_path: Path | None, qcfs_path: Path, episodes: int) -> dict:
    return {"episodes": episodes, "qcfs": file_digest(qcfs_path), "relu": file_digest(relu_path) if relu_path else None}


def scored_seed(relu_path: Path | None, qcfs_path: Path, env_id: str, episodes: int, rescore: bool = False) -> dict:
    """``evaluate_variants`` of one training seed, kept in the QCFS run's scores.json with the
    digests of the actors it scored, so that a report re-run scores only new or retrained runs."""
    if not rescore and (kept := kept_scores(relu_path, qcfs_path, episodes)) is not None:
        return kept
    key = score_key(relu_path, qcfs_path, episodes)
    saved = qcfs_path.parent / SCORES_FILE
    results = evaluate_variants(relu_path, qcfs_path, env_id, episodes)
    with atomic_path(saved) as temporary:
        temporary.write_text(json.dumps({"key": key, "results": results}))
    return results


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def register_scores(grid: Grid, runs_dir: Path, episodes: int) -> None:
    """Every QCFS run under ``runs_dir`` without its current scores, as a unit of ``grid``."""
    for name, runs in find_runs(runs_dir).items():
        env_id = mujoco_task_of_dataset(dataset_key(name)[0]).env_id
        relu_by_seed = {p.parent.name.split("seed")[1]: p for p in runs.get("relu", [])}
        for path in runs.get("qcfs", []):
            register_score(grid, relu_by_seed.get(path.parent.name.split("seed")[1]), path, env_id, episodes)


def register_score(grid: Grid, relu_path: Path | None, qcfs_path: Path, env_id: str, episodes: int) -> None:
    """The scoring of one training seed as a unit of ``grid``, unless its current scores are kept."""
    if kept_scores(relu_path, qcfs_path, episodes) is None:
        grid.add(f"score-{qcfs_path.parent.parent.name}-{qcfs_path.parent.name}",
                 functools.partial(scored_seed, relu_path, qcfs_path, env_id, episodes))


def drop_scores(runs_dir: Path) -> None:
    """Forget every run's kept scores (``--rescore``): the next scoring scores them all again."""
    for path in runs_dir.glob(f"*/*-seed*/{SCORES_FILE}"):
        path.unlink()


def score_runs(runs_dir: Path, episodes: int, rescore: bool = False) -> tuple[dict, dict, dict, dict, dict]:
    """Per dataset: every QCFS run's scores (``{run: evaluate_variants' results}``), training costs, learning
    curves and training diagnoses (where logged); and per task the adaptive-I score of every QCFS run (what a
    shipped model is chosen by)."""
    scored, training, curves, diagnosis, adaptive_scores = {}, {}, {}, {}, {}
    found = find_runs(runs_dir)
    bar = tqdm(total=sum(len(runs.get("qcfs", [])) for runs in found.values()), desc="calibration report",
               unit="seed")
    for name, runs in found.items():
        training[name], curves[name] = training_costs(runs), learning_curves(runs)
        if diagnosed := training_diagnoses(runs):
            diagnosis[name] = diagnosed
        relu_by_seed = {p.parent.name.split("seed")[1]: p for p in runs.get("relu", [])}
        env_id = mujoco_task_of_dataset(dataset_key(name)[0]).env_id
        for path in runs.get("qcfs", []):
            bar.set_postfix_str(f"{name} {path.parent.name}")
            scores = scored_seed(relu_by_seed.get(path.parent.name.split("seed")[1]), path, env_id, episodes, rescore)
            scored.setdefault(name, {})[path.parent.name] = scores
            adaptive_scores.setdefault(env_id, []).append((path.parent, scores["adaptive"]["score"]))
            bar.update()
    bar.close()
    return scored, training, curves, diagnosis, adaptive_scores


PREREGISTERED_SEEDS, PREREGISTERED_EPISODES = 5, 50  # the comparison named before its runs asks at least these


def run_level(result: dict, episodes: int) -> dict | None:
    """Adaptive I against I = 0 and against its QCFS ANN, paired by training seed (each seed's score its mean
    over the same evaluation episodes, seeds 0..episodes-1): the comparison named before the runs, which
    counts where a pair has the seeds and episodes it asks. None where the pair lacks per-seed scores."""
    if not all("scores" in result.get(v, {}) for v in ("adaptive", "i0", "qcfs")):
        return None
    adaptive = result["adaptive"]["scores"]
    return {"seeds": len(adaptive), "episodes": episodes,
            "preregistered": len(adaptive) >= PREREGISTERED_SEEDS and episodes >= PREREGISTERED_EPISODES,
            "minus_i0": paired(adaptive, result["i0"]["scores"]), "minus_qcfs": paired(adaptive, result["qcfs"]["scores"])}


ARCHIVE = "calibration_runs"  # beside the report: every pair's per-episode returns, committed


def archive_pair(out: Path, name: str, episodes: int, runs: dict[str, dict]) -> None:
    """One pair's scored runs (``{run: evaluate_variants' results}``, every episode's return) as
    ``out/calibration_runs/<dataset>.json``, from which a checkout without the runs re-derives its tables."""
    (out / ARCHIVE).mkdir(parents=True, exist_ok=True)
    with atomic_path(out / ARCHIVE / f"{name}.json") as temporary:
        temporary.write_text(json.dumps({"episodes": episodes, "runs": dict(sorted(runs.items()))}))


def archived_pairs(out: Path) -> dict[str, dict]:
    """The pairs archived in ``out`` (:func:`archive_pair`), ``{name: {"episodes": n, "runs": runs}}``, refusing a
    file that is not an archive rather than mixing it in."""
    pairs = {}
    for path in sorted((out / ARCHIVE).glob("*.json")):
        try:
            archived = json.loads(path.read_text())
            runs, episodes = archived["runs"], archived["episodes"]
            valid = isinstance(runs, dict) and isinstance(episodes, int) and all(
                "adaptive" in r and len(r["adaptive"]["returns"]) == episodes for r in runs.values())
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
            valid = False
        if not valid:
            raise ValueError(f"{path} is not an archived calibration pair: move it away")
        pairs[path.stem] = {"episodes": episodes, "runs": runs}
    return pairs
