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
    if a.dtype is not b.dtype:  # PyTorch does not promote here either
        raise TypeError(f"matmul: expected both operands of one dtype, got {a.dtype} and "
                        f"{b.dtype} (shapes {a.shape} and {b.shape})")
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


class Linear(Function):
    # y = x W^T + b (x: (..., in), W: (out, in))  ->  dx = g W,  dW = g^T x,  db = sum g
    # (g and x flattened to 2-d over the leading dims, so dW and db sum over all of them).
    # One node for what would otherwise be transpose + matmul + add: dense layers are the
    # most common op, and each node costs Python time in forward and backward.
    @staticmethod
    def forward(ctx, x, w, b):
        be = ctx.backend
        ctx.save_for_backward(x, w)
        rows = 1
        for n in x.shape[:-1]:
            rows *= n
        y = be.matmul(be.reshape(x, (rows, x.shape[-1])), be.permute(w, (1, 0)))
        if b is not None:
            y = be.add(y, b)
        return be.reshape(y, x.shape[:-1] + (w.shape[0],))

    @staticmethod
    def flops(ctx, arrays, out):
        return 2.0 * out.size * arrays[1].shape[1]

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        g2 = reshape(g, (-1, g.shape[-1]))
        gx = reshape(matmul(g2, w), x.shape) if ctx.needs_input_grad[0] else None
        gw = matmul(transpose(g2, 0, 1), reshape(x, (-1, x.shape[-1]))) \
            if ctx.needs_input_grad[1] else None
        gb = g2.sum(0) if ctx.needs_input_grad[2] else None
        return gx, gw, gb


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x W^T + b, with W of shape (out_features, in_features) and x of shape (..., in)."""
    if not isinstance(x, Tensor) or not isinstance(weight, Tensor):
        raise TypeError("linear: input and weight must be Tensors")
    if x.ndim == 0 or weight.ndim != 2 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input of shape {x.shape} has {x.shape[-1] if x.ndim else 0} "
                         f"features but the weight {weight.shape} expects "
                         f"{weight.shape[-1] if weight.ndim else 0}")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"linear: bias of shape {bias.shape} does not match the weight "
                         f"{weight.shape} (expected ({weight.shape[0]},))")
    dt = promote(x.dtype, weight.dtype)
    if bias is not None:
        dt = promote(dt, bias.dtype)
        bias = cast(bias, dt)
    if not dt.is_floating_point:
        raise TypeError(f"linear: expected floating-point tensors, got {x.dtype} and "
                        f"{weight.dtype}")
    return Linear.apply(cast(x, dt), cast(weight, dt), bias)


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


__all__ = ["matmul", "linear", "mm", "bmm", "dot", "outer", "MatMul", "Linear", "sum_to"]


def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * (mat1 @ mat2)`` (input broadcast to the product's shape)."""
    return _scaled_sum("addmm", input, mm(mat1, mat2), beta, alpha)


def baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * bmm(batch1, batch2)`` for (b, n, m) @ (b, m, p) batches."""
    return _scaled_sum("baddbmm", input, bmm(batch1, batch2), beta, alpha)


def _scaled_sum(op: str, input: Tensor, product: Tensor, beta, alpha) -> Tensor:
    if broadcast_shapes(op, input.shape, product.shape) != product.shape:
        raise ValueError(f"{op}: input of shape {input.shape} does not broadcast to the "
                         f"product's shape {product.shape}")
    scaled = product if alpha == 1 else product * alpha
    if beta == 0:  # input is ignored (NaN in it too), as PyTorch documents
        return scaled
    return scaled + (input if beta == 1 else input * beta)
