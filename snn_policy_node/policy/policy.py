"""A loaded spiking policy as a robot controller uses it: observation in, command out.

One inference maps a normalised observation to the command vector of the checkpoint's
action spec (a discrete action's command row, or a clipped continuous action) and counts
what it cost: spikes per layer, synaptic operations and an energy estimate. A DSQN policy
can also keep the eligibility trace of one plastic layer for r-STDP, whose weight change
is applied whole, between two inferences.
"""

import os
import time
from dataclasses import dataclass, replace

import numpy as np
import torch

from snn_policy_node.ann2snn.calibration import AdaptiveIterations
from snn_policy_node.ann2snn.conversion import SpikingActor
from snn_policy_node.policy.checkpoint import Checkpoint
from snn_policy_node.policy.model_io import load_model
from snn_policy_node.snn.dsqn import DSQN
from snn_policy_node.snn.rstdp import EligibilityTrace, RSTDPParams, model_amplitudes, synapse_spikes

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
    Algorithm 2 between 0 and ``i_max``. ``plastic_layer`` turns on the eligibility
    trace of that DSQN weight layer (1 = hidden 1 -> hidden 2).
    """

    def __init__(self, model: DSQN | SpikingActor, checkpoint: Checkpoint, iterations: int | str = 0,
                 i_max: int = 3, plastic_layer: int | None = None, rstdp: RSTDPParams | None = None):
        self.model, self.checkpoint = model.requires_grad_(False), checkpoint
        self.action = checkpoint.action
        self.adaptive: AdaptiveIterations | None = None  # a spiking actor's Algorithm 2
        self.iterations = 0
        if isinstance(model, SpikingActor):
            self.adaptive = AdaptiveIterations(0, i_max) if iterations == "adaptive" else None
            self.iterations = 0 if iterations == "adaptive" else int(iterations)
            if self.iterations < 0:
                raise ValueError(f"calibration iterations must be >= 0, got {iterations}")
        self.trace = None
        if plastic_layer is not None:
            self.trace = self._eligibility(plastic_layer, rstdp)
        self.plastic_layer = plastic_layer
        self._low = np.asarray(self.action.low, dtype=np.float64)
        self._high = np.asarray(self.action.high, dtype=np.float64)
        self._commands = np.asarray(self.action.commands, dtype=np.float64)
        self.costs = _costs(model)

    @classmethod
    def load(cls, path: str | os.PathLike, **options) -> "Policy":
        model, checkpoint = load_model(path)
        return cls(model, checkpoint, **options)

    def _eligibility(self, layer: int, rstdp: RSTDPParams | None) -> EligibilityTrace:
        """The trace of ``layer``, with the task's r-STDP parameters and this model's A+ and A-."""
        if not isinstance(self.model, DSQN):
            raise ValueError("r-STDP plasticity needs a DSQN policy (spiking hidden layers on both sides)")
        synapse_spikes([None] * len(self.model.hidden), layer)  # validates the layer index
        weight = self.model.layers[layer].weight
        if rstdp is None:
            raise ValueError("a plastic layer needs r-STDP parameters (its task's, in snn_policy_node.tasks)")
        a_plus, a_minus = model_amplitudes(weight, self.checkpoint.provenance)
        params = replace(rstdp, a_plus=a_plus, a_minus=a_minus)
        return EligibilityTrace(params, weight.shape[1], weight.shape[0])

    @torch.no_grad()
    def act(self, obs: np.ndarray) -> Inference:
        start = time.perf_counter()
        x = torch.as_tensor(obs, dtype=torch.float32).reshape(1, -1)
        simulation, output, command = (self._act_dsqn if isinstance(self.model, DSQN) else self._act_actor)(x)
        spikes = tuple(int(s.sum()) for s in simulation.spikes)
        fan_out, macs = self.costs
        return Inference(
            command=command,
            output=output.numpy(),
            spikes=spikes,
            neurons=tuple(s.shape[-1] for s in simulation.spikes),
            timesteps=self.model.timesteps,
            synaptic_ops=sum(n * out for n, out in zip(spikes, fan_out)),
            macs=macs,
            latency_s=time.perf_counter() - start,
        )

    def _act_dsqn(self, x: torch.Tensor):
        """The greedy command; the plastic layer's spikes go into the eligibility trace."""
        simulation = self.model.simulate(x)
        output = simulation.q_values[0]
        if self.trace is not None:
            pre, post = synapse_spikes(simulation.spikes, self.plastic_layer)
            self.trace.accumulate(pre[:, 0], post[:, 0])
        return simulation, output, self._commands[int(output.argmax())]

    def _act_actor(self, x: torch.Tensor):
        """The action clipped to its bounds; adaptive I follows this action's error spikes."""
        iterations = self.adaptive.iterations if self.adaptive is not None else self.iterations
        simulation = self.model.simulate(x, iterations, errors=self.adaptive is not None)
        if self.adaptive is not None:
            self.adaptive.update(simulation.error_spikes.sum(-1))
        output = simulation.action[0]
        return simulation, output, np.clip(output.numpy().astype(np.float64), self._low, self._high)

    # r-STDP ---------------------------------------------------------------------------

    @property
    def plastic_weight(self) -> torch.Tensor:
        if self.trace is None:
            raise ValueError("plasticity is off: construct the policy with plastic_layer")
        return self.model.layers[self.plastic_layer].weight

    @torch.no_grad()
    def apply_modulation(self, modulation: float) -> None:
        """dw = r * c on the plastic layer, then a fresh trace for the next episode."""
        if not np.isfinite(modulation):
            raise ValueError(f"modulation must be finite, got {modulation}")
        self.plastic_weight.add_(self.trace.weight_change(modulation))
        self.trace.reset()

    @torch.no_grad()
    def set_plastic_weight(self, weight: np.ndarray) -> None:
        """Replace the plastic layer's weights (restored or rolled back), checked first."""
        current = self.plastic_weight
        weight = np.asarray(weight, dtype=np.float32)
        if weight.shape != tuple(current.shape):
            raise ValueError(f"plastic weights of shape {weight.shape} do not fit layer {tuple(current.shape)}")
        if not np.isfinite(weight).all():
            raise ValueError("plastic weights contain NaN or inf")
        current.copy_(torch.from_numpy(weight))
        self.trace.reset()


def _costs(model: DSQN | SpikingActor) -> tuple[list[int], int]:
    """Each hidden layer's fan-out (synaptic operations per spike) and the input layer's MACs."""
    if isinstance(model, DSQN):
        weights = [layer.weight for layer in model.layers]
    else:
        weights = [weight for weight, _ in model.source_weights()]
    return [w.shape[0] for w in weights[1:]], weights[0].shape[0] * weights[0].shape[1]
