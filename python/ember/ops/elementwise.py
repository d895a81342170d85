"""Elementwise math with NumPy broadcasting.

Binary ops broadcast their inputs; their backward sums the gradient back down to each
input's shape (``sum_to``), because a broadcast input was used at several positions.
"""

from __future__ import annotations

import builtins
import math

import numpy as np

from .. import dtypes as _dt
from .._broadcast import broadcast_shapes
from ..autograd.function import Function
from ..autograd.grad_mode import no_grad
from ..backend import backend_for
from ..creation import tensor
from ..tensor import Tensor
from ._util import as_tensor_like, binary_operands, cast, const, floating_only, require_float
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
            # where a == 0 and b >= 0 the term a^b log(a) -> 0 (PyTorch's value); for a < 0
            # log(a) is nan, as in PyTorch (the real a^b has no derivative in b there)
            flat = (a == 0) & (b >= 0)
            safe = where(flat, const(1, a.dtype, a.device), a)
            gb = sum_to(g * (a ** b) * where(flat, const(0, a.dtype, a.device), log(safe)),
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


def _scaled(op: str, a, b, alpha):
    """alpha * b; a floating alpha needs a floating operand (PyTorch's rule)."""
    if alpha == 1:
        return b
    if isinstance(alpha, float) and not any(
            x.dtype.is_floating_point if isinstance(x, Tensor) else isinstance(x, float)
            for x in (a, b)):
        raise TypeError(f"{op}: alpha={alpha} is a float but the operands are integral "
                        f"or bool")
    if isinstance(b, Tensor) and b.dtype is _dt.bool_:
        alpha = builtins.bool(alpha)  # in a bool result alpha is True or False
    return mul(b, alpha) if isinstance(b, Tensor) else b * alpha


def add(a, b, alpha=1) -> Tensor:
    """a + alpha * b, broadcasting."""
    a, b = binary_operands("add", a, b)
    return Add.apply(a, _scaled("add", a, b, alpha))


def sub(a, b, alpha=1) -> Tensor:
    """a - alpha * b, broadcasting."""
    if builtins.any(isinstance(x, bool) or (isinstance(x, Tensor) and x.dtype is _dt.bool_)
                    for x in (a, b)):
        raise TypeError("sub: subtraction with a bool operand is not supported; use "
                        "logical_xor or logical_not")
    a, b = binary_operands("sub", a, b)
    return Sub.apply(a, _scaled("sub", a, b, alpha))


def mul(a, b) -> Tensor:
    """a * b, broadcasting."""
    a, b = binary_operands("mul", a, b)
    return Mul.apply(a, b)


def div(a, b, rounding_mode: str | None = None) -> Tensor:
    """True division a / b (integer inputs give floats), or division rounded down
    (``'floor'``) or towards zero (``'trunc'``); the rounded ones have gradient 0."""
    if rounding_mode == "floor":
        return _flat(floor_divide(a, b), a, b)
    if rounding_mode == "trunc":
        a, b = binary_operands("div", a, b)
        if a.dtype.is_floating_point:
            with no_grad():
                q = _trunc(Div.apply(a, b))
            return _flat(q, a, b)
        with no_grad():  # |a| // |b| with the sign of a * b: integer, exact
            return sign(a) * sign(b) * floor_divide(abs(a), abs(b))
    if rounding_mode is not None:
        raise ValueError(f"div: rounding_mode must be None, 'floor' or 'trunc', got "
                         f"{rounding_mode!r}")
    a, b = binary_operands("div", a, b, floating=True)
    return Div.apply(a, b)


true_divide = divide = div


def floor_divide(a, b) -> Tensor:
    """a // b as Python computes it (exact, where floor(a / b) can round up; inf // 2 is
    nan); not differentiable."""
    a, b = binary_operands("floor_divide", a, b)
    _check_divisor("floor_divide", a, b)
    be = backend_for(a.device)
    return Tensor._wrap(_on_host(be, np.floor_divide, a._data, b._data), a.device)


class Remainder(Function):
    # z = a - floor(a / b) * b, Python's modulus (the sign of b; exact, on the host)
    #   ->  da = g,  db = -g * floor(a / b)
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _on_host(ctx.backend, np.remainder, a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return sum_to(g, a.shape), sum_to(-g * floor_divide(a, b), b.shape)


def remainder(a, b) -> Tensor:
    """Python's modulus ``a - floor(a / b) * b`` (the result has the sign of ``b``)."""
    a, b = binary_operands("remainder", a, b)
    _check_divisor("remainder", a, b)
    return Remainder.apply(a, b)


def _check_divisor(op: str, a: Tensor, b: Tensor) -> None:
    _no_bool(op, a)
    if not a.dtype.is_floating_point and bool((b == 0).any()) and 0 not in broadcast_shapes(
            op, a.shape, b.shape):  # NumPy would quietly give 0; PyTorch raises
        raise ZeroDivisionError(f"{op}: integer division by zero ({a.dtype} tensors of "
                                f"shapes {a.shape} and {b.shape})")


def _on_host(be, fn, a, b):
    """A NumPy rounding division on the host (what the backends lack)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return be.from_numpy(np.asarray(fn(be.to_numpy(a), be.to_numpy(b))), _dt.of_array(a))


def pow(a, b) -> Tensor:  # noqa: A001 - the PyTorch name
    """a ** b: a scalar exponent or an exponent tensor (broadcasting)."""
    if isinstance(a, Tensor) and isinstance(b, (int, float)) and not isinstance(b, bool):
        if not a.dtype.is_floating_point and not isinstance(b, float) and b < 0:
            raise ValueError(f"pow: integers to negative integer powers are not allowed "
                             f"({a.dtype} base of shape {a.shape}, exponent {b})")
        if not a.dtype.is_floating_point and isinstance(b, float):
            a = require_float("pow", a)
        return PowScalar.apply(a, b)
    a, b = binary_operands("pow", a, b)
    if a.dtype is _dt.bool_:
        raise TypeError(f"pow: bool ** bool is not supported (shapes {a.shape} and {b.shape})")
    if not a.dtype.is_floating_point and bool((b < 0).any()):
        # integer powers as PyTorch takes them: a^b truncated to an integer, so for b < 0
        # 1 where a = 1, (-1)^b where a = -1, else 0
        one = const(1, a.dtype, a.device)
        odd = remainder(b, 2) == 1
        neg = where(a == 1, one, where(a == -1, where(odd, -one, one), one * 0))
        return where(b < 0, neg, Pow.apply(a, where(b < 0, one * 0, b)))
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
    _no_bool("abs", x)
    return Abs.apply(x)


def _no_bool(op: str, x: Tensor) -> None:
    if x.dtype is _dt.bool_:
        raise TypeError(f"{op}: not defined for bool tensors (shape {x.shape}); convert "
                        "with .long() or .float() first")


absolute = abs


class Rounding(Function):
    # y = floor/ceil/round/trunc/sign(x) or a rounded quotient, computed beforehand (``y``,
    # a fresh array): flat almost everywhere  ->  d(each input) = 0 (PyTorch's value, so a
    # graph through a rounding op still backpropagates)
    @staticmethod
    def forward(ctx, y, *xs):
        ctx.inputs = tuple((x.shape, _dt.of_array(x)) for x in xs)
        return y

    @staticmethod
    def backward(ctx, g):
        return (None, *(g.new_zeros(s, dtype=dt) for s, dt in ctx.inputs))


def _flat(y: Tensor, *xs) -> Tensor:
    """``y``, computed from ``xs`` without a graph, as a node with gradient 0 when one of
    them requires grad."""
    xs = tuple(x for x in xs if isinstance(x, Tensor))
    if y.dtype.is_floating_point and builtins.any(x.requires_grad for x in xs):
        return Rounding.apply(y.detach(), *xs)
    return y


def sign(x: Tensor) -> Tensor:
    """-1, 0 or 1 by the sign of x (gradient 0: it is flat almost everywhere); a bool
    tensor is its own sign."""
    if x.dtype is _dt.bool_:
        return x.clone()
    be = backend_for(x.device)
    y = be.sign(x._data)  # sign(nan) is 0 in PyTorch
    y = be.where(be.compare("ne", y, y), be.scalar(0, x.dtype), y) if x.dtype.is_floating_point \
        else y
    return _flat(Tensor._wrap(y, x.device), x)


def floor(x: Tensor) -> Tensor:
    """Round down (gradient 0)."""
    return _host_round("floor", x, np.floor)


def ceil(x: Tensor) -> Tensor:
    """Round up (gradient 0)."""
    return _host_round("ceil", x, np.ceil)


def round(x: Tensor) -> Tensor:  # noqa: A001
    """Round half to even (gradient 0)."""
    return _host_round("round", x, np.round)


def _trunc(x: Tensor) -> Tensor:
    """Round towards zero (gradient 0)."""
    return _host_round("trunc", x, np.trunc)


def _host_round(op: str, x: Tensor, fn) -> Tensor:
    _no_bool(op, x)
    if not x.dtype.is_floating_point:
        return x
    b = backend_for(x.device)
    return _flat(Tensor._wrap(b.from_numpy(fn(b.to_numpy(x._data)), x.dtype), x.device), x)


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
    a, b = binary_operands("logaddexp", a, b)
    return LogAddExp.apply(floating_only("logaddexp", a), b)


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
        dt = _dt.promote_all(*(t for t in (x, min, max) if isinstance(t, Tensor)))
        x, lo, hi = (None if t is None else cast(as_tensor_like("clamp", t, x), dt)
                     for t in (x, min, max))
        _no_bool("clamp", x)
        # PyTorch's gradient masks: x where lo <= x <= hi, lo where x < lo < hi, hi where
        # x > hi or hi < lo (so with lo = hi > x no input gets one)
        out = x if lo is None else where(x < lo, lo if hi is None else where(
            lo < hi, lo, lo.detach()), x)
        if hi is not None:
            out = where((x > hi) if lo is None else (x > hi) | (hi < lo), hi, out)
        for b in (x, lo, hi):  # a NaN input or bound gives NaN, as in PyTorch
            out = out if b is None or not dt.is_floating_point else where(b != b, out + b.detach(),
                                                                          out)
        return out
    dt = x.dtype
    for bound in (min, max):
        dt = dt if bound is None else _dt.promote_with_scalar(dt, bound)
    _no_bool("clamp", cast(x, dt))
    return Clamp.apply(cast(x, dt), min, max)


clip = clamp
