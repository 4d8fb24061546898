"""Signed checkpoints: a robot configured with its owner's public key loads only models the owner signed.

A checkpoint's digest (:func:`snn_policy_node.policy.checkpoint.content_digest`) covers its whole
content, so signing the digest signs the file: the Ed25519 signature travels in the safetensors
metadata beside the header, and any change to header or tensors breaks the digest, and with it the
signature. Re-saving a checkpoint drops its signature; sign the new file again.
"""

import base64
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from snn_policy_node.atomic import atomic_path
from snn_policy_node.policy.checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint


def generate_keys(private_path: str | os.PathLike, public_path: str | os.PathLike) -> None:
    """A new Ed25519 key pair as PEM files; the private one readable by its owner only."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with atomic_path(private_path) as temporary:
        temporary.write_bytes(private)
        temporary.chmod(0o600)
    with atomic_path(public_path) as temporary:
        temporary.write_bytes(public)


def _key(path: str | os.PathLike, private: bool):
    try:
        data = Path(path).read_bytes()
        key = (serialization.load_pem_private_key(data, password=None) if private
               else serialization.load_pem_public_key(data))
    except (OSError, ValueError, TypeError) as error:
        raise CheckpointError(f"cannot read the {'private' if private else 'public'} key {path}: {error}") from None
    expected = Ed25519PrivateKey if private else Ed25519PublicKey
    if not isinstance(key, expected):
        raise CheckpointError(f"{path} is not an Ed25519 {'private' if private else 'public'} key")
    return key


def sign_checkpoint(path: str | os.PathLike, private_key: str | os.PathLike) -> None:
    """Sign a valid checkpoint in place (it is loaded, with every check, first)."""
    checkpoint = load_checkpoint(path)
    signature = _key(private_key, private=True).sign(checkpoint.digest.encode())
    save_checkpoint(path, checkpoint, signature=base64.b64encode(signature).decode())


def verify_signature(checkpoint: Checkpoint, public_key: str | os.PathLike, path: str | os.PathLike) -> None:
    """:class:`CheckpointError` unless ``checkpoint`` (read from ``path``) is signed by ``public_key``'s owner."""
    if checkpoint.signature is None:
        raise CheckpointError(f"{path} is not signed, and this robot loads only models signed by {public_key}")
    key = _key(public_key, private=False)
    try:
        key.verify(base64.b64decode(checkpoint.signature, validate=True), checkpoint.digest.encode())
    except (InvalidSignature, ValueError):
        raise CheckpointError(f"{path} is not signed by the owner of {public_key}: its signature does not verify") from None
