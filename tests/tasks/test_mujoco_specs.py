import numpy as np
import pytest

from sim_bridge.simulators.robots import MujocoRobot
from sim_bridge.tasks import make_task_env
from snn_policy_node.policy.observation import JointReading, ObservationBuilder, OdometryReading
from snn_policy_node.tasks import mujoco_specs


def readings(robot: MujocoRobot) -> tuple[JointReading, OdometryReading | None]:
    """What the bridge publishes: the joint states, and the floating base as odometry."""
    joints, base = robot.sample(), robot.base()
    odometry = None if base is None else OdometryReading(base.position, base.orientation, base.linear, base.angular)
    return JointReading(robot.joint_names[::-1], joints.position[::-1], joints.velocity[::-1]), odometry


# The joint each actuator drives, in actuator order, as Gymnasium's model files declare them.
COMMANDED = {
    "Hopper-v5": ("thigh_joint", "leg_joint", "foot_joint"),
    "HalfCheetah-v5": ("bthigh", "bshin", "bfoot", "fthigh", "fshin", "ffoot"),
    "Walker2d-v5": ("thigh_joint", "leg_joint", "foot_joint", "thigh_left_joint", "leg_left_joint", "foot_left_joint"),
    "Ant-v5": ("hip_4", "ankle_4", "hip_1", "ankle_1", "hip_2", "ankle_2", "hip_3", "ankle_3"),
}


@pytest.mark.parametrize("env_id", ["Hopper-v5", "HalfCheetah-v5", "Walker2d-v5", "Ant-v5"])
def test_spec_rebuilds_gymnasiums_observation_from_joint_states_and_odometry(env_id):
    env = make_task_env(env_id)
    observation, action = mujoco_specs(env_id)
    builder, robot = ObservationBuilder(observation), MujocoRobot(env)
    assert builder.needs_odometry == (env_id == "Ant-v5")
    assert action.joints == robot.command_joints == COMMANDED[env_id]
    obs, _ = env.reset(seed=3)
    env.action_space.seed(3)
    for step in range(60):
        np.testing.assert_allclose(builder.build(*readings(robot)), obs, rtol=0, atol=1e-9, err_msg=f"step {step}")
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            obs, _ = env.reset(seed=step)


def test_ant_odometry_twist_is_in_the_body_frame():
    """A yawed Ant moving along world x reports its forward speed on a rotated body axis."""
    env = make_task_env("Ant-v5")
    env.reset(seed=0)
    data, robot = env.unwrapped.data, MujocoRobot(env)
    data.qpos[3:7] = [np.cos(np.pi / 4), 0.0, 0.0, np.sin(np.pi / 4)]  # 90 degrees about z
    data.qvel[:3] = [1.0, 0.0, 0.0]
    base = robot.base()
    assert base.body == "torso"
    np.testing.assert_allclose(base.linear, [0.0, -1.0, 0.0], atol=1e-12)
