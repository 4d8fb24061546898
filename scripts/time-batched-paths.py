#!/usr/bin/env python
"""Time the batched paths on two checkouts of the project, alternating runs so the machine's load falls
on both alike, and keep what each run printed (its results) beside its time.

Paths: paper 004's r-STDP protocol on CartPole-v0 (`snn-robot adapt rstdp`, 20 training episodes, each
followed by a 100-episode evaluation) and the calibration evaluation of the shipped Hopper-v5 actor
(I = 0..3 and adaptive I, 10 episodes each, as its card scores it, by this checkout's rescoring script
on the code of each).
Usage: scripts/time-batched-paths.py BEFORE_CHECKOUT AFTER_CHECKOUT OUT.json [--repeats N]
(make BEFORE_CHECKOUT with `git worktree add /tmp/before COMMIT`; both run this checkout's .venv).
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

PATHS = {
    "CartPole-v0 r-STDP protocol (20 episodes)": [
        "-m", "snn_policy_node.cli", "adapt", "rstdp", "--model", "models/dsqn/CartPole-v0/seed0/model.safetensors",
        "--profile", "extreme", "--episodes", "20"],
    "Hopper-v5 calibration evaluation (5 settings x 10 episodes)": [
        str(Path(__file__).with_name("rescore-shipped-models.py")), "--tasks", "Hopper-v5", "--episodes", "10"],
}


def run(checkout: Path, arguments: list[str]) -> tuple[float, str]:
    env = {**os.environ, "PYTHONPATH": str(checkout), "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *arguments], cwd=checkout, env=env, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    results = {}
    for name, arguments in PATHS.items():
        runs = {"before": [], "after": []}
        for repeat in range(args.repeats):
            for side in (("before", "after") if repeat % 2 == 0 else ("after", "before")):
                seconds, output = run(getattr(args, side), arguments)
                runs[side].append({"seconds": seconds, "output": output})
                print(f"{name}, {side}: {seconds:.1f} s", flush=True)
        results[name] = {**runs, "speed_up": min(r["seconds"] for r in runs["before"]) / min(r["seconds"] for r in runs["after"]),
                         "same_output": len({r["output"] for r in runs["before"] + runs["after"]}) == 1}
        print(f"{name}: {results[name]['speed_up']:.2f} x faster, same output: {results[name]['same_output']}", flush=True)
    args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
