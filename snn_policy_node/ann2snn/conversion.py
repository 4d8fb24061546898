"""ANN-to-SNN conversion of a QCFS actor into an IF spiking actor (paper 000, section 3)."""

import functools
import math
from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from snn_policy_node.ann2snn.calibration import CalibrationConfig
from snn_policy_node.ann2snn.qcfs import MLPActor
from snn_policy_node.engine import if_layers
from snn_policy_node.snn.neurons import MAX_TIMESTEPS


@dataclass
class ActorSimulation:
    """What one spiking forward pass produced."""

    action: torch.Tensor  # [batch, act_dim]
    spikes: list[torch.Tensor]  # per hidden layer, [T, batch, neurons], binary
    error_spikes: torch.Tensor  # [batch, hidden layers], against the source QCFS network


class PlasticRows(NamedTuple):
    """Variants of one weight layer as the compiled layers read them, each transposed ``[in, out]``: in
    spiking units and in the source network's. Made once (:meth:`SpikingActor.plastic_rows`) and passed
    to every step of an episode, a population's weights are not converted at each step."""

    layer: int  # -1: none
    folded_t: np.ndarray  # [variants, in, out]
    source_t: np.ndarray  # [variants, in, out]


@dataclass(frozen=True)
class Membrane:
    """How the IF neurons start each observation, in units of their threshold.

    ``initial`` is V(0) before calibration: 1/2, the QCFS shift phi that makes T = L steps reproduce
    QCFS (the paper's), or 0 (SpikingJelly's default). ``carry`` is the alpha of CRPI's cross-step
    residual potential initialisation (Xu et al., ICML 2026): with alpha > 0 a neuron starts the next
    observation of an episode at initial + clip(alpha (max(sum_t C(t), 0) - N), -1/2, 1/2), the charge
    of the last T steps that it did not turn into its N spikes; with 0 every observation starts afresh.
    """

    initial: float = 0.5
    carry: float = 0.0

    def __post_init__(self):
        if not (0.0 <= self.initial < 1.0 and 0.0 <= self.carry <= 1.0):
            raise ValueError(f"need 0 <= initial < threshold = 1 and 0 <= carry <= 1, got {self}")

    @functools.cached_property
    def kernel(self) -> tuple[np.float32, np.float32]:
        """(initial, carry) as the compiled layers read them."""
        return np.float32(self.initial), np.float32(self.carry)


NO_ERROR_COUNT = torch.empty(0)  # the error spikes of a simulation that skipped them
EMPTY_3D = np.empty((0, 0, 0), dtype=np.float32)  # no plastic rows, no perturbation
NO_PLASTIC_ROWS = PlasticRows(-1, EMPTY_3D, EMPTY_3D)
NO_VARIANTS = np.zeros(1, dtype=np.int64)  # what the kernels read for the variants of no plastic layer


class SpikingActor(nn.Module):
    """IF spiking actor converted from a QCFS :class:`MLPActor`.

    Conversion maps each QCFS threshold lambda_l to the IF threshold theta_l and folds it
    into the weights, so hidden layers exchange binary spikes with threshold 1:
    ``W'_l = W_l lambda_{l-1} / lambda_l`` and ``b'_l = b_l / lambda_l`` (the first layer
    divides the analog observation current by lambda_1). Neurons start at V(0) = theta/2.
    The action is read as the average postsynaptic potential of the output layer over T
    steps (eq. 10), passed through the actor's tanh.

    The source weights and thresholds are kept, so the source QCFS network, and with it
    the error-spike count of Algorithm 2, is always available.
    """

    def __init__(
        self,
        weights: list[torch.Tensor],
        biases: list[torch.Tensor],
        thresholds: list[float],
        levels: int,
        timesteps: int = 4,
        max_action: float = 1.0,
        calibration: CalibrationConfig = CalibrationConfig(),
    ):
        super().__init__()
        if len(weights) != len(biases) or len(thresholds) != len(weights) - 1:
            raise ValueError(
                f"need one bias per weight and one threshold per hidden layer, got "
                f"{len(weights)} weights, {len(biases)} biases, {len(thresholds)} thresholds"
            )
        if not 1 <= timesteps <= MAX_TIMESTEPS:
            raise ValueError(f"timesteps must be in 1..{MAX_TIMESTEPS}, got {timesteps}")
        if levels < 1 or not (max_action > 0 and math.isfinite(max_action)):
            raise ValueError(f"need levels >= 1 and a positive max_action, got {levels}, {max_action}")
        if any(not (float(t) > 0 and math.isfinite(float(t))) for t in thresholds):
            raise ValueError(f"thresholds must be positive, got {thresholds}")
        for i, weight in enumerate(weights):
            self.register_buffer(f"weight{i}", weight.detach().clone())
            self.register_buffer(f"bias{i}", biases[i].detach().clone())
        self.register_buffer("thresholds", torch.tensor([float(t) for t in thresholds]))
        self.levels = levels
        self.timesteps = timesteps
        self.max_action = max_action
        self.calibration = calibration
        self.membrane = Membrane()
        self.fold_thresholds()
        self.register_load_state_dict_post_hook(lambda module, _keys: module.fold_thresholds())

    @classmethod
    def from_qcfs(cls, actor: MLPActor, timesteps: int = 4, calibration=CalibrationConfig()) -> "SpikingActor":
        """Convert a trained QCFS actor."""
        if actor.activation != "qcfs":
            raise ValueError("only a QCFS actor converts losslessly; this actor uses " + actor.activation)
        levels = {a.levels for a in actor.activations}
        shifts = {a.shift for a in actor.activations}
        if len(levels) != 1 or shifts != {0.5}:
            raise ValueError(f"conversion needs one L for all layers and phi = 1/2, got L={levels}, phi={shifts}")
        return cls(
            weights=[linear.weight for linear in actor.linears],
            biases=[linear.bias for linear in actor.linears],
            thresholds=[a.lam.item() for a in actor.activations],
            levels=levels.pop(),
            timesteps=timesteps,
            max_action=actor.max_action,
            calibration=calibration,
        )

    def config(self) -> dict:
        """Constructor arguments other than the tensors, for checkpoints."""
        return {
            "levels": self.levels,
            "timesteps": self.timesteps,
            "max_action": self.max_action,
            "calibration": asdict(self.calibration),
        }

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor], **config) -> "SpikingActor":
        """Rebuild an actor from its ``state_dict`` and :meth:`config`."""
        depth = sum(name.startswith("weight") for name in tensors)
        return cls(
            weights=[tensors[f"weight{i}"] for i in range(depth)],
            biases=[tensors[f"bias{i}"] for i in range(depth)],
            thresholds=tensors["thresholds"].tolist(),
            levels=int(config["levels"]),
            timesteps=int(config["timesteps"]),
            max_action=float(config["max_action"]),
            calibration=CalibrationConfig(**config["calibration"]),
        )

    @property
    def depth(self) -> int:
        return len(self.thresholds) + 1

    def source_weights(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [(getattr(self, f"weight{i}"), getattr(self, f"bias{i}")) for i in range(self.depth)]

    def _apply(self, fn, *args, **kwargs):
        module = super()._apply(fn, *args, **kwargs)
        self.fold_thresholds()
        return module

    def _fold_scale(self, layer: int) -> torch.Tensor:
        """lambda_{l-1} / lambda_l of weight layer ``layer`` (1 for the observation and the read-out)."""
        one = self.thresholds.new_ones(1)
        return torch.cat([one, self.thresholds])[layer] / torch.cat([self.thresholds, one])[layer]

    def fold_thresholds(self) -> None:
        """Recompute the spiking weights from the source weights (after moving, loading or editing them),
        and the float32 arrays the compiled layers read: each layer transposed, a spike's row contiguous."""
        one = self.thresholds.new_ones(1)
        scale_out = torch.cat([self.thresholds, one])  # lambda_l, 1 for the read-out
        self._folded = [
            (weight * self._fold_scale(i), bias / scale_out[i]) for i, (weight, bias) in enumerate(self.source_weights())
        ]
        self._kernel_layers = tuple(zip(*[(_array(weight.T), _array(bias)) for weight, bias in self._folded]))
        self._source_layers = tuple(zip(*[(_array(weight.T), _array(bias)) for weight, bias in self.source_weights()]))
        self._source_thresholds = _array(self.thresholds)

    def folded_weight(self, layer: int) -> torch.Tensor:
        """The spiking network's weight layer ``layer`` (threshold 1 on both sides), a copy."""
        return self._folded[layer][0].clone()

    def folded_bias(self, layer: int) -> torch.Tensor:
        """The spiking network's bias of weight layer ``layer`` (in units of the threshold it drives), a copy."""
        return self._folded[layer][1].clone()

    def set_folded_weight(self, layer: int, weight: torch.Tensor) -> None:
        """Set weight layer ``layer`` from its spiking form: the source QCFS layer follows, so the
        source network (and with it adaptive I's error spikes) stays the one this network converts."""
        getattr(self, f"weight{layer}").copy_(weight / self._fold_scale(layer))
        self.fold_thresholds()

    def source_rates(self, obs: torch.Tensor, weights: dict[int, torch.Tensor] | PlasticRows | None = None,
                     variants: np.ndarray | None = None) -> list[torch.Tensor]:
        """a_l / lambda_l of every hidden layer of the source QCFS network, exactly (level / L);
        ``weights`` and ``variants`` as in :meth:`simulate`."""
        x = _array(obs).reshape(-1, obs.shape[-1])
        plastic = self.plastic_rows(weights)
        rates = tuple(np.empty((len(x), len(bias)), dtype=np.float32) for bias in self._source_layers[1][:-1])
        if_layers.source_rates(x, *self._source_layers, self._source_thresholds, self.levels, plastic.source_t,
                               plastic.layer, _variants(variants, len(x), plastic), rates)
        return [torch.from_numpy(rate.reshape(*obs.shape[:-1], -1)) for rate in rates]

    def plastic_rows(self, weights: dict[int, torch.Tensor] | PlasticRows | None) -> PlasticRows:
        """The one weight layer ``{k: [variants, out, in]}`` (spiking units, as :meth:`folded_weight`) that
        replaces layer k >= 1 row by row, as the compiled layers read it; a :class:`PlasticRows` as it is."""
        if isinstance(weights, PlasticRows):
            return weights
        if not weights:
            return NO_PLASTIC_ROWS
        if len(weights) > 1:
            raise ValueError("one weight layer at most can be replaced per row")
        if 0 in weights:
            raise ValueError("only weight layers between spiking neurons (k >= 1) can be replaced per row")
        layer, rows = next(iter(weights.items()))
        folded = _array(rows)
        source = folded / self._fold_scale(layer).numpy()  # lambda_{l-1} / lambda_l unfolded
        return PlasticRows(layer, _array(folded.transpose(0, 2, 1)), _array(source.transpose(0, 2, 1)))

    def source_action(self, obs: torch.Tensor) -> torch.Tensor:
        """The action of the source QCFS network."""
        weight, bias = self.source_weights()[-1]
        hidden = self.source_rates(obs)[-1] * self.thresholds[-1]
        return self.max_action * torch.tanh(hidden @ weight.T + bias)

    @property
    def steps(self) -> int:
        """Simulated steps per observation: T, or rho where calibration needs more."""
        return max(self.timesteps, self.calibration.rho)

    def starts(self, batch: int) -> tuple[np.ndarray, ...]:
        """Every hidden layer's uncalibrated V(0) ``[batch, neurons]`` at an episode's first observation."""
        return tuple(np.full((batch, len(bias)), self.membrane.initial, dtype=np.float32)
                     for bias in self._kernel_layers[1][:-1])

    def _checked_starts(self, starts: tuple[np.ndarray, ...] | None, rows: int) -> tuple[np.ndarray, ...]:
        if starts is None:
            return self.starts(rows)
        shapes = [(rows, len(bias)) for bias in self._kernel_layers[1][:-1]]
        if [getattr(s, "shape", None) for s in starts] != shapes or any(
                s.dtype != np.float32 or not s.flags.c_contiguous for s in starts):
            raise ValueError(f"starts must be float32 arrays shaped {shapes}, as starts({rows}) makes them")
        return tuple(starts)

    def simulate(self, obs: torch.Tensor, iterations: int | torch.Tensor = 0, errors: bool = True,
                 weights: dict[int, torch.Tensor] | PlasticRows | None = None,
                 noise: dict[int, torch.Tensor] | None = None, variants: np.ndarray | None = None,
                 starts: tuple[np.ndarray, ...] | None = None) -> ActorSimulation:
        """Run the spiking actor on ``obs`` ``[batch, obs_dim]`` with I calibration passes.

        ``errors=False`` skips the error-spike count against the source network (it runs the
        source network too), leaving ``error_spikes`` empty: the fast path of a fixed I.
        ``weights`` {k: [variants, out, in]} replaces spiking weight layer k >= 1 row by row (a
        population of plastic variants, in :meth:`folded_weight`'s units, or those
        :meth:`plastic_rows` made of them): row b takes variant ``variants[b]`` (default: variant b).
        ``noise`` {k: [steps,
        batch, neurons]} joins the current that weight layer k brings into hidden layer k (0 =
        first), before that layer calibrates and fires: node perturbation, for exploring online.

        Layers are calibrated in order (Algorithm 1), each on the spikes its calibrated
        predecessor really emits, then run for T steps. With rho > T the layers run rho
        steps so that the next layer has rho steps of input to calibrate on. The layers run
        compiled (:mod:`snn_policy_node.engine.if_layers`), in float32.

        ``starts`` (from :meth:`starts`, one row per observation) carry each neuron's start from one
        observation of an episode to the next, updated in place, as :attr:`membrane` says; without
        them every observation is an episode's first.
        """
        noise, steps, config = noise or {}, self.steps, self.calibration
        if len(noise) > 1:
            raise ValueError("one hidden layer at most can be perturbed")
        x = _array(obs).reshape(-1, obs.shape[-1])
        rows = _iterations(iterations, len(x))
        plastic = self.plastic_rows(weights)
        noise_layer, perturbation = next(iter(noise.items()), (-1, None))
        if perturbation is not None:
            perturbation = np.ascontiguousarray(np.broadcast_to(
                _array(perturbation).reshape(steps, -1, perturbation.shape[-1]), (steps, len(x), perturbation.shape[-1])))
        weights_t, biases = self._kernel_layers
        spikes = tuple(np.empty((steps, len(x), len(bias)), dtype=np.float32) for bias in biases[:-1])
        readout = np.empty((steps, len(x), len(biases[-1])), dtype=np.float32)
        action = np.empty((len(x), len(biases[-1])), dtype=np.float32)
        arguments = (x, weights_t, biases, plastic.folded_t, plastic.layer, _variants(variants, len(x), plastic),
                     EMPTY_3D if perturbation is None else perturbation, noise_layer, rows, config.rho,
                     config.kernel_epsilon, config.accumulate, self._checked_starts(starts, len(x)),
                     self.membrane.kernel, spikes, readout, self.timesteps,
                     np.float32(self.max_action), action)
        counts = None
        if errors:
            rates = tuple(np.empty((len(x), len(bias)), dtype=np.float32) for bias in biases[:-1])
            counts = np.empty((len(x), len(spikes)), dtype=np.float32)
            if_layers.actor_forward_counting_errors(*arguments, *self._source_layers, self._source_thresholds, self.levels,
                                                    plastic.source_t, rates, counts)
        else:
            if_layers.actor_forward(*arguments)
        lead, steps_kept = tuple(obs.shape[:-1]), self.timesteps
        return ActorSimulation(
            action=torch.from_numpy(action.reshape(*lead, -1)),
            spikes=[torch.from_numpy(s[:steps_kept].reshape(steps_kept, *lead, -1)) for s in spikes],
            error_spikes=NO_ERROR_COUNT if counts is None else torch.from_numpy(counts.reshape(*lead, -1)))

    def forward(self, obs: torch.Tensor, iterations: int | torch.Tensor = 0) -> torch.Tensor:
        return self.simulate(obs, iterations).action


class ActorRunner:
    """One observation at a time through the compiled layers, every buffer made once: the control
    loop's path, free of tensor bookkeeping. Its kernel arguments are made once too, and made again
    when the actor's folded layers, calibration or membrane change, so weight updates show; the
    buffers hold the last step's results until the next :meth:`run`, and :attr:`starts` what a
    carrying membrane takes to the next observation until :meth:`reset`."""

    def __init__(self, actor: SpikingActor):
        self.actor = actor
        steps, biases = actor.steps, actor._kernel_layers[1]
        self._obs = np.zeros((1, actor.weight0.shape[1]), dtype=np.float32)
        self._iterations = np.zeros(1, dtype=np.int64)
        self.starts = actor.starts(1)
        self.spikes = tuple(np.empty((steps, 1, len(bias)), dtype=np.float32) for bias in biases[:-1])
        self.kept_spikes = tuple(s[: actor.timesteps] for s in self.spikes)  # the T steps the read-out averages
        self._readout = np.empty((steps, 1, len(biases[-1])), dtype=np.float32)
        self.action = np.empty((1, len(biases[-1])), dtype=np.float32)
        self._action_row = self.action[0]
        self._rates = tuple(np.empty((1, len(bias)), dtype=np.float32) for bias in biases[:-1])
        self.error_spikes = np.empty((1, len(self.spikes)), dtype=np.float32)
        self._bound = None

    def _bind(self) -> None:
        """The kernels' arguments for the actor's layers and calibration as they are now."""
        actor, config = self.actor, self.actor.calibration
        weights_t, biases = actor._kernel_layers
        self._bound = actor._kernel_layers, config, actor.membrane
        self._arguments = (self._obs, weights_t, biases, EMPTY_3D, -1, NO_VARIANTS, EMPTY_3D, -1, self._iterations,
                           config.rho, config.kernel_epsilon, config.accumulate, self.starts, actor.membrane.kernel,
                           self.spikes, self._readout,
                           actor.timesteps, np.float32(actor.max_action), self.action)
        self._error_arguments = (*actor._source_layers, actor._source_thresholds, actor.levels, EMPTY_3D, self._rates,
                                 self.error_spikes)

    def run(self, obs: np.ndarray, iterations: int, errors: bool = False, noise: np.ndarray | None = None,
            noise_layer: int = -1) -> np.ndarray:
        """The action ``[act_dim]`` of one observation with I = ``iterations`` (a view of the buffer);
        spikes in :attr:`spikes`, and with ``errors`` Algorithm 2's counts in :attr:`error_spikes`.
        ``noise`` ``[steps, 1, neurons]`` joins the current into hidden layer ``noise_layer``."""
        bound = self._bound
        if (bound is None or bound[0] is not self.actor._kernel_layers or bound[1] is not self.actor.calibration
                or bound[2] is not self.actor.membrane):
            self._bind()
        self._obs[0] = obs
        self._iterations[0] = iterations
        arguments = self._arguments
        if noise is not None:
            arguments = (*arguments[:6], noise, noise_layer, *arguments[8:])
        if errors:
            if_layers.actor_forward_counting_errors(*arguments, *self._error_arguments)
        else:
            if_layers.actor_forward(*arguments)
        return self._action_row

    def reset(self) -> None:
        """Start the next observation as an episode's first (what :attr:`SpikingActor.membrane` carries is dropped)."""
        for start in self.starts:
            start.fill(self.actor.membrane.initial)

    def simulation(self) -> ActorSimulation:
        """The last run as an :class:`ActorSimulation` of tensors sharing the buffers (for plasticity)."""
        steps = self.actor.timesteps
        return ActorSimulation(action=torch.from_numpy(self.action),
                               spikes=[torch.from_numpy(s[:steps]) for s in self.spikes],
                               error_spikes=torch.from_numpy(self.error_spikes))


def _variants(variants: np.ndarray | None, rows: int, plastic: PlasticRows) -> np.ndarray:
    """The plastic variant of every batch row, as the compiled layers read it."""
    if plastic.layer < 0:
        return NO_VARIANTS
    if variants is None:
        if len(plastic.folded_t) != rows:
            raise ValueError(f"{len(plastic.folded_t)} plastic variants for {rows} rows: pass variants")
        return np.arange(rows)
    variants = np.ascontiguousarray(variants, dtype=np.int64)
    if variants.shape != (rows,) or (rows and not 0 <= variants.min() <= variants.max() < len(plastic.folded_t)):
        raise ValueError(f"variants must give each of the {rows} rows one of the {len(plastic.folded_t)} variants")
    return variants


def _iterations(iterations: int | torch.Tensor, rows: int) -> np.ndarray:
    """I per batch row, as the compiled layers read it."""
    if isinstance(iterations, int):
        return np.full(rows, iterations, dtype=np.int64)
    if isinstance(iterations, np.ndarray) and iterations.shape == (rows,) and iterations.dtype == np.int64:
        return iterations  # adaptive I's own array
    return np.ascontiguousarray(np.broadcast_to(np.asarray(iterations, dtype=np.int64), (rows,)))


def _array(values: torch.Tensor | np.ndarray) -> np.ndarray:
    """A C-contiguous float32 array of ``values`` (a view where it already is one)."""
    if torch.is_tensor(values):
        values = values.detach().numpy()
    if values.dtype == np.float32 and values.flags.c_contiguous:
        return values
    return np.ascontiguousarray(values, dtype=np.float32)
