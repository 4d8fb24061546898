"""Node perturbation with dense rewards: the plasticity of a converted IF actor (continuous actions).

A converted actor is deterministic, so the spike coincidences STDP counts say nothing about
which weight change would raise the return. Exploration noise xi in the currents into the
plastic layer's postsynaptic neurons does: with a reward prediction error as the third factor,
E[m e] follows the gradient of the expected reward (Williams 1992; Fiete and Seung 2006).
Per environment step t of a run, with s the network's simulated steps:

    delta_t[i, j] = sum_s xi_i(t, s) pre_j(t, s)
    e_t = gamma e_{t-1} + delta_t,   gamma = exp(-1 / trace_steps)   (decay in environment steps)
    m_t = r_t - r_bar_t,             r_bar_t: mean of the run's previous ``window`` rewards (m_0 = 0)
    G  <- G + m_t e_t

An update (at the end of an episode) moves the weights a fixed distance along G:

    dw = sign * step * ||w_0||_F * G / ||G||_F

so no update is larger than ``step`` x the trained weights' norm, and the random-direction
control takes a Gaussian direction of the same norm. e and G restart with every episode; the
baseline r_bar follows the run's reward stream across episodes.
"""

import math
from dataclasses import dataclass

import torch

from snn_policy_node.snn.rstdp import DIRECTIONS, random_directions


@dataclass(frozen=True)
class PerturbationRule:
    exploration: float = 0.2  # noise std per simulated step, in units of the threshold
    trace_steps: float = 10.0  # the eligibility's decay time, in environment steps
    window: int = 100  # rewards the baseline averages
    step: float = 0.005  # ||dw|| per update, relative to ||w_0||
    direction: str = "rule"  # "random": the control of the same norm

    def __post_init__(self):
        if not self.exploration > 0:
            raise ValueError(f"exploration must be positive (node perturbation needs noise), got {self.exploration}")
        if not self.trace_steps > 0:
            raise ValueError(f"trace_steps must be positive, got {self.trace_steps}")
        if self.window < 1:
            raise ValueError(f"window must be at least 1, got {self.window}")
        if not self.step > 0:
            raise ValueError(f"step must be positive, got {self.step}")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {self.direction!r}")


def increments(noise: torch.Tensor, pre: torch.Tensor) -> torch.Tensor:
    """delta ``[..., n_post, n_pre]`` of one environment step from its noise ``[steps, ..., n_post]``
    and presynaptic spikes ``[steps, ..., n_pre]``: sum over simulated steps of xi_i s_j."""
    return torch.movedim(noise.to(torch.float32), 0, -1) @ torch.movedim(pre.to(torch.float32), 0, -2)


class DenseEligibility:
    """The state of :class:`PerturbationRule` for ``batch`` runs of one plastic layer: e, G, the
    reward windows, and the seeded generators of the noise and the random directions.

    ``random`` (per run) turns a run into the random-direction control; ``reference_norms``
    (per run) are ||w_0||_F of the runs' trained weights.
    """

    def __init__(self, rule: PerturbationRule, n_pre: int, n_post: int, reference_norms: torch.Tensor,
                 random: torch.Tensor | None = None, seed: int = 0):
        batch = len(reference_norms)
        self.rule = rule
        self.e = torch.zeros(batch, n_post, n_pre)
        self.g = torch.zeros(batch, n_post, n_pre)
        self.rewards = torch.zeros(batch, rule.window, dtype=torch.float64)
        self.heard = torch.zeros(batch, dtype=torch.long)  # rewards heard since the last reset
        self.reference_norms = reference_norms.to(self.e.dtype)
        self.random = torch.zeros(batch, dtype=torch.bool) if random is None else random
        self.decay = math.exp(-1.0 / rule.trace_steps)
        self.noise_generator = torch.Generator().manual_seed(seed)
        self.direction_generator = torch.Generator().manual_seed(seed + 1)

    def noise(self, steps: int, rows: torch.Tensor) -> torch.Tensor:
        """xi ``[steps, len(rows), n_post]`` for the runs ``rows`` (indices) at one environment step."""
        shape = (steps, len(rows), self.e.shape[1])
        return torch.randn(shape, generator=self.noise_generator) * self.rule.exploration

    @torch.no_grad()
    def observe(self, delta: torch.Tensor, rows: torch.Tensor) -> None:
        """One environment step's :func:`increments` of runs ``rows``: e <- gamma e + delta."""
        if len(rows) == len(self.e):  # every run: in place, without copying the traces out and back
            self.e.mul_(self.decay).add_(delta[torch.argsort(rows)])
        else:
            self.e[rows] = self.decay * self.e[rows] + delta

    @torch.no_grad()
    def credit(self, rewards: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """The step's rewards of runs ``rows``: G <- G + m e with m = r - r_bar; returns m."""
        r = torch.as_tensor(rewards, dtype=torch.float64)
        heard = self.heard[rows]
        baseline = self.rewards[rows].sum(1) / heard.clamp(1, self.rule.window)
        m = torch.where(heard > 0, r - baseline, torch.zeros_like(r))
        if len(rows) == len(self.e):
            self.g.addcmul_(m.to(self.g.dtype)[torch.argsort(rows)][:, None, None], self.e)
        else:
            self.g[rows] += m.to(self.g.dtype)[:, None, None] * self.e[rows]
        self.rewards[rows, heard % self.rule.window] = r  # the oldest reward leaves the window
        self.heard[rows] = heard + 1
        return m

    @torch.no_grad()
    def weight_change(self, sign: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """dw ``[len(rows), n_post, n_pre]`` of the runs ``rows``, then a new episode for them (e, G = 0).

        A run whose G is zero (no reward varied) gets no change."""
        g = self.g[rows]
        norm = g.flatten(1).norm(dim=1)
        direction = g.clone()
        random = self.random[rows]
        if random.any():
            direction[random] = random_directions(g[random], self.direction_generator)
        scale = torch.where(norm > 0, self.rule.step * self.reference_norms[rows] / norm.clamp_min(1e-30), 0.0)
        self.new_episode(rows)
        return (sign.to(g.dtype) * scale)[:, None, None] * direction

    def new_episode(self, rows: torch.Tensor) -> None:
        self.e[rows] = 0.0
        self.g[rows] = 0.0

    def reset_baseline(self, rows: torch.Tensor) -> None:
        """Forget the reward windows of ``rows`` (after a rollback their rewards start again)."""
        self.rewards[rows] = 0.0
        self.heard[rows] = 0
