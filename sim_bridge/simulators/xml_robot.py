"""Any MuJoCo XML model as a Gymnasium environment, for robots that have no task of their own.

There is no reward and no termination: the bridge plays the robot, the policy decides what to
do. Actions are actuator controls (clipped to the actuators' control ranges); the
observation is ``qpos`` then ``qvel``; a reset returns to the model's reference pose, with
seeded uniform noise of ``reset_noise`` on every coordinate.
"""

from pathlib import Path

import gymnasium as gym
import mujoco
import numpy as np


class MujocoXmlEnv(gym.Env):
    metadata = {"render_modes": []}

    def __init__(self, xml_path: str, frame_skip: int = 1, reset_noise: float = 0.0):
        path = Path(xml_path)
        if not path.is_file():
            raise ValueError(f"no MuJoCo model at {path}")
        try:
            self.model = mujoco.MjModel.from_xml_path(str(path))
        except ValueError as error:
            raise ValueError(f"{path} is not a valid MuJoCo model: {error}") from None
        if frame_skip < 1:
            raise ValueError(f"frame_skip must be at least 1, got {frame_skip}")
        self.data = mujoco.MjData(self.model)
        self.frame_skip, self.reset_noise = frame_skip, reset_noise
        self.dt = self.model.opt.timestep * frame_skip
        limited = self.model.actuator_ctrllimited.astype(bool)
        low = np.where(limited, self.model.actuator_ctrlrange[:, 0], -np.inf).astype(np.float32)
        high = np.where(limited, self.model.actuator_ctrlrange[:, 1], np.inf).astype(np.float32)
        self.action_space = gym.spaces.Box(low, high, dtype=np.float32)
        size = self.model.nq + self.model.nv
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (size,), dtype=np.float64)

    def _observation(self) -> np.ndarray:
        return np.concatenate([self.data.qpos, self.data.qvel])

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        mujoco.mj_resetData(self.model, self.data)
        if self.reset_noise:
            self.data.qpos[:] += self.np_random.uniform(-self.reset_noise, self.reset_noise, self.model.nq)
            self.data.qvel[:] += self.np_random.uniform(-self.reset_noise, self.reset_noise, self.model.nv)
        mujoco.mj_forward(self.model, self.data)
        return self._observation(), {}

    def step(self, action):
        self.data.ctrl[:] = np.clip(action, self.action_space.low, self.action_space.high)
        mujoco.mj_step(self.model, self.data, nstep=self.frame_skip)
        return self._observation(), 0.0, False, False, {}
