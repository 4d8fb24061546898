"""The safety layer between a policy and a robot: soft start, command limits, out-of-domain
stops and a latched safe state.

A node checks every reading with :meth:`SafetyLayer.check` before the policy sees it and sends
every command through :meth:`SafetyLayer.command`. The layer is in one of three states:

- ``inactive`` (before activation and after deactivation): nothing is commanded;
- ``fading_in`` (after activation or a reset): the command blends from the safe command to the
  policy's, ``c = (1 - a) safe + a policy`` with ``a`` rising from 0 to 1 over ``fade_in`` seconds
  from the first command;
- ``running``: the policy's command;
- ``latched``: a trigger fired (a reading out of its bounds, the base tilted too far, too many
  faulty readings in a row); the safe command, from the reading that tripped it on, until
  :meth:`SafetyLayer.reset`.

Every command, the safe ones too, is clipped to the joint limits and moves at most ``max_rate``
units per second from the previous one: a command never leaves the configured envelope, so the
safe state is approached at the rate limit (set it to what the actuators may do in one period).
Each transition is kept in :attr:`SafetyLayer.events` with its reason, for the log and
``/diagnostics``.
"""

import math
from dataclasses import dataclass

import numpy as np

from snn_policy_node.policy.specs import ActionSpec, ObservationSpec

SAFE_ACTIONS = ("zero", "hold", "damping")  # per joint: 0, the command when the state changed, -kd x velocity
INACTIVE, FADING, RUNNING, LATCHED = "inactive", "fading_in", "running", "latched"
# No robot reports a joint position, velocity or base coordinate this large: a value beyond it is
# a driver's garbage (1e308, 3e38) and trips the layer even where no bound is configured.
ABSURD_READING = 1e6


@dataclass(frozen=True)
class EntryBound:
    """The allowed range of one observation entry (``name.field``, as the checkpoint names it), raw units."""

    entry: str
    low: float
    high: float

    def __post_init__(self):
        if not self.low <= self.high:
            raise ValueError(f"bound of {self.entry}: low {self.low} must be <= high {self.high}")


@dataclass(frozen=True)
class SafetyConfig:
    """What the layer enforces. Per-joint values hold one number for every joint or one per
    action joint; empty command limits take the checkpoint's action bounds."""

    fade_in: float = 0.0  # seconds of blending from the safe command after activation or reset
    command_low: tuple[float, ...] = ()
    command_high: tuple[float, ...] = ()
    max_rate: tuple[float, ...] = (math.inf,)  # command units per second
    bounds: tuple[EntryBound, ...] = ()
    max_reading: float = ABSURD_READING  # |raw observation entry| beyond which a reading trips the layer
    max_tilt: float = math.inf  # radians between the base's z axis and the world's
    fault_limit: int = 0  # consecutive faulty readings that trip the layer; 0: never
    safe_action: tuple[str, ...] = ("zero",)
    damping: tuple[float, ...] = (1.0,)  # kd of the damping safe action

    def __post_init__(self):
        if not (self.fade_in >= 0 and math.isfinite(self.fade_in)):
            raise ValueError(f"fade_in must be a finite number of seconds >= 0, got {self.fade_in}")
        if any(not r > 0 for r in self.max_rate):
            raise ValueError(f"max_rate must be positive (inf for none), got {list(self.max_rate)}")
        if not self.max_reading > 0 or not self.max_tilt > 0:
            raise ValueError("max_reading and max_tilt must be positive (inf for none)")
        if self.fault_limit < 0:
            raise ValueError(f"fault_limit must be >= 0 (0: never), got {self.fault_limit}")
        unknown = sorted(set(self.safe_action) - set(SAFE_ACTIONS))
        if unknown:
            raise ValueError(f"safe_action {unknown} is not one of {SAFE_ACTIONS}")
        if any(not (k >= 0 and math.isfinite(k)) for k in self.damping):
            raise ValueError(f"damping gains must be finite and >= 0, got {list(self.damping)}")


@dataclass(frozen=True)
class SafetyEvent:
    """A transition: the state entered and why."""

    state: str
    reason: str


def tilt(orientation: np.ndarray) -> float:
    """The angle (radians) between a body's z axis and the world's, from its quaternion (w, x, y, z)."""
    w, x, y, z = np.asarray(orientation, dtype=np.float64) / np.linalg.norm(orientation)
    return float(np.arccos(np.clip(1.0 - 2.0 * (x * x + y * y), -1.0, 1.0)))


def _per_joint(name: str, values: tuple, joints: int) -> np.ndarray:
    if len(values) not in (1, joints):
        raise ValueError(f"{name} needs 1 value or one per action joint ({joints}), got {len(values)}")
    return np.broadcast_to(np.asarray(values), (joints,)).copy()


class SafetyLayer:
    """The state machine of :mod:`snn_policy_node.policy.safety` for one policy's specs."""

    def __init__(self, config: SafetyConfig, action: ActionSpec, observation: ObservationSpec):
        self.config = config
        joints = len(action.joints)
        low, high = (np.asarray(ends, dtype=np.float64) for ends in action.command_limits())
        self.low = _per_joint("command_low", config.command_low, joints) if config.command_low else low
        self.high = _per_joint("command_high", config.command_high, joints) if config.command_high else high
        if np.any(self.low > self.high):
            raise ValueError(f"command limits need low <= high per joint, got {self.low.tolist()} / {self.high.tolist()}")
        self.max_rate = _per_joint("max_rate", config.max_rate, joints).astype(np.float64)
        self.safe_action = _per_joint("safe_action", config.safe_action, joints)
        self.damping = _per_joint("damping", config.damping, joints).astype(np.float64)
        rated = np.isfinite(self.max_rate)  # joints with a rate limit: all (a slice is cheapest), some, none
        self._rated = slice(None) if rated.all() else rated if rated.any() else None
        self._holds, self._damps = self.safe_action == "hold", self.safe_action == "damping"
        names = [f"{e.name}.{e.field}" for e in observation.entries]
        unknown = [b.entry for b in config.bounds if b.entry not in names]
        if unknown:
            raise ValueError(f"bounds name {unknown}, which the policy does not observe; it observes {names}")
        self._bounded = np.array([names.index(b.entry) for b in config.bounds], dtype=np.intp)
        self._bound_low = np.array([b.low for b in config.bounds])
        self._bound_high = np.array([b.high for b in config.bounds])
        self._names = names
        self.state, self.reason = INACTIVE, "not activated"
        self.events: list[SafetyEvent] = []
        self._faults = 0
        self._fade_start: float | None = None
        self._last: np.ndarray | None = None  # the last command sent, and when
        self._last_time: float | None = None
        self._hold: np.ndarray | None = None  # the 'hold' safe action: the last command when the state changed

    # state ------------------------------------------------------------------------------

    def _enter(self, state: str, reason: str) -> None:
        self.state, self.reason, self._hold = state, reason, self._last
        self.events.append(SafetyEvent(state, reason))

    def activate(self, reason: str) -> None:
        """Start commanding afresh (activation, reset): fade in from the safe command."""
        self._faults, self._fade_start = 0, None
        self._enter(FADING if self.config.fade_in > 0 else RUNNING, reason)

    def deactivate(self, reason: str = "deactivated") -> None:
        """Stop commanding; the next activation fades in from the safe command again."""
        self._last = self._last_time = None
        self._enter(INACTIVE, reason)

    def trip(self, reason: str) -> None:
        """Enter the latched safe state (once: the first reason is kept)."""
        if self.state not in (LATCHED, INACTIVE):
            self._enter(LATCHED, reason)

    def reset(self, reason: str = "reset") -> bool:
        """Leave the latched state; False (and no change) if it was not latched."""
        if self.state != LATCHED:
            return False
        self.activate(reason)
        return True

    @property
    def latched(self) -> bool:
        return self.state == LATCHED

    # readings -----------------------------------------------------------------------------

    def check(self, raw: np.ndarray, orientation: np.ndarray | None = None) -> str | None:
        """Check a reading (the raw observation vector, before clipping and normalisation, and the
        base's orientation if known); trip on a violation and return its reason, else None."""
        reason = self._violation(raw, orientation)
        if reason is None:
            self._faults = 0
        else:
            self.trip(reason)
        return reason

    def _violation(self, raw: np.ndarray, orientation: np.ndarray | None) -> str | None:
        if not (np.abs(raw) <= self.config.max_reading).all():
            absurd = np.flatnonzero(~(np.abs(raw) <= self.config.max_reading))[0]
            return f"{self._names[absurd]} = {raw[absurd]:.6g} beyond +-{self.config.max_reading:g}"
        values = raw[self._bounded]
        outside = (values < self._bound_low) | (values > self._bound_high)
        if outside.any():
            out = np.flatnonzero(outside)
            bound = self.config.bounds[out[0]]
            return f"{bound.entry} = {values[out[0]]:.6g} outside [{bound.low:g}, {bound.high:g}]"
        if orientation is not None and math.isfinite(self.config.max_tilt):
            angle = tilt(orientation)
            if angle > self.config.max_tilt:
                return f"base tilted {math.degrees(angle):.1f} deg, beyond {math.degrees(self.config.max_tilt):.1f}"
        return None

    def fault(self, kind: str) -> None:
        """A reading that could not be used; ``fault_limit`` of them in a row trip the layer."""
        self._faults += 1
        if self.config.fault_limit and self._faults >= self.config.fault_limit:
            self.trip(f"{self._faults} faulty readings in a row (the last: {kind})")

    # commands ----------------------------------------------------------------------------

    def safe_command(self, velocity: np.ndarray | None) -> np.ndarray:
        """Per joint: 0, the last command, or -kd x the joint's velocity (0 where it is unknown)."""
        command = np.zeros(len(self.safe_action))
        if self._hold is not None:
            command[self._holds] = self._hold[self._holds]
        if velocity is not None and self._damps.any():
            damp = self._damps & np.isfinite(velocity)
            command[damp] = -self.damping[damp] * velocity[damp]
        return command

    def command(self, policy: np.ndarray | None, now: float, velocity: np.ndarray | None = None) -> np.ndarray:
        """The command to send at time ``now`` (seconds, any monotonic clock) for the policy's
        ``policy`` (None in the latched state, where the policy need not run)."""
        if self.state == INACTIVE:
            raise RuntimeError("the safety layer is inactive: activate it before commanding")
        if self._last_time is not None and now < self._last_time:
            self._rebase(now)
        if self.state == RUNNING and policy is not None:  # the hot path: no safe command needed
            return self._limited(policy, now)
        safe = self.safe_command(velocity)
        if self.state == LATCHED or policy is None:
            target = safe
        else:
            if self._fade_start is None:
                self._fade_start = now
            share = min(1.0, max(0.0, (now - self._fade_start) / self.config.fade_in))
            target = (1.0 - share) * safe + share * policy
            if share >= 1.0:
                self._enter(RUNNING, f"faded in over {self.config.fade_in:g} s")
        return self._limited(target, now)

    def _rebase(self, now: float) -> None:
        """Time went back (a rewound clock, an unstamped reading among stamped ones): count it as no
        time at all, so the fade-in neither jumps nor reverses and the rate limit keeps holding."""
        if self._fade_start is not None:
            self._fade_start += now - self._last_time
        self._last_time = now

    def _limited(self, target: np.ndarray, now: float) -> np.ndarray:
        command = np.minimum(np.maximum(target, self.low), self.high)
        if self._rated is not None and self._last is not None:
            step = self.max_rate[self._rated] * max(now - self._last_time, 0.0)
            last = self._last[self._rated]
            command[self._rated] = np.minimum(np.maximum(command[self._rated], last - step), last + step)
        self._last, self._last_time = command, now
        return command
