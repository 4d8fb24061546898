from pathlib import Path

import pytest
import yaml

from snn_policy_node.ros.launch_runner import LaunchError, package_share, parse_launch, resolve_launch_file, substitute


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
    with pytest.raises(LaunchError, match="declares no arguments"):
        parse_launch(resolve_launch_file("cartpole_rstdp"), {"modle": "x"})
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
    from snn_policy_node.ros.policy_node import PARAMETERS as POLICY
    from snn_policy_node.ros.rstdp_service import PARAMETERS as RSTDP

    declared = {"sim_bridge": BRIDGE, "snn_policy": POLICY, "rstdp_service": RSTDP}
    for node, section in yaml.safe_load(config.read_text()).items():
        assert node in declared, f"{config.name}: no node {node!r} in the launch files"
        unknown = set(section["ros__parameters"]) - set(declared[node])
        assert not unknown, f"{config.name}: {node} declares no parameters {sorted(unknown)}"


@pytest.mark.parametrize("scenario", ["cartpole_rstdp", "mujoco_spiking"])
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
    """``profile:=`` (default physics) must not become ``-p key:=``, which rcl refuses at start-up."""
    import rclpy
    from rclpy.context import Context
    from rclpy.node import Node

    nodes = {n.name: n for n in parse_launch(resolve_launch_file("mujoco_spiking"), {"profile": ""})}
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
