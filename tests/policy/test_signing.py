"""Signed checkpoints: only models signed by the trusted key's owner load."""

import shutil

import pytest

from snn_policy_node.cli import main
from snn_policy_node.policy.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from snn_policy_node.policy.model_io import load_model
from snn_policy_node.policy.signing import generate_keys, sign_checkpoint


@pytest.fixture
def keys(tmp_path):
    generate_keys(tmp_path / "owner.pem", tmp_path / "owner.pub")
    generate_keys(tmp_path / "other.pem", tmp_path / "other.pub")
    return tmp_path


@pytest.fixture
def model(tmp_path, cartpole_checkpoint):
    path = tmp_path / "model.safetensors"
    shutil.copy(cartpole_checkpoint, path)
    return path


def test_a_signed_model_loads_with_its_owners_key_only(keys, model):
    sign_checkpoint(model, keys / "owner.pem")
    assert load_model(model, keys / "owner.pub")[1].signature is not None
    with pytest.raises(CheckpointError, match="not signed by the owner of .*other.pub: its signature does not verify"):
        load_model(model, keys / "other.pub")
    assert (keys / "owner.pem").stat().st_mode & 0o777 == 0o600


def test_an_unsigned_model_is_refused_where_a_key_is_trusted_and_loads_where_none_is(keys, model):
    load_model(model)
    with pytest.raises(CheckpointError, match="is not signed, and this robot loads only models signed by"):
        load_model(model, keys / "owner.pub")


def test_editing_or_re_saving_a_signed_model_loses_its_trust(keys, model):
    sign_checkpoint(model, keys / "owner.pem")
    data = bytearray(model.read_bytes())
    data[-3] ^= 0xFF  # a tensor byte: the digest, and so the signature, no longer hold
    edited = model.with_name("edited.safetensors")
    edited.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupted or edited"):
        load_model(edited, keys / "owner.pub")
    save_checkpoint(model, load_checkpoint(model))  # a re-saved file carries no signature
    with pytest.raises(CheckpointError, match="is not signed"):
        load_model(model, keys / "owner.pub")


def test_keys_of_the_wrong_kind_are_refused_with_their_reason(keys, model):
    with pytest.raises(CheckpointError, match="cannot read the private key"):
        sign_checkpoint(model, keys / "owner.pub")
    (keys / "junk.pub").write_text("not a key")
    sign_checkpoint(model, keys / "owner.pem")
    with pytest.raises(CheckpointError, match="cannot read the public key"):
        load_model(model, keys / "junk.pub")


def test_the_command_line_makes_keys_signs_and_inspects(tmp_path, model, capsys):
    assert main(["keygen", str(tmp_path / "k.pem"), str(tmp_path / "k.pub")]) == 0
    assert main(["inspect", str(model), "--trusted-key", str(tmp_path / "k.pub")]) == 2
    assert "is not signed" in capsys.readouterr().err
    assert main(["sign", str(model), "--key", str(tmp_path / "k.pem")]) == 0
    assert main(["inspect", str(model), "--trusted-key", str(tmp_path / "k.pub")]) == 0
    assert '"signed": true' in capsys.readouterr().out
