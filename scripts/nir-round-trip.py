#!/usr/bin/env python
"""The figures of README's NIR round trip: each shipped spiking actor exported, read back by snnTorch's
import_from_nir (with the subtractive reset its metadata asks), and run on 300 states its robot visits
(seed 0) and 512 random ones. Per actor: the states whose spike trains diverge, the largest action
error there and elsewhere. The consumer is the one `tests/policy/test_nir_export.py` runs.
Usage: .venv/bin/python scripts/nir-round-trip.py
"""

import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "policy"))
from test_nir_export import ACTORS, divergences, snntorch_actor_run, visited_states  # noqa: E402

from snn_policy_node.policy.model_io import load_model  # noqa: E402
from snn_policy_node.policy.nir_export import actor_graph  # noqa: E402


def main() -> None:
    print("| actor | states | diverged | max action error there | max action error elsewhere |")
    print("|---|---:|---:|---:|---:|")
    for checkpoint in ACTORS:
        actor, _ = load_model(checkpoint)
        random = 2.0 * torch.randn(512, actor.weight0.shape[1], generator=torch.Generator().manual_seed(0))
        obs = torch.cat([visited_states(checkpoint), random])
        ours = actor.simulate(obs, iterations=0, errors=False)
        action, spikes = snntorch_actor_run(actor_graph(actor), obs)
        error = (action - ours.action).abs().max(dim=1).values
        diverged = torch.zeros(len(obs), dtype=torch.bool)
        diverged[divergences(actor, ours.spikes, spikes)[2]] = True
        there = f"{error[diverged].max():.3g}" if diverged.any() else "-"
        print(f"| {checkpoint.parts[-2]} | {len(obs)} | {int(diverged.sum())} | {there} | {error[~diverged].max():.2g} |")


if __name__ == "__main__":
    main()
