"""Greedy evaluation of Q-network policies on fixed seeds, all episodes as one batch."""

import numpy as np
import torch
from torch import nn

from sim_bridge.batch_envs import make_batch

# Disjoint seed sets: evaluation (the paper's 100 fixed initial conditions), r-STDP
# training episodes, and model selection during DQN training.
EVAL_SEEDS = range(0, 100)
ADAPT_SEEDS = range(10_000, 10_250)
VALIDATION_SEEDS = range(20_000, 20_100)


@torch.no_grad()
def evaluate(model: nn.Module, env_id: str, seeds=EVAL_SEEDS, parameters: dict | None = None) -> np.ndarray:
    """Episode return of the greedy policy for every seed, under the physics ``parameters``."""
    batch = make_batch(env_id, seeds, parameters)
    obs = batch.reset()
    returns = np.zeros(len(batch))
    done = np.zeros(len(batch), dtype=bool)
    actions = np.zeros(len(batch), dtype=np.int64)
    while not done.all():
        running = ~done
        actions[running] = model(torch.from_numpy(obs[running])).argmax(-1).numpy()
        obs, rewards, done = batch.step(actions)
        returns += rewards
    return returns
