"""QCFS activation (paper 000, eq. 14) and the MLP actor it is trained in."""

from collections.abc import Sequence

import torch
from torch import nn


class _FloorSTE(torch.autograd.Function):
    """Floor forward, identity backward (straight-through estimator)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return torch.floor(x)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> torch.Tensor:
        return grad_output


class QCFS(nn.Module):
    """Quantization clip-floor-shift: ``lam / L * clip(floor(z L / lam + phi), 0, L)``.

    ``lam`` is learned (its gradient comes from autograd; the derivative printed in the
    QCFS paper is known to be wrong). After conversion ``lam`` becomes the IF threshold,
    and with ``phi = 1/2`` and T = L time steps an IF neuron starting at half its threshold
    fires exactly ``L * a / lam`` spikes for a constant input.
    """

    def __init__(self, levels: int = 4, lambda_init: float = 8.0, shift: float = 0.5):
        super().__init__()
        if levels < 1:
            raise ValueError(f"QCFS needs at least one quantization level, got {levels}")
        self.levels = levels
        self.shift = shift
        self.lam = nn.Parameter(torch.tensor(float(lambda_init)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        steps = _FloorSTE.apply(z / self.lam * self.levels + self.shift)
        return torch.clamp(steps, 0, self.levels) * self.lam / self.levels

    def extra_repr(self) -> str:
        return f"levels={self.levels}, shift={self.shift}, lam={self.lam.item():.4g}"


class MLPActor(nn.Module):
    """Deterministic TD3 actor: hidden layers, then ``max_action * tanh(out)``.

    ``activation`` is ``"relu"`` (the ANN baseline) or ``"qcfs"`` (the source network for
    ANN-to-SNN conversion).
    """

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        hidden: Sequence[int] = (256, 256),
        activation: str = "qcfs",
        levels: int = 4,
        lambda_init: float = 8.0,
        max_action: float = 1.0,
    ):
        super().__init__()
        if activation not in ("relu", "qcfs"):
            raise ValueError(f"activation must be 'relu' or 'qcfs', got {activation!r}")
        sizes = [obs_dim, *hidden, act_dim]
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.activations = nn.ModuleList(
            QCFS(levels, lambda_init) if activation == "qcfs" else nn.ReLU() for _ in hidden
        )
        self.activation = activation
        self.max_action = max_action

    def hidden_activations(self, obs: torch.Tensor) -> list[torch.Tensor]:
        """Outputs of every hidden layer, for comparing against a converted network."""
        outputs, x = [], obs
        for linear, activation in zip(self.linears, self.activations):
            x = activation(linear(x))
            outputs.append(x)
        return outputs

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        last_hidden = self.hidden_activations(obs)[-1] if len(self.activations) else obs
        return self.max_action * torch.tanh(self.linears[-1](last_hidden))
