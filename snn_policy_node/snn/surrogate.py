"""Surrogate-gradient spike function for training spiking networks with backpropagation."""

import torch


class SuperSpike(torch.autograd.Function):
    """Heaviside step forward, fast-sigmoid derivative 1 / (scale |x| + 1)^2 backward.

    This is the surrogate of SpyTorch, with which the DSQN of paper 004 was trained
    (scale = 100). The forward pass fires only when the input is strictly positive.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.scale = scale
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (x,) = ctx.saved_tensors
        return grad_output / (ctx.scale * x.abs() + 1.0) ** 2, None


def spike(x: torch.Tensor, scale: float = 100.0) -> torch.Tensor:
    """Spike where ``x > 0`` with the SuperSpike surrogate gradient.

    Without a gradient to carry (inference), the plain comparison skips autograd's overhead,
    which dominates the cost of a batch-of-one forward pass.
    """
    if not (torch.is_grad_enabled() and x.requires_grad):
        return (x > 0).to(x.dtype)
    return SuperSpike.apply(x, scale)
