"""Helpers shared by the ops: turning operands into tensors of one dtype and device."""

from __future__ import annotations

import numpy as np

from .. import dtypes as _dt
from .._broadcast import broadcast_shapes
from ..backend import backend_for
from ..creation import tensor
from ..tensor import Tensor
from .shape import cast as _cast


def const(value, dtype: _dt.DType, device) -> Tensor:
    """A constant tensor (no grad) holding the scalar ``value``: an op's operand, never
    handed to the user or written to (so backends may cache it, see Backend.scalar)."""

    return Tensor._wrap(backend_for(device).scalar(value, dtype), device)


def as_tensor_like(op: str, x, like: Tensor) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (int, float, bool, np.number, np.bool_)):
        return const(x, _dt.promote_with_scalar(like.dtype, x), like.device)

    try:
        return tensor(x, device=like.device)
    except TypeError:
        raise TypeError(f"{op}: unsupported operand of type {type(x).__name__}") from None


def binary_operands(op: str, a, b, floating: bool = False) -> tuple[Tensor, Tensor]:
    """Both operands as tensors on one device with the promoted dtype.

    Python scalars are weak (see ``ember.dtypes``). With ``floating=True`` an integer
    result is lifted to the default float dtype (true division, pow with float results).
    """
    if not isinstance(a, Tensor):
        if not isinstance(b, Tensor):
            raise TypeError(f"{op}: expected at least one Tensor operand")
        a = as_tensor_like(op, a, b)
    else:
        b = as_tensor_like(op, b, a)
    if a._device is not b._device and a._device != b._device:
        raise RuntimeError(
            f"{op}: expected both tensors on the same device, got {a.device} and {b.device}"
        )
    dt = _dt.promote_tensors(a.dtype, a.ndim, b.dtype, b.ndim)
    if floating and not dt.is_floating_point:
        dt = _dt.get_default_dtype()
    if a.dtype is not dt:
        a = cast(a, dt)
    if b.dtype is not dt:
        b = cast(b, dt)
    if a.shape != b.shape:
        broadcast_shapes(op, a.shape, b.shape)
    return a, b


def cast(x: Tensor, dtype: _dt.DType) -> Tensor:
    return _cast(x, dtype)


def require_float(op: str, x: Tensor) -> Tensor:
    """Math ops (exp, log, ...) on integer tensors compute in the default float dtype."""
    if x.dtype.is_floating_point:
        return x
    return cast(x, _dt.get_default_dtype())


def floating_only(op: str, x: Tensor) -> Tensor:
    """``x`` if it is floating: ops PyTorch defines only for floats (the activations) raise
    on integer and bool tensors rather than convert them."""
    if not x.dtype.is_floating_point:
        raise TypeError(f"{op}: expected a floating-point tensor, got {x.dtype} of shape "
                        f"{x.shape} (convert it with .float())")
    return x
