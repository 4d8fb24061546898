import math

import numpy as np
import pytest

from snn_policy_node.policy.observation import InputFault, JointReading, ObservationBuilder, OdometryReading
from snn_policy_node.policy.specs import ObservationEntry, ObservationSpec
from snn_policy_node.tasks import DSQN_TASKS

ACROBOT = DSQN_TASKS["Acrobot-v1"].observation


def test_observation_is_built_by_name_whatever_the_order_and_extra_joints():
    builder = ObservationBuilder(ACROBOT)
    canonical = builder.build(JointReading(["joint1", "joint2"], [0.3, -1.2], [0.5, 2.0]))
    shuffled = builder.build(JointReading(["elbow", "joint2", "joint1"], [9.0, -1.2, 0.3], [9.0, 2.0, 0.5]))
    expected = [math.cos(0.3), math.sin(0.3), math.cos(-1.2), math.sin(-1.2), 0.5, 2.0]
    np.testing.assert_allclose(canonical, expected)
    np.testing.assert_array_equal(shuffled, canonical)


def test_normalisation_of_the_spec_is_applied():
    spec = ObservationSpec((ObservationEntry("a", "position"), ObservationEntry("a", "effort")), mean=(1.0, 0.0), std=(2.0, 4.0))
    obs = ObservationBuilder(spec).build(JointReading(["a"], [5.0], [], [8.0]))
    np.testing.assert_array_equal(obs, [2.0, 2.0])


@pytest.mark.parametrize(
    "reading, kind",
    [
        (JointReading([]), "empty"),
        (JointReading(["joint1", "joint2"], [0.1], [0.1, 0.2]), "length_mismatch"),
        (JointReading(["joint1", "joint2"], [0.1, 0.2], []), "length_mismatch"),
        (JointReading(["joint1"], [0.1], [0.1]), "missing_joint"),
        (JointReading(["joint1", "joint1", "joint2"], [0.1] * 3, [0.1] * 3), "duplicate_joint"),
        (JointReading(["joint1", "joint2"], [math.nan, 0.2], [0.1, 0.2]), "non_finite"),
        (JointReading(["joint1", "joint2"], [0.1, 0.2], [0.1, math.inf]), "non_finite"),
    ],
)
def test_faulty_readings_raise_a_named_fault(reading, kind):
    with pytest.raises(InputFault) as fault:
        ObservationBuilder(ACROBOT).build(reading)
    assert fault.value.kind == kind


def test_a_fault_does_not_poison_the_cached_joint_order():
    """A refused joint order must not become the cached one: the same order sent again is refused
    again, not read through the index cached for the last good order."""
    builder = ObservationBuilder(ACROBOT)
    good = JointReading(["joint1", "joint2"], [0.1, 0.2], [0.3, 0.4])
    first = builder.build(good)
    for bad, kind in ((JointReading(["joint1", "elbow"], [0.1, 0.2], [0.3, 0.4]), "missing_joint"),
                      (JointReading(["joint2"], [0.2], [0.4]), "missing_joint"),
                      (JointReading(["joint1", "joint2", "joint1"], [0.1] * 3, [0.1] * 3), "duplicate_joint")):
        for _ in range(2):
            with pytest.raises(InputFault) as fault:
                builder.build(bad)
            assert fault.value.kind == kind
        np.testing.assert_array_equal(builder.build(good), first)


BASE = ObservationSpec(
    (ObservationEntry("hip", "position"),)
    + tuple(ObservationEntry("torso", field, "odometry") for field in ("z", "qw", "qz", "vx", "vy", "wz"))
)
YAWED = OdometryReading([1.0, 2.0, 0.5], [math.cos(math.pi / 4), 0.0, 0.0, math.sin(math.pi / 4)],
                        linear=[2.0, 0.0, 0.0], angular=[0.0, 0.0, 0.3])


def test_odometry_gives_the_base_in_world_coordinates():
    """Yawed 90 degrees, moving forward along the body's x: the world sees it move along y."""
    obs = ObservationBuilder(BASE).build(JointReading(["hip"], [0.1]), YAWED)
    np.testing.assert_allclose(obs, [0.1, 0.5, math.cos(math.pi / 4), math.sin(math.pi / 4), 0.0, 2.0, 0.3], atol=1e-12)


@pytest.mark.parametrize(
    "odometry, kind",
    [
        (None, "missing_odometry"),
        (OdometryReading([0.0] * 3, [0.0] * 4, [0.0] * 3, [0.0] * 3), "invalid_orientation"),
        (OdometryReading([0.0] * 3, [1.0, 0.0, 0.0, 0.0], [math.nan, 0.0, 0.0], [0.0] * 3), "non_finite"),
        (OdometryReading([0.0] * 3, [1.0, 0.0, 0.0], [0.0] * 3, [0.0] * 3), "length_mismatch"),
    ],
)
def test_faulty_odometry_raises_a_named_fault(odometry, kind):
    with pytest.raises(InputFault) as fault:
        ObservationBuilder(BASE).build(JointReading(["hip"], [0.1]), odometry)
    assert fault.value.kind == kind


def test_odometry_entries_name_floating_base_coordinates():
    with pytest.raises(ValueError, match="odometry field 'position'"):
        ObservationEntry("torso", "position", source="odometry")
    with pytest.raises(ValueError, match="joint_states field 'qw'"):
        ObservationEntry("hip", "qw")
