"""Scaled-dot-product attention: ``softmax(Q K^T * scale + mask) V``.

Two implementations of one op, as in llm.c:

- ``attention_reference`` -- the readable one, written with ember ops: the scores, the
  masks, a softmax, (dropout), a product with V. Its gradient comes from autograd for free,
  and it stores the whole (..., Lq, Lk) probability matrix. Read this one first.
- ``scaled_dot_product_attention`` -- the fast one: a ``Function`` over the fused native
  kernel (``backend.attention_forward``), which walks the keys block by block with an
  online softmax and never stores the Lq x Lk matrix. Its backward is a dedicated
  primitive (``backend.attention_backward``, FlashAttention-2 style: it recomputes the
  probabilities from the saved per-row logsumexp), so this op has first derivatives only.

Semantics follow ``torch.nn.functional.scaled_dot_product_attention``:
``attn_mask`` is bool (True = take part in attention) or float (added to the scores),
broadcastable to (..., Lq, Lk); ``is_causal`` lets query i see keys j <= i (top-left
aligned); ``scale`` defaults to 1/sqrt(E); any number of leading batch dimensions.

A query row whose keys are *all* masked gives an output of 0 and a gradient of 0, on
both paths -- deliberately: a padded position then contributes nothing instead of turning
the loss into NaN. PyTorch's fused SDPA kernels (2.5+) give 0 as well; its explicit-softmax
paths (the older math backend, MultiheadAttention with need_weights=True) give NaN.
A NaN score, on the other hand, is propagated as in PyTorch: its row's output is NaN, on
both paths (never quietly 0).
Unlike PyTorch, ``attn_mask`` and ``is_causal=True`` may be combined (both apply).
"""

from __future__ import annotations

import math

from .. import dtypes as _dt
from ..autograd.function import Function, once_differentiable
from ..creation import arange, rand
from ..tensor import Tensor
from .elementwise import where
from .reduce import all as all_
from .reduce import softmax

_OP = "scaled_dot_product_attention"


# ---------------------------------------------------------------------------- the fused op
class ScaledDotProductAttention(Function):
    """out = softmax(q k^T * scale + mask) v on (B, H, L, E) arrays, by the fused kernel.

    Backward (a dedicated primitive, so first derivatives only), with P the probabilities
    and S the scores, both recomputed block by block from the saved logsumexp:
        dV = P^T dO,  dP = dO V^T,  dS = P o (dP - rowsum(dO o O)),
        dQ = dS K * scale,  dK = dS^T Q * scale.
    No gradient flows into the mask (``scaled_dot_product_attention`` routes a float mask
    that requires grad to the composite path instead).
    """

    higher_order_hint = ("Use ember.ops.attention_reference (the composite version) for "
                         "higher-order gradients.")

    @staticmethod
    def forward(ctx, q, k, v, mask, is_causal, scale):
        out, lse = ctx.backend.attention_forward(q, k, v, mask, is_causal, scale)
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.mask, ctx.is_causal, ctx.scale = mask, is_causal, scale
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        q, k, v, out, lse = ctx.saved_tensors
        dq, dk, dv = ctx.backend.attention_backward(
            g._data, q._data, k._data, v._data, out._data, lse._data, ctx.mask,
            ctx.is_causal, ctx.scale)
        dev = g.device
        return (Tensor._wrap(dq, dev), Tensor._wrap(dk, dev), Tensor._wrap(dv, dev),
                None, None, None)


# ---------------------------------------------------------------------------- checks
def _check(query, key, value, attn_mask, dropout_p, enable_gqa) -> None:
    """Raise TypeError/ValueError naming the op, the shapes and dtypes, for bad input."""
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{_OP}: {name} must be a Tensor, got {type(t).__name__}")
    desc = (f"query {query.shape} {query.dtype}, key {key.shape} {key.dtype}, "
            f"value {value.shape} {value.dtype}")
    if not query.dtype.is_floating_point or not (query.dtype is key.dtype is value.dtype):
        raise TypeError(f"{_OP}: query, key and value must share one floating dtype, got {desc}")
    if not (query.ndim == key.ndim == value.ndim) or query.ndim < 2:
        raise ValueError(f"{_OP}: query (..., L, E), key (..., S, E) and value (..., S, Ev) "
                         f"need the same number (>= 2) of dimensions, got {desc}")
    if query.shape[-1] != key.shape[-1]:
        raise ValueError(f"{_OP}: query and key must have the same embedding size E, got {desc}")
    if key.shape[-2] != value.shape[-2]:
        raise ValueError(f"{_OP}: key and value must have the same sequence length S, got "
                         f"{desc}")
    ql, kl, vl = query.shape[:-2], key.shape[:-2], value.shape[:-2]
    if enable_gqa and ql:
        hq, hk = ql[-1], kl[-1]
        if ql[:-1] != kl[:-1] or kl != vl or hk == 0 or hq % hk:
            raise ValueError(f"{_OP}: with enable_gqa the query heads must be a multiple of "
                             f"the key/value heads and the batch dimensions equal, got {desc}")
    elif not (ql == kl == vl):
        raise ValueError(f"{_OP}: query, key and value must have the same batch dimensions "
                         f"(..., not broadcast), got {desc}")
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{_OP}: dropout_p must be in [0, 1], got {dropout_p}")
    if attn_mask is not None:
        if not isinstance(attn_mask, Tensor):
            raise TypeError(f"{_OP}: attn_mask must be a Tensor or None, got "
                            f"{type(attn_mask).__name__}")
        if attn_mask.dtype is not _dt.bool_ and attn_mask.dtype is not query.dtype:
            raise TypeError(f"{_OP}: attn_mask must be bool (True = attend) or the query's "
                            f"dtype {query.dtype}, got {attn_mask.dtype}")
        target = ql + (query.shape[-2], key.shape[-2])
        ok = attn_mask.ndim <= len(target) and all(
            m in (1, t) for m, t in zip(reversed(attn_mask.shape), reversed(target)))
        if not ok:
            raise ValueError(f"{_OP}: attn_mask of shape {attn_mask.shape} is not "
                             f"broadcastable to (..., L, S) = {target} ({desc})")


def _repeat_heads(x: Tensor, groups: int) -> Tensor:
    """(..., Hk, S, E) -> (..., Hk * groups, S, E), each head repeated ``groups`` times
    (grouped-query attention: a key/value head serves ``groups`` query heads)."""
    if groups == 1:
        return x
    *lead, h, s, e = x.shape
    return x.unsqueeze(-3).expand(*lead, h, groups, s, e).reshape(*lead, h * groups, s, e)


def _causal_mask(lq: int, lk: int, device) -> Tensor:
    """bool (Lq, Lk): True where key j <= query i (PyTorch's top-left aligned tril)."""
    return arange(lq, device=device).unsqueeze(-1) >= arange(lk, device=device)


# ---------------------------------------------------------------------------- composite
def _composite(query, key, value, attn_mask, dropout_p, is_causal, scale):
    """(out, probabilities) the plain way: every (..., Lq, Lk) matrix is stored."""
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = (query @ key.mT) * scale                      # (..., Lq, Lk)
    neg_inf = float("-inf")
    if is_causal:
        scores = scores.masked_fill(~_causal_mask(query.shape[-2], key.shape[-2],
                                                  query.device), neg_inf)
    if attn_mask is not None:
        if attn_mask.dtype is _dt.bool_:
            scores = scores.masked_fill(~attn_mask, neg_inf)
        else:
            scores = scores + attn_mask
    # A row with every key masked would be softmax(-inf, ..., -inf) = 0/0. Give it zeros
    # (see the module docstring); scores are replaced *before* the softmax so that its
    # backward never multiplies a zero gradient by NaN.
    dead = all_(scores == neg_inf, -1, keepdim=True)
    if key.shape[-2] == 0 or dead.any().item():
        scores = where(dead, 0.0, scores)
        probs = where(dead, 0.0, softmax(scores, -1))
    else:
        probs = softmax(scores, -1)
    if dropout_p > 0.0:
        # Dropout on the probabilities (inverted: kept ones scaled by 1/(1-p)). This is why
        # a training call with dropout takes this path: the fused kernel never has P.
        if dropout_p == 1.0:
            probs = probs * 0.0
        else:
            keep = rand(*probs.shape, dtype=probs.dtype, device=probs.device) >= dropout_p
            probs = probs * keep.to(probs.dtype) * (1.0 / (1.0 - dropout_p))
    return probs @ value, probs


def attention_reference(query: Tensor, key: Tensor, value: Tensor,
                        attn_mask: Tensor | None = None, dropout_p: float = 0.0,
                        is_causal: bool = False, scale: float | None = None,
                        enable_gqa: bool = False) -> Tensor:
    """Attention written out with ember ops (start reading here)::

        scores = query @ key^T * scale             (..., L, S)
        scores[masked] = -inf   or   scores += attn_mask
        out = dropout(softmax(scores, -1)) @ value

    Same arguments and result as ``scaled_dot_product_attention``; stores the (..., L, S)
    matrices, and is differentiable to any order (its backward is autograd's)."""
    _check(query, key, value, attn_mask, dropout_p, enable_gqa)
    if enable_gqa and query.ndim > 2:
        groups = query.shape[-3] // key.shape[-3]
        key, value = _repeat_heads(key, groups), _repeat_heads(value, groups)
    return _composite(query, key, value, attn_mask, dropout_p, is_causal, scale)[0]


# ---------------------------------------------------------------------------- public op
def _to_4d(x: Tensor) -> Tensor:
    """(..., L, E) -> (B, H, L, E): no leading dims -> (1, 1), one -> (1, n), more ->
    (prod(all but the last), last)."""
    lead = x.shape[:-2]
    if len(lead) == 2:
        return x
    if len(lead) < 2:
        return x.reshape((1,) * (2 - len(lead)) + x.shape)
    b = 1
    for n in lead[:-1]:
        b *= n
    return x.reshape(b, lead[-1], *x.shape[-2:])


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(query @ key^T * scale + mask) @ value, as PyTorch's F.scaled_dot_product_attention.

    query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev). ``attn_mask``:
    bool (True = attend) or float (added), broadcastable to (..., L, S); ``is_causal``:
    query i attends keys j <= i (with a mask as well, both apply); ``scale`` defaults to
    1/sqrt(E); ``enable_gqa``: key/value may have fewer heads (dim -3) than query.

    Runs the fused native kernel (memory O(L), first derivatives only). Two cases take the
    composite ``attention_reference`` path instead: ``dropout_p > 0`` (dropout acts on the
    probabilities, which the fused kernel never stores; note that, as in PyTorch, dropout
    is applied whenever dropout_p > 0 -- pass 0.0 in evaluation), and a float ``attn_mask``
    that requires grad (the kernel gives no mask gradient). Fully masked rows give 0.
    """
    _check(query, key, value, attn_mask, dropout_p, enable_gqa)
    if enable_gqa and query.ndim > 2:
        groups = query.shape[-3] // key.shape[-3]
        key, value = _repeat_heads(key, groups), _repeat_heads(value, groups)
    if dropout_p > 0.0 or (attn_mask is not None and attn_mask.requires_grad):
        return _composite(query, key, value, attn_mask, dropout_p, is_causal, scale)[0]

    lead = query.shape[:-2]
    q, k, v = _to_4d(query), _to_4d(key), _to_4d(value)
    mask = attn_mask
    if mask is not None and len(lead) > 2 and mask.ndim > 3:
        # The mask spans batch dims that _to_4d merged: broadcast, then merge them too.
        mask = _to_4d(mask.expand(*lead, *mask.shape[-2:]))
    out = ScaledDotProductAttention.apply(q, k, v, mask, bool(is_causal), scale)
    return out.reshape(*lead, *out.shape[-2:])
