"""Subsets of a Minari dataset, for ablations that change one property of the data and keep the rest.

The Walker2d expert runs of an earlier report collapsed on 200 episodes that never fell; the datasets of
1M transitions that followed fall in most episodes. Keeping only the episodes that never terminate, against
random episodes of the same number of transitions, asks whether the missing falls (no terminal states for the
critic) are what collapses a run, with the policy, the noise and the size held equal.
"""

import minari
import numpy as np
from minari.data_collector import EpisodeBuffer

from snn_policy_node.training.datasets import write_minari


def pick_episodes(terminated: list[bool], lengths: list[int], unterminated_only: bool, transitions: int | None,
                  seed: int) -> list[int]:
    """Indices of the episodes kept, in their dataset's order: those that never terminate if
    ``unterminated_only``, then, if ``transitions`` is given, a random draw of them (``seed``) in whole
    episodes until at least that many transitions."""
    eligible = [k for k, ended in enumerate(terminated) if not (unterminated_only and ended)]
    if transitions is None:
        return eligible
    if transitions > sum(lengths[k] for k in eligible):
        raise ValueError(f"{transitions} transitions asked, but the eligible episodes hold only "
                         f"{sum(lengths[k] for k in eligible)}")
    picked, total = [], 0
    for k in np.random.default_rng(seed).permutation(eligible):
        if total >= transitions:
            break
        picked.append(int(k))
        total += lengths[k]
    return sorted(picked)


def write_subset(dataset_id: str, subset_id: str, unterminated_only: bool, transitions: int | None, seed: int) -> dict:
    """Write the subset of ``dataset_id`` as the local Minari dataset ``subset_id`` (replacing one of that
    name); its summary: source, rule, episodes, transitions, falls and mean return."""
    if subset_id == dataset_id:
        raise ValueError("a subset needs a name of its own: it would replace its source")
    source = minari.load_dataset(dataset_id)
    episodes = list(source.iterate_episodes())
    kept = pick_episodes([bool(e.terminations[-1]) for e in episodes], [len(e.actions) for e in episodes],
                         unterminated_only, transitions, seed)
    if not kept:
        raise ValueError(f"no episode of {dataset_id} is kept: every one terminates")
    buffers = [EpisodeBuffer(id=new, observations=list(episodes[k].observations),
                             actions=list(episodes[k].actions), rewards=list(episodes[k].rewards),
                             terminations=list(episodes[k].terminations), truncations=list(episodes[k].truncations))
               for new, k in enumerate(kept)]
    rule = ("episodes that never terminate" if unterminated_only else "any episode") + (
        f", {transitions} transitions drawn with seed {seed}" if transitions is not None else "")
    write_minari(subset_id, buffers, source.spec.env_spec.id, f"subset of {dataset_id}",
                 f"{rule} of {dataset_id}, made by snn-robot data subset")
    return {"id": subset_id, "source": dataset_id, "rule": rule, "episodes": len(kept),
            "transitions": sum(len(episodes[k].actions) for k in kept),
            "terminated": sum(bool(episodes[k].terminations[-1]) for k in kept),
            "return_mean": float(np.mean([episodes[k].rewards.sum() for k in kept]))}
