"""Deep Spiking Q-Network (paper 004, section 2.3)."""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from snn_policy_node.engine import lif_layers
from snn_policy_node.snn.neurons import MAX_TIMESTEPS, SynapticLIF

EMPTY_3D = np.empty((0, 0, 0), dtype=np.float32)  # no perturbation


def two_neuron_encoding(obs: torch.Tensor) -> torch.Tensor:
    """Give each observation a positive and a negative input neuron: x -> (x, 0) or (0, |x|).

    The layout is ``[relu(obs), relu(-obs)]`` along the last axis.
    """
    return torch.cat([obs.clamp(min=0), (-obs).clamp(min=0)], dim=-1)


def _over_time(spikes: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``spikes`` ``[T, ..., batch, in]`` through ``weight`` ``[..., out, in]``: ``[T, ..., batch, out]``.

    The T steps become rows of one matrix product per weight matrix; broadcasting T against a
    population's ``[runs, out, in]`` would copy every weight matrix once per step.
    """
    if spikes.dim() == 2:  # one observation without a batch axis
        return _over_time(spikes.unsqueeze(1), weight).squeeze(1)
    steps, rows, n_in = spikes.shape[0], spikes.shape[-2], spikes.shape[-1]
    lead = torch.broadcast_shapes(spikes.shape[1:-2], weight.shape[:-2])
    spikes = spikes.reshape(steps, *[1] * (len(lead) + 3 - spikes.dim()), *spikes.shape[1:])
    stacked = spikes.expand(steps, *lead, rows, n_in).movedim(0, -3).reshape(*lead, steps * rows, n_in)
    return (stacked @ weight.mT).reshape(*lead, steps, rows, weight.shape[-2]).movedim(-3, 0)


@dataclass
class DSQNSimulation:
    """What one DSQN forward pass produced."""

    q_values: torch.Tensor  # [batch, actions]
    spikes: list[torch.Tensor]  # per hidden layer, [T, batch, neurons]


class DSQN(nn.Module):
    """Spiking Q-network: two-neuron encoding, LIF hidden layers, non-spiking read-out.

    The encoded observation is injected as a constant current into the first hidden layer
    for T steps; the Q-values are the read-out neurons' potentials at the last step. The
    state is reset for every observation. Layers have no biases, as in the authors' code.
    """

    def __init__(
        self,
        obs_dim: int,
        n_actions: int,
        hidden: Sequence[int] = (64, 64),
        alpha: float = 0.8,
        beta: float = 0.8,
        threshold: float = 0.5,
        timesteps: int = 8,
        surrogate_scale: float = 100.0,
    ):
        super().__init__()
        if not 1 <= timesteps <= MAX_TIMESTEPS or not hidden:
            raise ValueError(f"need 1 <= timesteps <= {MAX_TIMESTEPS} and at least one hidden layer, "
                             f"got {timesteps}, {hidden}")
        if not (threshold > 0 and math.isfinite(threshold)) or not (0 <= alpha <= 1 and 0 <= beta <= 1):
            raise ValueError(f"need a positive threshold and decays in [0, 1], got threshold {threshold}, "
                             f"alpha {alpha}, beta {beta}")
        sizes = [2 * obs_dim, *hidden, n_actions]
        self.layers = nn.ModuleList(nn.Linear(a, b, bias=False) for a, b in zip(sizes[:-1], sizes[1:]))
        for layer in self.layers:
            nn.init.normal_(layer.weight, std=layer.in_features**-0.5)
        self.hidden_neurons = [SynapticLIF(alpha, beta, threshold, True, surrogate_scale) for _ in hidden]
        self.readout = SynapticLIF(alpha, beta, threshold, spiking=False)
        self.obs_dim, self.n_actions, self.hidden = obs_dim, n_actions, tuple(hidden)
        self.alpha, self.beta, self.threshold = alpha, beta, threshold
        self.timesteps, self.surrogate_scale = timesteps, surrogate_scale
        self._lif_constants = np.float32(alpha), np.float32(beta), np.float32(threshold)  # as the kernels take them
        self._transposed = TransposedWeights()  # the weights as the kernels read them

    def config(self) -> dict:
        """Constructor arguments, for checkpoints."""
        return {
            "obs_dim": self.obs_dim,
            "n_actions": self.n_actions,
            "hidden": list(self.hidden),
            "alpha": self.alpha,
            "beta": self.beta,
            "threshold": self.threshold,
            "timesteps": self.timesteps,
            "surrogate_scale": self.surrogate_scale,
        }

    def simulate(self, obs: torch.Tensor, weights: list[torch.Tensor] | None = None,
                 noise: dict[int, torch.Tensor] | None = None) -> DSQNSimulation:
        """Q-values and hidden spikes for ``obs`` ``[..., batch, obs_dim]``, from a reset state.

        ``weights`` replaces the layers' weights, for instance by a population of variants
        ``[runs, out, in]`` of each layer, with ``obs`` ``[runs, batch, obs_dim]``. ``noise``
        {k: [T, ..., neurons]} is added to the input current of hidden layer k (0 = first), the
        current that weight layer k brings: node perturbation, for exploring online.

        Inference runs the compiled layers (:mod:`snn_policy_node.engine.lif_layers`); a pass
        that needs gradients (training) runs the neurons step by step in tensors, with the
        surrogate gradient of the spikes.
        """
        weights = weights if weights is not None else [layer.weight for layer in self.layers]
        noise = noise or {}
        if torch.is_grad_enabled() and (obs.requires_grad or any(w.requires_grad for w in weights)):
            return self._simulate_tensors(obs, weights, noise)
        return self._simulate_compiled(obs, weights, noise)

    def _simulate_tensors(self, obs, weights, noise) -> DSQNSimulation:
        drive = two_neuron_encoding(obs) @ weights[0].mT
        currents = drive.expand(self.timesteps, *drive.shape)
        spikes = []
        for k, (neuron, weight) in enumerate(zip(self.hidden_neurons, weights[1:])):
            spikes.append(neuron.run(currents + noise[k] if k in noise else currents))
            currents = _over_time(spikes[-1], weight)
        q_values = self.readout.run(currents)[-1]
        return DSQNSimulation(q_values=q_values, spikes=spikes)

    def _simulate_compiled(self, obs, weights, noise) -> DSQNSimulation:
        """The batch axes flattened into rows, each row with the index of its weights in every layer."""
        if len(noise) > 1:
            raise ValueError("one hidden layer at most can be perturbed")
        x = obs.detach().numpy().astype(np.float32, copy=False)
        x = x[None] if x.ndim == 1 else x
        lead = np.broadcast_shapes(x.shape[:-2], *(w.shape[:-2] for w in weights))
        batch, rows = x.shape[-2], math.prod(lead) * x.shape[-2]
        encoded = np.concatenate([np.maximum(x, 0), np.maximum(-x, 0)], axis=-1)
        if lead:
            encoded = np.ascontiguousarray(np.broadcast_to(encoded, (*lead, batch, encoded.shape[-1]))).reshape(rows, -1)
            indices = tuple(_row_indices(w.shape[:-2], lead, batch) for w in weights)
        else:  # one network for every row
            indices = (np.zeros(rows, dtype=np.int64),) * len(weights)
        layers = tuple(self._transposed(w) for w in weights)
        noise_layer, perturbation = next(iter(noise.items()), (-1, None))
        if perturbation is not None:
            perturbation = np.ascontiguousarray(np.broadcast_to(
                perturbation.numpy(), (self.timesteps, *lead, batch, perturbation.shape[-1]))).reshape(self.timesteps, rows, -1)
        spikes = tuple(np.empty((self.timesteps, rows, n), dtype=np.float32) for n in self.hidden)
        q_values = np.empty((rows, self.n_actions), dtype=np.float32)
        lif_layers.dsqn_forward(encoded, layers, indices, EMPTY_3D if perturbation is None else perturbation,
                                noise_layer, *self._lif_constants, spikes, q_values)
        shape = (*lead, batch) if obs.dim() > 1 else ()
        return DSQNSimulation(q_values=torch.from_numpy(q_values.reshape(*shape, -1)),
                              spikes=[torch.from_numpy(s.reshape(self.timesteps, *shape, -1)) for s in spikes])

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.simulate(obs).q_values


class DSQNRunner:
    """One observation at a time through the compiled layers, every buffer made once: the control
    loop's path, free of tensor bookkeeping. It reads the model's own weight tensors, so updates
    in place (r-STDP) show; the buffers hold the last step's results until the next :meth:`run`."""

    def __init__(self, model: DSQN):
        self.model = model
        self._weights = [layer.weight for layer in model.layers]
        self._encoded = np.zeros((1, 2 * model.obs_dim), dtype=np.float32)
        self._rows = (np.zeros(1, dtype=np.int64),) * len(self._weights)
        self.spikes = tuple(np.empty((model.timesteps, 1, n), dtype=np.float32) for n in model.hidden)
        self.kept_spikes = self.spikes  # every simulated step counts (as the actor runner's T of its steps)
        self.q_values = np.empty((1, model.n_actions), dtype=np.float32)

    def run(self, obs: np.ndarray, noise: np.ndarray | None = None, noise_layer: int = -1) -> np.ndarray:
        """The Q-values ``[actions]`` of one observation (a view of the buffer); spikes in :attr:`spikes`.
        ``noise`` ``[timesteps, 1, neurons]`` (float32) joins the current into hidden layer ``noise_layer``."""
        half = self.model.obs_dim
        np.maximum(obs, 0.0, out=self._encoded[0, :half], casting="unsafe")
        np.maximum(np.negative(obs), 0.0, out=self._encoded[0, half:], casting="unsafe")
        layers = tuple(self.model._transposed(w) for w in self._weights)
        lif_layers.dsqn_forward(self._encoded, layers, self._rows, EMPTY_3D if noise is None else noise, noise_layer,
                                *self.model._lif_constants, self.spikes, self.q_values)
        return self.q_values[0]

    def simulation(self) -> DSQNSimulation:
        """The last run as a :class:`DSQNSimulation` of tensors sharing the buffers (for plasticity)."""
        return DSQNSimulation(q_values=torch.from_numpy(self.q_values),
                              spikes=[torch.from_numpy(s) for s in self.spikes])


class TransposedWeights:
    """Weight tensors ``[..., out, in]`` as the synapses read them, ``[variants, in, out]`` float32 (a
    spike's row contiguous), each made once and kept while its tensor is neither replaced nor changed
    in place: torch counts every in-place change (an optimiser's step, an r-STDP update) in the
    tensor's version. The kept tensors stay referenced, so their memory cannot pass to a new one."""

    KEEP = 8  # tensors kept: a model's layers and a population's

    def __init__(self):
        self._kept: dict[int, tuple[torch.Tensor, int, np.ndarray]] = {}

    def __call__(self, weight: torch.Tensor) -> np.ndarray:
        kept = self._kept.get(id(weight))
        if kept is not None and kept[0] is weight and kept[1] == weight._version:
            return kept[2]
        array = weight.detach().reshape(-1, *weight.shape[-2:]).mT.contiguous().to(torch.float32).numpy()
        if len(self._kept) >= self.KEEP:
            self._kept.pop(next(iter(self._kept)))
        self._kept[id(weight)] = weight, weight._version, array
        return array


def _row_indices(weight_lead: tuple[int, ...], lead: tuple[int, ...], batch: int) -> np.ndarray:
    """For every row of the flattened ``[*lead, batch]``, the index of its variant among ``weight_lead``."""
    if not weight_lead:
        return np.zeros(math.prod(lead) * batch, dtype=np.int64)
    variants = np.arange(math.prod(weight_lead)).reshape(weight_lead)
    return np.repeat(np.broadcast_to(variants, lead).ravel(), batch)
