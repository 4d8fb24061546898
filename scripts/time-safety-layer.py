#!/usr/bin/env python
"""Time what the safety layer and decimation add to one control step, beside the inference they guard.

Per shipped spiking actor (adaptive I, as the scenarios run it) and DSQN: the median over rounds of
the mean cost of `Policy.act`, of `SafetyLayer.check` + `SafetyLayer.command` under the defaults
and under a full configuration (fade-in, a rate limit on every joint, a bound, a fault limit, the
damping safe action), and of a rate-mode tick's decimation (`Decimator` interpolating, network every
5th tick, and the period meters), alternating within each round so the machine's load falls on all alike.
Usage: scripts/time-safety-layer.py [--calls N] [--rounds R]
"""

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from snn_policy_node.policy.decimation import Decimator, PeriodMeter
from snn_policy_node.policy.policy import Policy
from snn_policy_node.policy.safety import EntryBound, SafetyConfig, SafetyLayer

REPO = Path(__file__).resolve().parents[1]
MODELS = {"Hopper-v5 actor": ("models/td3bc/Hopper-v5/spiking_actor.safetensors", "adaptive"),
          "Ant-v5 actor": ("models/td3bc/Ant-v5/spiking_actor.safetensors", "adaptive"),
          "CartPole-v0 DSQN": ("models/dsqn/CartPole-v0/seed0/model.safetensors", 0)}


def full_config(policy: Policy) -> SafetyConfig:
    first = policy.checkpoint.observation.entries[0]
    return SafetyConfig(fade_in=1.0, max_rate=(20.0,), bounds=(EntryBound(f"{first.name}.{first.field}", -1e3, 1e3),),
                        fault_limit=5, safe_action=("damping",))


def decimation_step(command: np.ndarray):
    """One rate-mode tick's bookkeeping at 100 Hz with the network every 50 ms (its run not timed here)."""
    decimator, inferences, commands = Decimator(0.05, 0.01, "interpolate"), PeriodMeter(), PeriodMeter()

    def step(k: int) -> np.ndarray:
        now = k * 0.01
        if decimator.due(now):
            decimator.push(command, now)
            inferences.mark(now)
        commands.mark(now)
        return decimator.command(now)
    return step


def mean_us(step, calls: int) -> float:
    start = time.perf_counter()
    for k in range(calls):
        step(k)
    return (time.perf_counter() - start) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per timing")
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds; the median is printed")
    args = parser.parse_args()
    torch.set_num_threads(1)
    for name, (path, iterations) in MODELS.items():
        policy = Policy.load(REPO / path, iterations=iterations)
        obs = np.zeros(policy.checkpoint.observation.size)
        raw, velocity = obs + 0.1, np.zeros(len(policy.action.joints))
        command = policy.act(obs).command
        layers = {}
        for label, config in (("defaults", SafetyConfig()), ("full", full_config(policy))):
            layers[label] = SafetyLayer(config, policy.action, policy.checkpoint.observation)
            layers[label].activate("benchmark")
        steps = {"Policy.act": lambda k: policy.act(obs)}
        for label, layer in layers.items():
            steps[f"safety ({label})"] = (lambda layer: lambda k: (layer.check(raw), layer.command(command, k * 0.01, velocity)))(layer)
        steps["decimation (interpolate)"] = decimation_step(command)
        times = {label: [] for label in steps}
        for _ in range(args.rounds):
            for label, step in steps.items():
                times[label].append(mean_us(step, args.calls))
        medians = {label: float(np.median(values)) for label, values in times.items()}
        act = medians["Policy.act"]
        figures = ", ".join(f"{label} {us:.1f} us ({us / act:.1%} of Policy.act)" for label, us in medians.items()
                            if label != "Policy.act")
        print(f"{name}: Policy.act {act:.1f} us; {figures}")


if __name__ == "__main__":
    main()
