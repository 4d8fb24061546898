import gymnasium as gym
import numpy as np
import pytest

from sim_bridge.physics import apply_physics
from sim_bridge.simulators.batch import make_batch

CASES = [
    ("CartPole-v0", {}),
    ("CartPole-v0", {"force_mag": np.array([5.0, 15.0, 3.0]), "length": np.array([0.25, 0.9, 0.1]), "masspole": 0.5}),
    ("Acrobot-v1", {}),
    ("Acrobot-v1", {"link_length": np.array([0.6, 1.4, 1.0]), "link_mass": np.array([1.3, 0.7, 1.0]), "link_moi": 1.2}),
]


@pytest.mark.parametrize("task, parameters", CASES)
def test_batch_follows_gymnasium_step_by_step(task, parameters):
    seeds = [3, 17, 42]
    batch = make_batch(task, seeds, parameters)
    rng = np.random.default_rng(0)
    actions = rng.integers(0, batch.n_actions, size=(batch.max_steps, len(seeds)))
    obs = batch.reset()
    trajectories = [[obs]]
    totals = np.zeros(len(seeds))
    for t in range(batch.max_steps):
        obs, rewards, done = batch.step(actions[t])
        totals += rewards
        trajectories.append([obs])
        if done.all():
            break
    for k, seed in enumerate(seeds):
        env = gym.make(task)
        apply_physics(env, {name: float(np.broadcast_to(v, len(seeds))[k]) for name, v in parameters.items()})
        expected, _ = env.reset(seed=seed)
        np.testing.assert_allclose(trajectories[0][0][k], expected, atol=1e-6)
        total, t, finished = 0.0, 0, False
        while not finished:
            expected, reward, terminated, truncated, _ = env.step(int(actions[t, k]))
            total += reward
            t += 1
            np.testing.assert_allclose(trajectories[t][0][k], expected, atol=1e-5, err_msg=f"{task} seed {seed} step {t}")
            finished = terminated or truncated
        assert totals[k] == total


def test_finished_copies_freeze():
    batch = make_batch("CartPole-v0", [0, 1])
    batch.reset()
    for _ in range(300):
        obs, rewards, done = batch.step(np.array([1, 1]))
        if done.all():
            break
    frozen = obs.copy()
    obs, rewards, done = batch.step(np.array([0, 0]))
    assert done.all() and (rewards == 0).all() and np.array_equal(obs, frozen)


def test_unknown_parameters_and_tasks_are_refused():
    with pytest.raises(ValueError, match="no physical parameters"):
        make_batch("CartPole-v0", [0], {"gravity": 3.0})
    with pytest.raises(ValueError, match="positive"):
        make_batch("Acrobot-v1", [0], {"link_mass": 0.0})
    with pytest.raises(ValueError, match="no batched version"):
        make_batch("Pendulum-v1", [0])
