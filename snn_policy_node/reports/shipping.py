"""Shipping a task's best spiking actor to ``models/td3bc/<task>/``: its checkpoint, training
log, datasets.json and a card that says why it was chosen and, once ``snn-robot report fidelity``
has scored it on seeds that did not choose it, its held-out score."""

import filecmp
import re
import shutil
from collections import Counter
from pathlib import Path

from snn_policy_node.atomic import atomic_path
from snn_policy_node.experiments.calibration_study import collapsed, learning_curve
from snn_policy_node.training.td3bc import outputs_written

SHIPPED_FILES = ("spiking_actor.safetensors", "train_log.csv")


def ship_best(adaptive_scores: dict[str, list[tuple[Path, float]]], models_dir: Path, data_dir: Path | None,
              command: str, kept: dict[str, dict], kept_seeds: Counter) -> dict[str, dict]:
    """Per task, copy the finished QCFS run whose spiking actor scored best with adaptive I
    (the setting the ROS scenarios use), among those whose training did not collapse, to ``models_dir/<env_id>/``, with its card and datasets.json,
    unless the model ``kept`` (an earlier report's) scored at least as well and did not collapse: then that one
    stays (a collapsed one stays only while nothing replaces it, and its card says so). A best run shipped
    already is not copied again, which would drop its card's held-out line. Either way the card counts the runs scored for the task: those here and the ``kept_seeds``
    runs of the kept pairs (in a finished report, all of them finished)."""
    shipped = {}
    for env_id in sorted(set(adaptive_scores) | set(kept)):
        runs = adaptive_scores.get(env_id, [])
        best = max(((run, score) for run, score in runs if outputs_written(run, "qcfs") and not collapsed(
            learning_curve(run))), key=lambda pair: pair[1], default=None)
        compared, target = len(runs) + kept_seeds[env_id], models_dir / env_id
        if best is not None and _same_model(best[0], target):  # shipped already: its held-out line stays
            entry = {"run": _run_name(best[0]), **kept.get(env_id, {}), "adaptive_score": best[1]}
            shipped[env_id] = recount(target, entry, env_id, compared, command)
        elif env_id in kept and (best is None or not _collapsed(target) and kept[env_id]["adaptive_score"] >= best[1]):
            shipped[env_id] = recount(target, kept[env_id], env_id, compared, _scoring_command(target) or command)
        elif best is not None:
            shipped[env_id] = ship(*best, target, data_dir, env_id, compared, command)
    return shipped


def _same_model(run: Path, target: Path) -> bool:
    """Whether ``target`` holds the run's spiking actor, byte for byte (a run's name alone may be reused by a run
    on datasets made again)."""
    shipped = target / SHIPPED_FILES[0]
    return shipped.exists() and filecmp.cmp(run / SHIPPED_FILES[0], shipped, shallow=False)


def _collapsed(target: Path) -> bool:
    """Whether the shipped model in ``target`` was trained by a run whose curve collapsed."""
    return (target / "train_log.csv").exists() and collapsed(learning_curve(target))


def ship(run: Path, score: float, target: Path, data_dir: Path | None, env_id: str, runs: int, command: str) -> dict:
    """Copy a run's spiking actor, training log, card and the task's datasets.json to ``target``."""
    for file in SHIPPED_FILES:
        with atomic_path(target / file) as temporary:
            shutil.copyfile(run / file, temporary)
    datasets = data_dir / env_id / "seed0" / "datasets.json" if data_dir is not None else None
    if datasets is not None and datasets.exists():
        with atomic_path(target / "datasets.json") as temporary:
            shutil.copyfile(datasets, temporary)
    write_card(target, (run / "card.md").read_text().rstrip("\n"), env_id, runs, score, command)
    return {"run": _run_name(run), "adaptive_score": score, "runs": runs}


def recount(target: Path, entry: dict, env_id: str, runs: int, command: str) -> dict:
    """A kept shipped model, its card's count of runs scored brought up to date (its held-out line kept: the
    model has not changed)."""
    if (target / "card.md").exists():
        text = (target / "card.md").read_text()
        card, heldout = text.split(SHIPPED_LINE)[0].rstrip("\n"), text.partition(HELDOUT_LINE)[2].strip()
        write_card(target, card, env_id, runs, entry["adaptive_score"], command)
        if heldout:
            write_heldout(target, heldout)
    return {**entry, "runs": runs}


def _scoring_command(target: Path) -> str | None:
    """The command that scored the shipped model, as its card's shipped line names it: a kept model was not scored
    again by this report, which may score another number of episodes."""
    card = target / "card.md"
    line = card.read_text().partition(SHIPPED_LINE)[2].split("\n")[0] if card.exists() else ""
    found = re.search(r"\), by `([^`]+)`\.", line)
    return found.group(1) if found else None


def _run_name(run: Path) -> str:
    return f"{run.parent.name}/{run.name}"


SHIPPED_LINE = "\n- Shipped as the best "


def write_card(target: Path, card: str, env_id: str, runs: int, score: float, command: str) -> None:
    """The run's card with the line that says why this run was shipped."""
    warning = (" Its training curve collapsed (`train_log.csv`): it stays until a run that does not collapse "
               "replaces it." if _collapsed(target) else "")
    with atomic_path(target / "card.md") as temporary:
        temporary.write_text(card + SHIPPED_LINE + f"finished one of {runs} QCFS actors scored for {env_id}, by "
                             f"the spiking actor's score with adaptive I ({score:.1f}), by `{command}`.{warning}\n")


HELDOUT_LINE = "\n- Held-out: "


def write_heldout(target: Path, text: str) -> None:
    """The card in ``target`` with its held-out line set to ``text`` (a line written before is replaced;
    shipping another actor rewrites the card without one)."""
    card = (target / "card.md").read_text().split(HELDOUT_LINE)[0].rstrip("\n")
    with atomic_path(target / "card.md") as temporary:
        temporary.write_text(card + HELDOUT_LINE + text + "\n")
