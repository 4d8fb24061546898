"""Reward-modulated STDP with a persistent eligibility trace (paper 004, eq. 4-9).

Index convention of the paper: j is the presynaptic and i the postsynaptic neuron, so a
weight ``w[i, j]`` of a ``torch.nn.Linear`` layer matches ``c[i, j]``.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class RSTDPParams:
    """Time constants (in simulation steps), the scale C and the amplitudes A+ and A-."""

    tau_plus: float = 5.0
    tau_minus: float = 5.0
    tau_c: float = 10.0
    scale: float = 0.01
    a_plus: float = 1.0
    a_minus: float = 1.0

    def __post_init__(self):
        if min(self.tau_plus, self.tau_minus, self.tau_c) <= 0:
            raise ValueError(f"time constants must be positive: {self}")


def weight_amplitudes(weight: torch.Tensor) -> tuple[float, float]:
    positive, negative = weight[weight > 0], weight[weight < 0]
    if positive.numel() == 0 or negative.numel() == 0:
        raise ValueError("A+ and A- need both positive and negative weights in the plastic layer")
    return positive.mean().item(), negative.mean().abs().item()


AMPLITUDES_KEY = "rstdp_amplitudes"  # provenance of an adapted checkpoint: [A+, A-] of the trained weights


def model_amplitudes(weight: torch.Tensor, provenance: dict) -> tuple[float, float]:
    """A+ and A- of a model: those its trained weights gave, recorded when it was adapted, so
    that resuming from adapted weights learns at the same rate; else from ``weight``."""
    if AMPLITUDES_KEY not in provenance:
        return weight_amplitudes(weight)
    recorded = provenance[AMPLITUDES_KEY]
    if not (isinstance(recorded, list) and len(recorded) == 2
            and all(isinstance(a, (int, float)) and not isinstance(a, bool) and math.isfinite(a) and a > 0 for a in recorded)):
        raise ValueError(f"{AMPLITUDES_KEY} must be two positive numbers [A+, A-], got {recorded!r}")
    return float(recorded[0]), float(recorded[1])


def synapse_spikes(hidden_spikes: list[torch.Tensor], layer: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pre- and postsynaptic spikes of weight layer ``layer`` (1 = hidden 1 -> hidden 2).

    ``hidden_spikes`` are a network's per-hidden-layer spike records. Layer 0 (from the
    analog input) and the last layer (into the non-spiking read-out) have no spikes on one
    side, so r-STDP cannot apply to them.
    """
    if not 1 <= layer < len(hidden_spikes):
        raise ValueError(
            f"r-STDP needs spiking neurons on both sides; with {len(hidden_spikes)} hidden layers "
            f"the plastic layer must be in 1..{len(hidden_spikes) - 1}, got {layer}"
        )
    return hidden_spikes[layer - 1], hidden_spikes[layer]


class EligibilityTrace:
    """Eligibility c[..., i, j] of one layer's synapses, kept across observations.

    The STDP traces k+ (presynaptic, eq. 4) and k- (postsynaptic, eq. 5) belong to the
    network state and restart from zero with every observation; c (eq. 6) persists until
    :meth:`reset`, so at the end of an episode it holds the whole episode's correlations.
    Eq. 6 at step t uses k(t), which does not yet include the spikes of step t.
    """

    def __init__(
        self,
        params: RSTDPParams,
        n_pre: int,
        n_post: int,
        batch_shape: tuple[int, ...] = (),
        amplitudes: tuple[torch.Tensor, torch.Tensor] | None = None,
    ):
        """``amplitudes`` (A+, A-), each of ``batch_shape``, override the params' A+ and A-:
        a population of models adapted together has one pair per model."""
        self.params = params
        self.c = torch.zeros(*batch_shape, n_post, n_pre)
        a_plus, a_minus = amplitudes if amplitudes is not None else (params.a_plus, params.a_minus)
        self.a_plus = torch.as_tensor(a_plus, dtype=self.c.dtype)[..., None, None]
        self.a_minus = torch.as_tensor(a_minus, dtype=self.c.dtype)[..., None, None]
        self.decay_plus = math.exp(-1.0 / params.tau_plus)
        self.decay_minus = math.exp(-1.0 / params.tau_minus)

    def reset(self) -> None:
        self.c.zero_()

    @torch.no_grad()
    def accumulate(self, pre: torch.Tensor, post: torch.Tensor, mask: torch.Tensor | None = None) -> None:
        """Add one observation's spikes, ``pre`` ``[T, ..., n_pre]`` and ``post`` ``[T, ..., n_post]``.

        Where ``mask`` (of the batch shape) is false the trace is left untouched, for batch
        elements whose episode has already ended.

        Eq. 6 applied at steps t = 0..T-1, c <- d c + C (A+ post_t k+_t^T - A- k-_t pre_t^T) with
        d = 1 - 1/tau_c, unrolls to c <- d^T c + sum_t d^(T-1-t) C (...): the T outer products
        are one matrix product with inner size 2T, so the synapse matrix is touched twice per
        observation instead of several times per step.
        """
        p, steps = self.params, pre.shape[0]
        pre, post = pre.to(self.c.dtype), post.to(self.c.dtype)
        k_plus, k_minus = _causal_traces(pre, self.decay_plus), _causal_traces(post, self.decay_minus)
        step_scale = p.scale * (1.0 - 1.0 / p.tau_c) ** torch.arange(steps - 1, -1, -1, dtype=self.c.dtype)
        step_scale = step_scale.reshape(steps, *([1] * (pre.dim() - 1)))
        active = torch.ones((), dtype=self.c.dtype) if mask is None else mask.to(self.c.dtype)
        # [..., n_post, 2T] @ [..., 2T, n_pre]: potentiation columns, then depression columns.
        left = torch.cat([self.a_plus[..., 0] * (step_scale * post), -self.a_minus[..., 0] * (step_scale * k_minus)])
        right = torch.cat([k_plus, pre])
        change = torch.movedim(left * active[..., None], 0, -1) @ torch.movedim(right, 0, -2)
        decay = torch.where(active > 0, (1.0 - 1.0 / p.tau_c) ** steps, 1.0)
        self.c.mul_(decay[..., None, None]).add_(change)

    def weight_change(self, modulation: float | torch.Tensor) -> torch.Tensor:
        """dw = r * c (eq. 7); ``modulation`` is r, one number or one per batch element."""
        r = torch.as_tensor(modulation, dtype=self.c.dtype)
        return r.reshape(r.shape + (1, 1)) * self.c


def _causal_traces(spikes: torch.Tensor, decay: float) -> torch.Tensor:
    """k+(t) or k-(t) of eq. 4-5 for t = 0..T-1: k(t) = decay k(t-1) + s(t-1), k(0) = 0."""
    traces = torch.zeros_like(spikes)
    for t in range(1, spikes.shape[0]):
        traces[t] = decay * traces[t - 1] + spikes[t - 1]
    return traces


def cartpole_modulation(episode_return: float, max_return: float = 200.0) -> float:
    """Eq. 8: r = 1 - R / R_max, small when the episode went well."""
    return 1.0 - episode_return / max_return


def acrobot_modulation(episode_return: float, offset: float = 50.0, min_return: float = -500.0) -> float:
    """Eq. 9: r = (R - 50) / R_min."""
    return (episode_return - offset) / min_return


REWARD_SHAPINGS: dict[str, Callable[..., float]] = {
    "cartpole": cartpole_modulation,
    "acrobot": acrobot_modulation,
}


def reward_shaping(name: str, **params: float) -> Callable[[float], float]:
    """The episode-return -> modulation function ``name`` with its parameters bound."""
    try:
        shaping = REWARD_SHAPINGS[name]
    except KeyError:
        raise ValueError(f"unknown reward shaping {name!r}; choose one of {sorted(REWARD_SHAPINGS)}") from None
    return lambda episode_return: shaping(episode_return, **params)


def acrobot_code_modulation(episode_return: float, min_return: float = -500.0) -> float:
    """The authors' code for Acrobot: r = R / R_min (eq. 9 without its offset)."""
    return episode_return / min_return


def acrobot_steps_modulation(episode_return: float, offset: float = 50.0, max_steps: float = 500.0) -> float:
    """r = (|R| - 50) / 500: the steps beyond a good swing-up's 50, as a share of the episode's 500,
    so that an episode near the best possible leaves the weights almost alone."""
    return (abs(episode_return) - offset) / max_steps


REWARD_SHAPINGS["acrobot_code"] = acrobot_code_modulation
REWARD_SHAPINGS["acrobot_steps"] = acrobot_steps_modulation

THIRD_FACTORS = ("reward", "rpe", "pair")
DIRECTIONS = ("rule", "random")
HOLDS = ("step", "pair")


@dataclass(frozen=True)
class ModulationRule:
    """How one episode's eligibility c becomes a weight change: one rule, its options as fields.

    dw = sign * m * D, with
      - m, the third factor: ``"reward"``, m = r, the shaped episode return (paper 004, eq. 7-9);
        ``"rpe"``, m = r - r_bar, a reward prediction error against the run's running mean
        r_bar <- r_bar + ``baseline_rate`` (r - r_bar), which starts at the first episode's r
        (so the first update is zero). A raw reward adds r_bar times the unmodulated STDP drift
        to every update (three-factor learning theory); the error removes it.
      - D, the direction: ``"rule"``, D = c; ``"random"``, a random direction with the norm of c
        (the control that tells the rule's direction from any perturbation of the same size).
      - ``max_norm``: ||dw||_F is clipped to ``max_norm`` x ||w_0||_F, the trained weights' norm.
      - ``exploration`` > 0: node perturbation. Gaussian noise xi of this std (in units of the
        neurons' threshold) joins the postsynaptic currents while the run plays, and c is the
        :class:`PerturbationTrace`, sum_t xi_i(t) s_j(t), instead of the STDP eligibility: with a
        prediction error as m, E[m c] follows the gradient of the expected return (Fiete and
        Seung 2006), where a deterministic network's STDP coincidences need not.
      - ``hold``: how long one draw of the noise lasts. ``"step"``, a fresh xi every simulated step;
        ``"pair"``, one xi per postsynaptic neuron held over a whole episode and played with the
        other sign over the next (antithetic episodes: :class:`AntitheticPairs`). Per-step noise
        averages out over an episode, so an episode's return hardly depends on it; a held offset
        moves the whole episode, and the pair's two returns measure its effect.
      - ``"pair"`` as the third factor (with ``hold="pair"``): after the second episode of a pair,
        m = clip((R_1 - R_2) / |R_0|, -1, 1), with R_0 the run's frozen baseline return, and the
        eligibility c = c_1 - c_2 = xi (N_1 + N_2)^T, N_k the presynaptic spike counts of episode
        k. This is REINFORCE with the pair's mean return as its baseline, sum_k (R_k - R_mean) c_k
        = (R_1 - R_2) (c_1 - c_2) / 2 (Salimans et al. 2017's antithetic sampling); the update
        takes the direction of c at a length set by m: dw = sign m ``max_norm`` ||w_0|| c / ||c||,
        so it ascends the return (sign +1) whatever the task's shaping.
      - ``rollback_shrink``: after each rollback by the guard, a pair run's exploration multiplies
        by this (1: never changes). Exploring costs return whatever the update learns (an offset of
        0.3 thresholds costs a MuJoCo actor ~8 % of its return): a run that the guard keeps catching
        below its floor explores less, and the cost, ~ exploration^2, falls by 4 at each halving. Its
        updates shrink with it, since m ~ R_1 - R_2 ~ exploration.
      - ``exploration_start`` and ``success_grow``: a pair run starts at ``exploration_start`` x
        ``exploration`` and earns the rest: after every ``window`` explored episodes (the guard's
        window) whose mean return is at least the frozen baseline R_0, its exploration multiplies by
        ``success_grow``, up to ``exploration`` (:class:`ExplorationScale`). A run then pays the
        exploring cost only where its own online returns showed that it can, instead of paying the
        full cost before the guard has seen a window.
    """

    third_factor: str = "reward"
    baseline_rate: float = 0.1
    direction: str = "rule"
    max_norm: float | None = None
    exploration: float = 0.0
    hold: str = "step"
    rollback_shrink: float = 1.0
    exploration_start: float = 1.0
    success_grow: float = 1.0

    def __post_init__(self):
        if self.third_factor not in THIRD_FACTORS:
            raise ValueError(f"third_factor must be one of {THIRD_FACTORS}, got {self.third_factor!r}")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {self.direction!r}")
        if self.hold not in HOLDS:
            raise ValueError(f"hold must be one of {HOLDS}, got {self.hold!r}")
        if (self.hold == "pair") != (self.third_factor == "pair"):
            raise ValueError("antithetic pairs need both hold='pair' and third_factor='pair'")
        if self.third_factor == "pair" and (self.max_norm is None or not self.exploration > 0):
            raise ValueError("the pair rule needs exploration > 0 and max_norm (its step) set")
        if not 0 < self.baseline_rate <= 1:
            raise ValueError(f"baseline_rate must be in (0, 1], got {self.baseline_rate}")
        if self.max_norm is not None and not self.max_norm > 0:
            raise ValueError(f"max_norm must be positive, got {self.max_norm}")
        if not self.exploration >= 0:
            raise ValueError(f"exploration must be >= 0, got {self.exploration}")
        if not 0 < self.rollback_shrink <= 1:
            raise ValueError(f"rollback_shrink must be in (0, 1], got {self.rollback_shrink}")
        if not 0 < self.exploration_start <= 1:
            raise ValueError(f"exploration_start must be in (0, 1], got {self.exploration_start}")
        if not 1 <= self.success_grow < math.inf:
            raise ValueError(f"success_grow must be >= 1 and finite, got {self.success_grow}")


class PerturbationTrace:
    """Node-perturbation eligibility c[..., i, j] = sum over steps of xi_i(t) s_j(t): the noise a
    postsynaptic neuron received times its presynaptic spikes, kept across observations."""

    def __init__(self, n_pre: int, n_post: int, batch_shape: tuple[int, ...] = ()):
        self.c = torch.zeros(*batch_shape, n_post, n_pre)

    @torch.no_grad()
    def accumulate(self, noise: torch.Tensor, pre: torch.Tensor, mask: torch.Tensor | None = None) -> None:
        """Add one observation's ``noise`` ``[T, ..., n_post]`` and ``pre`` spikes ``[T, ..., n_pre]``;
        batch elements where ``mask`` is false are left untouched."""
        active = torch.ones((), dtype=self.c.dtype) if mask is None else mask.to(self.c.dtype)
        change = torch.movedim(noise.to(self.c.dtype) * active[..., None], 0, -1) @ torch.movedim(pre.to(self.c.dtype), 0, -2)
        self.c.add_(change)


def bounded(dw: torch.Tensor, bound: torch.Tensor) -> torch.Tensor:
    """Each of the n updates ``dw`` ``[n, post, pre]`` shrunk to Frobenius norm ``bound[n]`` (float64) if larger."""
    norm = dw.flatten(1).norm(dim=1).to(torch.float64)
    shrink = torch.where(norm > bound, bound / norm.clamp_min(1e-30), torch.ones_like(norm))
    return dw * shrink.to(dw.dtype)[:, None, None]


def random_directions(like: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Gaussian directions ``[n, ...]`` with the Frobenius norms of ``like``'s n rows: the control
    that keeps a rule's update sizes and takes its directions away."""
    noise = torch.randn(like.shape, generator=generator, dtype=like.dtype)
    scale = like.flatten(1).norm(dim=1) / noise.flatten(1).norm(dim=1).clamp_min(1e-30)
    return noise * scale.reshape(-1, *[1] * (like.dim() - 1))


class Modulator:
    """The state of a :class:`ModulationRule` for a batch of runs, each with its own rule: the
    running baselines, and the generator of the random directions (seeded, so runs repeat)."""

    def __init__(self, rules: list[ModulationRule], reference_norms: torch.Tensor, seed: int = 0):
        self.rpe = torch.tensor([rule.third_factor == "rpe" for rule in rules])
        self.rate = torch.tensor([rule.baseline_rate for rule in rules], dtype=torch.float64)
        self.random = torch.tensor([rule.direction == "random" for rule in rules])
        self.pair = torch.tensor([rule.third_factor == "pair" for rule in rules])
        bound = torch.tensor([math.inf if rule.max_norm is None else rule.max_norm for rule in rules], dtype=torch.float64)
        self.bound = bound * reference_norms.to(torch.float64)
        self.baseline = torch.full((len(rules),), math.nan, dtype=torch.float64)
        self.generator = torch.Generator().manual_seed(seed)

    def third_factor(self, r: torch.Tensor, runs: torch.Tensor) -> torch.Tensor:
        """m for the runs ``runs`` (indices) from their shaped returns ``r`` (a pair run's: its
        relative return difference, :meth:`AntitheticPairs.episode_ended`); updates their baselines."""
        r = r.to(torch.float64)
        baseline = torch.where(torch.isnan(self.baseline[runs]), r, self.baseline[runs])
        m = torch.where(self.rpe[runs], r - baseline, r)
        self.baseline[runs] = baseline + self.rate[runs] * (r - baseline)
        return torch.where(self.pair[runs], r.clamp(-1.0, 1.0), m)

    def reset(self, runs: torch.Tensor) -> None:
        """Forget the baselines of ``runs`` (after a rollback their returns start again)."""
        self.baseline[runs] = math.nan

    def weight_change(self, c: torch.Tensor, r: torch.Tensor, sign: torch.Tensor, runs: torch.Tensor) -> torch.Tensor:
        """dw ``[n, post, pre]`` of runs ``runs`` from their eligibility ``c``, returns and signs."""
        m = self.third_factor(r, runs).to(c.dtype)
        direction = c.clone()
        pair = self.pair[runs]
        if pair.any():  # a pair's update has the length m x the bound: its direction, normalised
            norm = direction[pair].flatten(1).norm(dim=1).clamp_min(1e-30)
            direction[pair] *= (self.bound[runs][pair] / norm).to(c.dtype)[:, None, None]
        random = self.random[runs]
        if random.any():
            direction[random] = random_directions(c[random], self.generator)
        return bounded((sign.to(c.dtype) * m)[:, None, None] * direction, self.bound[runs])


class ExplorationScale:
    """Per run, the fraction s of its rule's exploration that its next pair draws: s starts at the
    rule's ``exploration_start``, multiplies by ``rollback_shrink`` at every rollback, and by
    ``success_grow`` (up to 1) after every ``window`` explored episodes (counted in whole pairs) whose
    mean return is at least the run's frozen baseline R_0 (:class:`ModulationRule`). A rollback also
    starts a new window."""

    def __init__(self, start: torch.Tensor, shrink: torch.Tensor, grow: torch.Tensor, window: int):
        if window < 1:
            raise ValueError(f"a window holds at least one episode, got {window}")
        self.scale = start.to(torch.float32).clone()
        self.shrink, self.grow, self.window = shrink.to(torch.float32), grow.to(torch.float32), window
        self.total = torch.zeros(len(start), dtype=torch.float64)  # the returns of the window's explored episodes
        self.count = torch.zeros(len(start), dtype=torch.long)

    @classmethod
    def of(cls, rules: list[ModulationRule], window: int) -> "ExplorationScale":
        """The scales of runs playing ``rules`` under a guard of ``window`` episodes."""
        return cls(*(torch.tensor([getattr(rule, name) for rule in rules])
                     for name in ("exploration_start", "rollback_shrink", "success_grow")), window)

    def pair_completed(self, runs: torch.Tensor, returns: torch.Tensor, reference: torch.Tensor) -> None:
        """``runs`` (indices) completed a pair with these summed ``returns`` R_1 + R_2; ``reference``
        (a tensor or an array) holds every run's R_0."""
        self.total[runs] += returns.to(torch.float64)
        self.count[runs] += 2
        due = runs[self.count[runs] >= self.window]
        earned = due[self.total[due] / self.count[due] >= torch.as_tensor(reference)[due].to(torch.float64)]
        self.scale[earned] = (self.scale[earned] * self.grow[earned]).clamp_max(1.0)
        self.total[due], self.count[due] = 0.0, 0

    def rolled_back(self, runs: torch.Tensor) -> None:
        self.scale[runs] *= self.shrink[runs]
        self.total[runs], self.count[runs] = 0.0, 0

    def state(self) -> dict:
        return {"pair_scale": self.scale, "pair_scale_total": self.total, "pair_scale_count": self.count}

    def restore(self, state: dict) -> None:
        self.scale, self.total, self.count = state["pair_scale"], state["pair_scale_total"], state["pair_scale_count"]


class AntitheticPairs:
    """The exploration of the pair rule (``ModulationRule(hold="pair")``) for a batch of runs.

    A run's pair starts with a fresh xi ~ N(0, (s ``exploration`` theta)^2) per postsynaptic neuron,
    s its :class:`ExplorationScale`, held over its first episode; the second episode plays -xi. The
    first episode's eligibility and return wait for the second; then :meth:`episode_ended` gives
    c_1 - c_2 and the relative return difference (R_1 - R_2) / |R_0| that :class:`Modulator` turns
    into the update.
    """

    def __init__(self, exploration: torch.Tensor, n_post: int, n_pre: int, seed: int = 0,
                 scale: ExplorationScale | None = None):
        """``exploration`` per run: its rule's noise std in units of the threshold, 0 for runs without
        pairs; ``scale`` (default: 1 for every run, never changing) the fraction of it a pair draws."""
        runs = len(exploration)
        self.exploration = exploration.to(torch.float32)
        ones = torch.ones(runs)
        self.scale = ExplorationScale(ones, ones, ones, 2) if scale is None else scale
        self.xi = torch.zeros(runs, n_post)
        self.second = torch.zeros(runs, dtype=torch.bool)  # the run plays the second episode of its pair
        self.first_c = torch.zeros(runs, n_post, n_pre)
        self.first_return = torch.zeros(runs, dtype=torch.float64)
        self.generator = torch.Generator().manual_seed(seed)

    def noise(self, exploring: torch.Tensor, threshold: float) -> torch.Tensor:
        """The held currents ``[runs, n_post]`` of the next episode: a fresh xi where an ``exploring``
        run starts a pair, -xi where it ends one, zero where a run does not explore (its pair is dropped)."""
        std = self.exploration * self.scale.scale * threshold
        fresh = torch.randn(self.xi.shape, generator=self.generator) * std[:, None]
        starts = exploring & ~self.second
        self.xi = torch.where(starts[:, None], fresh, torch.where(self.second[:, None], -self.xi, 0.0))
        self.xi[~exploring] = 0.0
        self.second &= exploring
        return self.xi

    def episode_ended(self, c: torch.Tensor, returns: torch.Tensor, reference: torch.Tensor,
                      exploring: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """After an episode in which ``exploring`` runs played their noise, with eligibilities ``c``
        and ``returns`` per run: the runs whose pair is complete (indices), their c_1 - c_2 and
        (R_1 - R_2) / max(|R_0|, 1), R_0 = ``reference`` (the frozen baseline's return)."""
        complete = exploring & self.second
        starting = exploring & ~self.second
        self.first_c[starting] = c[starting]
        self.first_return[starting] = returns[starting].to(torch.float64)
        self.second = starting
        index = torch.nonzero(complete).flatten()
        second = returns[index].to(torch.float64)
        self.scale.pair_completed(index, self.first_return[index] + second, reference)
        difference = (self.first_return[index] - second) / reference[index].abs().clamp_min(1.0)
        return index, self.first_c[index] - c[index], difference

    def drop(self, runs: torch.Tensor) -> None:
        """Forget the pairs of ``runs`` in progress."""
        self.second[runs] = False

    def rolled_back(self, runs: torch.Tensor) -> None:
        """The guard rolled ``runs`` back: their pairs are dropped and their exploration shrinks."""
        self.drop(runs)
        self.scale.rolled_back(runs)

    def state(self) -> dict:
        return {"pair_xi": self.xi, "pair_second": self.second, "pair_first_c": self.first_c,
                "pair_first_return": self.first_return, "pair_random_state": self.generator.get_state(),
                **self.scale.state()}

    def restore(self, state: dict) -> None:
        self.scale.restore(state)
        self.xi, self.second = state["pair_xi"], state["pair_second"]
        self.first_c, self.first_return = state["pair_first_c"], state["pair_first_return"]
        self.generator.set_state(state["pair_random_state"])
