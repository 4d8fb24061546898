"""Joint states matched with odometry and IMU readings by stamp."""

from collections import Counter

import pytest

from snn_policy_node.policy import base_matching
from snn_policy_node.policy.base_matching import BaseMatcher
from snn_policy_node.policy.observation import ImuReading, JointReading, OdometryReading

JOINTS = JointReading(("hip",), (0.1,), (0.0,))
ODOMETRY = OdometryReading((0.0, 0.0, 0.5), (1.0, 0.0, 0.0, 0.0), (1.0, 0.0, 0.0), (0.0, 0.0, 0.0))
IMU = ImuReading((0.0, 1.0, 0.0, 0.0), (0.0, 0.0, 2.0))


def test_a_fixed_base_joint_state_is_taken_at_once():
    matcher = BaseMatcher((), 0.5, Counter())
    matcher.joint_state(JOINTS, "stamp", 10)
    assert matcher.take() == (JOINTS, "stamp", None) and matcher.take() is None


def test_a_joint_state_waits_for_odometry_at_least_as_new_whichever_comes_first():
    faults = Counter()
    matcher = BaseMatcher(("odometry",), 0.5, faults)
    matcher.base("odometry", ODOMETRY, 9)
    matcher.joint_state(JOINTS, "s10", 10)
    assert matcher.take() is None and matcher.missing() == []
    matcher.base("odometry", ODOMETRY, 10)
    assert matcher.take() == (JOINTS, "s10", ODOMETRY)
    matcher.joint_state(JOINTS, "s11", 11)
    matcher.joint_state(JOINTS, "s12", 12)  # the first never matched
    assert faults["unmatched_base"] == 1


def test_the_imu_gives_orientation_and_angular_velocity_and_both_sources_must_be_as_new():
    matcher = BaseMatcher(("odometry", "imu"), 0.5, Counter())
    matcher.joint_state(JOINTS, "s", 10)
    matcher.base("odometry", ODOMETRY, 10)
    assert matcher.take() is None and matcher.missing() == ["imu"]
    matcher.base("imu", IMU, 10)
    _, _, base = matcher.take()
    assert base == OdometryReading(ODOMETRY.position, IMU.orientation, ODOMETRY.linear, IMU.angular)


def test_a_joint_state_that_waited_too_long_is_dropped(monkeypatch):
    faults, now = Counter(), [100.0]
    monkeypatch.setattr(base_matching.time, "monotonic", lambda: now[0])
    matcher = BaseMatcher(("odometry",), 0.5, faults)
    matcher.joint_state(JOINTS, "s", 10)
    now[0] += 0.6
    matcher.base("odometry", ODOMETRY, 10)
    assert matcher.take() is None and faults["stale_reading"] == 1 and not matcher.waiting()


def test_clearing_forgets_the_base_only_when_asked_and_bad_sources_are_refused():
    matcher = BaseMatcher(("odometry",), 0.5, Counter())
    matcher.base("odometry", ODOMETRY, 10)
    matcher.joint_state(JOINTS, "s", 10)
    matcher.clear()
    assert not matcher.waiting() and matcher.missing() == []
    matcher.clear(base=True)
    assert matcher.missing() == ["odometry"]
    with pytest.raises(ValueError, match="base sources"):
        BaseMatcher(("imu",), 0.5, Counter())
