"""Scoring TD3+BC actors as paper 000's tables do: the ReLU or QCFS ANN, and the converted
spiking actor with I = 0, 1, 2, 3 calibration passes and with adaptive I (Algorithm 2).

Every variant plays the same evaluation episodes (seeds 0..episodes-1), all episodes of a
variant as one batch; scores are D4RL-normalised, error spikes per layer (against the source
QCFS network) averaged over actions.
"""

from pathlib import Path

import numpy as np
import torch

from snn_policy_node.ann2snn.calibration import AdaptiveIterations
from snn_policy_node.ann2snn.conversion import SpikingActor
from snn_policy_node.ann2snn.qcfs import MLPActor
from snn_policy_node.evaluation.rollout import play_episodes
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
def play(env_id: str, mean: np.ndarray, std: np.ndarray, act, seeds, **make_options) -> tuple[np.ndarray, np.ndarray]:
    """Returns per episode (one per seed) and mean error spikes per layer, all episodes in one batch.

    ``act(obs, running)`` maps normalised observations ``[n, obs]`` of the running episodes to
    actions and error spikes ``[n, layers]`` (or None).
    """
    errors = []

    def normalised(obs: np.ndarray, live: np.ndarray) -> np.ndarray:
        action, error = act(torch.as_tensor((obs - mean) / std, dtype=torch.float32), live)
        if error is not None:
            errors.append(error.numpy())
        return action.numpy()

    returns = play_episodes(env_id, normalised, seeds, **make_options)
    return returns, (np.concatenate(errors).mean(0) if errors else np.zeros(0))


def evaluate_variants(relu_path: Path | None, qcfs_path: Path, env_id: str, episodes: int) -> dict:
    """Per variant of one training seed: the normalised score, every episode's return (seed k is episode k's,
    the same for every variant) and, for the spiking ones, error spikes."""
    results = {}
    qcfs, mean, std = load_actor(qcfs_path)
    snn = SpikingActor.from_qcfs(qcfs, timesteps=4)
    players = {"qcfs": lambda x, live: (qcfs(x), None)}
    if relu_path is not None:
        relu, relu_mean, relu_std = load_actor(relu_path)
        returns, _ = play(env_id, relu_mean, relu_std, lambda x, live: (relu(x), None), range(episodes))
        results["relu"] = {"score": normalised_score(env_id, float(returns.mean())), "returns": returns.tolist()}
    for i in range(4):
        players[f"i{i}"] = spiking_player(snn, i, episodes)
    players["adaptive"] = spiking_player(snn, (0, 3), episodes)
    for name, player in players.items():
        returns, errors = play(env_id, mean, std, player, range(episodes))
        results[name] = {"score": normalised_score(env_id, float(returns.mean())), "error_spikes": errors.tolist(),
                         "returns": returns.tolist()}
    return results


def spiking_player(snn: SpikingActor, setting: int | tuple[int, int], episodes: int):
    """``act(x, live)`` of the spiking actor with I = ``setting`` calibration passes, or with
    adaptive I in ``setting = (I_min, I_max)`` kept per episode (Algorithm 2)."""
    if not isinstance(setting, tuple):
        return lambda x, live: _spiking(snn.simulate(x, setting))
    adaptive = AdaptiveIterations(*setting, batch=episodes)

    def adaptive_player(x, live):
        simulation = snn.simulate(x, adaptive.iterations[live])
        adaptive.update(_full(simulation.error_spikes.sum(-1), live, episodes))  # ended episodes stay at I_min
        return _spiking(simulation)

    return adaptive_player


def _spiking(simulation):
    return simulation.action, simulation.error_spikes


def _full(values: torch.Tensor, live: np.ndarray, size: int) -> torch.Tensor:
    """Per-episode values for all ``size`` episodes, zero where an episode has ended."""
    out = torch.zeros(size, dtype=values.dtype)
    out[torch.as_tensor(live)] = values
    return out
