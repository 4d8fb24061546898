"""The guard rail of online adaptation: roll back to the trained weights when the online return falls.

It decides on returns already experienced only, as a robot must: no evaluation episode.
"""

import numpy as np
import torch


class Guard:
    """The guard rail of a batch of runs, on online returns only: after the first
    ``baseline_episodes`` (the frozen baseline), a guarded run whose last ``window`` returns
    average below its floor is rolled back and skips its next ``window`` updates. The check then
    resumes over the episodes the trained weights played, so trained weights that stay below the
    floor keep the run waiting (each time counted as a rollback).

    The floor is baseline - margin |baseline| - confidence s sqrt(1/baseline_episodes + 1/window),
    s the standard deviation of the run's baseline returns. ``confidence`` 0 compares the means
    alone, and single episodes vary so much (a CartPole policy's returns spread by ~34 around a
    mean of ~140) that two 10-episode means of the very same weights differ by more than 5 % most
    of the time: frozen weights would be rolled back ~3 times per 100 episodes. ``confidence`` z
    rolls back only when the drop is significant at one-sided level Phi(-z) (2.33: 1 %) per check.
    """

    def __init__(self, guarded: torch.Tensor, baseline_episodes: int, window: int, margin: float, confidence: float = 0.0):
        if baseline_episodes < 0 or window < 1 or not margin >= 0 or not confidence >= 0:
            raise ValueError(f"need baseline_episodes >= 0, window >= 1, margin >= 0 and confidence >= 0, got "
                             f"{baseline_episodes}, {window}, {margin}, {confidence}")
        if confidence > 0 and baseline_episodes < 2:
            raise ValueError("a confidence bound needs the spread of at least 2 baseline episodes")
        self.guarded = guarded
        self.baseline_episodes, self.window, self.margin, self.confidence = baseline_episodes, window, margin, confidence
        self.waiting = torch.zeros(len(guarded), dtype=torch.long)  # episodes a rolled-back run still plays unchanged
        self.rollbacks = torch.zeros(len(guarded), dtype=torch.long)
        self.baseline: np.ndarray | None = None
        self.spread: np.ndarray | None = None

    def may_learn(self, online: np.ndarray, episode: int) -> torch.Tensor | None:
        """After episode ``episode``: which runs may update (None while the baseline is played)."""
        if episode + 1 == self.baseline_episodes:
            played = online[:, : self.baseline_episodes]
            self.baseline = played.mean(1)
            self.spread = played.std(1, ddof=1) if self.baseline_episodes > 1 else np.zeros(len(played))
        if episode + 1 <= self.baseline_episodes:
            return None
        ready = self.waiting == 0
        self.waiting = (self.waiting - 1).clamp_min(0)
        return ready

    def fallen(self, online: np.ndarray, episode: int) -> torch.Tensor:
        """Indices of the guarded runs to roll back after episode ``episode`` (their wait starts)."""
        if self.baseline is None or episode + 1 - self.baseline_episodes < self.window:
            return torch.zeros(0, dtype=torch.long)
        recent = torch.from_numpy(online[:, episode + 1 - self.window: episode + 1].mean(1))
        index = torch.nonzero(self.guarded & (self.waiting == 0) & (recent < self.floor())).flatten()
        self.waiting[index] = self.window
        self.rollbacks[index] += 1
        return index

    def floor(self) -> torch.Tensor:
        """Per run, the online mean below which a guarded run rolls back."""
        uncertainty = self.confidence * self.spread * np.sqrt(1.0 / self.baseline_episodes + 1.0 / self.window)
        return torch.from_numpy(self.baseline - self.margin * np.abs(self.baseline) - uncertainty)

    def state(self) -> dict:
        baseline = torch.from_numpy(self.baseline if self.baseline is not None else np.zeros(0))
        spread = torch.from_numpy(self.spread if self.spread is not None else np.zeros(0))
        return {"waiting": self.waiting, "rollbacks": self.rollbacks, "baseline": baseline, "spread": spread}

    def restore(self, state: dict) -> None:
        self.waiting, self.rollbacks = state["waiting"], state["rollbacks"]
        self.baseline = state["baseline"].numpy() if state["baseline"].numel() else None
        spread = state.get("spread", torch.zeros(0))  # states saved before the confidence bound hold none
        self.spread = spread.numpy() if spread.numel() else None
