#!/usr/bin/env python
"""Re-score every shipped model as its card scored it, and print both figures side by side.

DSQNs: the mean return on evaluation seeds 0-99. Spiking actors: the D4RL-normalised score of each
calibration setting (I = 0..3, adaptive I) on evaluation seeds 0-9. Closed-loop returns amplify
float-level differences, so a change of arithmetic (a new inference engine) shows here first.
Run from the repository root: .venv/bin/python scripts/rescore-shipped-models.py [--episodes N] [--tasks ...]
[--json OUT]; with --json every episode's return is written too, so that two revisions of the code can be
compared episode by episode (paired by seed).
"""

import argparse
import json
import re
from pathlib import Path

import numpy as np

from snn_policy_node.evaluation.actor_variants import play, spiking_player
from snn_policy_node.evaluation.batched import evaluate
from snn_policy_node.policy.model_io import load_model
from snn_policy_node.tasks import normalised_score

REPO = Path(__file__).resolve().parents[1]
ACTOR_SETTINGS = {"I = 0": 0, "I = 1": 1, "I = 2": 2, "I = 3": 3, "adaptive I": (0, 3)}


def rescore_dsqn(path: Path) -> None:
    model, checkpoint = load_model(path)
    returns = evaluate(model, checkpoint.provenance["env_id"], range(100))
    card = re.search(r"seeds 0-99: (-?[\d.]+) \+- ([\d.]+)", (path.parent / "card.md").read_text())
    print(f"{path.relative_to(REPO)}: now {returns.mean():.2f} +- {returns.std():.2f}, card {card[1]} +- {card[2]}")


def rescore_actor(path: Path, episodes: int, settings: list[str]) -> dict[str, list[float]]:
    actor, checkpoint = load_model(path)
    env_id, observation = checkpoint.provenance["env_id"], checkpoint.observation
    mean = np.zeros(observation.size) if observation.mean is None else np.asarray(observation.mean)
    std = np.ones(observation.size) if observation.std is None else np.asarray(observation.std)
    card, returns_by_setting = (path.parent / "card.md").read_text(), {}
    for label in settings:
        returns, _ = play(env_id, mean, std, spiking_player(actor, ACTOR_SETTINGS[label], episodes), range(episodes))
        returns_by_setting[label] = returns.tolist()
        shipped = re.search(rf"{re.escape(label)} (-?[\d.]+)", card)
        print(f"{path.relative_to(REPO)} {label}: now {normalised_score(env_id, float(returns.mean())):.1f} on "
              f"{episodes} episodes, card {shipped[1] if shipped else '-'} on 10", flush=True)
    return returns_by_setting


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=10, help="spiking actors' evaluation episodes (seeds 0..N-1)")
    parser.add_argument("--tasks", nargs="+", default=None, help="only these MuJoCo tasks' actors (and no DSQN)")
    parser.add_argument("--settings", nargs="+", default=list(ACTOR_SETTINGS), choices=list(ACTOR_SETTINGS))
    parser.add_argument("--json", type=Path, default=None, help="write every episode's return here")
    args = parser.parse_args()
    if args.tasks is None:
        for path in sorted((REPO / "models").glob("dsqn*/**/model.safetensors")):
            rescore_dsqn(path)
    records = {}
    for path in sorted((REPO / "models/td3bc").glob("*/spiking_actor.safetensors")):
        if args.tasks is None or path.parent.name in args.tasks:
            records[path.parent.name] = rescore_actor(path, args.episodes, args.settings)
    if args.json:
        args.json.write_text(json.dumps({"episodes": args.episodes, "returns": records}, indent=1))


if __name__ == "__main__":
    main()
