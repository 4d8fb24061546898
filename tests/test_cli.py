from pathlib import Path

import pytest

import snn_policy_node
from snn_policy_node.cli import build_parser, main

LIBRARY = Path(snn_policy_node.__file__).parent


def test_help_lists_only_commands_that_exist():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    groups = {"train", "adapt", "report", "bench", "data"}
    assert set(commands) == {"demo", "inspect", "run"} | groups
    leaves = {name: sub for name, sub in commands.items() if name not in groups}
    for group in groups:
        leaves.update({f"{group} {k}": v for k, v in commands[group]._subparsers._group_actions[0].choices.items()})
    assert set(leaves) == {"demo", "inspect", "run", "train dsqn", "adapt rstdp", "report rstdp", "bench loop", "data generate", "train td3bc", "report calibration"}
    for name, sub in leaves.items():
        assert sub.get_default("run") is not None, name
        assert sub.description, name
        assert not [a.dest for a in sub._actions if not a.help], name  # every option says what it is for


def test_adapt_refuses_explicit_physics_together_with_a_profile(capsys):
    model = LIBRARY.parent / "models" / "dsqn" / "CartPole-v0" / "seed0" / "model.safetensors"
    assert main(["adapt", "rstdp", "--model", str(model), "--profile", "extreme", "--physics", "length=0.6"]) == 2
    assert "either --physics or --profile/--setting" in capsys.readouterr().err


def test_report_refuses_a_sweep_of_a_parameter_the_task_does_not_have(tmp_path, capsys):
    arguments = ["report", "rstdp", "--envs", "Acrobot-v1", "--sweep-parameters", "length", "--work-dir", str(tmp_path)]
    assert main(arguments) == 2
    assert "['length'] are no parameters of ['Acrobot-v1']" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_inspect_reports_bad_checkpoints_with_exit_status_2(tmp_path, capsys):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x80\x04not a checkpoint")
    assert main(["inspect", str(bad)]) == 2
    assert "pickle" in capsys.readouterr().err


def test_demo_runs_a_short_closed_loop_check(capsys):
    assert main(["demo", "--episodes", "1", "--max-steps", "20"]) == 0
    out = capsys.readouterr().out
    assert "adaptive I in [0, 3]" in out and "I = 3" in out


def test_unknown_command_fails():
    with pytest.raises(SystemExit):
        main(["train-everything"])
