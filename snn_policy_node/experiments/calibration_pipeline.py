"""Paper 000's pipeline as units of a grid (:mod:`snn_policy_node.experiments.grid`): per task, online TD3 and its
four datasets; per dataset, activation (QCFS, and ReLU unless left out) and seed, a TD3+BC run; per training seed, the scores of every
variant. Each unit resumes from its own files and a finished one is not registered again, so the same
command, run again, goes on where the last one stopped. A unit waits for the units before it: the
grid runs in rounds (``cli.run_grid``) until nothing is left."""

import functools
from dataclasses import dataclass, field
from pathlib import Path

from snn_policy_node.experiments.calibration_study import register_score
from snn_policy_node.experiments.grid import Grid
from snn_policy_node.tasks import mujoco_task
from snn_policy_node.training.datasets import LEVELS, OnlineConfig, generate_datasets, use_minari_root
from snn_policy_node.training.td3bc import TD3BCConfig, outputs_written, train_td3bc

ACTIVATIONS = ("qcfs", "relu")


@dataclass
class Pipeline:
    """What the pipeline makes, and where."""

    envs: tuple[str, ...] = ("Hopper-v5",)
    levels: tuple[str, ...] = LEVELS
    activations: tuple[str, ...] = ACTIVATIONS  # the QCFS runs alone make every spiking column; ReLU is the ANN baseline
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)  # the run-level comparison asks at least 5 per pair
    online_steps: int | None = None  # None: 500k (Ant-v5 300k, to leave time for its runs)
    dataset_steps: int = 1_000_000  # transitions per rolled-out level, as D4RL's
    td3bc_steps: int = 100_000
    episodes: int = 50  # evaluation episodes per scored training seed
    runs_dir: Path = Path("runs/td3bc")
    data_dir: Path = Path("runs/data")
    online_options: dict = field(default_factory=dict)  # other OnlineConfig fields (evaluations, checkpoints)
    td3bc_options: dict = field(default_factory=dict)  # other TD3BCConfig fields

    @property
    def minari_root(self) -> Path:
        return self.data_dir / "minari"

    def online(self, env_id: str) -> OnlineConfig:
        steps = self.online_steps or (300_000 if env_id == "Ant-v5" else 500_000)
        return OnlineConfig(env_id=env_id, total_steps=steps, **self.online_options)

    def run_dir(self, dataset_id: str, activation: str, seed: int) -> Path:
        return self.runs_dir / dataset_id.replace("/", "_") / f"{activation}-seed{seed}"


def register(grid: Grid, pipeline: Pipeline) -> None:
    """Every unit whose inputs are ready and whose outputs are not yet written."""
    for env_id in pipeline.envs:
        online = pipeline.online(env_id)
        data = pipeline.data_dir / env_id / f"seed{online.seed}"
        if not (data / "datasets.json").exists():
            grid.add(f"data-{env_id}", functools.partial(_datasets, online, data, pipeline))
            continue
        task = mujoco_task(env_id).dataset_name
        for level in pipeline.levels:
            dataset_id = f"snn-robot/{task}/{level}-v0"
            for seed in pipeline.seeds:
                runs = {activation: pipeline.run_dir(dataset_id, activation, seed) for activation in pipeline.activations}
                for activation, out in runs.items():
                    if not outputs_written(out, activation):
                        config = TD3BCConfig(dataset_id, activation, seed, steps=pipeline.td3bc_steps,
                                             **pipeline.td3bc_options)
                        grid.add(f"td3bc-{out.parent.name}-{out.name}", functools.partial(_train, config, out, pipeline))
                if all(outputs_written(out, a) for a, out in runs.items()):
                    relu = runs["relu"] / "actor.pt" if "relu" in runs else None
                    register_score(grid, relu, runs["qcfs"] / "actor.pt", env_id, pipeline.episodes)


def _datasets(online: OnlineConfig, out: Path, pipeline: Pipeline) -> None:
    generate_datasets(online, out, pipeline.minari_root, pipeline.dataset_steps, progress=False)


def _train(config: TD3BCConfig, out: Path, pipeline: Pipeline) -> None:
    use_minari_root(pipeline.minari_root)
    train_td3bc(config, out, progress=False)
