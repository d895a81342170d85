"""Decoding: ``generate()`` for decoder-only language models (GPT-2), with a KV cache.

Each step turns the last position's logits into a next token::

    scores = logits[:, -1]
    scores = apply_repetition_penalty(sequence, scores)   # then, when do_sample:
    scores = scores / temperature;  top_k;  top_p      # the "warpers"
    next   = argmax(scores)   or   multinomial(softmax(scores))

with transformers' logits-processor semantics, in transformers' order, so the same
arguments mean the same thing. With the cache the prompt runs once (the "prefill") and each
later step runs the model on the one new token.

Batches of prompts of different lengths are **left**-padded, with an ``attention_mask``
(1 = token, 0 = padding): new tokens then line up at the right end, padded keys are never
attended to, and each row's positions count its own tokens only (position ids from the
mask: ``cumsum(mask) - 1``), so a padded prompt generates what it would alone.
"""

from __future__ import annotations

from typing import Any

from .. import dtypes as _dt
from ..autograd.grad_mode import no_grad
from ..creation import multinomial, ones, ones_like, tensor
from ..ops import argmax, cat, gather, scatter, softmax, sort, topk, where
from ..random import Generator
from ..tensor import Tensor
from .cache import KVCache

NEG_INF = float("-inf")


# ---------------------------------------------------------------------------- processors
def apply_repetition_penalty(sequences: Tensor, scores: Tensor, penalty: float) -> Tensor:
    """CTRL's repetition penalty (Keskar et al., 2019), once per distinct token of each row
    of ``sequences`` (batch, seq) -- the prompt included, as in transformers: a score s of
    such a token becomes s / penalty if s > 0 else s * penalty (penalty > 1 discourages
    repeats, < 1 encourages them)."""
    s = gather(scores, 1, sequences)
    s = where(s < 0, s * penalty, s / penalty)
    return scatter(scores, 1, sequences, s)


def top_k_filter(scores: Tensor, k: int) -> Tensor:
    """Keep the k highest scores of each row (ties with the k-th included), -inf the rest."""
    k = min(k, scores.shape[-1])
    kth = topk(scores, k, dim=-1).values[..., -1:]
    return scores.masked_fill(scores < kth, NEG_INF)


def top_p_filter(scores: Tensor, p: float) -> Tensor:
    """Nucleus filtering (Holtzman et al., 2020): keep the smallest set of most probable
    tokens whose probabilities sum to at least p (always the most probable one), -inf the
    rest. As transformers: sort ascending, drop the tokens whose cumulative probability
    is <= 1 - p."""
    sorted_scores, order = sort(scores, dim=-1)
    cumulative = softmax(sorted_scores, -1).cumsum(-1)
    drop = cumulative <= 1.0 - p
    drop[..., -1:] = False
    return scores.masked_fill(scatter(drop, 1, order, drop), NEG_INF)


# ---------------------------------------------------------------------------- generate
class GenerationMixin:
    """``generate()`` for a causal LM whose forward takes (input_ids, past_key_values,
    attention_mask, position_ids=..., use_cache=..., logits_to_keep=...) and returns
    ``.logits`` and ``.past_key_values`` (GPT2LMHeadModel)."""

    def generate(self, input_ids: Tensor, attention_mask: Tensor | None = None, *,
                 max_new_tokens: int = 20, do_sample: bool = False, temperature: float = 1.0,
                 top_k: int = 50, top_p: float = 1.0, repetition_penalty: float = 1.0,
                 eos_token_id: int | list[int] | None = None,
                 pad_token_id: int | None = None, use_cache: bool = True,
                 generator: Generator | None = None) -> Tensor:
        """The prompts followed by up to ``max_new_tokens`` generated tokens each.

        Args:
            input_ids: (batch, seq) int64 prompts, left-padded when of different lengths.
            attention_mask: (batch, seq), 1 for tokens and 0 for padding (default: all 1).
            max_new_tokens: how many tokens to add (fewer when every row has ended).
            do_sample: False: greedy (the most probable token). True: sample from the
                scores after temperature, top_k and top_p.
            temperature: > 0; scores are divided by it (sampling only).
            top_k: keep the k most probable tokens (sampling only; 0 = no limit; 50 is
                transformers' default).
            top_p: in (0, 1]; nucleus sampling (1.0 = off).
            repetition_penalty: > 0; 1.0 = off (applies to greedy decoding too).
            eos_token_id: the end token(s) (default: ``config.eos_token_id``). A row that
                produced one is finished: its later positions get ``pad_token_id``;
                generation stops early when every row has finished.
            pad_token_id: what follows a finished row's end token (default:
                ``config.pad_token_id``, else the end token).
            use_cache: keep each layer's keys and values so that a step costs one token
                of work (False re-runs the whole sequence each step: the reference).
            generator: the random source for sampling (default: ember's global one, seeded
                by ``ember.manual_seed``).

        Returns:
            (batch, seq + n) int64, n <= max_new_tokens.

        Raises:
            ValueError: an empty prompt, a row of the mask with no token, a prompt plus
                ``max_new_tokens`` past the context length, or an argument out of range.
            TypeError: input_ids not an int64 (batch, seq) Tensor.
        """
        config = self.config
        op = f"{type(self).__name__}.generate"
        eos = _as_list(config.eos_token_id if eos_token_id is None else eos_token_id)
        if pad_token_id is None:
            pad_token_id = config.pad_token_id if config.pad_token_id is not None else \
                (eos[0] if eos else None)
        _check_arguments(op, input_ids, attention_mask, max_new_tokens, temperature, top_k,
                         top_p, repetition_penalty, config, eos, pad_token_id)
        if attention_mask is None:
            attention_mask = ones_like(input_ids)
        mask = (attention_mask != 0).to(_dt.int64)
        # each row's positions count its own tokens (left padding), transformers' rule
        positions = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 0)
        batch = input_ids.shape[0]
        sequences = input_ids
        unfinished = ones(batch, dtype=_dt.bool_, device=input_ids.device)
        eos_ids = tensor(eos, dtype=_dt.int64, device=input_ids.device) if eos else None
        cache = KVCache() if use_cache else None
        with no_grad():
            for _ in range(max_new_tokens):
                new = sequences.shape[1] if cache is None or len(cache) == 0 else 1
                out = self(sequences[:, -new:], past_key_values=cache, attention_mask=mask,
                           position_ids=positions[:, -new:], use_cache=use_cache,
                           logits_to_keep=1)
                scores = out.logits[:, -1, :]
                if repetition_penalty != 1.0:
                    scores = apply_repetition_penalty(sequences, scores, repetition_penalty)
                if do_sample:
                    if temperature != 1.0:
                        scores = scores / temperature
                    if top_k:
                        scores = top_k_filter(scores, top_k)
                    if top_p < 1.0:
                        scores = top_p_filter(scores, top_p)
                    token = multinomial(softmax(scores, -1), 1, generator=generator)[:, 0]
                else:
                    token = argmax(scores, -1)
                if eos_ids is not None:
                    token = where(unfinished, token, pad_token_id)
                    unfinished = unfinished & ~(token.unsqueeze(1) == eos_ids).any(-1)
                sequences = cat([sequences, token.unsqueeze(1)], dim=1)
                mask = cat([mask, ones(batch, 1, dtype=_dt.int64, device=mask.device)], dim=1)
                positions = cat([positions, positions[:, -1:] + 1], dim=1)
                if eos_ids is not None and not unfinished.any().item():
                    break
        return sequences


def _as_list(ids: Any) -> list[int]:
    if ids is None:
        return []
    return [int(i) for i in ids] if isinstance(ids, (list, tuple)) else [int(ids)]


def _check_arguments(op: str, input_ids: Any, attention_mask: Any, max_new_tokens: Any,
                     temperature: float, top_k: Any, top_p: float, penalty: float,
                     config: Any, eos: list[int], pad_token_id: int | None) -> None:
    """Every argument error of generate(), before any work, naming the argument."""
    if not isinstance(input_ids, Tensor) or input_ids.dtype is not _dt.int64 \
            or input_ids.ndim != 2:
        got = (f"a {input_ids.dtype} Tensor of shape {tuple(input_ids.shape)}"
               if isinstance(input_ids, Tensor) else f"a {type(input_ids).__name__}")
        raise TypeError(f"{op}: input_ids must be an int64 Tensor (batch, seq) (one prompt: "
                        f"ids.unsqueeze(0)), got {got}")
    batch, length = input_ids.shape
    if batch == 0 or length == 0:
        raise ValueError(f"{op}: empty prompt (input_ids of shape {tuple(input_ids.shape)}); "
                         "give at least one token per row (e.g. the BOS token)")
    if attention_mask is not None:
        if not isinstance(attention_mask, Tensor) or attention_mask.shape != input_ids.shape:
            shape = tuple(attention_mask.shape) if isinstance(attention_mask, Tensor) else \
                type(attention_mask).__name__
            raise ValueError(f"{op}: attention_mask must be a Tensor of input_ids' shape "
                             f"{tuple(input_ids.shape)}, got {shape}")
        empty_rows = (~(attention_mask != 0).any(-1)).nonzero()
        if empty_rows.numel():
            raise ValueError(f"{op}: row(s) {empty_rows.reshape(-1).tolist()} of "
                             "attention_mask hold no token (an empty prompt)")
    if not isinstance(max_new_tokens, int) or max_new_tokens < 0:
        raise ValueError(f"{op}: max_new_tokens must be an int >= 0, got {max_new_tokens!r}")
    limit = config.n_positions
    if length + max_new_tokens > limit:
        raise ValueError(f"{op}: the prompt ({length} tokens) plus max_new_tokens "
                         f"({max_new_tokens}) is {length + max_new_tokens} positions, past the "
                         f"model's context length n_positions={limit}")
    if not temperature > 0:
        raise ValueError(f"{op}: temperature must be > 0 (for greedy decoding use "
                         f"do_sample=False), got {temperature}")
    if not isinstance(top_k, int) or top_k < 0:
        raise ValueError(f"{op}: top_k must be an int >= 0 (0 = no limit), got {top_k!r}")
    if not 0.0 < top_p <= 1.0:
        raise ValueError(f"{op}: top_p must be in (0, 1], got {top_p}")
    if not penalty > 0:
        raise ValueError(f"{op}: repetition_penalty must be > 0 (1.0 = none), got {penalty}")
    vocab = config.vocab_size
    if input_ids.numel() and (input_ids.min().item() < 0 or input_ids.max().item() >= vocab):
        raise ValueError(f"{op}: input_ids must be in [0, vocab_size={vocab}), got values in "
                         f"[{input_ids.min().item()}, {input_ids.max().item()}]")
    if eos and pad_token_id is None:
        raise ValueError(f"{op}: an end token is set ({eos}) but no pad_token_id to follow it")
