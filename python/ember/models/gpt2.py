"""GPT-2 (Radford et al., 2019) in the Hugging Face ``transformers`` layout.

Module and parameter names are transformers' (``transformer.h.0.attn.c_attn.weight``, ...)
and so are the weight layouts -- GPT-2's linear layers are ``Conv1D``, W stored (in, out) --
so a ``transformers`` checkpoint folder loads unchanged (``GPT2LMHeadModel.from_pretrained``).

One block, pre-LayerNorm (Radford et al.'s change to the original Transformer)::

    h = x + attn(ln_1(x))            attn: causal multi-head self-attention
    y = h + mlp(ln_2(h))             mlp: c_fc -> gelu (tanh form) -> c_proj

The whole model: ``ln_f(blocks(wte[ids] + wpe[positions]))``, and the logits are
``hidden @ wte^T`` (``lm_head`` shares ``wte``'s weight). Attention runs through
``F.scaled_dot_product_attention`` (the fused kernel), with the causal mask and, for
padded batches, the padding mask; a ``KVCache`` keeps each layer's keys and values so that
``generate()`` feeds one token per step.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from .. import dtypes as _dt
from ..creation import arange, empty, zeros
from ..nn import functional as F
from ..nn import init
from ..nn.containers import ModuleList
from ..nn.layers.dropout import Dropout
from ..nn.layers.embedding import Embedding
from ..nn.layers.linear import Linear
from ..nn.layers.norm import LayerNorm
from ..nn.module import Module
from ..nn.parameter import Parameter
from ..ops import addmm
from ..tensor import Tensor
from .cache import KVCache
from .generation import GenerationMixin
from .hub import PretrainedConfig, PreTrainedModel, activation
from .outputs import BaseModelOutput, CausalLMOutput


class GPT2Config(PretrainedConfig):
    """GPT-2's hyper-parameters, with transformers' names and defaults (GPT-2 small).

    ``n_positions`` is the context length; ``n_inner`` the MLP width (None: 4 * n_embd);
    ``activation_function`` ``"gelu_new"`` is GELU's tanh approximation; the three dropout
    rates act in training mode only. Aliases: ``hidden_size`` = n_embd,
    ``num_attention_heads`` = n_head, ``num_hidden_layers`` = n_layer,
    ``max_position_embeddings`` = n_positions.
    """

    model_type = "gpt2"
    defaults: ClassVar[dict[str, Any]] = {
        "vocab_size": 50257, "n_positions": 1024, "n_embd": 768, "n_layer": 12, "n_head": 12,
        "n_inner": None, "activation_function": "gelu_new", "resid_pdrop": 0.1,
        "embd_pdrop": 0.1, "attn_pdrop": 0.1, "layer_norm_epsilon": 1e-5,
        "initializer_range": 0.02, "scale_attn_weights": True,
        "scale_attn_by_inverse_layer_idx": False, "reorder_and_upcast_attn": False,
        "add_cross_attention": False, "use_cache": True, "bos_token_id": 50256,
        "eos_token_id": 50256, "pad_token_id": None, "tie_word_embeddings": True,
    }
    attribute_map: ClassVar[dict[str, str]] = {
        "hidden_size": "n_embd", "num_attention_heads": "n_head",
        "num_hidden_layers": "n_layer", "max_position_embeddings": "n_positions"}

    def validate(self) -> None:
        for name in ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"GPT2Config: {name} must be a positive int, got {value!r}")
        if self.n_embd % self.n_head:
            raise ValueError(f"GPT2Config: n_embd ({self.n_embd}) must be a multiple of "
                             f"n_head ({self.n_head})")
        if self.add_cross_attention:
            raise ValueError("GPT2Config: add_cross_attention=True (GPT-2 as the decoder of "
                             "an encoder-decoder) is not part of ember.models' GPT-2")
        activation(self.activation_function, "GPT2Config")


class Conv1D(Module):
    """transformers' ``Conv1D``, GPT-2's linear layer: ``y = x W + b`` with W stored
    (in_features, out_features), the transpose of ``nn.Linear``'s layout, so GPT-2
    checkpoints load unchanged. Arguments in transformers' order: ``Conv1D(nf=out, nx=in)``.

    Backward (autograd's, through addmm): dW = x^T g, db = sum(g), dx = g W^T."""

    def __init__(self, nf: int, nx: int) -> None:
        super().__init__()
        self.nf, self.nx = nf, nx
        self.weight = Parameter(empty(nx, nf))
        self.bias = Parameter(zeros(nf))
        init.normal_(self.weight, 0.0, 0.02)

    def forward(self, x: Tensor) -> Tensor:
        # (..., nx) -> (..., nf) as one GEMM over the flattened leading dimensions
        lead = x.shape[:-1]
        return addmm(self.bias, x.reshape(-1, self.nx), self.weight).reshape(*lead, self.nf)

    def extra_repr(self) -> str:
        return f"nf={self.nf}, nx={self.nx}"


def attention_mask_for(op: str, attention_mask: Tensor | None, batch: int, length: int,
                       past: int) -> tuple[Tensor | None, bool]:
    """The (attn_mask, is_causal) pair for causal self-attention of ``length`` new positions
    after ``past`` cached ones, with ``attention_mask`` (batch, past + length: 1 = a token,
    0 = padding) hiding padded keys.

    Without padding the causal mask is the kernel's own (``is_causal``) or, for one new
    token, nothing at all. Otherwise a bool (batch, 1, length, past + length) mask:
    query i (at absolute position past + i) sees key j when j <= past + i and j is a token.
    """
    total = past + length
    keep = None
    if attention_mask is not None:
        if attention_mask.shape != (batch, total):
            raise ValueError(f"{op}: attention_mask must be (batch, past + new tokens) = "
                             f"({batch}, {total}), got {tuple(attention_mask.shape)}")
        keep = attention_mask != 0
        if keep.all().item():
            keep = None
    if keep is None and past == 0:
        return None, True
    if keep is None and length == 1:
        return None, False
    dev = attention_mask.device if attention_mask is not None else None
    causal = arange(total, device=dev).unsqueeze(0) <= (arange(length, device=dev) + past
                                                         ).unsqueeze(1)          # (L, S)
    if keep is None:
        return causal, False
    return causal & keep.unsqueeze(1).unsqueeze(1), False


class GPT2Attention(Module):
    """Causal multi-head self-attention: ``c_attn`` makes q, k, v in one GEMM, then
    softmax(q k^T * scale + mask) v per head (the fused SDPA kernel), then ``c_proj``."""

    def __init__(self, config: GPT2Config, layer_idx: int) -> None:
        super().__init__()
        self.embed_dim, self.num_heads = config.n_embd, config.n_head
        self.head_dim = self.embed_dim // self.num_heads
        self.layer_idx = layer_idx
        self.scaling = self.head_dim ** -0.5 if config.scale_attn_weights else 1.0
        if config.scale_attn_by_inverse_layer_idx:
            self.scaling /= float(layer_idx + 1)
        self.c_attn = Conv1D(3 * self.embed_dim, self.embed_dim)
        self.c_proj = Conv1D(self.embed_dim, self.embed_dim)
        self.attn_dropout = Dropout(config.attn_pdrop)
        self.resid_dropout = Dropout(config.resid_pdrop)

    def forward(self, x: Tensor, mask: Tensor | None = None, is_causal: bool = True,
                cache: KVCache | None = None) -> Tensor:
        b, n, e = x.shape
        q, k, v = self.c_attn(x).split(e, dim=-1)

        def heads(t: Tensor) -> Tensor:  # (B, L, E) -> (B, H, L, D)
            return t.reshape(b, n, self.num_heads, self.head_dim).transpose(1, 2)

        q, k, v = heads(q), heads(k), heads(v)
        if cache is not None:
            k, v = cache.update(self.layer_idx, k, v)
        p = self.attn_dropout.p if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p,
                                             is_causal=is_causal, scale=self.scaling)
        return self.resid_dropout(self.c_proj(out.transpose(1, 2).reshape(b, n, e)))


class GPT2MLP(Module):
    """c_fc (n_embd -> n_inner), the activation, c_proj (n_inner -> n_embd), dropout."""

    def __init__(self, inner: int, config: GPT2Config) -> None:
        super().__init__()
        self.c_fc = Conv1D(inner, config.n_embd)
        self.c_proj = Conv1D(config.n_embd, inner)
        self.act = activation(config.activation_function, "GPT2MLP")
        self.dropout = Dropout(config.resid_pdrop)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.c_proj(self.act(self.c_fc(x))))


class GPT2Block(Module):
    """x + attn(ln_1(x)), then + mlp(ln_2(.)) (pre-LayerNorm residual block)."""

    def __init__(self, config: GPT2Config, layer_idx: int) -> None:
        super().__init__()
        inner = config.n_inner if config.n_inner is not None else 4 * config.n_embd
        self.ln_1 = LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.attn = GPT2Attention(config, layer_idx)
        self.ln_2 = LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.mlp = GPT2MLP(inner, config)

    def forward(self, x: Tensor, mask: Tensor | None = None, is_causal: bool = True,
                cache: KVCache | None = None) -> Tensor:
        x = x + self.attn(self.ln_1(x), mask, is_causal, cache)
        return x + self.mlp(self.ln_2(x))


class GPT2PreTrainedModel(PreTrainedModel):
    """GPT-2's checkpoint conventions: the base model under ``transformer``, the causal
    mask buffers old checkpoints carry (``attn.bias``, ``attn.masked_bias``) skipped."""

    config_class = GPT2Config
    base_model_prefix = "transformer"
    ignored_keys = (r"attn\.masked_bias$", r"attn\.bias$")
    linear_types = (Linear, Conv1D)

    def _init_extra(self) -> None:
        # GPT-2's scaled init: the projections that add into the residual stream start with
        # std / sqrt(2 * n_layer), so the stream's variance does not grow with depth.
        std = self.config.initializer_range / math.sqrt(2 * self.config.n_layer)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                init.normal_(p, 0.0, std)


class GPT2Model(GPT2PreTrainedModel):
    """The GPT-2 body: token and position embeddings, ``n_layer`` blocks, ``ln_f``."""

    def __init__(self, config: GPT2Config) -> None:
        super().__init__(config)
        self.wte = Embedding(config.vocab_size, config.n_embd)
        self.wpe = Embedding(config.n_positions, config.n_embd)
        self.drop = Dropout(config.embd_pdrop)
        self.h = ModuleList([GPT2Block(config, i) for i in range(config.n_layer)])
        self.ln_f = LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.init_weights()

    def forward(self, input_ids: Tensor | None = None, past_key_values: KVCache | None = None,
                attention_mask: Tensor | None = None, token_type_ids: Tensor | None = None,
                position_ids: Tensor | None = None, inputs_embeds: Tensor | None = None,
                use_cache: bool | None = None) -> BaseModelOutput:
        """Hidden states (batch, seq, n_embd) of ``input_ids`` (batch, seq) int64.

        ``attention_mask`` (batch, past + seq): 1 for tokens, 0 for padding (keys that are
        0 are never attended to). ``position_ids`` default to past + 0, 1, ... (as
        transformers; ``generate()`` derives them from the mask for left padding).
        ``past_key_values``: a ``KVCache`` extended in place; ``use_cache`` (default
        ``config.use_cache``) returns one (a new one when none was given).
        """
        op = f"{type(self).__name__}.forward"
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError(f"{op}: give exactly one of input_ids and inputs_embeds")
        if input_ids is not None:
            if not isinstance(input_ids, Tensor) or input_ids.dtype is not _dt.int64 \
                    or input_ids.ndim != 2:
                raise TypeError(f"{op}: input_ids must be an int64 Tensor (batch, seq), got "
                                f"{_describe(input_ids)}")
            inputs_embeds = self.wte(input_ids)
        batch, length = inputs_embeds.shape[:2]
        use_cache = self.config.use_cache if use_cache is None else use_cache
        if use_cache and past_key_values is None:
            past_key_values = KVCache()
        past = past_key_values.get_seq_length() if past_key_values is not None else 0
        if position_ids is None:
            if past + length > self.config.n_positions:
                raise ValueError(f"{op}: {past} cached + {length} new positions pass GPT-2's "
                                 f"context length n_positions={self.config.n_positions}")
            position_ids = (arange(length, device=inputs_embeds.device) + past).unsqueeze(0)
        elif position_ids.numel() and position_ids.max().item() >= self.config.n_positions:
            raise ValueError(f"{op}: position {position_ids.max().item()} is past GPT-2's "
                             f"context length n_positions={self.config.n_positions}")
        x = inputs_embeds + self.wpe(position_ids)
        if token_type_ids is not None:
            x = x + self.wte(token_type_ids)
        x = self.drop(x)
        mask, is_causal = attention_mask_for(op, attention_mask, batch, length, past)
        cache = past_key_values if use_cache or past_key_values is not None else None
        for block in self.h:
            x = block(x, mask, is_causal, cache)
        return BaseModelOutput(self.ln_f(x), past_key_values=cache if use_cache else None)


class GPT2LMHeadModel(GPT2PreTrainedModel, GenerationMixin):
    """GPT-2 with its language-model head: logits = hidden @ wte^T (``lm_head`` shares the
    embedding matrix), a next-token loss when ``labels`` are given, and ``generate()``."""

    tied_weights = {"lm_head.weight": "transformer.wte.weight"}

    def __init__(self, config: GPT2Config) -> None:
        super().__init__(config)
        self.transformer = GPT2Model(config)
        self.lm_head = Linear(config.n_embd, config.vocab_size, bias=False)
        if config.tie_word_embeddings:
            self.lm_head.weight = self.transformer.wte.weight
        else:
            init.normal_(self.lm_head.weight, 0.0, config.initializer_range)

    def forward(self, input_ids: Tensor | None = None, past_key_values: KVCache | None = None,
                attention_mask: Tensor | None = None, token_type_ids: Tensor | None = None,
                position_ids: Tensor | None = None, inputs_embeds: Tensor | None = None,
                labels: Tensor | None = None, use_cache: bool | None = None,
                logits_to_keep: int = 0) -> CausalLMOutput:
        """Logits (batch, seq, vocab) -- of the last ``logits_to_keep`` positions only when
        it is > 0 (generation needs one) -- and, with ``labels`` (batch, seq), the mean
        cross-entropy of predicting token t+1 from positions <= t (labels are shifted here,
        so ``labels=input_ids`` is the usual call; -100 marks positions to ignore).
        Other arguments as ``GPT2Model.forward``."""
        out = self.transformer(input_ids, past_key_values, attention_mask, token_type_ids,
                               position_ids, inputs_embeds, use_cache)
        h = out.last_hidden_state
        if logits_to_keep > 0:
            h = h[:, -logits_to_keep:]
        logits = self.lm_head(h)
        loss = None
        if labels is not None:
            loss = causal_lm_loss(logits, labels, "GPT2LMHeadModel")
        return CausalLMOutput(logits, loss, out.past_key_values)


def causal_lm_loss(logits: Tensor, labels: Tensor, op: str) -> Tensor:
    """Mean cross-entropy of logits[:, t] against labels[:, t + 1], ignoring -100."""
    if labels.shape != logits.shape[:2]:
        raise ValueError(f"{op}: labels must be (batch, seq) = {tuple(logits.shape[:2])} (the "
                         f"logits' positions), got {tuple(labels.shape)}")
    v = logits.shape[-1]
    return F.cross_entropy(logits[:, :-1].reshape(-1, v), labels[:, 1:].reshape(-1),
                           ignore_index=-100)


def _describe(x: Any) -> str:
    if isinstance(x, Tensor):
        return f"a {x.dtype} Tensor of shape {tuple(x.shape)}"
    return f"a {type(x).__name__}"
