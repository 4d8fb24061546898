import argparse
import dataclasses
import shlex
import typing
from pathlib import Path

import pytest

import snn_policy_node
from snn_policy_node.cli import add_config_options, build_parser, config_values, main
from snn_policy_node.experiments import adaptation
from snn_policy_node.experiments.adaptation import AdaptationConfig
from snn_policy_node.tasks import DSQN_TASKS, MUJOCO_TASKS
from snn_policy_node.training import datasets, dqn, td3bc
from snn_policy_node.training.datasets import OnlineConfig
from snn_policy_node.training.dqn import DQNConfig
from snn_policy_node.training.td3bc import TD3BCConfig

LIBRARY = Path(snn_policy_node.__file__).parent


def test_help_lists_only_commands_that_exist():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    groups = {"train", "adapt", "report", "reproduce", "bench", "data", "export"}
    assert set(commands) == {"demo", "inspect", "run", "upgrade-checkpoint", "keygen", "sign", "render", "replay"} | groups
    leaves = {name: sub for name, sub in commands.items() if name not in groups}
    for group in groups:
        leaves.update({f"{group} {k}": v for k, v in commands[group]._subparsers._group_actions[0].choices.items()})
    assert set(leaves) == {"demo", "inspect", "run", "upgrade-checkpoint", "keygen", "sign", "render", "replay", "train dsqn", "adapt rstdp", "report rstdp", "report adaptation", "bench loop", "bench recording", "bench grid", "data generate", "data subset", "train td3bc", "report calibration",
                           "report fidelity", "reproduce calibration", "reproduce dsqn", "export nir"}
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


# The options that come from a config dataclass: the subcommand, the dataclass, and {field: option}.
CONFIG_OPTIONS = {
    "train dsqn": (DQNConfig, {"env_id": "--env", "seed": "--seed", "total_steps": "--steps",
                               "randomization": "--randomization"}),
    "train td3bc": (TD3BCConfig, {"dataset_id": "--dataset", "activation": "--activation", "seed": "--seed",
                                  "steps": "--steps", "eval_every": "--eval-every", "eval_episodes": "--eval-episodes"}),
    "data generate": (OnlineConfig, {"env_id": "--env", "seed": "--seed", "total_steps": "--steps",
                                     "start_steps": "--start-steps", "eval_every": "--eval-every",
                                     "eval_episodes": "--eval-episodes", "checkpoint_every": "--checkpoint-every"}),
    "adapt rstdp": (AdaptationConfig, {"episodes": "--episodes", "sign": "--sign"}),
    "report rstdp": (AdaptationConfig, {"episodes": "--episodes", "sign": "--sign"}),
}
TASK_DECIDES = {("train dsqn", "total_steps"), ("adapt rstdp", "sign")}


def leaf(command: str) -> argparse.ArgumentParser:
    parser = build_parser()
    for word in command.split():
        parser = parser._subparsers._group_actions[0].choices[word]
    return parser


@pytest.mark.parametrize("command", CONFIG_OPTIONS)
def test_config_options_take_default_type_and_help_from_their_dataclass(command):
    config, options = CONFIG_OPTIONS[command]
    actions = {a.dest: a for a in leaf(command)._actions}
    declared = {f.name: f for f in dataclasses.fields(config)}
    for name, option in options.items():
        action, f = actions[name], declared[name]
        assert action.option_strings == [option], name
        assert action.help.startswith(f.metadata["help"]) or command == "report rstdp", name  # that one: per run
        assert action.type is typing.get_type_hints(config)[name] or f.default is None, name
        if (command, name) in TASK_DECIDES:
            assert action.default is None and "the task's" in action.help, name
        elif action.required:
            assert f.default is dataclasses.MISSING or name == "env_id", name
        else:
            assert action.default == f.default, name


def test_task_choices_are_the_registry_keys():
    assert leaf("train dsqn")._option_string_actions["--env"].choices == list(DSQN_TASKS)
    assert leaf("data generate")._option_string_actions["--env"].choices == list(MUJOCO_TASKS)
    envs = leaf("report rstdp")._option_string_actions["--envs"]
    assert envs.choices == envs.default == list(DSQN_TASKS)


def test_dqn_steps_help_lists_each_task_budget():
    text = leaf("train dsqn")._option_string_actions["--steps"].help
    for env_id in DSQN_TASKS:
        assert f"{env_id} {DQNConfig.for_task(env_id).total_steps}" in text


class Captured(Exception):
    """Raised by a stand-in for the library, with the config the handler built."""

    def __init__(self, config):
        super().__init__()
        self.config = config


def capture(*args, **kwargs):
    raise Captured(next(a for a in args if isinstance(a, (DQNConfig, TD3BCConfig, OnlineConfig, AdaptationConfig))))


def built_config(arguments: list[str]):
    with pytest.raises(Captured) as captured:
        main(arguments)
    return captured.value.config


def test_train_dsqn_builds_the_tasks_config_overriding_only_the_options_given(monkeypatch, tmp_path):
    monkeypatch.setattr(dqn, "train", capture)
    out = ["--out", str(tmp_path)]
    assert built_config(["train", "dsqn", "--env", "Acrobot-v1", *out]) == DQNConfig.for_task("Acrobot-v1")
    assert built_config(["train", "dsqn", "--env", "CartPole-v0", *out]) == DQNConfig.for_task("CartPole-v0")
    assert built_config(["train", "dsqn", "--env", "Acrobot-v1", "--seed", "4", "--steps", "5000", *out]) == \
        DQNConfig.for_task("Acrobot-v1", seed=4, total_steps=5000)


def test_train_td3bc_builds_the_dataclass_defaults(monkeypatch, tmp_path):
    monkeypatch.setattr(td3bc, "train_td3bc", capture)
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))  # restored after the test
    base = ["train", "td3bc", "--dataset", "test/hopper/random-v0", "--minari-root", str(tmp_path)]
    assert built_config(base) == TD3BCConfig("test/hopper/random-v0")
    assert built_config([*base, "--activation", "relu", "--steps", "7", "--eval-every", "3", "--eval-episodes", "2"]) == \
        TD3BCConfig("test/hopper/random-v0", activation="relu", steps=7, eval_every=3, eval_episodes=2)


def test_data_generate_builds_the_dataclass_defaults(monkeypatch, tmp_path):
    monkeypatch.setattr(datasets, "train_online", capture)
    base = ["data", "generate", "--env", "Hopper-v5", "--out", str(tmp_path)]
    assert built_config(base) == OnlineConfig("Hopper-v5")
    assert built_config([*base, "--steps", "9", "--start-steps", "8", "--checkpoint-every", "5"]) == \
        OnlineConfig("Hopper-v5", total_steps=9, start_steps=8, checkpoint_every=5)


def test_adapt_rstdp_builds_the_dataclass_defaults_with_the_tasks_sign(monkeypatch):
    from snn_policy_node.experiments.rstdp_study import stop_at

    monkeypatch.setattr(adaptation, "adapt", capture)
    model = LIBRARY.parent / "models" / "dsqn" / "CartPole-v0" / "seed0" / "model.safetensors"
    expected = AdaptationConfig(sign=DSQN_TASKS["CartPole-v0"].sign, stop_at=stop_at("CartPole-v0"))
    assert built_config(["adapt", "rstdp", "--model", str(model)]) == expected
    assert built_config(["adapt", "rstdp", "--model", str(model), "--episodes", "3", "--sign", "1"]) == \
        dataclasses.replace(expected, episodes=3, sign=1.0)


@dataclasses.dataclass
class Toy:
    name: str = dataclasses.field(metadata={"help": "required, no default"})
    total_steps: int = dataclasses.field(default=10, metadata={"help": "steps"})
    scale: float | None = dataclasses.field(default=None, metadata={"help": "scale", "choices": (1.0, 2.0)})
    seeds: tuple = (0, 1)


def test_add_config_options_makes_options_of_fields():
    parser = argparse.ArgumentParser()
    add_config_options(parser, Toy, ["name", "total_steps", "scale"], names={"total_steps": "steps"},
                       task_values={"scale": {"a": 1.0, "b": 2.0}})
    with pytest.raises(SystemExit):
        parser.parse_args([])  # --name is required: the field has no default
    args = parser.parse_args(["--name", "x"])
    assert (args.name, args.total_steps, args.scale) == ("x", 10, None)
    assert config_values(args, Toy) == {"name": "x", "total_steps": 10}  # None left out: the dataclass decides
    args = parser.parse_args(["--name", "x", "--steps", "3", "--scale", "2"])
    assert Toy(**config_values(args, Toy)) == Toy("x", 3, 2.0)
    assert parser._option_string_actions["--scale"].help == "scale (default: the task's: a 1, b 2)"
    with pytest.raises(TypeError, match="Toy.seeds"):
        add_config_options(argparse.ArgumentParser(), Toy, ["seeds"])


def test_run_refuses_an_empty_launch_argument_as_ros2_launch_does(capsys):
    assert main(["run", "mujoco_spiking", "profile:="]) == 2
    assert "malformed launch argument 'profile:='" in capsys.readouterr().err
    assert main(["run", "mujoco_spiking", "profile:=''", "--print"]) == 0  # the documented form
    bridge = capsys.readouterr().out.splitlines()[0]
    assert "randomization_profile:=''" in shlex.split(bridge.split(": ", 1)[1])  # rcl reads '' as an empty string


def test_run_print_shows_the_resolved_graph_and_starts_nothing(capsys):
    assert main(["run", "two_robots", "robot2_env:=Ant-v5", "--print"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["robot1/sim_bridge", "robot1/snn_policy", "robot2/sim_bridge",
                                                        "robot2/snn_policy"]
    assert "__ns:=/robot2" in lines[2] and "env_id:=Ant-v5" in lines[2]
