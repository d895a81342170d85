"""Loss primitives that need their own backward for numerical stability."""

from __future__ import annotations

from ..autograd.function import Function
from ..tensor import Tensor


class BinaryCrossEntropy(Function):
    # l = -(t log p + (1 - t) log(1 - p)), each log clamped at -100 (as PyTorch does)
    # dl/dp = (p - t) / max(p (1 - p), 1e-12)   (finite even at p = 0 or 1)
    # dl/dt = log(1 - p) - log p                 (with the same clamps)
    @staticmethod
    def forward(ctx, p, t):
        b = ctx.backend
        ctx.save_for_backward(p, t)
        lo = p.dtype.type(-100)
        log_p = b.maximum(b.log(p), lo)
        log_1mp = b.maximum(b.log(b.sub(p.dtype.type(1), p)), lo)
        return b.neg(b.add(b.mul(t, log_p), b.mul(b.sub(p.dtype.type(1), t), log_1mp)))

    @staticmethod
    def backward(ctx, g):
        from .elementwise import clamp, log

        p, t = ctx.saved_tensors
        gp = gt = None
        if ctx.needs_input_grad[0]:
            gp = g * (p - t) / clamp(p * (1 - p), min=1e-12)
        if ctx.needs_input_grad[1]:
            gt = g * (clamp(log(1 - p), min=-100) - clamp(log(p), min=-100))
        return gp, gt


def binary_cross_entropy_elementwise(p: Tensor, t: Tensor) -> Tensor:
    """The unreduced binary cross-entropy of probabilities ``p`` against targets ``t``."""
    return BinaryCrossEntropy.apply(p, t)
