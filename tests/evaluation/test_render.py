"""A rendered episode: real MuJoCo rendering (EGL, off-screen), the GIF read back from disk."""

from pathlib import Path

import mujoco
import numpy as np
import pytest
from PIL import Image

from sim_bridge.tasks import make_task_env
from snn_policy_node.cli import main
from snn_policy_node.evaluation.render import follow_the_robot, render_episode
from snn_policy_node.evaluation.rollout import play_episodes
from snn_policy_node.policy.observation import ObservationBuilder
from snn_policy_node.policy.policy import Policy

HOPPER = Path(__file__).resolve().parents[2] / "models/td3bc/Hopper-v5/spiking_actor.safetensors"


@pytest.fixture(autouse=True)
def offscreen(monkeypatch):
    monkeypatch.setenv("MUJOCO_GL", "egl")


def test_the_gif_shows_the_episode_the_policy_plays_and_its_spikes(tmp_path):
    physics = {"body_mass": 1.2}
    episode = render_episode(HOPPER, tmp_path / "hopper.gif", physics, seed=3, max_steps=20, every=5, size=(96, 72),
                             panel_width=80)
    policy = Policy.load(HOPPER)  # the same policy, unrendered: the same return
    observation = ObservationBuilder(policy.checkpoint.observation)
    played = play_episodes("Hopper-v5", lambda obs, live: np.asarray([policy.act(observation.normalise(obs[0])).command]),
                           [3], [physics], max_episode_steps=20)
    assert episode.steps == 20 and episode.frames == 4
    assert episode.episode_return == pytest.approx(played[0])
    assert all(0 < rate < 1 for rate in episode.mean_spike_rates)
    gif = Image.open(tmp_path / "hopper.gif")
    assert gif.n_frames == 4 and gif.size == (96 + 80, 72)
    gif.seek(3)
    frame = np.asarray(gif.convert("L"))
    assert frame[:, :96].std() > 0  # the scene
    assert frame[20:, 100:].max() > 0.9 * 255  # the raster has near-white: a neuron firing at (almost) every step


def test_the_command_draws_a_profile_setting_and_refuses_two_physics(tmp_path, capsys):
    assert main(["render", str(HOPPER), str(tmp_path / "a.gif"), "--profile", "normal", "--setting", "2", "--steps", "6",
                 "--every", "3"]) == 0
    assert "2 frames of 6 steps" in capsys.readouterr().out
    assert main(["render", str(HOPPER), str(tmp_path / "b.gif"), "--profile", "normal", "--physics", "body_mass=1.1"]) == 2
    assert "either --physics or --profile" in capsys.readouterr().err


def test_the_camera_follows_the_robot_where_it_walks():
    """Gymnasium renders through a free camera that stays put; the rendered episodes track the body."""
    env = make_task_env("Walker2d-v5", render_mode="rgb_array", width=64, height=48)
    follow_the_robot(env)
    env.reset(seed=0)
    model, data = env.unwrapped.model, env.unwrapped.data
    data.qpos[0] = 5.0  # the walker 5 m down the track
    mujoco.mj_forward(model, data)
    env.render()
    camera = env.unwrapped.mujoco_renderer.viewer.cam
    assert camera.type == mujoco.mjtCamera.mjCAMERA_TRACKING
    assert camera.lookat[0] == pytest.approx(data.subtree_com[camera.trackbodyid][0], abs=1e-6)
    assert camera.lookat[0] > 4.0
    env.close()
