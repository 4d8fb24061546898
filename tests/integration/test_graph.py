"""The whole graph: sim bridge, policy node and r-STDP service in separate processes."""

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from diagnostic_msgs.msg import DiagnosticArray
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import JointState
from std_msgs.msg import Float32MultiArray, Float64MultiArray, String

from sim_bridge.randomization import draw_settings
from snn_policy_node.evaluation.batched import evaluate
from snn_policy_node.experiments import adaptation_study
from snn_policy_node.experiments.deployment import Arm, DeploymentConfig, deploy
from snn_policy_node.policy.checkpoint import load_checkpoint
from snn_policy_node.policy.model_io import load_model
from snn_policy_node.ros.common import messages
from snn_policy_node.tasks import dsqn_task

pytestmark = pytest.mark.integration


def test_a_full_episode_in_lockstep_matches_the_library(nodes, probe, cartpole):
    probe.record(JointState, messages.COMMANDS, messages.COMMAND_QOS)
    nodes("snn_policy_node", "policy", checkpoint=str(cartpole), command_format="joint_state")
    probe.wait_for(lambda: probe.matched_publishers(messages.COMMANDS) > 0, timeout=120,
                   what="the policy's command publisher")
    # a state not answered within 50 ms is offered again (a cold first inference takes longer): only
    # stamps keep the steps right
    bridge = nodes("sim_bridge", "sim_bridge", env_id="CartPole-v0", max_episodes=2, command_format="joint_state",
                   action_timeout=0.05, randomization_profile="extreme", randomization_seed=3,
                   randomize_every_episode=True, wait_for_start=True)
    episodes = probe.play_episodes(2)
    assert bridge.process.wait(10) == 0
    model, _ = load_model(cartpole)
    for message in episodes:
        record = json.loads(message.data)
        assert record["phase"] == "train" and record["seed"] == 10_000 + record["episode"]
        expected = evaluate(model, "CartPole-v0", seeds=[record["seed"]], parameters=record["physics"])
        assert record["return"] == expected[0] and record["steps"] == int(expected[0])
    first, second = (json.loads(m.data)["physics"] for m in episodes)
    assert first != second  # a new draw every episode


def newest_status(diagnostics: list, node: str) -> dict:
    """The values of the newest /diagnostics status of ``node`` (empty before its first report)."""
    values = [{kv.key: kv.value for kv in status.values} for array in diagnostics for status in array.status
              if status.name.startswith(f"{node}:")]
    return values[-1] if values else {}


@pytest.mark.slow
def test_online_rstdp_in_the_graph_plays_the_library_deployment(tmp_path, cartpole, ros, probe):
    """The main scenario, shortened: every online return and both held-out means equal the library's
    run of the same arm on the same setting, seeds and episodes."""
    config = yaml.safe_load((Path(__file__).parents[2] / "config/cartpole_rstdp.yaml").read_text())
    config["/**/sim_bridge"]["ros__parameters"].update(eval_episodes=5)
    config["/**/rstdp_service"]["ros__parameters"].update(train_episodes=25, baseline_episodes=5, window=5, heldout_episodes=5)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    status = probe.record(String, messages.RSTDP_STATUS, messages.LATCHED_QOS)
    adapted = tmp_path / "adapted"
    run = subprocess.run(
        [sys.executable, "-m", "snn_policy_node.cli", "run", "cartpole_rstdp", f"config:={tmp_path / 'config.yaml'}",
         f"adapted_dir:={adapted}"], capture_output=True, text=True, timeout=400)
    assert run.returncode == 0, run.stdout + run.stderr
    match = re.search(r"online return first block ([-\d.]+), last block ([-\d.]+), held-out before ([-\d.]+), "
                      r"held-out after ([-\d.]+); (\d+) updates, (\d+) rollbacks", run.stdout)
    assert match, run.stdout
    probe.wait_for(lambda: status and json.loads(status[-1].data)["done"], what="the final status")
    final = json.loads(status[-1].data)

    model, _ = load_model(cartpole)
    setting = draw_settings("CartPole-v0", "normal", 1, config["/**/sim_bridge"]["ros__parameters"]["randomization_seed"])
    study = adaptation_study.STUDIES[4]  # the scenario's rule: a population of its one run draws the same xi
    library_config = DeploymentConfig(episodes=25, baseline_episodes=5, window=5, heldout_seeds=range(30_000, 30_005),
                                      confidence=study.confidence)
    library = deploy([model], dsqn_task("CartPole-v0"), setting, [study.arms("CartPole-v0")[study.headline]],
                     library_config)
    frozen = deploy([model], dsqn_task("CartPole-v0"), setting, [Arm(None)], library_config)
    assert final["returns"] == list(library.online[0]) and final["rollbacks"] == library.rollbacks[0]
    assert final["updates"] > 0 and not np.array_equal(library.heldout, frozen.heldout)  # the weights moved
    blocks = [library.online[0, :20].mean(), library.online[0, 20:].mean()]
    heldout = [frozen.heldout.mean(), library.heldout.mean()]
    assert [float(v) for v in match.groups()[:4]] == pytest.approx([*blocks, *heldout], abs=0.005)
    assert final["heldout"] == {"before": heldout[0], "after": heldout[1]}
    current = load_checkpoint(adapted / "current.safetensors")
    assert current.provenance["adaptation"]["train_episodes"] == 25

    # Restarted nodes pick the adapted weights up: the service republishes them, the policy takes them.
    plastic = probe.record(Float32MultiArray, messages.PLASTIC_WEIGHTS, messages.LATCHED_QOS)
    service = _start(["rstdp_service", "--ros-args", "-p", f"checkpoint:={cartpole}", "-p", f"adapted_dir:={adapted}",
                      "-p", "drive_episodes:=false"])
    policy = _start(["snn_policy_node", "--ros-args", "-r", "__node:=snn_policy", "-p", f"checkpoint:={cartpole}",
                     "-p", "plastic_layer:=1"])
    try:
        target = current.tensors["layers.1.weight"].numpy()
        assert not np.array_equal(target, model.layers[1].weight.detach().numpy())
        probe.wait_for(lambda: any(np.array_equal(messages.message_matrix(m), target) for m in plastic),
                       timeout=30, what="the policy to publish the adapted weights")
    finally:
        for process in (service, policy):
            process.send_signal(subprocess.signal.SIGINT)
            process.wait(10)


def _start(command: list[str]) -> subprocess.Popen:
    command[0] = str(Path(sys.executable).parent / command[0])
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_policy_stops_commanding_when_the_bridge_dies_and_resumes_when_it_returns(nodes, probe, cartpole):
    commands = probe.record(Float64MultiArray, messages.COMMANDS, messages.COMMAND_QOS)
    stamps = []
    probe.node.create_subscription(Float64MultiArray, messages.COMMANDS, lambda _: stamps.append(time.monotonic()),
                                   messages.COMMAND_QOS)
    nodes("snn_policy_node", "policy", checkpoint=str(cartpole), mode="rate", rate_hz=50.0, command_timeout=0.3)
    bridge = nodes("sim_bridge", "sim_bridge", env_id="CartPole-v0", mode="realtime", rate_hz=50.0)
    probe.wait_for(lambda: len(commands) > 50, timeout=60, what="commands while the bridge runs")
    bridge.process.kill()
    killed = time.monotonic()
    time.sleep(1.5)
    last = max(stamps)
    assert last - killed < 0.3 + 0.25, f"commands went on {last - killed:.2f} s after the bridge died"
    assert time.monotonic() - last > 1.0
    count = len(commands)
    nodes("sim_bridge", "sim_bridge", env_id="CartPole-v0", mode="realtime", rate_hz=50.0)
    probe.wait_for(lambda: len(commands) > count + 50, timeout=60, what="commands after the bridge returned")


def library_episode(checkpoint: Path, env_id: str, seed: int, steps: int) -> tuple[float, int]:
    """The episode the graph plays, played in this process from the same readings."""
    from sim_bridge.simulators.robots import MujocoRobot
    from sim_bridge.tasks import make_task_env
    from snn_policy_node.policy.observation import JointReading, ObservationBuilder, OdometryReading
    from snn_policy_node.policy.policy import Policy

    policy = Policy.load(checkpoint)
    env = make_task_env(env_id, max_episode_steps=steps)
    robot, builder = MujocoRobot(env), ObservationBuilder(policy.checkpoint.observation)
    env.reset(seed=seed)
    total, count, over = 0.0, 0, False
    while not over:
        joints, base = robot.sample(), robot.base()
        obs = builder.build(JointReading(robot.joint_names, joints.position, joints.velocity),
                            OdometryReading(base.position, base.orientation, base.linear, base.angular))
        _, reward, terminated, truncated, _ = env.step(robot.env_action(policy.act(obs).command))
        total, count, over = total + reward, count + 1, terminated or truncated
    return total, count


def test_a_floating_base_robot_is_driven_from_joint_states_and_odometry(nodes, probe, ant_actor):
    nodes("snn_policy_node", "policy", checkpoint=str(ant_actor))
    bridge = nodes("sim_bridge", "sim_bridge", env_id="Ant-v5", max_episodes=1, wait_for_start=True)
    episodes = probe.play_episodes(1)
    assert bridge.process.wait(10) == 0
    record = json.loads(episodes[0].data)
    expected_return, expected_steps = library_episode(ant_actor, "Ant-v5", record["seed"], steps=1000)
    assert record["steps"] == expected_steps > 10
    assert record["return"] == pytest.approx(expected_return, abs=1e-9)


@pytest.mark.slow
def test_hopper_scenario_drives_a_spiking_actor_on_randomized_physics(hopper_actor):
    run = subprocess.run([sys.executable, "-m", "snn_policy_node.cli", "run", "mujoco_spiking", f"model:={hopper_actor}"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "loaded spiking_actor" in run.stdout, run.stdout
    assert re.search(r"5 episodes: return -?[\d.]+ \+- [\d.]+", run.stdout), run.stdout


@pytest.mark.slow
def test_the_mujoco_adaptation_scenario_keeps_the_actors_adapted_weights_as_a_checkpoint(tmp_path):
    """A spiking actor's adapted weights are saved as a complete actor checkpoint (an actor has no STDP amplitudes)."""
    run = subprocess.run([sys.executable, "-m", "snn_policy_node.cli", "run", "mujoco_rstdp", "episodes:=1",
                          f"adapted_dir:={tmp_path}"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "online adaptation done after 1 episodes" in run.stdout, run.stdout
    shipped = load_checkpoint(Path(__file__).parents[2] / "models/td3bc/Hopper-v5/spiking_actor.safetensors")
    for name in ("current", "best"):
        adapted, checkpoint = load_model(tmp_path / f"{name}.safetensors")
        assert checkpoint.kind == "spiking_actor" and checkpoint.provenance["adaptation"]["train_episodes"] == 1
        np.testing.assert_array_equal(checkpoint.tensors["weight1"].numpy(), shipped.tensors["weight1"].numpy())


def test_bridge_plays_a_raw_mujoco_model_in_realtime(nodes, probe):
    model = Path(__file__).parents[1] / "data" / "pendulum.xml"
    states = probe.record(JointState, messages.JOINT_STATES, messages.SENSOR_QOS)
    bridge = nodes("sim_bridge", "sim_bridge", model_xml=str(model), mode="realtime", rate_hz=100.0, frame_skip=5,
                   reset_noise=0.05)
    commands = probe.publisher(Float64MultiArray, messages.COMMANDS, messages.COMMAND_QOS)
    probe.wait_for(lambda: len(states) > 20, timeout=60, what="joint states of the XML robot")
    assert list(states[-1].name) == ["shoulder"]
    assert states[0].position[0] != 0.0  # reset noise moved the arm off its rest pose
    for _ in range(50):
        commands.publish(messages.float64_array(np.array([2.0])))
        time.sleep(0.01)
    assert abs(states[-1].velocity[0]) > 0.1  # the motor turned the arm
    stamps = [s.header.stamp.sec + s.header.stamp.nanosec * 1e-9 for s in states[-10:]]
    assert all(b > a for a, b in zip(stamps, stamps[1:]))  # sim time advances
    assert bridge.alive()


def test_bridge_refuses_bad_commands_and_reports_them(nodes, probe):
    diagnostics = probe.record(DiagnosticArray, "/diagnostics", 10)
    states = probe.record(JointState, messages.JOINT_STATES, messages.SENSOR_QOS)
    bridge = nodes("sim_bridge", "sim_bridge", env_id="CartPole-v0")
    commands = probe.publisher(Float64MultiArray, messages.COMMANDS, messages.COMMAND_QOS)
    probe.wait_for(lambda: states, timeout=60, what="the first joint state")
    probe.wait_for(lambda: commands.get_subscription_count() > 0, what="the bridge's command subscription")
    first = states[-1].header.stamp
    for bad in ([], [1.0, 2.0], [float("nan")], [float("inf")]):
        commands.publish(messages.float64_array(np.array(bad)))

    def faults():
        return int(newest_status(diagnostics, "sim_bridge").get("command_faults", 0))

    probe.wait_for(lambda: faults() == 4, timeout=10, what="four refused commands in /diagnostics")
    assert states[-1].header.stamp == first  # lockstep: no step was taken on a bad command
    assert bridge.alive()


def test_a_stamped_lockstep_bridge_steps_only_on_the_answer_to_its_state(nodes, probe):
    diagnostics = probe.record(DiagnosticArray, "/diagnostics", 10)
    states = probe.record(JointState, messages.JOINT_STATES, messages.SENSOR_QOS)
    bridge = nodes("sim_bridge", "sim_bridge", env_id="CartPole-v0", command_format="joint_state")
    commands = probe.publisher(JointState, messages.COMMANDS, messages.COMMAND_QOS)
    probe.wait_for(lambda: states, timeout=60, what="the first joint state")
    probe.wait_for(lambda: commands.get_subscription_count() > 0, what="the bridge's command subscription")
    first = states[-1].header.stamp
    earlier = messages.nanoseconds_stamp(messages.stamp_nanoseconds(first) - 1)
    commands.publish(messages.joint_command(("cart_slider",), np.array([10.0]), earlier))  # a late answer
    commands.publish(messages.joint_command(("pole_hinge",), np.array([10.0]), first))  # not a commanded joint
    commands.publish(messages.joint_command(("cart_slider", "cart_slider"), np.array([10.0, 10.0]), first))

    def counts():
        values = newest_status(diagnostics, "sim_bridge")
        return int(values.get("late_commands", 0)), int(values.get("command_faults", 0))

    probe.wait_for(lambda: counts() == (1, 2), timeout=10, what="one late and two refused commands in /diagnostics")
    assert all(s.header.stamp == first for s in states)  # no step taken
    commands.publish(messages.joint_command(("cart_slider",), np.array([10.0]), first))
    probe.wait_for(lambda: states[-1].header.stamp != first, timeout=10, what="a step on the answer to the state")
    assert states[-1].velocity[0] > 0  # the cart was pushed right
    assert bridge.alive()


@pytest.mark.parametrize(("parameter", "value", "says"), [
    ("mode", "sometimes", "mode must be 'lockstep' or 'realtime'"),
    ("command_format", "bytes", "command_format must be 'float64_multiarray' or 'joint_state'"),
])
def test_bridge_refuses_a_bad_setting_at_start_up(nodes, parameter, value, says):
    bridge = nodes("sim_bridge", "sim_bridge", env_id="CartPole-v0", **{parameter: value})
    assert bridge.process.wait(60) == 2
    assert says in bridge.output


@pytest.mark.slow
def test_two_namespaced_robots_each_drive_their_own_simulator(probe):
    """two_robots: an Ant under /robot1 and a HalfCheetah under /robot2 in one graph, through the
    runner's group, push_ros_namespace, set_remap and include; nothing on the root namespace.
    Lockstep episodes take well under a second and best-effort states sent before the probe has
    discovered a publisher never reach it, so the robots play 20 episodes each (the first to finish
    ends the graph), and each node's own log says what it ran and heard."""
    topics = {f"{ns}/{name}": probe.record(kind, f"{ns}/{name}", qos)
              for ns in ("", "/robot1", "/robot2")
              for name, kind, qos in (("joint_states", JointState, messages.SENSOR_QOS),
                                      ("episode", String, messages.EVENT_QOS), ("clock", Clock, 10))}
    run = subprocess.run([sys.executable, "-m", "snn_policy_node.cli", "run", "two_robots", "episodes:=20",
                          "robot1_env:=Ant-v5"], capture_output=True, text=True, timeout=400)
    assert run.returncode == 0, run.stdout + run.stderr
    ended = re.search(r"\[launch\] (robot\d)/sim_bridge exited with code 0 \(on_exit: shutdown\)", run.stdout)
    assert ended, run.stdout
    for ns, env_id, joint in (("robot1", "Ant-v5", "hip_1"), ("robot2", "HalfCheetah-v5", "bthigh")):
        assert re.search(rf"\[{ns}\.sim_bridge\]: {env_id} \(lockstep\): joints \[[^]]*'{joint}'", run.stdout), ns
        assert f"[{ns}.snn_policy]: joint states fresh: commanding" in run.stdout, f"{ns}'s policy heard no states"
        heard = topics[f"/{ns}/joint_states"]
        assert heard and all(joint in message.name for message in heard), f"/{ns} plays another robot"
        assert topics[f"/{ns}/clock"], f"/{ns} has no clock of its own"
    assert re.search(rf"\[{ended[1]}\.sim_bridge\]: 20 episodes: return", run.stdout)
    assert all("return" in json.loads(record.data) for record in topics[f"/{ended[1]}/episode"])
    assert not (topics["/joint_states"] or topics["/episode"] or topics["/clock"])
