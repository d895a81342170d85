"""Tensor API that tutorials use, composed from the ops above (issue 11, point 3).

Each function here is PyTorch's function of the same name built from existing differentiable
ops (``index_select``, ``mul``, ``sum``, ``pad``, ...), so its gradient comes from its parts
and it runs on every device those parts run on. Index results that have no gradient in PyTorch
either (``nonzero``) are computed on the host with NumPy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .. import dtypes as _dt
from .._broadcast import normalize_dim
from ..autograd.function import Function
from ..autograd.grad_mode import no_grad
from ..creation import linspace
from ..tensor import Tensor
from .elementwise import _trunc, abs, cos, log, remainder, sin, where  # noqa: F401 (re-export)
from .index import index_select, pad
from .reduce import sum
from .shape import expand, flatten, permute, stack


def _host(x: Tensor, values, dtype=None) -> Tensor:
    """A tensor made on the host (NumPy) and placed on ``x``'s device."""
    return Tensor(np.ascontiguousarray(values), dtype=dtype, device=x.device)


def _positions(x: Tensor, positions) -> Tensor:
    return _host(x, np.asarray(positions, dtype=np.int64))


def _dims(op: str, dims, ndim: int) -> list[int]:
    dims = [dims] if isinstance(dims, int) else list(dims)
    out = [normalize_dim(op, d, ndim) for d in dims]
    if len(set(out)) != len(out):
        raise RuntimeError(f"{op}: dims {tuple(dims)} name a dimension twice")
    return out


def flip(input: Tensor, dims) -> Tensor:
    """Reverse the order of the entries along each of ``dims``."""
    dims = _dims("flip", dims, input.ndim)
    for d in dims if input.ndim else ():
        input = index_select(input, d, _positions(input, np.arange(input.shape[d])[::-1]))
    return input


def roll(input: Tensor, shifts, dims=None) -> Tensor:
    """Shift entries along ``dims`` by ``shifts``, wrapping around (``dims=None``: flattened)."""
    if dims is None:
        return roll(flatten(input), shifts, 0).reshape(input.shape)
    shifts = [shifts] if isinstance(shifts, int) else list(shifts)
    dims = [normalize_dim("roll", d, input.ndim) for d in ([dims] if isinstance(dims, int)
                                                           else dims)]  # repeats roll again
    if len(shifts) != len(dims):
        raise RuntimeError(f"roll: got {len(shifts)} shifts for {len(dims)} dims")
    for s, d in zip(shifts, dims):
        input = index_select(input, d, _positions(input, (np.arange(input.shape[d]) - s)
                                                  % max(input.shape[d], 1)))
    return input


def movedim(input: Tensor, source, destination) -> Tensor:
    """Move dimensions ``source`` to positions ``destination``; the others keep their order."""
    src, dst = _dims("movedim", source, input.ndim), _dims("movedim", destination, input.ndim)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: {len(src)} source dims but {len(dst)} destinations")
    rest = iter(d for d in range(input.ndim) if d not in src)
    placed = dict(zip(dst, src))
    return permute(input, [placed[i] if i in placed else next(rest) for i in range(input.ndim)])


class CumSum(Function):
    # y_i = sum_{j <= i} x_j along the axis (NumPy's scan on the host: the backends have
    # none, and a triangular-mask product would turn one inf into nan everywhere)
    #   ->  dx_j = sum_{i >= j} g_i, the running sum of g taken from the end
    @staticmethod
    def forward(ctx, x, axis):
        b, ctx.axis = ctx.backend, axis
        return b.from_numpy(np.cumsum(b.to_numpy(x), axis), _dt.of_array(x))

    @staticmethod
    def backward(ctx, g):
        return flip(CumSum.apply(flip(g, ctx.axis), ctx.axis), ctx.axis), None


def cumsum(input: Tensor, dim: int, dtype=None) -> Tensor:
    """Running sums along ``dim`` (integer and bool inputs sum in int64)."""
    d = normalize_dim("cumsum", dim, input.ndim)
    x = input.to(dtype if dtype is not None else _dt.int64 if not
                 input.dtype.is_floating_point else input.dtype)
    return CumSum.apply(x, d) if x.ndim else x.clone()


def _products(op: str, input: Tensor, dim: int):
    """The running products along ``dim``, one multiplication per step (so a zero entry gets
    PyTorch's exact gradient, which a division by the total would not)."""
    d = normalize_dim(op, dim, input.ndim)
    if not input.dtype.is_floating_point:
        input = input.to(_dt.int64)  # PyTorch multiplies bools and ints in int64
    if input.ndim == 0:
        return [input], None
    acc = []
    for p in input.unbind(d):
        acc.append(p if not acc else acc[-1] * p)
    return acc, d


def cumprod(input: Tensor, dim: int) -> Tensor:
    """Running products along ``dim``."""
    acc, d = _products("cumprod", input, dim)
    return acc[0].clone() if d is None else stack(acc, d) if acc else input.clone()


def prod(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """The product of the entries (all of them, or along ``dim``); 1 for none."""
    if dim is None:
        return prod(flatten(input), 0)
    acc, d = _products("prod", input, dim)
    if d is None:
        return acc[0].clone()
    out = acc[-1] if acc else sum(input, d) * 0 + 1
    return out.unsqueeze(d) if keepdim else out


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The diagonal ``offset`` of the (dim1, dim2) planes, as the last dimension."""
    d1, d2 = _dims("diagonal", (dim1, dim2), input.ndim)
    x = movedim(input, (d1, d2), (-2, -1))
    rows, cols = x.shape[-2], x.shape[-1]
    i = np.arange(max(0, -offset), min(rows, cols - offset)) if rows and cols else np.arange(0)
    return x[..., _positions(x, i), _positions(x, i + offset)]


def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """1-D input: a square matrix with ``input`` on diagonal ``diagonal``; 2-D: that diagonal."""
    if input.ndim == 2:
        return globals()["diagonal"](input, diagonal)
    if input.ndim != 1:
        raise RuntimeError(f"diag: expected a 1-D or 2-D tensor, got shape {input.shape}")
    n, k = input.shape[0], diagonal
    square = input.unsqueeze(0) * _host(input, np.eye(n), input.dtype)  # [i, j] = x[j]*(i==j)
    return pad(square.t(), (k, 0, 0, k) if k >= 0 else (0, -k, -k, 0))


def trace(input: Tensor) -> Tensor:
    """The sum of the main diagonal of a 2-D tensor."""
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a 2-D tensor, got shape {input.shape}")
    return sum(diagonal(input))


def repeat_interleave(input: Tensor, repeats=None, dim: int | None = None, *,
                      output_size: int | None = None) -> Tensor:
    """Repeat each entry ``repeats`` times (an int, or one count per entry) along ``dim``.
    With only a 1-D int64 tensor of counts, the indices 0, 1, ... repeated by them."""
    if repeats is None:  # repeat_interleave(counts): each index as often as its count
        repeats, input = input, _positions(input, np.arange(input.shape[0] if input.ndim else 1))
    if dim is None:
        input, dim = flatten(input), 0
    d = normalize_dim("repeat_interleave", dim, input.ndim)
    counts = np.asarray(repeats.tolist() if isinstance(repeats, Tensor) else repeats)
    if (counts < 0).any():
        raise RuntimeError(f"repeat_interleave: repeats must be non-negative, got {repeats}")
    if counts.ndim > 1 or counts.size not in (1, input.shape[d]):
        raise RuntimeError(f"repeat_interleave: expected one repeat count or {input.shape[d]} "
                           f"(the size of dim {d}), got repeats of shape {counts.shape}")
    picks = np.repeat(np.arange(input.shape[d]), counts.reshape(-1) if counts.ndim else counts)
    if output_size is not None and output_size != len(picks):
        raise RuntimeError(f"repeat_interleave: output_size={output_size} but the repeats "
                           f"add up to {len(picks)}")
    return index_select(input, d, _positions(input, picks))


def tile(input: Tensor, dims: Sequence[int]) -> Tensor:
    """``repeat`` with ``dims`` padded on the left by ones to ``input.ndim``."""
    dims = tuple(dims)
    return input.repeat(*((1,) * (input.ndim - len(dims)) + dims))


def broadcast_tensors(*tensors: Tensor) -> tuple[Tensor, ...]:
    """Expand every tensor to their common broadcast shape."""
    try:
        shape = np.broadcast_shapes(*(tuple(t.shape) for t in tensors))
    except ValueError:
        raise RuntimeError("broadcast_tensors: shapes " + ", ".join(str(tuple(t.shape))
                           for t in tensors) + " do not broadcast") from None
    return tuple(expand(t, shape) for t in tensors)


def meshgrid(*tensors, indexing: str = "ij") -> tuple[Tensor, ...]:
    """Coordinate grids from 1-D tensors (``indexing='ij'`` matrix, ``'xy'`` Cartesian)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    n = len(tensors)
    views = [t.reshape([-1 if i == k else 1 for i in range(n)]) for k, t in enumerate(tensors)]
    if indexing == "xy" and n >= 2:
        views = [v.transpose(0, 1) for v in views]
    return broadcast_tensors(*views)


def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    """The entries of ``input`` where ``mask`` (broadcast with it) is True, as a 1-D tensor."""
    input, mask = broadcast_tensors(input, mask)
    return input[mask]


def nonzero(input: Tensor, *, as_tuple: bool = False):
    """Indices of the non-zero entries: an (n, ndim) int64 tensor, or one tensor per dim."""
    idx = np.argwhere(input.detach().cpu().numpy())
    if as_tuple:
        return tuple(_positions(input, idx[:, k]) for k in range(max(input.ndim, 1)))
    return _positions(input, idx.reshape(len(idx), input.ndim))  # (1, 0) for a 0-d non-zero


def tan(input: Tensor) -> Tensor:
    """sin / cos."""
    return sin(input) / cos(input)


def log2(input: Tensor) -> Tensor:
    """The base-2 logarithm."""
    return log(input) / math.log(2.0)


def log10(input: Tensor) -> Tensor:
    """The base-10 logarithm."""
    return log(input) / math.log(10.0)


def trunc(input: Tensor) -> Tensor:
    """Round towards zero (gradient 0, as floor's)."""
    return _trunc(input)


def lerp(input: Tensor, end: Tensor, weight) -> Tensor:
    """``input + weight * (end - input)``."""
    return input + weight * (end - input)


def isclose(input: Tensor, other: Tensor, rtol: float = 1e-5, atol: float = 1e-8,
            equal_nan: bool = False) -> Tensor:
    """Elementwise ``|input - other| <= atol + rtol * |other|`` (equal infinities too)."""
    with no_grad(), np.errstate(invalid="ignore"):  # inf - inf: decided by input == other
        close = (input == other) | (abs(input - other) <= atol + rtol * abs(other))
        if equal_nan:
            close = close | (input.isnan() & other.isnan())
    return close


def logspace(start: float, end: float, steps: int, base: float = 10.0, dtype=None) -> Tensor:
    """``base ** linspace(start, end, steps)``."""
    return base ** linspace(start, end, steps, dtype=dtype)


def is_floating_point(input: Tensor) -> bool:
    """True for a float dtype."""
    return input.dtype.is_floating_point


def where_method(self: Tensor, condition: Tensor, y) -> Tensor:
    """``x.where(condition, y)``: ``where(condition, x, y)``."""
    return where(condition, self, y)


TENSOR_METHODS = [
    "flip", "roll", "movedim", "cumsum", "cumprod", "prod", "diagonal", "diag", "trace",
    "repeat_interleave", "tile", "masked_select", "nonzero",
    "tan", "log2", "log10", "trunc", "remainder", "lerp",
    "isclose", "is_floating_point",
]
__all__ = [*TENSOR_METHODS, "broadcast_tensors", "meshgrid", "logspace"]
