"""Comparisons and logic: results are bool tensors, outside the graph (no gradient)."""

from __future__ import annotations

import numpy as np

from .. import dtypes as _dt
from ..backend import backend_for
from ..tensor import Tensor
from ._util import binary_operands
from .elementwise import abs as _abs


def _compare(op: str, a, b) -> Tensor:
    a, b = binary_operands(op, a, b)

    return Tensor._wrap(backend_for(a.device).compare(op, a._data, b._data), a.device)


def eq(a, b) -> Tensor:
    """a == b, elementwise."""
    return _compare("eq", a, b)


def ne(a, b) -> Tensor:
    """a != b, elementwise."""
    return _compare("ne", a, b)


def lt(a, b) -> Tensor:
    """a < b, elementwise."""
    return _compare("lt", a, b)


def le(a, b) -> Tensor:
    """a <= b, elementwise."""
    return _compare("le", a, b)


def gt(a, b) -> Tensor:
    """a > b, elementwise."""
    return _compare("gt", a, b)


def ge(a, b) -> Tensor:
    """a >= b, elementwise."""
    return _compare("ge", a, b)


greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def _logical(op: str, a, b=None) -> Tensor:
    if b is None:
        return Tensor._wrap(backend_for(a.device).logical(op, _as_bool(a)._data), a.device)
    a, b = binary_operands("logical_" + op, a, b)
    return Tensor._wrap(backend_for(a.device).logical(op, _as_bool(a)._data, _as_bool(b)._data),
                        a.device)


def _as_bool(x: Tensor) -> Tensor:
    return x if x.dtype is _dt.bool_ else ne(x, 0)


def logical_and(a, b) -> Tensor:
    return _logical("and", a, b)


def logical_or(a, b) -> Tensor:
    return _logical("or", a, b)


def logical_xor(a, b) -> Tensor:
    return _logical("xor", a, b)


def _bitwise(op: str, a, b) -> Tensor:
    """``&``, ``|``, ``^`` as PyTorch: logical on bools, bitwise on integers (on the host),
    an error on floats."""
    a, b = binary_operands("bitwise_" + op, a, b)
    if a.dtype.is_floating_point:
        raise TypeError(f"bitwise_{op}: not defined for {a.dtype} tensors")
    if a.dtype is _dt.bool_:
        return _logical(op, a, b)
    be, fn = backend_for(a.device), getattr(np, "bitwise_" + op)
    return Tensor._wrap(be.from_numpy(fn(be.to_numpy(a._data), be.to_numpy(b._data)), a.dtype),
                        a.device)


def bitwise_and(a, b) -> Tensor:
    return _bitwise("and", a, b)


def bitwise_or(a, b) -> Tensor:
    return _bitwise("or", a, b)


def bitwise_xor(a, b) -> Tensor:
    return _bitwise("xor", a, b)


def logical_not(a: Tensor) -> Tensor:
    return _logical("not", a)


def isnan(x: Tensor) -> Tensor:
    return ne(x, x)


def isinf(x: Tensor) -> Tensor:
    return eq(_abs(x.detach()), float("inf")) if x.dtype.is_floating_point else ne(x, x)


def isfinite(x: Tensor) -> Tensor:
    return logical_not(logical_or(isnan(x), isinf(x)))


def allclose(a: Tensor, b: Tensor, rtol: float = 1e-5, atol: float = 1e-8) -> bool:
    """True when |a - b| <= atol + rtol |b| everywhere."""
    return bool(np.allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol))


def equal(a: Tensor, b: Tensor) -> bool:
    """True when the shapes and all values are equal."""
    return a.shape == b.shape and bool(np.array_equal(np.asarray(a), np.asarray(b)))
