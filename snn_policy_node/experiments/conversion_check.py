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
from snn_policy_node.ann2snn.conversion import SpikingActor
from snn_policy_node.ann2snn.qcfs import MLPActor
from snn_policy_node.evaluation.actor_variants import play, spiking_player


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
def check_setting(env_id: str, spiking: SpikingActor, setting, mean: np.ndarray, std: np.ndarray, episodes: int,
                  seed: int, max_steps: int) -> CheckRow:
    """Drive the task with the spiking actor; ``setting`` is I or (I_min, I_max)."""
    player, action_errors = spiking_player(spiking, setting, episodes), []

    def act(x, live):
        action, error_spikes = player(x, live)
        action_errors.append((action - spiking.source_action(x)).abs().mean(-1))
        return action, error_spikes

    returns, error_spikes = play(env_id, mean, std, act, range(seed, seed + episodes), max_episode_steps=max_steps)
    name = f"adaptive I in [{setting[0]}, {setting[1]}]" if isinstance(setting, tuple) else f"I = {setting}"
    return CheckRow(name, float(returns.mean()), float(torch.cat(action_errors).mean()), error_spikes.tolist())


def run_check(env_id: str = "Hopper-v5", episodes: int = 2, max_steps: int = 200, seed: int = 0) -> list[CheckRow]:
    states = random_states(env_id, 2000, seed)
    mean, std = states.mean(0), states.std(0) + 1e-3
    act_dim = make_task_env(env_id).action_space.shape[0]
    normalised = torch.from_numpy((states - mean) / std)
    spiking = SpikingActor.from_qcfs(percentile_actor(normalised, act_dim, seed))
    settings = [0, 1, 2, 3, (0, 3)]
    return [check_setting(env_id, spiking, s, mean, std, episodes, seed, max_steps)
            for s in tqdm(settings, desc="calibration settings", unit="setting")]


def format_rows(rows: list[CheckRow]) -> str:
    lines = [f"{'calibration':<22} {'return':>8} {'|a_snn - a_qcfs|':>17}  error spikes per action, per layer"]
    for row in rows:
        layers = ", ".join(f"{v:7.2f}" for v in row.error_spikes)
        lines.append(f"{row.setting:<22} {row.episode_return:8.1f} {row.action_error:17.5f}  [{layers}]")
    return "\n".join(lines)
