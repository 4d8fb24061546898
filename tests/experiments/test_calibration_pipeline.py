"""Paper 000's pipeline as a grid on a local Ray (started on loopback by the grid, and stopped): the
rounds run data, then TD3+BC, then scores; a unit's output equals the sequential path's; finished
units are not registered again."""

import json
from argparse import Namespace

import torch

from snn_policy_node.cli import run_grid
from snn_policy_node.experiments.calibration_pipeline import Pipeline, register
from snn_policy_node.experiments.grid import Grid
from snn_policy_node.training.datasets import use_minari_root
from snn_policy_node.training.td3bc import TD3BCConfig, train_td3bc


def tiny(tmp_path) -> Pipeline:
    return Pipeline(envs=("Hopper-v5",), levels=("expert", "medium"), seeds=(0,), online_steps=600, dataset_steps=100,
                    td3bc_steps=40, episodes=1, runs_dir=tmp_path / "td3bc", data_dir=tmp_path / "data",
                    online_options={"start_steps": 300, "eval_every": 200, "eval_episodes": 1, "checkpoint_every": 200},
                    td3bc_options={"eval_every": 20, "eval_episodes": 1})


def test_the_pipeline_runs_in_rounds_and_each_unit_gives_what_the_sequential_path_gives(tmp_path):
    pipeline = tiny(tmp_path)
    rounds = []

    def recording(grid: Grid) -> None:
        register(grid, pipeline)
        rounds.append(sorted(grid.units))

    options = Namespace(workers=2, cpus_per_unit=1.0, ray_address=None, grid_logs=str(tmp_path / "logs"))
    assert run_grid(recording, options, "calibration pipeline")
    assert rounds[0] == ["data-Hopper-v5"]
    assert rounds[1] == [f"td3bc-snn-robot_hopper_{level}-v0-{activation}-seed0"
                         for level in ("expert", "medium") for activation in ("qcfs", "relu")]
    assert rounds[2] == ["score-snn-robot_hopper_expert-v0-qcfs-seed0", "score-snn-robot_hopper_medium-v0-qcfs-seed0"]
    assert rounds[3] == []  # everything finished: nothing registered again
    scores = json.loads((pipeline.runs_dir / "snn-robot_hopper_expert-v0/qcfs-seed0/scores.json").read_text())
    assert {"qcfs", "relu", "i0", "adaptive"} <= set(scores["results"])

    torch.set_num_threads(1)
    use_minari_root(pipeline.minari_root)
    here = tmp_path / "here"
    train_td3bc(TD3BCConfig("snn-robot/hopper/expert-v0", "qcfs", 0, steps=40, **pipeline.td3bc_options), here,
                progress=False)
    on_ray = torch.load(pipeline.run_dir("snn-robot/hopper/expert-v0", "qcfs", 0) / "actor.pt", weights_only=True)
    sequential = torch.load(here / "actor.pt", weights_only=True)
    assert all(torch.equal(on_ray["actor"][k], sequential["actor"][k]) for k in sequential["actor"])


def test_a_pipeline_of_qcfs_actors_alone_trains_and_scores_no_relu_twin(tmp_path):
    """With the datasets made, the units are the QCFS runs; with those written, their scores (no ReLU column)."""
    pipeline = Pipeline(envs=("Hopper-v5",), levels=("expert",), activations=("qcfs",), seeds=(0, 1),
                        runs_dir=tmp_path / "td3bc", data_dir=tmp_path / "data")
    (pipeline.data_dir / "Hopper-v5" / "seed0").mkdir(parents=True)
    (pipeline.data_dir / "Hopper-v5" / "seed0" / "datasets.json").write_text("{}")
    grid = Grid()
    register(grid, pipeline)
    assert sorted(grid.units) == [f"td3bc-snn-robot_hopper_expert-v0-qcfs-seed{seed}" for seed in (0, 1)]
    for seed in (0, 1):
        run = pipeline.run_dir("snn-robot/hopper/expert-v0", "qcfs", seed)
        run.mkdir(parents=True)
        for name in ("train_log.csv", "actor.pt", "spiking_actor.safetensors", "card.md"):
            (run / name).write_bytes(b"finished")
    grid = Grid()
    register(grid, pipeline)
    assert sorted(grid.units) == [f"score-snn-robot_hopper_expert-v0-qcfs-seed{seed}" for seed in (0, 1)]
    assert grid.units["score-snn-robot_hopper_expert-v0-qcfs-seed0"].run.args[0] is None  # no ReLU actor to score
