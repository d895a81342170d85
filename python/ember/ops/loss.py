"""Loss primitives with their own backward: for numerical stability (binary cross-entropy)
or to be one graph node instead of ten (negative log-likelihood)."""

from __future__ import annotations

from .. import dtypes as _dt
from ..autograd.function import Function
from ..tensor import Tensor
from .elementwise import clamp, log, where
from .index import ScatterAdd


class BinaryCrossEntropy(Function):
    # l = -(t log p + (1 - t) log(1 - p)), each log clamped at -100 (as PyTorch does)
    # dl/dp = (p - t) / max(p (1 - p), 1e-12)   (finite even at p = 0 or 1)
    # dl/dt = log(1 - p) - log p                 (with the same clamps)
    @staticmethod
    def forward(ctx, p, t):
        b = ctx.backend
        ctx.save_for_backward(p, t)
        lo = p.dtype.type(-100)
        log_p = b.maximum(b.log(p), lo)
        log_1mp = b.maximum(b.log(b.sub(p.dtype.type(1), p)), lo)
        return b.neg(b.add(b.mul(t, log_p), b.mul(b.sub(p.dtype.type(1), t), log_1mp)))

    @staticmethod
    def backward(ctx, g):
        p, t = ctx.saved_tensors
        gp = gt = None
        if ctx.needs_input_grad[0]:
            gp = g * (p - t) / clamp(p * (1 - p), min=1e-12)
        if ctx.needs_input_grad[1]:
            gt = g * (clamp(log(1 - p), min=-100) - clamp(log(p), min=-100))
        return gp, gt


def binary_cross_entropy_elementwise(p: Tensor, t: Tensor) -> Tensor:
    """The unreduced binary cross-entropy of probabilities ``p`` against targets ``t``."""
    return BinaryCrossEntropy.apply(p, t)


def valid_targets(be, target, n_classes: int, ignore_index: int, op: str = "nll_loss"):
    """The mask ``target != ignore_index`` of a class-index array (backend ``be``); raises
    IndexError naming the first counted target outside [0, n_classes)."""
    valid = be.compare("ne", target, ignore_index)
    out_of_range = be.logical("or", be.compare("lt", target, 0),
                              be.compare("ge", target, n_classes))
    bad = be.to_numpy(be.logical("and", valid, out_of_range))
    if bad.any():
        value = int(be.to_numpy(target)[bad].reshape(-1)[0])
        raise IndexError(f"{op}: target {value} is out of bounds for {n_classes} classes "
                         f"(valid targets are 0..{n_classes - 1}, or ignore_index="
                         f"{ignore_index})")
    return valid


class NllLoss(Function):
    """Negative log-likelihood at class indices, in one node (PyTorch's ``nll_loss``).

    With t_i the target of sample i (index tuple i over the non-class dims) and
    w_i = weight[t_i] (1 without a weight):
        l_i = -w_i logp[i, t_i]  (0 where t_i == ignore_index);
        reduction none: l;  sum: sum_i l_i;  mean: sum_i l_i / sum_i w_i over the counted i
        (the weighted mean PyTorch uses; 0/0 = nan when every target is ignored).
    Backward: dlogp[i, c] = -w_i g_i where c = t_i, else 0, with g_i = g / sum_i w_i
    (mean), g (sum) or g[i] (none): a scatter of -w g into the picked positions.
    Ignored positions are *selected* out, not multiplied by 0: their picked log-probability
    may be -inf (a masked class) and the mean's scale inf (all ignored), and 0 * inf = nan;
    like PyTorch, they contribute exactly 0 to the loss and the gradient. The target and the
    weight get no gradient (``nll_loss`` routes a weight that requires grad to the composite
    formula instead).
    """

    @staticmethod
    def forward(ctx, logp, target, weight, ignore_index, cdim, reduction):
        be = ctx.backend
        valid = valid_targets(be, target, logp.shape[cdim], ignore_index)
        safe = be.where(valid, target, 0)  # ignored positions pick class 0, with w = 0
        index = be.reshape(safe, safe.shape[:cdim] + (1,) + safe.shape[cdim:])
        w = be.astype(valid, _dt.of_array(logp))
        if weight is not None:
            w = be.mul(w, be.getitem(weight, (safe,)))
        picked = be.reshape(be.gather(logp, cdim, index), safe.shape)
        picked = be.where(valid, picked, logp.dtype.type(0))  # an ignored -inf must not
        loss = be.neg(be.mul(picked, w))                      # meet its w = 0 (nan)
        ctx.in_shape, ctx.cdim, ctx.index, ctx.w, ctx.valid = logp.shape, cdim, index, w, valid
        ctx.reduction = reduction
        if reduction == "none":
            return loss
        total = be.sum(loss, None, False)
        if reduction == "sum":
            return total
        ctx.total_weight = be.sum(w, None, False)
        return be.div(total, ctx.total_weight)

    @staticmethod
    def backward(ctx, g):
        dev = g.device
        coef = Tensor._wrap(ctx.backend.neg(ctx.w), dev) * g  # -w_i g_i
        if ctx.reduction == "mean":
            coef = coef / Tensor._wrap(ctx.total_weight, dev)  # 0/0 if all are ignored ...
        coef = where(Tensor._wrap(ctx.valid, dev), coef, 0.0)  # ... and selected out here
        grad = ScatterAdd.apply(coef.unsqueeze(ctx.cdim), ctx.in_shape, ctx.cdim, ctx.index)
        return grad, None, None, None, None, None
