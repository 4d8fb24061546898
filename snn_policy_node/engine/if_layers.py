"""Compiled IF layers of a converted spiking actor: calibration, firing, and the source network.

Each neuron of an IF layer is independent of its neighbours, so a layer is a loop over
neurons, each running its own few steps of scalar arithmetic: the calibration passes of
Algorithm 1 (paper 000) and then the layer's firing. Spikes travel through
:mod:`snn_policy_node.engine.synapses`.

The arithmetic is that of :class:`snn_policy_node.snn.neurons.IFNeuron` and
:func:`snn_policy_node.ann2snn.calibration.calibrate_layer` in float32, operation for operation
(the tests hold the kernels to them); only the order in which a synaptic sum adds its terms
differs from a BLAS product's.
"""

import numba
import numpy as np

from snn_policy_node.engine.synapses import analog, over_steps, propagate

ONE, HALF, ZERO = np.float32(1.0), np.float32(0.5), np.float32(0.0)
INF = np.float32(np.inf)


@numba.njit(cache=True)
def _initial_potential(currents, b, n, iterations, epsilon, accumulate, start):
    """V(0) of neuron ``n`` in batch row ``b`` after ``iterations`` passes of Algorithm 1 over
    ``currents[:, b, n]`` from the uncalibrated ``start``: each pass corrects the spike count by one
    (Conclusions 1 and 2). ``epsilon`` is (eps, 1 + eps), each rounded to float32 as the tensor code
    rounds it."""
    v0 = start
    for _ in range(iterations):
        v, lowest_firing, highest_silent = v0, INF, -INF
        for t in range(currents.shape[0]):
            v = v + currents[t, b, n]
            if v >= ONE:
                v = v - ONE
                lowest_firing = min(lowest_firing, v)
            else:
                highest_silent = max(highest_silent, v)
        earlier_shift = v0 - start if accumulate else ZERO
        final = v - earlier_shift
        shift = ZERO
        if final >= ONE and highest_silent > -INF:  # one spike too few: raise by D_s
            shift = max(epsilon[1] - highest_silent, ONE)
        elif final < ZERO and lowest_firing < INF:  # one spike too many: lower by D_f
            shift = -max(lowest_firing + epsilon[0], ONE)
        v0 = start + earlier_shift + shift
    return v0


@numba.njit(cache=True)
def initial_potentials(currents, iterations, epsilon, accumulate, v0):
    """Algorithm 1's V(0) ``[batch, neurons]`` of every neuron, each row after its own I passes from 1/2."""
    for b in range(currents.shape[1]):
        for n in range(currents.shape[2]):
            v0[b, n] = _initial_potential(currents, b, n, iterations[b], epsilon, accumulate, HALF)
    return v0


@numba.njit(cache=True)
def fire(currents, iterations, rho, epsilon, accumulate, starts, membrane, timesteps, spikes):
    """Spikes ``[steps, batch, neurons]`` of an IF layer (threshold 1, soft reset) driven by
    ``currents`` of the same shape, each neuron started at ``starts[b, n]`` calibrated by its row's
    I (``iterations`` ``[batch]``) on the first ``rho`` steps. Writes into ``spikes``.

    ``membrane`` is (initial, carry). With carry > 0 (CRPI's alpha), ``starts[b, n]`` becomes what the
    next observation starts from: initial + clip(carry (max(sum_t C(t), 0) - N), -1/2, 1/2) over the
    first ``timesteps`` steps, the charge the neuron did not turn into its N spikes."""
    steps, batch, neurons = currents.shape
    head = currents[:rho]
    initial, carry = membrane
    for b in range(batch):
        for n in range(neurons):
            start = starts[b, n]
            v = _initial_potential(head, b, n, iterations[b], epsilon, accumulate, start) if iterations[b] else start
            charge, fired = ZERO, ZERO
            for t in range(steps):
                v = v + currents[t, b, n]
                if t < timesteps:
                    charge += currents[t, b, n]
                if v >= ONE:
                    v = v - ONE
                    spikes[t, b, n] = ONE
                    if t < timesteps:
                        fired += ONE
                else:
                    spikes[t, b, n] = ZERO
            if carry > ZERO:
                starts[b, n] = initial + min(max(carry * (max(charge, ZERO) - fired), -HALF), HALF)
    return spikes


@numba.njit(cache=True)
def quantized_rates(drive, threshold, levels, rates):
    """a / lambda of a QCFS layer (eq. 14 with phi = 1/2), ``clip(floor(drive / lambda L + 1/2), 0, L) / L``
    with ``drive`` = W x + b: the source network's rate that its converted IF layer should reproduce."""
    top = np.float32(levels)
    for b in range(drive.shape[0]):
        for n in range(drive.shape[1]):
            level = np.floor(drive[b, n] / threshold * top + HALF)
            rates[b, n] = min(max(level, ZERO), top) / top
    return rates


@numba.njit(cache=True)
def error_counts(source_rates, spikes, timesteps, counts):
    """Algorithm 2, line 12, per batch row: ``sum_n |(a_n / lambda - psi_n(T)) T|`` with psi the
    firing rate over ``spikes[:timesteps]``."""
    scale = np.float32(timesteps)
    for b in range(spikes.shape[1]):
        total = ZERO
        for n in range(spikes.shape[2]):
            fired = ZERO
            for t in range(timesteps):
                fired += spikes[t, b, n]
            total += abs((source_rates[b, n] - fired / scale) * scale)
        counts[b] = total
    return counts


@numba.njit(cache=True)
def next_iterations(counts, iterations, i_min, i_max):
    """Algorithm 2's next I per batch row, in place: I + 1 (up to ``i_max``) after an action whose
    ``counts[b]`` (per layer) hold an error spike, ``i_min`` otherwise and after ``i_max``."""
    for b in range(counts.shape[0]):
        erred = False
        for k in range(counts.shape[1]):
            erred = erred or counts[b, k] > 0
        iterations[b] = iterations[b] + 1 if erred and iterations[b] < i_max else i_min
    return iterations


@numba.njit(cache=True)
def _one_variant(weight_t):
    """A shared layer ``[in, out]`` as the synapses read a population's: ``[1, in, out]``."""
    return weight_t.reshape((1, weight_t.shape[0], weight_t.shape[1]))


@numba.njit(cache=True)
def actor_forward(obs, weights_t, biases, plastic, plastic_layer, variants, noise, noise_layer, iterations, rho, epsilon,
                  accumulate, starts, membrane, spikes, readout, timesteps, max_action, action):
    """The converted actor's forward pass: ``obs`` ``[batch, in]`` into its first IF layer as a constant
    current, every IF layer calibrated and fired in turn, the read-out's currents into ``readout``
    ``[steps, batch, actions]``, each hidden layer's spikes into ``spikes[k]``, and into ``action``
    ``max_action tanh`` of the read-out's mean over the first ``timesteps`` steps (eq. 10).

    ``weights_t[k]`` / ``biases[k]`` are spiking weight layer k (transposed) and its bias. Weight layer
    ``plastic_layer`` (-1: none) takes row b's weights from ``plastic[variants[b]]`` ``[in, out]``; ``noise``
    ``[steps, batch, neurons]`` joins the current into hidden layer ``noise_layer`` (-1: none).
    ``starts[k]`` and ``membrane`` start hidden layer k's neurons as :func:`fire` says.
    """
    steps, batch = readout.shape[0], obs.shape[0]
    shared = np.zeros(batch, dtype=np.int64)
    drive = np.empty((batch, biases[0].shape[0]), dtype=np.float32)
    currents = over_steps(analog(obs, _one_variant(weights_t[0]), shared, True, biases[0], drive), steps)
    for k in range(len(spikes)):
        if k == noise_layer:
            currents += noise
        fire(currents, iterations, rho, epsilon, accumulate, starts[k], membrane, timesteps, spikes[k])
        currents = readout if k == len(spikes) - 1 else np.empty((steps, batch, biases[k + 1].shape[0]), np.float32)
        if k + 1 == plastic_layer:
            propagate(spikes[k], plastic, variants, biases[k + 1], currents)
        else:
            propagate(spikes[k], _one_variant(weights_t[k + 1]), shared, biases[k + 1], currents)
    for b in range(batch):
        for a in range(readout.shape[2]):
            total = ZERO
            for t in range(timesteps):
                total += readout[t, b, a]
            action[b, a] = max_action * np.tanh(total / np.float32(timesteps))
    return action


@numba.njit(cache=True)
def source_rates(obs, weights_t, biases, thresholds, levels, plastic, plastic_layer, variants, rates):
    """a / lambda of every hidden layer of the source QCFS network into ``rates[k]`` ``[batch, neurons]``
    (``weights_t``, ``biases`` and ``thresholds`` lambda unfolded; ``plastic`` and ``variants`` as in
    :func:`actor_forward`, in source units). QCFS rates are mostly 0, and adding nothing is exact: only
    nonzero inputs are summed."""
    x, shared = obs, np.zeros(obs.shape[0], dtype=np.int64)
    for k in range(len(rates)):
        if k == plastic_layer:
            analog(x, plastic, variants, True, biases[k], rates[k])
        else:
            analog(x, _one_variant(weights_t[k]), shared, True, biases[k], rates[k])
        quantized_rates(rates[k], thresholds[k], levels, rates[k])
        x = rates[k] * thresholds[k]
    return rates


@numba.njit(cache=True)
def actor_forward_counting_errors(obs, weights_t, biases, plastic, plastic_layer, variants, noise, noise_layer,
                                  iterations, rho, epsilon, accumulate, starts, membrane, spikes, readout, timesteps,
                                  max_action, action, source_weights_t, source_biases, thresholds, levels, source_plastic, rates, counts):
    """:func:`actor_forward`, then Algorithm 2's error spikes ``counts[b, k]`` of every hidden layer against
    the source network (:func:`source_rates` into ``rates``): one call for adaptive I's every step."""
    actor_forward(obs, weights_t, biases, plastic, plastic_layer, variants, noise, noise_layer, iterations, rho, epsilon,
                  accumulate, starts, membrane, spikes, readout, timesteps, max_action, action)
    source_rates(obs, source_weights_t, source_biases, thresholds, levels, source_plastic, plastic_layer, variants, rates)
    for k in range(len(rates)):
        error_counts(rates[k], spikes[k], timesteps, counts[:, k])
    return action
