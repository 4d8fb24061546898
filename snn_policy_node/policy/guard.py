"""The guard rail of online adaptation: roll back to the trained weights when the online return falls.

It decides on returns already experienced only, as a robot must: no evaluation episode.
"""

import numpy as np
import torch


class Guard:
    """The guard rail of a batch of runs, on online returns only: after the first
    ``baseline_episodes`` (the frozen baseline), a guarded run whose last ``window`` returns
    average below baseline - margin x |baseline| is rolled back and skips its next ``window``
    updates. The check then resumes over the episodes the trained weights played, so trained
    weights that stay below the floor keep the run waiting (each time counted as a rollback)."""

    def __init__(self, guarded: torch.Tensor, baseline_episodes: int, window: int, margin: float):
        if baseline_episodes < 0 or window < 1 or not margin >= 0:
            raise ValueError(f"need baseline_episodes >= 0, window >= 1 and margin >= 0, got {baseline_episodes}, "
                             f"{window}, {margin}")
        self.guarded = guarded
        self.baseline_episodes, self.window, self.margin = baseline_episodes, window, margin
        self.waiting = torch.zeros(len(guarded), dtype=torch.long)  # episodes a rolled-back run still plays unchanged
        self.rollbacks = torch.zeros(len(guarded), dtype=torch.long)
        self.baseline: np.ndarray | None = None

    def may_learn(self, online: np.ndarray, episode: int) -> torch.Tensor | None:
        """After episode ``episode``: which runs may update (None while the baseline is played)."""
        if episode + 1 == self.baseline_episodes:
            self.baseline = online[:, : self.baseline_episodes].mean(1)
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
        return torch.from_numpy(self.baseline - self.margin * np.abs(self.baseline))

    def state(self) -> dict:
        baseline = torch.from_numpy(self.baseline if self.baseline is not None else np.zeros(0))
        return {"waiting": self.waiting, "rollbacks": self.rollbacks, "baseline": baseline}

    def restore(self, state: dict) -> None:
        self.waiting, self.rollbacks = state["waiting"], state["rollbacks"]
        self.baseline = state["baseline"].numpy() if state["baseline"].numel() else None
