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

    A step's delta has rank at most its simulated steps, so the steps are kept as their factors
    (noise and presynaptic spikes) and folded into e and G every ``chunk`` steps, in one product:
    over steps 0..n-1 after e_0,

        G += (sum_t m_t gamma^(t+1)) e_0 + sum_s c_s delta_s,   c_s = sum_(t>=s) gamma^(t-s) m_t
        e  = gamma^n e_0 + sum_s gamma^(n-1-s) delta_s

    which is the recursion above, added in another order. ``chunk`` 1 folds every step (a robot's
    control loop: no step costs more than another); a population folds every few dozen.
    """

    def __init__(self, rule: PerturbationRule, n_pre: int, n_post: int, reference_norms: torch.Tensor,
                 random: torch.Tensor | None = None, seed: int = 0, chunk: int = 1):
        if chunk < 1:
            raise ValueError(f"chunk must be at least 1, got {chunk}")
        batch = len(reference_norms)
        self.rule, self.chunk = rule, chunk
        self._e = torch.zeros(batch, n_post, n_pre)
        self._g = torch.zeros(batch, n_post, n_pre)
        self.rewards = torch.zeros(batch, rule.window, dtype=torch.float64)
        self.heard = torch.zeros(batch, dtype=torch.long)  # rewards heard since the last reset
        self.reference_norms = reference_norms.to(self._e.dtype)
        self.random = torch.zeros(batch, dtype=torch.bool) if random is None else random
        self.decay = math.exp(-1.0 / rule.trace_steps)
        self.noise_generator = torch.Generator().manual_seed(seed)
        self.direction_generator = torch.Generator().manual_seed(seed + 1)
        self._noise = self._pre = None  # [chunk, simulated steps, batch, n]: the steps not folded yet
        self._m = torch.zeros(chunk, batch, dtype=torch.float64)
        self._steps = 0

    @property
    def e(self) -> torch.Tensor:
        self._fold()
        return self._e

    @property
    def g(self) -> torch.Tensor:
        self._fold()
        return self._g

    def noise(self, steps: int, rows: torch.Tensor) -> torch.Tensor:
        """xi ``[steps, len(rows), n_post]`` for the runs ``rows`` (indices) at one environment step."""
        shape = (steps, len(rows), self._e.shape[1])
        return torch.randn(shape, generator=self.noise_generator) * self.rule.exploration

    @torch.no_grad()
    def observe(self, noise: torch.Tensor, pre: torch.Tensor, rows: torch.Tensor) -> None:
        """One environment step of runs ``rows`` (indices): its noise ``[steps, len(rows), n_post]`` and
        presynaptic spikes ``[steps, len(rows), n_pre]``, whose :func:`increments` are delta; e <- gamma e +
        delta. Runs left out take no delta (their e decays: time passes for every run) and, crediting
        nothing, change no G."""
        if self._steps == self.chunk:
            self._fold()
        if self._noise is None or self._noise.shape[1] != len(noise):
            self._fold()
            batch, (n_post, n_pre) = len(self._e), self._e.shape[1:]
            self._noise = torch.zeros(self.chunk, len(noise), batch, n_post)
            self._pre = torch.zeros(self.chunk, len(noise), batch, n_pre)
        self._noise[self._steps][:, rows] = noise.to(torch.float32)
        self._pre[self._steps][:, rows] = pre.to(torch.float32)
        self._steps += 1

    @torch.no_grad()
    def credit(self, rewards: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """The last observed step's rewards of runs ``rows``: G <- G + m e with m = r - r_bar; returns m.
        After a fold (e or G read) nothing waits, and m multiplies e as it stands."""
        r = torch.as_tensor(rewards, dtype=torch.float64)
        heard = self.heard[rows]
        baseline = self.rewards[rows].sum(1) / heard.clamp(1, self.rule.window)
        m = torch.where(heard > 0, r - baseline, torch.zeros_like(r))
        if self._steps:
            self._m[self._steps - 1, rows] = m
        else:
            self._g[rows] += m.to(self._g.dtype)[:, None, None] * self._e[rows]
        self.rewards[rows, heard % self.rule.window] = r  # the oldest reward leaves the window
        self.heard[rows] = heard + 1
        return m

    def _fold(self) -> None:
        """The observed steps into e and G (the class docstring's sums), and the buffers cleared."""
        n = self._steps
        if n == 0:
            return
        m = self._m[:n]
        powers = self.decay ** torch.arange(n, dtype=torch.float64)
        c = torch.zeros_like(m)
        carried = torch.zeros_like(m[0])
        for s in range(n - 1, -1, -1):
            carried = m[s] + self.decay * carried
            c[s] = carried
        a = (m * (self.decay * powers)[:, None]).sum(0)
        weights = torch.stack([c, powers.flip(0)[:, None].expand_as(c)], -1).to(torch.float32)  # [n, batch, 2]
        noise = self._noise[:n, :, :, None, :] * weights[:, None, :, :, None]  # [n, steps, batch, 2, n_post]
        deltas = increments(noise.flatten(3).flatten(0, 1), self._pre[:n].flatten(0, 1))  # [batch, 2 n_post, n_pre]
        n_post = self._e.shape[1]
        self._g.add_(a.to(torch.float32)[:, None, None] * self._e).add_(deltas[:, :n_post])
        self._e.mul_(self.decay ** n).add_(deltas[:, n_post:])
        self._noise[:n] = 0.0
        self._pre[:n] = 0.0
        self._m[:n] = 0.0
        self._steps = 0

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
