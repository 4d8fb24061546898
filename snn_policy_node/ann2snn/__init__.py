"""ANN-to-SNN conversion and calibration of paper 000.

- ``qcfs``: the QCFS activation (eq. 14, learnable lambda) and the ReLU or QCFS TD3 actor.
- ``conversion``: ``SpikingActor.from_qcfs``, lambda -> threshold folded into the weights,
  V(0) = theta/2, action = tanh of the average postsynaptic potential over T.
- ``calibration``: Algorithm 1 (shifting initial membrane potentials layer by layer) and
  Algorithm 2 (adaptive I), on the compiled layers of ``engine``.
"""

from snn_policy_node.ann2snn.calibration import AdaptiveIterations, CalibrationConfig, calibrate_layer
from snn_policy_node.ann2snn.conversion import ActorSimulation, SpikingActor
from snn_policy_node.ann2snn.qcfs import QCFS, MLPActor

__all__ = ["AdaptiveIterations", "CalibrationConfig", "calibrate_layer", "ActorSimulation",
           "SpikingActor", "QCFS", "MLPActor"]
