"""Matrix products. ``matmul`` runs on the backend's GEMM (ember's own native kernel on
the CPU) and follows NumPy's rules for 1-d operands and broadcast batch dimensions."""

from __future__ import annotations

from .._broadcast import broadcast_shapes
from ..autograd.function import Function
from ..dtypes import promote
from ..tensor import Tensor
from .shape import cast, expand, reshape, sum_to, transpose


class MatMul(Function):
    # C = A @ B (batched)  ->  dA = dC @ B^T,  dB = A^T @ dC  (summed over broadcast batch dims)
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.backend.matmul(a, b)

    @staticmethod
    def flops(ctx, arrays, out):
        # each of the batch * M * N outputs is a K-long dot product: 2K flops
        return 2.0 * out.size * arrays[0].shape[-1]

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ga = sum_to(matmul(g, transpose(b, -2, -1)), a.shape) if ctx.needs_input_grad[0] \
            else None
        gb = sum_to(matmul(transpose(a, -2, -1), g), b.shape) if ctx.needs_input_grad[1] \
            else None
        return ga, gb


def matmul(a, b) -> Tensor:
    """Matrix product with NumPy's rules: 1-d x 1-d is a dot product, a 1-d operand is a
    row (left) or column (right) vector, and leading batch dimensions broadcast."""
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(f"matmul: expected two Tensors, got {type(a).__name__} and "
                        f"{type(b).__name__}")
    if a.dtype is not b.dtype:
        dt = promote(a.dtype, b.dtype)
        a, b = cast(a, dt), cast(b, dt)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both operands need at least 1 dimension, got shapes "
                         f"{a.shape} and {b.shape}")
    if not a.dtype.is_floating_point:
        raise TypeError(f"matmul: expected float32 or float64 tensors, got {a.dtype}")
    if a.device != b.device:
        raise RuntimeError(f"matmul: expected both tensors on the same device, got {a.device} "
                           f"and {b.device}")
    a2 = reshape(a, (1,) + a.shape) if a.ndim == 1 else a
    b2 = reshape(b, b.shape + (1,)) if b.ndim == 1 else b
    if a2.shape[-1] != b2.shape[-2]:
        raise ValueError(
            f"matmul: shapes {a.shape} and {b.shape} are not aligned: the last dimension of the "
            f"first ({a2.shape[-1]}) must equal the "
            f"{'only' if b.ndim == 1 else 'second-to-last'} dimension of the second "
            f"({b2.shape[-2]})"
        )
    try:
        batch = broadcast_shapes("matmul", a2.shape[:-2], b2.shape[:-2])
    except ValueError:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} cannot be broadcast together: "
                         f"their batch dimensions {a2.shape[:-2]} and {b2.shape[:-2]} do not "
                         "match") from None
    if a2.shape[:-2] != batch:
        a2 = expand(a2, batch + a2.shape[-2:])
    if b2.shape[:-2] != batch:
        b2 = expand(b2, batch + b2.shape[-2:])
    out = MatMul.apply(a2, b2)
    if a.ndim == 1:
        out = reshape(out, out.shape[:-2] + out.shape[-1:])
    if b.ndim == 1:
        out = reshape(out, out.shape[:-1])
    return out


def mm(a: Tensor, b: Tensor) -> Tensor:
    """Product of two matrices (2-d only)."""
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"mm: expected 2-d tensors, got shapes {a.shape} and {b.shape}")
    return matmul(a, b)


def bmm(a: Tensor, b: Tensor) -> Tensor:
    """Batched product of (B, n, k) and (B, k, m) tensors (no broadcasting)."""
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0]:
        raise ValueError(f"bmm: expected 3-d tensors with the same batch size, got shapes "
                         f"{a.shape} and {b.shape}")
    return matmul(a, b)


def dot(a: Tensor, b: Tensor) -> Tensor:
    """Inner product of two 1-d tensors."""
    if a.ndim != 1 or b.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"dot: expected two 1-d tensors of equal length, got shapes "
                         f"{a.shape} and {b.shape}")
    return matmul(a, b)


def outer(a: Tensor, b: Tensor) -> Tensor:
    """a[:, None] * b[None, :]."""
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"outer: expected 1-d tensors, got shapes {a.shape} and {b.shape}")
    return reshape(a, (-1, 1)) * reshape(b, (1, -1))


__all__ = ["matmul", "mm", "bmm", "dot", "outer", "MatMul", "sum_to"]
