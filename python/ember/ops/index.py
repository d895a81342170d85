"""Indexing: ``x[index]``, gather/scatter, index_select, masked_fill, and writes.

``x[index]`` follows NumPy: ints, slices, None, Ellipsis, integer arrays/tensors and
boolean masks. Its backward scatters the gradient back into a zero tensor of x's shape
(adding where an integer index repeats an element).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import dtypes as _dt
from .._broadcast import broadcast_shapes, normalize_dim
from ..autograd.function import Function
from ..creation import tensor
from ..tensor import Tensor
from ._util import as_tensor_like, const
from .elementwise import where
from .shape import cast, reshape, sum_to


def _convert_index(x: Tensor, index):
    """Tensors and lists inside an index become backend arrays; everything is checked."""
    items = index if isinstance(index, tuple) else (index,)
    out = []
    for it in items:
        if isinstance(it, Tensor):
            if it.device != x.device:
                raise RuntimeError(f"getitem: index on {it.device} for a tensor on {x.device}")
            if it.dtype.is_floating_point:
                raise IndexError(f"getitem: tensors used as indices must be int64 or bool, "
                                 f"got {it.dtype}")
            out.append(it._data)
        elif isinstance(it, (list, np.ndarray)):
            arr = np.asarray(it)
            if arr.dtype.kind not in "iub" and arr.size:
                raise IndexError(f"getitem: index arrays must be integer or bool, got {arr.dtype}")
            out.append(arr.astype(np.int64) if arr.dtype.kind in "iu" or not arr.size else arr)
        elif it is None or it is Ellipsis or isinstance(it, (int, slice, np.integer)):
            out.append(it)
        else:
            raise IndexError(f"getitem: unsupported index of type {type(it).__name__}")
    return tuple(out)


class GetItem(Function):
    # y = x[index]  ->  dx = zeros like x, with dy added at index
    @staticmethod
    def forward(ctx, x, index):
        ctx.in_shape, ctx.index = x.shape, index
        return ctx.backend.getitem(x, index)

    @staticmethod
    def backward(ctx, g):
        return IndexAdd.apply(g, ctx.in_shape, ctx.index), None


class IndexAdd(Function):
    # y = zeros(shape); y[index] += v  ->  dv = dy[index]
    @staticmethod
    def forward(ctx, v, shape, index):
        ctx.index = index
        return ctx.backend.index_add(shape, index, v, _dt.from_numpy_dtype(v.dtype))

    @staticmethod
    def backward(ctx, g):
        return GetItem.apply(g, ctx.index), None, None


class GetItemView(GetItem):
    # basic indexing (ints, slices) returns a view of x's memory
    is_view = True


def getitem(x: Tensor, index) -> Tensor:
    """``x[index]`` with NumPy semantics; differentiable."""
    idx = _convert_index(x, index)
    basic = all(i is None or i is Ellipsis or isinstance(i, (int, slice, np.integer))
                for i in idx)
    try:
        return (GetItemView if basic else GetItem).apply(x, idx)
    except IndexError as e:
        raise IndexError(f"getitem: index {index!r} is out of range for a tensor of shape "
                         f"{x.shape}: {e}") from None


class IndexPut(Function):
    # y = x with y[index] = v  ->  dx = dy with zeros at index,  dv = dy[index] summed to v's shape
    @staticmethod
    def forward(ctx, x, v, index):
        ctx.index, ctx.v_shape = index, v.shape
        out = ctx.backend.copy(x)
        ctx.backend.setitem_(out, index, v)
        return out

    @staticmethod
    def backward(ctx, g):
        gx = IndexPut.apply(g, const(0, g.dtype, g.device), ctx.index)
        gv = GetItem.apply(g, ctx.index)
        # v was broadcast to x[index]'s shape; NumPy first drops v's extra leading 1s
        core = ctx.v_shape
        while len(core) > gv.ndim and core[0] == 1:
            core = core[1:]
        return gx, reshape(sum_to(gv, core), ctx.v_shape), None


def index_put(x: Tensor, index, value) -> Tensor:
    """Out of place ``x[index] = value``: a new tensor; gradients reach x and value."""
    value = as_tensor_like("index_put", value, x)
    if value.dtype is not x.dtype:
        value = cast(value, x.dtype)
    return IndexPut.apply(x, value, _convert_index(x, index))


def prepare_setitem(x: Tensor, index, value):
    """The backend index and array for an in-place ``x[index] = value``."""
    idx = _convert_index(x, index)
    if isinstance(value, Tensor):
        if value.device != x.device:
            raise RuntimeError(f"setitem: value on {value.device} for a tensor on {x.device}")
        val = value._data
    else:
        val = np.asarray(value, dtype=x.dtype.np)
    return idx, val


def index_select(x: Tensor, dim: int, index: Tensor) -> Tensor:
    """The entries of ``x`` at positions ``index`` (1-d int64) along ``dim``."""
    d = normalize_dim("index_select", dim, x.ndim)
    index = as_tensor_like("index_select", index, x)
    if index.ndim != 1 or index.dtype is not _dt.int64:
        raise ValueError(f"index_select: index must be a 1-d int64 tensor, got shape "
                         f"{index.shape} and dtype {index.dtype}")
    _check_range("index_select", index, x.shape[d], d, x.shape)
    return getitem(x, (slice(None),) * d + (index,))


def _check_range(op: str, index: Tensor, size: int, dim: int, shape: tuple) -> None:
    if index.numel():
        lo, hi = int(index.min().item()), int(index.max().item())
        if lo < -size or hi >= size:
            bad = hi if hi >= size else lo
            raise IndexError(f"{op}: index {bad} is out of range for dimension {dim} of size "
                             f"{size} (tensor shape {shape})")


class Gather(Function):
    # y[i][j][k] = x[i][index[i][j][k]][k] (dim=1)  ->  dx = scatter_add of dy at index
    @staticmethod
    def forward(ctx, x, dim, index):
        ctx.in_shape, ctx.dim, ctx.index = x.shape, dim, index
        return ctx.backend.gather(x, dim, index)

    @staticmethod
    def backward(ctx, g):
        return ScatterAdd.apply(g, ctx.in_shape, ctx.dim, ctx.index), None, None


class ScatterAdd(Function):
    # y = zeros(shape); y[i][index[i][j]] += src[i][j] (dim=1)  ->  dsrc = gather(dy, index)
    @staticmethod
    def forward(ctx, src, shape, dim, index):
        ctx.dim, ctx.index, ctx.src_shape = dim, index, src.shape
        return ctx.backend.scatter_add(shape, dim, index, src)

    @staticmethod
    def backward(ctx, g):
        gs = Gather.apply(g, ctx.dim, ctx.index)
        if gs.shape != ctx.src_shape:  # src may be larger than index: its extra part gets 0

            widths = []
            for n, m in zip(reversed(gs.shape), reversed(ctx.src_shape)):
                widths += [0, m - n]
            gs = pad(gs, widths)
        return gs, None, None, None


def _check_gather_args(op: str, x: Tensor, dim: int, index: Tensor, other_shape=None) -> int:
    d = normalize_dim(op, dim, x.ndim)
    if not isinstance(index, Tensor) or index.dtype is not _dt.int64:
        got = index.dtype if isinstance(index, Tensor) else type(index).__name__
        raise TypeError(f"{op}: index must be an int64 tensor, got {got}")
    if index.ndim != x.ndim:
        raise ValueError(f"{op}: index has {index.ndim} dims but the tensor has {x.ndim} "
                         f"(shapes {index.shape} and {x.shape})")
    ref = other_shape or x.shape
    for i, (a, b) in enumerate(zip(index.shape, ref)):
        if i != d and a > b:
            raise ValueError(f"{op}: index shape {index.shape} exceeds shape {ref} in "
                             f"dimension {i}")
    _check_range(op, index, x.shape[d], d, x.shape)
    return d


def gather(x: Tensor, dim: int, index: Tensor) -> Tensor:
    """Pick values along ``dim`` at ``index`` (same number of dims as x)."""
    d = _check_gather_args("gather", x, dim, index)
    return Gather.apply(x, d, index._data)


def scatter_add(x: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """Out of place: ``x`` plus ``src`` added at ``index`` along ``dim``."""
    d = _check_gather_args("scatter_add", x, dim, index, src.shape)
    return x + ScatterAdd.apply(src, x.shape, d, index._data)


def masked_fill(x: Tensor, mask: Tensor, value) -> Tensor:
    """``value`` where ``mask`` (a bool tensor broadcastable to x) is True, else x."""
    if not isinstance(mask, Tensor) or mask.dtype is not _dt.bool_:
        got = mask.dtype if isinstance(mask, Tensor) else type(mask).__name__
        raise TypeError(f"masked_fill: mask must be a bool tensor, got {got}")

    if broadcast_shapes("masked_fill", mask.shape, x.shape) != x.shape:
        raise ValueError(f"masked_fill: mask of shape {mask.shape} does not broadcast to the "
                         f"tensor's shape {x.shape}")

    return where(mask, as_tensor_like("masked_fill", value, x), x)


def take(x: Tensor, index: Tensor) -> Tensor:
    """The flattened tensor's elements at ``index``."""
    return getitem(reshape(x, -1), index)


# ---------------------------------------------------------------------------- pad
# Padding and slicing are each other's adjoints (Pad's backward slices, a slice's backward
# pads), so they live side by side.
class Pad(Function):
    # y = x surrounded by a constant  ->  dx = the centre of dy
    @staticmethod
    def forward(ctx, x, widths, value):
        ctx.index = tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, x.shape))
        return ctx.backend.pad(x, widths, value)

    @staticmethod
    def backward(ctx, g):
        return getitem(g, ctx.index), None, None


def pad(x: Tensor, pad: Sequence[int], mode: str = "constant", value: float = 0.0) -> Tensor:
    """Pad the last dimensions, PyTorch's order: ``(left, right, top, bottom, ...)``
    pads the last dimension by left/right, the one before by top/bottom, and so on.
    ``mode``: 'constant', 'reflect', 'replicate' or 'circular'."""
    pad = list(pad)
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: expected an even number of pad sizes, at most 2 * ndim = "
                         f"{2 * x.ndim}, got {pad} for shape {x.shape}")
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    for d, ((lo, hi), n) in enumerate(zip(widths, x.shape)):
        if n + lo + hi < 0:
            raise ValueError(f"pad: dimension {d} of size {n} padded by ({lo}, {hi}) would have "
                             f"a negative size {n + lo + hi} (input shape {x.shape})")
    if mode == "constant":
        if any(lo < 0 or hi < 0 for lo, hi in widths):
            # negative padding crops
            idx = tuple(slice(-min(lo, 0), n + min(hi, 0)) for (lo, hi), n in zip(widths, x.shape))
            x = getitem(x, idx)
            widths = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
        return Pad.apply(x, tuple(widths), value)
    if mode not in ("reflect", "replicate", "circular"):
        raise ValueError(f"pad: unknown mode {mode!r}; expected 'constant', 'reflect', "
                         "'replicate' or 'circular'")
    # The other modes pick existing elements: an index_select per padded dimension, so
    # the gradient is the index's scatter-add (handled by index_select's backward).
    for d, (lo, hi) in enumerate(widths):
        if lo == hi == 0:
            continue
        n = x.shape[d]
        if mode == "reflect" and (lo >= n or hi >= n):
            raise ValueError(f"pad: reflect padding ({lo}, {hi}) must be smaller than the "
                             f"dimension's size {n}")
        pos = np.arange(-lo, n + hi)
        if mode == "reflect":
            period = 2 * (n - 1) if n > 1 else 1
            pos = np.abs(pos) % period
            pos = np.where(pos >= n, period - pos, pos)
        elif mode == "replicate":
            pos = np.clip(pos, 0, n - 1)
        else:
            pos = pos % n
        x = index_select(x, d, tensor(pos.astype(np.int64), device=x.device))
    return x
