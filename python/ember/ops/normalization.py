"""Layer normalisation as one op: ``layer_norm`` over the trailing dimensions.

Written with ops, layer norm is a mean, a subtraction, a square, another mean, an add, a
rsqrt, two multiplies and an add -- ten graph nodes and some twenty passes over memory,
forward and backward. ``LayerNorm`` is one node: its forward and backward are single
fused passes per row (``backend.layer_norm`` / ``backend.layer_norm_backward``), with
the formulas below. ``ember.nn.functional`` keeps the composite version (``_normalize``)
for batch norm; compare the two to see what fusing buys.
"""

from __future__ import annotations

from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor


class LayerNorm(Function):
    """y = (x - mean) * rstd * weight + bias over the last axis of a (..., d) array, with
    mean = sum(x) / d and rstd = 1 / sqrt(sum((x - mean)^2) / d + eps) per row.

    Backward, with xhat = (x - mean) * rstd and gh = g * weight:
        dx = rstd * (gh - mean(gh) - xhat * mean(gh * xhat)),
        dweight = sum over rows of g * xhat,   dbias = sum over rows of g.
    (d mean/dx and d rstd/dx are what subtract the two row means from gh.)
    """

    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        y, mean, rstd = ctx.backend.layer_norm(x, weight, bias, eps)
        ctx.save_for_backward(x, weight)
        ctx.stats, ctx.eps = (mean, rstd), eps
        return y

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        if is_grad_enabled():  # create_graph: the same formula in differentiable ops
            return _backward_composite(g, x, weight, ctx.eps, need_w, need_b) + (None,)
        mean, rstd = ctx.stats
        dx, dw, db = ctx.backend.layer_norm_backward(
            g._data, x._data, None if weight is None else weight._data, mean, rstd)
        dev = g.device
        return (Tensor._wrap(dx, dev) if need_x else None,
                Tensor._wrap(dw, dev) if need_w else None,
                Tensor._wrap(db, dev) if need_b else None, None)


def _backward_composite(g: Tensor, x: Tensor, weight: Tensor | None, eps: float,
                        need_w: bool, need_b: bool) -> tuple:
    """LayerNorm's backward in Tensor ops (recomputing the statistics from x), so that a
    graph of it is recorded and second derivatives follow."""
    mean = x.mean(-1, keepdim=True)
    centred = x - mean
    rstd = ((centred * centred).mean(-1, keepdim=True) + eps).rsqrt()
    xhat = centred * rstd
    gh = g if weight is None else g * weight
    dx = rstd * (gh - gh.mean(-1, keepdim=True) - xhat * (gh * xhat).mean(-1, keepdim=True))
    rows = tuple(range(x.ndim - 1))
    dw = (g * xhat).sum(rows) if need_w else None
    db = g.sum(rows) if need_b else None
    return dx, dw, db


def layer_norm(x: Tensor, normalized_shape, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise over the last ``len(normalized_shape)`` dimensions, then scale by
    ``weight`` and shift by ``bias`` (both of shape ``normalized_shape``, or None)."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if not isinstance(x, Tensor):
        raise TypeError(f"layer_norm: input must be a Tensor, got {type(x).__name__}")
    if not shape:
        raise ValueError("layer_norm: normalized_shape must name at least one dimension")
    if x.ndim < len(shape) or x.shape[x.ndim - len(shape):] != shape:
        raise ValueError(f"layer_norm: expected input with shape (*, {', '.join(map(str, shape))})"
                         f", got {x.shape}")
    if not x.dtype.is_floating_point:
        raise TypeError(f"layer_norm: expected a floating-point input, got {x.dtype}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and p.shape != shape:
            raise ValueError(f"layer_norm: {name} of shape {p.shape} does not match "
                             f"normalized_shape {shape}")
        if p is not None and p.dtype is not x.dtype:
            raise TypeError(f"layer_norm: {name} must have the input's dtype {x.dtype}, got "
                            f"{p.dtype} (as in PyTorch, mixed dtypes are not promoted)")
    if not eps >= 0:
        raise ValueError(f"layer_norm: eps must be >= 0, got {eps}")
    d = 1
    for n in shape:
        d *= n
    flat = x.reshape(x.shape[:x.ndim - len(shape)] + (d,))
    w = None if weight is None else weight.reshape(d)
    b = None if bias is None else bias.reshape(d)
    return LayerNorm.apply(flat, w, b, float(eps)).reshape(x.shape)
