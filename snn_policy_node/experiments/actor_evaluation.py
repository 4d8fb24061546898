"""Scoring TD3+BC actors as paper 000's tables do: the ReLU or QCFS ANN, and the converted
spiking actor with I = 0, 1, 2, 3 calibration passes and with adaptive I (Algorithm 2).

Every variant plays the same evaluation episodes (seeds 0..episodes-1), all episodes of a
variant as one batch; scores are D4RL-normalised, error spikes per layer (against the source
QCFS network) averaged over actions.
"""

from pathlib import Path

import numpy as np
import torch

from sim_bridge.tasks import make_task_env
from snn_policy_node.ann2snn.calibration import AdaptiveIterations
from snn_policy_node.ann2snn.conversion import SpikingActor
from snn_policy_node.ann2snn.qcfs import MLPActor
from snn_policy_node.tasks import normalised_score

VARIANTS = ("relu", "qcfs", "i0", "i1", "i2", "i3", "adaptive")
LABELS = {"relu": "ReLU", "qcfs": "QCFS", "i0": "I = 0", "i1": "I = 1", "i2": "I = 2", "i3": "I = 3",
          "adaptive": "adaptive I"}


def load_actor(path: Path) -> tuple[MLPActor, np.ndarray, np.ndarray]:
    """An actor saved by ``train td3bc`` (``actor.pt``: weights and state normalisation)."""
    state = torch.load(path, weights_only=True, map_location="cpu")  # tensors only: no code runs
    weights = state["actor"]
    activation = "qcfs" if any(k.endswith(".lam") for k in weights) else "relu"
    layers = sum(k.startswith("linears.") and k.endswith(".weight") for k in weights)
    outs = [weights[f"linears.{k}.weight"].shape[0] for k in range(layers)]
    actor = MLPActor(weights["linears.0.weight"].shape[1], outs[-1], outs[:-1], activation)
    actor.load_state_dict(weights)
    return actor.eval(), state["mean"].numpy(), state["std"].numpy()


@torch.no_grad()
def play(env_id: str, mean: np.ndarray, std: np.ndarray, act, episodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Returns per episode and mean error spikes per layer, all episodes in one batch.

    ``act(obs, running)`` maps normalised observations ``[n, obs]`` of the running episodes to
    actions and error spikes ``[n, layers]`` (or None).
    """
    envs = [make_task_env(env_id) for _ in range(episodes)]
    obs = np.stack([env.reset(seed=k)[0] for k, env in enumerate(envs)])
    returns, running = np.zeros(episodes), np.ones(episodes, bool)
    errors = []
    while running.any():
        live = np.flatnonzero(running)
        x = torch.as_tensor((obs[live] - mean) / std, dtype=torch.float32)
        action, error = act(x, live)
        if error is not None:
            errors.append(error.numpy())
        for row, k in enumerate(live):
            obs[k], reward, terminated, truncated, _ = envs[k].step(action[row].numpy())
            returns[k] += reward
            running[k] = not (terminated or truncated)
    return returns, (np.concatenate(errors).mean(0) if errors else np.zeros(0))


def evaluate_variants(relu_path: Path | None, qcfs_path: Path, env_id: str, episodes: int) -> dict:
    """Normalised score per variant (and error spikes for the spiking ones) of one training seed."""
    results = {}
    qcfs, mean, std = load_actor(qcfs_path)
    snn = SpikingActor.from_qcfs(qcfs, timesteps=4)
    players = {"qcfs": lambda x, live: (qcfs(x), None)}
    if relu_path is not None:
        relu, relu_mean, relu_std = load_actor(relu_path)
        returns, _ = play(env_id, relu_mean, relu_std, lambda x, live: (relu(x), None), episodes)
        results["relu"] = {"score": normalised_score(env_id, float(returns.mean()))}
    for i in range(4):
        players[f"i{i}"] = lambda x, live, i=i: _spiking(snn.simulate(x, i))
    adaptive = AdaptiveIterations(0, 3, batch=episodes)

    def adaptive_player(x, live):
        simulation = snn.simulate(x, adaptive.iterations[live])
        adaptive.update(_full(simulation.error_spikes.sum(-1), live, episodes))  # ended episodes stay at I_min
        return _spiking(simulation)

    players["adaptive"] = adaptive_player
    for name, player in players.items():
        returns, errors = play(env_id, mean, std, player, episodes)
        results[name] = {"score": normalised_score(env_id, float(returns.mean())), "error_spikes": errors.tolist()}
    return results


def _spiking(simulation):
    return simulation.action, simulation.error_spikes


def _full(values: torch.Tensor, live: np.ndarray, size: int) -> torch.Tensor:
    """Per-episode values for all ``size`` episodes, zero where an episode has ended."""
    out = torch.zeros(size, dtype=values.dtype)
    out[torch.as_tensor(live)] = values
    return out
