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
# The ros2_control command interface the commands are meant for.
INTERFACES = ("effort", "position", "velocity")
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
    ``continuous``: the output is clipped to ``[low, high]`` per joint, then commanded as
    ``offset + scale x output`` (a position-target policy: the default pose plus a scaled action;
    empty ``scale``/``offset``: 1 and 0). ``interface`` names the ros2_control command interface
    the values are for, ``period`` the control period in seconds the policy was trained at (None:
    not recorded).
    """

    kind: str
    joints: tuple[str, ...]
    commands: tuple[tuple[float, ...], ...] = field(default=())
    low: tuple[float, ...] = field(default=())
    high: tuple[float, ...] = field(default=())
    scale: tuple[float, ...] = field(default=())
    offset: tuple[float, ...] = field(default=())
    interface: str = "effort"
    period: float | None = None

    def __post_init__(self):
        if self.kind not in ACTION_KINDS:
            raise ValueError(f"action kind {self.kind!r} is not one of {ACTION_KINDS}")
        if not self.joints:
            raise ValueError("an action spec needs at least one joint")
        if len(set(self.joints)) != len(self.joints):
            raise ValueError(f"action joints repeat in {list(self.joints)}")
        width = len(self.joints)
        values = (*self.low, *self.high, *self.scale, *self.offset, *(v for c in self.commands for v in c))
        if not all(math.isfinite(v) for v in values):
            raise ValueError("action commands, bounds, scale and offset must be finite")
        if self.kind == "discrete":
            if not self.commands or any(len(c) != width for c in self.commands):
                raise ValueError(f"a discrete action spec needs commands of {width} values each")
            if self.scale or self.offset:
                raise ValueError("a discrete action spec's commands are final: it takes no scale or offset")
        elif len(self.low) != width or len(self.high) != width or any(lo > hi for lo, hi in zip(self.low, self.high)):
            raise ValueError(f"a continuous action spec needs low <= high with {width} values each")
        for name, values in (("scale", self.scale), ("offset", self.offset)):
            if values and len(values) != width:
                raise ValueError(f"action {name} has {len(values)} values for {width} joints")
        if self.interface not in INTERFACES:
            raise ValueError(f"command interface {self.interface!r} is not one of {INTERFACES}")
        if self.period is not None and not (math.isfinite(self.period) and self.period > 0):
            raise ValueError(f"control period must be a positive number of seconds, got {self.period!r}")

    @property
    def size(self) -> int:
        """Width of the policy output: the number of discrete actions, or of joints."""
        return len(self.commands) if self.kind == "discrete" else len(self.joints)

    def command_limits(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """The lowest and highest command per joint the spec can produce."""
        if self.kind == "discrete":
            return tuple(map(min, zip(*self.commands))), tuple(map(max, zip(*self.commands)))
        scale = self.scale or (1.0,) * len(self.joints)
        offset = self.offset or (0.0,) * len(self.joints)
        ends = [(o + s * lo, o + s * hi) for s, o, lo, hi in zip(scale, offset, self.low, self.high)]
        return tuple(min(e) for e in ends), tuple(max(e) for e in ends)

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "joints": list(self.joints),
            "commands": [list(c) for c in self.commands],
            "low": list(self.low),
            "high": list(self.high),
            "scale": list(self.scale),
            "offset": list(self.offset),
            "interface": self.interface,
            "period": self.period,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "ActionSpec":
        period = data.get("period")
        return cls(
            kind=data["kind"],
            joints=tuple(data["joints"]),
            commands=tuple(tuple(float(v) for v in c) for c in data.get("commands", ())),
            low=tuple(float(v) for v in data.get("low", ())),
            high=tuple(float(v) for v in data.get("high", ())),
            scale=tuple(float(v) for v in data.get("scale", ())),
            offset=tuple(float(v) for v in data.get("offset", ())),
            interface=data.get("interface", "effort"),
            period=None if period is None else float(period),
        )
