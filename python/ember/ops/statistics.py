"""Order statistics and NaN-skipping reductions: ``kthvalue``, ``median``, ``nansum``,
``nanmean``, composed from differentiable ops.

``kthvalue``/``median`` sort along the dimension (the stable ``argsort``, NaN last) and
``gather`` the chosen element, so the gradient goes to that element only, as in PyTorch;
the indices carry none. A NaN in a row makes ``median`` of that row NaN (the first NaN's
index), as PyTorch's does.
"""

from __future__ import annotations

from .._broadcast import normalize_dim, normalize_dims
from ..tensor import Tensor
from .compare import isnan
from .elementwise import where
from .index import gather
from .reduce import sum, values_indices
from .shape import flatten, squeeze
from .sorting import argsort


def _pick(op: str, x: Tensor, dim: int, keepdim: bool, position) -> values_indices:
    """The element at sorted ``position`` (an int, or an int64 tensor of one per row with
    the row's dimension kept) along ``dim``, and its index."""
    if x.ndim == 0:
        return values_indices(x, x.new_zeros((), dtype="int64"))
    d = normalize_dim(op, dim, x.ndim)
    order = argsort(x, d)
    if isinstance(position, int):
        position = order.new_full(x.shape[:d] + (1,) + x.shape[d + 1:], position)
    idx = gather(order, d, position)
    values = gather(x, d, idx)
    if not keepdim:
        values, idx = squeeze(values, d), squeeze(idx, d)
    return values_indices(values, idx)


def _require(op: str, x, dim: int):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    d = normalize_dim(op, dim, x.ndim)
    size = x.shape[d] if x.ndim else 1
    if size == 0:
        raise ValueError(f"{op}: dimension {d} of the input (shape {x.shape}) is empty")
    return d, size


def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False) -> values_indices:
    """``(values, indices)`` of the ``k``-th smallest entry (k from 1) along ``dim``."""
    d, size = _require("kthvalue", input, dim)
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= size:
        raise ValueError(f"kthvalue: k must be an int in [1, {size}] (the size of dimension "
                         f"{d} of a tensor of shape {input.shape}), got {k!r}")
    return _pick("kthvalue", input, d, keepdim, k - 1)


def median(input: Tensor, dim: int | None = None, keepdim: bool = False):
    """The lower median: all entries (a 0-d tensor), or ``(values, indices)`` along ``dim``.
    With an even count it is the smaller of the two middle values, as in PyTorch."""
    if dim is None:
        if not isinstance(input, Tensor):
            raise TypeError(f"median: expected a Tensor, got {type(input).__name__}")
        if input.numel() == 0:
            raise ValueError(f"median: the input (shape {input.shape}) is empty")
        return median(flatten(input), 0).values
    d, size = _require("median", input, dim)
    position = (size - 1) // 2
    if input.dtype.is_floating_point and input.ndim:
        # a row with NaN: its first NaN, which the sort put at size - (number of NaN)
        nans = sum(isnan(input), d, keepdim=True)
        position = where(nans > 0, size - nans, position)
    return _pick("median", input, d, keepdim, position)


def nansum(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """The sum treating NaN as zero (NaN entries get no gradient)."""
    if not input.dtype.is_floating_point:
        return sum(input, dim, keepdim)
    return sum(where(isnan(input), 0.0, input), dim, keepdim)


def nanmean(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """The mean of the entries that are not NaN (NaN where all are)."""
    if not input.dtype.is_floating_point:
        raise TypeError(f"nanmean: expected a floating-point tensor, got {input.dtype}")
    normalize_dims("nanmean", dim, input.ndim)
    count = sum(~isnan(input), dim, keepdim)
    return nansum(input, dim, keepdim) / count


__all__ = ["kthvalue", "median", "nansum", "nanmean"]
TENSOR_METHODS = list(__all__)
