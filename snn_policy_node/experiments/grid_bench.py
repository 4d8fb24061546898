"""How fast the grid runs a fixed slice of the calibration pipeline with 1 and with 2 workers, and what
starting and stopping a local Ray costs a short command.

The slice is the pipeline's TD3+BC round on Hopper datasets made once beforehand (small, so that the
slice measures the grid, not the online run): expert and medium, QCFS and ReLU, seed 0, each unit a
whole TD3+BC run with its evaluations, conversion and card. Every timing starts a fresh local Ray and
runs the slice from scratch into its own folder; 1 and 2 workers alternate, so that the machine's
drift falls on both alike.
"""

import time
from pathlib import Path

from snn_policy_node.experiments.calibration_pipeline import Pipeline, register
from snn_policy_node.experiments.grid import Grid, GridOptions


def bench_pipeline(folder: Path, runs: str, td3bc_steps: int) -> Pipeline:
    """The slice's pipeline: one small online run's datasets (shared), TD3+BC runs under ``folder/runs``."""
    return Pipeline(envs=("Hopper-v5",), levels=("expert", "medium"), seeds=(0,), online_steps=3_000,
                    dataset_steps=2_000, td3bc_steps=td3bc_steps, runs_dir=folder / runs, data_dir=folder / "data",
                    online_options={"start_steps": 1_000, "eval_every": 1_000, "eval_episodes": 2,
                                    "checkpoint_every": 1_000},
                    td3bc_options={"eval_every": td3bc_steps, "eval_episodes": 5})


def slice_units(pipeline: Pipeline) -> Grid:
    """The slice: every TD3+BC unit of ``pipeline`` (its datasets made)."""
    grid = Grid()
    register(grid, pipeline)
    if any(not name.startswith("td3bc-") for name in grid.units):
        raise RuntimeError(f"the slice's datasets are not ready: {sorted(grid.units)}")
    return grid


def prepare(folder: Path, td3bc_steps: int) -> None:
    """Make the slice's datasets (a grid of one unit; not timed)."""
    grid = Grid()
    register(grid, bench_pipeline(folder, "prepare", td3bc_steps))
    failed = grid.run(GridOptions(workers=1, logs=folder / "logs"), "the slice's datasets")
    if failed:
        raise RuntimeError(f"could not make the slice's datasets: see {folder / 'logs'}")


def timed_slice(folder: Path, workers: int, repetition: int, td3bc_steps: int) -> dict:
    """One run of the slice with ``workers``: its wall time from the grid's start (Ray's start-up
    included) to the last unit's end, and its units per hour."""
    grid = slice_units(bench_pipeline(folder, f"w{workers}-r{repetition}", td3bc_steps))
    units = len(grid.units)
    started = time.perf_counter()
    failed = grid.run(GridOptions(workers=workers, logs=folder / f"logs-w{workers}-r{repetition}"),
                      f"slice, {workers} workers")
    seconds = time.perf_counter() - started
    if failed:
        raise RuntimeError(f"units of the slice failed: {failed}")
    return {"workers": workers, "repetition": repetition, "units": units, "seconds": seconds,
            "units_per_hour": units / seconds * 3600}


def startup_seconds(folder: Path) -> float:
    """A grid of one unit that does nothing: what starting and stopping a local Ray adds to a command."""
    grid = Grid()
    grid.add("nothing", _nothing)
    started = time.perf_counter()
    grid.run(GridOptions(workers=1, logs=folder / "logs-startup"), "start-up")
    return time.perf_counter() - started


def _nothing() -> None:
    """A unit with no work."""


def unit_bytes(folder: Path, td3bc_steps: int) -> int:
    """What the driver holds and ships per unit: its pickled callable, in bytes (largest of the slice)."""
    from ray import cloudpickle  # after the grid has set Ray's loopback start-up

    grid = slice_units(bench_pipeline(folder, "sizes", td3bc_steps))
    return max(len(cloudpickle.dumps(unit.run)) for unit in grid.units.values())


def grid_bench(folder: Path, td3bc_steps: int = 3_000, repetitions: int = 2) -> dict:
    """Datasets once, then the slice with 1 and 2 workers alternating ``repetitions`` times each."""
    prepare(folder, td3bc_steps)
    runs = [timed_slice(folder, workers, repetition, td3bc_steps)
            for repetition in range(repetitions) for workers in (1, 2)]
    return {"td3bc_steps": td3bc_steps, "runs": runs, "startup_seconds": [startup_seconds(folder) for _ in range(3)],
            "unit_bytes": unit_bytes(folder, td3bc_steps)}
