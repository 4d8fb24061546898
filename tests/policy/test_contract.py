"""The I/O contract as ``inspect`` prints it, and the joint checks against a live robot."""

from pathlib import Path

import numpy as np
import pytest

from snn_policy_node.policy.checkpoint import load_checkpoint
from snn_policy_node.policy.contract import command_order, describe, joint_mismatch

MODELS = Path(__file__).parents[2] / "models"


def test_the_contract_of_a_shipped_actor_names_what_it_reads_and_commands():
    contract = describe(load_checkpoint(MODELS / "td3bc/Ant-v5/spiking_actor.safetensors"))
    assert contract["floating_base"] == "torso" and len(contract["joint_states"]) == 8
    assert contract["observation"][0]["entry"] == "torso.z" and contract["observation"][0]["source"] == "odometry"
    assert all(entry["std"] > 0 for entry in contract["observation"])
    commands = contract["commands"]
    assert commands["interface"] == "effort" and commands["low"] == [-1.0] * 8 and commands["scale"] == [1.0] * 8
    assert contract["control_period_s"] == pytest.approx(0.05)


def test_a_dsqn_contract_lists_its_command_rows():
    contract = describe(load_checkpoint(MODELS / "dsqn/CartPole-v0/seed0/model.safetensors"))
    assert contract["commands"]["per_action"] == [[-10.0], [10.0]]
    assert contract["joint_states"] == ["cart_slider", "pole_hinge"] and contract["floating_base"] is None


def test_a_joint_mismatch_names_the_missing_and_the_unexpected_joints_in_one_line():
    assert joint_mismatch(["hip", "knee"], ["knee", "hip", "wheel"], "joint states") is None
    line = joint_mismatch(["hip", "knee"], ["hip", "knee_joint", "wheel"], "joint states")
    assert line == ("joint states lack ['knee'], which the policy needs; they list ['knee_joint', 'wheel'] "
                    "it does not know")


def test_commands_are_put_in_the_controllers_order_or_the_mismatch_is_refused():
    order = command_order(["hip", "knee", "ankle"], ["ankle", "hip", "knee"])
    np.testing.assert_array_equal(np.array([10.0, 20.0, 30.0])[order], [30.0, 10.0, 20.0])
    with pytest.raises(ValueError, match=r"controller_joints lack \['ankle'\].*list \['foot'\]"):
        command_order(["hip", "knee", "ankle"], ["hip", "knee", "foot"])
    with pytest.raises(ValueError, match=r"controller_joints list \['wrist'\], which the policy does not command"):
        command_order(["hip"], ["hip", "wrist"])
    with pytest.raises(ValueError, match="repeat"):
        command_order(["hip", "knee"], ["hip", "hip", "knee"])
