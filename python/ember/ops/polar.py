"""The two functions of a point (x, y): its angle ``atan2(y, x)`` and its length
``hypot(x, y)``."""

from __future__ import annotations

import numpy as np

from .. import dtypes as _dt
from ..autograd.function import Function
from ..tensor import Tensor
from ._util import binary_operands
from .elementwise import where
from .shape import sum_to


class Atan2(Function):
    # z = atan2(y, x), the angle of (x, y) in (-pi, pi]
    #   ->  dy = g x / (x^2 + y^2),  dx = -g y / (x^2 + y^2)  (0 at the origin, as PyTorch)
    # The backends have no arctan kernel: the value is computed on the host (NumPy) and
    # placed back on the input's device; the gradient is Tensor ops.
    @staticmethod
    def forward(ctx, y, x):
        ctx.save_for_backward(y, x)
        be = ctx.backend
        out = np.arctan2(be.to_numpy(y), be.to_numpy(x))
        return be.from_numpy(np.asarray(out), _dt.of_array(y))  # (0-d stays 0-d)

    @staticmethod
    def backward(ctx, g):
        y, x = ctx.saved_tensors
        r2 = x * x + y * y
        inv = where(r2 == 0, 0.0, 1.0 / where(r2 == 0, 1.0, r2))
        return sum_to(g * x * inv, y.shape), sum_to(-g * y * inv, x.shape)


def atan2(input, other) -> Tensor:
    """The angle of the point (other, input): ``atan2(y, x)`` elementwise, broadcasting."""
    y, x = binary_operands("atan2", input, other, floating=True)
    return Atan2.apply(y, x)


class Hypot(Function):
    # h = sqrt(a^2 + b^2), computed as m sqrt(1 + (s/m)^2) with m = max(|a|, |b|) and
    # s = min(|a|, |b|): no overflow or underflow (0 where m = 0, inf where m = inf)
    #   ->  da = g a / h,  db = g b / h
    @staticmethod
    def forward(ctx, a, b):
        be, dt = ctx.backend, _dt.of_array(a)
        ctx.save_for_backward(a, b)
        aa, bb = be.abs(a), be.abs(b)
        m, s = be.maximum(aa, bb), be.minimum(aa, bb)
        one = be.scalar(1, dt)
        r = be.div(s, be.where(be.compare("eq", m, be.scalar(0, dt)), one, m))
        h = be.mul(m, be.sqrt(be.add(one, be.mul(r, r))))
        return be.where(be.compare("eq", m, be.scalar(float("inf"), dt)), m, h)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        h = Hypot.apply(a, b)
        return sum_to(g * a / h, a.shape), sum_to(g * b / h, b.shape)


def hypot(input, other) -> Tensor:
    """``sqrt(input^2 + other^2)`` elementwise (broadcasting), without overflow or
    underflow for large or tiny entries."""
    a, b = binary_operands("hypot", input, other, floating=True)
    return Hypot.apply(a, b)


__all__ = ["atan2", "hypot"]
TENSOR_METHODS = ["atan2", "hypot"]
