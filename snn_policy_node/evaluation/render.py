"""An episode of a policy as an animated GIF: the robot beside a scrolling raster of its spikes.

Each frame shows the MuJoCo scene (Gymnasium's ``rgb_array`` rendering through ``mujoco.Renderer``;
headless machines set ``MUJOCO_GL=egl``) and, for every hidden layer, the firing rate of each neuron
(spikes over the T simulated steps) at the latest control steps, newest on the right, the neurons
that fire most over the episode on top: a neuron that fires at every step is white, a silent one black.
"""

from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np
from PIL import Image, ImageDraw

from sim_bridge.physics import apply_physics
from sim_bridge.tasks import make_task_env, step_period
from snn_policy_node.policy.observation import ObservationBuilder
from snn_policy_node.policy.policy import Policy

RASTER_STEPS = 100  # control steps a raster shows
LABEL_HEIGHT = 14


@dataclass(frozen=True)
class RenderedEpisode:
    episode_return: float
    steps: int
    frames: int
    mean_spike_rates: tuple[float, ...]  # per hidden layer, over the episode


def _raster(rates: np.ndarray, order: np.ndarray, step: int, width: int, height: int) -> Image.Image:
    """Rates ``[steps, neurons]`` of the ``RASTER_STEPS`` control steps up to ``step`` as a gray image:
    neurons top to bottom in ``order``, time left to right."""
    shown = np.zeros((RASTER_STEPS, rates.shape[1]))
    recent = rates[max(0, step + 1 - RASTER_STEPS): step + 1]
    shown[RASTER_STEPS - len(recent):] = recent
    image = Image.fromarray(np.uint8(np.clip(shown[:, order].T, 0.0, 1.0) * 255), mode="L")
    return image.resize((width, height), Image.Resampling.BOX)


def _frame(scene: np.ndarray, layers: list[np.ndarray], orders: list[np.ndarray], step: int,
           panel_width: int) -> Image.Image:
    height = scene.shape[0]
    frame = Image.new("RGB", (scene.shape[1] + panel_width, height), "black")
    frame.paste(Image.fromarray(scene), (0, 0))
    draw = ImageDraw.Draw(frame)
    band = height // len(layers)
    for k, (rates, order) in enumerate(zip(layers, orders)):
        top = k * band
        draw.text((scene.shape[1] + 4, top + 1), f"hidden {k + 1}: rate {rates[step].mean():.2f}", fill="white")
        raster = _raster(rates, order, step, panel_width - 8, band - LABEL_HEIGHT - 4)
        frame.paste(raster.convert("RGB"), (scene.shape[1] + 4, top + LABEL_HEIGHT))
    return frame


def follow_the_robot(env) -> None:
    """Make the scene's camera track the robot's body (Gymnasium's choice, else the torso, body 1): Gymnasium
    names a body to track but renders through its free camera (camera -1, made free at every frame), so a
    running robot leaves the frame. With no camera named, the frames keep the tracking camera."""
    renderer = env.unwrapped.mujoco_renderer
    config = dict(renderer.default_cam_config or {})
    config.setdefault("trackbodyid", 1)
    renderer.default_cam_config = {**config, "type": mujoco.mjtCamera.mjCAMERA_TRACKING}
    renderer.camera_id = None


def render_episode(checkpoint: str | Path, out: str | Path, physics: dict | None = None, seed: int = 0,
                   max_steps: int = 300, every: int = 2, size: tuple[int, int] = (320, 240), panel_width: int = 200,
                   frame_ms: int | None = None, **policy_options) -> RenderedEpisode:
    """Play one episode (``reset(seed=seed)``, ``physics`` applied, at most ``max_steps``) with the policy
    in ``checkpoint`` and write every ``every``-th step as a frame of the GIF ``out``. Frames last the
    simulated time they show unless ``frame_ms`` says otherwise."""
    if every < 1 or max_steps < 1:
        raise ValueError(f"every and max_steps must be at least 1, got {every} and {max_steps}")
    policy = Policy.load(checkpoint, **policy_options)
    env_id = policy.checkpoint.provenance.get("env_id")
    if not env_id:
        raise ValueError(f"{checkpoint} does not record the task it was trained on (provenance env_id)")
    env = make_task_env(env_id, render_mode="rgb_array", width=size[0], height=size[1], max_episode_steps=max_steps)
    if physics:
        apply_physics(env, physics)
    follow_the_robot(env)
    observation = ObservationBuilder(policy.checkpoint.observation)
    obs, _ = env.reset(seed=seed)
    histories: list[list[np.ndarray]] = [[] for _ in policy.runner.kept_spikes]
    scenes, total, steps, done = {}, 0.0, 0, False
    while not done:
        inference = policy.act(observation.normalise(np.asarray(obs, dtype=np.float64)))
        for history, spikes in zip(histories, policy.runner.kept_spikes):
            history.append(np.asarray(spikes).mean(0)[0])
        if steps % every == 0:
            scenes[steps] = env.render()
        obs, reward, terminated, truncated, _ = env.step(np.asarray(inference.command, dtype=np.float32))
        total, steps, done = total + float(reward), steps + 1, terminated or truncated
    env.close()
    layers = [np.stack(history) for history in histories]
    orders = [np.argsort(-rates.mean(0), kind="stable") for rates in layers]  # the busiest neurons on top
    frames = [_frame(scene, layers, orders, step, panel_width) for step, scene in scenes.items()]
    duration = frame_ms or max(20, round(1000 * step_period(env) * every))
    frames[0].save(out, save_all=True, append_images=frames[1:], duration=duration, loop=0, optimize=True)
    return RenderedEpisode(total, steps, len(frames), tuple(float(rates.mean()) for rates in layers))
