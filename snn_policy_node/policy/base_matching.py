"""Joint states matched with the floating base's readings, by stamp.

A walking robot's policy observes its base too, which arrives on other topics (odometry, and
an IMU for orientation and angular velocity) at other times. A joint state is acted on together
with base readings at least as new as it, so a simulator's readings with equal stamps always
match, whichever comes first; one that waits longer than ``timeout`` seconds is dropped, since
the robot has moved on by the time the base is known.
"""

import time
from collections import Counter

from snn_policy_node.policy.observation import JointReading, OdometryReading, with_imu

SOURCES = ("odometry", "imu")


class BaseMatcher:
    """The newest joint state waiting for the base readings from ``sources`` (() for a fixed base,
    ``("odometry",)``, or ``("odometry", "imu")``); stamps are integer nanoseconds. Readings
    dropped are counted in ``faults``: ``stale_reading`` (waited too long) and ``unmatched_base``
    (replaced by a newer joint state before its base readings came)."""

    def __init__(self, sources: tuple[str, ...], timeout: float, faults: Counter):
        if any(source not in SOURCES for source in sources) or (sources and sources[0] != "odometry"):
            raise ValueError(f"base sources must be (), ('odometry',) or ('odometry', 'imu'), got {sources}")
        self.sources, self.timeout, self.faults = sources, timeout, faults
        self.readings: dict[str, tuple[object, int]] = {}  # per source: the newest reading and its stamp
        self.joint: tuple[JointReading, object, int, float] | None = None  # reading, stamp, its ns, arrival

    def joint_state(self, reading: JointReading, stamp, nanoseconds: int) -> None:
        """A joint state (``stamp`` as the message had it, for the answer) arrived now."""
        if self.joint is not None and self.sources:
            self.faults["unmatched_base"] += 1
        self.joint = reading, stamp, nanoseconds, time.monotonic()

    def base(self, source: str, reading, nanoseconds: int) -> None:
        """A base reading: an :class:`OdometryReading` from odometry, an ``ImuReading`` from the IMU."""
        self.readings[source] = reading, nanoseconds

    def missing(self) -> list[str]:
        """The sources nothing has come from yet."""
        return [source for source in self.sources if source not in self.readings]

    def take(self) -> tuple[JointReading, object, OdometryReading | None] | None:
        """The waiting joint state, its stamp and its floating base, once they match; else None."""
        if self.joint is None:
            return None
        reading, stamp, nanoseconds, arrival = self.joint
        if not self.sources:
            self.joint = None
            return reading, stamp, None
        if time.monotonic() - arrival > self.timeout:
            self.joint = None
            self.faults["stale_reading"] += 1
            return None
        readings = [self.readings.get(source) for source in self.sources]
        if any(r is None or r[1] < nanoseconds for r in readings):
            return None
        self.joint = None
        base = readings[0][0] if len(readings) == 1 else with_imu(readings[0][0], readings[1][0])
        return reading, stamp, base

    def waiting(self) -> bool:
        return self.joint is not None

    def clear(self, base: bool = False) -> None:
        """Forget the waiting joint state, and with ``base`` the base readings too (another time line)."""
        self.joint = None
        if base:
            self.readings.clear()
