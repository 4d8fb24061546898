"""The safety layer's state machine, against hand-computed commands."""

import math

import numpy as np
import pytest

from snn_policy_node.policy.safety import (
    FADING,
    LATCHED,
    RUNNING,
    EntryBound,
    SafetyConfig,
    SafetyLayer,
    tilt,
)
from snn_policy_node.policy.specs import ActionSpec, ObservationEntry, ObservationSpec

ACTION = ActionSpec("continuous", ("hip", "knee"), low=(-1.0, -2.0), high=(1.0, 2.0))
OBSERVATION = ObservationSpec((ObservationEntry("hip", "position"), ObservationEntry("knee", "velocity")))


def layer(**config) -> SafetyLayer:
    safety = SafetyLayer(SafetyConfig(**config), ACTION, OBSERVATION)
    safety.activate("activated")
    return safety


def test_the_command_fades_in_linearly_from_the_safe_command_then_runs():
    safety = layer(fade_in=1.0)
    policy = np.array([0.8, -1.6])
    shares = [0.0, 0.25, 0.5, 1.0, 1.5]
    commands = [safety.command(policy, 10.0 + t) for t in shares]
    for share, command in zip(shares, commands):
        np.testing.assert_allclose(command, min(share, 1.0) * policy)
    assert [e.state for e in safety.events] == [FADING, RUNNING]
    assert safety.state == RUNNING


def test_commands_stay_within_the_limits_and_the_rate():
    safety = layer(command_low=(-0.5,), command_high=(0.5, 1.0), max_rate=(2.0,))
    np.testing.assert_allclose(safety.command(np.array([3.0, 3.0]), 0.0), [0.5, 1.0])  # clipped
    np.testing.assert_allclose(safety.command(np.array([-3.0, -3.0]), 0.1), [0.3, 0.8])  # 2 per s x 0.1 s
    np.testing.assert_allclose(safety.command(np.array([-3.0, -3.0]), 0.1), [0.3, 0.8])  # no time, no change
    np.testing.assert_allclose(safety.command(np.array([-3.0, -3.0]), 1.0), [-0.5, -0.5])


def test_time_going_back_neither_reverses_the_fade_in_nor_frees_the_rate_limit():
    safety = layer(fade_in=1.0, max_rate=(1.0,))
    policy = np.array([3.0, 3.0])
    np.testing.assert_allclose(safety.command(policy, 10.0), [0.0, 0.0])
    np.testing.assert_allclose(safety.command(policy, 10.5), [0.5, 0.5])  # rate-limited: 1 per s
    np.testing.assert_allclose(safety.command(policy, 2.0), [0.5, 0.5])  # rewound: no time passed
    np.testing.assert_allclose(safety.command(policy, 2.25), [0.75, 0.75])  # the fade goes on from there
    assert safety.state == FADING


def test_default_limits_come_from_the_action_spec():
    assert ActionSpec("discrete", ("cart",), commands=((-10.0,), (10.0,))).command_limits() == ((-10.0,), (10.0,))
    np.testing.assert_allclose(layer().command(np.array([5.0, -5.0]), 0.0), [1.0, -2.0])
    # a position-target policy: default pose 0.3 / -0.2, scale 0.5 and -2 (negative: the ends swap)
    pose = ActionSpec("continuous", ("hip", "knee"), low=(-1.0, -1.0), high=(1.0, 1.0), scale=(0.5, -2.0),
                      offset=(0.3, -0.2), interface="position")
    assert pose.command_limits() == ((-0.2, -2.2), (0.8, 1.8))


@pytest.mark.parametrize("raw, reason", [
    ([0.0, 1e308], "knee.velocity = 1e+308 beyond +-1e+06"),
    ([3e38, 0.0], "hip.position = 3e+38 beyond +-1e+06"),
    ([0.6, 0.0], "hip.position = 0.6 outside [-0.5, 0.5]"),
])
def test_a_reading_out_of_its_bounds_latches_the_safe_state(raw, reason):
    safety = layer(bounds=(EntryBound("hip.position", -0.5, 0.5),))
    assert safety.check(np.array([0.1, 5.0])) is None
    assert safety.check(np.array(raw)) == reason
    assert safety.latched and safety.reason == reason
    assert safety.check(np.array([0.1, 5.0])) is None and safety.latched  # a good reading does not unlatch


def test_the_latch_holds_until_reset_and_then_fades_in_again():
    safety = layer(fade_in=0.5, safe_action=("hold", "zero"))
    safety.command(np.array([0.4, 0.4]), 0.0)
    safety.command(np.array([0.4, 0.4]), 1.0)  # faded in
    safety.trip("test")
    safety.trip("a second reason")  # the first is kept
    np.testing.assert_allclose(safety.command(np.array([-1.0, -1.0]), 1.1), [0.4, 0.0])
    np.testing.assert_allclose(safety.command(None, 1.2), [0.4, 0.0])
    assert safety.reason == "test"
    assert safety.reset("operator")
    assert not safety.reset("again")
    np.testing.assert_allclose(safety.command(np.array([-0.6, -0.6]), 2.0), [0.4, 0.0])  # fade starts at the hold
    np.testing.assert_allclose(safety.command(np.array([-0.6, -0.6]), 2.25), [-0.1, -0.3])
    assert [(e.state, e.reason) for e in safety.events][-2:] == [(LATCHED, "test"), (FADING, "operator")]


def test_damping_opposes_the_joint_velocity_and_unknown_velocities_get_zero():
    safety = layer(safe_action=("damping",), damping=(0.5, 2.0))
    safety.trip("test")
    np.testing.assert_allclose(safety.command(None, 0.0, np.array([1.0, -0.5])), [-0.5, 1.0])
    np.testing.assert_allclose(safety.command(None, 0.1, np.array([np.nan, 0.25])), [0.0, -0.5])
    np.testing.assert_allclose(safety.command(None, 0.2, None), [0.0, 0.0])


def test_consecutive_faults_trip_only_when_uninterrupted():
    safety = layer(fault_limit=3)
    safety.fault("non_finite")
    safety.fault("non_finite")
    safety.check(np.zeros(2))
    safety.fault("non_finite")
    safety.fault("empty")
    assert not safety.latched
    safety.fault("length_mismatch")
    assert safety.latched and safety.reason == "3 faulty readings in a row (the last: length_mismatch)"


def test_a_tilted_base_trips_the_layer():
    assert tilt([1.0, 0.0, 0.0, 0.0]) == 0.0
    half = math.radians(50) / 2
    assert tilt([math.cos(half), math.sin(half), 0.0, 0.0]) == pytest.approx(math.radians(50))
    safety = layer(max_tilt=math.radians(45))
    assert safety.check(np.zeros(2), np.array([math.cos(0.3), 0.0, math.sin(0.3), 0.0])) is None
    assert safety.check(np.zeros(2), np.array([math.cos(half), 0.0, math.sin(half), 0.0])) == \
        "base tilted 50.0 deg, beyond 45.0"


def test_an_inactive_layer_refuses_to_command_and_a_deactivation_starts_over():
    safety = SafetyLayer(SafetyConfig(fade_in=1.0), ACTION, OBSERVATION)
    with pytest.raises(RuntimeError, match="inactive"):
        safety.command(np.zeros(2), 0.0)
    safety.activate("activated")
    safety.trip("test")
    safety.deactivate()
    safety.activate("activated")
    assert safety.state == FADING


@pytest.mark.parametrize("config, message", [
    (dict(fade_in=-1.0), "fade_in"),
    (dict(fade_in=math.nan), "fade_in"),
    (dict(max_rate=(0.0,)), "max_rate"),
    (dict(fault_limit=-1), "fault_limit"),
    (dict(safe_action=("brake",)), "safe_action"),
    (dict(damping=(-1.0,)), "damping"),
    (dict(max_rate=(1.0, 2.0, 3.0)), "max_rate needs 1 value or one per action joint"),
    (dict(bounds=(EntryBound("ankle.position", 0, 1),)), "does not observe"),
    (dict(command_low=(1.0,), command_high=(0.0,)), "low <= high"),
])
def test_bad_configurations_are_refused_with_their_reason(config, message):
    with pytest.raises(ValueError, match=message):
        SafetyLayer(SafetyConfig(**config), ACTION, OBSERVATION)


def test_an_entry_bound_needs_ordered_ends():
    with pytest.raises(ValueError, match="low 1 must be <= high 0"):
        EntryBound("hip.position", 1, 0)
