"""The r-STDP service alone, fed episode records by the test over DDS."""

import time

import numpy as np
import pytest
from std_msgs.msg import Float64MultiArray, String
from std_srvs.srv import SetBool

from snn_policy_node.ros import messages
from snn_policy_node.rstdp import reward_shaping

pytestmark = pytest.mark.integration


def test_disabled_learning_sends_no_modulation_until_enabled(nodes, probe, cartpole):
    nodes("rstdp_service", "rstdp_service", checkpoint=str(cartpole), drive_episodes=False, sign=-1.0)
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
