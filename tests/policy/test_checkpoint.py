import json
import pickle

import pytest
import torch
from safetensors.torch import load_file

from snn_policy_node.ann2snn.conversion import SpikingActor
from snn_policy_node.policy.checkpoint import (
    CheckpointError,
    content_digest,
    load_checkpoint,
    tensor_digest,
    upgrade_checkpoint,
)
from snn_policy_node.policy.model_io import load_model, save_model
from snn_policy_node.policy.specs import ActionSpec, ObservationEntry, ObservationSpec
from snn_policy_node.snn.dsqn import DSQN

CARTPOLE_OBS = ObservationSpec(
    entries=(
        ObservationEntry("slider", "position"),
        ObservationEntry("slider", "velocity"),
        ObservationEntry("hinge", "position"),
        ObservationEntry("hinge", "velocity"),
    )
)
CARTPOLE_ACTION = ActionSpec("discrete", joints=("slider",), commands=((-10.0,), (10.0,)))


@pytest.fixture
def dsqn_file(tmp_path):
    torch.manual_seed(0)
    model = DSQN(4, 2)
    path = tmp_path / "policy.safetensors"
    save_model(path, model, CARTPOLE_OBS, CARTPOLE_ACTION, {"seed": 0, "command": "test"})
    return path, model


def test_dsqn_round_trip(dsqn_file):
    path, model = dsqn_file
    loaded, checkpoint = load_model(path)
    obs = torch.randn(5, 4)
    torch.testing.assert_close(loaded(obs), model(obs))
    assert checkpoint.observation == CARTPOLE_OBS and checkpoint.action == CARTPOLE_ACTION
    assert checkpoint.provenance == {"seed": 0, "command": "test"}
    assert checkpoint.model["threshold"] == 0.5 and checkpoint.model["timesteps"] == 8


def test_spiking_actor_round_trip(tmp_path, random_qcfs_actor):
    actor = SpikingActor.from_qcfs(random_qcfs_actor(0))
    obs_spec = ObservationSpec(tuple(ObservationEntry(f"joint{k}", "position") for k in range(11)))
    action = ActionSpec("continuous", joints=("a", "b", "c"), low=(-1.0,) * 3, high=(1.0,) * 3)
    save_model(tmp_path / "actor.safetensors", actor, obs_spec, action)
    loaded, _ = load_model(tmp_path / "actor.safetensors")
    obs = torch.randn(8, 11)
    torch.testing.assert_close(loaded(obs, 1), actor(obs, 1))


def test_truncated_file_is_rejected(dsqn_file):
    path, _ = dsqn_file
    data = path.read_bytes()
    for keep in (4, 100, len(data) - 10):
        path.write_bytes(data[:keep])
        with pytest.raises(CheckpointError, match="truncated"):
            load_checkpoint(path)


def test_corrupted_tensor_bytes_are_rejected(dsqn_file):
    path, _ = dsqn_file
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupted"):
        load_checkpoint(path)


def rewrite_header(path, change, digest=None):
    """Edit a file's header in place; ``digest`` (a function of header and tensors) re-signs it
    consistently, as a buggy tool would, so that only the meaning of the fields is left to catch."""
    data = path.read_bytes()
    size = int.from_bytes(data[:8], "little")
    outer = json.loads(data[8 : 8 + size])
    header = json.loads(outer["__metadata__"]["snn_robot"])
    change(header)
    if digest is not None:
        header["sha256"] = digest(header, load_file(path))
    outer["__metadata__"]["snn_robot"] = json.dumps(header)
    raw = json.dumps(outer).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + data[8 + size :])


def test_newer_format_version_is_rejected(dsqn_file):
    path, _ = dsqn_file
    rewrite_header(path, lambda h: h.update(version=99))
    with pytest.raises(CheckpointError, match="version 99"):
        load_checkpoint(path)


def test_unknown_kind_and_foreign_safetensors_are_rejected(dsqn_file, tmp_path):
    path, _ = dsqn_file
    rewrite_header(path, lambda h: h.update(kind="transformer"))
    with pytest.raises(CheckpointError, match="unknown model kind"):
        load_checkpoint(path)
    from safetensors.torch import save_file

    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, foreign)
    with pytest.raises(CheckpointError, match="not a checkpoint of this project"):
        load_checkpoint(foreign)
    for header in ("[1, 2]", '"snn_robot"', "null"):  # valid JSON, but no header object
        save_file({"w": torch.zeros(2)}, foreign, metadata={"snn_robot": header})
        with pytest.raises(CheckpointError, match="not a JSON object"):
            load_checkpoint(foreign)


def test_shape_mismatch_is_rejected(dsqn_file):
    path, _ = dsqn_file
    rewrite_header(path, lambda h: h["model"].update(hidden=[32, 64]), digest=content_digest)
    with pytest.raises(CheckpointError, match="do not fit"):
        load_model(path)


class _Boom:
    def __reduce__(self):
        return (print, ("pickle payload executed",))


def test_pickle_files_are_refused_without_being_executed(tmp_path, capsys):
    for name, save in (
        ("plain.pkl", lambda p: p.write_bytes(pickle.dumps(_Boom()))),
        ("torch.pt", lambda p: torch.save({"boom": _Boom()}, p)),
    ):
        path = tmp_path / name
        save(path)
        with pytest.raises(CheckpointError, match="pickle"):
            load_checkpoint(path)
    assert "pickle payload executed" not in capsys.readouterr().out


def test_missing_file_gives_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_checkpoint(tmp_path / "absent.safetensors")


def test_failed_save_leaves_the_previous_file_intact(dsqn_file, monkeypatch):
    path, model = dsqn_file
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("snn_policy_node.policy.checkpoint.os.fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        save_model(path, DSQN(4, 2), CARTPOLE_OBS, CARTPOLE_ACTION)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_spec_mismatch_is_refused_on_save(tmp_path):
    with pytest.raises(Exception, match="observation spec has 4 entries, model takes 6"):
        save_model(tmp_path / "x.safetensors", DSQN(6, 2), CARTPOLE_OBS, CARTPOLE_ACTION)


def test_specs_validate_their_fields():
    with pytest.raises(ValueError, match="field"):
        ObservationEntry("hinge", "angle")
    with pytest.raises(ValueError, match="discrete action spec"):
        ActionSpec("discrete", joints=("slider",), commands=((1.0, 2.0),))
    with pytest.raises(ValueError, match="low <= high"):
        ActionSpec("continuous", joints=("a",), low=(1.0,), high=(0.0,))
    with pytest.raises(ValueError, match="offset has 1 values for 2 joints"):
        ActionSpec("continuous", joints=("a", "b"), low=(-1.0,) * 2, high=(1.0,) * 2, offset=(0.1,))
    with pytest.raises(ValueError, match="takes no scale or offset"):
        ActionSpec("discrete", joints=("slider",), commands=((1.0,),), scale=(2.0,))
    with pytest.raises(ValueError, match="command interface 'torque'"):
        ActionSpec("discrete", joints=("slider",), commands=((1.0,),), interface="torque")
    with pytest.raises(ValueError, match="repeat"):
        ActionSpec("discrete", joints=("slider", "slider"), commands=((1.0, 1.0),))


@pytest.mark.parametrize("change", [
    lambda h: h["action"].update(commands=[[10.0], [-10.0]]),  # swapped: the node would push the wrong way
    lambda h: h["action"].update(commands=[[-99.0], [99.0]]),
    lambda h: h["observation"]["entries"][0].update(name="wheel"),
    lambda h: h["provenance"].update(seed=1),
], ids=["swapped-commands", "scaled-commands", "renamed-joint", "provenance"])
def test_an_edited_header_is_refused_by_the_digest(dsqn_file, change):
    path, _ = dsqn_file
    rewrite_header(path, change)
    with pytest.raises(CheckpointError, match="corrupted or edited"):
        load_checkpoint(path)


@pytest.mark.parametrize("change, says", [
    (lambda h: h["model"].update(threshold=-1.0), "positive threshold"),
    (lambda h: h["model"].update(timesteps=10**9), "timesteps <= 1000"),
    (lambda h: h["model"].update(alpha=1.5), "decays in"),
    (lambda h: h["observation"].update(std=[1e-9, 1.0, 1.0, 1.0]), "std must be at least 1e-06"),
    (lambda h: h["action"].update(commands=[[-10.0], [10.0], [0.0]]), "3 outputs, model has 2"),
    (lambda h: h["action"].update(commands=[[float("nan")], [10.0]]), "must be finite"),
    (lambda h: h["action"].update(period=-0.02), "control period must be a positive"),
], ids=["threshold", "timesteps", "alpha", "std", "commands-per-action", "nan-command", "period"])
def test_a_consistently_digested_header_with_meaningless_fields_is_refused(dsqn_file, change, says):
    path, _ = dsqn_file
    rewrite_header(path, change, digest=content_digest)
    with pytest.raises(CheckpointError, match=says):
        load_model(path)


def test_actor_fields_are_checked_too(tmp_path, random_qcfs_actor):
    path = tmp_path / "actor.safetensors"
    obs = ObservationSpec(tuple(ObservationEntry(f"j{i}", "position") for i in range(11)))
    action = ActionSpec("continuous", ("a", "b", "c"), low=(-1.0,) * 3, high=(1.0,) * 3)
    save_model(path, SpikingActor.from_qcfs(random_qcfs_actor(0)), obs, action)
    rewrite_header(path, lambda h: h["model"].update(timesteps=10**9), digest=content_digest)
    with pytest.raises(CheckpointError, match="timesteps must be in 1..1000"):
        load_model(path)


def test_a_version_1_file_is_refused_until_upgraded(dsqn_file):
    path, model = dsqn_file

    def version_1(header, tensors):
        return tensor_digest(tensors)

    rewrite_header(path, lambda h: h.update(version=1), digest=version_1)
    with pytest.raises(CheckpointError, match="format version 1, whose digest does not cover its header.*upgrade"):
        load_checkpoint(path)
    assert upgrade_checkpoint(path)
    loaded, checkpoint = load_model(path)
    assert checkpoint.version == 2 and checkpoint.action.commands == ((-10.0,), (10.0,))
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in model.state_dict().items())
    assert not upgrade_checkpoint(path)


def test_upgrading_records_a_missing_control_period_and_keeps_a_recorded_one(dsqn_file):
    path, _ = dsqn_file
    assert load_checkpoint(path).action.period is None
    assert upgrade_checkpoint(path, lambda checkpoint: 0.02)
    assert load_checkpoint(path).action.period == 0.02
    assert not upgrade_checkpoint(path, lambda checkpoint: 0.5)
    assert load_checkpoint(path).action.period == 0.02


def test_an_invalid_period_is_refused_and_the_file_kept(dsqn_file):
    path, _ = dsqn_file
    before = path.read_bytes()
    with pytest.raises(CheckpointError, match="control period must be a positive"):
        upgrade_checkpoint(path, lambda checkpoint: -0.02)
    assert path.read_bytes() == before
