"""The long jobs' independent units, run as Ray tasks: here on a local Ray started on loopback, or on
a cluster (``--ray-address``, or ``RAY_ADDRESS``).

A unit writes its own result file, atomically, and keeps its own checkpoint while it runs; the job
registers only the units whose result it does not find. So the files stay the truth: a finished
unit is skipped, a unit whose worker dies is retried by Ray and resumes from its checkpoint, and a
driver started again after it was killed submits only what has no result yet. Ray is imported only
when a grid has work to run.
"""

import contextlib
import fcntl
import hashlib
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

# A local Ray binds 127.0.0.1 rather than the machine's address (Ray reads this when it is imported).
LOOPBACK = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
WORKER_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # one core per unit, as the job's own CPU count says
PACKAGES = ("snn_policy_node", "sim_bridge")  # the project's code, as the workers import it


@dataclass(frozen=True)
class GridOptions:
    """Where and how wide the grid runs."""

    workers: int = 2  # units at a time on a local Ray (a cluster runs as many as its CPUs allow)
    cpus_per_unit: float = 1.0
    address: str | None = None  # a running cluster's address; None: RAY_ADDRESS, or a local Ray
    retries: int = 3  # per unit, after its worker died (a unit that raises is not retried: it would raise again)
    logs: Path = Path("runs/logs/grid")  # each unit's output, kept for the failed ones


@dataclass
class Unit:
    name: str  # also its log's name
    run: Callable[[], object]  # writes its result, or returns at once if it exists; picklable (cloudpickle)


@dataclass
class Grid:
    """The units of a long job still to be run; :meth:`run` runs them all."""

    units: dict[str, Unit] = field(default_factory=dict)

    def add(self, name: str, run: Callable[[], object]) -> None:
        """Register a unit that its caller found unfinished (once per name)."""
        self.units.setdefault(name, Unit(name, run))

    def run(self, options: GridOptions = GridOptions(), description: str = "grid") -> list[str]:
        """Run every registered unit as a Ray task; the names of those that failed (their logs are
        named on stderr). Finished units leave the grid; failed ones stay."""
        if not self.units:
            return []
        failed = _run_on_ray(list(self.units.values()), options, description)
        self.units = {name: unit for name, unit in self.units.items() if name in failed}
        return failed


Compute = bool | Grid  # what a long job does with a missing unit: run it here (True), leave it (False), or register it


def _run_on_ray(units: list[Unit], options: GridOptions, description: str) -> list[str]:
    if not (options.address or os.environ.get("RAY_ADDRESS")):
        os.environ.update(LOOPBACK)  # read when Ray is imported
    import ray  # only where there is work: commands that need no grid never import Ray

    options.logs.mkdir(parents=True, exist_ok=True)
    started_here = not ray.is_initialized()
    if started_here:
        _init(ray, options)
    remote = ray.remote(max_retries=options.retries, num_cpus=options.cpus_per_unit)(_run_unit)
    code = code_digest()
    refs = {remote.remote(unit.run, str(options.logs / f"{unit.name}.log"), code): unit for unit in units}
    failed: list[str] = []
    slots = max(int(ray.cluster_resources().get("CPU", 1) // options.cpus_per_unit), 1)  # units that run at once
    try:
        with tqdm(total=len(units), desc=description, unit="unit") as bar:
            waiting = list(refs)
            while waiting:
                done, waiting = ray.wait(waiting, num_returns=1, timeout=5.0)
                for ref in done:
                    unit = refs[ref]
                    try:
                        ray.get(ref)
                    except ray.exceptions.RayError as error:
                        failed.append(unit.name)
                        log = options.logs / f"{unit.name}.log"
                        with open(log, "a") as out:  # also where the unit never started (it could not be loaded)
                            out.write(f"--- failed, as the driver saw it at {time.strftime('%Y-%m-%d %H:%M:%S')}:\n"
                                      f"{error}\n")
                        print(f"{unit.name} failed ({type(error).__name__}); its log: {log}", file=sys.stderr)
                    bar.update()
                running = min(len(waiting), slots)
                bar.set_postfix(running=running, queued=len(waiting) - running, failed=len(failed))
    finally:
        if started_here:
            ray.shutdown()
    return failed


def _init(ray, options: GridOptions) -> None:
    """Join the cluster at ``options.address`` (or RAY_ADDRESS), else start a local Ray on loopback."""
    address = options.address or os.environ.get("RAY_ADDRESS")
    env_vars = {**WORKER_ENV, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path.cwd()), os.environ.get("PYTHONPATH")]))}
    common = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False,
              "runtime_env": {"env_vars": env_vars}}
    if address:
        ray.init(address=address, **common)
        return
    ray.init(num_cpus=int(max(options.workers * options.cpus_per_unit, 1)), **common)


def code_digest() -> str:
    """SHA-256 over the project's Python sources (``PACKAGES``): the code that a unit runs."""
    root, digest = Path(__file__).parents[2], hashlib.sha256()
    for path in sorted(path for package in PACKAGES for path in (root / package).rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _run_unit(run: Callable[[], object], log: str, code: str) -> None:
    """A unit on its worker, its output and any traceback into its log (appended: a retried unit's
    attempts follow each other). One attempt of a unit runs at a time: a driver started again while a
    worker of the killed one still runs the unit waits for it, and then finds its result. Workers
    import the project from its checkout, so a unit whose checkout no longer holds the driver's
    ``code`` refuses to run: the units of one grid all run one version of the code."""
    import ray

    with open(f"{log}.lock", "w") as lock, open(log, "a") as out, contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(out):
        fcntl.flock(lock, fcntl.LOCK_EX)  # an attempt still running (a killed driver's worker) finishes first
        print(f"--- attempt at {time.strftime('%Y-%m-%d %H:%M:%S')} in process {os.getpid()} on "
              f"{ray.util.get_node_ip_address()}", flush=True)
        try:
            if code_digest() != code:
                raise RuntimeError("the project's code changed after this grid started, and a unit runs the code it "
                                   "finds: run the command again (finished units are kept)")
            run()
        except BaseException:
            traceback.print_exc()
            raise
