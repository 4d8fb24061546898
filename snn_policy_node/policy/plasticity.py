"""The plastic layer of a deployed policy: what it keeps between inferences, and how an update lands.

A DSQN keeps r-STDP's eligibility trace (paper 004, eq. 4-7): the third factor comes once per
episode as the modulation r, and dw = r c. Either kind may instead run the pair rule
(:class:`PairPlasticity`): a held offset xi in the plastic layer's currents, +xi over one
episode and -xi over the next, and after the pair a step along xi (N_1 + N_2)^T whose length
the schedule's modulation sets. A converted IF actor explores by node perturbation
(:mod:`snn_policy_node.snn.node_perturbation`): each inference's noise and presynaptic spikes
wait for that step's reward. Rewards are matched to inferences in order, so a reward that
arrives after the next state has been acted on still credits the step it belongs to; at most
``pending_limit`` inferences wait (a reward stream that stopped leaves them uncredited). An
actor's update moves the weights one bounded step along the rewarded direction, times the
modulation (its sign; 0 skips). Either kind applies an update whole, between two inferences,
and starts the next episode's eligibility afresh. Weights travel in checkpoint units (a DSQN's
``layers.K.weight``, an actor's source ``weightK``), so saved adaptations load as policies.
"""

import math
from collections import deque
from dataclasses import replace

import numpy as np
import torch

from snn_policy_node.ann2snn.conversion import ActorSimulation, SpikingActor
from snn_policy_node.snn.dsqn import DSQN, DSQNSimulation
from snn_policy_node.snn.node_perturbation import DenseEligibility, PerturbationRule
from snn_policy_node.snn.rstdp import (
    AntitheticPairs,
    EligibilityTrace,
    ModulationRule,
    Modulator,
    PerturbationTrace,
    RSTDPParams,
    bounded,
    model_amplitudes,
    synapse_spikes,
)

ROW = torch.tensor([0])  # a deployed policy is one run


def checked_weight(weight: np.ndarray, current: torch.Tensor) -> torch.Tensor:
    """``weight`` as a tensor that may replace ``current``: same shape, finite."""
    weight = np.asarray(weight, dtype=np.float32)
    if weight.shape != tuple(current.shape):
        raise ValueError(f"plastic weights of shape {weight.shape} do not fit layer {tuple(current.shape)}")
    if not np.isfinite(weight).all():
        raise ValueError("plastic weights contain NaN or inf")
    return torch.from_numpy(weight)


class STDPPlasticity:
    """r-STDP on DSQN weight layer ``layer``, with the A+ and A- of the checkpoint's ``provenance``;
    ``max_change`` bounds ||dw|| to that share of the trained weights' norm (None: unbounded, as the paper)."""

    def __init__(self, model: DSQN, layer: int, params: RSTDPParams, provenance: dict, max_change: float | None = None):
        synapse_spikes([None] * len(model.hidden), layer)  # validates the layer index
        self.model, self.layer = model, layer
        weight = model.layers[layer].weight
        a_plus, a_minus = model_amplitudes(weight, provenance)
        self.trace = EligibilityTrace(replace(params, a_plus=a_plus, a_minus=a_minus), weight.shape[1], weight.shape[0])
        norm = weight[None].flatten(1).norm(dim=1).to(torch.float64)  # as the deployment study computes it
        self.bound = torch.full_like(norm, math.inf) if max_change is None else max_change * norm

    @property
    def weight(self) -> torch.Tensor:
        return self.model.layers[self.layer].weight

    def noise(self) -> None:
        return None

    def observe(self, simulation: DSQNSimulation, noise=None) -> None:
        pre, post = synapse_spikes(simulation.spikes, self.layer)
        self.trace.accumulate(pre[:, 0], post[:, 0])

    def reward(self, reward: float) -> bool:
        """A DSQN learns from episode returns only: a step's reward changes nothing here."""
        return False

    @torch.no_grad()
    def apply(self, modulation: float) -> None:
        self.weight.add_(bounded(self.trace.weight_change(modulation)[None], self.bound)[0])
        self.reset()

    @torch.no_grad()
    def set_weight(self, weight: np.ndarray) -> None:
        self.weight.copy_(checked_weight(weight, self.weight))
        self.reset()

    def reset(self) -> None:
        self.trace.reset()


class PerturbationPlasticity:
    """Node perturbation on spiking-actor weight layer ``layer`` (between two hidden layers)."""

    def __init__(self, actor: SpikingActor, layer: int, rule: PerturbationRule = PerturbationRule(), seed: int = 0,
                 pending_limit: int = 16):
        if not 1 <= layer < actor.depth - 1:
            raise ValueError(f"the plastic layer must join two hidden layers: 1..{actor.depth - 2}, got {layer}")
        self.actor, self.layer, self.pending_limit = actor, layer, pending_limit
        folded = actor.folded_weight(layer)
        self.eligibility = DenseEligibility(rule, folded.shape[1], folded.shape[0], folded.norm()[None], seed=seed)
        self.waiting: deque[tuple[torch.Tensor, torch.Tensor]] = deque()  # noise and spikes of inferences whose reward has not come
        self.exploring = True
        self.unmatched_rewards = 0

    @property
    def weight(self) -> torch.Tensor:
        return getattr(self.actor, f"weight{self.layer}")

    def noise(self) -> dict[int, torch.Tensor] | None:
        """This inference's exploration noise, ``{layer: [steps, 1, neurons]}``; None while not exploring."""
        return {self.layer: self.eligibility.noise(self.actor.steps, ROW)} if self.exploring else None

    def observe(self, simulation: ActorSimulation, noise: dict[int, torch.Tensor] | None) -> None:
        if noise is None:
            return
        pre = simulation.spikes[self.layer - 1].clone()  # the runner's buffer holds the next inference's
        self.waiting.append((noise[self.layer][: self.actor.timesteps], pre))
        if len(self.waiting) > self.pending_limit:
            self.eligibility.observe(*self.waiting.popleft(), ROW)  # its reward never came: no credit

    def reward(self, reward: float) -> bool:
        """Credit the oldest inference still waiting; False when none waits (the reward is dropped)."""
        if not self.waiting:
            self.unmatched_rewards += self.exploring
            return False
        self.eligibility.observe(*self.waiting.popleft(), ROW)
        self.eligibility.credit(torch.tensor([float(reward)]), ROW)
        return True

    @torch.no_grad()
    def apply(self, modulation: float) -> None:
        dw = self.eligibility.weight_change(torch.tensor([float(modulation)]), ROW)[0]
        self.actor.set_folded_weight(self.layer, self.actor.folded_weight(self.layer) + dw)
        self.waiting.clear()

    @torch.no_grad()
    def set_weight(self, weight: np.ndarray) -> None:
        self.weight.copy_(checked_weight(weight, self.weight))
        self.actor.fold_thresholds()
        self.reset()

    def reset(self) -> None:
        self.eligibility.new_episode(ROW)
        self.waiting.clear()


class PairPlasticity:
    """The pair rule (``ModulationRule(hold="pair")``) on weight layer ``layer`` of a DSQN or a
    spiking actor, for one robot. The schedule says after every episode what the next one plays
    (:meth:`apply`'s ``explore``): nothing, +xi with a fresh xi ~ N(0, (exploration theta)^2) per
    postsynaptic neuron, or -xi. An explored episode's eligibility is c = sum_t xi_i s_j(t); after a
    pair the modulation m moves the weights by m step ||w_0|| (c_1 - c_2) / ||c_1 - c_2||.

    It runs the deployment study's own parts (:class:`AntitheticPairs`, :class:`PerturbationTrace`,
    :class:`Modulator`), drawing one xi per episode as a population of one run does, so with the
    same ``seed`` (the study's ``DeploymentConfig.seed`` + 2) a robot plays, return for return, the
    run the tables measured."""

    def __init__(self, model: DSQN | SpikingActor, layer: int, rule: ModulationRule, seed: int = 0):
        if rule.hold != "pair":
            raise ValueError(f"PairPlasticity runs the pair rule (hold='pair'), got {rule}")
        self.actor = isinstance(model, SpikingActor)
        hidden = model.depth - 1 if self.actor else len(model.hidden)
        if not 1 <= layer < hidden:
            raise ValueError(f"the plastic layer must join two hidden layers: 1..{hidden - 1}, got {layer}")
        self.model, self.layer, self.rule = model, layer, rule
        weight = self.spiking_weight()
        self.threshold = 1.0 if self.actor else model.threshold  # an actor's folded layers fire at 1
        self.modulator = Modulator([rule], weight[None].flatten(1).norm(dim=1))
        self.pairs = AntitheticPairs(torch.tensor([rule.exploration]), weight.shape[0], weight.shape[1], seed)
        self.trace = PerturbationTrace(weight.shape[1], weight.shape[0], (1,))
        self.phase = 0  # the current episode plays phase x xi: 0 (no exploration), +1 or -1
        self.held = self.pairs.noise(torch.tensor([False]), self.threshold)  # the first episode's draw

    @property
    def weight(self) -> torch.Tensor:
        return getattr(self.model, f"weight{self.layer}") if self.actor else self.model.layers[self.layer].weight

    @property
    def c(self) -> torch.Tensor:
        """The eligibility of the pair so far: c_1, then c_1 - c_2 (zero when no pair is under way)."""
        if self.phase == 1:
            return self.trace.c[0]
        if self.phase == -1:
            return self.pairs.first_c[0] - self.trace.c[0]
        return torch.zeros_like(self.trace.c[0])

    def spiking_weight(self) -> torch.Tensor:
        return self.model.folded_weight(self.layer) if self.actor else self.model.layers[self.layer].weight.detach()

    def noise(self) -> dict[int, torch.Tensor] | None:
        """This inference's held currents ``{layer: [steps, 1, neurons]}``; None while not exploring."""
        if self.phase == 0:
            return None
        steps = self.model.steps if self.actor else self.model.timesteps
        return {self.layer: self.held[:, None, :].expand(steps, 1, -1).contiguous()}

    def observe(self, simulation: DSQNSimulation | ActorSimulation, noise=None) -> None:
        if noise is None:
            return
        pre = simulation.spikes[self.layer - 1]
        self.trace.accumulate(noise[self.layer][: pre.shape[0]], pre)

    def reward(self, reward: float) -> bool:
        """The pair rule learns from episode returns: a step's reward changes nothing here."""
        return False

    @torch.no_grad()
    def apply(self, modulation: float, explore: float = 0.0) -> None:
        """The episode ended: a completed pair's update by ``modulation`` (the schedule's m), and the
        next episode's exploration: 0 none, +s a new pair's +xi drawn at s x the rule's exploration
        (0 < s <= 1: the schedule's :class:`~snn_policy_node.snn.rstdp.ExplorationScale`), -s the pair's -xi."""
        if not (np.isfinite(explore) and -1.0 <= explore <= 1.0):
            raise ValueError(f"explore must be in [-1, 1], got {explore}")
        if explore < 0 and self.phase != 1:
            raise ValueError("-xi follows the first episode of a pair only")
        if self.phase != 0:
            runs, c, _ = self.pairs.episode_ended(self.trace.c, torch.zeros(1), torch.ones(1), torch.tensor([True]))
            if len(runs):
                dw = self.modulator.weight_change(c, torch.tensor([float(modulation)]), torch.ones(1), ROW)[0]
                if self.actor:
                    self.model.set_folded_weight(self.layer, self.model.folded_weight(self.layer) + dw)
                else:
                    self.weight.add_(dw)
        self.trace.c.zero_()
        if explore > 0:
            self.pairs.drop(ROW)  # a new pair, whatever the last one left
            self.pairs.scale.scale[0] = explore
        self.held = self.pairs.noise(torch.tensor([explore != 0]), self.threshold)
        self.phase = int(np.sign(explore))

    @torch.no_grad()
    def set_weight(self, weight: np.ndarray) -> None:
        self.weight.copy_(checked_weight(weight, self.weight))
        if self.actor:
            self.model.fold_thresholds()
        self.drop()

    def reset(self) -> None:
        """A new episode: a pair's eligibility spans two, so nothing is forgotten."""

    def drop(self) -> None:
        """Forget the pair in progress: no exploration until the schedule starts the next."""
        self.pairs.drop(ROW)
        self.trace.c.zero_()
        self.phase = 0
