"""Decimation: a control loop that publishes faster than the policy was trained to act.

A policy trained at a 50 ms control period sees the world change 50 ms per step; run every
2 ms it meets dynamics it never learned. So the network runs once per ``period`` and the loop
fills the ticks between with the last command held, or with a linear ramp from the previous
command to the newest over one period (smoother torques, one period of lag). Achieved periods
are measured, since a loaded machine runs late.
"""

from dataclasses import dataclass, field

import numpy as np

FILLS = ("hold", "interpolate")


class Decimator:
    """When the network runs (every ``run_period`` seconds: the whole number of loop ticks of
    ``tick`` seconds nearest ``period``; 0: every tick) and what each tick commands in between
    (``fill``: "hold" or "interpolate", a ramp over ``run_period``)."""

    def __init__(self, period: float, tick: float, fill: str = "hold"):
        if fill not in FILLS:
            raise ValueError(f"decimation fill {fill!r} is not one of {FILLS}")
        if not (period >= 0 and tick > 0):
            raise ValueError(f"decimation needs a period >= 0 and a tick > 0, got {period!r} and {tick!r}")
        self.period, self.fill = period, fill
        # the network runs every ``ticks`` ticks: the whole number nearest the period (at least one)
        self.ticks = max(1, round(period / tick)) if period > 0 else 1
        self.run_period = self.ticks * tick if period > 0 else 0.0
        # a tick within half a tick of its time counts as on time: timer jitter must not skip inferences
        self._due_after = (self.ticks - 0.5) * tick
        self._previous: np.ndarray | None = None
        self._newest: np.ndarray | None = None
        self._newest_time: float | None = None

    def due(self, now: float) -> bool:
        """Whether the network should run at ``now`` (seconds of a monotonic clock)."""
        return self.period == 0 or self._newest_time is None or now - self._newest_time >= self._due_after

    def push(self, command: np.ndarray, now: float) -> None:
        """The network's newest command, computed at ``now``."""
        self._previous = command if self._newest is None else self._newest
        self._newest, self._newest_time = command, now

    def command(self, now: float) -> np.ndarray:
        """What the loop commands at ``now``: the newest command, or the ramp towards it."""
        if self._newest is None:
            raise RuntimeError("no policy command yet: push one first")
        if self.fill == "hold" or self.period == 0:
            return self._newest
        share = min(1.0, (now - self._newest_time) / self.run_period)
        return self._previous + share * (self._newest - self._previous)

    def reset(self) -> None:
        """Forget the commands (after a stop): the next tick runs the network and starts no ramp."""
        self._previous = self._newest = self._newest_time = None


@dataclass
class PeriodMeter:
    """Intervals between events on a monotonic clock, summarised per report window."""

    last: float | None = None
    intervals: list[float] = field(default_factory=list)

    def mark(self, now: float) -> None:
        if self.last is not None:
            self.intervals.append(now - self.last)
        self.last = now

    def take(self) -> dict[str, float] | None:
        """Mean and largest interval (ms) since the last call; None if fewer than two events."""
        intervals, self.intervals = self.intervals, []
        if not intervals:
            return None
        return {"mean_ms": float(np.mean(intervals)) * 1e3, "max_ms": float(np.max(intervals)) * 1e3}

    def restart(self) -> None:
        """A pause (a stop, a deactivation) is not an interval."""
        self.last = None
