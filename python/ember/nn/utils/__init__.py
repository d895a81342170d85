"""Gradient utilities: clipping, and flattening parameters into one vector."""

from __future__ import annotations

import math
from collections.abc import Iterable

from ...autograd.grad_mode import no_grad
from ...creation import tensor
from ...ops import cat, stack
from ...tensor import Tensor


def _with_grads(parameters) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters: Iterable[Tensor] | Tensor, max_norm: float,
                    norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    """Rescale the gradients so that their joint ``norm_type``-norm is at most ``max_norm``.

    The norm is taken over all gradients as if they were one vector:
    ``total = (sum_p ||g_p||^q)^(1/q)``; every gradient is multiplied by
    ``min(1, max_norm / (total + 1e-6))`` in place. Returns the total norm (before
    clipping), like PyTorch -- log it to watch for exploding gradients.
    """
    grads = [p.grad for p in _with_grads(parameters)]
    if not grads:
        return tensor(0.0)
    norm_type = float(norm_type)
    with no_grad():
        norms = stack([g.detach().norm(norm_type) for g in grads])
        total = norms.amax() if math.isinf(norm_type) else norms.norm(norm_type)
        value = total.item()
        if error_if_nonfinite and not math.isfinite(value):
            raise RuntimeError(
                f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is "
                f"{value}; set error_if_nonfinite=False to clip anyway"
            )
        scale = max_norm / (value + 1e-6)
        if scale < 1.0:
            for g in grads:
                g.mul_(scale)
    return total


def clip_grad_value_(parameters: Iterable[Tensor] | Tensor, clip_value: float) -> None:
    """Clamp every gradient element into [-clip_value, clip_value], in place."""
    if clip_value < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be non-negative, got {clip_value}")
    with no_grad():
        for p in _with_grads(parameters):
            p.grad.clamp_(-clip_value, clip_value)


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and joined into one 1-d tensor."""
    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of ``vec`` into the parameters (in place)."""
    params = list(parameters)
    total = sum(p.numel() for p in params)
    if vec.ndim != 1 or vec.numel() != total:
        raise ValueError(f"vector_to_parameters: expected a 1-d tensor of {total} elements, got "
                         f"shape {vec.shape}")
    start = 0
    with no_grad():
        for p in params:
            n = p.numel()
            p.copy_(vec[start:start + n].reshape(p.shape))
            start += n
from . import rnn  # noqa: E402,F401 - torch.nn.utils.rnn.pad_sequence
