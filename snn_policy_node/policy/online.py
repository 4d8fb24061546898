"""One robot's online adaptation schedule: the deployment protocol of the experiments, for one run.

After each episode :meth:`OnlineSchedule.episode_ended` takes its return and says what the policy
does next: the modulation it applies (0 changes no weight and starts a fresh eligibility), or a
return to the trained weights. The first ``baseline_episodes`` play the trained weights (the
frozen baseline); later ones learn unless the guard has rolled the run back and it still waits.
A DSQN's modulation is sign x m, with m the third factor of the shaped return (the raw reward, or
its prediction error against a running baseline: :class:`ModulationRule`); a spiking actor's is
the sign alone, its third factor having come with every step's reward. Under the pair rule
(``ModulationRule(hold="pair")``, either model kind) the schedule also says what the next episode
explores (+xi starts a pair, -xi ends it, 0 none: the baseline, a wait after a rollback, learning
off), and a pair's second episode brings m = clip((R_1 - R_2) / |R_0|, -1, 1) times the sign. Its
exploration is the rule's times a scale s that starts at the rule's ``exploration_start``, shrinks at
every rollback and grows after windows that kept the baseline (:class:`ExplorationScale`): the
schedule says it as the magnitude of ``explore`` (+s: a new pair at s x the rule's exploration).
The rule, the guard and the blocks are those of ``experiments.deployment``, so a robot runs what
the tables measured.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from snn_policy_node.policy.guard import Guard
from snn_policy_node.snn.rstdp import ExplorationScale, ModulationRule, Modulator

RUN = torch.tensor([0])
BLOCK = 20  # episodes per block of the online return


@dataclass(frozen=True)
class Decision:
    modulation: float  # for the policy: its episode's update
    rollback: str | None = None  # set when the trained weights come back instead, and why
    explore: float = 0.0  # the pair rule: the next episode plays +xi of a new pair (+s), -xi (-s) or no noise (0), s the scale


class OnlineSchedule:
    """``shaping`` None: a spiking actor's schedule (modulation = sign)."""

    def __init__(self, shaping: Callable[[float], float] | None, sign: float, rule: ModulationRule = ModulationRule("rpe"),
                 guard: bool = True, baseline_episodes: int = 10, window: int = 10, margin: float = 0.05,
                 confidence: float = 0.0):
        self.shaping, self.sign = shaping, sign
        self.modulator = Modulator([rule], torch.ones(1))
        self.guard = Guard(torch.tensor([guard]), baseline_episodes, window, margin, confidence)
        self.pair = rule.hold == "pair"
        self.exploration = ExplorationScale.of([rule], window)
        if self.pair and baseline_episodes < 1:
            raise ValueError("the pair rule scales its returns by the frozen baseline's: baseline_episodes must be >= 1")
        self.explores = 0  # what the episode being played explores (the pair rule)
        self.first_return: float | None = None  # a pair's first return, while its second episode plays
        self.returns: list[float] = []
        self.updates = 0
        self.live = "trained weights (frozen baseline)" if baseline_episodes else "adapting"

    def episode_ended(self, episode_return: float, learning: bool = True) -> Decision:
        if not np.isfinite(episode_return):
            raise ValueError(f"an episode return must be finite, got {episode_return}")
        self.returns.append(float(episode_return))
        online, episode = np.array([self.returns]), len(self.returns) - 1
        ready = self.guard.may_learn(online, episode)
        if ready is None:
            return self._next(Decision(0.0), learning and episode + 1 == self.guard.baseline_episodes)
        modulation = 0.0
        if learning and bool(ready[0]):
            if self.pair:
                modulation = self._pair_modulation(episode_return)
            else:
                modulation = self.sign * self._third_factor(episode_return)
                self.updates += 1
            self.live = "adapting"
        if len(self.guard.fallen(online, episode)):
            self.modulator.reset(RUN)
            self.exploration.rolled_back(RUN)
            self.live = "trained weights (rolled back)"
            recent = float(online[0, -self.guard.window:].mean())
            return self._next(Decision(0.0, f"the last {self.guard.window} online returns average {recent:.2f}, below the "
                                            f"floor {float(self.guard.floor()[0]):.2f} (baseline "
                                            f"{float(self.guard.baseline[0]):.2f})"), False)
        return self._next(Decision(modulation), learning and int(self.guard.waiting[0]) == 0)

    def _pair_modulation(self, episode_return: float) -> float:
        """After a pair's first episode nothing moves; after its second, sign x its relative return difference."""
        if self.explores == 1:
            self.first_return = episode_return
            return 0.0
        if self.explores == -1 and self.first_return is not None:
            self.updates += 1
            self.exploration.pair_completed(RUN, torch.tensor([self.first_return + episode_return]),
                                            self.guard.baseline)
            reference = max(abs(float(self.guard.baseline[0])), 1.0)
            return self.sign * float(np.clip((self.first_return - episode_return) / reference, -1.0, 1.0))
        return 0.0

    def _next(self, decision: Decision, may_explore: bool) -> Decision:
        """The decision with the next episode's exploration (the pair rule's; 0 otherwise)."""
        if not self.pair:
            return decision
        if not may_explore:
            explore = 0
        else:
            explore = -1 if self.explores == 1 else 1
        self.first_return = self.first_return if explore == -1 else None
        self.explores = explore
        return Decision(decision.modulation, decision.rollback, explore * self.scale)

    @property
    def scale(self) -> float:
        """The fraction of the rule's exploration that the next pair draws."""
        return float(self.exploration.scale[0])

    def _third_factor(self, episode_return: float) -> float:
        if self.shaping is None:
            return 1.0
        return float(self.modulator.third_factor(torch.tensor([self.shaping(episode_return)]), RUN)[0])

    def blocks(self) -> list[float]:
        """Mean online return per block of ``BLOCK`` episodes (the last one may be partial)."""
        return [float(np.mean(self.returns[k: k + BLOCK])) for k in range(0, len(self.returns), BLOCK)]

    def status(self) -> dict:
        baseline = None if self.guard.baseline is None else float(self.guard.baseline[0])
        return {"episodes": len(self.returns), "updates": self.updates, "live": self.live,
                "rollbacks": int(self.guard.rollbacks[0]), "waiting": int(self.guard.waiting[0]),
                **({"exploration_scale": self.scale} if self.pair else {}),
                "baseline": baseline, "floor": None if baseline is None else float(self.guard.floor()[0]),
                "blocks": self.blocks(), "returns": self.returns}
