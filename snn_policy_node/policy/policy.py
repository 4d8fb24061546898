"""A loaded spiking policy as a robot controller uses it: observation in, command out.

One inference maps a normalised observation to the command vector of the checkpoint's
action spec (a discrete action's command row, or a clipped continuous action, scaled and offset
as its spec says) and counts
what it cost: spikes per layer, synaptic operations and an energy estimate. A policy can also
keep a plastic layer (:mod:`snn_policy_node.policy.plasticity`): r-STDP's eligibility trace in a
DSQN, node perturbation in a spiking actor, with updates applied whole between two inferences.
"""

import os
import time
from dataclasses import dataclass

import numpy as np
import torch

from snn_policy_node.ann2snn.calibration import AdaptiveIterations
from snn_policy_node.ann2snn.conversion import ActorRunner, SpikingActor
from snn_policy_node.policy.checkpoint import Checkpoint
from snn_policy_node.policy.model_io import load_model
from snn_policy_node.policy.plasticity import PairPlasticity, PerturbationPlasticity, STDPPlasticity
from snn_policy_node.snn.dsqn import DSQN, DSQNRunner
from snn_policy_node.snn.node_perturbation import PerturbationRule
from snn_policy_node.snn.rstdp import ModulationRule, RSTDPParams

# Energy per operation in 45 nm CMOS (Horowitz, ISSCC 2014), the usual basis of SNN energy
# estimates: a synaptic accumulate for a spike, a multiply-accumulate for an analog input.
AC_ENERGY_J = 0.9e-12
MAC_ENERGY_J = 4.6e-12


@dataclass(frozen=True)
class Inference:
    """One observation's result and cost."""

    command: np.ndarray  # one value per action-spec joint
    output: np.ndarray  # Q-values (DSQN) or the action (spiking actor)
    spikes: tuple[int, ...]  # per hidden layer, over all T steps
    neurons: tuple[int, ...]  # per hidden layer
    timesteps: int
    synaptic_ops: int  # accumulates triggered by spikes
    macs: int  # multiply-accumulates of the analog input layer
    latency_s: float

    @property
    def energy_j(self) -> float:
        return self.synaptic_ops * AC_ENERGY_J + self.macs * MAC_ENERGY_J

    @property
    def spike_rates(self) -> tuple[float, ...]:
        """Spikes per neuron per time step, per hidden layer."""
        return tuple(s / (n * self.timesteps) for s, n in zip(self.spikes, self.neurons))


class Policy:
    """A DSQN or calibrated spiking actor with its specs, acting on one observation at a time.

    ``iterations`` is the calibration I of a spiking actor, or ``"adaptive"`` for
    Algorithm 2 between 0 and ``i_max``. ``plastic_layer`` turns on plasticity in that weight
    layer (1 = hidden 1 -> hidden 2): a DSQN's needs its task's ``rstdp`` parameters and may
    bound its updates to ``max_change`` x the trained weights' norm; a spiking actor's explores
    by ``perturbation``. ``pair`` (a ``ModulationRule(hold="pair")``) runs the pair rule in
    either kind instead. ``seed`` seeds the exploration noise.
    """

    def __init__(self, model: DSQN | SpikingActor, checkpoint: Checkpoint, iterations: int | str = 0,
                 i_max: int = 3, plastic_layer: int | None = None, rstdp: RSTDPParams | None = None,
                 perturbation: PerturbationRule = PerturbationRule(), max_change: float | None = None,
                 pair: ModulationRule | None = None, seed: int = 0):
        self.model, self.checkpoint = model.requires_grad_(False), checkpoint
        self.action = checkpoint.action
        self.adaptive: AdaptiveIterations | None = None  # a spiking actor's Algorithm 2
        self.iterations = 0
        if isinstance(model, SpikingActor):
            self.adaptive = AdaptiveIterations(0, i_max) if iterations == "adaptive" else None
            self.iterations = 0 if iterations == "adaptive" else int(iterations)
            if self.iterations < 0:
                raise ValueError(f"calibration iterations must be >= 0, got {iterations}")
        self.plasticity = None
        if plastic_layer is not None:
            self.plasticity = (PairPlasticity(model, plastic_layer, pair, seed) if pair is not None
                               else self._plasticity(plastic_layer, rstdp, perturbation, max_change, seed))
        self._low = np.asarray(self.action.low, dtype=np.float64)
        self._high = np.asarray(self.action.high, dtype=np.float64)
        self._commands = np.asarray(self.action.commands, dtype=np.float64)
        joints = len(self.action.joints)
        self._scale = np.asarray(self.action.scale or (1.0,) * joints, dtype=np.float64)
        self._offset = np.asarray(self.action.offset or (0.0,) * joints, dtype=np.float64)
        self.costs = _costs(model)
        self.runner = DSQNRunner(model) if isinstance(model, DSQN) else ActorRunner(model)
        self._neurons = tuple(s.shape[-1] for s in self.runner.spikes)
        self._warm_up()

    def _warm_up(self) -> None:
        """One inference that changes no state: the compiled kernels load (about a second) now, not in the
        first control step, where a robot's bridge would wait for the answer past its timeout."""
        obs = np.zeros(self.checkpoint.observation.size)
        if isinstance(self.model, DSQN):
            self.runner.run(obs)
        else:
            self.runner.run(obs, self.iterations, errors=self.adaptive is not None)

    @classmethod
    def load(cls, path: str | os.PathLike, **options) -> "Policy":
        model, checkpoint = load_model(path)
        return cls(model, checkpoint, **options)

    def _plasticity(self, layer: int, rstdp: RSTDPParams | None, perturbation: PerturbationRule,
                    max_change: float | None, seed: int) -> STDPPlasticity | PerturbationPlasticity:
        if isinstance(self.model, SpikingActor):
            return PerturbationPlasticity(self.model, layer, perturbation, seed)
        if rstdp is None:
            raise ValueError("a DSQN's plastic layer needs r-STDP parameters (its task's, in snn_policy_node.tasks)")
        return STDPPlasticity(self.model, layer, rstdp, self.checkpoint.provenance, max_change)

    def act(self, obs: np.ndarray) -> Inference:
        start = time.perf_counter()
        if isinstance(self.model, DSQN):
            output, command, spikes = self._act_dsqn(obs)
        else:
            output, command, spikes = self._act_actor(obs)
        counts = tuple(int(np.count_nonzero(s)) for s in spikes)
        fan_out, macs = self.costs
        return Inference(
            command=command,
            output=output.copy(),
            spikes=counts,
            neurons=self._neurons,
            timesteps=self.model.timesteps,
            synaptic_ops=sum(n * out for n, out in zip(counts, fan_out)),
            macs=macs,
            latency_s=time.perf_counter() - start,
        )

    def _act_dsqn(self, obs: np.ndarray):
        """The greedy command; the plastic layer's spikes go into the eligibility trace."""
        noise = self.plasticity.noise() if self.plasticity is not None else None
        layer, current = next(iter(noise.items())) if noise else (-1, None)
        q_values = self.runner.run(obs, None if current is None else np.ascontiguousarray(current.numpy(), np.float32), layer)
        if self.plasticity is not None:
            self.plasticity.observe(self.runner.simulation(), noise)
        return q_values, self._commands[int(q_values.argmax())], self.runner.spikes

    def _act_actor(self, obs: np.ndarray):
        """The action clipped to its bounds, as a command; adaptive I follows this action's error spikes."""
        adaptive = self.adaptive
        iterations = adaptive.iterations[0] if adaptive is not None else self.iterations
        if self.plasticity is None:
            action = self.runner.run(obs, iterations, errors=adaptive is not None)
        else:
            noise = self.plasticity.noise()
            layer, current = next(iter(noise.items())) if noise else (-1, None)
            action = self.runner.run(obs, iterations, errors=adaptive is not None,
                                     noise=None if current is None else np.ascontiguousarray(current.numpy(), np.float32),
                                     noise_layer=layer)
            self.plasticity.observe(self.runner.simulation(), noise)
        if adaptive is not None:
            adaptive.update(self.runner.error_spikes)
        clipped = np.minimum(np.maximum(action, self._low), self._high)  # float64, as the bounds
        return action, self._offset + self._scale * clipped, self.runner.kept_spikes

    # plasticity -----------------------------------------------------------------------

    def _plastic(self) -> STDPPlasticity | PerturbationPlasticity | PairPlasticity:
        if self.plasticity is None:
            raise ValueError("plasticity is off: construct the policy with plastic_layer")
        return self.plasticity

    @property
    def plastic_weight(self) -> torch.Tensor:
        """The plastic layer in checkpoint units (a DSQN's ``layers.K.weight``, an actor's ``weightK``)."""
        return self._plastic().weight

    def reward(self, reward: float) -> bool:
        """One step's reward (a spiking actor credits its oldest waiting inference); False if unused."""
        if not np.isfinite(reward):
            raise ValueError(f"reward must be finite, got {reward}")
        return self._plastic().reward(reward)

    def apply_modulation(self, modulation: float, explore: float = 0.0) -> None:
        """The episode's update: dw = r c (DSQN) or a step along the rewarded direction times the
        modulation (spiking actor); then a fresh eligibility for the next episode. The pair rule
        takes the next episode's exploration too (:meth:`PairPlasticity.apply`)."""
        if not np.isfinite(modulation):
            raise ValueError(f"modulation must be finite, got {modulation}")
        plasticity = self._plastic()
        if isinstance(plasticity, PairPlasticity):
            plasticity.apply(modulation, explore)
        elif explore:
            raise ValueError("only the pair rule takes an exploration schedule with its modulation")
        else:
            plasticity.apply(modulation)

    def set_plastic_weight(self, weight: np.ndarray) -> None:
        """Replace the plastic layer's weights (restored or rolled back), checked first."""
        self._plastic().set_weight(weight)


def _costs(model: DSQN | SpikingActor) -> tuple[list[int], int]:
    """Each hidden layer's fan-out (synaptic operations per spike) and the input layer's MACs."""
    if isinstance(model, DSQN):
        weights = [layer.weight for layer in model.layers]
    else:
        weights = [weight for weight, _ in model.source_weights()]
    return [w.shape[0] for w in weights[1:]], weights[0].shape[0] * weights[0].shape[1]
