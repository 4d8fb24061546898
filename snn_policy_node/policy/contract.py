"""A policy's input/output contract with a robot: what it reads, what it commands, how often.

The checkpoint carries the contract (its observation and action specs); this module states it
for people (``snn-robot inspect``) and checks a robot's joint lists against it. A mismatch is
named in one line, the joints missing beside the joints unexpected: observation ordering is the
commonest silent failure of deployed policies, and a line that names both ends the search.
"""

from collections.abc import Sequence

import numpy as np

from snn_policy_node.brief import brief
from snn_policy_node.policy.checkpoint import Checkpoint


def describe(checkpoint: Checkpoint) -> dict:
    """The contract as plain data: the joints and fields read, each observation entry's
    normalisation, the command interface, joints and range, and the control period."""
    observation, action = checkpoint.observation, checkpoint.action
    mean = observation.mean or (0.0,) * observation.size
    std = observation.std or (1.0,) * observation.size
    clip = observation.clip or (float("inf"),) * observation.size
    low, high = action.command_limits()
    commands = ({"per_action": [list(c) for c in action.commands]} if action.kind == "discrete" else
                {"output_low": list(action.low), "output_high": list(action.high),
                 "scale": list(action.scale or (1.0,) * len(action.joints)),
                 "offset": list(action.offset or (0.0,) * len(action.joints))})
    return {
        "joint_states": observed_joints(checkpoint),
        "floating_base": next((e.name for e in observation.entries if e.source == "odometry"), None),
        "observation": [{"entry": f"{e.name}.{e.field}", "source": e.source, "mean": m, "std": s, "clip": c}
                        for e, m, s, c in zip(observation.entries, mean, std, clip)],
        "commands": {"kind": action.kind, "interface": action.interface, "joints": list(action.joints),
                     "low": list(low), "high": list(high), **commands},
        "control_period_s": action.period,
    }


def observed_joints(checkpoint: Checkpoint) -> list[str]:
    """The joints whose joint states the policy reads, in observation order."""
    return list(dict.fromkeys(e.name for e in checkpoint.observation.entries if e.source == "joint_states"))


def needed_joints(checkpoint: Checkpoint) -> list[str]:
    """Every joint a robot must report: those observed, then those commanded."""
    return list(dict.fromkeys([*observed_joints(checkpoint), *checkpoint.action.joints]))


def joint_mismatch(needed: Sequence[str], listed: Sequence[str], what: str) -> str | None:
    """None if ``listed`` names every joint in ``needed``; else one line: the joints missing from
    ``what`` (e.g. "joint states") and the ones it lists that are not needed."""
    present = set(listed)
    missing = [j for j in needed if j not in present]
    if not missing:
        return None
    wanted = set(needed)
    unexpected = [j for j in listed if j not in wanted]
    return f"{what} lack {brief(missing)}, which the policy needs; they list {brief(unexpected)} it does not know"


def command_order(action_joints: Sequence[str], controller_joints: Sequence[str]) -> np.ndarray:
    """Indices that put commands (in the action spec's joint order) into the controller's order;
    ValueError naming the mismatch unless the controller has exactly the policy's joints."""
    if len(set(controller_joints)) != len(controller_joints):
        raise ValueError(f"controller_joints repeat joints: {brief(controller_joints)}")
    if sorted(controller_joints) != sorted(action_joints):
        missing = joint_mismatch(action_joints, controller_joints, "controller_joints")
        extra = [j for j in controller_joints if j not in set(action_joints)]
        raise ValueError(missing or f"controller_joints list {brief(extra)}, which the policy does not command")
    return np.array([list(action_joints).index(j) for j in controller_joints], dtype=np.intp)
