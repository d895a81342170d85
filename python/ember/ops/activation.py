"""Activation functions: sigmoid, relu, leaky_relu, gelu, softplus, silu, elu."""

from __future__ import annotations

import math

from .. import dtypes as _dt
from ..autograd.function import Function
from ..tensor import Tensor
from ._util import floating_only, require_float
from .elementwise import clamp, erf, exp, tanh, where


class Sigmoid(Function):
    # y = 1 / (1 + e^-x)  ->  dx = g * y * (1 - y)
    @staticmethod
    def forward(ctx, x):
        y = ctx.backend.sigmoid(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y * (1 - y)


def sigmoid(x: Tensor) -> Tensor:
    """The logistic function, stable for any |x| (no overflow)."""
    return Sigmoid.apply(require_float("sigmoid", x))


class Relu(Function):
    # y = max(x, 0)  ->  dx = g where x > 0, else 0  (= ReluGrad(g, y))
    @staticmethod
    def forward(ctx, x):
        y = ctx.backend.relu(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return ReluGrad.apply(g, y.detach())


class ReluGrad(Function):
    # z = g where y > 0 else 0 (relu's backward, one fused pass)  ->  dg = gz where y > 0;
    # the mask is flat in y, so y gets no gradient (second derivatives of relu are 0).
    @staticmethod
    def forward(ctx, g, y):
        ctx.save_for_backward(y)
        return ctx.backend.relu_backward(g, y)

    @staticmethod
    def backward(ctx, gz):
        (y,) = ctx.saved_tensors
        return ReluGrad.apply(gz, y), None


def relu(x: Tensor) -> Tensor:
    """max(x, 0)."""
    if x.dtype is _dt.bool_:
        raise TypeError(f"relu: not defined for bool tensors (shape {x.shape})")
    return Relu.apply(x)


class LeakyRelu(Function):
    # y = x if x > 0 else slope * x  ->  dx = g if x > 0 else slope * g
    @staticmethod
    def forward(ctx, x, slope):
        ctx.save_for_backward(x)
        ctx.slope = slope
        b = ctx.backend
        return b.where(b.compare("gt", x, x.dtype.type(0)), x, b.mul(x, x.dtype.type(slope)))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return where(x > 0, g, g * ctx.slope), None


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x for x > 0, negative_slope * x otherwise."""
    return LeakyRelu.apply(floating_only("leaky_relu", x), negative_slope)


_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_GELU_CUBIC = 0.044715


class Gelu(Function):
    # exact: y = x Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2
    #        ->  dx = g (Phi(x) + x phi(x)),  phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
    # tanh:  y = x (1 + tanh u) / 2,  u = sqrt(2/pi) (x + 0.044715 x^3)
    #        ->  dx = g ((1 + t) / 2 + x (1 - t^2) u' / 2),  t = tanh u
    # Both directions are one fused pass each (backend.gelu / backend.gelu_backward); the
    # backward is itself a node (GeluBackward), so second derivatives work.
    @staticmethod
    def forward(ctx, x, approximate):
        ctx.save_for_backward(x)
        ctx.approximate = approximate
        return ctx.backend.gelu(x, approximate)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return GeluBackward.apply(g, x, ctx.approximate), None


class GeluBackward(Function):
    # z = g gelu'(x)  ->  dg = gz gelu'(x),  dx = gz g gelu''(x)
    # with gelu''(x) = phi(x) (2 - x^2) (exact) or, for tanh, with c = sqrt(2/pi),
    # a = 0.044715, u' = c (1 + 3 a x^2), u'' = 6 a c x and s = 1 - t^2:
    #     gelu''(x) = s u' - x t s u'^2 + x s u'' / 2.
    # These are written in Tensor ops, so they are differentiable again.
    @staticmethod
    def forward(ctx, g, x, approximate):
        ctx.save_for_backward(g, x)
        ctx.approximate = approximate
        return ctx.backend.gelu_backward(g, x, approximate)

    @staticmethod
    def backward(ctx, gz):
        g, x = ctx.saved_tensors
        if ctx.approximate == "tanh":
            t = tanh((x + x * x * x * _GELU_CUBIC) * _SQRT_2_OVER_PI)
            s = 1 - t * t
            du = (x * x * (3 * _GELU_CUBIC) + 1) * _SQRT_2_OVER_PI
            d2u = x * (6 * _GELU_CUBIC * _SQRT_2_OVER_PI)
            d1 = (t + 1) * 0.5 + x * s * du * 0.5
            d2 = s * du - x * t * s * du * du + x * s * d2u * 0.5
        else:
            pdf = exp(x * x * -0.5) * _INV_SQRT_2PI
            d1 = (erf(x * _SQRT_HALF) + 1) * 0.5 + x * pdf
            d2 = pdf * (2 - x * x)
        return gz * d1, gz * g * d2, None


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit: x * Phi(x) = x/2 (1 + erf(x / sqrt 2)).

    ``approximate='tanh'`` uses x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
    """
    x = floating_only("gelu", x)
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return Gelu.apply(x, approximate)


class Softplus(Function):
    # y = log(1 + e^(beta x)) / beta  ->  dx = g * sigmoid(beta x)  (g where beta x > threshold)
    @staticmethod
    def forward(ctx, x, beta, threshold):
        ctx.save_for_backward(x)
        ctx.beta, ctx.threshold = beta, threshold
        return ctx.backend.softplus(x, beta, threshold)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        z = x * ctx.beta
        return where(z > ctx.threshold, g, g * sigmoid(z)), None, None


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """A smooth relu: log(1 + e^(beta x)) / beta; linear where beta x > threshold."""
    return Softplus.apply(floating_only("softplus", x), beta, threshold)


def silu(x: Tensor) -> Tensor:
    """x * sigmoid(x) (also called swish)."""
    return floating_only("silu", x) * sigmoid(x)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """x for x > 0, alpha (e^x - 1) otherwise."""
    # exp of the clamped value: the unused branch must not overflow (0 * inf = nan)
    floating_only("elu", x)
    return where(x > 0, x, (exp(clamp(x, max=0.0)) - 1) * alpha)
