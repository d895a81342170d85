"""Distinct values, counts and positions: ``unique``, ``unique_consecutive``, ``bincount``,
``argwhere``, ``count_nonzero``.

Their result sizes depend on the data, so ``unique``/``unique_consecutive`` run on the host
(NumPy) and come back on the input's device, as ``nonzero`` does; they carry no gradient.
``bincount`` sums on the device with ``index_add`` (only its length needs the data's
maximum), so its weights get the gradient ``g[input]``.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes as _dt
from .._broadcast import normalize_dim, normalize_dims
from ..tensor import Tensor
from .composite import _host, nonzero
from .index import index_add
from .reduce import sum


def _check(op: str, x) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")


def _results(x: Tensor, values, inverse, counts, return_inverse, return_counts):
    out = [_host(x, values, x.dtype)]
    if return_inverse:
        out.append(_host(x, np.asarray(inverse, np.int64)))
    if return_counts:
        out.append(_host(x, np.asarray(counts, np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def _slices(op: str, x: Tensor, dim):
    """``x`` on the host, as rows to compare: its elements (dim=None) or its slices along
    ``dim`` flattened; and how to rebuild values from chosen rows."""
    a = x.detach().cpu().numpy()
    if dim is None:
        flat = a.reshape(-1)
        return flat.reshape(-1, 1), lambda rows: flat[rows], a.shape
    d = normalize_dim(op, dim, a.ndim)
    moved = np.moveaxis(a, d, 0)
    rows = moved.reshape(moved.shape[0], -1)
    return rows, lambda keep: np.moveaxis(moved[keep], 0, d), (a.shape[d],) if a.ndim else ()


def unique(input: Tensor, sorted: bool = True, return_inverse: bool = False,  # noqa: A002
           return_counts: bool = False, dim: int | None = None):
    """The distinct values in ascending order (or the distinct slices along ``dim``, in
    lexicographic order); with ``return_inverse`` the index of each input element (slice)
    among them, with ``return_counts`` how often each occurs. Each NaN is distinct, as in
    PyTorch. The result is always sorted (``sorted=False`` is accepted)."""
    _check("unique", input)
    rows, pick, shape = _slices("unique", input, dim)
    # sort the rows lexicographically (stable), then keep each run's first row
    order = np.lexsort(rows.T[::-1]) if rows.shape[1] else np.arange(rows.shape[0])
    ordered = rows[order]
    with np.errstate(invalid="ignore"):
        new = np.ones(len(ordered), bool)
        new[1:] = (ordered[1:] != ordered[:-1]).any(axis=1) if rows.shape[1] else False
    group = np.cumsum(new) - 1
    inverse = np.empty(len(order), np.int64)
    inverse[order] = group
    counts = np.bincount(group, minlength=int(new.sum())) if len(group) else group
    return _results(input, pick(order[new]), inverse.reshape(shape), counts, return_inverse,
                    return_counts)


def unique_consecutive(input: Tensor, return_inverse: bool = False, return_counts: bool = False,
                       dim: int | None = None):
    """Each run of equal consecutive values (or slices along ``dim``) collapsed to one;
    ``return_inverse``: each element's run, ``return_counts``: each run's length."""
    _check("unique_consecutive", input)
    rows, pick, shape = _slices("unique_consecutive", input, dim)
    new = np.ones(len(rows), bool)
    if len(rows) and rows.shape[1]:
        new[1:] = (rows[1:] != rows[:-1]).any(axis=1)
    elif len(rows):
        new[1:] = False
    starts = np.flatnonzero(new)
    counts = np.diff(np.append(starts, len(rows)))
    inverse = (np.cumsum(new) - 1).reshape(shape)
    return _results(input, pick(starts), inverse, counts, return_inverse, return_counts)


def bincount(input: Tensor, weights: Tensor | None = None, minlength: int = 0) -> Tensor:
    """How often each value 0, 1, ..., max occurs in the 1-D int64 ``input`` (at least
    ``minlength`` bins); with ``weights`` the sum of the weights at each value instead.
    out = zeros.index_add(0, input, weights)  ->  d weights = g[input]."""
    _check("bincount", input)
    if input.dtype is not _dt.int64 or input.ndim != 1:
        raise ValueError(f"bincount: expected a 1-D int64 tensor, got {input.dtype} of shape "
                         f"{input.shape}")
    if not isinstance(minlength, int) or minlength < 0:
        raise ValueError(f"bincount: minlength must be a non-negative int, got {minlength!r}")
    if weights is not None and (not isinstance(weights, Tensor) or weights.shape !=
                                input.shape):
        raise ValueError(f"bincount: weights must be a tensor of the input's shape "
                         f"{input.shape}, got {getattr(weights, 'shape', type(weights))}")
    lo, hi = (int(input.min().item()), int(input.max().item())) if input.numel() else (0, -1)
    if lo < 0:
        raise ValueError(f"bincount: the input must be non-negative, got a value {lo}")
    n = max(hi + 1, minlength)
    if weights is None:
        return index_add(input.new_zeros((n,)), 0, input, input.new_ones(input.shape))
    w = weights if weights.dtype.is_floating_point else weights.to(_dt.float64)
    return index_add(w.new_zeros((n,)), 0, input, w)

def argwhere(input: Tensor) -> Tensor:
    """The (n, ndim) int64 indices of the non-zero entries (``nonzero`` without as_tuple)."""
    _check("argwhere", input)
    return nonzero(input)


def count_nonzero(input: Tensor, dim=None) -> Tensor:
    """The number of non-zero entries (all of them, or along ``dim``: an int or a tuple)."""
    _check("count_nonzero", input)
    dims = normalize_dims("count_nonzero", dim, input.ndim)
    return sum((input != 0).long(), dims)


__all__ = ["unique", "unique_consecutive", "bincount", "argwhere", "count_nonzero"]
TENSOR_METHODS = list(__all__)
