"""Shapes: the one place for NumPy's broadcasting rule, dimension arguments and ``Size``."""

from __future__ import annotations

import operator
from collections.abc import Sequence


def broadcast_shapes(op: str, *shapes: tuple) -> tuple:
    """The broadcast of ``shapes`` (NumPy rules), or a ValueError naming ``op``.

    Shapes are aligned at their last dimension; two sizes are compatible when equal or
    when one of them is 1 (it is stretched).
    """
    ndim = max(len(s) for s in shapes)
    out = []
    for i in range(-ndim, 0):
        size = 1
        for s in shapes:
            if len(s) >= -i:
                d = s[i]
                if d != 1:
                    if size != 1 and d != size:
                        raise ValueError(
                            f"{op}: shapes {' and '.join(str(tuple(x)) for x in shapes)} cannot "
                            f"be broadcast together (dimension {i}: {size} vs {d})"
                        )
                    size = d
        out.append(size)
    return tuple(out)


def normalize_dim(op: str, dim: int, ndim: int) -> int:
    """A dimension in [-ndim, ndim) as a non-negative int (0-d tensors accept -1 and 0)."""
    n = max(ndim, 1)
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    if not -n <= dim < n:
        raise IndexError(
            f"{op}: dimension {dim} is out of range for a tensor with {ndim} dimensions "
            f"(expected a value in [{-n}, {n - 1}])"
        )
    return dim % n


def normalize_dims(op: str, dim: int | Sequence[int] | None, ndim: int) -> tuple | None:
    """``dim`` (None = all, an int, or a sequence) as a sorted tuple of axes."""
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    listed = [normalize_dim(op, d, ndim) for d in dims]
    axes = tuple(sorted(set(listed)))
    if len(axes) != len(listed):
        raise ValueError(f"{op}: dim {dim} names a dimension more than once (a tensor of "
                         f"{ndim} dimensions)")
    if ndim == 0:
        return ()
    return axes


def shape_arg(args: tuple) -> tuple:
    """Accept ``f(2, 3)`` and ``f((2, 3))`` alike."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    for a in args:
        if not isinstance(a, int) or isinstance(a, bool) or a < 0:
            raise ValueError(f"expected a shape of non-negative ints, got {args}")
    return tuple(args)


class Size(tuple):
    """A tensor's shape: a tuple of ints (``torch.Size``) that prints as
    ``ember.Size([2, 3])``, with ``numel()``; adding a tuple to it or repeating it gives a
    Size. It equals (and hashes as) the plain tuple. Two differences from torch.Size, both
    deliberate: a slice of it is a plain tuple (indexing stays tuple's C code: ops index
    shapes on every call, and a Python ``__getitem__`` cost ~0.2 us per index), and in an
    f-string it reads as the plain tuple, ``(2, 3)``, so that messages such as "got shape
    (2, 3)" stay short."""

    __slots__ = ()

    def __new__(cls, sizes=()):
        items = []
        for i, s in enumerate(sizes):
            try:
                items.append(operator.index(s))
            except TypeError:
                raise TypeError(f"Size: expected an iterable of ints, but item {i} is "
                                f"{type(s).__name__}") from None
        return tuple.__new__(cls, items)

    def numel(self) -> int:
        """The number of elements a tensor of this shape holds (1 for ``Size([])``)."""
        n = 1
        for s in self:
            n *= s
        return n

    def __add__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented
        return tuple.__new__(Size, tuple.__add__(self, other))

    def __radd__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented
        return tuple.__new__(Size, tuple.__add__(other, self))

    def __mul__(self, n):
        out = tuple.__mul__(self, n)
        return out if out is NotImplemented else tuple.__new__(Size, out)

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return f"ember.Size({list(self)})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return format(tuple.__repr__(self), spec)

    def __reduce__(self):
        return (Size, (tuple(self),))


Size.__module__ = "ember"  # its public name, ember.Size (as torch.Size)
