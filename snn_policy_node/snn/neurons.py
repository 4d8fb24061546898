"""Spiking neurons, each a small class with explicit state, charge, fire and reset.

Both neurons work on any batch shape: the state has the shape of the input current.
``run`` simulates a whole sequence of currents ``[T, ...]``; because the networks here are
feedforward, a network is simulated layer after layer over all time steps, which gives
exactly the same spikes as stepping every layer together and costs one matrix product per
layer instead of one per layer and time step. ``IFNeuron`` states eq. 5-7 in tensors; the converted
actor runs the same arithmetic compiled (``snn_policy_node.engine.if_layers``), held to it by the tests.
"""

import numpy as np
import torch

from snn_policy_node.snn.surrogate import spike


class IFNeuron:
    """Integrate-and-fire neurons with soft reset (paper 000, eq. 5-7).

    ``v`` holds V(t), the membrane potential after reset. A neuron fires when the charged
    potential M(t) = V(t-1) + C(t) reaches the threshold (H(0) = 1, so that T = L
    reproduces QCFS's ``floor(x + 1/2)`` exactly) and the threshold is subtracted.
    """

    def __init__(self, threshold: float | torch.Tensor = 1.0):
        self.threshold = threshold
        self.v: torch.Tensor | None = None

    def reset(self, v0: torch.Tensor) -> None:
        """Set the initial potentials V(0)."""
        self.v = v0.clone()

    def step(self, current: torch.Tensor) -> torch.Tensor:
        charged = self.v + current  # eq. 5
        spikes = (charged >= self.threshold).to(charged.dtype)  # eq. 7
        self.v = charged - spikes * self.threshold  # eq. 6, soft reset
        return spikes

    def run(self, currents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Simulate ``currents[t]`` for every t; return the spikes and V(t), both ``[T, ...]``."""
        spikes, potentials = [], []
        for current in currents:
            spikes.append(self.step(current))
            potentials.append(self.v)
        return torch.stack(spikes), torch.stack(potentials)


class SynapticLIF:
    """Current-based leaky integrate-and-fire neurons (paper 004, eq. 1-2).

    ``syn = alpha * syn + I(t)``, ``mem = beta * mem + syn``; a neuron spikes when
    ``mem > threshold`` and its potential is reset to zero in the same step, as in the
    DSQN authors' code. Paper eq. 1 writes ``v(t) = beta v(t-1) + u(t-1)``: the same
    dynamics one step later, so that the last of T steps would see one step less input.
    With ``spiking=False`` the neuron never fires and ``step`` returns its potential: the
    DSQN read-out whose final potential is the Q-value.
    """

    def __init__(
        self,
        alpha: float,
        beta: float,
        threshold: float,
        spiking: bool = True,
        surrogate_scale: float = 100.0,
    ):
        self.alpha = alpha
        self.beta = beta
        self.threshold = threshold
        self.spiking = spiking
        self.surrogate_scale = surrogate_scale
        self.syn: torch.Tensor | None = None
        self.mem: torch.Tensor | None = None

    def reset(self, like: torch.Tensor) -> None:
        """Zero the synaptic current and the potential (the per-observation state reset)."""
        self.syn = torch.zeros_like(like)
        self.mem = torch.zeros_like(like)

    def step(self, current: torch.Tensor) -> torch.Tensor:
        self.syn = self.alpha * self.syn + current
        self.mem = self.beta * self.mem + self.syn
        if not self.spiking:
            return self.mem
        spikes = spike(self.mem - self.threshold, self.surrogate_scale)
        self.mem = self.mem * (1.0 - spikes.detach())  # hard reset, no gradient through it
        return spikes

    def run(self, currents: torch.Tensor) -> torch.Tensor:
        """Simulate ``currents[t]`` from a zero state; return spikes (or potentials) ``[T, ...]``."""
        self.reset(currents[0])
        if not (torch.is_grad_enabled() and currents.requires_grad):
            return self._run_in_place(currents)
        return torch.stack([self.step(current) for current in currents])

    def _run_in_place(self, currents: torch.Tensor) -> torch.Tensor:
        """:meth:`step`'s arithmetic in place, for inference: the same results, bit for bit.

        The arithmetic runs on NumPy views of the tensors: the same IEEE float operations,
        but a NumPy ufunc on a batch of one costs a fraction of a torch operation's dispatch,
        and a robot's policy runs T steps of these per control cycle.
        """
        syn, mem, inputs = self.syn.numpy(), self.mem.numpy(), currents.numpy()
        out = np.empty_like(inputs)
        spiked = np.empty(mem.shape, dtype=bool)
        for t, current in enumerate(inputs):
            syn *= self.alpha
            syn += current
            mem *= self.beta
            mem += syn
            if self.spiking:
                np.greater(mem, self.threshold, out=spiked)
                out[t] = spiked
                _hard_reset(mem, spiked)
            else:
                out[t] = mem
        return torch.from_numpy(out)


MASKED_RESET_MAX = 4096  # elements; measured here: batch-of-one nodes vs populations of thousands


def _hard_reset(mem: np.ndarray, spiked: np.ndarray) -> None:
    """``mem = 0`` where ``spiked``, in place and exactly. A masked write is the cheaper on a robot's
    batch of one; on a population's batch it costs about 6 ns an element, 10x a product with 0/1."""
    if mem.size <= MASKED_RESET_MAX:
        np.copyto(mem, 0.0, where=spiked)
    else:
        mem *= ~spiked
