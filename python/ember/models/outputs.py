"""What the models return: transformers' output records, by attribute (``out.logits``)."""

from __future__ import annotations

from dataclasses import dataclass

from ..tensor import Tensor
from .cache import KVCache


@dataclass
class BaseModelOutput:
    """A base model's result: the last layer's hidden states (batch, seq, hidden), the
    pooled first token (BERT, when it has a pooler) and the updated cache (decoders)."""
    last_hidden_state: Tensor
    pooler_output: Tensor | None = None
    past_key_values: KVCache | None = None


@dataclass
class CausalLMOutput:
    """A language model's logits (batch, seq, vocab), its loss when labels were given, and
    the updated cache when ``use_cache``."""
    logits: Tensor
    loss: Tensor | None = None
    past_key_values: KVCache | None = None


@dataclass
class MaskedLMOutput:
    """Masked-LM logits (batch, seq, vocab) and the loss over labelled positions."""
    logits: Tensor
    loss: Tensor | None = None


@dataclass
class SequenceClassifierOutput:
    """Classification logits (batch, num_labels) and the loss when labels were given."""
    logits: Tensor
    loss: Tensor | None = None
