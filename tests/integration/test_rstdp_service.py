"""The r-STDP service, fed episode records by the test or driving the bridge and the policy node over DDS."""

import json
import time

import numpy as np
import pytest
from std_msgs.msg import Float64MultiArray, String
from std_srvs.srv import SetBool

from snn_policy_node.ros import messages
from snn_policy_node.rstdp import reward_shaping

pytestmark = pytest.mark.integration


def test_disabled_learning_sends_no_modulation_until_enabled(nodes, probe, cartpole):
    """Also: without shaping and sign the service takes the checkpoint's task's (CartPole: eq. 8, -1)."""
    nodes("rstdp_service", "rstdp_service", checkpoint=str(cartpole), drive_episodes=False)
    modulations = probe.record(Float64MultiArray, messages.MODULATION, messages.EVENT_QOS)
    episodes = probe.publisher(String, messages.EPISODE, messages.EVENT_QOS)
    probe.wait_for(lambda: episodes.get_subscription_count() > 0, what="the service's episode subscription")
    record = messages.json_message({"episode": 3, "phase": "train", "return": 50.0})

    assert probe.call(SetBool, "/rstdp_service/enable", SetBool.Request(data=False)).success
    episodes.publish(record)
    time.sleep(1.0)
    assert not modulations

    assert probe.call(SetBool, "/rstdp_service/enable", SetBool.Request(data=True)).success
    episodes.publish(record)
    probe.wait_for(lambda: modulations, timeout=10, what="a modulation once learning is enabled")
    expected = -1.0 * reward_shaping("cartpole")(50.0)
    np.testing.assert_allclose(modulations[-1].data, [3.0, expected])


def test_a_driven_protocol_pauses_while_learning_is_disabled(nodes, probe, cartpole):
    episodes = probe.record(String, messages.EPISODE, messages.EVENT_QOS)
    status = probe.record(String, messages.RSTDP_STATUS, messages.LATCHED_QOS)
    nodes("snn_policy_node", "snn_policy", checkpoint=str(cartpole), plastic_layer=1)
    nodes("sim_bridge", "sim_bridge", env_id="CartPole-v0", wait_for_start=True, eval_episodes=2,
          randomization_profile="normal", randomization_seed=53)
    nodes("rstdp_service", "rstdp_service", checkpoint=str(cartpole), eval_episodes=2, train_episodes=2, sign=-1.0)
    assert probe.call(SetBool, "/rstdp_service/enable", SetBool.Request(data=False), timeout=30).success
    seen = len(episodes)
    probe.wait_for(lambda: any(json.loads(m.data)["phase"] == "train" for m in episodes[seen:]), timeout=60,
                   what="a training episode after learning was disabled")
    paused_at = len(episodes)
    time.sleep(3.0)
    assert len(episodes) == paused_at  # no new episode while paused
    assert probe.call(SetBool, "/rstdp_service/enable", SetBool.Request(data=True)).success
    probe.wait_for(lambda: any(json.loads(m.data)["done"] for m in status), timeout=120, what="the protocol to finish")
    done = json.loads(status[-1].data)
    assert done["train_episodes"] == 2 and len(done["history"]) == 2
