"""Data types and the one promotion table.

ember has four dtypes: ``float32`` (the default), ``float64`` (what gradcheck uses),
``int64`` (indices, labels) and ``bool`` (masks, comparison results).

Promotion is a chain ``bool < int64 < float32 < float64``: a binary op between two
tensors gives the larger of the two. A Python scalar is "weak", as in PyTorch: it only
lifts the result to the *default* dtype of its own kind when it is of a higher kind than
the tensor (``int_tensor * 2.5`` is float32, ``float64_tensor * 2.5`` stays float64).
"""

from __future__ import annotations

import builtins as _b
from functools import reduce as _reduce

import numpy as np


class DType:
    """A tensor element type. Compare with ``is`` or ``==``; ``str()`` gives ``ember.float32``."""

    __slots__ = ("name", "np", "rank", "is_floating_point", "itemsize")

    def __init__(self, name: str, np_dtype: type, rank: int, is_floating_point: bool) -> None:
        self.name = name
        self.np = np.dtype(np_dtype)
        self.rank = rank  # position in the promotion chain
        self.is_floating_point = is_floating_point
        self.itemsize = self.np.itemsize

    def __repr__(self) -> str:
        return f"ember.{self.name}"

    def __reduce__(self):  # pickle as the singleton
        return (_by_name, (self.name,))


bool_ = DType("bool", np.bool_, 0, False)
int64 = DType("int64", np.int64, 1, False)
float32 = DType("float32", np.float32, 2, True)
float64 = DType("float64", np.float64, 3, True)

# aliases a PyTorch user will reach for
long = int64
float = float32  # noqa: A001 - mirrors torch.float
double = float64

_ALL = (bool_, int64, float32, float64)
_BY_RANK = {d.rank: d for d in _ALL}
_BY_NAME = {d.name: d for d in _ALL}
_BY_NP = {d.np: d for d in _ALL}

_default_float = float32


def _by_name(name: str) -> DType:
    return _BY_NAME[name]


def get_default_dtype() -> DType:
    """The dtype of tensors made from Python floats (float32 unless changed)."""
    return _default_float


def set_default_dtype(dtype: DType) -> None:
    """Set the default floating dtype (float32 or float64)."""
    global _default_float
    dtype = as_dtype(dtype)
    if not dtype.is_floating_point:
        raise TypeError(f"set_default_dtype: expected a floating dtype, got {dtype}")
    _default_float = dtype


def as_dtype(d) -> DType:
    """Turn a DType, a name ('float32'), a NumPy dtype or a Python type into a DType."""
    if isinstance(d, DType):
        return d
    if isinstance(d, str):
        if d in _BY_NAME:
            return _BY_NAME[d]
        if d in ("float", "double", "long"):
            return {"float": float32, "double": float64, "long": int64}[d]
    if d is _b.float:
        return _default_float
    if d is _b.int:
        return int64
    if d is _b.bool:
        return bool_
    try:
        npd = np.dtype(d)
    except TypeError:
        raise TypeError(
            f"unknown dtype {d!r}; ember supports float32, float64, int64, bool"
        ) from None
    return from_numpy_dtype(npd)


def from_numpy_dtype(npd: np.dtype) -> DType:
    """Map a NumPy dtype onto ember's. Narrower integers widen to int64 (every value is
    kept); a dtype whose values ember cannot hold exactly -- uint64 (would wrap), float16
    and other floats (no such ember dtype yet), complex, strings -- is an error rather than
    a quiet conversion."""
    npd = np.dtype(npd)
    if npd in _BY_NP:
        return _BY_NP[npd]
    if npd.kind == "i" or (npd.kind == "u" and npd.itemsize < 8):
        return int64
    hint = ("; convert it first, e.g. arr.astype(np.float32)" if npd.kind == "f" else
            "; values above 2**63 - 1 would wrap in int64: convert it first if they cannot "
            "occur" if npd.kind == "u" else "")
    raise TypeError(f"unsupported NumPy dtype {npd}: ember has float32, float64, int64 and "
                    f"bool{hint}")


def of_array(arr) -> DType:
    """The DType of a backend array (fast path for the four native dtypes)."""
    d = _BY_NP.get(arr.dtype)
    return d if d is not None else from_numpy_dtype(arr.dtype)


def scalar_dtype(x) -> DType:
    """The default dtype of a Python scalar's kind."""
    if isinstance(x, (bool, np.bool_)):
        return bool_
    if isinstance(x, (int, np.integer)):
        return int64
    return _default_float


def promote(a: DType, b: DType) -> DType:
    """The promotion table: the larger of two tensor dtypes on the chain."""
    return a if a.rank >= b.rank else b


def promote_tensors(a: DType, a_ndim: int, b: DType, b_ndim: int) -> DType:
    """PyTorch's rule for two tensors: a 0-dim tensor counts like a scalar -- it decides
    the result only when it is of a higher kind (bool < integer < floating) than the
    tensor with dimensions (``float32_matrix + float64_0dim`` stays float32;
    ``int64_matrix + float64_0dim`` is float64)."""
    if (a_ndim == 0) == (b_ndim == 0):
        return promote(a, b)
    dims, zero_dim = (a, b) if b_ndim == 0 else (b, a)
    return zero_dim if _kind(zero_dim) > _kind(dims) else dims


def _kind(d: DType) -> int:
    return 2 if d.is_floating_point else 0 if d is bool_ else 1


def promote_with_scalar(t: DType, scalar) -> DType:
    """A tensor dtype combined with a weak Python scalar."""
    s = scalar_dtype(scalar)
    if s.rank <= t.rank or (s.is_floating_point and t.is_floating_point):
        return t
    return s


def promote_all(*tensors) -> DType:
    """PyTorch's result type of several tensors: the promotion of those with dimensions,
    unless a 0-dim one is of a higher kind (then the 0-dim ones' promotion)."""
    dims = [t.dtype for t in tensors if t.ndim]
    zero = [t.dtype for t in tensors if not t.ndim]
    d = zero and _reduce(promote, zero)
    if not dims:
        return d
    out = _reduce(promote, dims)
    return d if zero and _kind(d) > _kind(out) else out
