"""Offline training of ReLU and QCFS actors with TD3+BC on local Minari datasets (paper 000).

States are normalised by the dataset's mean and std (+ 1e-3), as TD3+BC does; the
normalisation goes into the observation spec of the saved policy, so the ROS policy node
applies it to joint states. Training checkpoints and resumes; the QCFS actor is saved
converted, as a spiking actor checkpoint, and both actors as weights for the evaluation.
"""

import copy
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import minari
import numpy as np
import torch
from tqdm import tqdm

from snn_policy_node.ann2snn.conversion import SpikingActor
from snn_policy_node.atomic import atomic_path
from snn_policy_node.evaluation.actor_variants import LABELS, evaluate_variants
from snn_policy_node.evaluation.rollout import evaluate_actor
from snn_policy_node.policy.model_io import save_model
from snn_policy_node.tasks import mujoco_specs, normalised_score
from snn_policy_node.training.logs import keep_rows_up_to
from snn_policy_node.training.replay import ReplayBuffer
from snn_policy_node.training.td3 import TD3, TD3Config


@dataclass(frozen=True)
class TD3BCConfig:
    dataset_id: str = field(metadata={"help": "Minari dataset id, e.g. snn-robot/hopper/medium-v0"})
    activation: str = field(default="qcfs", metadata={
        "help": "hidden activation: qcfs (L = 4, convertible to IF neurons) or relu (the baseline)",
        "choices": ("relu", "qcfs")})
    seed: int = field(default=0, metadata={"help": "seed of the networks and minibatches"})
    steps: int = field(default=1_000_000, metadata={"help": "gradient steps"})
    alpha: float = 2.5
    levels: int = 4  # QCFS L
    eval_every: int = field(default=5_000, metadata={"help": "gradient steps between evaluations"})
    eval_episodes: int = field(default=10, metadata={"help": "episodes per evaluation (seeds 0..)"})
    checkpoint_every: int = 10_000  # a killed run loses at most this many steps


DIAGNOSTICS = ("q_data", "q_policy", "bc_mse", "saturated")  # TD3.diagnose on PROBE fixed transitions
LOG_HEADER = "step,return_mean,return_std,normalised_score,critic_loss,seconds," + ",".join(DIAGNOSTICS)
PROBE = 4096


def load_transitions(dataset_id: str) -> tuple[ReplayBuffer, str]:
    """The dataset's transitions and its environment id."""
    dataset = minari.load_dataset(dataset_id)
    parts = {k: [] for k in ("obs", "action", "reward", "next_obs", "terminated")}
    for episode in dataset.iterate_episodes():
        parts["obs"].append(episode.observations[:-1])
        parts["next_obs"].append(episode.observations[1:])
        parts["action"].append(episode.actions)
        parts["reward"].append(episode.rewards)
        parts["terminated"].append(episode.terminations)
    arrays = {k: np.concatenate(v) for k, v in parts.items()}
    buffer = ReplayBuffer(arrays["obs"].shape[1], arrays["action"].shape[1], len(arrays["obs"]))
    buffer.obs[:], buffer.next_obs[:], buffer.action[:] = arrays["obs"], arrays["next_obs"], arrays["action"]
    buffer.reward[:, 0], buffer.not_done[:, 0] = arrays["reward"], 1.0 - arrays["terminated"]
    buffer.size = len(arrays["obs"])
    return buffer, dataset.spec.env_spec.id


class NormalisedActor(torch.nn.Module):
    """The actor behind the dataset's state normalisation, for evaluation on raw observations."""

    def __init__(self, actor, mean: np.ndarray, std: np.ndarray):
        super().__init__()
        self.actor = actor
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.actor((obs - self.mean) / self.std)


def train_td3bc(config: TD3BCConfig, out: Path, progress: bool = True, device: str = "cpu") -> dict:
    """Train (or resume) and return the final evaluation; writes the log, weights and checkpoints."""
    out.mkdir(parents=True, exist_ok=True)
    buffer, env_id = load_transitions(config.dataset_id)
    mean = buffer.obs[: buffer.size].mean(0)
    std = buffer.obs[: buffer.size].std(0) + 1e-3
    buffer.obs[:] = (buffer.obs - mean) / std
    buffer.next_obs[:] = (buffer.next_obs - mean) / std
    torch.manual_seed(config.seed)
    td3 = TD3Config(alpha=config.alpha, activation=config.activation, levels=config.levels)
    agent = TD3(buffer.obs.shape[1], buffer.action.shape[1], 1.0, td3, device)
    rng = np.random.default_rng(config.seed)
    state_file, log_file = out / "agent.pt", out / "train_log.csv"
    step, started = 0, time.time()
    if state_file.exists():
        state = torch.load(state_file, weights_only=True, map_location="cpu")  # tensors and numbers: no code runs
        if {**state["config"], **_resumable(config)} != asdict(config):
            raise ValueError(f"{out} holds a run with other settings: {state['config']}")
        agent.load_state_dict(state["agent"])
        agent.set_random_state(state)
        rng.bit_generator.state = state["rng"]
        step, started = state["step"], time.time() - state["seconds"]
        rows = keep_rows_up_to(log_file, step)
        last = _evaluation_of(rows[-1]) if rows else {}
    else:
        log_file.write_text(LOG_HEADER + "\n")
        last = {}
    if step == config.steps and outputs_written(out, config.activation):
        return {"env_id": env_id, **last}  # finished earlier: nothing to redo
    evaluator = NormalisedActor(agent.actor, mean, std).to(agent.device).eval()
    probe = np.random.default_rng(config.seed + 1).choice(buffer.size, min(PROBE, buffer.size), replace=False)
    probe_obs, probe_action = torch.as_tensor(buffer.obs[probe]), torch.as_tensor(buffer.action[probe])
    with tqdm(total=config.steps, initial=step, desc=f"TD3+BC {config.activation} {config.dataset_id}", unit="step",
              disable=not progress) as bar:
        while step < config.steps:
            losses = agent.update(*buffer.sample(td3.batch_size, rng))
            step += 1
            if step % config.eval_every == 0 or step == config.steps:
                returns = evaluate_actor(evaluator, env_id, config.eval_episodes, seed=config.seed * 1000)
                last = {"step": step, "return_mean": float(np.mean(returns)), "return_std": float(np.std(returns)),
                        "normalised_score": normalised_score(env_id, float(np.mean(returns)))}
                diagnosis = agent.diagnose(probe_obs, probe_action)
                with open(log_file, "a") as file:
                    file.write(f"{step},{last['return_mean']:.3f},{last['return_std']:.3f},"
                               f"{last['normalised_score']:.3f},{losses['critic_loss']:.4f},{time.time() - started:.1f},"
                               + ",".join(f"{diagnosis[k]:.4f}" for k in DIAGNOSTICS) + "\n")
                bar.set_postfix(score=f"{last['normalised_score']:.1f}")
            if step % config.checkpoint_every == 0 or step == config.steps:
                state = {"config": asdict(config), "agent": agent.state_dict(), "step": step,
                         "seconds": time.time() - started, **agent.random_state(), "rng": rng.bit_generator.state}
                with atomic_path(state_file) as temporary:
                    torch.save(state, temporary)
            bar.update()
    _save_policy(agent, config, env_id, mean, std, out, last)
    if config.activation == "qcfs":
        scores = evaluate_variants(None, out / "actor.pt", env_id, config.eval_episodes)
        (out / "card.md").write_text(actor_card(config, env_id, scores, time.time() - started))
    return {"env_id": env_id, **last}


def outputs_written(out: Path, activation: str) -> bool:
    """Whether the run in ``out`` wrote everything a finished run ends with (it may have been
    killed while writing)."""
    names = ("actor.pt", "spiking_actor.safetensors", "card.md") if activation == "qcfs" else ("actor.pt",)
    return all((out / name).exists() for name in ("train_log.csv", *names))


def _resumable(config: TD3BCConfig) -> dict:
    """The settings a run may change when it resumes: its length and how often it checkpoints."""
    return {"steps": config.steps, "checkpoint_every": config.checkpoint_every}


def _evaluation_of(row: str) -> dict:
    """A training-log row's evaluation, as :func:`train_td3bc` reports it."""
    step, mean, std, score = row.split(",")[:4]
    return {"step": int(step), "return_mean": float(mean), "return_std": float(std), "normalised_score": float(score)}


def _save_policy(agent: TD3, config: TD3BCConfig, env_id: str, mean, std, out: Path, last: dict) -> None:
    """Actor weights with the normalisation (any activation), and the QCFS actor converted; on the CPU."""
    actor = copy.deepcopy(agent.actor).cpu()
    with atomic_path(out / "actor.pt") as temporary:  # a report reads every actor.pt it finds
        torch.save({"actor": actor.state_dict(), "mean": torch.as_tensor(mean), "std": torch.as_tensor(std)}, temporary)
    if config.activation != "qcfs":
        return
    observation, action = mujoco_specs(env_id, mean, std)
    provenance = {"env_id": env_id, "algorithm": "TD3+BC", **asdict(config), "final_evaluation": last,
                  "command": f"snn-robot train td3bc --dataset {config.dataset_id} --activation qcfs --seed {config.seed}"}
    save_model(out / "spiking_actor.safetensors", SpikingActor.from_qcfs(actor), observation, action, provenance)


def actor_card(config: TD3BCConfig, env_id: str, scores: dict, seconds: float) -> str:
    """The model card of a converted QCFS actor: its data, training and scores per calibration setting."""
    spiking = ", ".join(f"{LABELS[v]} {scores[v]['score']:.1f}" for v in ("i0", "i1", "i2", "i3", "adaptive"))
    return "\n".join([
        f"# Calibrated spiking actor for {env_id} (TD3+BC, QCFS L = {config.levels}, seed {config.seed})", "",
        f"- Dataset: `{config.dataset_id}`, made by `snn-robot data generate --env {env_id}` (its datasets.json "
        "records the online run and the dataset sizes).",
        f"- Trained by TD3+BC (alpha {config.alpha}) for {config.steps} gradient steps ({seconds / 60:.0f} min on the "
        "machine that made it), then converted to integrate-and-fire neurons.",
        f"- D4RL-normalised scores on {config.eval_episodes} evaluation episodes (seeds 0-{config.eval_episodes - 1}): "
        f"QCFS ANN {scores['qcfs']['score']:.1f}; spiking actor (T = 4, rho = 4) {spiking}.",
        f"- Command: `snn-robot train td3bc --dataset {config.dataset_id} --activation qcfs --seed {config.seed} "
        f"--steps {config.steps}`",
        "- The observation spec names the robot's joints and carries the dataset's normalisation "
        "(`snn-robot inspect spiking_actor.safetensors`). Training log: `train_log.csv`.", ""])
