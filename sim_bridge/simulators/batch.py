"""CartPole-v0 and Acrobot-v1 stepped as one batch, each copy with its own physics.

Evaluating a policy on 100 seeded episodes one environment at a time is dominated by
Python overhead; here the dynamics of Gymnasium's environments run as array operations
over the whole batch. Each copy starts from exactly the state Gymnasium's own environment
reaches with ``reset(seed=k)`` and the tests check the trajectories step by step against
Gymnasium. A copy that ends its episode freezes and earns nothing more.
"""

import functools
from collections.abc import Sequence

import gymnasium as gym
import numpy as np

from sim_bridge.physics import check_parameters
from sim_bridge.tasks import physics_defaults


@functools.lru_cache(maxsize=100_000)
def initial_state(task: str, seed: int) -> np.ndarray:
    """The state of Gymnasium's ``task`` after ``reset(seed=seed)`` (read-only, cached)."""
    env = _unwrapped(task)
    env.reset(seed=seed)
    state = np.array(env.state, dtype=np.float64)
    state.flags.writeable = False
    return state


@functools.lru_cache(maxsize=None)
def _unwrapped(task: str) -> gym.Env:
    return gym.make(task).unwrapped


class BatchTask:
    """A batch of one classic-control task; subclasses give its dynamics."""

    task: str
    n_actions: int
    max_steps: int

    def __init__(self, seeds: Sequence[int], parameters: dict | None = None):
        self.seeds = list(seeds)
        parameters = parameters or {}
        check_parameters(self.task, {k: np.min(v) for k, v in parameters.items()})
        n = len(self.seeds)
        self.params = {
            name: np.broadcast_to(np.asarray(parameters.get(name, default), dtype=np.float64), (n,)).copy()
            for name, default in physics_defaults(self.task).items()
        }
        self.state = np.zeros((0, n))
        self.done = np.zeros(n, dtype=bool)
        self.steps = 0

    def __len__(self) -> int:
        return len(self.seeds)

    def reset(self) -> np.ndarray:
        """Start copy k where Gymnasium's environment starts with ``reset(seed=seeds[k])``."""
        self.state = np.stack([initial_state(self.task, seed) for seed in self.seeds], 1)
        self.done[:] = False
        self.steps = 0
        return self.observe()

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Advance every running copy; return observations, rewards and the done flags."""
        running = ~self.done
        new_state = self.dynamics(self.state, np.asarray(actions))
        self.state = np.where(running, new_state, self.state)
        terminated = self.terminal(self.state) & running
        self.steps += 1
        rewards = np.where(running, self.reward(terminated), 0.0)
        self.done |= terminated | (self.steps >= self.max_steps)
        return self.observe(), rewards, self.done.copy()

    def dynamics(self, state: np.ndarray, actions: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def terminal(self, state: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def reward(self, terminated: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def observe(self) -> np.ndarray:
        raise NotImplementedError


class BatchCartPole(BatchTask):
    """Gymnasium's CartPoleEnv (Euler integration), 200-step episodes as in CartPole-v0."""

    task, n_actions, max_steps = "CartPole-v0", 2, 200
    gravity, masscart, tau = 9.8, 1.0, 0.02
    theta_threshold, x_threshold = 12 * 2 * np.pi / 360, 2.4

    def dynamics(self, state, actions):
        x, x_dot, theta, theta_dot = state
        p = self.params
        total_mass = p["masspole"] + self.masscart
        polemass_length = p["masspole"] * p["length"]
        force = np.where(actions == 1, p["force_mag"], -p["force_mag"])
        cos, sin = np.cos(theta), np.sin(theta)
        temp = (force + polemass_length * np.square(theta_dot) * sin) / total_mass
        theta_acc = (self.gravity * sin - cos * temp) / (
            p["length"] * (4.0 / 3.0 - p["masspole"] * np.square(cos) / total_mass)
        )
        x_acc = temp - polemass_length * theta_acc * cos / total_mass
        return np.stack(
            [x + self.tau * x_dot, x_dot + self.tau * x_acc, theta + self.tau * theta_dot, theta_dot + self.tau * theta_acc]
        )

    def terminal(self, state):
        return (np.abs(state[0]) > self.x_threshold) | (np.abs(state[2]) > self.theta_threshold)

    def reward(self, terminated):
        return np.ones(len(self))

    def observe(self):
        return self.state.T.astype(np.float32)


class BatchAcrobot(BatchTask):
    """Gymnasium's AcrobotEnv ("book" dynamics, RK4 over dt = 0.2), 500-step episodes."""

    task, n_actions, max_steps = "Acrobot-v1", 3, 500
    dt, gravity = 0.2, 9.8
    max_vel_1, max_vel_2 = 4 * np.pi, 9 * np.pi
    torques = np.array([-1.0, 0.0, 1.0])

    def derivatives(self, s: np.ndarray, torque: np.ndarray) -> np.ndarray:
        p = self.params
        m1 = m2 = p["link_mass"]
        l1 = p["link_length"]
        lc1 = lc2 = p["link_length"] / 2
        i1 = i2 = p["link_moi"]
        g = self.gravity
        theta1, theta2, dtheta1, dtheta2 = s
        d1 = m1 * lc1**2 + m2 * (l1**2 + lc2**2 + 2 * l1 * lc2 * np.cos(theta2)) + i1 + i2
        d2 = m2 * (lc2**2 + l1 * lc2 * np.cos(theta2)) + i2
        phi2 = m2 * lc2 * g * np.cos(theta1 + theta2 - np.pi / 2.0)
        phi1 = (
            -m2 * l1 * lc2 * dtheta2**2 * np.sin(theta2)
            - 2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * np.sin(theta2)
            + (m1 * lc1 + m2 * l1) * g * np.cos(theta1 - np.pi / 2)
            + phi2
        )
        ddtheta2 = (torque + d2 / d1 * phi1 - m2 * l1 * lc2 * dtheta1**2 * np.sin(theta2) - phi2) / (
            m2 * lc2**2 + i2 - d2**2 / d1
        )
        ddtheta1 = -(d2 * ddtheta2 + phi1) / d1
        return np.stack([dtheta1, dtheta2, ddtheta1, ddtheta2])

    def dynamics(self, state, actions):
        torque = self.torques[actions]
        h = self.dt
        k1 = self.derivatives(state, torque)
        k2 = self.derivatives(state + h / 2 * k1, torque)
        k3 = self.derivatives(state + h / 2 * k2, torque)
        k4 = self.derivatives(state + h * k3, torque)
        new = state + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        new[0], new[1] = _wrap(new[0]), _wrap(new[1])
        new[2] = np.clip(new[2], -self.max_vel_1, self.max_vel_1)
        new[3] = np.clip(new[3], -self.max_vel_2, self.max_vel_2)
        return new

    def terminal(self, state):
        return -np.cos(state[0]) - np.cos(state[1] + state[0]) > 1.0

    def reward(self, terminated):
        return np.where(terminated, 0.0, -1.0)

    def observe(self):
        s = self.state
        return np.stack([np.cos(s[0]), np.sin(s[0]), np.cos(s[1]), np.sin(s[1]), s[2], s[3]], 1).astype(np.float32)


def _wrap(x: np.ndarray) -> np.ndarray:
    """Gymnasium's ``wrap(x, -pi, pi)``: shift by whole turns into [-pi, pi]."""
    turns = np.where(x > np.pi, np.ceil((x - np.pi) / (2 * np.pi)), 0.0) - np.where(
        x < -np.pi, np.ceil((-np.pi - x) / (2 * np.pi)), 0.0
    )
    return x - turns * 2 * np.pi


BATCH_TASKS = {cls.task: cls for cls in (BatchCartPole, BatchAcrobot)}


def make_batch(task: str, seeds: Sequence[int], parameters: dict | None = None) -> BatchTask:
    try:
        return BATCH_TASKS[task](seeds, parameters)
    except KeyError:
        raise ValueError(f"no batched version of {task!r}; available: {sorted(BATCH_TASKS)}") from None
