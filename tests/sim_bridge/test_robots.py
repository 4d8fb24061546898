from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from sim_bridge.simulators.robots import AcrobotRobot, CartPoleRobot, MujocoRobot, robot_for


def test_cartpole_joints_mirror_the_state_and_the_force_sign_picks_the_push():
    env = gym.make("CartPole-v0")
    env.reset(seed=4)
    robot = robot_for(env)
    assert isinstance(robot, CartPoleRobot) and robot.joint_names == ("cart_slider", "pole_hinge")
    x, x_dot, theta, theta_dot = env.unwrapped.state
    sample = robot.sample()
    assert sample.position.tolist() == [x, theta] and sample.velocity.tolist() == [x_dot, theta_dot]
    assert robot.env_action(np.array([10.0])) == 1 and robot.env_action(np.array([-10.0])) == 0


def test_acrobot_torque_maps_to_the_nearest_available_torque():
    env = gym.make("Acrobot-v1")
    env.reset(seed=0)
    robot = robot_for(env)
    assert isinstance(robot, AcrobotRobot)
    assert [robot.env_action(np.array([t])) for t in (-1.0, 0.0, 1.0, 0.4, -7.0)] == [0, 1, 2, 1, 0]
    theta1, theta2, omega1, omega2 = env.unwrapped.state
    assert robot.sample().position.tolist() == [theta1, theta2]
    assert robot.sample().velocity.tolist() == [omega1, omega2]


def test_mujoco_robot_names_hinge_and_slide_joints_and_clips_commands():
    env = gym.make("Hopper-v5")
    env.reset(seed=0)
    robot = robot_for(env)
    assert isinstance(robot, MujocoRobot)
    assert robot.joint_names == ("rootx", "rootz", "rooty", "thigh_joint", "leg_joint", "foot_joint")
    assert robot.command_joints == ("thigh_joint", "leg_joint", "foot_joint")
    np.testing.assert_array_equal(robot.sample().position, env.unwrapped.data.qpos)
    np.testing.assert_array_equal(robot.env_action(np.array([5.0, -5.0, 0.5])), [1.0, -1.0, 0.5])


def test_floating_base_joints_are_left_to_odometry():
    env = gym.make("Ant-v5")
    robot = robot_for(env)
    assert "root" not in robot.joint_names and len(robot.joint_names) == 8
    assert len(robot.command_joints) == env.action_space.shape[0]


def test_unsupported_environments_are_refused():
    with pytest.raises(ValueError, match="no robot view"):
        robot_for(gym.make("Pendulum-v1"))


PENDULUM = Path(__file__).parents[1] / "data" / "pendulum.xml"


def test_a_raw_xml_model_plays_as_a_robot():
    from sim_bridge.simulators.xml_robot import MujocoXmlEnv

    env = gym.wrappers.TimeLimit(MujocoXmlEnv(str(PENDULUM), frame_skip=5, reset_noise=0.01), max_episode_steps=10)
    obs, _ = env.reset(seed=3)
    robot = robot_for(env)
    assert robot.joint_names == ("shoulder",) and robot.command_joints == ("shoulder",)
    assert obs.tolist() == [robot.sample().position[0], robot.sample().velocity[0]]
    assert robot.env_action(np.array([5.0])).tolist() == [2.0]  # the robot clips to the control range
    for _ in range(9):
        _, reward, terminated, truncated, _ = env.step(robot.env_action(np.array([5.0])))
        assert reward == 0.0 and not terminated and not truncated
    assert env.unwrapped.data.ctrl[0] == 2.0
    assert env.step(np.array([-5.0]))[3]  # the time limit ends the episode
    assert env.unwrapped.data.ctrl[0] == -2.0  # the environment clips an unclipped action itself
    assert robot.sample().velocity[0] != 0.0


def test_bad_xml_models_are_refused(tmp_path):
    from sim_bridge.simulators.xml_robot import MujocoXmlEnv

    with pytest.raises(ValueError, match="no MuJoCo model"):
        MujocoXmlEnv(str(tmp_path / "missing.xml"))
    broken = tmp_path / "broken.xml"
    broken.write_text("<mujoco><worldbody><body>")
    with pytest.raises(ValueError, match="not a valid MuJoCo model"):
        MujocoXmlEnv(str(broken))
