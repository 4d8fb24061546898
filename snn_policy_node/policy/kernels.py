"""Compile every kernel the policies run, once, into Numba's on-disk cache: ``python -m snn_policy_node.policy.kernels``.

The bootstrap runs this, so that a node's first control step loads compiled kernels instead of
compiling them (about 25 s on a 2-core machine; loading takes well under a second).
"""

import time

import numpy as np
import torch

from snn_policy_node.ann2snn.conversion import SpikingActor
from snn_policy_node.ann2snn.qcfs import MLPActor
from snn_policy_node.snn.dsqn import DSQN


def compile_kernels() -> None:
    """Run each entry point once in every configuration the project uses (a robot's batch of one,
    a population's rows, node perturbation, adaptive I), on small networks of the shipped depth."""
    actor = SpikingActor.from_qcfs(MLPActor(3, 2, (8, 8), activation="qcfs", levels=4))
    obs = torch.zeros(2, 3)
    actor.simulate(obs, 0, errors=False)
    actor.simulate(obs, np.zeros(2, dtype=np.int64))
    actor.simulate(obs, 1, weights={1: actor.folded_weight(1)[None].repeat(2, 1, 1)}, noise={1: torch.zeros(actor.steps, 2, 8)},
                   variants=np.array([1, 0]))
    actor.source_rates(obs)
    dsqn = DSQN(2, 2, hidden=(8, 8)).requires_grad_(False)
    dsqn.simulate(torch.zeros(2))
    dsqn.simulate(torch.zeros(3, 1, 2), [w.weight[None].repeat(3, 1, 1) for w in dsqn.layers],
                  noise={1: torch.zeros(dsqn.timesteps, 3, 1, 8)})


if __name__ == "__main__":
    start = time.perf_counter()
    compile_kernels()
    print(f"inference kernels ready ({time.perf_counter() - start:.1f} s)")
