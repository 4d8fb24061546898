"""Closed-loop check of ANN-to-SNN conversion and calibration on a Gymnasium task.

A seeded QCFS actor (thresholds set from the 99th percentile of its pre-activations on
visited states, eq. 13) is converted, and every calibration setting drives the real
environment in turn. Each action is compared with the source QCFS network's action on the
same state, and its error spikes (Algorithm 2, line 12) are counted per layer.
"""

from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from sim_bridge.tasks import make_task_env
from snn_policy_node.ann2snn.calibration import AdaptiveIterations
from snn_policy_node.ann2snn.conversion import SpikingActor
from snn_policy_node.ann2snn.qcfs import MLPActor


@dataclass
class CheckRow:
    setting: str
    episode_return: float
    action_error: float  # mean |a_snn - a_qcfs| per action element
    error_spikes: list[float]  # mean per action, per hidden layer


def random_states(env_id: str, steps: int, seed: int) -> np.ndarray:
    """States visited by uniformly random actions, for normalisation and thresholds."""
    env = make_task_env(env_id)
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    states = []
    for _ in range(steps):
        states.append(obs)
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            obs, _ = env.reset()
    env.close()
    return np.asarray(states, dtype=np.float32)


@torch.no_grad()
def percentile_actor(obs: torch.Tensor, act_dim: int, seed: int, percentile: float = 99.0) -> MLPActor:
    torch.manual_seed(seed)
    actor = MLPActor(obs.shape[1], act_dim, activation="qcfs")
    x = obs
    for linear, qcfs in zip(actor.linears, actor.activations):
        z = linear(x)
        qcfs.lam.fill_(max(torch.quantile(z.flatten(), percentile / 100).item(), 1e-3))
        x = qcfs(z)
    return actor


@torch.no_grad()
def rollout(make_env, spiking: SpikingActor, setting, normalise, episodes: int, seed: int, bar) -> CheckRow:
    """Drive a new environment with the spiking actor; ``setting`` is I or (I_min, I_max)."""
    adaptive = AdaptiveIterations(*setting) if isinstance(setting, tuple) else None
    env = make_env()
    returns, errors, spikes = [], [], []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        total, done = 0.0, False
        while not done:
            state = normalise(obs)
            iterations = adaptive.iterations if adaptive else setting
            result = spiking.simulate(state, iterations)
            if adaptive:
                adaptive.update(result.error_spikes.sum(-1))
            errors.append((result.action - spiking.source_action(state)).abs().mean().item())
            spikes.append(result.error_spikes[0].tolist())
            obs, reward, terminated, truncated, _ = env.step(result.action[0].numpy())
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
        bar.update()
    env.close()
    name = f"adaptive I in [{setting[0]}, {setting[1]}]" if adaptive else f"I = {setting}"
    return CheckRow(name, float(np.mean(returns)), float(np.mean(errors)), np.mean(spikes, axis=0).tolist())


def run_check(env_id: str = "Hopper-v5", episodes: int = 2, max_steps: int = 200, seed: int = 0) -> list[CheckRow]:
    states = torch.from_numpy(random_states(env_id, 2000, seed))
    mean, std = states.mean(0), states.std(0) + 1e-3
    normalise = lambda obs: ((torch.as_tensor(obs, dtype=torch.float32) - mean) / std).unsqueeze(0)  # noqa: E731
    act_dim = make_task_env(env_id).action_space.shape[0]
    spiking = SpikingActor.from_qcfs(percentile_actor((states - mean) / std, act_dim, seed))
    make_env = lambda: make_task_env(env_id, max_episode_steps=max_steps)  # noqa: E731
    settings = [0, 1, 2, 3, (0, 3)]
    with tqdm(total=len(settings) * episodes, desc="calibration settings x episodes", unit="episode") as bar:
        return [rollout(make_env, spiking, s, normalise, episodes, seed, bar) for s in settings]


def format_rows(rows: list[CheckRow]) -> str:
    lines = [f"{'calibration':<22} {'return':>8} {'|a_snn - a_qcfs|':>17}  error spikes per action, per layer"]
    for row in rows:
        layers = ", ".join(f"{v:7.2f}" for v in row.error_spikes)
        lines.append(f"{row.setting:<22} {row.episode_return:8.1f} {row.action_error:17.5f}  [{layers}]")
    return "\n".join(lines)
