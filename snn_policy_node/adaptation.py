"""r-STDP fine-tuning of a trained DSQN to randomized physics (paper 004, section 3).

The protocol: play one training episode on the randomized task, accumulating the
eligibility trace of the plastic layer; at the episode's end apply dw = sign * r * c once,
with r the shaped episode return; evaluate the new weights on the fixed evaluation seeds;
repeat for at most ``episodes`` training episodes and keep the best weights (early stopping).
Training seeds are disjoint from evaluation seeds.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from sim_bridge.batch_envs import make_batch

from .dsqn import DSQN
from .evaluation import ADAPT_SEEDS, EVAL_SEEDS, evaluate
from .rstdp import EligibilityTrace, reward_shaping, synapse_spikes
from .tasks import DSQNTask


@dataclass(frozen=True)
class AdaptationConfig:
    episodes: int = 250
    layer: int = 1  # weight layer hidden 1 -> hidden 2
    sign: float = 1.0  # dw = sign * r * c; paper eq. 7 has +1, the authors' CartPole code -1
    eval_seeds: Sequence[int] = EVAL_SEEDS
    train_seeds: Sequence[int] = ADAPT_SEEDS
    stop_at: float | None = None  # stop early once the evaluation mean reaches this (the best possible)

    def __post_init__(self):
        if set(self.eval_seeds) & set(self.train_seeds):
            raise ValueError("training seeds must be disjoint from evaluation seeds")
        if self.episodes > len(self.train_seeds):
            raise ValueError(f"{self.episodes} training episodes need as many training seeds, got {len(self.train_seeds)}")


@dataclass
class AdaptationResult:
    before: np.ndarray  # evaluation returns per seed with the trained weights
    after: np.ndarray  # evaluation returns per seed with the best weights found
    best_episode: int  # training episodes until the best weights (0: the trained weights)
    eval_means: list[float] = field(default_factory=list)  # after each training episode
    train_returns: list[float] = field(default_factory=list)


@torch.no_grad()
def play_training_episode(model: DSQN, env_id: str, seed: int, parameters: dict, trace: EligibilityTrace, layer: int) -> float:
    """One greedy episode; the eligibility trace accumulates over all its observations."""
    env = make_batch(env_id, [seed], parameters)
    obs, total, done = env.reset(), 0.0, np.array([False])
    while not done[0]:
        simulation = model.simulate(torch.from_numpy(obs))
        trace.accumulate(*synapse_spikes(simulation.spikes, layer))
        obs, reward, done = env.step(simulation.q_values.argmax(-1).numpy())
        total += float(reward[0])
    return total


@torch.no_grad()
def adapt(model: DSQN, task: DSQNTask, parameters: dict, config: AdaptationConfig = AdaptationConfig()) -> AdaptationResult:
    """Fine-tune ``model`` in place with r-STDP; it ends holding the best weights found."""
    weight = model.layers[config.layer].weight
    params = task.rstdp.with_amplitudes_of(weight)  # A+ and A- from this model's trained weights
    trace = EligibilityTrace(params, n_pre=weight.shape[1], n_post=weight.shape[0], batch_shape=(1,))
    shaping = reward_shaping(task.shaping)

    before = evaluate(model, task.env_id, config.eval_seeds, parameters)
    best_mean, best_weight, best_scores, best_episode = before.mean(), weight.clone(), before, 0
    result = AdaptationResult(before=before, after=before, best_episode=0)
    for episode, seed in enumerate(config.train_seeds[: config.episodes], start=1):
        if config.stop_at is not None and best_mean >= config.stop_at:
            break
        trace.reset()
        episode_return = play_training_episode(model, task.env_id, seed, parameters, trace, config.layer)
        weight += config.sign * trace.weight_change(shaping(episode_return))[0]
        scores = evaluate(model, task.env_id, config.eval_seeds, parameters)
        result.train_returns.append(episode_return)
        result.eval_means.append(float(scores.mean()))
        if scores.mean() > best_mean:
            best_mean, best_weight, best_scores, best_episode = scores.mean(), weight.clone(), scores, episode
    weight.copy_(best_weight)
    result.after, result.best_episode = best_scores, best_episode
    return result
