"""Online plasticity of a converted IF actor on randomized MuJoCo physics: the deployment protocol.

As :mod:`deployment` for the DSQNs: a run plays ``episodes`` online episodes on one randomized
setting, one training seed each, and no evaluation episode. While it plays, node perturbation
(:mod:`snn_policy_node.snn.node_perturbation`) explores in the plastic layer and credits every
step's reward to the eligibility; after each episode the weights take one bounded step. The
first ``baseline_episodes`` play the trained weights unchanged (with the exploration noise a
learning run has), and the same :class:`Guard` rolls a fallen run back. Calibration runs as
shipped: adaptive I (Algorithm 2) per run, against the source network the plastic weights
change along with the spiking ones. The weights a run holds after its last episode play the
held-out seeds without noise.
"""

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from snn_policy_node.ann2snn.calibration import AdaptiveIterations
from snn_policy_node.ann2snn.conversion import SpikingActor
from snn_policy_node.atomic import atomic_path
from snn_policy_node.evaluation.rollout import play_episodes
from snn_policy_node.experiments.deployment import DeploymentConfig, DeploymentRuns, resume
from snn_policy_node.policy.guard import Guard
from snn_policy_node.policy.observation import ObservationBuilder
from snn_policy_node.policy.specs import ObservationSpec
from snn_policy_node.snn.node_perturbation import DenseEligibility, PerturbationRule, increments
from snn_policy_node.snn.rstdp import AntitheticPairs, ExplorationScale, ModulationRule, Modulator

FOLD_EVERY = 50  # environment steps a population's eligibility keeps as factors before one product folds them


@dataclass(frozen=True)
class ActorArm:
    """One treatment: ``rule`` None keeps the trained weights (and plays without noise); a
    :class:`ModulationRule` is the pair rule (antithetic episodes, its third factor the return)."""

    rule: PerturbationRule | ModulationRule | None
    sign: float = 1.0
    guard: bool = False


@dataclass(frozen=True)
class ActorDeploymentConfig(DeploymentConfig):
    """The DSQNs' protocol, with MuJoCo's longer runs, a held-out block of its own size, and calibration
    as shipped; ``seed`` seeds the exploration noise and the random directions."""

    episodes: int = field(default=200, metadata={"help": "online episodes per run (no evaluation episodes)"})
    heldout_episodes: int = field(default=10, metadata={"help": "held-out episodes that score each run's final weights"})
    max_steps: int | None = None  # an episode's step limit (None: the task's)
    i_max: int = 3  # adaptive I's upper bound, as shipped

    def __post_init__(self):
        super().__post_init__()
        if self.heldout_episodes > len(self.heldout_seeds):
            raise ValueError(f"{self.heldout_episodes} held-out episodes need as many seeds, got {len(self.heldout_seeds)}")


class ActorPopulation:
    """Runs of one actor, each with its own plastic layer, adaptive I and physics, played as one batch."""

    def __init__(self, actor: SpikingActor, observation: ObservationSpec, env_id: str, config: ActorDeploymentConfig):
        if not 1 <= config.layer < actor.depth - 1:
            raise ValueError(f"the plastic layer must join two hidden layers: 1..{actor.depth - 2}, got {config.layer}")
        self.actor, self.env_id, self.config = actor.requires_grad_(False), env_id, config
        self.builder = ObservationBuilder(observation)

    def normalised(self, obs: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(self.builder.normalise(obs), dtype=torch.float32)

    @torch.no_grad()
    def play(self, seeds: Sequence[int], physics: list[dict], plastic: torch.Tensor,
             dense: DenseEligibility | None = None, learner_rows: torch.Tensor | None = None,
             pairs: tuple[torch.Tensor, torch.Tensor] | None = None) -> np.ndarray:
        """One episode per row (``seeds[k]`` under ``physics[k]``, weights ``plastic[k]``); rows
        ``learner_rows`` (indices, with their places in ``dense``) explore and learn. ``pairs``
        (held noise ``[rows, neurons]``, eligibility ``[rows, neurons, pre]``): the held currents join
        every step of the rows whose noise is not zero, and their eligibility adds sum_t xi_i s_j."""
        rows, layer = len(seeds), self.config.layer
        adaptive = AdaptiveIterations(0, self.config.i_max, batch=rows)
        weights = self.actor.plastic_rows({layer: plastic})  # converted once: they stay for the episode
        place = torch.full((rows,), -1, dtype=torch.long)
        if dense is not None:
            place[learner_rows] = torch.arange(len(learner_rows))

        held, c = pairs if pairs is not None else (None, None)
        holding = torch.zeros(rows, dtype=torch.bool) if held is None else held.abs().sum(1) > 0

        def act(obs: np.ndarray, live: np.ndarray) -> np.ndarray:
            live = torch.from_numpy(live)
            noise, learning, paired = None, place[live] >= 0, holding[live]
            if (dense is not None and learning.any()) or paired.any():
                noise = torch.zeros(self.actor.steps, len(live), plastic.shape[1])
            if dense is not None and learning.any():
                noise[:, learning] = dense.noise(self.actor.steps, place[live][learning])
            if paired.any():
                noise[:, paired] += held[live[paired]]
            simulation = self.actor.simulate(self.normalised(obs), adaptive.iterations[live], weights=weights,
                                             noise=None if noise is None else {layer: noise}, variants=live)
            counts = torch.zeros(rows, dtype=simulation.error_spikes.dtype)
            counts[live] = simulation.error_spikes.sum(-1)
            adaptive.update(counts)  # an ended episode's I stays at I_min
            if dense is not None and learning.any():
                pre = simulation.spikes[layer - 1][:, learning]
                dense.observe(noise[: self.actor.timesteps, learning], pre, place[live][learning])
            if paired.any():
                c[live[paired]] += increments(noise[: self.actor.timesteps, paired], simulation.spikes[layer - 1][:, paired])
            return simulation.action.numpy()

        def rewarded(rewards: np.ndarray, live: np.ndarray) -> None:
            learning = place[torch.from_numpy(live)] >= 0
            if learning.any():
                dense.credit(torch.from_numpy(rewards)[learning], place[torch.from_numpy(live)][learning])

        options = {} if self.config.max_steps is None else {"max_episode_steps": self.config.max_steps}
        return play_episodes(self.env_id, act, seeds, physics, rewarded if dense is not None else None, **options)


@torch.no_grad()
def deploy_actor(actor: SpikingActor, observation: ObservationSpec, env_id: str, settings: list[dict],
                 arms: list[ActorArm], config: ActorDeploymentConfig = ActorDeploymentConfig(), progress: bool = False,
                 state_path: Path | None = None, save_every: int = 10) -> DeploymentRuns:
    """Every arm on every setting, online; learning arms share one :class:`PerturbationRule` but for
    its direction. With ``state_path`` the state is saved every ``save_every`` episodes and resumed."""
    started = time.perf_counter()
    rules = {arm.rule for arm in arms if isinstance(arm.rule, PerturbationRule)}
    if len({(r.exploration, r.trace_steps, r.window, r.step) for r in rules}) > 1:
        raise ValueError("the learning arms of one population must share exploration, trace_steps, window and step")
    grid = [(a, s) for a in range(len(arms)) for s in range(len(settings))]
    arm, setting = (np.array(column) for column in zip(*grid))
    runs, population = len(grid), ActorPopulation(actor, observation, env_id, config)
    trained = actor.folded_weight(config.layer).expand(runs, -1, -1).clone()
    plastic = trained.clone()
    pair = torch.tensor([isinstance(arms[a].rule, ModulationRule) for a in arm])
    if pair.any() and config.baseline_episodes == 0:
        raise ValueError("the pair rule scales its returns by the frozen baseline's: baseline_episodes must be >= 1")
    pair_rules = [arms[a].rule if p else ModulationRule() for a, p in zip(arm, pair.tolist())]
    pairs = AntitheticPairs(torch.tensor([r.exploration for r in pair_rules]) * pair, plastic.shape[1], plastic.shape[2],
                            config.seed + 2, ExplorationScale.of(pair_rules, config.window))
    modulator = Modulator(pair_rules, trained.flatten(1).norm(dim=1), config.seed + 3)
    learns = torch.tensor([arms[a].rule is not None for a in arm]) & ~pair
    learner_rows = torch.nonzero(learns).flatten()
    sign = torch.tensor([arms[a].sign for a in arm], dtype=plastic.dtype)
    dense = None
    if len(learner_rows):
        rule = next(iter(rules))
        random = torch.tensor([arms[a].rule.direction == "random" for a in arm[learner_rows.numpy()]])
        dense = DenseEligibility(rule, plastic.shape[2], plastic.shape[1], trained[learner_rows].flatten(1).norm(dim=1),
                                 random, config.seed, chunk=FOLD_EVERY)
    physics = [settings[s] for s in setting]
    online = np.zeros((runs, config.episodes))
    guard = Guard(torch.tensor([arms[a].guard for a in arm]), config.baseline_episodes, config.window, config.margin,
                  config.confidence)
    state = resume(state_path, plastic, online, guard)
    first, seconds = (state["episode"], state["seconds"]) if state else (0, 0.0)
    if state and dense is not None:
        dense.rewards.copy_(state["rewards"]), dense.heard.copy_(state["heard"])
        dense.noise_generator.set_state(state["noise_state"])
        dense.direction_generator.set_state(state["direction_state"])
    if state and pair.any():
        pairs.restore(state)
        modulator.generator.set_state(state["modulator_state"])
    place = torch.full((runs,), -1, dtype=torch.long)
    place[learner_rows] = torch.arange(len(learner_rows))
    for episode in tqdm(range(first, config.episodes), initial=first, total=config.episodes,
                        desc=f"online plasticity {env_id}", unit="episode", disable=not progress):
        seeds = [config.train_seeds[episode]] * runs
        exploring = pair & (episode >= config.baseline_episodes) & (guard.waiting == 0)
        held = pairs.noise(exploring, 1.0)  # the folded layers' thresholds are 1
        c = torch.zeros_like(plastic) if exploring.any() else None
        online[:, episode] = population.play(seeds, physics, plastic, dense, learner_rows,
                                             (held, c) if exploring.any() else None)
        ready = guard.may_learn(online, episode)
        if exploring.any():
            index, c, r = pairs.episode_ended(c, torch.from_numpy(online[:, episode]), torch.from_numpy(guard.baseline),
                                              exploring)
            plastic[index] += modulator.weight_change(c, r, sign[index], index).to(plastic.dtype)
        if dense is not None:
            update = (learns & ready) if ready is not None else torch.zeros(runs, dtype=torch.bool)
            index = torch.nonzero(update).flatten()
            plastic[index] += dense.weight_change(sign[index], place[index])
            dense.new_episode(place[learner_rows])  # the runs that did not update start afresh too
        fallen = guard.fallen(online, episode) if ready is not None else torch.zeros(0, dtype=torch.long)
        plastic[fallen] = trained[fallen]
        pairs.rolled_back(fallen)
        if dense is not None:
            dense.reset_baseline(place[fallen][place[fallen] >= 0])
        if state_path is not None and (episode + 1) % save_every == 0:
            extra = {} if dense is None else {
                "rewards": dense.rewards, "heard": dense.heard, "noise_state": dense.noise_generator.get_state(),
                "direction_state": dense.direction_generator.get_state()}
            if pair.any():
                extra |= {**pairs.state(), "modulator_state": modulator.generator.get_state()}
            with atomic_path(state_path) as temporary:
                torch.save({"episode": episode + 1, "seconds": seconds + time.perf_counter() - started, "plastic": plastic,
                            "online": torch.from_numpy(online), **guard.state(), **extra}, temporary)
    heldout = heldout_returns(population, plastic, physics)
    return DeploymentRuns(arm, np.zeros(runs, dtype=int), setting, online, guard.rollbacks.numpy(), heldout,
                          seconds + time.perf_counter() - started)  # one actor: model 0


def heldout_returns(population: ActorPopulation, plastic: torch.Tensor, physics: list[dict]) -> np.ndarray:
    """``[runs, held-out episodes]``: each run's weights on its own physics, without noise."""
    seeds = list(population.config.heldout_seeds[: population.config.heldout_episodes])
    runs = len(plastic)
    returns = population.play(seeds * runs, [p for p in physics for _ in seeds], plastic.repeat_interleave(len(seeds), 0))
    return returns.reshape(runs, len(seeds))


def default_physics_heldout(actor: SpikingActor, observation: ObservationSpec, env_id: str,
                            config: ActorDeploymentConfig = ActorDeploymentConfig()) -> np.ndarray:
    """The trained weights' held-out returns on default physics: what randomization took away."""
    population = ActorPopulation(actor, observation, env_id, config)
    return heldout_returns(population, actor.folded_weight(config.layer)[None], [{}])[0]
