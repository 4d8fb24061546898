"""Offset-spike calibration of converted IF layers (paper 000, Algorithms 1 and 2).

The arithmetic runs in the compiled layers of :mod:`snn_policy_node.engine.if_layers`; here are
the configuration, Algorithm 1 on one layer's currents, and Algorithm 2's schedule of I.

Everything here is in normalised units: the threshold is 1 and an uncalibrated neuron
starts at V(0) = 1/2 (the QCFS shift phi = 1/2).
"""

import functools
from dataclasses import dataclass

import numpy as np
import torch

from snn_policy_node.engine import if_layers


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

    @functools.cached_property
    def kernel_epsilon(self) -> tuple[np.float32, np.float32]:
        """(eps, theta + eps) in float32, rounded as a float32 tensor op rounds a Python scalar."""
        return np.float32(self.epsilon), np.float32(1.0 + self.epsilon)

    def __post_init__(self):
        if self.rho < 1:
            raise ValueError(f"rho must be a positive number of time steps, got {self.rho}")
        if not 0.0 < self.epsilon < 1.0:
            raise ValueError(f"epsilon must lie in (0, threshold = 1), got {self.epsilon}")


def calibrate_layer(
    currents: torch.Tensor, iterations: int | torch.Tensor, config: CalibrationConfig
) -> torch.Tensor:
    """Algorithm 1 for one IF layer: initial potentials ``[batch, neurons]`` after I passes.

    ``currents`` ``[rho, batch, neurons]`` are the layer's inputs during the rho simulated
    steps. ``iterations`` is I, one number or one per batch element (Algorithm 2 gives every
    environment its own I). A pass simulates the rho steps from V(0) and applies
    Conclusions 1 and 2: a neuron that fired and ended (less the earlier shifts) below zero
    fired one spike too many and is lowered by D_f = max(theta, eps + min{V(t) | s(t) = 1});
    one that was silent at some step and ended at or above threshold fired one too few and
    is raised by D_s = max(theta, theta + eps - max{V(t) | s(t) = 0}). See
    :class:`CalibrationConfig` for how passes combine. The passes run compiled, in float32
    (:func:`snn_policy_node.engine.if_layers.initial_potentials`).
    """
    currents = np.ascontiguousarray(currents.numpy(), dtype=np.float32)
    rows = np.ascontiguousarray(np.broadcast_to(np.asarray(iterations, dtype=np.int64), currents.shape[1:2]))
    v0 = np.empty(currents.shape[1:], dtype=np.float32)
    if_layers.initial_potentials(currents, rows, config.kernel_epsilon, config.accumulate, v0)
    return torch.from_numpy(v0)


class AdaptiveIterations:
    """Algorithm 2: per environment, raise I by one after an action with error spikes.

    I starts at ``i_min``; after each action, an environment whose action still had error
    spikes (:func:`snn_policy_node.engine.if_layers.error_counts`) gets I + 1 (up to ``i_max``),
    every other environment returns to ``i_min``. ``iterations`` is an array, as the compiled
    layers read it.
    """

    def __init__(self, i_min: int = 0, i_max: int = 3, batch: int = 1):
        if not 0 <= i_min <= i_max:
            raise ValueError(f"need 0 <= i_min <= i_max, got i_min={i_min}, i_max={i_max}")
        self.i_min, self.i_max = i_min, i_max
        self.iterations = np.full(batch, i_min, dtype=np.int64)

    def update(self, error_spike_counts: torch.Tensor | np.ndarray) -> np.ndarray:
        """Take this action's error-spike counts per environment (``[batch]``, or ``[batch, layers]``
        as the layers count them); return the next I, updated in place."""
        counts = np.asarray(error_spike_counts).reshape(len(self.iterations), -1)
        return if_layers.next_iterations(counts, self.iterations, self.i_min, self.i_max)

    def reset(self) -> None:
        """Return I to ``i_min`` in every environment (a new episode)."""
        self.iterations.fill(self.i_min)
