"""Shape ops: reshape, permute, expand and their reductions, cat/stack/split, pad, casts.

Most are *views* in NumPy (no copy): the output shares memory and the version counter
with the input. Each backward undoes the shape change on the gradient.
"""

from __future__ import annotations

from collections.abc import Sequence

from .. import cuda
from .. import dtypes as _dt
from .._broadcast import broadcast_shapes, normalize_dim, normalize_dims
from ..autograd.function import Function
from ..autograd.grad_mode import no_grad
from ..backend import backend_for
from ..device import as_device
from ..tensor import Tensor


# ---------------------------------------------------------------------------- reshape
class Reshape(Function):
    # y = x viewed with a new shape  ->  dx = dy viewed with x's shape
    is_view = True

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return ctx.backend.reshape(x, shape)

    @staticmethod
    def backward(ctx, g):
        return reshape(g, ctx.in_shape), None


def _infer_shape(op: str, x: Tensor, shape: tuple) -> tuple:
    numel = x.numel()
    if shape.count(-1) > 1:
        raise ValueError(f"{op}: only one dimension can be -1, got {shape}")
    known = 1
    for s in shape:
        if s != -1:
            if not isinstance(s, int) or s < 0:
                raise ValueError(f"{op}: invalid size {s!r} in shape {shape}")
            known *= s
    if -1 in shape:
        if known == 0 or numel % known:
            raise ValueError(f"{op}: shape {shape} is invalid for a tensor of {numel} elements "
                             f"(shape {x.shape})")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    elif known != numel:
        raise ValueError(f"{op}: shape {shape} is invalid for a tensor of {numel} elements "
                         f"(shape {x.shape})")
    return shape


def reshape(x: Tensor, *shape) -> Tensor:
    """The same elements in a new shape (one size may be -1: inferred)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    shape = _infer_shape("reshape", x, tuple(shape))
    if shape == x.shape:
        return x
    return Reshape.apply(x, shape)


def view(x: Tensor, *shape) -> Tensor:
    """Alias of ``reshape`` (NumPy copies when a view is impossible, so there is no
    contiguity error)."""
    return reshape(x, *shape)


def view_as(x: Tensor, other: Tensor) -> Tensor:
    return reshape(x, other.shape)


def reshape_as(x: Tensor, other: Tensor) -> Tensor:
    return reshape(x, other.shape)


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dimensions ``start_dim..end_dim`` into one."""
    s = normalize_dim("flatten", start_dim, x.ndim)
    e = normalize_dim("flatten", end_dim, x.ndim)
    if x.ndim == 0:
        return reshape(x, 1)
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    return reshape(x, x.shape[:s] + (_prod(x.shape[s:e + 1]),) + x.shape[e + 1:])


def unflatten(x: Tensor, dim: int, sizes: Sequence[int]) -> Tensor:
    d = normalize_dim("unflatten", dim, x.ndim)
    return reshape(x, x.shape[:d] + tuple(sizes) + x.shape[d + 1:])


def squeeze(x: Tensor, dim: int | Sequence[int] | None = None) -> Tensor:
    """Remove dimensions of size 1 (all of them, or only those in ``dim``)."""
    if dim is None:
        return reshape(x, tuple(s for s in x.shape if s != 1))
    axes = normalize_dims("squeeze", dim, x.ndim) or ()
    return reshape(x, tuple(s for i, s in enumerate(x.shape) if not (i in axes and s == 1)))


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """Insert a dimension of size 1 at ``dim`` (in [-ndim-1, ndim])."""
    d = normalize_dim("unsqueeze", dim, x.ndim + 1)
    return reshape(x, x.shape[:d] + (1,) + x.shape[d:])


# ---------------------------------------------------------------------------- permute
class Permute(Function):
    # y = x with axes reordered by p  ->  dx = dy with the inverse order
    is_view = True

    @staticmethod
    def forward(ctx, x, axes):
        ctx.axes = axes
        return ctx.backend.permute(x, axes)

    @staticmethod
    def backward(ctx, g):
        inverse = [0] * len(ctx.axes)
        for i, a in enumerate(ctx.axes):
            inverse[a] = i
        return permute(g, *inverse), None


def permute(x: Tensor, *dims) -> Tensor:
    """Reorder the dimensions: ``x.permute(2, 0, 1)``."""
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    axes = tuple(normalize_dim("permute", d, x.ndim) for d in dims)
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(f"permute: {dims} is not a permutation of the {x.ndim} dimensions of a "
                         f"tensor of shape {x.shape}")
    if axes == tuple(range(x.ndim)):
        return x
    return Permute.apply(x, axes)


def transpose(x: Tensor, dim0: int = -2, dim1: int = -1) -> Tensor:
    """Swap two dimensions."""
    a = normalize_dim("transpose", dim0, x.ndim)
    b = normalize_dim("transpose", dim1, x.ndim)
    if x.ndim == 0:
        return x
    axes = list(range(x.ndim))
    axes[a], axes[b] = axes[b], axes[a]
    return permute(x, *axes)


swapaxes = transpose


def t(x: Tensor) -> Tensor:
    """Transpose a matrix (a 0-d or 1-d tensor is returned as is)."""
    if x.ndim > 2:
        raise ValueError(f"t: expected a tensor with at most 2 dimensions, got shape {x.shape}")
    return transpose(x, 0, 1) if x.ndim == 2 else x


# ---------------------------------------------------------------------------- expand / sum_to
class Expand(Function):
    # y = x broadcast to a larger shape  ->  dx = dy summed back over the broadcast dims
    is_view = True

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return ctx.backend.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, g):
        return sum_to(g, ctx.in_shape), None


class SumTo(Function):
    # y = x summed down to `shape` (the reverse of broadcasting)  ->  dx = dy broadcast back
    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        lead = x.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, s in enumerate(shape) if s == 1 and x.shape[lead + i] != 1)
        out = ctx.backend.sum(x, axes, True) if axes else x
        return ctx.backend.reshape(out, shape)

    @staticmethod
    def backward(ctx, g):
        return expand(g, ctx.in_shape), None


def expand(x: Tensor, *shape) -> Tensor:
    """Broadcast to a larger shape without copying (-1 keeps a size)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    lead = len(shape) - x.ndim
    if lead < 0:
        raise ValueError(f"expand: the target shape {shape} has fewer dimensions than the "
                         f"tensor's shape {x.shape}")
    if any(s == -1 for s in shape[:lead]):
        raise ValueError(f"expand: -1 is not allowed in a new leading dimension (target shape "
                         f"{shape} for a tensor of shape {x.shape})")
    shape = tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(shape))
    if broadcast_shapes("expand", x.shape, shape) != shape:
        raise ValueError(f"expand: a tensor of shape {x.shape} cannot be expanded to {shape}")
    if shape == x.shape:
        return x
    return Expand.apply(x, shape)


def expand_as(x: Tensor, other: Tensor) -> Tensor:
    return expand(x, other.shape)


def broadcast_to(x: Tensor, shape) -> Tensor:
    return expand(x, tuple(shape))


def sum_to(x: Tensor, shape: tuple) -> Tensor:
    """Sum ``x`` down to ``shape`` (which ``x``'s shape is a broadcast of)."""
    shape = tuple(shape)
    if x.shape == shape:
        return x
    return SumTo.apply(x, shape)


def repeat(x: Tensor, *sizes) -> Tensor:
    """Tile the tensor ``sizes[i]`` times along each dimension (``torch.Tensor.repeat``)."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    if len(sizes) < x.ndim:
        raise ValueError(f"repeat: {len(sizes)} repeat counts for a tensor with {x.ndim} dims")
    if any(not isinstance(r, int) or r < 0 for r in sizes):
        raise ValueError(f"repeat: repeat counts must be non-negative ints, got {sizes}")
    x = reshape(x, (1,) * (len(sizes) - x.ndim) + x.shape)
    # insert a size-r axis before each dimension, expand it, then merge the pairs
    inter = []
    for s in x.shape:
        inter += [1, s]
    y = expand(reshape(x, tuple(inter)), tuple(v for r, s in zip(sizes, x.shape) for v in (r, s)))
    return reshape(y, tuple(r * s for r, s in zip(sizes, x.shape)))


# ---------------------------------------------------------------------------- cat / stack / split
class Cat(Function):
    # y = [x_1, ..., x_n] joined along `axis`  ->  dx_i = the matching slice of dy
    @staticmethod
    def forward(ctx, axis, *xs):
        ctx.axis = axis
        ctx.sizes = [x.shape[axis] for x in xs]
        return ctx.backend.cat(xs, axis)

    @staticmethod
    def backward(ctx, g):
        return (None, *split(g, ctx.sizes, ctx.axis))


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dimension; all other sizes must match."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty sequence of tensors")
    for i, x in enumerate(tensors):
        if not isinstance(x, Tensor):
            raise TypeError(f"cat: element {i} is a {type(x).__name__}, expected a Tensor")
    ref = tensors[0]
    for i, x in enumerate(tensors):
        if x.ndim == 0:
            raise ValueError(f"cat: zero-dimensional tensor (at position {i}) cannot be "
                             "concatenated; use stack, or reshape it to (1,)")
    d = normalize_dim("cat", dim, ref.ndim)
    dt = ref.dtype
    for x in tensors[1:]:
        dt = _dt.promote(dt, x.dtype)
    for i, x in enumerate(tensors):
        if x.ndim != ref.ndim or any(a != b for j, (a, b) in enumerate(zip(x.shape, ref.shape))
                                     if j != d):
            raise ValueError(
                f"cat: tensor {i} has shape {x.shape} but tensor 0 has shape {ref.shape}; all "
                f"sizes except dimension {d} must match"
            )
    tensors = [cast(x, dt) for x in tensors]
    return Cat.apply(d, *tensors)


concat = concatenate = cat


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join same-shaped tensors along a new dimension."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty sequence of tensors")
    for i, x in enumerate(tensors):
        if not isinstance(x, Tensor):
            raise TypeError(f"stack: element {i} is a {type(x).__name__}, expected a Tensor")
        if x.shape != tensors[0].shape:
            raise ValueError(f"stack: tensor {i} has shape {x.shape} but tensor 0 has shape "
                             f"{tensors[0].shape}; all must be equal")
    d = normalize_dim("stack", dim, tensors[0].ndim + 1)
    return cat([unsqueeze(x, d) for x in tensors], d)


class Split(Function):
    # (y_1, ..., y_n) = consecutive slices of x along `axis`  ->  dx = cat(dy_1, ..., dy_n)
    # One node with n outputs, so backward is a single cat (slicing n times would scatter
    # each gradient into a full-size zero tensor: O(n) times the memory traffic).
    is_view = True

    @staticmethod
    def forward(ctx, x, axis, sizes):
        ctx.axis = axis
        out, start = [], 0
        for n in sizes:
            index = (slice(None),) * axis + (slice(start, start + n),)
            out.append(ctx.backend.getitem(x, index))
            start += n
        return tuple(out)

    @staticmethod
    def backward(ctx, *grads):
        return cat(list(grads), ctx.axis), None, None


def split(x: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Split into pieces of ``split_size`` (the last may be smaller) or of the given sizes."""
    d = normalize_dim("split", dim, x.ndim)
    n = x.shape[d]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size < 0 or size == 0 and n:  # (PyTorch splits an empty dim by 0)
            raise ValueError(f"split: split_size must be positive, got {size}")
        sizes = [min(size, n - i) for i in range(0, n, size or 1)] or [0]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise ValueError(f"split: sizes {sizes} add up to {sum(sizes)} but dimension {d} "
                             f"of shape {x.shape} has size {n}")
    return Split.apply(x, d, tuple(sizes))


def chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple:
    """Split into ``chunks`` nearly equal pieces (the last may be smaller)."""
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    n = x.shape[normalize_dim("chunk", dim, x.ndim)]
    return split(x, max(1, -(-n // chunks)) if n else [0] * chunks, dim)  # PyTorch: n = 0 ->
    # chunks empty pieces


def unbind(x: Tensor, dim: int = 0) -> tuple:
    """The slices along ``dim``, with that dimension removed."""
    d = normalize_dim("unbind", dim, x.ndim)
    if x.shape[d] == 0:
        return ()
    rest = x.shape[:d] + x.shape[d + 1:]
    return tuple(reshape(p, rest) for p in Split.apply(x, d, (1,) * x.shape[d]))


# ---------------------------------------------------------------------------- copies and casts
class Cast(Function):
    # y = x converted to another dtype  ->  dx = dy converted back
    @staticmethod
    def forward(ctx, x, dtype):
        ctx.in_dtype = _dt.from_numpy_dtype(x.dtype)
        return ctx.backend.astype(x, dtype)

    @staticmethod
    def backward(ctx, g):
        return (cast(g, ctx.in_dtype) if ctx.in_dtype.is_floating_point else None), None


def cast(x: Tensor, dtype) -> Tensor:
    """The values converted to ``dtype`` (differentiable between float dtypes)."""
    dtype = _dt.as_dtype(dtype)
    if x.dtype is dtype:
        return x
    if not dtype.is_floating_point:
        with no_grad():
            return Cast.apply(x, dtype)
    return Cast.apply(x, dtype)


class Clone(Function):
    # y = a copy of x  ->  dx = dy
    @staticmethod
    def forward(ctx, x):
        return ctx.backend.copy(x)

    @staticmethod
    def backward(ctx, g):
        return g


def clone(x: Tensor) -> Tensor:
    """A copy with its own (contiguous) memory; differentiable."""
    return Clone.apply(x)


def contiguous(x: Tensor) -> Tensor:
    """A C-contiguous tensor with the same values (x itself if already contiguous)."""
    flags = getattr(x._data, "flags", None)
    if flags is not None and flags["C_CONTIGUOUS"]:
        return x
    return Clone.apply(x)


class ToDevice(Function):
    # y = x on another device  ->  dx = dy moved back
    @staticmethod
    def forward(ctx, x, src, dst):
        ctx.src = src
        ctx.out_device = dst
        host = backend_for(src).to_numpy(x)
        return backend_for(dst).from_numpy(host, _dt.from_numpy_dtype(host.dtype))

    @staticmethod
    def backward(ctx, g):
        return to_device(g, ctx.src), None, None


def to_device(x: Tensor, device) -> Tensor:
    """The tensor on ``device`` (differentiable)."""
    device = as_device(device)
    if device == x.device:
        return x
    if device.type == "cuda":
        cuda.check_available("to")
    return ToDevice.apply(x, x.device, device)


def _prod(xs) -> int:
    n = 1
    for s in xs:
        n *= s
    return n
