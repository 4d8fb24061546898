"""The r-STDP service, fed episode records by the test or driving the bridge and the policy node over DDS."""

import json
import time

import numpy as np
import pytest
from sensor_msgs.msg import JointState
from std_msgs.msg import Float32MultiArray, Float64, Float64MultiArray, String
from std_srvs.srv import SetBool, Trigger

from snn_policy_node.policy.checkpoint import load_checkpoint
from snn_policy_node.ros.common import messages
from snn_policy_node.snn.rstdp import reward_shaping

pytestmark = pytest.mark.integration


def test_disabled_learning_changes_nothing_until_enabled(nodes, probe, cartpole):
    """Online, not driven: an episode record brings the episode's modulation, 0 while learning is
    disabled. Also: without shaping and sign the service takes the checkpoint's task's (CartPole: eq. 8, -1)."""
    nodes("rstdp_service", "rstdp_service", checkpoint=str(cartpole), drive_episodes=False, baseline_episodes=0,
          third_factor="reward")
    modulations = probe.record(Float64MultiArray, messages.MODULATION, messages.EVENT_QOS)
    episodes = probe.publisher(String, messages.EPISODE, messages.EVENT_QOS)
    probe.wait_for(lambda: episodes.get_subscription_count() > 0, what="the service's episode subscription")
    record = messages.json_message({"episode": 3, "phase": "train", "return": 50.0})

    assert probe.call(SetBool, "/rstdp_service/enable", SetBool.Request(data=False)).success
    episodes.publish(record)
    probe.wait_for(lambda: modulations, timeout=10, what="the episode's modulation")
    np.testing.assert_allclose(modulations[-1].data, [1.0, 0.0])

    assert probe.call(SetBool, "/rstdp_service/enable", SetBool.Request(data=True)).success
    episodes.publish(record)
    probe.wait_for(lambda: len(modulations) == 2, timeout=10, what="a modulation once learning is enabled")
    expected = -1.0 * reward_shaping("cartpole")(50.0)
    np.testing.assert_allclose(modulations[-1].data, [2.0, expected])


def test_a_robot_ends_its_episodes_by_service_and_the_rewards_make_the_return(nodes, probe, cartpole):
    nodes("rstdp_service", "rstdp_service", checkpoint=str(cartpole), drive_episodes=False, baseline_episodes=0,
          third_factor="reward")
    modulations = probe.record(Float64MultiArray, messages.MODULATION, messages.EVENT_QOS)
    rewards = probe.publisher(Float64, messages.REWARD, messages.EVENT_QOS)
    probe.wait_for(lambda: rewards.get_subscription_count() > 0, what="the service's reward subscription")
    for _ in range(50):
        rewards.publish(Float64(data=1.0))
    rewards.publish(Float64(data=float("nan")))  # a faulty reading is not summed
    time.sleep(1.0)
    answer = probe.call(Trigger, "/rstdp_service/end_episode", Trigger.Request())
    assert answer.success and "return 50.000 from 50 rewards" in answer.message
    probe.wait_for(lambda: modulations, timeout=10, what="the episode's modulation")
    np.testing.assert_allclose(modulations[-1].data, [1.0, -1.0 * reward_shaping("cartpole")(50.0)])


def test_the_guard_rolls_the_policy_back_when_the_online_return_falls(nodes, probe, cartpole):
    """Real policy node (r-STDP in a DSQN) and service over DDS; the probe plays the robot in
    lockstep, as a bridge does: each joint state waits for its command. The baseline episodes'
    modulations (zero) may be lost while the service's writer matches the policy; before the
    episode that updates, the policy's trace is reset, so the update is that episode's own."""
    trained = load_checkpoint(cartpole).tensors["layers.1.weight"].numpy()
    plastic = probe.record(Float32MultiArray, messages.PLASTIC_WEIGHTS, messages.LATCHED_QOS)
    status = probe.record(String, messages.RSTDP_STATUS, messages.LATCHED_QOS)
    commands = probe.record(Float64MultiArray, messages.COMMANDS, messages.COMMAND_QOS)
    nodes("snn_policy_node", "snn_policy", checkpoint=str(cartpole), plastic_layer=1)
    nodes("rstdp_service", "rstdp_service", checkpoint=str(cartpole), drive_episodes=False, baseline_episodes=2,
          window=2, margin=0.05, third_factor="reward")
    states = probe.publisher(JointState, messages.JOINT_STATES, messages.SENSOR_QOS)
    episodes = probe.publisher(String, messages.EPISODE, messages.EVENT_QOS)
    probe.wait_for(lambda: plastic and episodes.get_subscription_count() > 0, what="the policy and the service")
    rng = np.random.default_rng(0)

    def episode(episode_return: float) -> None:
        for step in range(20):
            message = JointState(name=["cart_slider", "pole_hinge"], position=list(rng.normal(0, 0.05, 2)),
                                 velocity=list(rng.normal(0, 0.5, 2)))
            message.header.stamp = messages.nanoseconds_stamp(len(status) * 1_000_000 + step * 1000 + 1)
            probe.ask(states, commands, message)
        heard = len(status)
        episodes.publish(messages.json_message({"episode": heard, "phase": "train", "return": episode_return}))
        probe.wait_for(lambda: len(status) > heard, timeout=10, what="the service's status after an episode")

    for episode_return in (100.0, 100.0):  # the frozen baseline: 100
        episode(episode_return)
    assert probe.call(Trigger, "/snn_policy/reset_state", Trigger.Request()).success
    episode(100.0)  # one update
    probe.wait_for(lambda: not np.array_equal(messages.message_matrix(plastic[-1]), trained), timeout=10,
                   what=f"the policy to apply the update (the service said {status[-1].data})")
    assert json.loads(status[-1].data)["live"] == "adapting"
    episode(50.0)  # the last two average 75, below the floor 95: back to the trained weights
    last = json.loads(status[-1].data)
    assert last["live"] == "trained weights (rolled back)" and last["rollbacks"] == 1
    assert "average 75.00, below the floor 95.00 (baseline 100.00)" in last["reason"]
    probe.wait_for(lambda: np.array_equal(messages.message_matrix(plastic[-1]), trained), timeout=10,
                   what="the policy to hold the trained weights again")


def test_a_driven_protocol_pauses_while_learning_is_disabled(nodes, probe, cartpole):
    episodes = probe.record(String, messages.EPISODE, messages.EVENT_QOS)
    status = probe.record(String, messages.RSTDP_STATUS, messages.LATCHED_QOS)
    nodes("snn_policy_node", "snn_policy", checkpoint=str(cartpole), plastic_layer=1)
    nodes("rstdp_service", "rstdp_service", checkpoint=str(cartpole), protocol="paper", eval_episodes=2, train_episodes=2,
          sign=-1.0)
    assert probe.call(SetBool, "/rstdp_service/enable", SetBool.Request(data=False), timeout=30).success
    # The protocol waits for the bridge, so it starts only now, with learning disabled: the evaluation
    # block runs, and the first training episode that ends pauses the protocol, as the latched status says.
    nodes("sim_bridge", "sim_bridge", env_id="CartPole-v0", wait_for_start=True, eval_episodes=2,
          randomization_profile="normal", randomization_seed=53)
    probe.wait_for(lambda: any(json.loads(m.data)["paused"] for m in status), timeout=60,
                   what="the protocol to pause after learning was disabled")
    paused_at = len(episodes)
    time.sleep(3.0)
    assert len(episodes) == paused_at  # no new episode while paused
    assert probe.call(SetBool, "/rstdp_service/enable", SetBool.Request(data=True)).success
    probe.wait_for(lambda: any(json.loads(m.data)["done"] for m in status), timeout=120, what="the protocol to finish")
    done = json.loads(status[-1].data)
    assert done["train_episodes"] == 2 and len(done["history"]) == 2


def test_a_bridge_service_that_does_not_answer_in_time_is_asked_again(nodes, probe, cartpole):
    """The probe stands in for the bridge and the policy; its first start_episode answer comes
    after the service's timeout, as a lost answer would never come."""
    starts = []

    def start_episode(request, response):
        starts.append(time.monotonic())
        if len(starts) == 1:
            time.sleep(2.0)
        response.success = len(starts) == 1  # the second ask finds "the episode" running
        return response

    def answer(request, response):
        response.success = True
        return response

    probe.node.create_service(Trigger, "/stand_in_bridge/start_episode", start_episode)
    probe.node.create_service(SetBool, "/stand_in_bridge/evaluate", answer)
    probe.node.create_service(Trigger, "/stand_in_policy/reset_state", answer)
    probe.publisher(String, messages.EPISODE, messages.EVENT_QOS)  # the service waits for a record writer
    weights = probe.publisher(Float32MultiArray, messages.PLASTIC_WEIGHTS, messages.LATCHED_QOS)
    weights.publish(messages.matrix_message(load_checkpoint(cartpole).tensors["layers.1.weight"].numpy()))
    service = nodes("rstdp_service", "rstdp_service", checkpoint=str(cartpole), protocol="paper", bridge="/stand_in_bridge",
                    policy="/stand_in_policy", eval_episodes=1, train_episodes=1, service_timeout=1.0)
    probe.wait_for(lambda: len(starts) >= 2, timeout=30, what="start_episode asked again")
    service.wait_for_output("/stand_in_bridge/start_episode did not answer within 1.0 s: asking again")
    service.wait_for_output("a start asked again was refused")
    time.sleep(2.0)
    assert len(starts) == 2  # an answer, even a refusal, ends the asking
    assert "bridge refused" not in service.output


def test_the_pair_rule_explores_in_pairs_and_moves_the_policy_by_each_pairs_return_difference(nodes, probe, cartpole):
    """Policy node (rule pair) and service (third_factor pair) over DDS, the probe playing the robot
    in lockstep: after the baseline each modulation says what the next episode explores, and the
    update after a pair has the length |R_1 - R_2| / |R_0| x step x ||w_0||, in the policy's own weights."""
    trained = load_checkpoint(cartpole).tensors["layers.1.weight"].numpy()
    plastic = probe.record(Float32MultiArray, messages.PLASTIC_WEIGHTS, messages.LATCHED_QOS)
    modulations = probe.record(Float64MultiArray, messages.MODULATION, messages.EVENT_QOS)
    status = probe.record(String, messages.RSTDP_STATUS, messages.LATCHED_QOS)
    commands = probe.record(Float64MultiArray, messages.COMMANDS, messages.COMMAND_QOS)
    nodes("snn_policy_node", "snn_policy", checkpoint=str(cartpole), plastic_layer=1, rule="pair")
    nodes("rstdp_service", "rstdp_service", checkpoint=str(cartpole), drive_episodes=False, baseline_episodes=2,
          window=10, third_factor="pair", confidence=2.33, train_episodes=4)
    states = probe.publisher(JointState, messages.JOINT_STATES, messages.SENSOR_QOS)
    episodes = probe.publisher(String, messages.EPISODE, messages.EVENT_QOS)
    probe.wait_for(lambda: plastic and episodes.get_subscription_count() > 0
                   and probe.matched_publishers(messages.MODULATION) > 0, what="the policy and the service")
    rng = np.random.default_rng(0)
    observations = [(list(rng.normal(0, 0.05, 2)), list(rng.normal(0, 0.5, 2))) for _ in range(20)]

    def episode(episode_return: float) -> np.ndarray:
        answers = []
        for step, (position, velocity) in enumerate(observations):  # the same states every episode
            message = JointState(name=["cart_slider", "pole_hinge"], position=position, velocity=velocity)
            message.header.stamp = messages.nanoseconds_stamp(len(status) * 1_000_000 + step * 1000 + 1)
            answers.append(probe.ask(states, commands, message))
        heard = len(status)
        episodes.publish(messages.json_message({"episode": heard, "phase": "train", "return": episode_return}))
        probe.wait_for(lambda: len(status) > heard and len(plastic) > heard, timeout=10,
                       what="the service's status and the policy's weights after an episode")
        return np.array(answers)

    quiet = [episode(100.0) for _ in range(2)]  # the frozen baseline: 100, no noise
    assert modulations[-1].data.tolist() == [2.0, 0.0, 0.25]  # the next episode starts a pair, at the first scale
    episode(120.0)
    assert modulations[-1].data.tolist() == [3.0, 0.0, -0.25]
    np.testing.assert_array_equal(messages.message_matrix(plastic[-1]), trained)  # nothing moves mid-pair
    episode(80.0)  # the last of train_episodes: after its update, the protocol's end stops the exploration
    probe.wait_for(lambda: modulations[-1].data.tolist() == [4.0, 0.0, 0.0], timeout=10, what="the protocol's last modulation")
    assert modulations[-2].data.tolist() == pytest.approx([4.0, 0.4, 0.25])
    moved = messages.message_matrix(plastic[-1]) - trained
    assert np.linalg.norm(moved) == pytest.approx(0.4 * 0.02 * np.linalg.norm(trained), rel=1e-4)
    assert json.loads(status[-1].data)["updates"] == 1
    np.testing.assert_array_equal(quiet[0], quiet[1])  # unexplored episodes on the same states answer alike
