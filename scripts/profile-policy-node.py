#!/usr/bin/env python
"""Where the policy node's time goes in its control loop: py-spy samples a short `snn-robot bench loop`
(the policy node and the bare echo node driven at one rate over real DDS), and the policy node's
active samples are split by the functions they pass through.

Usage: scripts/profile-policy-node.py OUT.md [--rate HZ] [--seconds S] [--windows N]
py-spy (requirements-test.txt) samples the processes from outside, at 500 Hz; samples taken while the
node waits are not counted, so shares are of the time it works. Native frames (rclpy's C++, DDS) are
not resolved: their time falls on the Python function that called them.
"""

import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PARTS = {  # what the report names, by the function that holds it
    "rclpy publish (serialise and write)": "Publisher.publish",
    "inference (Policy.act)": "Policy.act",
    "command message built": "joint_command",
    "observation built": "ObservationBuilder.raw",
    "safety layer": "SafetyLayer.check",
    "the callback in all": "PolicyNode.on_joint_state",
}


def sample(rate: float, seconds: float, windows: int, raw: Path) -> None:
    bench = [sys.executable, "-m", "snn_policy_node.cli", "bench", "loop", "--rates", str(rate), "--seconds", str(seconds),
             "--windows", str(windows), "--rounds", "1", "--out", tempfile.mkdtemp()]
    spy = [str(Path(sys.executable).with_name("py-spy")), "record", "--subprocesses", "--format", "raw", "--rate", "500",
           "-o", str(raw), "--", *bench]
    subprocess.run(spy, cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1"}, check=True, capture_output=True)


def shares(raw: Path) -> tuple[int, dict[str, float]]:
    """The policy node's steady-state active samples, and the share of them each part holds."""
    counts, total = collections.Counter(), 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [re.sub(r" \(.*", "", frame) for frame in stack.split(";")]
        if not any("snn_policy_node.ros.policy_node" in frame for frame in frames[:2]):
            continue
        if any(f in ("_find_and_load", "PolicyNode.on_configure", "PolicyNode.__init__") for f in frames):
            continue  # start-up, not the loop
        total += int(count)
        for part, function in PARTS.items():
            counts[part] += int(count) * (function in frames)
    return total, {part: counts[part] / total for part in PARTS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--windows", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        raw = Path(directory) / "samples.raw"
        sample(args.rate, args.seconds, args.windows, raw)
        total, parts = shares(raw)
    command = " ".join(["scripts/profile-policy-node.py", str(args.out), "--rate", f"{args.rate:g}",
                        "--seconds", f"{args.seconds:g}", "--windows", str(args.windows)])
    lines = ["# Where the policy node's loop spends its time", "", f"Command: `{command}`", "",
             f"The CartPole-v0 DSQN policy node at {args.rate:g} Hz (`snn-robot bench loop`), sampled by py-spy: "
             f"{total} samples of the node at work (start-up left out). A share counts every sample that passes "
             "through the function, so nested parts add up to less than their callers.", "",
             "| part | share of the node's working time |", "|---|---:|"]
    lines += [f"| {part} | {share * 100:.1f} % |" for part, share in parts.items()]
    lines += ["", "The rest of the working time is the executor taking messages (rclpy's C++ spin, seen as its "
              "Python caller)."]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
