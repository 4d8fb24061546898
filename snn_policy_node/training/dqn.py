"""DQN with surrogate gradients for Deep Spiking Q-Networks (paper 004, section 2.3).

The paper does not list its DQN hyperparameters. The defaults start from RL Baselines3 Zoo's
tuned DQN settings for each task (``DSQNTask.dqn`` in the task registry) and add a linear decay of the learning
rate to zero, which kept the spiking Q-network from oscillating late in training.

Reads top to bottom: hyperparameters, then the training loop. The model
kept is the one with the best mean return on the validation seeds, which are disjoint
from the evaluation seeds that the reported scores use.

With a ``randomization`` profile (domain-randomized training, the alternative to adapting
online that a sim-to-real user would try first) every training episode draws new physics from
the profile, and validation plays ``VALIDATION_SETTINGS`` settings of it: draws from seeds of
their own, never the settings an adaptation study scores on.
"""

import copy
import csv
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from sim_bridge.randomization import RandomizedPhysics, draw_settings, profile
from snn_policy_node.evaluation.batched import evaluate, evaluate_population, stacked_weights
from snn_policy_node.evaluation.seeds import EVAL_SEEDS, VALIDATION_SEEDS
from snn_policy_node.policy.model_io import save_model
from snn_policy_node.provenance import recorded_command
from snn_policy_node.snn.dsqn import DSQN
from snn_policy_node.tasks import dsqn_task
from snn_policy_node.training.replay import ReplayBuffer


@dataclass
class DQNConfig:
    env_id: str = field(default="CartPole-v0", metadata={"help": "task (Table 1 network)"})
    seed: int = field(default=0, metadata={"help": "seed of the network, exploration and environment"})
    total_steps: int = field(default=80_000, metadata={"help": "environment steps"})
    randomization: str | None = field(default=None, metadata={
        "help": "train and validate under this randomization profile (normal, extreme): new physics every episode"})
    learning_rate: float = 2.3e-3  # decays linearly to final_learning_rate over the budget
    final_learning_rate: float = 0.0
    buffer_size: int = 100_000
    batch_size: int = 64
    gamma: float = 0.99
    train_frequency: int = 256  # environment steps between training phases
    gradient_steps: int = 128  # gradient steps per training phase
    target_update_interval: int = 10  # gradient steps between hard target updates
    start_epsilon: float = 1.0
    end_epsilon: float = 0.04
    exploration_fraction: float = 0.16  # of total_steps, linear decay
    learning_starts: int = 1_000
    max_grad_norm: float = 10.0
    validation_interval: int = 1_000

    def __post_init__(self):
        first = (self.learning_starts // self.validation_interval + 1) * self.validation_interval
        if self.total_steps < first:
            raise ValueError(f"{self.total_steps} steps end before the first validation (step {first}); the weights "
                             "kept are the best validated ones, so train at least that long")

    @classmethod
    def for_task(cls, env_id: str, **overrides) -> "DQNConfig":
        return cls(env_id=env_id, **{**dsqn_task(env_id).dqn, **overrides})


TRAINING_PHYSICS_SEED = 5_000  # + the run's seed: the draws of the training episodes' physics
VALIDATION_SETTINGS_SEED = 6_000
VALIDATION_SETTINGS = 10  # x 10 validation seeds: 100 episodes, as without randomization


def validation_settings(config: "DQNConfig") -> list[dict] | None:
    if config.randomization is None:
        return None
    return draw_settings(config.env_id, config.randomization, VALIDATION_SETTINGS, VALIDATION_SETTINGS_SEED)


def validation_return(q_net: DSQN, env_id: str, settings: list[dict] | None) -> float:
    """Mean return on the validation seeds: on default physics, or 10 seeds under each setting."""
    if settings is None:
        return float(evaluate(q_net, env_id, VALIDATION_SEEDS).mean())
    seeds = VALIDATION_SEEDS[: len(VALIDATION_SEEDS) // len(settings)]
    return float(evaluate_population(q_net, stacked_weights([q_net] * len(settings)), env_id, seeds, settings).mean())


def epsilon_at(step: int, config: DQNConfig) -> float:
    fraction = min(step / (config.exploration_fraction * config.total_steps), 1.0)
    return config.start_epsilon + fraction * (config.end_epsilon - config.start_epsilon)


def train(config: DQNConfig, out_dir: Path) -> dict:
    """Train a DSQN; write ``<out_dir>/model.safetensors``, ``train_log.csv`` and ``card.md``."""
    spec = dsqn_task(config.env_id)
    total_steps = config.total_steps
    out_dir.mkdir(parents=True, exist_ok=True)
    random.seed(config.seed)
    np.random.seed(config.seed)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)

    q_net = DSQN(**spec.dsqn)
    target_net = copy.deepcopy(q_net)
    optimizer = torch.optim.Adam(q_net.parameters(), lr=config.learning_rate)
    decay = config.final_learning_rate / config.learning_rate
    buffer = ReplayBuffer(spec.dsqn["obs_dim"], None, config.buffer_size, overwrite=True)
    env = gym.make(config.env_id)
    if config.randomization is not None:
        env = RandomizedPhysics(env, profile(config.env_id, config.randomization),
                                seed=TRAINING_PHYSICS_SEED + config.seed)
    settings = validation_settings(config)
    env.action_space.seed(config.seed)
    obs, _ = env.reset(seed=config.seed)

    best = {"validation": -np.inf, "state": None, "step": 0}
    episode_return, episode, loss, gradient_steps = 0.0, 0, float("nan"), 0
    started = time.time()
    with open(out_dir / "train_log.csv", "w", newline="") as log_file, tqdm(
        total=total_steps, desc=f"DQN {config.env_id} seed {config.seed}", unit="step"
    ) as bar:
        log = csv.writer(log_file)
        log.writerow(["step", "episode", "episode_return", "epsilon", "loss", "validation_return"])
        for step in range(1, total_steps + 1):
            epsilon = epsilon_at(step, config)
            if rng.random() < epsilon:
                action = int(env.action_space.sample())
            else:
                with torch.no_grad():
                    action = int(q_net(torch.from_numpy(obs).unsqueeze(0)).argmax())
            next_obs, reward, terminated, truncated, _ = env.step(action)
            buffer.add(obs, action, reward, next_obs, terminated, terminated or truncated)
            episode_return += reward
            obs = next_obs
            if terminated or truncated:
                log.writerow([step, episode, episode_return, f"{epsilon:.3f}", f"{loss:.5f}", ""])
                bar.set_postfix(episode_return=episode_return, best_validation=best["validation"])
                obs, _ = env.reset()
                episode, episode_return = episode + 1, 0.0

            if step > config.learning_starts and step % config.train_frequency == 0:
                for group in optimizer.param_groups:
                    group["lr"] = config.learning_rate * (1 - (1 - decay) * step / total_steps)
                for _ in range(config.gradient_steps):
                    loss = td_update(q_net, target_net, optimizer, buffer.sample(config.batch_size, rng), config)
                    gradient_steps += 1
                    if gradient_steps % config.target_update_interval == 0:
                        target_net.load_state_dict(q_net.state_dict())
            if step % config.validation_interval == 0 and step > config.learning_starts:
                validation = validation_return(q_net, config.env_id, settings)
                log.writerow([step, episode, "", f"{epsilon:.3f}", f"{loss:.5f}", validation])
                log_file.flush()
                if validation > best["validation"]:
                    best = {"validation": validation, "state": copy.deepcopy(q_net.state_dict()), "step": step}
            bar.update()

    q_net.load_state_dict(best["state"])
    scores = evaluate(q_net, config.env_id, EVAL_SEEDS)
    result = {
        "env_id": config.env_id,
        "seed": config.seed,
        "steps": total_steps,
        "best_step": best["step"],
        "validation_return": best["validation"],
        "randomization": config.randomization,
        "eval_return_mean": float(scores.mean()),
        "eval_return_std": float(scores.std()),
        "train_seconds": round(time.time() - started, 1),
        "command": recorded_command(""),
        "config": asdict(config),
    }
    (out_dir / "card.md").write_text(model_card(result))
    save_model(out_dir / "model.safetensors", q_net, spec.observation, spec.action, result)  # last: a finished model
    return result


def td_update(q_net, target_net, optimizer, batch, config: DQNConfig) -> float:
    """One double-DQN step on a Huber loss."""
    obs, actions, rewards, next_obs, not_done = batch
    with torch.no_grad():
        next_actions = q_net(next_obs).argmax(-1, keepdim=True)
        next_q = target_net(next_obs).gather(-1, next_actions).squeeze(-1)
        target = rewards.squeeze(-1) + config.gamma * not_done.squeeze(-1) * next_q
    q = q_net(obs).gather(-1, actions.unsqueeze(-1)).squeeze(-1)
    loss = F.smooth_l1_loss(q, target)
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(q_net.parameters(), config.max_grad_norm)
    optimizer.step()
    return loss.item()


def model_card(result: dict) -> str:
    randomized = result.get("randomization")
    physics = (f" under the '{randomized}' randomization profile (new physics every episode; validated on "
               f"{VALIDATION_SETTINGS} settings drawn with seed {VALIDATION_SETTINGS_SEED})") if randomized else ""
    return (
        f"# DSQN for {result['env_id']}, seed {result['seed']}\n\n"
        f"- Trained by DQN with surrogate gradients for {result['steps']} environment steps{physics} "
        f"({result['train_seconds']} s on the machine that made it); the weights kept are those of step "
        f"{result['best_step']}, the best mean return on validation seeds {VALIDATION_SEEDS.start}-"
        f"{VALIDATION_SEEDS.stop - 1} ({result['validation_return']:.2f}).\n"
        f"- Mean return on the 100 evaluation seeds {EVAL_SEEDS.start}-{EVAL_SEEDS.stop - 1}: "
        f"{result['eval_return_mean']:.2f} +- {result['eval_return_std']:.2f} (Gymnasium counts the task as solved "
        f"at {dsqn_task(result['env_id']).solved_at:g}).\n"
        f"- Command: `{result['command'] or 'snn-robot train dsqn --env ' + result['env_id'] + ' --seed ' + str(result['seed'])}`\n"
        f"- Architecture and neuron parameters: Table 1 of paper 004 (see the checkpoint header: "
        f"`snn-robot inspect model.safetensors`). Training log: `train_log.csv`.\n"
    )
