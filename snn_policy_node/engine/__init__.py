"""Compiled inference kernels (Numba): the spiking networks' forward passes at a robot's batch of one
and a population's batch of thousands, through one code path.

- ``synapses``: spikes (and analog inputs) into the next layer's currents, event-driven, shared or
  per-row weights.
- ``if_layers``: the converted actor's IF layers, with Algorithm 1's calibration in each neuron's loop;
  the source QCFS network's rates and Algorithm 2's error spikes.
- ``lif_layers``: the DSQN's current-based LIF layers and read-out.

It imports nothing else of the project: the models in ``snn`` and ``ann2snn`` run on it. Kernels are
cached on disk; ``python -m snn_policy_node.policy.kernels`` compiles them all (the bootstrap does).
"""
