"""Offset-spike calibration of converted IF layers (paper 000, Algorithms 1 and 2).

Everything here is in normalised units: the threshold is 1 and an uncalibrated neuron
starts at V(0) = 1/2 (the QCFS shift phi = 1/2).
"""

from dataclasses import dataclass

import torch

from snn_policy_node.snn.neurons import IFNeuron


@dataclass(frozen=True)
class CalibrationConfig:
    """How Algorithm 1 calibrates.

    ``rho`` simulated steps per pass; ``epsilon`` in (0, threshold) of Conclusion 2.
    ``accumulate``: each pass shifts V(0) from where the previous pass left it and judges
    the error (Conclusion 1) with that earlier shift taken out of V(rho), so that every pass
    moves a neuron one spike closer to the source network. ``accumulate=False`` reads
    lines 18-21 of Algorithm 1 literally: every pass shifts from theta/2 and judges the raw
    V(rho); a neuron corrected by pass 1 then looks corrected-the-wrong-way to pass 2, so
    even I undoes odd I (the tests measure both).
    """

    rho: int = 4
    epsilon: float = 1e-3
    accumulate: bool = True

    def __post_init__(self):
        if self.rho < 1:
            raise ValueError(f"rho must be a positive number of time steps, got {self.rho}")
        if not 0.0 < self.epsilon < 1.0:
            raise ValueError(f"epsilon must lie in (0, threshold = 1), got {self.epsilon}")


def count_shifts(
    spikes: torch.Tensor, potentials: torch.Tensor, epsilon: float, threshold: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Conclusion 2: the V(0) shifts D_f (one spike less) and D_s (one spike more).

    ``spikes`` and ``potentials`` (V(t) after reset) are ``[steps, ...]`` records of one run.
    D_f = max(theta, eps + min{V(t) | s(t) = 1}) and D_s = max(theta, theta + eps -
    max{V(t) | s(t) = 0}); D_f is infinite for a neuron that never fired and D_s for one
    that fired at every step (there is no spike to remove or add).
    """
    fired = spikes > 0
    inf = torch.tensor(float("inf"), dtype=potentials.dtype)
    lowest_firing = torch.where(fired, potentials, inf).amin(0)
    highest_silent = torch.where(fired, -inf, potentials).amax(0)
    return (
        torch.clamp(lowest_firing + epsilon, min=threshold),
        torch.clamp(threshold + epsilon - highest_silent, min=threshold),
    )


def offset_shifts(
    spikes: torch.Tensor,
    potentials: torch.Tensor,
    epsilon: float,
    threshold: float = 1.0,
    earlier_shift: torch.Tensor | float = 0.0,
) -> torch.Tensor:
    """Shift of V(0) that corrects each neuron's spike count by one (Conclusions 1 and 2).

    The run recorded in ``spikes`` and ``potentials`` started ``earlier_shift`` away from
    theta/2. A neuron that fired and ended (less the earlier shift) below zero fired one
    spike too many and is lowered by D_f; one that was silent at some step and ended at or
    above threshold fired one too few and is raised by D_s. Other neurons keep V(0).
    """
    lower, raise_ = count_shifts(spikes, potentials, epsilon, threshold)
    fired = spikes > 0
    final = potentials[-1] - earlier_shift
    too_many = (final < 0) & fired.any(0)
    too_few = (final >= threshold) & (~fired).any(0)
    zero = torch.zeros_like(final)
    return torch.where(too_few, raise_, zero) - torch.where(too_many, lower, zero)


def calibrate_layer(
    currents: torch.Tensor, iterations: int | torch.Tensor, config: CalibrationConfig
) -> torch.Tensor:
    """Algorithm 1 for one IF layer: initial potentials ``[batch, neurons]`` after I passes.

    ``currents`` ``[rho, batch, neurons]`` are the layer's inputs during the rho simulated
    steps. ``iterations`` is I, one number or one per batch element (Algorithm 2 gives every
    environment its own I). See :class:`CalibrationConfig` for how passes combine.
    """
    batch = currents.shape[1]
    iterations = torch.as_tensor(iterations).expand(batch)
    v0 = torch.full(currents.shape[1:], 0.5, dtype=currents.dtype)
    neuron = IFNeuron(threshold=1.0)
    for i in range(int(iterations.max()) if batch else 0):
        neuron.reset(v0)
        spikes, potentials = neuron.run(currents)
        earlier_shift = v0 - 0.5 if config.accumulate else 0.0
        shift = offset_shifts(spikes, potentials, config.epsilon, earlier_shift=earlier_shift)
        active = (iterations > i).unsqueeze(-1)
        v0 = torch.where(active, 0.5 + earlier_shift + shift, v0)
    return v0


def error_spikes(source_rate: torch.Tensor, spike_rate: torch.Tensor, timesteps: int) -> torch.Tensor:
    """Algorithm 2, line 12: ``|(a / lam - psi(T)) T|`` summed over a layer's neurons.

    ``source_rate`` is a / lam of the source QCFS network and ``spike_rate`` the IF layer's
    firing rate psi(T), both ``[batch, neurons]``. Returns ``[batch]`` counts (whole numbers
    when T = L, up to rounding).
    """
    return ((source_rate - spike_rate) * timesteps).abs().sum(-1)


class AdaptiveIterations:
    """Algorithm 2: per environment, raise I by one after an action with error spikes.

    I starts at ``i_min``; after each action, an environment whose action still had error
    spikes gets I + 1 (up to ``i_max``), every other environment returns to ``i_min``.
    """

    def __init__(self, i_min: int = 0, i_max: int = 3, batch: int = 1):
        if not 0 <= i_min <= i_max:
            raise ValueError(f"need 0 <= i_min <= i_max, got i_min={i_min}, i_max={i_max}")
        self.i_min, self.i_max = i_min, i_max
        self.iterations = torch.full((batch,), i_min, dtype=torch.long)

    def update(self, error_spike_counts: torch.Tensor) -> torch.Tensor:
        """Take this action's error-spike count per environment; return the next I."""
        raise_ = (error_spike_counts > 0) & (self.iterations < self.i_max)
        self.iterations = torch.where(raise_, self.iterations + 1, torch.full_like(self.iterations, self.i_min))
        return self.iterations

    def reset(self) -> None:
        """Return I to ``i_min`` in every environment (a new episode)."""
        self.iterations.fill_(self.i_min)
