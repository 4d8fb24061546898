"""The transition replay buffer of every trainer (DQN, TD3, TD3+BC), in NumPy arrays, saved and
loaded without pickle."""

from pathlib import Path

import numpy as np
import torch

from snn_policy_node.atomic import atomic_path

FIELDS = ("obs", "action", "reward", "next_obs", "not_done", "episode_end")


class ReplayBuffer:
    """Transitions in insertion order; ``episode_end`` marks the last step of every episode
    (terminated or cut off), so the buffer can be replayed as a list of episodes.

    ``act_dim`` None holds discrete actions (one integer each). A full buffer refuses more
    transitions, so that it stays a complete record (TD3's is the medium-replay dataset), unless
    ``overwrite``: then each new transition replaces the oldest (DQN's sliding window)."""

    def __init__(self, obs_dim: int, act_dim: int | None, capacity: int, overwrite: bool = False):
        self.capacity, self.size, self.cursor, self.overwrite = capacity, 0, 0, overwrite
        self.obs = np.zeros((capacity, obs_dim), np.float32)
        self.action = np.zeros((capacity,) if act_dim is None else (capacity, act_dim),
                               np.int64 if act_dim is None else np.float32)
        self.reward = np.zeros((capacity, 1), np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), np.float32)
        self.not_done = np.zeros((capacity, 1), np.float32)
        self.episode_end = np.zeros(capacity, bool)

    def add(self, obs, action, reward: float, next_obs, terminated: bool, episode_end: bool) -> None:
        if self.size == self.capacity and not self.overwrite:
            raise ValueError(f"replay buffer is full ({self.capacity} transitions)")
        k = self.cursor
        self.obs[k], self.action[k], self.reward[k], self.next_obs[k] = obs, action, reward, next_obs
        self.not_done[k], self.episode_end[k] = 0.0 if terminated else 1.0, episode_end
        self.cursor, self.size = (k + 1) % self.capacity, min(self.size + 1, self.capacity)

    def sample(self, batch_size: int, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
        index = rng.integers(0, self.size, batch_size)
        return tuple(torch.from_numpy(getattr(self, f)[index]) for f in FIELDS[:5])

    def save(self, path: Path) -> None:
        """Atomically, as an uncompressed npz of the filled part."""
        with atomic_path(path) as temporary, open(temporary, "wb") as file:
            np.savez(file, **{f: getattr(self, f)[: self.size] for f in FIELDS})

    @classmethod
    def load(cls, path: Path, capacity: int | None = None) -> "ReplayBuffer":
        """The saved transitions, in a buffer of ``capacity`` (default: just their number)."""
        with np.load(path, allow_pickle=False) as data:
            action = data["action"]
            buffer = cls(data["obs"].shape[1], action.shape[1] if action.ndim == 2 else None, capacity or len(action))
            buffer.size = buffer.cursor = len(action)
            for f in FIELDS:
                getattr(buffer, f)[: buffer.size] = data[f]
        return buffer

    def episodes(self, end: int | None = None) -> list[slice]:
        """Index ranges of the complete episodes among the first ``end`` transitions."""
        ends = np.flatnonzero(self.episode_end[: self.size if end is None else end])
        starts = np.concatenate([[0], ends[:-1] + 1])
        return [slice(int(s), int(e) + 1) for s, e in zip(starts, ends)]
