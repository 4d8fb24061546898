"""Compiled inference kernels (Numba): the spiking networks' forward passes at a robot's batch of one
and a population's batch of thousands, through one code path.

- ``if_layers``: the converted actor's IF layers, with Algorithm 1's calibration in each neuron's loop,
  and event-driven synapses.

It imports nothing else of the project: the models in ``snn`` and ``ann2snn`` run on it.
"""
