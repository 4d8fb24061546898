"""The spiking core of both papers: neurons, the surrogate gradient, the DSQN and r-STDP.

- ``neurons``: integrate-and-fire with soft reset (paper 000, eq. 5-7) and current-based LIF
  (paper 004, eq. 1-2), each with state a caller can see and reset.
- ``surrogate``: the SuperSpike surrogate of the spike's derivative, 1 / (100 |x| + 1)^2.
- ``dsqn``: the Deep Spiking Q-Network (two-neuron encoding, LIF hidden layers, non-spiking read-out).
- ``rstdp``: eligibility traces (eq. 4-7), A+/A- from the trained weights, reward shaping (eq. 8-9).

It imports nothing else of the project: everything above builds on it.
"""

from snn_policy_node.snn.dsqn import DSQN, DSQNSimulation, two_neuron_encoding
from snn_policy_node.snn.neurons import IFNeuron, SynapticLIF
from snn_policy_node.snn.rstdp import EligibilityTrace, RSTDPParams, model_amplitudes, reward_shaping, synapse_spikes
from snn_policy_node.snn.surrogate import spike

__all__ = ["DSQN", "DSQNSimulation", "two_neuron_encoding", "IFNeuron", "SynapticLIF", "EligibilityTrace",
           "RSTDPParams", "model_amplitudes", "reward_shaping", "synapse_spikes", "spike"]
