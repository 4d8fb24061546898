from pathlib import Path

import pytest
import yaml

from snn_policy_node.ros.launch_file import LaunchError, NodeLaunch, parse_launch, resolve_launch_file
from snn_policy_node.ros.launch_runner import run
from snn_policy_node.ros.launch_substitutions import package_share, substitute


def test_the_shipped_scenario_resolves_to_three_nodes_with_their_parameters():
    nodes = parse_launch(resolve_launch_file("cartpole_rstdp"), {"adapted_dir": "/tmp/adapted"})
    assert [n.name for n in nodes] == ["sim_bridge", "snn_policy", "rstdp_service"]
    share = package_share()
    policy = nodes[1]
    assert policy.params["checkpoint"] == f"{share}/models/dsqn/CartPole-v0/seed0/model.safetensors"
    assert policy.params_files == [f"{share}/config/cartpole_rstdp.yaml"]
    assert nodes[2].params["adapted_dir"] == "/tmp/adapted"
    command = nodes[0].command()
    assert command[1:4] == ["--ros-args", "-r", "__node:=sim_bridge"] and command[0].endswith("sim_bridge")


def test_launch_errors_name_the_problem(tmp_path, monkeypatch):
    with pytest.raises(LaunchError, match="scenarios: .*cartpole_rstdp"):
        resolve_launch_file("no_such_scenario")
    with pytest.raises(LaunchError, match="not declared"):
        substitute("$(var missing)", {})
    with pytest.raises(LaunchError, match="cannot find the nav2_bringup share directory"):
        substitute("$(find-pkg-share nav2_bringup)", {})
    monkeypatch.delenv("SNN_ROBOT_UNSET", raising=False)
    assert substitute("$(env SNN_ROBOT_UNSET fallback)", {}) == "fallback"
    other = tmp_path / "other.launch.yaml"
    other.write_text("launch:\n- node: {pkg: turtlesim, exec: turtlesim_node}\n")
    with pytest.raises(LaunchError, match="only snn_robot's nodes"):
        parse_launch(other, {})
    required = tmp_path / "required.launch.yaml"
    required.write_text("launch:\n- arg: {name: model}\n")
    with pytest.raises(LaunchError, match="model:=VALUE"):
        parse_launch(required, {})


@pytest.mark.parametrize("config", sorted((package_share() / "config").glob("*.yaml")), ids=lambda p: p.name)
def test_config_files_set_only_parameters_their_nodes_declare(config):
    """ROS ignores an unknown parameter silently; a misspelt one here would never take effect."""
    from sim_bridge.ros.bridge_node import PARAMETERS as BRIDGE
    from snn_policy_node.ros.policy_parameters import PARAMETERS as POLICY
    from snn_policy_node.ros.rstdp_service import PARAMETERS as RSTDP

    declared = {"sim_bridge": BRIDGE, "snn_policy": POLICY, "rstdp_service": RSTDP}
    for key, section in yaml.safe_load(config.read_text()).items():
        assert key.startswith("/**/"), f"{config.name}: {key!r} would miss the node in a namespace"
        node = key.removeprefix("/**/")
        assert node in declared, f"{config.name}: no node {node!r} in the launch files"
        unknown = set(section["ros__parameters"]) - set(declared[node])
        assert not unknown, f"{config.name}: {node} declares no parameters {sorted(unknown)}"


@pytest.mark.parametrize("scenario", ["cartpole_rstdp", "mujoco_spiking", "two_robots"])
def test_every_scenario_finds_its_shipped_model_and_config(scenario):
    from snn_policy_node.policy.model_io import load_model

    nodes = parse_launch(resolve_launch_file(scenario), {})
    checkpoints = {n.params["checkpoint"] for n in nodes if "checkpoint" in n.params}
    assert checkpoints
    for path in checkpoints | {p for n in nodes for p in n.params_files}:
        assert Path(path).is_file(), path
    for checkpoint in checkpoints:
        load_model(checkpoint)  # a readable policy with consistent specs


@pytest.mark.parametrize("env_id", sorted(p.name for p in (package_share() / "models" / "td3bc").iterdir()))
def test_mujoco_spiking_plays_each_shipped_actor_on_its_own_robot(env_id):
    from snn_policy_node.policy.model_io import load_model

    nodes = {n.name: n for n in parse_launch(resolve_launch_file("mujoco_spiking"), {"env": env_id})}
    assert nodes["sim_bridge"].params["env_id"] == env_id
    _, checkpoint = load_model(nodes["snn_policy"].params["checkpoint"])
    assert checkpoint.provenance["env_id"] == env_id


def test_an_empty_launch_argument_reaches_the_node_as_an_empty_string(tmp_path):
    """``profile:="''"`` (default physics; ros2 launch refuses ``profile:=``) reaches rcl as ``''``."""
    import rclpy
    from rclpy.context import Context
    from rclpy.node import Node

    nodes = {n.name: n for n in parse_launch(resolve_launch_file("mujoco_spiking"), {"profile": "''"})}
    command = nodes["sim_bridge"].command()
    context = Context()
    rclpy.init(args=command, context=context)  # rcl parses the node's --ros-args as it would at start-up
    try:
        node = Node("sim_bridge", context=context, automatically_declare_parameters_from_overrides=True)
        assert node.get_parameter("randomization_profile").value == ""
        assert node.get_parameter("env_id").value == "Hopper-v5"
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)


def write_launch(tmp_path, text: str) -> Path:
    path = tmp_path / "graph.launch.yaml"
    path.write_text(text)
    return path


def test_a_node_gets_namespace_remaps_args_and_parameters_in_file_order(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("robot/policy:\n  ros__parameters: {rate_hz: 20.0}\n")
    path = write_launch(tmp_path, f"""
launch:
- arg: {{name: robot, default: robot1}}
- node:
    pkg: snn_robot
    exec: snn_policy_node
    name: policy
    namespace: "$(var robot)"
    args: "--flag 'two words'"
    remap:
    - {{from: joint_states, to: /$(var robot)/state}}
    param:
    - {{name: rate_hz, value: 3.0}}
    - from: {params}
    - name: limits
      param:
      - {{name: low, value: -1}}
    - from: {tmp_path / "missing.yaml"}
""")
    (node,) = parse_launch(path, {})
    command = node.command()
    assert command[1:3] == ["--flag", "two words"]
    assert command[3:] == ["--ros-args", "-r", "__node:=policy", "-r", "__ns:=/robot1", "-r",
                           "joint_states:=/robot1/state", "-p", "rate_hz:=3.0", "--params-file", str(params),
                           "-p", "limits.low:=-1"]  # the missing file is dropped, as launch drops it


def test_a_node_without_a_name_keeps_its_own_and_conditions_pick_nodes(tmp_path):
    path = write_launch(tmp_path, """
launch:
- arg: {name: sim, default: "true"}
- node: {pkg: snn_robot, exec: sim_bridge, if: "$(var sim)"}
- node: {pkg: snn_robot, exec: rstdp_service, unless: "$(var sim)"}
""")
    (node,) = parse_launch(path, {})
    assert node.label == "sim_bridge" and "__node:=" not in " ".join(node.command())
    assert [n.label for n in parse_launch(path, {"sim": "False"})] == ["rstdp_service"]
    with pytest.raises(LaunchError, match="a condition is true, false, 1 or 0"):
        parse_launch(path, {"sim": "yes"})


@pytest.mark.parametrize("node, message", [
    ("{pkg: snn_robot, exec: sim_bridge, parm: []}", r"unknown key\(s\) \['parm'\]"),
    ("{pkg: snn_robot, exec: sim_bridge, on_exit: restart}", "knows on_exit: shutdown"),
    ("{pkg: snn_robot, exec: sim_bridge, param: [{name: a}]}", "neither value, from nor nested param"),
])
def test_a_node_key_the_runner_does_not_know_is_an_error_that_names_it(tmp_path, node, message):
    with pytest.raises(LaunchError, match=message):
        parse_launch(write_launch(tmp_path, f"launch:\n- node: {node}\n"), {})


def test_an_undeclared_argument_is_ignored_with_a_warning_as_launch_ignores_it(capsys):
    nodes = parse_launch(resolve_launch_file("cartpole_rstdp"), {"modle": "x"})
    assert len(nodes) == 3 and "declares no arguments ['modle']" in capsys.readouterr().err


def test_the_graph_ends_when_its_shutdown_node_exits_not_before(tmp_path):
    """Real processes: a node that exits early leaves the graph up; the on_exit: shutdown one ends it."""
    import sys
    import time


    script = tmp_path / "node.py"
    script.write_text("import sys, time\ntime.sleep(float(sys.argv[1]))\nsys.exit(int(sys.argv[2]))\n")
    quick = NodeLaunch(sys.executable, name="quick", arguments=[str(script), "0", "3"])
    ending = NodeLaunch(sys.executable, name="ending", arguments=[str(script), "1.5", "4"], shutdown_on_exit=True)
    lasting = NodeLaunch(sys.executable, name="lasting", arguments=[str(script), "60", "0"])
    started = time.monotonic()
    assert run([quick, ending, lasting]) == 4
    assert 1.4 < time.monotonic() - started < 20  # not at the quick node's exit, not waiting for the lasting one
    assert run([NodeLaunch(sys.executable, name="a", arguments=[str(script), "0", "0"]),
                NodeLaunch(sys.executable, name="b", arguments=[str(script), "0.2", "5"])]) == 5  # all ended


def test_let_groups_and_namespaces_scope_as_launch_scopes_them(tmp_path):
    path = write_launch(tmp_path, """
launch:
- let: {name: robot, value: robot1}
- set_remap: {from: /clock, to: clock}
- group:
  - push_ros_namespace: {namespace: "$(var robot)"}
  - let: {name: robot, value: inner}
  - node: {pkg: snn_robot, exec: sim_bridge, name: "b_$(var robot)"}
  - node: {pkg: snn_robot, exec: sim_bridge, name: nested, namespace: arm}
  - node: {pkg: snn_robot, exec: sim_bridge, name: absolute, namespace: /top}
- group:
    scoped: false
    children:
    - push-ros-namespace: {namespace: leaked}
- node: {pkg: snn_robot, exec: rstdp_service, name: "after_$(var robot)"}
- group:
    forwarding: false
    keep: [{name: robot, value: kept}]
    children:
    - node: {pkg: snn_robot, exec: rstdp_service, name: "$(var robot)"}
""")
    nodes = parse_launch(path, {})
    assert [(n.name, n.namespace) for n in nodes] == [
        ("b_inner", "/robot1"), ("nested", "/robot1/arm"), ("absolute", "/top"),
        ("after_robot1", "/leaked"),  # the scoped group's let and namespace stayed inside; the unscoped one's leaked
        ("kept", None)]  # forwarding: false starts empty: no namespace, no remap, only what it keeps
    assert nodes[0].remaps == [("/clock", "clock")] and nodes[-1].remaps == []


def test_an_include_reads_its_arguments_and_sets_them_in_the_including_scope(tmp_path):
    (tmp_path / "child.launch.yaml").write_text("""
launch:
- arg: {name: env, default: Hopper-v5}
- arg: {name: required}
- node: {pkg: snn_robot, exec: sim_bridge, name: "$(var env)_$(var required)"}
""")
    path = write_launch(tmp_path, """
launch:
- group:
  - include:
      file: "$(dirname)/child.launch.yaml"
      arg: [{name: env, value: Ant-v5}, {name: required, value: "1"}]
- include:
    file: "$(dirname)/child.launch.yaml"
    arg: [{name: required, value: "2"}]
- node: {pkg: snn_robot, exec: rstdp_service, name: "parent_$(var env)"}
""")
    assert [n.name for n in parse_launch(path, {})] == ["Ant-v5_1", "Hopper-v5_2", "parent_Hopper-v5"]
    missing = write_launch(tmp_path, "launch:\n- include: {file: '$(dirname)/child.launch.yaml'}\n")
    with pytest.raises(LaunchError, match=r"child.launch.yaml:4: .*'required' has no default"):
        parse_launch(missing, {})


@pytest.mark.parametrize("text, message", [
    ("- arg: {name: a, default: x, choice: [{value: y}]}", r":3: argument 'a' is 'x'; valid choices are \['y'\]"),
    ("- group: {scopd: false, children: []}", r":3: group .*unknown key\(s\) \['scopd'\]"),
    ("- group: {scoped: false}", ":3: a group is a list of entities or a mapping with a children list"),
    ("- let: {name: a}", r":3: .* is malformed \(KeyError: 'value'\)"),
    ("- timer: {period: 1}", r":3: launch entity 'timer' is not supported by this runner"),
    ("- include: {file: x.launch.py}", ":3: include x.launch.py: this runner reads YAML launch files only"),
    ("- arg: {name: a, default: x}\n- node: {pkg: snn_robot, exec: sim_bridge, descripton: b}",
     r":4: node 'sim_bridge': unknown key\(s\) \['descripton'\]"),
])
def test_what_the_runner_refuses_is_named_with_its_file_and_line(tmp_path, text, message):
    with pytest.raises(LaunchError, match=message):
        parse_launch(write_launch(tmp_path, f"# a comment\nlaunch:\n{text}\n"), {})


def test_two_robots_each_get_their_own_namespace_and_clock():
    nodes = parse_launch(resolve_launch_file("two_robots"), {"robot2_env": "Ant-v5", "episodes": "2"})
    assert [n.label for n in nodes] == ["robot1/sim_bridge", "robot1/snn_policy", "robot2/sim_bridge", "robot2/snn_policy"]
    assert [n.params.get("env_id") for n in nodes] == ["Hopper-v5", None, "Ant-v5", None]
    assert nodes[3].params["checkpoint"].endswith("models/td3bc/Ant-v5/spiking_actor.safetensors")
    assert all(n.remaps == [("/clock", "clock")] for n in nodes) and nodes[2].params["max_episodes"] == "2"
