"""Checkpoints: weights in safetensors plus a versioned, validated metadata header.

Loading parses a JSON header and raw tensor bytes, so a checkpoint can never run code.
A SHA-256 digest over the whole content, header fields and tensors, catches corrupted or edited
bytes: a header with its commands swapped or its joints renamed is refused like a damaged
tensor. Saving writes a temporary file and renames it, so a crash mid-save leaves the previous
file intact. Format version 1 digested the tensors only; :func:`upgrade_checkpoint` re-saves
such a file, once its owner has decided to trust its header.
"""

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from snn_policy_node.atomic import atomic_path
from snn_policy_node.policy.specs import ActionSpec, ObservationSpec

FORMAT = "snn-robot-checkpoint"
VERSION = 2
METADATA_KEY = "snn_robot"
SIGNATURE_KEY = "snn_robot_signature"  # base64 Ed25519 signature of the digest (signing.py)
KINDS = ("dsqn", "spiking_actor")
_PICKLE_MAGIC = tuple(bytes([0x80, protocol]) for protocol in range(2, 6))
_ZIP_MAGIC = b"PK\x03\x04"


class CheckpointError(ValueError):
    """A file that is not a valid checkpoint of this project, with the reason."""


@dataclass
class Checkpoint:
    kind: str
    model: dict  # the model's constructor arguments
    observation: ObservationSpec
    action: ActionSpec
    tensors: dict[str, torch.Tensor]
    provenance: dict = field(default_factory=dict)  # command, seed, environment, scores, ...
    version: int = VERSION  # the format version the file was read in
    digest: str = ""  # content_digest of the file it was read from
    signature: str | None = None  # of that digest, if the file is signed


def tensor_digest(tensors: dict[str, torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{list(tensor.shape)}|".encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()


def content_digest(header: dict, tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 of every header field but the digest itself (canonical JSON) and of the tensors."""
    fields = {key: value for key, value in header.items() if key != "sha256"}
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True, separators=(",", ":")).encode())
    digest.update(tensor_digest(tensors).encode())
    return digest.hexdigest()


def save_checkpoint(path: str | os.PathLike, checkpoint: Checkpoint, signature: str | None = None) -> None:
    """Write ``checkpoint`` to ``path`` atomically, with ``signature`` of its digest if given."""
    if checkpoint.kind not in KINDS:
        raise CheckpointError(f"unknown checkpoint kind {checkpoint.kind!r}; known: {KINDS}")
    tensors = {name: t.detach().cpu().contiguous() for name, t in checkpoint.tensors.items()}
    header = {
        "format": FORMAT,
        "version": VERSION,
        "kind": checkpoint.kind,
        "model": checkpoint.model,
        "observation": checkpoint.observation.to_dict(),
        "action": checkpoint.action.to_dict(),
        "provenance": checkpoint.provenance,
    }
    header["sha256"] = content_digest(header, tensors)
    metadata = {METADATA_KEY: json.dumps(header)}
    if signature is not None:
        metadata[SIGNATURE_KEY] = signature
    payload = save_safetensors(tensors, metadata=metadata)
    with atomic_path(path) as temporary:
        temporary.write_bytes(payload)


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read and validate a checkpoint; raise :class:`CheckpointError` saying what is wrong."""
    return _load(Path(path), legacy=False)


def upgrade_checkpoint(path: str | os.PathLike, period: Callable[[Checkpoint], float] | None = None) -> bool:
    """Re-save a format-version-1 checkpoint (tensors digested, header not) in the current
    format; with ``period``, a file that records no control period gets ``period(checkpoint)``
    seconds. False if nothing changed. Only for files whose header you trust."""
    checkpoint = _load(Path(path), legacy=True)
    missing_period = period is not None and checkpoint.action.period is None
    if checkpoint.version == VERSION and not missing_period:
        return False
    if missing_period:
        try:
            checkpoint.action = dataclasses.replace(checkpoint.action, period=period(checkpoint))
        except ValueError as error:
            raise CheckpointError(f"{path}: {error}") from None
    save_checkpoint(path, checkpoint)
    return True


def _load(path: Path, legacy: bool) -> Checkpoint:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CheckpointError(f"cannot read checkpoint {path}: {error.strerror or error}") from None
    header, metadata = _read_header(path, data)
    if header["version"] < VERSION and not legacy:
        raise CheckpointError(
            f"{path} uses format version {header['version']}, whose digest does not cover its header; if you trust "
            f"the file, re-save it with: snn-robot upgrade-checkpoint {path}")
    try:
        tensors = load_safetensors(data)
    except (SafetensorError, ValueError, RuntimeError) as error:
        raise CheckpointError(f"{path} is truncated or damaged: {error}") from None
    expected = tensor_digest(tensors) if header["version"] == 1 else content_digest(header, tensors)
    if expected != header.get("sha256"):
        raise CheckpointError(f"{path} is corrupted or edited: its content does not match the digest in its header")
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise CheckpointError(f"{path} holds non-finite values in tensor {name!r}")
    try:
        return Checkpoint(
            kind=header["kind"],
            model=dict(header["model"]),
            observation=ObservationSpec.from_dict(header["observation"]),
            action=ActionSpec.from_dict(header["action"]),
            tensors=tensors,
            provenance=dict(header.get("provenance") or {}),
            version=header["version"],
            digest=expected,
            signature=metadata.get(SIGNATURE_KEY),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path} has an invalid header: {error!r}") from None


def _read_header(path: Path, data: bytes) -> tuple[dict, dict]:
    """The checkpoint header and the file's whole safetensors metadata."""
    if data.startswith(_PICKLE_MAGIC) or data.startswith(_ZIP_MAGIC):
        raise CheckpointError(
            f"{path} is a pickle or torch.save archive; only safetensors checkpoints are loaded, "
            "because unpickling can run arbitrary code"
        )
    if len(data) < 8:
        raise CheckpointError(f"{path} is truncated ({len(data)} bytes) or not a safetensors file")
    size = int.from_bytes(data[:8], "little")
    if size > len(data) - 8:
        raise CheckpointError(f"{path} is truncated or not a safetensors file (header of {size} bytes announced)")
    try:
        metadata = json.loads(data[8 : 8 + size])["__metadata__"]
        header = json.loads(metadata[METADATA_KEY])
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
        raise CheckpointError(f"{path} is not a checkpoint of this project (no {METADATA_KEY!r} metadata)") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path} is not a checkpoint of this project ({METADATA_KEY!r} is not a JSON object)")
    if header.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a checkpoint of this project (format {header.get('format')!r})")
    version = header.get("version")
    if not isinstance(version, int) or version < 1:
        raise CheckpointError(f"{path} has an invalid format version {version!r}")
    if version > VERSION:
        raise CheckpointError(f"{path} uses format version {version}; this release reads up to version {VERSION}")
    if header.get("kind") not in KINDS:
        raise CheckpointError(f"{path} holds an unknown model kind {header.get('kind')!r}; known: {KINDS}")
    return header, metadata
