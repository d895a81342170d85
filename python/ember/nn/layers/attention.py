"""Multi-head attention (PyTorch's ``nn.MultiheadAttention``).

Each head attends in its own ``embed_dim / num_heads``-dimensional subspace::

    q, k, v = query W_q^T + b_q,  key W_k^T + b_k,  value W_v^T + b_v   (split into heads)
    head_h  = softmax(q_h k_h^T / sqrt(head_dim) + mask) v_h
    out     = concat(head_1 .. head_H) W_o^T + b_o

Parameter names, shapes and initialisation match PyTorch, so a torch ``state_dict`` loads:
``in_proj_weight`` (3E, E) (xavier_uniform_) and ``in_proj_bias`` (3E,) (zeros) when the key
and value have E features, else separate ``q_proj_weight`` (E, E), ``k_proj_weight``
(E, kdim), ``v_proj_weight`` (E, vdim); ``out_proj`` a Linear (E, E) with zero bias.
"""

from __future__ import annotations

from ... import dtypes as _dt
from ...creation import empty, zeros
from ...ops import cat, pad
from ...ops.attention import _composite, scaled_dot_product_attention
from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..module import Module
from ..parameter import Parameter
from .linear import Linear

_NAME = "MultiheadAttention"


def _additive(mask: Tensor, dtype) -> Tensor:
    """A PyTorch-style MHA mask (bool: True = *masked out*; float: added) as a float mask."""
    if mask.dtype is _dt.bool_:
        return mask.to(dtype).masked_fill(mask, float("-inf"))
    return mask


def _extend(attn_mask, key_padding_mask, lk: int):
    """Masks for one more key position (allowed everywhere), as PyTorch pads them."""
    if attn_mask is not None:
        attn_mask = pad(attn_mask, (0, 1))
    if key_padding_mask is not None:
        key_padding_mask = pad(key_padding_mask, (0, 1))
    return attn_mask, key_padding_mask, lk + 1


class MultiheadAttention(Module):
    """Attention over ``num_heads`` heads of size ``embed_dim // num_heads``.

    forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False) -> (output, weights or None), with PyTorch's
    conventions: inputs (L, N, E) (or (N, L, E) with ``batch_first``, or unbatched (L, E));
    ``key_padding_mask`` (N, S) and ``attn_mask`` (L, S) or (N * num_heads, L, S) are bool
    (True = *not* allowed to attend -- the opposite of scaled_dot_product_attention's bool
    mask) or float (added to the scores). ``is_causal`` is a hint that attn_mask is the causal
    mask; as in PyTorch it is then used instead of attn_mask (here attn_mask may be omitted).

    With ``need_weights=True`` (PyTorch's default) the probabilities are formed explicitly
    (the composite path, as PyTorch does) and returned, averaged over heads unless
    ``average_attn_weights=False``; with ``need_weights=False`` the fused kernel runs and
    no (L, S) matrix is stored. ``dropout`` acts on the probabilities in training mode.
    Fully masked query rows give 0 on both paths (PyTorch: 0 on its fused path, NaN with
    need_weights=True). ``add_bias_kv`` appends learned ``bias_k``/``bias_v`` (1, 1, E) to
    the projected keys and values; ``add_zero_attn`` appends a zero key/value per head.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False,
                 kdim: int | None = None, vdim: int | None = None, batch_first: bool = False,
                 device=None, dtype=None) -> None:
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0 or embed_dim % num_heads:
            raise ValueError(f"{_NAME}: embed_dim ({embed_dim}) must be a positive multiple of "
                             f"num_heads ({num_heads})")
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.dropout, self.batch_first = dropout, batch_first
        self.head_dim = embed_dim // num_heads
        dt = _dt.as_dtype(dtype) if dtype is not None else None

        def param(*shape):
            return Parameter(empty(*shape, dtype=dt, device=device))

        if self._qkv_same_embed_dim:
            self.in_proj_weight = param(3 * embed_dim, embed_dim)
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = param(embed_dim, embed_dim)
            self.k_proj_weight = param(embed_dim, self.kdim)
            self.v_proj_weight = param(embed_dim, self.vdim)
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = param(3 * embed_dim)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, device=device, dtype=dtype)
        if add_bias_kv:  # a learned extra key/value position every query can attend to
            self.bias_k, self.bias_v = param(1, 1, embed_dim), param(1, 1, embed_dim)
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn  # an extra all-zero key/value position
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    # ------------------------------------------------------------------ forward
    def _project(self, query: Tensor, key: Tensor, value: Tensor):
        e = self.embed_dim
        b = self.in_proj_bias
        bq, bk, bv = (None, None, None) if b is None else (b[:e], b[e:2 * e], b[2 * e:])
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            if query is key and key is value:  # self-attention: one (3E, E) product
                return F.linear(query, w, b).chunk(3, dim=-1)
            wq, wk, wv = w[:e], w[e:2 * e], w[2 * e:]
        else:
            wq, wk, wv = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        return F.linear(query, wq, bq), F.linear(key, wk, bk), F.linear(value, wv, bv)

    def forward(self, query: Tensor, key: Tensor, value: Tensor,
                key_padding_mask: Tensor | None = None, need_weights: bool = True,
                attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False):
        batched = query.ndim == 3
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(f"{_NAME}: query, key and value must all be 3-d (batched) or 2-d "
                             f"(unbatched), got {query.shape}, {key.shape}, {value.shape}")
        if query.shape[-1] != self.embed_dim or key.shape[-1] != self.kdim or \
                value.shape[-1] != self.vdim:
            raise ValueError(f"{_NAME}: expected query/key/value features ({self.embed_dim}, "
                             f"{self.kdim}, {self.vdim}), got {query.shape}, {key.shape}, "
                             f"{value.shape}")
        same = query is key and key is value
        if not batched:  # (L, E) -> a batch of one
            query, key, value = (t.unsqueeze(0) for t in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        elif not self.batch_first:  # (L, N, E) -> (N, L, E)
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        if same:
            key = value = query
        n, lq, lk = query.shape[0], query.shape[1], key.shape[1]
        if key.shape[0] != n or value.shape[:2] != key.shape[:2]:
            raise ValueError(f"{_NAME}: key and value must have the same batch size and "
                             f"sequence length as each other and the query's batch size, got "
                             f"query {query.shape}, key {key.shape}, value {value.shape} "
                             "(as (N, L, E))")
        heads, hd = self.num_heads, self.head_dim

        q, k, v = self._project(query, key, value)
        if self.bias_k is not None:  # append the learned key/value (after projection)
            k = cat([k, self.bias_k.expand(n, 1, self.embed_dim)], 1)
            v = cat([v, self.bias_v.expand(n, 1, self.embed_dim)], 1)
            attn_mask, key_padding_mask, lk = _extend(attn_mask, key_padding_mask, lk)
        q = q.reshape(n, lq, heads, hd).transpose(1, 2)  # (N, H, L, hd)
        k = k.reshape(n, lk, heads, hd).transpose(1, 2)
        v = v.reshape(n, lk, heads, hd).transpose(1, 2)
        if self.add_zero_attn:  # append a zero key/value per head
            zero = zeros(n, heads, 1, hd, dtype=k.dtype, device=k.device)
            k, v = cat([k, zero], 2), cat([v, zero], 2)
            attn_mask, key_padding_mask, lk = _extend(attn_mask, key_padding_mask, lk)
        mask = self._merge_masks(key_padding_mask, None if is_causal else attn_mask, n, lq, lk,
                                 q.dtype)
        dropout_p = self.dropout if self.training else 0.0

        if need_weights:
            out, weights = _composite(q, k, v, mask, dropout_p, is_causal, None)
            if average_attn_weights:
                weights = weights.mean(1)
            if not batched:
                weights = weights.squeeze(0)
        else:
            out = scaled_dot_product_attention(q, k, v, mask, dropout_p, is_causal)
            weights = None
        out = self.out_proj(out.transpose(1, 2).reshape(n, lq, self.embed_dim))
        if not batched:
            out = out.squeeze(0)
        elif not self.batch_first:
            out = out.transpose(0, 1)
        return out, weights

    def _merge_masks(self, key_padding_mask, attn_mask, n, lq, lk, dtype):
        """One additive mask broadcastable to (N, H, Lq, Lk), or None."""
        mask = None
        if attn_mask is not None:
            if attn_mask.ndim == 2:
                if attn_mask.shape != (lq, lk):
                    raise ValueError(f"{_NAME}: 2-d attn_mask must be (L, S) = {(lq, lk)}, got "
                                     f"{attn_mask.shape}")
            elif attn_mask.ndim == 3 and attn_mask.shape == (n * self.num_heads, lq, lk):
                attn_mask = attn_mask.reshape(n, self.num_heads, lq, lk)
            else:
                raise ValueError(f"{_NAME}: attn_mask must be (L, S) = {(lq, lk)} or "
                                 f"(N * num_heads, L, S) = {(n * self.num_heads, lq, lk)}, "
                                 f"got {attn_mask.shape}")
            mask = _additive(attn_mask, dtype)
        if key_padding_mask is not None:
            if key_padding_mask.shape != (n, lk):
                raise ValueError(f"{_NAME}: key_padding_mask must be (N, S) = {(n, lk)}, got "
                                 f"{key_padding_mask.shape}")
            kpm = _additive(key_padding_mask, dtype).reshape(n, 1, 1, lk)
            mask = kpm if mask is None else mask + kpm
        return mask

    def extra_repr(self) -> str:
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
                f"dropout={self.dropout}, batch_first={self.batch_first}")
