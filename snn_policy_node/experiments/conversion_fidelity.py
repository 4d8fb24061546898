"""Open-loop fidelity of conversion: each converted variant's action against its source QCFS network,
on the same states in the same order.

The states are the source network's own episodes on default physics, so no closed-loop chaos enters:
a variant that errs does not steer itself elsewhere. Every variant replays the episodes from their
first state, carrying what it carries along each (adaptive I's count, CRPI's residual potentials).
CRPI's alpha is chosen per task and T on validation episodes and scored on held-out ones.
"""

import time
from dataclasses import dataclass, replace

import numpy as np
import torch

from snn_policy_node.ann2snn.calibration import AdaptiveIterations
from snn_policy_node.ann2snn.conversion import ActorRunner, Membrane, SpikingActor
from snn_policy_node.evaluation.actor_variants import spiking_player
from snn_policy_node.evaluation.rollout import play_episodes
from snn_policy_node.policy.observation import ObservationBuilder
from snn_policy_node.policy.specs import ObservationSpec

VALIDATION_SEEDS = range(80_000, 80_005)  # choose CRPI's alpha
HELDOUT_SEEDS = range(90_000, 90_010)  # score every variant
CLOSED_LOOP_SEEDS = range(70_000, 70_050)  # the shipped actors in closed loop
TIMESTEPS = (4, 8, 16)
ALPHAS = tuple(round(0.1 * k, 1) for k in range(1, 11))  # CRPI's own sweep
ADAPTIVE = (0, 3)  # Algorithm 2's I_min, I_max


@dataclass(frozen=True)
class Variant:
    """One way to convert: I passes of Algorithm 1 (None: adaptive I in :data:`ADAPTIVE`), read
    accumulating or literally, neurons started at ``initial`` and carrying CRPI's ``carry``."""

    name: str
    iterations: int | None = 0
    accumulate: bool = True
    initial: float = 0.5
    carry: float = 0.0

    def actor(self, source: SpikingActor, timesteps: int) -> SpikingActor:
        """``source`` converted as this variant says, run for ``timesteps`` steps."""
        config = {**source.config(), "timesteps": timesteps}
        actor = SpikingActor.from_tensors(dict(source.state_dict()), **config)
        actor.calibration = replace(source.calibration, accumulate=self.accumulate)
        actor.membrane = Membrane(self.initial, self.carry)
        return actor


VARIANTS = (
    Variant("I = 0, V(0) = 0", 0, initial=0.0),
    Variant("I = 0", 0),
    *(Variant(f"I = {i}", i) for i in (1, 2, 3)),
    *(Variant(f"I = {i}, literal", i, accumulate=False) for i in (1, 2, 3)),
    Variant("adaptive I", None),
    Variant("adaptive I, literal", None, accumulate=False),
)


def crpi_variants(alpha: float) -> tuple[Variant, Variant]:
    """CRPI alone (I = 0) and composed with adaptive I, at ``alpha``."""
    return Variant(f"CRPI (alpha {alpha})", 0, carry=alpha), Variant(f"CRPI (alpha {alpha}) + adaptive I", None, carry=alpha)


@dataclass
class Episodes:
    """The source network's episodes, padded to the longest with their last state: ``states``
    ``[episodes, steps, obs]`` (normalised, as the actor reads them), ``lengths`` ``[episodes]``."""

    states: np.ndarray
    lengths: np.ndarray
    returns: np.ndarray
    actions: torch.Tensor  # the source network's ``[episodes, steps, act]``

    @property
    def mask(self) -> np.ndarray:
        """``[episodes, steps]``: True where a state was really visited."""
        return np.arange(self.states.shape[1]) < self.lengths[:, None]


def source_episodes(actor: SpikingActor, observation: ObservationSpec, env_id: str, seeds, **make_options) -> Episodes:
    """The states the source QCFS network visits on ``seeds`` (default physics), one episode per seed
    (``make_options`` as the task's environment takes them, e.g. ``max_episode_steps``)."""
    visited: list[list[np.ndarray]] = [[] for _ in seeds]
    builder = ObservationBuilder(observation)

    def act(obs: np.ndarray, live: np.ndarray) -> np.ndarray:
        x = builder.normalise(obs).astype(np.float32)
        for row, k in enumerate(live):
            visited[k].append(x[row])
        return actor.source_action(torch.from_numpy(x)).numpy()

    returns = play_episodes(env_id, act, list(seeds), **make_options)
    lengths = np.array([len(v) for v in visited])
    states = np.stack([np.concatenate([v, np.repeat(v[-1:], lengths.max() - len(v), 0)]) for v in map(np.stack, visited)])
    states = states.astype(np.float32)
    return Episodes(states, lengths, returns, actor.source_action(torch.from_numpy(states)))


@torch.no_grad()
def replay(actor: SpikingActor, variant_iterations: int | None, episodes: Episodes) -> dict[str, np.ndarray]:
    """The variant's action error against the source network per episode (mean |a - a_QCFS| per
    action element over its states) and its error spikes per action and hidden layer."""
    count, steps = episodes.states.shape[:2]
    adaptive = AdaptiveIterations(*ADAPTIVE, batch=count) if variant_iterations is None else None
    starts = actor.starts(count)
    errors = np.zeros((count, steps))
    spikes = np.zeros((count, steps, actor.depth - 1))
    for t in range(steps):
        obs = torch.from_numpy(episodes.states[:, t])
        simulation = actor.simulate(obs, variant_iterations if adaptive is None else adaptive.iterations, starts=starts)
        errors[:, t] = (simulation.action - episodes.actions[:, t]).abs().mean(-1).numpy()
        spikes[:, t] = simulation.error_spikes.numpy()
        if adaptive is not None:
            adaptive.update(simulation.error_spikes.sum(-1).numpy())
    mask = episodes.mask
    return {"action_error": (errors * mask).sum(1) / mask.sum(1),
            "error_spikes": (spikes * mask[..., None]).sum(1) / mask.sum(1)[:, None]}


def microseconds_per_action(actors: dict[str, tuple[SpikingActor, int | None]], states: np.ndarray,
                            rounds: int = 5) -> dict[str, float]:
    """Median over ``rounds`` of each variant's time per action on the control loop's path (one
    observation at a time through :class:`ActorRunner`, adaptive I counting its error spikes),
    the variants interleaved round by round so that the machine's drift falls on all alike."""
    runners = {name: (ActorRunner(actor), iterations) for name, (actor, iterations) in actors.items()}
    times: dict[str, list[float]] = {name: [] for name in actors}
    for _ in range(rounds):
        for name, (runner, iterations) in runners.items():
            runner.reset()
            adaptive = AdaptiveIterations(*ADAPTIVE) if iterations is None else None
            started = time.perf_counter()
            for obs in states:
                if adaptive is None:
                    runner.run(obs, iterations)
                else:
                    runner.run(obs, int(adaptive.iterations[0]), errors=True)
                    adaptive.update(runner.error_spikes)
            times[name].append((time.perf_counter() - started) / len(states) * 1e6)
    return {name: float(np.median(t)) for name, t in times.items()}


def fidelity(actor: SpikingActor, observation: ObservationSpec, env_id: str, progress=None) -> dict:
    """Every variant of :data:`VARIANTS` and CRPI at every T of :data:`TIMESTEPS` on ``env_id``'s
    held-out episodes; CRPI's alpha chosen on the validation episodes (lowest mean action error);
    then the shipped actor in closed loop (:func:`closed_loop`)."""
    validation = source_episodes(actor, observation, env_id, VALIDATION_SEEDS)
    heldout = source_episodes(actor, observation, env_id, HELDOUT_SEEDS)
    result = {"env_id": env_id, "validation_seeds": list(VALIDATION_SEEDS), "heldout_seeds": list(HELDOUT_SEEDS),
              "episode_lengths": heldout.lengths.tolist(), "source_returns": heldout.returns.tolist(),
              "rho": actor.calibration.rho, "epsilon": actor.calibration.epsilon, "adaptive": list(ADAPTIVE),
              "timesteps": {}}
    for timesteps in TIMESTEPS:
        sweep = {alpha: float(replay(Variant("", 0, carry=alpha).actor(actor, timesteps), 0, validation)
                              ["action_error"].mean()) for alpha in ALPHAS}
        alpha = min(sweep, key=sweep.get)
        variants = (*VARIANTS, *crpi_variants(alpha))
        rows, actors = {}, {}
        for variant in variants:
            converted = variant.actor(actor, timesteps)
            replayed = replay(converted, variant.iterations, heldout)
            rows[variant.name] = {key: value.tolist() for key, value in replayed.items()}
            actors[variant.name] = (converted, variant.iterations)
            if progress is not None:
                progress.update()
        timing = microseconds_per_action(actors, heldout.states[0, :200])
        for name, microseconds in timing.items():
            rows[name]["microseconds_per_action"] = microseconds
        result["timesteps"][str(timesteps)] = {"crpi_alpha": alpha, "alpha_sweep": {str(a): e for a, e in sweep.items()},
                                               "variants": rows}
    result["closed_loop"] = {"seeds": list(CLOSED_LOOP_SEEDS),
                             "returns": closed_loop(actor, observation, env_id, CLOSED_LOOP_SEEDS)}
    return result


@torch.no_grad()
def closed_loop(actor: SpikingActor, observation: ObservationSpec, env_id: str, seeds=CLOSED_LOOP_SEEDS,
                **make_options) -> dict[str, list[float]]:
    """Returns of the source QCFS network, I = 0 and adaptive I, each on the same episodes (one per
    seed, default physics): the shipped actor as a robot runs it, paired by seed."""
    seeds, builder = list(seeds), ObservationBuilder(observation)
    players = {"QCFS": lambda x, live: actor.source_action(x), "I = 0": _actions(spiking_player(actor, 0, len(seeds))),
               "adaptive I": _actions(spiking_player(actor, ADAPTIVE, len(seeds)))}
    return {name: play_episodes(env_id, lambda obs, live, p=player: p(torch.from_numpy(builder.normalise(obs).astype(np.float32)),
                                                                      live).numpy(), seeds, **make_options).tolist()
            for name, player in players.items()}


def _actions(player):
    """A spiking player's actions alone."""
    return lambda x, live: player(x, live)[0]
