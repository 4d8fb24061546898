"""The Ray grid on a local Ray head that each test starts on loopback (and stops): units run and write
their results, a unit whose worker is killed resumes from its checkpoint, a driver killed and started
again (while its worker may still run a unit) finishes the rest, and no result is lost or written twice."""

import importlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from snn_policy_node.atomic import atomic_path
from snn_policy_node.experiments import dsqn_training
from snn_policy_node.experiments import grid as grid_module
from snn_policy_node.experiments.adaptation_study import run_population
from snn_policy_node.experiments.deployment import DeploymentConfig
from snn_policy_node.experiments.grid import LOOPBACK, Grid, GridOptions

os.environ.update(LOOPBACK)  # as the grid sets it before it imports Ray
ray = importlib.import_module("ray")
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers need not import this test module


def counting_unit(folder: Path, name: str, steps: int, die_at: int | None = None, pause: float = 0.02) -> None:
    """Count to ``steps``, checkpointing after every step; the first attempt with ``die_at`` kills its
    own worker process there. Every step done and every result written goes into the ledgers."""
    checkpoint, result = folder / f"{name}.checkpoint", folder / f"{name}.json"
    if result.exists():
        return
    start = int(checkpoint.read_text()) if checkpoint.exists() else 0
    print(f"{name} resumed at step {start}", flush=True)
    for step in range(start, steps):
        if step == die_at and not (folder / f"{name}.died").exists():
            (folder / f"{name}.died").touch()
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(pause)
        with open(folder / "steps.ledger", "a") as ledger:
            ledger.write(f"{name} {step}\n")
        with atomic_path(checkpoint) as temporary:
            temporary.write_text(str(step + 1))
    with atomic_path(result) as temporary:
        temporary.write_text(json.dumps({"name": name, "count": steps}))
    with open(folder / "results.ledger", "a") as ledger:
        ledger.write(f"{name}\n")


def failing_unit() -> None:
    raise RuntimeError("this unit cannot work")


def register(grid: Grid, folder: Path, names, steps: int, die_at: dict | None = None) -> None:
    for name in names:
        if not (folder / f"{name}.json").exists():
            grid.add(name, lambda name=name: counting_unit(folder, name, steps, (die_at or {}).get(name)))


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_a_killed_worker_s_unit_is_retried_and_resumes_from_its_checkpoint(tmp_path):
    grid, options = Grid(), GridOptions(workers=2, logs=tmp_path / "logs")
    register(grid, tmp_path, ["a", "b", "c"], steps=8, die_at={"a": 3})
    grid.add("broken", failing_unit)
    (tmp_path / "driver_only.py").write_text("def unit():\n    pass\n")  # a module the workers cannot import
    sys.path.insert(0, str(tmp_path))
    try:
        grid.add("unloadable", importlib.import_module("driver_only").unit)
        assert sorted(grid.run(options)) == ["broken", "unloadable"]
    finally:
        sys.path.remove(str(tmp_path))
    assert "No module named 'driver_only'" in (tmp_path / "logs/unloadable.log").read_text()  # named, and it says why
    assert sorted(lines(tmp_path / "results.ledger")) == ["a", "b", "c"]  # each result written once
    assert sorted(lines(tmp_path / "steps.ledger")) == sorted(f"{n} {s}" for n in "abc" for s in range(8))
    assert (tmp_path / "a.died").exists()
    log = (tmp_path / "logs/a.log").read_text()
    assert "a resumed at step 0" in log and "a resumed at step 3" in log and log.count("--- attempt") == 2
    assert log.count(" on 127.0.0.1") == 2  # the local Ray listens on loopback only
    assert "this unit cannot work" in (tmp_path / "logs/broken.log").read_text()
    assert list(grid.units) == ["broken", "unloadable"]  # what failed stays registered; the rest left the grid
    again = Grid()
    register(again, tmp_path, ["a", "b", "c"], steps=8)
    assert not again.units and again.run(options) == []  # all finished: nothing to run, no Ray started


DRIVER = textwrap.dedent("""
    import sys
    from pathlib import Path
    import ray
    sys.path.insert(0, {tests!r})
    import test_grid
    ray.cloudpickle.register_pickle_by_value(test_grid)
    from snn_policy_node.experiments.grid import Grid, GridOptions
    folder = Path({folder!r})
    grid = Grid()
    test_grid.register(grid, folder, ["u0", "u1", "u2", "u3"], steps=30)
    sys.exit(1 if grid.run(GridOptions(workers=1, logs=folder / "logs")) else 0)
""")


def test_a_driver_killed_and_started_again_finishes_the_rest_without_losing_or_repeating_a_result(tmp_path):
    script = DRIVER.format(tests=str(Path(__file__).parent), folder=str(tmp_path))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2]), os.environ.get("PYTHONPATH", "")])}
    driver = subprocess.Popen([sys.executable, "-c", script], env=env, start_new_session=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while not (lines(tmp_path / "results.ledger") and _in_progress(tmp_path)):
        assert driver.poll() is None, driver.stdout.read().decode()
        assert time.monotonic() < deadline, "no unit finished while another was half done"
        time.sleep(0.05)
    os.killpg(driver.pid, signal.SIGKILL)  # the driver; the worker of its local Ray may run on a while
    driver.wait()
    finished_before = lines(tmp_path / "results.ledger")
    assert 1 <= len(finished_before) < 4
    restarted = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    assert sorted(lines(tmp_path / "results.ledger")) == ["u0", "u1", "u2", "u3"]  # nothing lost, nothing twice
    assert all(json.loads((tmp_path / f"u{k}.json").read_text())["count"] == 30 for k in range(4))
    for name in finished_before:  # what had finished was not run again
        assert (tmp_path / "logs" / f"{name}.log").read_text().count("--- attempt") == 1


def _in_progress(folder: Path) -> bool:
    """A unit is half done: its checkpoint is past a few steps and it has no result."""
    return any(3 <= int(c.read_text() or 0) < 30 and not c.with_suffix(".json").exists()
               for c in folder.glob("*.checkpoint"))


@pytest.fixture(autouse=True)
def _no_ray_left_running():
    yield
    if ray.is_initialized():
        ray.shutdown()


CARTPOLE = Path(__file__).parents[2] / "models/dsqn/CartPole-v0/seed0/model.safetensors"


def test_a_population_run_as_a_grid_unit_is_the_one_run_here(tmp_path):
    """The adaptation study's unit on a Ray worker gives the population it gives in this process."""
    config = DeploymentConfig(episodes=6, baseline_episodes=2, window=2, heldout_seeds=range(30_000, 30_005))
    here = run_population("CartPole-v0", "extreme", [CARTPOLE], tmp_path / "here", config)
    grid = Grid()
    assert run_population("CartPole-v0", "extreme", [CARTPOLE], tmp_path / "grid", config, grid) is None
    assert list(grid.units) == ["CartPole-v0-extreme"]
    assert grid.run(GridOptions(workers=1, logs=tmp_path / "logs")) == []
    there = json.loads((tmp_path / "grid/CartPole-v0-extreme.json").read_text())
    here = json.loads(json.dumps(here))
    assert there.pop("seconds") > 0 and here.pop("seconds") > 0
    assert there == here
    again = Grid()
    run_population("CartPole-v0", "extreme", [CARTPOLE], tmp_path / "grid", config, again)
    assert not again.units  # a finished unit is not registered again


def test_a_unit_that_finishes_without_its_result_stops_the_rounds(tmp_path, capsys):
    from argparse import Namespace

    from snn_policy_node.cli import run_grid

    def register(grid: Grid) -> None:  # finds the unit unfinished every time: it writes nothing
        grid.add("forgetful", lambda: None)

    options = Namespace(workers=1, cpus_per_unit=1.0, ray_address=None, grid_logs=str(tmp_path / "logs"))
    assert not run_grid(register, options, "rounds")
    assert "units finished without writing their results: forgetful" in capsys.readouterr().err


def test_commands_that_need_no_grid_never_import_ray(tmp_path):
    """The command line, and a report whose units are all finished, leave Ray unimported."""
    script = textwrap.dedent("""
        import sys
        from snn_policy_node.cli import main
        assert main(["report", "rstdp", "--finished-only", "--out", sys.argv[1]]) == 0
        assert main(["reproduce", "dsqn", "--envs", "CartPole-v0"]) == 0  # the shipped models: nothing to train
        assert "ray" not in sys.modules, "Ray was imported"
    """)
    run = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=300,
                         cwd=Path(__file__).parents[2])
    assert run.returncode == 0, run.stdout + run.stderr


def test_only_the_dsqns_not_yet_written_become_units(tmp_path):
    shipped, randomized = tmp_path / "dsqn", tmp_path / "dsqn-randomized"
    finished = dsqn_training.model_dir("CartPole-v0", "normal", 1, shipped, randomized)
    finished.mkdir(parents=True)
    (finished / "model.safetensors").write_bytes(b"")
    grid = Grid()
    dsqn_training.register(grid, ["CartPole-v0"], [None, "normal"], [0, 1], shipped, randomized)
    assert sorted(grid.units) == ["dsqn-CartPole-v0-default-seed0", "dsqn-CartPole-v0-default-seed1",
                                  "dsqn-CartPole-v0-normal-seed0"]
    unit = grid.units["dsqn-CartPole-v0-normal-seed0"].run
    assert unit.args == ("CartPole-v0", "normal", 0, randomized / "CartPole-v0/normal/seed0")
    assert grid.units["dsqn-CartPole-v0-default-seed1"].run.args[-1] == shipped / "CartPole-v0/seed1"


def test_a_unit_refuses_to_run_code_other_than_its_grid_s(tmp_path):
    """Workers import the checkout: edited after the grid started, it would mix two versions in one job."""
    ran = []
    grid_module._run_unit(lambda: ran.append(1), str(tmp_path / "same.log"), grid_module.code_digest())
    with pytest.raises(RuntimeError, match="code changed after this grid started"):
        grid_module._run_unit(lambda: ran.append(2), str(tmp_path / "edited.log"), "0" * 64)
    assert ran == [1] and "code changed" in (tmp_path / "edited.log").read_text()
