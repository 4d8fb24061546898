"""Online r-STDP as a robot runs it: the deployment protocol.

A run plays ``episodes`` episodes on one randomized setting, one training seed each, and no
evaluation episode: after every episode its rule changes the plastic weights once, from that
episode's eligibility and return. The first ``baseline_episodes`` play the trained weights
unchanged; their mean return is the frozen baseline a guarded run compares itself with. A
guarded run whose mean return over its last ``window`` episodes falls below that baseline by
more than ``margin`` x |baseline| goes back to its trained weights, forgets its reward baseline,
and skips its next ``window`` updates (:class:`~snn_policy_node.policy.guard.Guard`); a pair run's
exploration then shrinks by its rule's ``rollback_shrink`` (and grows by its ``success_grow``
after each window whose explored episodes kept the baseline: :class:`ExplorationScale`). Every decision rests on returns
the run has already experienced. The weights a run holds after its last episode are scored on
held-out seeds that no episode here used.

Every treatment (an :class:`Arm`: a rule or none, a sign, a guard) runs on every model and
setting, all runs in one batch: the runs of a frozen arm play the same episodes as the adapted
ones, so every comparison pairs them episode by episode.
"""

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from snn_policy_node.atomic import atomic_path
from snn_policy_node.evaluation.batched import evaluate_population, stacked_weights
from snn_policy_node.evaluation.seeds import ADAPT_SEEDS, HELDOUT_SEEDS
from snn_policy_node.experiments.adaptation import play_training_episodes
from snn_policy_node.policy.guard import Guard
from snn_policy_node.snn.dsqn import DSQN
from snn_policy_node.snn.rstdp import (
    AntitheticPairs,
    EligibilityTrace,
    ExplorationScale,
    ModulationRule,
    Modulator,
    PerturbationTrace,
    reward_shaping,
    weight_amplitudes,
)
from snn_policy_node.tasks import DSQNTask


@dataclass(frozen=True)
class Arm:
    """One treatment: ``rule`` None keeps the trained weights; ``sign`` multiplies the task's sign;
    ``shaping`` (rstdp.REWARD_SHAPINGS) None takes the task's."""

    rule: ModulationRule | None
    sign: float = 1.0
    guard: bool = False
    shaping: str | None = None


def check_protocol(config) -> None:
    """A protocol's episodes fit its baseline and seeds, and no held-out seed is played online."""
    if not 0 <= config.baseline_episodes < config.episodes:
        raise ValueError(f"baseline_episodes must be in [0, {config.episodes}), got {config.baseline_episodes}")
    if config.episodes > len(config.train_seeds):
        raise ValueError(f"{config.episodes} episodes need as many training seeds, got {len(config.train_seeds)}")
    if set(config.train_seeds) & set(config.heldout_seeds):
        raise ValueError("held-out seeds must be disjoint from the training seeds")


@dataclass(frozen=True)
class DeploymentConfig:
    episodes: int = field(default=100, metadata={"help": "online episodes per run (no evaluation episodes)"})
    baseline_episodes: int = field(default=10, metadata={
        "help": "first episodes, played with the trained weights: the frozen baseline"})
    window: int = field(default=10, metadata={"help": "episodes the guard averages, and waits after a rollback"})
    margin: float = field(default=0.05, metadata={
        "help": "a guarded run rolls back below baseline - margin x |baseline| (- the confidence term)"})
    confidence: float = field(default=0.0, metadata={
        "help": "z: the guard's floor also lowered by z x the baseline returns' std x sqrt(1/baseline_episodes + "
                "1/window), so that it rolls back only on a drop significant at one-sided Phi(-z); 0: means alone"})
    layer: int = 1  # the plastic weight layer (hidden 1 -> hidden 2)
    train_seeds: Sequence[int] = ADAPT_SEEDS
    heldout_seeds: Sequence[int] = HELDOUT_SEEDS
    seed: int = 0  # of the random directions

    def __post_init__(self):
        check_protocol(self)


@dataclass
class DeploymentRuns:
    """Per run (arm-major, then model, then setting): its indices, online returns and held-out returns."""

    arm: np.ndarray  # [runs]
    model: np.ndarray  # [runs]
    setting: np.ndarray  # [runs]
    online: np.ndarray  # [runs, episodes]
    rollbacks: np.ndarray  # [runs]
    heldout: np.ndarray  # [runs, held-out seeds]
    seconds: float


@torch.no_grad()
def deploy(models: list[DSQN], task: DSQNTask, settings: list[dict], arms: list[Arm],
           config: DeploymentConfig = DeploymentConfig(), amplitudes: list[tuple[float, float]] | None = None,
           progress: bool = False, state_path: Path | None = None, save_every: int = 10) -> DeploymentRuns:
    """Every arm on every (model, setting), online; ``amplitudes`` (A+, A-) per model (default: from its weights).

    With ``state_path`` the population's state is saved every ``save_every`` episodes, and a
    saved state is resumed: the runs go on exactly as if they had not stopped."""
    started = time.perf_counter()
    grid = [(a, m, s) for a in range(len(arms)) for m in range(len(models)) for s in range(len(settings))]
    arm, model, setting = (np.array(column) for column in zip(*grid))
    runs, layer = len(grid), config.layer
    weights = stacked_weights([models[m] for m in model])
    trained = weights[layer].clone()
    plastic = weights[layer]
    if amplitudes is None:
        amplitudes = [weight_amplitudes(m.layers[layer].weight) for m in models]
    a_plus, a_minus = (torch.tensor([amplitudes[m][k] for m in model]) for k in (0, 1))
    learns = torch.tensor([arms[a].rule is not None for a in arm])
    guarded = torch.tensor([arms[a].guard for a in arm])
    pair = torch.tensor([arms[a].rule is not None and arms[a].rule.hold == "pair" for a in arm])
    # The pair rule ascends the return itself; the others take the task's sign of dw = sign r c.
    sign = torch.tensor([(1.0 if p else task.sign) * arms[a].sign for a, p in zip(arm, pair.tolist())])
    exploration = torch.tensor([arms[a].rule.exploration if arms[a].rule else 0.0 for a in arm])
    explores = exploration > 0
    if pair.any() and config.baseline_episodes == 0:
        raise ValueError("the pair rule scales its returns by the frozen baseline's: baseline_episodes must be >= 1")
    scale = ExplorationScale.of([arms[a].rule or ModulationRule() for a in arm], config.window)
    pairs = AntitheticPairs(torch.where(pair, exploration, 0.0), plastic.shape[1], plastic.shape[2], config.seed + 2, scale)
    step_exploration = torch.where(pair, 0.0, exploration)
    # Eligibilities are kept only where a rule reads them: STDP's for rules without exploration.
    stdp_runs, perturbation_runs = torch.nonzero(learns & ~explores).flatten(), torch.nonzero(explores).flatten()
    position = torch.full((runs,), -1, dtype=torch.long)
    position[stdp_runs], position[perturbation_runs] = torch.arange(len(stdp_runs)), torch.arange(len(perturbation_runs))
    generator = torch.Generator().manual_seed(config.seed + 1)
    modulator = Modulator([arms[a].rule or ModulationRule() for a in arm], trained.flatten(1).norm(dim=1), config.seed)
    shapings = [reward_shaping(arms[a].shaping or task.shaping) for a in arm]
    run_settings = [settings[s] for s in setting]
    online = np.zeros((runs, config.episodes))
    guard = Guard(guarded, config.baseline_episodes, config.window, config.margin, config.confidence)
    state = resume(state_path, plastic, online, guard)
    first, seconds = (state["episode"], state["seconds"]) if state else (0, 0.0)
    if state:
        modulator.baseline = state["rule_baseline"]
        modulator.generator.set_state(state["random_state"])
        generator.set_state(state["noise_state"])
        pairs.restore(state)
    for episode in tqdm(range(first, config.episodes), initial=first, total=config.episodes,
                        desc=f"online r-STDP {task.env_id}", unit="episode", disable=not progress):
        trace = EligibilityTrace(task.rstdp, plastic.shape[2], plastic.shape[1], batch_shape=(len(stdp_runs),),
                                 amplitudes=(a_plus[stdp_runs], a_minus[stdp_runs]))
        perturbation = PerturbationTrace(plastic.shape[2], plastic.shape[1], (len(perturbation_runs),))
        # A pair run explores only where its update may land: past the baseline, not waiting after a rollback.
        exploring = pair & (episode >= config.baseline_episodes) & (guard.waiting == 0)
        held = pairs.noise(exploring, models[0].threshold) if pair.any() else None
        returns = play_training_episodes(models[0], weights, task.env_id, config.train_seeds[episode], run_settings,
                                         trace, layer, step_exploration if explores.any() else None, perturbation,
                                         generator, stdp_runs, perturbation_runs, held)
        online[:, episode] = returns
        ready = guard.may_learn(online, episode)
        if ready is None:
            continue
        update = learns & ready & ~pair
        if update.any():
            index = torch.nonzero(update).flatten()
            r = torch.tensor([shapings[k](float(returns[k])) for k in index.tolist()])
            c = torch.stack([(perturbation.c if explores[k] else trace.c)[position[k]] for k in index.tolist()])
            plastic[index] += modulator.weight_change(c, r, sign[index], index)
        if exploring.any():
            c = torch.zeros_like(plastic)
            c[perturbation_runs] = perturbation.c
            index, c, r = pairs.episode_ended(c, torch.from_numpy(returns), torch.from_numpy(guard.baseline), exploring)
            plastic[index] += modulator.weight_change(c, r, sign[index], index)
        fallen = guard.fallen(online, episode)
        plastic[fallen] = trained[fallen]
        modulator.reset(fallen)
        pairs.rolled_back(fallen)
        if state_path is not None and (episode + 1) % save_every == 0:
            with atomic_path(state_path) as temporary:
                torch.save({"episode": episode + 1, "seconds": seconds + time.perf_counter() - started,
                            "plastic": plastic, "online": torch.from_numpy(online), **guard.state(),
                            "rule_baseline": modulator.baseline, "random_state": modulator.generator.get_state(),
                            "noise_state": generator.get_state(), **pairs.state()}, temporary)
    heldout = evaluate_population(models[0], weights, task.env_id, config.heldout_seeds, run_settings)
    return DeploymentRuns(arm, model, setting, online, guard.rollbacks.numpy(), heldout,
                          seconds + time.perf_counter() - started)


def resume(state_path: Path | None, plastic: torch.Tensor, online: np.ndarray, guard: Guard) -> dict | None:
    """A population's saved state, its plastic weights, online returns and guard restored in place
    (None when nothing was saved); the caller restores what is its own from the rest."""
    if state_path is None or not state_path.exists():
        return None
    state = torch.load(state_path, weights_only=True)  # tensors and numbers only: no code runs
    plastic.copy_(state["plastic"])
    online[:] = state["online"].numpy()
    guard.restore(state)
    return state


def default_heldout(models: list[DSQN], task: DSQNTask, seeds: Sequence[int] = HELDOUT_SEEDS) -> np.ndarray:
    """Returns ``[models, seeds]`` of the trained weights on default physics."""
    return evaluate_population(models[0], stacked_weights(models), task.env_id, seeds, [{} for _ in models])
