"""The shipped DSQNs and their domain-randomized controls as units of a grid
(:mod:`snn_policy_node.experiments.grid`): one per task, randomization profile and seed.

A model is finished once its ``model.safetensors`` is written (atomically, after its card and log),
so a finished one is not registered again. A unit keeps no checkpoint of its own: a run takes 12-22
minutes here, and a unit whose worker died trains again from the start, to the same model (every
draw is seeded).
"""

import functools
from pathlib import Path

SHIPPED, RANDOMIZED = Path("models/dsqn"), Path("models/dsqn-randomized")


def model_dir(env_id: str, randomization: str | None, seed: int, shipped: Path = SHIPPED,
              randomized: Path = RANDOMIZED) -> Path:
    """Where a model goes: ``shipped/ENV/seedK`` on default physics, ``randomized/ENV/PROFILE/seedK`` under a profile."""
    return shipped / env_id / f"seed{seed}" if randomization is None else randomized / env_id / randomization / f"seed{seed}"


def register(grid, envs: list[str], randomizations: list[str | None], seeds: list[int], shipped: Path = SHIPPED,
             randomized: Path = RANDOMIZED) -> None:
    """A unit for every model not yet written."""
    for env_id in envs:
        for randomization in randomizations:
            for seed in seeds:
                out = model_dir(env_id, randomization, seed, shipped, randomized)
                if not (out / "model.safetensors").exists():
                    grid.add(f"dsqn-{env_id}-{randomization or 'default'}-seed{seed}",
                             functools.partial(train_model, env_id, randomization, seed, out))


def train_model(env_id: str, randomization: str | None, seed: int, out: Path) -> None:
    import torch

    from snn_policy_node.training.dqn import DQNConfig, train

    torch.set_num_threads(1)
    train(DQNConfig.for_task(env_id, seed=seed, randomization=randomization), out)
