"""Compiled current-based LIF layers of a DSQN (paper 004, eq. 1-2) and its forward pass.

The arithmetic is that of :class:`snn_policy_node.snn.neurons.SynapticLIF` in float32, step for step
(``syn = alpha syn + I``, ``mem = beta mem + syn``, a spike where ``mem > threshold`` and ``mem = 0``
there); spikes travel through :mod:`snn_policy_node.engine.synapses`.
"""

import numba
import numpy as np

from snn_policy_node.engine.synapses import analog, over_steps, propagate

ZERO = np.float32(0.0)


@numba.njit(cache=True)
def fire(currents, alpha, beta, threshold, spikes, final):
    """Spikes ``[steps, batch, neurons]`` of LIF neurons from a zero state, driven by ``currents``, and each
    neuron's potential after the last step into ``final`` ``[batch, neurons]``; with an infinite
    ``threshold`` the neurons never fire: the non-spiking read-out, whose final potentials are the Q-values."""
    steps, batch, neurons = currents.shape
    for b in range(batch):
        for n in range(neurons):
            syn, mem = ZERO, ZERO
            for t in range(steps):
                syn = alpha * syn + currents[t, b, n]
                mem = beta * mem + syn
                if mem > threshold:
                    spikes[t, b, n] = np.float32(1.0)
                    mem = ZERO
                else:
                    spikes[t, b, n] = ZERO
            final[b, n] = mem
    return spikes


@numba.njit(cache=True)
def dsqn_forward(encoded, weights, rows, noise, noise_layer, alpha, beta, threshold, spikes, q_values):
    """Q-values ``[batch, actions]`` of the encoded observations ``encoded`` ``[batch, 2 obs]``, injected
    as a constant current for as many steps as ``spikes[k]`` ``[steps, batch, neurons]`` has; row b uses
    weight layer k's ``weights[k][rows[k][b]]``, stored transposed ``[in, out]``. ``noise`` ``[steps, batch, neurons]`` joins
    the current into hidden layer ``noise_layer`` (-1: none)."""
    steps, batch = spikes[0].shape[0], encoded.shape[0]
    bias = np.zeros(weights[0].shape[2], dtype=np.float32)
    drive = analog(encoded, weights[0], rows[0], True, bias, np.empty((batch, bias.shape[0]), dtype=np.float32))
    currents = over_steps(drive, steps)
    for k in range(len(spikes)):
        if k == noise_layer:
            currents += noise
        fire(currents, alpha, beta, threshold, spikes[k], np.empty((batch, spikes[k].shape[2]), dtype=np.float32))
        outputs = weights[k + 1].shape[2]
        currents = np.empty((steps, batch, outputs), dtype=np.float32)
        propagate(spikes[k], weights[k + 1], rows[k + 1], np.zeros(outputs, dtype=np.float32), currents)
    readout_spikes = np.empty(currents.shape, dtype=np.float32)  # none: the threshold is infinite
    fire(currents, alpha, beta, np.float32(np.inf), readout_spikes, q_values)
    return q_values
