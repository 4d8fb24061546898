"""r-STDP fine-tuning of trained DSQNs to randomized physics (paper 004, section 3).

The protocol: play one training episode on the randomized task, accumulating the
eligibility trace of the plastic layer; at the episode's end apply dw = sign * r * c once,
with r the shaped episode return; evaluate the new weights on the fixed evaluation seeds;
repeat for at most ``episodes`` training episodes and keep the best weights (early stopping).
Training seeds are disjoint from evaluation seeds.

Runs are independent, so a population of runs (models x physics settings) advances in
lockstep: their training episodes and their evaluations each form one batch. A run that
reaches ``stop_at`` leaves the population. The population's state can be saved every few
episodes and resumed.
"""

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from sim_bridge.physics import parameter_arrays
from sim_bridge.simulators.batch import make_batch
from snn_policy_node.atomic import atomic_path
from snn_policy_node.evaluation.batched import evaluate_population, stacked_weights
from snn_policy_node.evaluation.seeds import ADAPT_SEEDS, EVAL_SEEDS
from snn_policy_node.snn.dsqn import DSQN
from snn_policy_node.snn.rstdp import EligibilityTrace, PerturbationTrace, reward_shaping, synapse_spikes, weight_amplitudes
from snn_policy_node.tasks import DSQNTask


@dataclass(frozen=True)
class AdaptationConfig:
    episodes: int = field(default=250, metadata={
        "help": "at most this many training episodes (at most 250, the protocol's training seeds)"})
    layer: int = 1  # weight layer hidden 1 -> hidden 2
    # None: the task's (paper eq. 7 has +1, the authors' CartPole code -1)
    sign: float | None = field(default=None, metadata={
        "help": "dw = sign * r * c",
        "choices": (1.0, -1.0)})
    eval_seeds: Sequence[int] = EVAL_SEEDS
    train_seeds: Sequence[int] = ADAPT_SEEDS
    stop_at: float | None = None  # a run stops once its evaluation mean reaches this (the best possible)

    def __post_init__(self):
        if self.episodes < 1:
            raise ValueError(f"r-STDP needs at least one training episode, got {self.episodes}")
        if set(self.eval_seeds) & set(self.train_seeds):
            raise ValueError("training seeds must be disjoint from evaluation seeds")
        if self.episodes > len(self.train_seeds):
            raise ValueError(f"{self.episodes} training episodes need as many training seeds, got {len(self.train_seeds)}")


@dataclass
class AdaptationResult:
    before: np.ndarray  # evaluation returns per seed with the trained weights
    after: np.ndarray  # evaluation returns per seed with the best weights found
    best_episode: int = 0  # training episodes until the best weights (0: the trained weights)
    eval_means: list[float] = field(default_factory=list)  # after each training episode
    train_returns: list[float] = field(default_factory=list)


@torch.no_grad()
def play_training_episodes(
    model: DSQN, weights: list[torch.Tensor], env_id: str, seed: int, settings: list[dict],
    trace: EligibilityTrace, layer: int, exploration: torch.Tensor | None = None,
    perturbation: PerturbationTrace | None = None, generator: torch.Generator | None = None,
    trace_runs: torch.Tensor | None = None, perturbation_runs: torch.Tensor | None = None,
    held: torch.Tensor | None = None,
) -> np.ndarray:
    """One greedy episode per run, all from ``seed``; the trace accumulates while a run plays.

    With ``exploration`` (per run, std in units of the threshold) noise joins the currents into
    the plastic layer's postsynaptic neurons, and ``perturbation`` accumulates it; ``held``
    ``[runs, neurons]`` joins them at every step (the antithetic pairs' noise). ``trace`` and
    ``perturbation`` may hold only the runs ``trace_runs`` and ``perturbation_runs`` (indices; by
    default every run): a run that does not learn from an eligibility needs none computed.
    """
    runs = len(settings)
    every = torch.arange(runs)
    trace_runs = every if trace_runs is None else trace_runs
    perturbation_runs = every if perturbation_runs is None else perturbation_runs
    env = make_batch(env_id, [seed] * runs, parameter_arrays(env_id, settings))
    obs, totals = env.reset(), np.zeros(runs)
    done = np.zeros(runs, dtype=bool)
    while not done.all():
        noise = None
        if exploration is not None:
            shape = (model.timesteps, runs, 1, weights[layer].shape[1])
            noise = torch.randn(shape, generator=generator) * (exploration * model.threshold)[:, None, None]
            if held is not None:
                noise += held[:, None, :]
        simulation = model.simulate(torch.from_numpy(obs).unsqueeze(1), weights, None if noise is None else {layer: noise})
        pre, post = synapse_spikes(simulation.spikes, layer)
        mask = torch.from_numpy(~done)
        if len(trace_runs):
            trace.accumulate(pre[:, trace_runs, 0], post[:, trace_runs, 0], mask=mask[trace_runs])
        if perturbation is not None and len(perturbation_runs):
            perturbation.accumulate(noise[:, perturbation_runs, 0], pre[:, perturbation_runs, 0], mask=mask[perturbation_runs])
        obs, rewards, done = env.step(simulation.q_values[:, 0].argmax(-1).numpy())
        totals += rewards
    return totals


class Population:
    """The state of a set of adaptation runs: current and best plastic weights, records."""

    def __init__(self, models: list[DSQN], settings: list[dict], config: AdaptationConfig, task: DSQNTask,
                 amplitudes: list[tuple[float, float]] | None = None):
        """``amplitudes``: (A+, A-) per model; by default each model's from its plastic weights."""
        if len(models) != len(settings):
            raise ValueError("one physics setting per model")
        self.template, self.settings, self.config, self.task = models[0], settings, config, task
        self.sign = task.sign if config.sign is None else config.sign
        self.weights = stacked_weights(models)
        if amplitudes is None:
            amplitudes = [weight_amplitudes(m.layers[config.layer].weight) for m in models]
        if len(amplitudes) != len(models):
            raise ValueError(f"one (A+, A-) per model: {len(amplitudes)} for {len(models)} models")
        self.a_plus, self.a_minus = (torch.tensor(a) for a in zip(*amplitudes))
        self.episode = 0
        self.results: list[AdaptationResult] = []
        self.best_weight = self.plastic.clone()
        self.seconds = 0.0  # compute time of start() and step(), over every session
        self.timed_from = 0  # the episode since which it is counted (later if resumed from an untimed state)

    @property
    def plastic(self) -> torch.Tensor:
        return self.weights[self.config.layer]

    def evaluate(self, runs: np.ndarray) -> np.ndarray:
        return evaluate_population(
            self.template, [w[runs] for w in self.weights], self.task.env_id, self.config.eval_seeds,
            [self.settings[r] for r in runs],
        )

    def start(self) -> None:
        started = time.perf_counter()
        before = self.evaluate(np.arange(len(self.settings)))
        self.results = [AdaptationResult(before=b, after=b) for b in before]
        self.seconds += time.perf_counter() - started

    def active(self) -> np.ndarray:
        stop = self.config.stop_at
        return np.array([stop is None or r.after.mean() < stop for r in self.results])

    @torch.no_grad()
    def step(self) -> None:
        """One training episode for every active run, one weight change, one evaluation."""
        started = time.perf_counter()
        runs = np.flatnonzero(self.active())
        seed = self.config.train_seeds[self.episode]
        self.episode += 1
        weights = [w[runs] for w in self.weights]
        trace = EligibilityTrace(
            self.task.rstdp, self.plastic.shape[2], self.plastic.shape[1], batch_shape=(len(runs),),
            amplitudes=(self.a_plus[runs], self.a_minus[runs]),
        )
        settings = [self.settings[r] for r in runs]
        returns = play_training_episodes(self.template, weights, self.task.env_id, seed, settings, trace, self.config.layer)
        shaping = reward_shaping(self.task.shaping)
        modulation = torch.tensor([shaping(float(R)) for R in returns], dtype=self.plastic.dtype)
        self.plastic[runs] += self.sign * trace.weight_change(modulation)
        scores = self.evaluate(runs)
        for j, r in enumerate(runs):
            result = self.results[r]
            result.train_returns.append(float(returns[j]))
            result.eval_means.append(float(scores[j].mean()))
            if scores[j].mean() > result.after.mean():
                result.after, result.best_episode = scores[j], self.episode
                self.best_weight[r] = self.plastic[r]
        self.seconds += time.perf_counter() - started

    def save(self, path: Path) -> None:
        state = {
            "episode": self.episode,
            "seconds": self.seconds,
            "timed_from": self.timed_from,
            "plastic": self.plastic,
            "best_weight": self.best_weight,
            "results": [
                {"before": torch.from_numpy(r.before), "after": torch.from_numpy(r.after), "best_episode": r.best_episode,
                 "eval_means": r.eval_means, "train_returns": r.train_returns}
                for r in self.results
            ],
        }
        with atomic_path(path) as temporary:
            torch.save(state, temporary)

    def load(self, path: Path) -> None:
        state = torch.load(path, weights_only=True)  # plain tensors and lists: no code runs
        self.episode = state["episode"]
        self.seconds, self.timed_from = float(state.get("seconds", 0.0)), int(state.get("timed_from", self.episode))
        self.plastic.copy_(state["plastic"])
        self.best_weight.copy_(state["best_weight"])
        self.results = [
            AdaptationResult(r["before"].numpy(), r["after"].numpy(), r["best_episode"], r["eval_means"], r["train_returns"])
            for r in state["results"]
        ]


def adapt_population(
    models: list[DSQN], task: DSQNTask, settings: list[dict], config: AdaptationConfig = AdaptationConfig(),
    state_path: Path | None = None, save_every: int = 10, progress: bool = False,
    amplitudes: list[tuple[float, float]] | None = None,
) -> list[AdaptationResult]:
    """Adapt run r = (``models[r]``, ``settings[r]``); every model ends holding its best weights.

    With ``state_path`` the population is saved every ``save_every`` episodes and resumed
    from there if the file exists.
    """
    population = Population(models, settings, config, task, amplitudes)
    if state_path is not None and state_path.exists():
        population.load(state_path)
    else:
        population.start()
    with tqdm(total=config.episodes, initial=population.episode, desc=f"r-STDP {task.env_id}", unit="episode",
              disable=not progress) as bar:
        while population.episode < config.episodes and population.active().any():
            population.step()
            bar.update()
            if state_path is not None and population.episode % save_every == 0:
                population.save(state_path)
    if state_path is not None:
        population.save(state_path)
    with torch.no_grad():
        for model, best in zip(models, population.best_weight):
            model.layers[config.layer].weight.copy_(best)
    return population.results


def saved_population_returns(models: list[DSQN], task: DSQNTask, settings: list[dict], state_path: Path,
                             seeds, layer: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Returns ``[runs, seeds]`` of run r = (``models[r]``, ``settings[r]``) on ``seeds``: with its
    trained weights, and with the best weights of the population saved in ``state_path``."""
    weights = stacked_weights(models)
    trained = evaluate_population(models[0], weights, task.env_id, seeds, settings)
    weights[layer] = torch.load(state_path, weights_only=True)["best_weight"]
    return trained, evaluate_population(models[0], weights, task.env_id, seeds, settings)


def saved_timing(state_path: Path) -> dict:
    """Compute seconds of a saved population and how many of its training episodes they cover."""
    state = torch.load(state_path, weights_only=True)
    return {"seconds": float(state.get("seconds", 0.0)), "episodes": state["episode"],
            "timed_episodes": state["episode"] - int(state.get("timed_from", state["episode"]))}


def adapt(model: DSQN, task: DSQNTask, parameters: dict, config: AdaptationConfig = AdaptationConfig(),
          amplitudes: tuple[float, float] | None = None) -> AdaptationResult:
    """Fine-tune one model in place with r-STDP; it ends holding the best weights found."""
    return adapt_population([model], task, [parameters], config, amplitudes=None if amplitudes is None else [amplitudes])[0]
