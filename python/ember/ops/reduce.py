"""Reductions: sum, mean, var, std, max/min, argmax/argmin, logsumexp, softmax, norms.

A reduction's backward puts the removed dimensions back (``keepdim``-style) and
broadcasts the gradient over them.
"""

from __future__ import annotations

import builtins
from collections import namedtuple

from .. import dtypes as _dt
from .._broadcast import normalize_dim, normalize_dims
from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled, no_grad
from ..backend import backend_for
from ..tensor import Tensor
from ._util import require_float
from .compare import eq, ne
from .elementwise import abs as _abs
from .elementwise import exp, maximum, minimum, sign, where
from .index import gather
from .shape import expand, reshape, squeeze

values_indices = namedtuple("values_indices", ["values", "indices"])


def _kept_shape(shape: tuple, axes: tuple | None) -> tuple:
    """``shape`` with the reduced axes set to 1 (what keepdim=True gives)."""
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


class Sum(Function):
    # y = sum of x over axes  ->  dx = g broadcast back over those axes
    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.in_shape, ctx.axes = x.shape, axes
        return ctx.backend.sum(x, axes, keepdim)

    @staticmethod
    def backward(ctx, g):
        g = reshape(g, _kept_shape(ctx.in_shape, ctx.axes))
        return expand(g, ctx.in_shape), None, None


def sum(x: Tensor, dim=None, keepdim: bool = False, dtype=None) -> Tensor:  # noqa: A001
    """Sum over ``dim`` (an int, a tuple, or None for all). Bool/int sums are int64."""
    axes = normalize_dims("sum", dim, x.ndim)
    if dtype is not None:
        if x.requires_grad and is_grad_enabled() and not _dt.as_dtype(dtype).is_floating_point:
            raise TypeError(f"sum: dtype={dtype} for a tensor that requires grad (no gradient)")
        x = x.to(dtype)
    elif x.dtype is _dt.bool_:
        x = x.to(_dt.int64)
    return Sum.apply(x, axes, keepdim)


def _count(x: Tensor, axes) -> int:
    n = 1
    for i, s in enumerate(x.shape):
        if axes is None or i in axes:
            n *= s
    return n


def mean(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Arithmetic mean over ``dim``."""
    if not x.dtype.is_floating_point:
        raise TypeError(f"mean: expected a floating-point tensor, got {x.dtype} "
                        "(convert with .float())")
    axes = normalize_dims("mean", dim, x.ndim)
    return sum(x, dim, keepdim) / _count(x, axes)


def var(x: Tensor, dim=None, keepdim: bool = False, *, correction: int = 1,
        unbiased: bool | None = None) -> Tensor:
    """Variance: sum((x - mean)^2) / (N - correction); correction=1 is the unbiased
    estimate (PyTorch's default), 0 the population variance."""
    if unbiased is not None:
        correction = 1 if unbiased else 0
    x = require_float("var", x)
    axes = normalize_dims("var", dim, x.ndim)
    d = x - mean(x, dim, keepdim=True)
    return sum(d * d, dim, keepdim) / builtins.max(_count(x, axes) - correction, 0)


def std(x: Tensor, dim=None, keepdim: bool = False, *, correction: int = 1,
        unbiased: bool | None = None) -> Tensor:
    """Standard deviation: sqrt(var)."""
    normalize_dims("std", dim, x.ndim)  # so that a bad dim is reported as std's, not var's
    return SqrtOfVar.apply(var(x, dim, keepdim, correction=correction, unbiased=unbiased))


class SqrtOfVar(Function):
    # y = sqrt(v)  ->  dv = g / (2 y), taken as 0 where y = 0: a constant input has
    # gradient 0, as in PyTorch, not 0 * inf = nan. (The safe denominator keeps the masked
    # branch finite, so second derivatives stay finite too.)
    @staticmethod
    def forward(ctx, v):
        y = ctx.backend.sqrt(v)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        zero = y == 0
        return where(zero, 0.0, g / (2 * where(zero, 1.0, y)))


class Amax(Function):
    # y = max over axes  ->  dx = g at the maxima (split evenly among ties), 0 elsewhere
    mode = "max"

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        y = getattr(ctx.backend, ctx.mode)(x, axes, keepdim)
        ctx.save_for_backward(x, y)
        ctx.axes, ctx.keepdim = axes, keepdim
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        kept = _kept_shape(x.shape, ctx.axes)
        with no_grad():
            hit = (x == reshape(y, kept)).to(g.dtype)
            share = hit / sum(hit, ctx.axes, keepdim=True)
        return expand(reshape(g, kept), x.shape) * share, None, None


class Amin(Amax):
    mode = "min"


def amax(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """The maximum over ``dim`` (all dims by default)."""
    axes = normalize_dims("amax", dim, x.ndim)
    _nonempty("amax", x, axes)
    return Amax.apply(x, axes, keepdim)


def amin(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """The minimum over ``dim`` (all dims by default)."""
    axes = normalize_dims("amin", dim, x.ndim)
    _nonempty("amin", x, axes)
    return Amin.apply(x, axes, keepdim)


def max(x: Tensor, dim: int | None = None, keepdim: bool = False):  # noqa: A001
    """``max(x)``: the largest element. ``max(x, dim)``: a (values, indices) pair.
    ``max(a, b)`` with two tensors is the elementwise maximum."""
    if isinstance(dim, Tensor):
        return maximum(x, dim)
    if dim is None:
        return amax(x)
    return _values_at("max", x, dim, keepdim)


def min(x: Tensor, dim: int | None = None, keepdim: bool = False):  # noqa: A001
    """``min(x)``: the smallest element. ``min(x, dim)``: a (values, indices) pair."""
    if isinstance(dim, Tensor):
        return minimum(x, dim)
    if dim is None:
        return amin(x)
    return _values_at("min", x, dim, keepdim)


def _values_at(name: str, x: Tensor, dim: int, keepdim: bool):
    """(values, indices) of max/min along ``dim``: the values are gathered at the indices,
    so the gradient goes to the selected element only (as PyTorch's max(dim)), while
    amax/amin split it among ties."""

    d = normalize_dim(name, dim, x.ndim)
    _nonempty(name, x, (d,) if x.ndim else ())
    idx = _arg("arg" + name, x, d, True, bools=True)  # (max(dim) takes bools, argmax not)
    if x.ndim == 0:
        return values_indices(x, idx)
    values = gather(x, d, idx)
    if not keepdim:
        values, idx = squeeze(values, d), squeeze(idx, d)
    return values_indices(values, idx)


def _nonempty(name: str, x: Tensor, axes: tuple) -> None:
    """max/min/argmax/argmin have no identity: reducing over a zero-size dimension (or all
    of an empty tensor) is an error, as in PyTorch; an empty tensor reduced over a non-empty
    dimension is fine (an empty result)."""
    if x.numel() == 0 and (not axes or builtins.any(x.shape[a] == 0 for a in axes)):
        raise ValueError(f"{name}: the reduction over a zero-size dimension (input shape "
                         f"{x.shape}, dims {axes if axes else 'all'}) has no identity")


def _arg(name: str, x: Tensor, dim, keepdim, bools: bool = False) -> Tensor:
    if x.dtype is _dt.bool_ and not bools:
        raise TypeError(f"{name}: does not take a bool tensor (shape {x.shape})")
    axis = None if dim is None else normalize_dim(name, dim, x.ndim)
    _nonempty(name, x, tuple(range(x.ndim)) if axis is None or x.ndim == 0 else (axis,))
    out = getattr(backend_for(x.device), name)(x._data, axis, keepdim)
    return Tensor._wrap(out, x.device)


def argmax(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the maximum (of the flattened tensor when dim is None); int64."""
    return _arg("argmax", x, dim, keepdim)


def argmin(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the minimum; int64."""
    return _arg("argmin", x, dim, keepdim)


def _stable_shift(b, x, axes):
    """max over axes (keepdims), with -inf/inf rows replaced by 0 so x - m stays finite."""
    if builtins.any(x.shape[a] == 0 for a in axes):  # nothing to shift (and max has no identity)
        return b.full(tuple(1 if i in axes else n for i, n in enumerate(x.shape)), 0,
                      _dt.from_numpy_dtype(x.dtype))
    m = b.max(x, axes, True)
    return b.where(b.compare("eq", b.abs(m), m.dtype.type("inf")), m.dtype.type(0), m)


def _softmax_shift(b, x, axis):
    """The max along ``axis``, infinities kept: as in PyTorch a row holding +inf (inf - inf)
    or only -inf gives nan, where logsumexp's shift would give finite values."""
    return b.max(x, (axis,), True) if x.shape[axis] else _stable_shift(b, x, (axis,))


class LogSumExp(Function):
    # y = log sum exp(x)  ->  dx = g * softmax(x) = g * exp(x - y)
    @staticmethod
    def forward(ctx, x, axes, keepdim):
        b = ctx.backend
        m = _stable_shift(b, x, axes)
        s = b.sum(b.exp(b.sub(x, m)), axes, True)
        y = b.add(b.log(s), m)
        if not keepdim:
            y = b.reshape(y, tuple(n for i, n in enumerate(y.shape) if i not in axes))
        ctx.save_for_backward(x, y)
        ctx.axes = axes
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        kept = _kept_shape(x.shape, ctx.axes)
        return reshape(g, kept) * exp(x - reshape(y, kept)), None, None


def logsumexp(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """log(sum(exp(x))) over ``dim``, computed as m + log(sum(exp(x - m))) so that no
    exponential overflows."""
    x = require_float("logsumexp", x)
    axes = normalize_dims("logsumexp", dim, x.ndim)
    if axes is None:
        axes = tuple(range(x.ndim))
    return LogSumExp.apply(x, axes, keepdim)


class Softmax(Function):
    # y_i = e^(x_i - m) / sum_j e^(x_j - m)  ->  dx = y * (g - sum(g * y))
    @staticmethod
    def forward(ctx, x, axis):
        b = ctx.backend
        e = b.exp(b.sub(x, _softmax_shift(b, x, axis)))
        y = b.div(e, b.sum(e, (axis,), True))
        ctx.save_for_backward(y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return y * (g - sum(g * y, ctx.axis, keepdim=True)), None


class LogSoftmax(Function):
    # y = x - logsumexp(x)  ->  dx = g - softmax(x) * sum(g) = g - e^y * sum(g)
    @staticmethod
    def forward(ctx, x, axis):
        b = ctx.backend
        z = b.sub(x, _softmax_shift(b, x, axis))
        y = b.sub(z, b.log(b.sum(b.exp(z), (axis,), True)))
        ctx.save_for_backward(y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g - exp(y) * sum(g, ctx.axis, keepdim=True), None


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim``, shifted by the max so it never overflows."""
    x = require_float("softmax", x)
    axis = normalize_dim("softmax", dim, x.ndim)
    if x.ndim == 0:  # a single logit: softmax over one element
        return reshape(Softmax.apply(reshape(x, (1,)), 0), ())
    return Softmax.apply(x, axis)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    """x - logsumexp(x) along ``dim``: finite even for logits of +-1e4."""
    x = require_float("log_softmax", x)
    axis = normalize_dim("log_softmax", dim, x.ndim)
    if x.ndim == 0:
        return reshape(LogSoftmax.apply(reshape(x, (1,)), 0), ())
    return LogSoftmax.apply(x, axis)


class Norm(Function):
    # y = (sum |x|^p)^(1/p)  ->  dx = g * sign(x) |x|^(p-1) / y^(p-1)  (p = 2: g * x / y),
    # and 0 where y = 0 (the subgradient PyTorch picks; the plain formula gives 0/0 = nan)
    @staticmethod
    def forward(ctx, x, p, axes, keepdim):
        b = ctx.backend
        ctx.save_for_backward(x)
        ctx.p, ctx.axes = p, axes
        if p == 2:
            return b.sqrt(b.sum(b.mul(x, x), axes, keepdim))
        s = b.sum(b.pow(b.abs(x), x.dtype.type(p)), axes, keepdim)
        return b.pow(s, x.dtype.type(1.0 / p))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        p = ctx.p
        # y again from x (not the saved output) so that double backward sees y's dependence
        y = Norm.apply(x, p, ctx.axes, True)
        safe = where(y > 0, y, 1.0)
        g = expand(reshape(g, _kept_shape(x.shape, ctx.axes)), x.shape)
        if p == 2:
            return g * x / safe, None, None, None
        return g * sign(x) * _abs(x) ** (p - 1) / safe ** (p - 1), None, None, None


def norm(x: Tensor, p: float = 2, dim=None, keepdim: bool = False) -> Tensor:
    """The p-norm (sum |x|^p)^(1/p) over ``dim``; p may be inf. Its gradient at the zero
    vector is 0."""

    x = require_float("norm", x)
    if p == float("inf"):
        return amax(_abs(x), dim, keepdim)
    if p == 1:
        return sum(_abs(x), dim, keepdim)
    if not p > 0:
        raise ValueError(f"norm: p must be positive (or inf), got {p}")
    return Norm.apply(x, p, normalize_dims("norm", dim, x.ndim), keepdim)


def all(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """True where every element (over ``dim``) is nonzero."""
    with no_grad():
        return eq(sum(eq(x, 0), dim, keepdim), 0)


def any(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """True where some element (over ``dim``) is nonzero."""
    with no_grad():
        return ne(sum(ne(x, 0), dim, keepdim), 0)
