"""Playing a policy for whole episodes of a Gymnasium task: the project's one rollout loop.

The episodes of one call run in lockstep, one environment each, so that a batched policy acts
on all running episodes at once. ``act(obs, live)`` gets the observations ``[n, obs]`` of the
running episodes and their indices (for per-episode state such as adaptive I) and returns
their actions ``[n, act]``.
"""

from collections.abc import Callable, Sequence

import numpy as np
import torch

from sim_bridge.physics import apply_physics
from sim_bridge.tasks import make_task_env

Act = Callable[[np.ndarray, np.ndarray], np.ndarray]
Rewarded = Callable[[np.ndarray, np.ndarray], None]


def play_episodes(env_id: str, act: Act, seeds: Sequence[int], physics: Sequence[dict] | None = None,
                  rewarded: Rewarded | None = None, **make_options) -> np.ndarray:
    """The return of each episode, episode k starting from ``reset(seed=seeds[k])``.

    ``physics[k]`` sets episode k's physical parameters (``sim_bridge.physics``); ``rewarded(rewards,
    live)`` hears each step's rewards of the episodes that acted, for learning from dense rewards."""
    envs = [make_task_env(env_id, **make_options) for _ in seeds]
    for env, parameters in zip(envs, physics or ()):
        apply_physics(env, parameters)
    obs = np.stack([env.reset(seed=int(seed))[0] for env, seed in zip(envs, seeds)])
    returns, running = np.zeros(len(envs)), np.ones(len(envs), bool)
    while running.any():
        live = np.flatnonzero(running)
        actions, rewards = act(obs[live], live), np.zeros(len(live))
        for row, k in enumerate(live):
            obs[k], rewards[row], terminated, truncated, _ = envs[k].step(actions[row])
            returns[k] += float(rewards[row])
            running[k] = not (terminated or truncated)
        if rewarded is not None:
            rewarded(rewards, live)
    for env in envs:
        env.close()
    return returns


@torch.no_grad()
def actor_action(actor: torch.nn.Module, obs: np.ndarray, space, noise: float = 0.0,
                 rng: np.random.Generator | None = None) -> np.ndarray:
    """A torch actor's action for one observation, with Gaussian noise of ``noise`` x the bound, clipped."""
    x = torch.as_tensor(obs, dtype=torch.float32, device=next(actor.parameters()).device).unsqueeze(0)
    action = actor(x)[0].cpu().numpy()
    if noise:
        action = action + rng.normal(0.0, noise * space.high, size=action.shape)
    return np.clip(action, space.low, space.high).astype(space.dtype)


def evaluate_actor(actor: torch.nn.Module, env_id: str, episodes: int, seed: int) -> list[float]:
    """Returns of the greedy actor on seeds ``seed .. seed + episodes - 1``.

    It acts on one observation at a time: a ReLU network's batched and single-row outputs
    differ in the last bits, and TD3's logged evaluations (which pick the datasets' snapshots)
    were made one row at a time, so re-running a seed reproduces them exactly."""
    space = make_task_env(env_id).action_space
    act = lambda obs, live: np.stack([actor_action(actor, o, space) for o in obs])  # noqa: E731
    return play_episodes(env_id, act, range(seed, seed + episodes)).tolist()
