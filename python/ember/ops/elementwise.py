"""Elementwise math with NumPy broadcasting.

Binary ops broadcast their inputs; their backward sums the gradient back down to each
input's shape (``sum_to``), because a broadcast input was used at several positions.
"""

from __future__ import annotations

import math

import numpy as np

from .. import dtypes as _dt
from .._broadcast import broadcast_shapes
from ..autograd.function import Function
from ..autograd.grad_mode import no_grad
from ..backend import backend_for
from ..creation import tensor
from ..tensor import Tensor
from ._util import binary_operands, const, require_float
from .shape import sum_to


# ---------------------------------------------------------------------------- arithmetic
class Add(Function):
    # z = a + b  ->  da = g,  db = g
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = a.shape, b.shape
        return ctx.backend.add(a, b)

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        return sum_to(g, sa), sum_to(g, sb)


class Sub(Function):
    # z = a - b  ->  da = g,  db = -g
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = a.shape, b.shape
        return ctx.backend.sub(a, b)

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        return sum_to(g, sa), sum_to(-g, sb)


class Mul(Function):
    # z = a * b  ->  da = g * b,  db = g * a
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.backend.mul(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ga = sum_to(g * b, a.shape) if ctx.needs_input_grad[0] else None
        gb = sum_to(g * a, b.shape) if ctx.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    # z = a / b  ->  da = g / b,  db = -g * a / b^2
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.backend.div(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ga = sum_to(g / b, a.shape) if ctx.needs_input_grad[0] else None
        gb = sum_to(-g * a / (b * b), b.shape) if ctx.needs_input_grad[1] else None
        return ga, gb


class Pow(Function):
    # z = a ^ b  ->  da = g * b * a^(b-1) (0 where b = 0),  db = g * a^b * log(a)
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.backend.pow(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ga = gb = None
        if ctx.needs_input_grad[0]:
            # b a^(b-1) is 0 * inf at a = b = 0; PyTorch's value there is 0 (the exponent
            # is made 1 where b = 0, so the product is 0 and stays finite to any order)
            ga = sum_to(g * b * a ** where(b == 0, const(1, b.dtype, b.device), b - 1),
                        a.shape)
        if ctx.needs_input_grad[1]:
            # log(a) is -inf/nan for a <= 0; where a == 0 the term a^b log(a) -> 0 (b > 0)
            safe = where(a > 0, a, const(1, a.dtype, a.device))
            gb = sum_to(g * (a ** b) * where(a > 0, log(safe), const(0, a.dtype, a.device)),
                        b.shape)
        return ga, gb


class PowScalar(Function):
    # z = x ^ p (p a Python number)  ->  dx = g * p * x^(p-1)
    @staticmethod
    def forward(ctx, x, p):
        ctx.save_for_backward(x)
        ctx.p = p
        return ctx.backend.pow(x, x.dtype.type(p))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        p = ctx.p
        if p == 0:
            return g * 0, None
        return g * p * (x ** (p - 1) if p != 2 else x), None


class Neg(Function):
    # z = -x  ->  dx = -g
    @staticmethod
    def forward(ctx, x):
        return ctx.backend.neg(x)

    @staticmethod
    def backward(ctx, g):
        return -g


def add(a, b, alpha=1) -> Tensor:
    """a + alpha * b, broadcasting."""
    if alpha != 1:
        b = mul(b, alpha)
    a, b = binary_operands("add", a, b)
    return Add.apply(a, b)


def sub(a, b, alpha=1) -> Tensor:
    """a - alpha * b, broadcasting."""
    if alpha != 1:
        b = mul(b, alpha)
    a, b = binary_operands("sub", a, b)
    if a.dtype is _dt.bool_:
        raise TypeError("sub: subtraction of bool tensors is not supported; use logical_xor")
    return Sub.apply(a, b)


def mul(a, b) -> Tensor:
    """a * b, broadcasting."""
    a, b = binary_operands("mul", a, b)
    return Mul.apply(a, b)


def div(a, b, rounding_mode: str | None = None) -> Tensor:
    """True division a / b (integer inputs give floats), or 'floor' division."""
    if rounding_mode == "floor":
        return floor_divide(a, b)
    if rounding_mode is not None:
        raise ValueError(f"div: rounding_mode must be None or 'floor', got {rounding_mode!r}")
    a, b = binary_operands("div", a, b, floating=True)
    return Div.apply(a, b)


true_divide = divide = div


def floor_divide(a, b) -> Tensor:
    """floor(a / b); not differentiable."""
    a, b = binary_operands("floor_divide", a, b)

    with no_grad():
        if a.dtype.is_floating_point:
            return floor(Div.apply(a, b))
        if not b.dtype.is_floating_point and bool((b == 0).any()):
            # NumPy would quietly give 0; PyTorch raises
            raise ZeroDivisionError(f"floor_divide: integer division by zero ({a.dtype} "
                                    f"tensors of shapes {a.shape} and {b.shape})")
        return Div.apply(a, b)  # the backend's integer division floors


def pow(a, b) -> Tensor:  # noqa: A001 - the PyTorch name
    """a ** b: a scalar exponent or an exponent tensor (broadcasting)."""
    if isinstance(a, Tensor) and isinstance(b, (int, float)) and not isinstance(b, bool):
        if not a.dtype.is_floating_point and (isinstance(b, float) or b < 0):
            a = require_float("pow", a)
        return PowScalar.apply(a, b)
    a, b = binary_operands("pow", a, b)
    if not a.dtype.is_floating_point and a.dtype is not _dt.bool_ and bool((b < 0).any()):
        raise ValueError(f"pow: integers to negative integer powers are not allowed ({a.dtype} "
                         f"base of shape {a.shape}, exponent of shape {b.shape}); convert the "
                         "base with .float()")
    return Pow.apply(a, b)


def neg(x: Tensor) -> Tensor:
    """-x."""
    if x.dtype is _dt.bool_:
        raise TypeError("neg: negation of a bool tensor is not supported; use logical_not")
    return Neg.apply(x)


negative = neg


def square(x: Tensor) -> Tensor:
    return pow(x, 2)


def reciprocal(x: Tensor) -> Tensor:
    return div(1.0, x)


def rsqrt(x: Tensor) -> Tensor:
    return reciprocal(sqrt(x))


# ---------------------------------------------------------------------------- unary math
class Exp(Function):
    # y = e^x  ->  dx = g * y
    @staticmethod
    def forward(ctx, x):
        y = ctx.backend.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y


class Log(Function):
    # y = ln x  ->  dx = g / x
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.backend.log(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g / x


class Log1p(Function):
    # y = ln(1 + x)  ->  dx = g / (1 + x)
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.backend.log1p(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g / (x + 1)


class Sqrt(Function):
    # y = sqrt(x)  ->  dx = g / (2 y)
    @staticmethod
    def forward(ctx, x):
        y = ctx.backend.sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g / (y * 2)


class Abs(Function):
    # y = |x|  ->  dx = g * sign(x)   (0 at x = 0, as in PyTorch)
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.backend.abs(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * sign(x)


class Sin(Function):
    # y = sin x  ->  dx = g * cos x
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.backend.sin(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * cos(x)


class Cos(Function):
    # y = cos x  ->  dx = -g * sin x
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.backend.cos(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return -g * sin(x)


class Tanh(Function):
    # y = tanh x  ->  dx = g * (1 - y^2)
    @staticmethod
    def forward(ctx, x):
        y = ctx.backend.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (1 - y * y)


class Erf(Function):
    # y = erf x  ->  dx = g * 2/sqrt(pi) * e^(-x^2)
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.backend.erf(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (2.0 / math.sqrt(math.pi)) * exp(-(x * x))


def _unary(fn: type[Function], name: str):
    def op(x: Tensor) -> Tensor:
        return fn.apply(require_float(name, x))

    op.__name__ = name
    op.__doc__ = fn.__doc__ or f"Elementwise {name}."
    return op


exp = _unary(Exp, "exp")
exp.__doc__ = "e ** x, elementwise."
log = _unary(Log, "log")
log.__doc__ = "Natural logarithm (log(0) = -inf, log(<0) = nan)."
log1p = _unary(Log1p, "log1p")
log1p.__doc__ = "log(1 + x), accurate for small x."
sqrt = _unary(Sqrt, "sqrt")
sqrt.__doc__ = "Square root."
sin = _unary(Sin, "sin")
sin.__doc__ = "Sine."
cos = _unary(Cos, "cos")
cos.__doc__ = "Cosine."
tanh = _unary(Tanh, "tanh")
tanh.__doc__ = "Hyperbolic tangent."
erf = _unary(Erf, "erf")
erf.__doc__ = "The error function 2/sqrt(pi) * integral_0^x e^(-t^2) dt."


def abs(x: Tensor) -> Tensor:  # noqa: A001
    """|x|; the gradient at 0 is 0."""
    if x.dtype is _dt.bool_:
        return x
    return Abs.apply(x)


absolute = abs


def sign(x: Tensor) -> Tensor:
    """-1, 0 or 1 by the sign of x (no gradient: it is flat almost everywhere)."""
    return Tensor._wrap(backend_for(x.device).sign(x._data), x.device)


def floor(x: Tensor) -> Tensor:
    """Round down (no gradient)."""
    return _host_round(x, np.floor)


def ceil(x: Tensor) -> Tensor:
    """Round up (no gradient)."""
    return _host_round(x, np.ceil)


def round(x: Tensor) -> Tensor:  # noqa: A001
    """Round half to even (no gradient)."""
    return _host_round(x, np.round)


def _host_round(x: Tensor, fn) -> Tensor:
    if not x.dtype.is_floating_point:
        return x

    b = backend_for(x.device)
    return Tensor._wrap(b.from_numpy(fn(b.to_numpy(x._data)), x.dtype), x.device)


# ---------------------------------------------------------------------------- max/min/where/clamp
class Maximum(Function):
    # z = max(a, b)  ->  the gradient goes to the larger input, split evenly on ties; where a
    # NaN leaves the comparison undecided, both inputs get it (as in PyTorch)
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.backend.maximum(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return _split_grad(g, a, b, a_loses=(a < b), b_loses=(a > b))


class Minimum(Function):
    # z = min(a, b)  ->  the gradient goes to the smaller input (ties and NaN as for max)
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.backend.minimum(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return _split_grad(g, a, b, a_loses=(a > b), b_loses=(a < b))


def _split_grad(g, a, b, a_loses, b_loses):
    """g to each input that did not lose the comparison, halved where a == b."""
    half = (a == b).to(g.dtype) * 0.5
    return (sum_to(g * (1 - a_loses.to(g.dtype) - half), a.shape),
            sum_to(g * (1 - b_loses.to(g.dtype) - half), b.shape))


def maximum(a, b) -> Tensor:
    """Elementwise max of two tensors (broadcasting)."""
    a, b = binary_operands("maximum", a, b)
    return Maximum.apply(a, b)


def minimum(a, b) -> Tensor:
    """Elementwise min of two tensors (broadcasting)."""
    a, b = binary_operands("minimum", a, b)
    return Minimum.apply(a, b)


class LogAddExp(Function):
    # z = log(e^a + e^b), computed as max(a, b) + log1p(e^-|a - b|) (no overflow; where
    # a == b, infinities included, the difference is taken as 0, so -inf + -inf = -inf)
    #   ->  da = g * e^(a - z),  db = g * e^(b - z)  (the softmax of the pair)
    @staticmethod
    def forward(ctx, a, b):
        be = ctx.backend
        same, zero = be.compare("eq", a, b), be.scalar(0, _dt.of_array(a))
        diff = be.sub(be.where(same, zero, a), be.where(same, zero, b))
        gap = be.exp(be.neg(be.abs(diff)))
        z = be.add(be.maximum(a, b), be.log1p(gap))
        ctx.save_for_backward(a, b, z)
        return z

    @staticmethod
    def backward(ctx, g):
        a, b, z = ctx.saved_tensors
        return sum_to(g * exp(a - z), a.shape), sum_to(g * exp(b - z), b.shape)


def logaddexp(a, b) -> Tensor:
    """log(e^a + e^b) elementwise (broadcasting), without overflow for large inputs."""
    a, b = binary_operands("logaddexp", a, b, floating=True)
    return LogAddExp.apply(a, b)


class Where(Function):
    # z = cond ? a : b  ->  da = g where cond,  db = g where not cond
    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.cond, ctx.shapes = cond, (a.shape, b.shape)
        return ctx.backend.where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        zero = const(0, g.dtype, g.device)
        cond = Tensor._wrap(ctx.cond, g.device)
        sa, sb = ctx.shapes
        ga = sum_to(where(cond, g, zero), sa) if ctx.needs_input_grad[1] else None
        gb = sum_to(where(cond, zero, g), sb) if ctx.needs_input_grad[2] else None
        return None, ga, gb


def where(condition: Tensor, a, b) -> Tensor:
    """``a`` where ``condition`` is True, else ``b`` (all three broadcast)."""
    if not isinstance(condition, Tensor):
        raise TypeError("where: condition must be a bool Tensor")
    if condition.dtype is not _dt.bool_:
        raise TypeError(f"where: condition must be a bool tensor, got {condition.dtype}")
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = tensor(a, device=condition.device)
    a, b = binary_operands("where", a, b)
    if condition.device != a.device:
        raise RuntimeError(f"where: condition on {condition.device}, values on {a.device}")

    broadcast_shapes("where", condition.shape, a.shape, b.shape)
    return Where.apply(condition, a, b)


class Clamp(Function):
    # y = min(max(x, lo), hi)  ->  dx = g where lo <= x <= hi, else 0
    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        return ctx.backend.clip(x, lo, hi)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        inside = None
        if ctx.lo is not None:
            inside = x >= ctx.lo
        if ctx.hi is not None:
            inside = (x <= ctx.hi) if inside is None else inside & (x <= ctx.hi)
        return g * inside.to(g.dtype), None, None


def clamp(x: Tensor, min=None, max=None) -> Tensor:  # noqa: A002
    """Limit values to [min, max] (either bound may be None; tensor bounds broadcast)."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = x
        if min is not None:
            out = maximum(out, min)
        if max is not None:
            out = minimum(out, max)
        return out
    if not x.dtype.is_floating_point and (isinstance(min, float) or isinstance(max, float)):
        x = require_float("clamp", x)
    return Clamp.apply(x, min, max)


clip = clamp
