"""Tensor products and distances with PyTorch's semantics, composed from differentiable ops:
``tensordot`` and ``inner`` (through einsum, so one GEMM), ``kron``, ``cross`` and ``cdist``.
Gradients come from their parts."""

from __future__ import annotations

from collections.abc import Sequence

from .._broadcast import broadcast_shapes, normalize_dim
from ..tensor import Tensor
from .composite import _positions, broadcast_tensors
from .einsum import einsum
from .elementwise import abs, clamp, mul, where
from .index import index_select
from .linalg import matmul, outer
from .reduce import amax, sum
from .shape import reshape

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _tensors(op: str, *xs) -> None:
    for x in xs:
        if not isinstance(x, Tensor):
            raise TypeError(f"{op}: expected Tensors, got {type(x).__name__}")


def tensordot(a: Tensor, b: Tensor, dims=2) -> Tensor:
    """Sum the products over ``dims``: an int ``n`` pairs the last ``n`` dimensions of ``a``
    with the first ``n`` of ``b``; a pair of lists names them. The result's dimensions are
    ``a``'s free ones, then ``b``'s."""
    _tensors("tensordot", a, b)
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0 or dims > a.ndim or dims > b.ndim:
            raise ValueError(f"tensordot: dims={dims} must be in [0, min(a.ndim, b.ndim)] for "
                             f"shapes {a.shape} and {b.shape}")
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    elif isinstance(dims, Sequence) and len(dims) == 2:
        da, db = ([d] if isinstance(d, int) else list(d) for d in dims)
    else:
        raise TypeError(f"tensordot: dims must be an int or a pair of lists, got {dims!r}")
    if len(da) != len(db):
        raise ValueError(f"tensordot: {len(da)} dims of a ({da}) but {len(db)} of b ({db})")
    da = [normalize_dim("tensordot", d, a.ndim) for d in da]
    db = [normalize_dim("tensordot", d, b.ndim) for d in db]
    if a.ndim + b.ndim - len(da) > len(_LETTERS):
        raise ValueError(f"tensordot: at most {len(_LETTERS)} dimensions, got shapes "
                         f"{a.shape} and {b.shape}")
    la = list(_LETTERS[:a.ndim])
    lb = list(_LETTERS[a.ndim:a.ndim + b.ndim])
    for i, j in zip(da, db):
        if a.shape[i] != b.shape[j]:
            raise ValueError(f"tensordot: contracted dimensions must match, but a (shape "
                             f"{a.shape}) has size {a.shape[i]} in dim {i} and b (shape "
                             f"{b.shape}) has {b.shape[j]} in dim {j}")
        lb[j] = la[i]
    out = [c for i, c in enumerate(la) if i not in da] + [c for j, c in enumerate(lb)
                                                          if j not in db]
    return einsum(f"{''.join(la)},{''.join(lb)}->{''.join(out)}", a, b)


def inner(input: Tensor, other: Tensor) -> Tensor:
    """Sum of products over the last dimension of both (shape ``input.shape[:-1] +
    other.shape[:-1]``); a 0-d operand multiplies."""
    _tensors("inner", input, other)
    if input.ndim == 0 or other.ndim == 0:
        return mul(input, other)
    if input.shape[-1] != other.shape[-1]:
        raise ValueError(f"inner: the last dimensions must match, got shapes {input.shape} and "
                         f"{other.shape}")
    return tensordot(input, other, ([-1], [-1]))


def ger(input: Tensor, vec2: Tensor) -> Tensor:
    """The outer product of two 1-D tensors (PyTorch's older name for ``outer``)."""
    return outer(input, vec2)


def kron(input: Tensor, other: Tensor) -> Tensor:
    """The Kronecker product: ``out[i*m + k, ...] = input[i, ...] * other[k, ...]`` per
    dimension (the operand with fewer dimensions gets leading ones)."""
    _tensors("kron", input, other)
    n = max(input.ndim, other.ndim)
    sa = (1,) * (n - input.ndim) + tuple(input.shape)
    sb = (1,) * (n - other.ndim) + tuple(other.shape)
    # interleave: input as (a0, 1, a1, 1, ...), other as (1, b0, 1, b1, ...)
    a = reshape(input, [s for d in sa for s in (d, 1)])
    b = reshape(other, [s for d in sb for s in (1, d)])
    return reshape(mul(a, b), [x * y for x, y in zip(sa, sb)])


def cross(input: Tensor, other: Tensor, dim: int | None = None) -> Tensor:
    """The 3-D cross product along ``dim`` (broadcasting); ``dim=None`` takes the first
    dimension of size 3, as ``torch.cross`` does."""
    _tensors("cross", input, other)
    if input.ndim != other.ndim:
        raise ValueError(f"cross: the inputs must have the same number of dimensions, got "
                         f"shapes {input.shape} and {other.shape}")
    try:
        shape = broadcast_shapes("cross", input.shape, other.shape)
    except ValueError:
        raise ValueError(f"cross: shapes {input.shape} and {other.shape} do not broadcast") \
            from None
    if dim is None:
        dim = next((d for d, s in enumerate(shape) if s == 3), None)
        if dim is None:
            raise ValueError(f"cross: no dimension of size 3 in the broadcast shape {shape}")
    d = normalize_dim("cross", dim, len(shape))
    if input.shape[d] != 3 or other.shape[d] != 3:  # the dimension itself does not broadcast
        raise ValueError(f"cross: dimension {dim} must have size 3 in both inputs, got shapes "
                         f"{input.shape} and {other.shape}")
    a, b = broadcast_tensors(input, other)
    # c = a[1,2,0] * b[2,0,1] - a[2,0,1] * b[1,2,0]  (c0 = a1 b2 - a2 b1, ...)
    p, q = _positions(a, [1, 2, 0]), _positions(a, [2, 0, 1])
    return index_select(a, d, p) * index_select(b, d, q) - \
        index_select(a, d, q) * index_select(b, d, p)


def _safe_root(s: Tensor, p: float) -> Tensor:
    """``s ** (1/p)`` with gradient 0 where s == 0 (PyTorch's at coinciding points) instead
    of the infinite slope of the root."""
    pos = s > 0
    root = where(pos, s, 1.0) ** (1.0 / p)
    return where(pos, root, 0.0)


def cdist(x1: Tensor, x2: Tensor, p: float = 2.0,
          compute_mode: str = "use_mm_for_euclid_dist_if_necessary") -> Tensor:
    """The p-norm distance between each row of ``x1`` (..., P, M) and each row of ``x2``
    (..., R, M): shape (..., P, R), batch dimensions broadcast. For p = 2 with more than 25
    rows on either side (or ``compute_mode='use_mm_for_euclid_dist'``) it is computed as
    ``|x|^2 + |y|^2 - 2 x.y`` on the GEMM, as PyTorch does."""
    _tensors("cdist", x1, x2)
    if x1.ndim < 2 or x2.ndim < 2:
        raise ValueError(f"cdist: expected tensors of at least 2 dimensions, got shapes "
                         f"{x1.shape} and {x2.shape}")
    if x1.shape[-1] != x2.shape[-1]:
        raise ValueError(f"cdist: x1 and x2 must have the same number of columns, got shapes "
                         f"{x1.shape} and {x2.shape}")
    if not p >= 0:
        raise ValueError(f"cdist: p must be non-negative, got {p}")
    modes = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
             "donot_use_mm_for_euclid_dist")
    if compute_mode not in modes:
        raise ValueError(f"cdist: compute_mode must be one of {modes}, got {compute_mode!r}")
    if not x1.dtype.is_floating_point or not x2.dtype.is_floating_point:
        raise TypeError(f"cdist: expected floating-point tensors, got {x1.dtype} and {x2.dtype}")
    big = x1.shape[-2] > 25 or x2.shape[-2] > 25
    if p == 2 and (compute_mode == modes[1] or compute_mode == modes[0] and big):
        sq = clamp(sum(x1 * x1, -1, keepdim=True) + sum(x2 * x2, -1).unsqueeze(-2)
                   - 2 * matmul(x1, x2.mT), min=0.0)
        return _safe_root(sq, 2.0)
    diff = abs(x1.unsqueeze(-2) - x2.unsqueeze(-3))  # (..., P, R, M)
    if p == float("inf"):
        return amax(diff, -1) if diff.shape[-1] else sum(diff, -1)
    if p == 0:
        return sum((diff != 0).to(diff.dtype), -1)
    if p == 1:
        return sum(diff, -1)
    return _safe_root(sum(diff ** p if p != 2 else diff * diff, -1), p)


__all__ = ["tensordot", "inner", "ger", "kron", "cross", "cdist"]
TENSOR_METHODS = ["inner", "ger", "kron", "cross"]
