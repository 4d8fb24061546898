"""Observation vectors built by joint name from joint-state readings.

A robot's joint-state stream lists joints in its own order and may carry joints the
policy never saw; the observation spec says which joint and field fills each element.
A floating base (a walking robot's torso) has no joint state: its pose and twist come from
odometry. Every reading is checked: a fault raises :class:`InputFault`, whose ``kind``
names what was wrong, so a node can count faults by kind and skip the reading.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import mujoco
import numpy as np

from snn_policy_node.policy.specs import ODOMETRY_FIELDS, ObservationSpec

FAULT_KINDS = ("empty", "length_mismatch", "missing_joint", "duplicate_joint", "non_finite", "missing_odometry",
               "invalid_orientation")
# How far from 1 a quaternion's norm may be before it is refused. Odometry from a robot is
# normalised; Gymnasium's Ant starts episodes from a noisy, unnormalised one (norm ~1 +- 0.1),
# which its observation carries as is, and so does the policy's.
ORIENTATION_TOLERANCE = 0.25


class InputFault(ValueError):
    """A reading (joint states or odometry) the policy must not act on."""

    def __init__(self, kind: str, detail: str):
        super().__init__(f"{kind}: {detail}")
        self.kind = kind


@dataclass(frozen=True)
class JointReading:
    """One joint-state message's content: names and the per-joint arrays (possibly empty)."""

    names: Sequence[str]
    position: Sequence[float] = ()
    velocity: Sequence[float] = ()
    effort: Sequence[float] = ()


@dataclass(frozen=True)
class OdometryReading:
    """A floating base's pose and twist as nav_msgs/Odometry carries them (REP 105): position
    and orientation quaternion (w, x, y, z) in the odometry frame, twist in the body frame."""

    position: Sequence[float]
    orientation: Sequence[float]
    linear: Sequence[float]
    angular: Sequence[float]


@dataclass(frozen=True)
class ImuReading:
    """What sensor_msgs/Imu carries of a floating base: orientation (w, x, y, z) and angular
    velocity in the body frame (REP 145)."""

    orientation: Sequence[float]
    angular: Sequence[float]


def with_imu(odometry: OdometryReading, imu: ImuReading) -> OdometryReading:
    """The floating base as a robot with an IMU knows it best: orientation and angular velocity
    from the IMU, position and linear velocity from odometry."""
    return OdometryReading(odometry.position, imu.orientation, odometry.linear, imu.angular)


def free_joint_coordinates(odometry: OdometryReading) -> dict[str, float]:
    """The floating base in MuJoCo's free-joint coordinates (:data:`ODOMETRY_FIELDS`): the
    linear velocity turns from the body frame into the world frame (by the normalised
    orientation), the angular one stays, the quaternion is passed on as reported."""
    values = np.concatenate([odometry.position, odometry.orientation, odometry.linear, odometry.angular])
    if values.shape != (13,):
        raise InputFault("length_mismatch", f"odometry needs 3 + 4 + 3 + 3 values, got {values.size}")
    if not np.isfinite(values).all():
        raise InputFault("non_finite", "odometry")
    norm = np.linalg.norm(values[3:7])
    if abs(norm - 1.0) > ORIENTATION_TOLERANCE:
        raise InputFault("invalid_orientation", f"orientation quaternion of norm {norm:.4f}")
    linear = np.empty(3)
    mujoco.mju_rotVecQuat(linear, values[7:10], values[3:7] / norm)
    return dict(zip(ODOMETRY_FIELDS, [*values[:7], *linear, *values[10:]]))


class ObservationBuilder:
    """Maps joint readings to the normalised observation vector a checkpoint expects.

    The name -> index lookup is cached per joint order, so a stream whose order never
    changes costs one dictionary hit per message.
    """

    def __init__(self, spec: ObservationSpec):
        self.spec = spec
        self.needs_odometry = any(e.source == "odometry" for e in spec.entries)
        self.joints = tuple(dict.fromkeys(e.name for e in spec.entries if e.source == "joint_states"))
        self.mean = np.asarray(spec.mean if spec.mean is not None else np.zeros(spec.size), dtype=np.float64)
        self.std = np.asarray(spec.std if spec.std is not None else np.ones(spec.size), dtype=np.float64)
        self.clip = None if spec.clip is None else np.asarray(spec.clip, dtype=np.float64)
        self.fields = sorted({"position" if e.field.endswith("_position") else e.field
                              for e in spec.entries if e.source == "joint_states"})
        self._entry_joint = [self.joints.index(e.name) if e.source == "joint_states" else None for e in spec.entries]
        self._order: tuple[str, ...] | None = None
        self._index: np.ndarray | None = None

    def build(self, reading: JointReading, odometry: OdometryReading | None = None) -> np.ndarray:
        """The observation, or :class:`InputFault` if the readings cannot give it."""
        return self.normalise(self.raw(reading, odometry))

    def raw(self, reading: JointReading, odometry: OdometryReading | None = None) -> np.ndarray:
        """The observation in the robot's units, before clipping and normalisation (what safety
        bounds are written in), or :class:`InputFault`."""
        base = {}
        if self.needs_odometry:
            if odometry is None:
                raise InputFault("missing_odometry", "the policy observes a floating base and no odometry is at hand")
            base = free_joint_coordinates(odometry)
        names = tuple(reading.names)
        if not names:
            raise InputFault("empty", "joint-state message without joint names")
        index = self._joint_index(names)
        fields = {"position": reading.position, "velocity": reading.velocity, "effort": reading.effort}
        columns = {}
        for field in self.fields:
            values = np.asarray(fields[field], dtype=np.float64)
            if values.shape != (len(names),):
                raise InputFault("length_mismatch", f"{len(names)} joint names but {values.size} {field} values")
            columns[field] = values[index]
        obs = np.array([base[e.field] if e.source == "odometry" else self._value(columns, k, e.field)
                        for k, e in enumerate(self.spec.entries)])
        if not np.isfinite(obs).all():
            bad = [self.spec.entries[k] for k in np.flatnonzero(~np.isfinite(obs))]
            raise InputFault("non_finite", ", ".join(f"{e.name}.{e.field}" for e in bad))
        return obs

    def normalise(self, obs: np.ndarray) -> np.ndarray:
        """Clipped as the environment clips, then ``(obs - mean) / std``."""
        if self.clip is not None:
            obs = np.clip(obs, -self.clip, self.clip)
        return (obs - self.mean) / self.std

    def _joint_index(self, names: tuple[str, ...]) -> np.ndarray:
        if names != self._order:
            if len(set(names)) != len(names):
                raise InputFault("duplicate_joint", f"joint names repeat in {list(names)}")
            position = {name: k for k, name in enumerate(names)}
            missing = [j for j in self.joints if j not in position]
            if missing:
                raise InputFault("missing_joint", f"no {missing} among {list(names)}")
            self._order, self._index = names, np.array([position[j] for j in self.joints])
        return self._index

    def _value(self, columns: dict, entry: int, field: str) -> float:
        joint = self._entry_joint[entry]
        if field == "cos_position":
            return np.cos(columns["position"][joint])
        if field == "sin_position":
            return np.sin(columns["position"][joint])
        return columns[field][joint]


def joint_values(reading: JointReading, joints: Sequence[str], field: str) -> np.ndarray | None:
    """``field`` ("position", "velocity" or "effort") of each of ``joints`` in a reading (NaN for a
    joint it does not list), or None if the reading has no such field for every name."""
    values = getattr(reading, field)
    if len(values) != len(reading.names):
        return None
    by_name = dict(zip(reading.names, values))
    return np.array([by_name.get(joint, np.nan) for joint in joints], dtype=np.float64)
