"""Saving and loading whole policies: a model plus its observation and action specs."""

import os

from torch import nn

from snn_policy_node.ann2snn.conversion import SpikingActor
from snn_policy_node.policy.checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from snn_policy_node.policy.specs import ActionSpec, ObservationSpec
from snn_policy_node.snn.dsqn import DSQN


def save_model(
    path: str | os.PathLike,
    model: DSQN | SpikingActor,
    observation: ObservationSpec,
    action: ActionSpec,
    provenance: dict | None = None,
) -> None:
    kind = {DSQN: "dsqn", SpikingActor: "spiking_actor"}.get(type(model))
    if kind is None:
        raise TypeError(f"cannot save a {type(model).__name__}; only DSQN and SpikingActor policies")
    checkpoint = Checkpoint(kind, model.config(), observation, action, dict(model.state_dict()), provenance or {})
    _check_specs(path, model, checkpoint)
    save_checkpoint(path, checkpoint)


def load_model(path: str | os.PathLike, trusted_key: str | os.PathLike | None = None) -> tuple[nn.Module, Checkpoint]:
    """The policy in ``path`` (in eval mode) and its checkpoint; :class:`CheckpointError` if unusable,
    or, with ``trusted_key`` (an Ed25519 public key file), if not signed by that key's owner."""
    checkpoint = load_checkpoint(path)
    if trusted_key:
        from snn_policy_node.policy.signing import verify_signature  # cryptography only where keys are used

        verify_signature(checkpoint, trusted_key, path)
    try:
        if checkpoint.kind == "dsqn":
            model = DSQN(**checkpoint.model)
            model.load_state_dict(checkpoint.tensors, strict=True)
        else:
            model = SpikingActor.from_tensors(checkpoint.tensors, **checkpoint.model)
            model.load_state_dict(checkpoint.tensors, strict=True)
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise CheckpointError(f"{path}: tensors do not fit a {checkpoint.kind} model: {error}") from None
    _check_specs(path, model, checkpoint)
    return model.eval(), checkpoint


def _io_sizes(model: nn.Module) -> tuple[int, int]:
    if isinstance(model, DSQN):
        return model.obs_dim, model.n_actions
    weights = model.source_weights()
    return weights[0][0].shape[1], weights[-1][0].shape[0]


def _check_specs(path, model: nn.Module, checkpoint: Checkpoint) -> None:
    obs_size, out_size = _io_sizes(model)
    if checkpoint.observation.size != obs_size:
        raise CheckpointError(f"{path}: observation spec has {checkpoint.observation.size} entries, model takes {obs_size}")
    if checkpoint.action.size != out_size:
        raise CheckpointError(f"{path}: action spec describes {checkpoint.action.size} outputs, model has {out_size}")
    if isinstance(model, DSQN) and checkpoint.action.kind != "discrete":
        raise CheckpointError(f"{path}: a DSQN picks discrete actions, but the action spec is {checkpoint.action.kind}")
