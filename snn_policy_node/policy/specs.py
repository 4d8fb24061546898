"""Observation and action specs: how a policy's vectors map to named robot joints.

A checkpoint carries both, so the same file drives a simulated robot and a real one whose
``/joint_states`` lists joints in another order or carries extra joints.
"""

import math
from dataclasses import dataclass, field

SOURCES = ("joint_states", "odometry")
FIELDS = ("position", "velocity", "effort", "cos_position", "sin_position")
# A floating base seen through odometry, in MuJoCo's free-joint coordinates: position and
# orientation quaternion in the world frame, linear velocity in the world frame, angular
# velocity in the body frame.
ODOMETRY_FIELDS = ("x", "y", "z", "qw", "qx", "qy", "qz", "vx", "vy", "vz", "wx", "wy", "wz")
ACTION_KINDS = ("discrete", "continuous")
# Normalising by a smaller standard deviation turns sensor noise into huge inputs: such a spec is
# a damaged or hand-edited file, not a trained policy's.
STD_FLOOR = 1e-6


@dataclass(frozen=True)
class ObservationEntry:
    """One element of the observation vector: ``field`` of the joint ``name``, or, from
    odometry, the floating-base coordinate ``field`` of the body ``name``."""

    name: str
    field: str
    source: str = "joint_states"

    def __post_init__(self):
        if not self.name:
            raise ValueError("an observation entry needs a joint (or, from odometry, body) name")
        if self.source not in SOURCES:
            raise ValueError(f"observation source {self.source!r} of {self.name!r} is not one of {SOURCES}")
        fields = ODOMETRY_FIELDS if self.source == "odometry" else FIELDS
        if self.field not in fields:
            raise ValueError(f"{self.source} field {self.field!r} of {self.name!r} is not one of {fields}")


@dataclass(frozen=True)
class ObservationSpec:
    """Ordered observation entries, optional clipping to ``[-clip, clip]`` per entry (as the
    environment does before the policy sees a value), then the normalisation ``(obs - mean) / std``."""

    entries: tuple[ObservationEntry, ...]
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    clip: tuple[float, ...] | None = None

    def __post_init__(self):
        if not self.entries:
            raise ValueError("an observation spec needs at least one entry")
        for name, values in (("mean", self.mean), ("std", self.std), ("clip", self.clip)):
            if values is not None and len(values) != len(self.entries):
                raise ValueError(f"observation {name} has {len(values)} values for {len(self.entries)} entries")
        if self.std is not None and any(not s >= STD_FLOOR for s in self.std):
            raise ValueError(f"observation std must be at least {STD_FLOOR:g}, got {min(self.std):g}")
        if self.clip is not None and any(not c > 0 for c in self.clip):
            raise ValueError("observation clip bounds must be positive (use inf for none)")

    @property
    def size(self) -> int:
        return len(self.entries)

    def to_dict(self) -> dict:
        return {
            "entries": [{"name": e.name, "field": e.field, "source": e.source} for e in self.entries],
            "mean": None if self.mean is None else list(self.mean),
            "std": None if self.std is None else list(self.std),
            "clip": None if self.clip is None else list(self.clip),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "ObservationSpec":
        return cls(
            entries=tuple(ObservationEntry(**entry) for entry in data["entries"]),
            mean=None if data.get("mean") is None else tuple(float(v) for v in data["mean"]),
            std=None if data.get("std") is None else tuple(float(v) for v in data["std"]),
            clip=None if data.get("clip") is None else tuple(float(v) for v in data["clip"]),
        )


@dataclass(frozen=True)
class ActionSpec:
    """What the policy's output means on the command topic, in the controller's joint order.

    ``discrete``: action index k publishes ``commands[k]`` (one value per joint).
    ``continuous``: the output is clipped to ``[low, high]`` per joint.
    """

    kind: str
    joints: tuple[str, ...]
    commands: tuple[tuple[float, ...], ...] = field(default=())
    low: tuple[float, ...] = field(default=())
    high: tuple[float, ...] = field(default=())

    def __post_init__(self):
        if self.kind not in ACTION_KINDS:
            raise ValueError(f"action kind {self.kind!r} is not one of {ACTION_KINDS}")
        if not self.joints:
            raise ValueError("an action spec needs at least one joint")
        width = len(self.joints)
        if not all(math.isfinite(v) for v in (*self.low, *self.high, *(v for c in self.commands for v in c))):
            raise ValueError("action commands and bounds must be finite")
        if self.kind == "discrete":
            if not self.commands or any(len(c) != width for c in self.commands):
                raise ValueError(f"a discrete action spec needs commands of {width} values each")
        elif len(self.low) != width or len(self.high) != width or any(lo > hi for lo, hi in zip(self.low, self.high)):
            raise ValueError(f"a continuous action spec needs low <= high with {width} values each")

    @property
    def size(self) -> int:
        """Width of the policy output: the number of discrete actions, or of joints."""
        return len(self.commands) if self.kind == "discrete" else len(self.joints)

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "joints": list(self.joints),
            "commands": [list(c) for c in self.commands],
            "low": list(self.low),
            "high": list(self.high),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "ActionSpec":
        return cls(
            kind=data["kind"],
            joints=tuple(data["joints"]),
            commands=tuple(tuple(float(v) for v in c) for c in data.get("commands", ())),
            low=tuple(float(v) for v in data.get("low", ())),
            high=tuple(float(v) for v in data.get("high", ())),
        )
