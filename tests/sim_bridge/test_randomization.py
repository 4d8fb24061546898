import gymnasium as gym
import numpy as np
import pytest

from sim_bridge.randomization import (
    RandomizedPhysics,
    Range,
    draw_settings,
    load_randomization,
    profile,
    sweep_settings,
)

TABLE_2 = {
    ("CartPole-v0", "normal"): {"force_mag": [(5, 15)], "length": [(0.25, 0.75)], "masspole": [(0.05, 0.5)]},
    ("CartPole-v0", "extreme"): {
        "force_mag": [(1, 5), (15, 20)],
        "length": [(0.05, 0.25), (0.75, 1.0)],
        "masspole": [(0.01, 0.05), (0.5, 1.0)],
    },
    ("Acrobot-v1", "normal"): {name: [(0.75, 1.25)] for name in ("link_length", "link_mass", "link_moi")},
    ("Acrobot-v1", "extreme"): {name: [(0.5, 0.75), (1.25, 1.5)] for name in ("link_length", "link_mass", "link_moi")},
}


@pytest.mark.parametrize("task, name", list(TABLE_2))
def test_draws_cover_the_table_2_ranges_and_nothing_else(task, name):
    draws = draw_settings(task, name, count=2000, seed=1)
    for parameter, intervals in TABLE_2[task, name].items():
        values = np.array([d[parameter] for d in draws])
        inside = [(values >= low) & (values <= high) for low, high in intervals]
        assert np.logical_or.reduce(inside).all()
        for low, high in intervals:  # every interval is used, in proportion to its width
            share = ((values >= low) & (values <= high)).mean()
            width = (high - low) / sum(hi - lo for lo, hi in intervals)
            assert share == pytest.approx(width, abs=0.05)


def test_draws_are_reproducible_from_their_seed():
    assert draw_settings("CartPole-v0", "extreme", 10, seed=3) == draw_settings("CartPole-v0", "extreme", 10, seed=3)
    assert draw_settings("CartPole-v0", "extreme", 10, seed=3) != draw_settings("CartPole-v0", "extreme", 10, seed=4)


def test_sweeps_follow_section_3():
    lengths = [s["length"] for s in sweep_settings("CartPole-v0", "length", 10)]
    assert lengths[0] == pytest.approx(0.55) and lengths[-1] == pytest.approx(1.0)
    masses = [s["masspole"] for s in sweep_settings("CartPole-v0", "masspole", 7)]
    assert masses[0] == pytest.approx(0.6) and masses[-1] == pytest.approx(1.2)
    forces = [s["force_mag"] for s in sweep_settings("CartPole-v0", "force_mag", 8)]
    assert forces[0] == pytest.approx(9.0) and forces[-1] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="no sweep"):
        sweep_settings("CartPole-v0", "gravity", 3)


def test_wrapper_applies_and_records_each_draw():
    env = RandomizedPhysics(gym.make("CartPole-v0"), ranges=profile("CartPole-v0", "normal"), seed=0)
    seen = []
    for episode in range(3):
        _, info = env.reset(seed=episode)
        physics = info["physics"]
        seen.append(physics)
        inner = env.unwrapped
        assert (inner.force_mag, inner.length, inner.masspole) == (
            physics["force_mag"],
            physics["length"],
            physics["masspole"],
        )
        assert inner.polemass_length == pytest.approx(physics["masspole"] * physics["length"])
    assert env.history == seen and seen[0] != seen[1]


def test_wrapper_with_fixed_acrobot_parameters():
    env = RandomizedPhysics(gym.make("Acrobot-v1"), parameters={"link_length": 1.2, "link_mass": 0.8})
    env.reset(seed=0)
    inner = env.unwrapped
    assert inner.LINK_LENGTH_1 == inner.LINK_LENGTH_2 == 1.2 and inner.LINK_COM_POS_2 == 0.6
    assert inner.LINK_MASS_1 == inner.LINK_MASS_2 == 0.8 and inner.LINK_MOI == 1.0


def test_wrapper_with_no_parameters_plays_the_default_physics():
    env = RandomizedPhysics(gym.make("CartPole-v0"), parameters={})
    obs, info = env.reset(seed=3)
    assert info["physics"] == {} and env.unwrapped.length == 0.5 and env.unwrapped.force_mag == 10.0
    assert np.array_equal(obs, gym.make("CartPole-v0").reset(seed=3)[0])


def test_bad_randomization_input_is_refused(tmp_path):
    with pytest.raises(ValueError, match="low < high"):
        Range(((2.0, 1.0),))
    with pytest.raises(ValueError, match="no randomization profile"):
        profile("CartPole-v0", "wild")
    with pytest.raises(ValueError, match="either ranges"):
        RandomizedPhysics(gym.make("CartPole-v0"))
    with pytest.raises(ValueError, match="supports"):
        RandomizedPhysics(gym.make("Pendulum-v1"), parameters={})
    bad = tmp_path / "bad.yaml"
    bad.write_text("CartPole-v0:\n  profiles:\n    odd:\n      gravity: [[1, 2]]\n")
    with pytest.raises(ValueError, match="no physical parameters"):
        load_randomization(bad)


def test_mujoco_scales_apply_from_the_loaded_values_and_never_compound():
    env = RandomizedPhysics(gym.make("Hopper-v5"), ranges=profile("Hopper-v5", "extreme"), seed=0)
    model = env.unwrapped.model
    mass, gear, damping = model.body_mass.copy(), model.actuator_gear[:, 0].copy(), model.dof_damping.copy()
    friction, gravity = model.geom_friction[:, 0].copy(), model.opt.gravity.copy()
    for seed in range(3):
        _, info = env.reset(seed=seed)
        scales = info["physics"]
        assert all(value in profile("Hopper-v5", "extreme")[name] for name, value in scales.items())
        np.testing.assert_allclose(model.body_mass, mass * scales["body_mass"])
        np.testing.assert_allclose(model.actuator_gear[:, 0], gear * scales["actuator_gear"])
        np.testing.assert_allclose(model.dof_damping, damping * scales["joint_damping"])
        np.testing.assert_allclose(model.geom_friction[:, 0], friction * scales["friction"])
        np.testing.assert_allclose(model.opt.gravity, gravity * scales["gravity"])


def test_every_mujoco_task_has_normal_and_extreme_profiles():
    for task in ("Hopper-v5", "HalfCheetah-v5", "Walker2d-v5", "Ant-v5"):
        normal, extreme = profile(task, "normal"), profile(task, "extreme")
        assert set(normal) == set(extreme) == {"body_mass", "friction", "joint_damping", "actuator_gear", "gravity"}
        for name in normal:
            (low, high), = normal[name].intervals
            assert low < 1.0 < high
            assert all(not (low < a < high) and not (low < b < high) for a, b in extreme[name].intervals)
