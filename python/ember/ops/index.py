"""Indexing: ``x[index]``, gather/scatter, index_select, masked_fill, and writes.

``x[index]`` follows NumPy: ints, slices, None, Ellipsis, integer arrays/tensors and
boolean masks. Its backward scatters the gradient back into a zero tensor of x's shape
(adding where an integer index repeats an element).
"""

from __future__ import annotations

import builtins
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
    _same_dtype_if_advanced(x, index, value)
    value = _strip_ones(as_tensor_like("index_put", value, x))
    if value.dtype is not x.dtype:
        value = cast(value, x.dtype)
    return IndexPut.apply(x, value, _convert_index(x, index))


def prepare_setitem(x: Tensor, index, value):
    """The backend index and array for an in-place ``x[index] = value``."""
    idx = _convert_index(x, index)
    _same_dtype_if_advanced(x, idx, value)
    if isinstance(value, Tensor):
        if value.device != x.device:
            raise RuntimeError(f"setitem: value on {value.device} for a tensor on {x.device}")
        val = _strip_ones(value)._data
    else:
        val = np.asarray(value, dtype=x.dtype.np)
    return idx, val


def _same_dtype(op: str, x: Tensor, src: Tensor) -> None:
    if src.dtype is not x.dtype:  # PyTorch does not promote here
        raise TypeError(f"{op}: the source's dtype {src.dtype} is not the tensor's {x.dtype}")


def _strip_ones(v: Tensor) -> Tensor:
    """PyTorch drops a value's leading 1-sized dims before broadcasting it into x[index]."""
    k = next((i for i, s in enumerate(v.shape) if s != 1), v.ndim)
    return reshape(v, v.shape[k:]) if k else v


def _same_dtype_if_advanced(x: Tensor, index, value) -> None:
    """PyTorch's index_put: with an integer-array index (or a mask and more than one value)
    a tensor value must have x's dtype."""
    items = [np.asarray(i._data if isinstance(i, Tensor) else i) for i in (
        index if isinstance(index, tuple) else (index,)) if isinstance(i, (Tensor, list))
        or hasattr(i, "dtype")]
    if isinstance(value, Tensor) and value.dtype is not x.dtype and builtins.any(
            i.ndim and i.dtype != np.bool_ or i.dtype == np.bool_ and value.numel() != 1
            for i in items):
        raise RuntimeError(f"setitem: with a tensor index the value's dtype ({value.dtype}) "
                           f"must be the tensor's ({x.dtype})")


def index_select(x: Tensor, dim: int, index: Tensor) -> Tensor:
    """The entries of ``x`` at positions ``index`` (1-d int64) along ``dim``."""
    d = normalize_dim("index_select", dim, x.ndim)
    index = as_tensor_like("index_select", index, x)
    if index.ndim != 1 or index.dtype is not _dt.int64:
        raise ValueError(f"index_select: index must be a 1-d int64 tensor, got shape "
                         f"{index.shape} and dtype {index.dtype}")
    _check_range("index_select", index, x.shape[d] if x.ndim else 1, d, x.shape)
    if x.ndim == 0:  # a 0-dim tensor selects from itself, keeping no dimension
        return getitem(reshape(x, (1,)), index).reshape(index.shape[1:])
    return getitem(x, (slice(None),) * d + (index,))


def _check_range(op: str, index: Tensor, size: int, dim: int, shape: tuple) -> None:
    if index.numel():
        lo, hi = int(index.min().item()), int(index.max().item())
        if lo < 0 or hi >= size:  # PyTorch takes no negative index here
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
    _check_range(op, index, x.shape[d] if x.ndim else 1, d, x.shape)
    return d


def gather(x: Tensor, dim: int, index: Tensor) -> Tensor:
    """Pick values along ``dim`` at ``index`` (same number of dims as x)."""
    d = _check_gather_args("gather", x, dim, index)
    if x.ndim == 0:  # a 0-dim tensor gathers itself (index 0)
        return Gather.apply(reshape(x, (1,)), 0, reshape(index, (1,))._data).reshape(())
    return Gather.apply(x, d, index._data)


def scatter_add(x: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """Out of place: ``x`` plus ``src`` added at ``index`` along ``dim``."""
    d = _check_gather_args("scatter_add", x, dim, index, src.shape)
    if x.ndim == 0:  # a 0-dim tensor is its only position
        return scatter_add(reshape(x, (1,)), 0, reshape(index, (1,)), reshape(src, (1,)))[0]
    _same_dtype("scatter_add", x, src)
    return x + ScatterAdd.apply(src, x.shape, d, index._data)


def masked_fill(x: Tensor, mask: Tensor, value) -> Tensor:
    """``value`` where ``mask`` (a bool tensor broadcastable to x) is True, else x."""
    if not isinstance(mask, Tensor) or mask.dtype is not _dt.bool_:
        got = mask.dtype if isinstance(mask, Tensor) else type(mask).__name__
        raise TypeError(f"masked_fill: mask must be a bool tensor, got {got}")

    broadcast_shapes("masked_fill", mask.shape, x.shape)  # (the result may be larger than x)
    if x.dtype is _dt.int64 and isinstance(value, float) and not np.isfinite(value):
        raise ValueError(f"masked_fill: {value} cannot be converted to {x.dtype}")
    return where(mask, cast(as_tensor_like("masked_fill", value, x), x.dtype), x)  # x's dtype


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


# ---------------------------------------------------------------------------- more selection
def narrow(x: Tensor, dim: int, start: int, length: int) -> Tensor:
    """``length`` entries of ``x`` along ``dim`` from ``start`` (a view, as PyTorch's)."""
    d = normalize_dim("narrow", dim, x.ndim)
    n = x.shape[d]
    if start < 0:
        start += n
    if not (0 <= start <= n and 0 <= length and start + length <= n):
        raise IndexError(f"narrow: start {start} and length {length} do not fit dimension {d} "
                         f"of size {n} (tensor shape {x.shape})")
    return getitem(x, (slice(None),) * d + (slice(start, start + length),))


def _full_index(op: str, x: Tensor, dim: int, index: Tensor) -> tuple:
    """The advanced index that addresses x[i0, ..., index[i], ..., ik] for every position
    i of ``index`` (PyTorch's scatter rule: entry i of index names the position along
    ``dim``, its other coordinates are i's own)."""
    d = _check_gather_args(op, x, dim, index)
    grids = np.indices(index.shape, sparse=True)
    host = x._ops_backend().to_numpy(index._data)
    return tuple(tensor(host if a == d else np.broadcast_to(g, index.shape).astype(np.int64),
                        device=x.device) for a, g in enumerate(grids))


def scatter(x: Tensor, dim: int, index: Tensor, src=None, *, value=None) -> Tensor:
    """Out of place: ``x`` with ``src[i]`` (or ``value``) written at ``index[i]`` along
    ``dim``. Where ``index`` repeats a position, which write wins is unspecified (as in
    PyTorch). Gradients: to ``x`` where nothing was written, to ``src`` from where it went."""
    if (src is None) == (value is None):
        raise TypeError("scatter: give exactly one of src (a tensor) and value (a number)")
    if src is not None and not isinstance(src, Tensor):
        value, src = src, None  # scatter(x, dim, index, 2.0): PyTorch's value overload
    idx = _full_index("scatter", x, dim, index)
    if src is None:
        return index_put(x, idx, value)
    _same_dtype("scatter", x, src)
    if any(s < n for s, n in zip(src.shape, index.shape)) or src.ndim != index.ndim:
        raise ValueError(f"scatter: src of shape {src.shape} must be at least as large as "
                         f"index ({index.shape}) in every dimension")
    part = getitem(src, tuple(slice(0, n) for n in index.shape))
    return index_put(x, idx, part)


def index_add(x: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha=1) -> Tensor:
    """Out of place: ``x`` plus ``alpha * source`` added at positions ``index`` (1-d int64)
    along ``dim``; repeated positions add up."""
    d = normalize_dim("index_add", dim, x.ndim)
    index = as_tensor_like("index_add", index, x)
    if index.ndim != 1 or index.dtype is not _dt.int64:
        raise ValueError(f"index_add: index must be a 1-d int64 tensor, got shape "
                         f"{index.shape} and dtype {index.dtype}")
    want = x.shape[:d] + (index.shape[0],) + x.shape[d + 1:]
    if source.shape != want:
        raise ValueError(f"index_add: source of shape {source.shape} does not match x "
                         f"{x.shape} with {index.shape[0]} indices along dim {d} (expected "
                         f"{want})")
    _check_range("index_add", index, x.shape[d], d, x.shape)
    _same_dtype("index_add", x, source)
    key = (slice(None),) * d + (index,)
    alpha = builtins.bool(alpha) if x.dtype is _dt.bool_ else alpha  # (as PyTorch's bool add)
    added = IndexAdd.apply(source if alpha == 1 else source * alpha, x.shape,
                           _convert_index(x, key))
    return x + added


def _triangle(op: str, x: Tensor, diagonal: int, lower: bool) -> Tensor:
    if x.ndim < 2:
        raise ValueError(f"{op}: expected a tensor of at least 2 dimensions, got shape "
                         f"{x.shape}")
    rows, cols = x.shape[-2:]
    offset = np.arange(cols)[None, :] - np.arange(rows)[:, None]  # column - row
    keep = offset <= diagonal if lower else offset >= diagonal
    return where(tensor(keep, device=x.device), x, const(0, x.dtype, x.device))


def tril(x: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dimensions (entries with column - row <=
    ``diagonal``), zeros elsewhere."""
    return _triangle("tril", x, diagonal, True)


def triu(x: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dimensions (column - row >= ``diagonal``)."""
    return _triangle("triu", x, diagonal, False)


def unfold(x: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """``Tensor.unfold``: every window of ``size`` entries along ``dimension``, ``step``
    apart, as a new last dimension: (..., n, ...) -> (..., (n - size) // step + 1, ..., size).
    (A copy in ember -- PyTorch returns a view; the values and gradients agree.)"""
    d = normalize_dim("unfold", dimension, max(x.ndim, 1))
    n = x.shape[d] if x.ndim else 1
    if not isinstance(size, int) or not 0 <= size <= n or not isinstance(step, int) or step <= 0:
        raise ValueError(f"unfold: size must be in [0, {n}] and step positive for dimension {d} "
                         f"of shape {x.shape}, got size={size!r}, step={step!r}")
    if x.ndim == 0:
        return reshape(x, (1,))
    count = (n - size) // step + 1
    starts = np.arange(count)[:, None] * step + np.arange(size)[None, :]
    picked = index_select(x, d, tensor(starts.reshape(-1), device=x.device))
    windows = reshape(picked, x.shape[:d] + (count, size) + x.shape[d + 1:])
    order = list(range(windows.ndim))
    order.append(order.pop(d + 1))  # the window axis goes last
    return windows.permute(*order)
