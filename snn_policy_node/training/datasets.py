"""Offline RL datasets made here, with the D4RL levels (D4RL itself cannot be downloaded).

1. :func:`train_online` runs TD3 on the task and keeps every transition, an evaluation and
   an actor snapshot every ``eval_every`` steps; it checkpoints and resumes where it stopped.
2. :func:`build_datasets` turns the run into Minari datasets: ``expert`` (the best snapshot
   rolled out), ``medium`` (the first trained snapshot to reach a third of the expert's return,
   rolled out), ``medium-replay`` (the replay buffer up to that snapshot) and ``medium-expert``
   (medium then expert). Roll-outs add Gaussian action noise of ``rollout_noise`` x max action.
"""

import csv
import json
import os
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import minari
import numpy as np
import torch
from minari.data_collector import EpisodeBuffer
from tqdm import tqdm

from sim_bridge.tasks import make_task_env
from snn_policy_node.atomic import atomic_path
from snn_policy_node.evaluation.rollout import actor_action, evaluate_actor
from snn_policy_node.tasks import mujoco_task
from snn_policy_node.training.logs import keep_rows_up_to
from snn_policy_node.training.replay import ReplayBuffer
from snn_policy_node.training.td3 import TD3, TD3Config

LEVELS = ("expert", "medium", "medium-replay", "medium-expert")


@dataclass(frozen=True)
class OnlineConfig:
    env_id: str = field(metadata={"help": "MuJoCo task"})
    seed: int = field(default=0, metadata={"help": "seed of TD3, the environment and the roll-outs"})
    total_steps: int = field(default=1_000_000, metadata={"help": "online TD3 environment steps"})
    # as TD3 does on MuJoCo
    start_steps: int = field(default=25_000, metadata={"help": "uniformly random actions first"})
    expl_noise: float = 0.1
    eval_every: int = field(default=10_000, metadata={"help": "steps between evaluations and snapshots"})
    eval_episodes: int = field(default=10, metadata={"help": "episodes per evaluation"})
    checkpoint_every: int = field(default=50_000, metadata={"help": "steps between checkpoints (at episode ends)"})


class OnlineRun:
    """The files of one online run, under ``directory``."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.agent_file = self.directory / "agent.pt"
        self.replay_file = self.directory / "replay.npz"
        self.log_file = self.directory / "train_log.csv"
        self.snapshots = self.directory / "snapshots"

    def snapshot_file(self, step: int) -> Path:
        return self.snapshots / f"actor_step{step:08d}.pt"

    def evaluations(self) -> list[dict]:
        if not self.log_file.exists():
            return []
        with open(self.log_file) as file:
            return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(file)]


def train_online(config: OnlineConfig, directory: Path, progress: bool = True, device: str = "cpu") -> OnlineRun:
    """TD3 on ``config.env_id`` until ``total_steps``, resuming from ``directory`` if it holds a run.

    Checkpoints fall on episode ends and every episode starts from its own seed, so an
    interrupted and resumed run is the same run as an uninterrupted one.
    """
    run = OnlineRun(directory)
    run.snapshots.mkdir(parents=True, exist_ok=True)
    env = make_task_env(config.env_id)
    space = env.action_space
    obs_dim, act_dim = env.observation_space.shape[0], space.shape[0]
    torch.manual_seed(config.seed)
    agent = TD3(obs_dim, act_dim, float(space.high[0]), TD3Config(), device)
    rng = np.random.default_rng(config.seed)
    progress_state = {"step": 0, "episodes": 0, "seconds": 0.0, "mid_episode": False}
    if run.agent_file.exists():
        buffer = _resume(run, config, agent, rng, progress_state)
    else:
        buffer = ReplayBuffer(obs_dim, act_dim, config.total_steps)
        run.log_file.write_text("step,eval_return_mean,eval_return_std,seconds\n")
    step, episodes, last_checkpoint = progress_state["step"], progress_state["episodes"], progress_state["step"]
    started = time.time() - progress_state["seconds"]
    obs, _ = env.reset(seed=_episode_seed(config, episodes))
    with tqdm(total=config.total_steps, initial=step, desc=f"TD3 {config.env_id}", unit="step",
              disable=not progress) as bar:
        while step < config.total_steps:
            if step < config.start_steps:
                action = rng.uniform(space.low, space.high).astype(space.dtype)
            else:
                action = actor_action(agent.actor, obs, space, config.expl_noise, rng)
            next_obs, reward, terminated, truncated, _ = env.step(action)
            over = terminated or truncated
            buffer.add(obs, action, reward, next_obs, terminated, over)
            obs, step = next_obs, step + 1
            if over:
                episodes += 1
                obs, _ = env.reset(seed=_episode_seed(config, episodes))
            if step >= config.start_steps:
                agent.update(*buffer.sample(agent.config.batch_size, rng))
            if step % config.eval_every == 0:
                returns = evaluate_actor(agent.actor, config.env_id, config.eval_episodes, seed=1_000_000)
                torch.save({k: v.cpu() for k, v in agent.actor.state_dict().items()}, run.snapshot_file(step))
                with open(run.log_file, "a") as file:
                    file.write(f"{step},{np.mean(returns):.3f},{np.std(returns):.3f},{time.time() - started:.1f}\n")
                bar.set_postfix(eval_return=f"{np.mean(returns):.0f}")
            if (over and step - last_checkpoint >= config.checkpoint_every) or step == config.total_steps:
                state = {"step": step, "episodes": episodes, "seconds": time.time() - started, "mid_episode": not over}
                _checkpoint(run, agent, buffer, config, rng, state)
                last_checkpoint = step
            bar.update()
    return run


def _episode_seed(config: OnlineConfig, episode: int) -> int:
    return config.seed * 1_000_000 + episode


def _resume(run: OnlineRun, config: OnlineConfig, agent: TD3, rng, progress_state: dict) -> ReplayBuffer:
    state = torch.load(run.agent_file, weights_only=True, map_location="cpu")  # tensors and numbers: no code runs
    saved = {k: v for k, v in state["online"].items() if k != "total_steps"}
    if saved != {k: v for k, v in asdict(config).items() if k != "total_steps"}:
        raise ValueError(f"{run.directory} holds a run with other settings: {state['online']}")
    agent.load_state_dict(state["agent"])
    agent.set_random_state(state)
    rng.bit_generator.state = state["rng"]
    progress_state.update(state["progress"])
    step = progress_state["step"]
    buffer = ReplayBuffer.load(run.replay_file, config.total_steps)
    if progress_state["mid_episode"]:
        buffer.episode_end[step - 1] = True  # the run stopped mid-episode; that episode ends here
        progress_state["episodes"] += 1
    keep_rows_up_to(run.log_file, step)
    return buffer


def _checkpoint(run: OnlineRun, agent: TD3, buffer: ReplayBuffer, config: OnlineConfig, rng, progress: dict) -> None:
    buffer.save(run.replay_file)
    state = {"online": asdict(config), "agent": agent.state_dict(), "progress": progress,
             **agent.random_state(), "rng": rng.bit_generator.state}
    with atomic_path(run.agent_file) as temporary:
        torch.save(state, temporary)


def use_minari_root(root: str | os.PathLike) -> None:
    """Read and write Minari datasets under ``root``."""
    os.environ["MINARI_DATASETS_PATH"] = str(Path(root).resolve())


def pick_policies(evaluations: list[dict], start_steps: int) -> tuple[dict, dict]:
    """The expert (best evaluation) and medium (first to reach a third of the expert's return),
    among the snapshots after TD3's first ``start_steps`` random steps: the ones before hold the
    untrained actor, which on Ant earns a third of the expert's return by standing still."""
    trained = [e for e in evaluations if e["step"] > start_steps]
    if not trained:
        raise ValueError(f"the online run has no evaluations after its {start_steps} random steps yet")
    expert = max(trained, key=lambda e: e["eval_return_mean"])
    medium = next(e for e in trained if e["eval_return_mean"] >= expert["eval_return_mean"] / 3)
    return expert, medium


def rollout_episodes(actor, env_id: str, steps: int, noise: float, seed: int) -> list:
    """Complete episodes of ``actor`` with action noise until at least ``steps`` transitions."""
    env, rng = make_task_env(env_id), np.random.default_rng(seed)
    episodes, total = [], 0
    while total < steps:
        obs, _ = env.reset(seed=seed + len(episodes))
        observations, actions, rewards, terminations, truncations = [obs], [], [], [], []
        done = False
        while not done:
            action = actor_action(actor, obs, env.action_space, noise, rng)
            obs, reward, terminated, truncated, _ = env.step(action)
            observations.append(obs)
            actions.append(action)
            rewards.append(float(reward))
            terminations.append(bool(terminated))
            truncations.append(bool(truncated))
            done = terminated or truncated
        episodes.append(EpisodeBuffer(id=len(episodes), seed=seed + len(episodes), observations=observations,
                                      actions=actions, rewards=rewards, terminations=terminations,
                                      truncations=truncations))
        total += len(actions)
    return episodes


def replay_episodes(buffer: ReplayBuffer, end: int) -> list:
    """The complete episodes of the replay buffer among its first ``end`` transitions."""
    episodes = []
    for k, part in enumerate(buffer.episodes(end)):
        observations = list(buffer.obs[part]) + [buffer.next_obs[part.stop - 1]]
        terminated = buffer.not_done[part, 0] == 0
        episodes.append(EpisodeBuffer(id=k, observations=observations, actions=list(buffer.action[part]),
                                      rewards=[float(r) for r in buffer.reward[part, 0]],
                                      terminations=[bool(t) for t in terminated],
                                      truncations=[False] * (len(terminated) - 1) + [not terminated[-1]]))
    return episodes


def datasets_current(run: OnlineRun, start_steps: int, summary: dict, root: Path) -> bool:
    """Whether ``summary`` describes datasets under ``root`` built from ``run`` as it now stands."""
    use_minari_root(root)
    expert, medium = pick_policies(run.evaluations(), start_steps)
    local = minari.list_local_datasets()
    return (summary.get("expert_step") == int(expert["step"]) and summary.get("medium_step") == int(medium["step"])
            and all(d["id"] in local for d in summary.get("datasets", {}).values()) and len(summary["datasets"]) == len(LEVELS))


def generate_datasets(config: OnlineConfig, out: Path, root: Path, dataset_steps: int, device: str = "cpu",
                      progress: bool = True) -> dict:
    """Online TD3 (resumed from ``out``) and its four datasets under ``root``, unless they are built
    from the run as it stands; their summary, also in ``out/datasets.json``."""
    run = train_online(config, out, progress=progress, device=device)
    summary_file = out / "datasets.json"
    summary = json.loads(summary_file.read_text()) if summary_file.exists() else {}
    if datasets_current(run, config.start_steps, summary, root):
        print(f"datasets of this run already built ({summary_file})")
        return summary
    summary = build_datasets(run, config.start_steps, config.env_id, dataset_steps, root, seed=config.seed)
    with atomic_path(summary_file) as temporary:
        temporary.write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def write_minari(dataset_id: str, episodes: list[EpisodeBuffer], env_id: str, algorithm: str, description: str) -> None:
    """``episodes`` as the local Minari dataset ``dataset_id`` (replacing one of that name), with the task's D4RL
    reference scores; without Minari's warnings about the metadata a published dataset would carry (author,
    e-mail, code link, evaluation environment)."""
    if dataset_id in minari.list_local_datasets():
        minari.delete_dataset(dataset_id)
    low, high = mujoco_task(env_id).d4rl_reference
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module="minari.utils")
        minari.create_dataset_from_buffers(dataset_id=dataset_id, buffer=episodes, env=env_id, algorithm_name=algorithm,
                                           ref_min_score=low, ref_max_score=high, description=description)


def build_datasets(run: OnlineRun, start_steps: int, env_id: str, steps: int, root: Path, noise: float = 0.1,
                   seed: int = 0) -> dict:
    """Write the four D4RL-level datasets of ``run`` (which took ``start_steps`` random steps first)
    under the Minari root ``root``; their summary."""
    use_minari_root(root)
    expert, medium = pick_policies(run.evaluations(), start_steps)
    env = make_task_env(env_id)
    actor_of = {}
    for name, record in (("expert", expert), ("medium", medium)):
        state = torch.load(run.snapshot_file(int(record["step"])), weights_only=True, map_location="cpu")
        agent = TD3(env.observation_space.shape[0], env.action_space.shape[0], float(env.action_space.high[0]))
        agent.actor.load_state_dict(state)
        actor_of[name] = agent.actor.eval()
    buffer = ReplayBuffer.load(run.replay_file)
    episodes = {
        "expert": rollout_episodes(actor_of["expert"], env_id, steps, noise, seed),
        "medium": rollout_episodes(actor_of["medium"], env_id, steps, noise, seed + 100_000),
        "medium-replay": replay_episodes(buffer, int(medium["step"])),
    }
    episodes["medium-expert"] = [replace(e, id=k) for k, e in enumerate(episodes["medium"] + episodes["expert"])]
    task = mujoco_task(env_id)
    summary = {"env_id": env_id, "expert_step": int(expert["step"]), "medium_step": int(medium["step"]),
               "expert_eval_return": expert["eval_return_mean"], "medium_eval_return": medium["eval_return_mean"],
               "rollout_noise": noise, "datasets": {}}
    for level in LEVELS:
        name = task.dataset_id(level)
        write_minari(name, episodes[level], env_id, "TD3 (snn-robot data generate)", f"{level} level of {env_id}, made by snn-robot")
        returns = [sum(e.rewards) for e in episodes[level]]
        summary["datasets"][level] = {"id": name, "episodes": len(returns), "transitions": sum(len(e.actions) for e in episodes[level]),
                                      "return_mean": float(np.mean(returns))}
    return summary
