"""Event-driven synapses: a spike adds its neuron's weights to the next layer's currents.

The synaptic work is the synaptic operations the energy estimate counts, and nothing else; the
terms of a sum are added in ascending presynaptic order (a BLAS product adds them in blocks, so
the two round differently in the last bit).
"""

import numba
import numpy as np

ZERO = np.float32(0.0)


@numba.njit(cache=True)
def propagate(spikes, weights_t, rows, bias, currents):
    """``currents[t, b] = bias + sum_j weights_t[rows[b], j]`` over the neurons j that spiked at step t
    in row b: one contiguous weight row per spike (``weights_t`` ``[variants, in, out]``, each layer
    transposed), so a batch shares one layer (``rows`` all 0) or each row has its own variant."""
    steps, batch, inputs = spikes.shape
    outputs = weights_t.shape[2]
    for t in range(steps):
        for b in range(batch):
            weight_t = weights_t[rows[b]]
            for o in range(outputs):
                currents[t, b, o] = bias[o]
            for j in range(inputs):
                if spikes[t, b, j] != ZERO:
                    for o in range(outputs):
                        currents[t, b, o] += weight_t[j, o]
    return currents


@numba.njit(cache=True)
def analog(x, weights, rows, transposed, bias, drive):
    """``drive[b] = W x[b] + bias`` for analog inputs ``x`` ``[batch, in]`` (an observation, or QCFS rates),
    with row b's ``W`` = ``weights[rows[b]]``, stored ``[in, out]`` if ``transposed`` else ``[out, in]``:
    the products of nonzero inputs only (adding nothing is exact), in ascending input order, then the bias."""
    outputs = bias.shape[0]
    for b in range(x.shape[0]):
        r = rows[b]
        for o in range(outputs):
            drive[b, o] = ZERO
        for j in range(x.shape[1]):
            value = x[b, j]
            if value != ZERO:
                for o in range(outputs):
                    drive[b, o] += value * (weights[r, j, o] if transposed else weights[r, o, j])
        for o in range(outputs):
            drive[b, o] += bias[o]
    return drive


@numba.njit(cache=True)
def over_steps(drive, steps):
    """A constant current ``drive`` ``[batch, neurons]`` for ``steps`` steps: ``[steps, batch, neurons]``."""
    currents = np.empty((steps, drive.shape[0], drive.shape[1]), dtype=np.float32)
    for t in range(steps):
        currents[t] = drive
    return currents
