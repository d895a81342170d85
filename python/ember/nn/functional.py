"""``ember.nn.functional``: layers and losses as plain functions (PyTorch's ``F``).

The activations and softmaxes are the ops themselves (``ember.ops``); the layers here
compose ops, and the losses compose numerically stable pieces (log_softmax, softplus,
a clamped BCE) so that logits of +-1e4 give finite values and gradients.
"""

from __future__ import annotations

import math

import numpy as np

from .. import dtypes as _dt
from ..autograd.grad_mode import no_grad
from ..backend import backend_for
from ..creation import arange, rand
from ..ops import (  # noqa: F401 - re-exported: F.relu, F.softmax, ...
    elu,
    exp,
    gelu,
    leaky_relu,
    log,
    log_softmax,
    logsumexp,
    pad,
    relu,
    sigmoid,
    silu,
    softmax,
    softplus,
    tanh,
    where,
)
from ..ops.attention import scaled_dot_product_attention  # noqa: F401 - re-exported
from ..ops.conv import conv1d, conv2d, conv_transpose2d  # noqa: F401 - re-exported
from ..ops.linalg import linear  # noqa: F401 - re-exported: F.linear
from ..ops.loss import NllLoss, binary_cross_entropy_elementwise, valid_targets
from ..ops.normalization import layer_norm  # noqa: F401 - re-exported: F.layer_norm
from ..ops.pool import (  # noqa: F401 - re-exported: F.max_pool2d, F.interpolate, ...
    adaptive_avg_pool2d,
    avg_pool1d,
    avg_pool2d,
    interpolate,
    max_pool1d,
    max_pool2d,
    upsample,
)
from ..tensor import Tensor

_REDUCTIONS = ("none", "mean", "sum")


# ---------------------------------------------------------------------------- layers
def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p) (inverted
    dropout: the expected value is unchanged, so eval mode is the identity)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    keep = rand(*x.shape, dtype=x.dtype, device=x.device) >= p
    return x * keep.to(x.dtype) * (1.0 / (1.0 - p))


def one_hot(t: Tensor, num_classes: int = -1) -> Tensor:
    """int64 class indices -> int64 one-hot vectors along a new last dimension."""
    if t.dtype is not _dt.int64:
        raise TypeError(f"one_hot: expected int64 class indices, got {t.dtype}")
    if num_classes < 0:
        num_classes = int(t.max().item()) + 1
    if t.numel() and (int(t.min().item()) < 0 or int(t.max().item()) >= num_classes):
        raise ValueError(f"one_hot: class values must be in [0, {num_classes}), got "
                         f"[{int(t.min().item())}, {int(t.max().item())}]")
    return (t.unsqueeze(-1) == arange(num_classes, device=t.device)).long()


def embedding(ids: Tensor, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Rows of ``weight`` at the int64 ``ids`` (any shape): output shape ids.shape + (dim,).
    The row ``padding_idx`` gets no gradient."""

    if ids.dtype is not _dt.int64:
        raise TypeError(f"embedding: ids must be an int64 tensor, got {ids.dtype}")
    n = weight.shape[0]
    if ids.numel():
        lo, hi = int(ids.min().item()), int(ids.max().item())
        if lo < 0 or hi >= n:
            bad = lo if lo < 0 else hi
            raise IndexError(f"embedding: index {bad} is out of range for an embedding table of "
                             f"{n} rows (shape {weight.shape}); valid ids are 0..{n - 1}")
    out = weight[ids]
    if padding_idx is not None and weight.requires_grad:
        keep = (ids != padding_idx).unsqueeze(-1)
        out = where(keep, out, out.detach())  # same values, no gradient into the padding row
    return out


def _normalize(x: Tensor, dims: tuple, eps: float) -> Tensor:
    """(x - mean) / sqrt(var + eps) over ``dims`` (biased variance, as every norm layer)."""
    mean = x.mean(dims, keepdim=True)
    centred = x - mean
    var = (centred * centred).mean(dims, keepdim=True)
    return centred * (var + eps).rsqrt()


def batch_norm(x: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise per channel (dim 1) over the batch and spatial dims.

    Training: batch statistics, and the running ones move towards them:
    running = (1 - momentum) running + momentum batch (the variance unbiased).
    Eval: the running statistics.
    """

    dims = (0,) + tuple(range(2, x.ndim))
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    if training:
        n = math.prod(x.shape[d] for d in dims)
        if n == 1:  # (an empty batch is fine, as in PyTorch: an empty result)
            raise ValueError(f"batch_norm: expected more than 1 value per channel when "
                             f"training, got input of shape {x.shape}")
        y = _normalize(x, dims, eps)
        if running_mean is not None and n > 0:  # an empty batch leaves the statistics
            with no_grad():
                xd = x.detach()
                mean = xd.mean(dims)
                var = xd.var(dims, correction=1)
                running_mean.mul_(1 - momentum).add_(mean * momentum)
                running_var.mul_(1 - momentum).add_(var * momentum)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: eval mode needs running_mean and running_var")
        y = (x - running_mean.reshape(shape)) * (running_var.reshape(shape) + eps).rsqrt()
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def group_norm(x: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise each sample over groups of channels (and all spatial positions)."""
    if x.ndim < 2 or x.shape[1] % num_groups:
        raise ValueError(f"group_norm: input of shape {x.shape} must have a channel dimension "
                         f"divisible by num_groups={num_groups}")
    n, c = x.shape[0], x.shape[1]
    grouped = x.reshape(n, num_groups, -1)  # each group's values in one row: a layer norm
    y = layer_norm(grouped, grouped.shape[-1], eps=eps).reshape(x.shape)
    shape = (1, c) + (1,) * (x.ndim - 2)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


# ---------------------------------------------------------------------------- losses
def _reduce(loss: Tensor, reduction: str, op: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _same_shape(op: str, input: Tensor, target: Tensor) -> None:
    if input.shape != target.shape:
        raise ValueError(
            f"{op}: input shape {input.shape} and target shape {target.shape} differ; "
            "broadcasting them silently is a classic bug (e.g. (N, 1) against (N,) becomes "
            "(N, N)): reshape one of them"
        )


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean squared error: (input - target)^2, reduced."""
    _same_shape("mse_loss", input, target)
    d = input - target
    return _reduce(d * d, reduction, "mse_loss")


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean absolute error |input - target|, reduced."""
    _same_shape("l1_loss", input, target)
    return _reduce((input - target).abs(), reduction, "l1_loss")


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean",
               delta: float = 1.0) -> Tensor:
    """0.5 d^2 where |d| < delta, else delta (|d| - delta/2)."""
    _same_shape("huber_loss", input, target)
    a = (input - target).abs()
    loss = where(a < delta, a * a * 0.5, (a - 0.5 * delta) * delta)
    return _reduce(loss, reduction, "huber_loss")


def smooth_l1_loss(input: Tensor, target: Tensor, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, else |d| - beta/2 (Huber divided by beta)."""
    _same_shape("smooth_l1_loss", input, target)
    a = (input - target).abs()
    if beta == 0:
        return _reduce(a, reduction, "smooth_l1_loss")
    loss = where(a < beta, a * a * (0.5 / beta), a - 0.5 * beta)
    return _reduce(loss, reduction, "smooth_l1_loss")


def _class_dim_checks(op: str, input: Tensor, target: Tensor) -> int:
    """The class dimension of ``input`` (1, or 0 for an unbatched (C,) input)."""
    if input.ndim == 0:
        raise ValueError(f"{op}: input must have a class dimension, got a 0-d tensor")
    cdim = 0 if input.ndim == 1 else 1
    if target.dtype is _dt.int64:
        expected = input.shape[:cdim] + input.shape[cdim + 1:]
        if target.shape != expected:
            raise ValueError(f"{op}: class-index target of shape {target.shape} does not match "
                             f"input {input.shape} (expected target shape {expected})")
    return cdim


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
             ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities ``input`` (N, C, ...) at the class
    indices ``target`` (N, ...). 'mean' divides by the total weight of the counted targets."""
    if target.dtype is not _dt.int64:
        raise TypeError(f"nll_loss: target must be int64 class indices, got {target.dtype}")
    if not input.dtype.is_floating_point:
        raise TypeError(f"nll_loss: input must be floating-point log-probabilities, got "
                        f"{input.dtype}")
    cdim = _class_dim_checks("nll_loss", input, target)
    n_classes = input.shape[cdim]
    if weight is not None and weight.shape != (n_classes,):
        raise ValueError(f"nll_loss: weight must have shape ({n_classes},), got {weight.shape}")
    if weight is not None and weight.dtype is not input.dtype:
        raise TypeError(f"nll_loss: weight must have the input's dtype {input.dtype}, got "
                        f"{weight.dtype}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"nll_loss: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if weight is None or not weight.requires_grad:  # the one-node op (ops/loss.py)
        return NllLoss.apply(input, target, weight, ignore_index, cdim, reduction)
    # a weight that requires grad: the same formula in ops, so it gets its gradient too

    valid = Tensor._wrap(valid_targets(backend_for(target.device), target._data, n_classes,
                                       ignore_index), target.device)
    safe = target * valid.long()  # ignored positions pick class 0, then get weight 0
    picked = input.gather(cdim, safe.unsqueeze(cdim)).squeeze(cdim)
    w = valid.to(input.dtype)
    w = w * weight[safe]
    picked = where(valid, picked, 0.0)  # an ignored position's -inf must not meet w = 0
    loss = -picked * w
    if reduction == "mean":
        return loss.sum() / w.sum()
    return _reduce(loss, reduction, "nll_loss")


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy of logits ``input`` (N, C, ...) against class indices (N, ...) or
    class probabilities (N, C, ...). Computed through log_softmax, so it is finite for
    any logits. ``label_smoothing`` mixes the target with the uniform distribution."""
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got "
                         f"{label_smoothing}")
    cdim = _class_dim_checks("cross_entropy", input, target)
    n_classes = input.shape[cdim]
    logp = log_softmax(input, dim=cdim)
    wshape = (n_classes,) + (1,) * (input.ndim - cdim - 1)

    if target.dtype.is_floating_point:  # class probabilities
        if target.shape != input.shape:
            raise ValueError(f"cross_entropy: probability target of shape {target.shape} must "
                             f"match input {input.shape}")
        if label_smoothing > 0:
            target = target * (1 - label_smoothing) + label_smoothing / n_classes
        term = logp * target
        if weight is not None:
            term = term * weight.reshape(wshape)
        loss = -term.sum(cdim)
        return _reduce(loss, reduction, "cross_entropy")

    nll = nll_loss(logp, target, weight, ignore_index, reduction)
    if label_smoothing == 0:
        return nll
    valid = target != ignore_index
    smooth = -(logp * weight.reshape(wshape)).sum(cdim) if weight is not None else \
        -logp.sum(cdim)
    smooth = smooth * valid.to(smooth.dtype)
    if reduction == "mean":
        safe = target * valid.long()
        denom = (weight[safe] * valid.to(weight.dtype)).sum() if weight is not None else \
            valid.to(smooth.dtype).sum()
        smooth = smooth.sum() / denom
    else:
        smooth = _reduce(smooth, reduction, "cross_entropy")
    return nll * (1 - label_smoothing) + smooth * (label_smoothing / n_classes)


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         reduction: str = "mean") -> Tensor:
    """-(t log p + (1 - t) log(1 - p)) for probabilities p in [0, 1]; logs clamped at -100.
    Prefer ``binary_cross_entropy_with_logits`` (it takes logits and is exact)."""
    _same_shape("binary_cross_entropy", input, target)
    if input.numel():
        lo, hi = input.detach().amin().item(), input.detach().amax().item()
        if lo < 0 or hi > 1:
            raise ValueError(f"binary_cross_entropy: input must be probabilities in [0, 1], got "
                             f"values in [{lo:.4g}, {hi:.4g}] (did you mean "
                             "binary_cross_entropy_with_logits?)")
    loss = binary_cross_entropy_elementwise(input, target.to(input.dtype))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy")


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Tensor | None = None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """BCE of sigmoid(input) computed from the logits:
    l = (1 - t) x + (1 + (pw - 1) t) softplus(-x), with softplus(-x) = log(1 + e^-x)
    evaluated without overflow, so logits of +-1e4 are fine."""
    _same_shape("binary_cross_entropy_with_logits", input, target)
    target = target.to(input.dtype)
    sp = softplus(-input)
    if pos_weight is not None:
        loss = (1 - target) * input + (1 + (pos_weight - 1) * target) * sp
    else:
        loss = (1 - target) * input + sp
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")


def kl_div(input: Tensor, target: Tensor, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """KL(target || exp(input)) pointwise: t (log t - input), with 0 where t = 0.
    ``input`` holds log-probabilities. reduction='batchmean' divides the sum by the batch
    size (the mathematically right KL); 'mean' divides by the number of elements."""

    _same_shape("kl_div", input, target)
    if log_target:
        loss = exp(target) * (target - input)
    else:
        positive = target > 0
        safe = where(positive, target, 1.0)
        loss = where(positive, target * (log(safe) - input), 0.0)
    if reduction == "batchmean":
        return loss.sum() / (input.shape[0] if input.ndim else 1)
    return _reduce(loss, reduction, "kl_div")


# --- more of torch.nn.functional, each composed from the ops above (issue 11, point 3) -------

def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    """``clamp(input, min_val, max_val)``."""
    return input.clamp(min_val, max_val)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """``min(max(input, 0), 6)``."""
    return input.clamp(0.0, 6.0)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """``relu6(input + 3) / 6``."""
    return relu6(input + 3.0) / 6.0


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """``input * relu6(input + 3) / 6``."""
    return input * hardsigmoid(input)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``max(0, x) + min(0, alpha (exp(x / alpha) - 1))``."""
    return elu(input / alpha) * alpha if alpha != 1.0 else elu(input)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """``scale * elu(input, alpha)`` with the self-normalising constants."""
    return elu(input, 1.6732632423543772848170429916717) * 1.0507009873554804934193349852946


def logsigmoid(input: Tensor) -> Tensor:
    """``log(sigmoid(x)) = -softplus(-x)``, stable for large |x|."""
    return -softplus(-input)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * tanh(softplus(x))``."""
    return input * tanh(softplus(input))


def softsign(input: Tensor) -> Tensor:
    """``x / (1 + |x|)``."""
    return input / (input.abs() + 1.0)


def tanhshrink(input: Tensor) -> Tensor:
    """``x - tanh(x)``."""
    return input - tanh(input)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """``x`` where ``x > threshold``, else ``value``."""
    return where(input > threshold, input, value)


def softmin(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    """``softmax(-input, dim)``."""
    return softmax(-input if dtype is None else -input.to(dtype), dim)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """The gated linear unit: ``a * sigmoid(b)`` for the two halves ``a, b`` along ``dim``."""
    if input.shape[dim] % 2:
        raise RuntimeError(f"glu: halving dimension must be even, but dimension {dim} is size "
                           f"{input.shape[dim]}")
    half = input.shape[dim] // 2
    return input.narrow(dim, 0, half) * sigmoid(input.narrow(dim, half, half))


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """``x`` if positive, else ``weight * x`` (one weight, or one per channel of dim 1)."""
    if weight.numel() != 1 and input.ndim >= 2:
        weight = weight.reshape([-1] + [1] * (input.ndim - 2))
    return where(input > 0, input, weight * input)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """``input / max(||input||_p, eps)`` along ``dim``."""
    return input / input.norm(p, dim, keepdim=True).clamp(min=eps)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """``x1 . x2 / (max(||x1||, eps) * max(||x2||, eps))`` along ``dim``, as PyTorch (each norm
    clamped on its own)."""
    n1 = x1.norm(2, dim, keepdim=True).clamp(min=eps)
    n2 = x2.norm(2, dim, keepdim=True).clamp(min=eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """``||x1 - x2 + eps||_p`` over the last dimension."""
    return (x1 - x2 + eps).norm(p, -1, keepdim=keepdim)


def rms_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """``input / sqrt(mean(input^2) + eps) * weight`` over the last ``normalized_shape`` dims
    (``eps=None``: the dtype's machine epsilon, as PyTorch)."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(input.shape[input.ndim - len(shape):]) != shape:
        raise RuntimeError(f"rms_norm: normalized_shape {list(shape)} does not match the end of "
                           f"the input's shape {tuple(input.shape)}")
    eps = float(np.finfo(input.dtype.np).eps) if eps is None else eps
    dims = tuple(range(input.ndim - len(shape), input.ndim))
    out = input * ((input * input).mean(dims, keepdim=True) + eps).rsqrt()
    return out if weight is None else out * weight


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                        reduction: str = "mean") -> Tensor:
    """``max(0, -target * (input1 - input2) + margin)``, reduced."""
    return _reduce(relu(-target * (input1 - input2) + margin), reduction, "margin_ranking_loss")


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(N, C r^2, H, W) -> (N, C, H r, W r)."""
    r = upscale_factor
    if input.ndim != 4 or input.shape[1] % (r * r):
        raise RuntimeError(f"pixel_shuffle: expected (N, C*{r}^2, H, W) input, got shape "
                           f"{tuple(input.shape)}")
    n, c, h, w = input.shape
    x = input.reshape(n, c // (r * r), r, r, h, w).permute(0, 1, 4, 2, 5, 3)
    return x.reshape(n, c // (r * r), h * r, w * r)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels (dim -2 of (N, C, L) or (C, L)) with probability ``p``."""
    return _channel_dropout("dropout1d", input, p, training, 1)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels (dim -3 of (N, C, H, W) or (C, H, W)) with probability ``p``."""
    return _channel_dropout("dropout2d", input, p, training, 2)


def _channel_dropout(op: str, x: Tensor, p: float, training: bool, spatial: int) -> Tensor:
    if x.ndim not in (spatial + 1, spatial + 2):
        raise RuntimeError(f"{op}: expected a {spatial + 1}-D or {spatial + 2}-D input, got "
                           f"shape {tuple(x.shape)}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: probability must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    # one mask entry per (sample, channel), broadcast over the spatial dims
    mask = dropout(x.new_ones(tuple(x.shape[:-spatial]) + (1,) * spatial), p, True)
    return x * mask


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0,
                         reduction: str = "mean") -> Tensor:
    """``x`` where ``y = 1``, ``max(0, margin - x)`` where ``y = -1``, reduced."""
    _same_shape("hinge_embedding_loss", input, target)
    loss = where(target != 1, relu(margin - input), 0.0) + where(target != -1, input, 0.0)
    return _reduce(loss, reduction, "hinge_embedding_loss")


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                          reduction: str = "mean") -> Tensor:
    """``1 - cos(x1, x2)`` where ``y = 1``, ``max(0, cos(x1, x2) - margin)`` where ``y = -1``;
    cos over the last dim, with PyTorch's 1e-12 added to each squared norm."""
    dot = (input1 * input2).sum(-1)
    cos = dot / (((input1 * input1).sum(-1) + 1e-12) * ((input2 * input2).sum(-1) + 1e-12)).sqrt()
    loss = where(target == 1, 1.0 - cos, 0.0) + where(target == -1, relu(cos - margin), 0.0)
    return _reduce(loss, reduction, "cosine_embedding_loss")


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0,
                        p: float = 2.0, eps: float = 1e-6, swap: bool = False,
                        reduction: str = "mean") -> Tensor:
    """``max(0, margin + d(a, p) - d(a, n))`` with ``d`` the pairwise p-distance (``swap``:
    ``d(a, n)`` becomes ``min(d(a, n), d(p, n))``)."""
    d_ap = pairwise_distance(anchor, positive, p, eps)
    d_an = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_an = d_an.minimum(pairwise_distance(positive, negative, p, eps))
    return _reduce(relu(margin + d_ap - d_an), reduction, "triplet_margin_loss")


def instance_norm(input: Tensor, running_mean: Tensor | None = None,
                  running_var: Tensor | None = None, weight: Tensor | None = None,
                  bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each (sample, channel) over its spatial positions: a group norm with one
    channel per group. With ``use_input_stats=False`` the running statistics are used; with
    them given and ``use_input_stats``, they are updated (batch mean of the instances'
    means and unbiased variances), as PyTorch."""
    if input.ndim < 3:
        raise ValueError(f"instance_norm: expected (N, C, *spatial) input, got shape "
                         f"{tuple(input.shape)}")
    c = input.shape[1]
    shape = (1, c) + (1,) * (input.ndim - 2)
    if not use_input_stats:
        y = (input - running_mean.reshape(shape)) * (running_var.reshape(shape) + eps).rsqrt()
        y = y if weight is None else y * weight.reshape(shape)
        return y if bias is None else y + bias.reshape(shape)
    if running_mean is not None and running_var is not None:
        with no_grad():
            flat = input.detach().reshape(input.shape[0], c, -1)
            running_mean.mul_(1 - momentum).add_(flat.mean(-1).mean(0) * momentum)
            running_var.mul_(1 - momentum).add_(flat.var(-1, correction=1).mean(0) * momentum)
    return group_norm(input, c, weight, bias, eps)
