"""Sorting: ``sort``, ``argsort``, ``topk``.

The order itself comes from one backend primitive, ``argsort`` (stable, NaN counted as the
largest value, as PyTorch sorts); the values are then picked with ``gather``, so the
gradient of ``sort``/``topk`` values flows back to the elements they came from (a
scatter-add of the incoming gradient at the indices). The indices carry no gradient.
"""

from __future__ import annotations

from .._broadcast import normalize_dim
from ..tensor import Tensor
from .index import gather, getitem
from .reduce import values_indices  # the (values, indices) pair max(dim) returns


def argsort(x: Tensor, dim: int = -1, descending: bool = False, *,
            stable: bool = False) -> Tensor:
    """The int64 indices that sort ``x`` along ``dim`` (ties keep their order: every ember
    sort is stable, so ``stable`` is accepted for PyTorch's signature)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"argsort: expected a Tensor, got {type(x).__name__}")
    d = normalize_dim("argsort", dim, x.ndim)
    if x.ndim == 0:
        return x.new_zeros((), dtype="int64")
    order = x._ops_backend().argsort(x._data, d, bool(descending))
    return Tensor._wrap(order, x.device)


def sort(x: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False):
    """``(values, indices)`` of ``x`` sorted along ``dim``; differentiable in the values."""
    idx = argsort(x, dim, descending, stable=stable)
    if x.ndim == 0:
        return values_indices(x, idx)
    return values_indices(gather(x, dim, idx), idx)


def topk(x: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):  # noqa: A002
    """``(values, indices)`` of the ``k`` largest (or smallest) entries along ``dim``, in
    order (largest first when ``largest``); differentiable in the values."""
    if not isinstance(x, Tensor):
        raise TypeError(f"topk: expected a Tensor, got {type(x).__name__}")
    d = normalize_dim("topk", dim, max(x.ndim, 1))
    size = x.shape[d] if x.ndim else 1
    if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k <= size:
        raise ValueError(f"topk: k must be an int in [0, {size}] (the size of dimension {d} "
                         f"of a tensor of shape {x.shape}), got {k!r}")
    idx = argsort(x, d, descending=largest)
    if x.ndim:
        idx = getitem(idx, (slice(None),) * d + (slice(0, k),))
        return values_indices(gather(x, d, idx), idx)
    return values_indices(x, idx)
