"""The deployable artifact: a checkpoint with its contract, and a policy acting on one observation.

- ``specs``: the observation spec (joints by name, fields, normalisation) and action spec
  (discrete commands or continuous bounds) a checkpoint carries.
- ``checkpoint``: safetensors files with a versioned, digest-checked header; no code runs on load.
- ``model_io``: a DSQN or spiking actor to and from a checkpoint.
- ``observation``: observations built by joint name from joint states and odometry, with named faults.
- ``policy``: a loaded model acting on one observation, with its spike, synaptic-operation and
  energy counts and, when plastic, its r-STDP trace.
- ``kernels``: ``python -m snn_policy_node.policy.kernels`` compiles the engine's kernels once (the bootstrap runs it).
"""

from snn_policy_node.policy.checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from snn_policy_node.policy.model_io import load_model, save_model
from snn_policy_node.policy.observation import InputFault, JointReading, ObservationBuilder, OdometryReading
from snn_policy_node.policy.policy import Inference, Policy
from snn_policy_node.policy.specs import ActionSpec, ObservationEntry, ObservationSpec

__all__ = ["Checkpoint", "CheckpointError", "load_checkpoint", "save_checkpoint", "load_model", "save_model",
           "InputFault", "JointReading", "ObservationBuilder", "OdometryReading", "Inference", "Policy",
           "ActionSpec", "ObservationEntry", "ObservationSpec"]
