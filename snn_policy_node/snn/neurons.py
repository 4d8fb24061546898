"""Spiking neurons, each a small class with explicit state, charge, fire and reset.

Both neurons work on any batch shape: the state has the shape of the input current.
``run`` simulates a whole sequence of currents ``[T, ...]``; because the networks here are
feedforward, a network is simulated layer after layer over all time steps, which gives
exactly the same spikes as stepping every layer together and costs one matrix product per
layer instead of one per layer and time step. These tensor neurons state the
equations and carry the surrogate gradient for training; inference runs the same arithmetic compiled
(``snn_policy_node.engine``), held to them bit for bit by the tests.
"""

import torch

from snn_policy_node.snn.surrogate import spike

# A simulation window far beyond any trained network's (these use 4-8 steps): a header asking for
# more is damaged, and would stall a controller for minutes per inference.
MAX_TIMESTEPS = 1000


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
        return torch.stack([self.step(current) for current in currents])
