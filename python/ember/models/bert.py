"""BERT (Devlin et al., 2019) in the Hugging Face ``transformers`` layout.

Names and layouts are transformers' (``bert.encoder.layer.0.attention.self.query.weight``,
``nn.Linear``'s (out, in) weights), so a ``transformers`` checkpoint folder loads unchanged.

One layer, post-LayerNorm (the original Transformer's order)::

    a = LayerNorm(x + dense(attention(x)))           attention: bidirectional, padding masked
    y = LayerNorm(a + dense(gelu(dense(a))))         gelu: the exact (erf) form

The embeddings are LayerNorm(word + position + token type). Heads: a masked-LM head
(transform: dense, gelu, LayerNorm; then the decoder, which shares the word embeddings, plus
a bias of its own) and a sequence classifier on the pooled first token (dense + tanh).
"""

from __future__ import annotations

from typing import Any, ClassVar

from .. import dtypes as _dt
from ..creation import arange, zeros, zeros_like
from ..nn import functional as F
from ..nn.containers import ModuleList
from ..nn.layers.dropout import Dropout
from ..nn.layers.embedding import Embedding
from ..nn.layers.linear import Linear
from ..nn.layers.norm import LayerNorm
from ..nn.module import Module
from ..nn.parameter import Parameter
from ..ops import tanh
from ..tensor import Tensor
from .hub import PretrainedConfig, PreTrainedModel, activation
from .outputs import BaseModelOutput, MaskedLMOutput, SequenceClassifierOutput


class BertConfig(PretrainedConfig):
    """BERT's hyper-parameters, with transformers' names and defaults (BERT-base).

    ``num_labels`` (a classifier's outputs) is stored as transformers stores it, through
    ``id2label`` (default 2 labels); ``problem_type`` (None: regression when num_labels is
    1, else classification by the labels' dtype) picks the classifier's loss.
    """

    model_type = "bert"
    defaults: ClassVar[dict[str, Any]] = {
        "vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12,
        "num_attention_heads": 12, "intermediate_size": 3072, "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": 512, "type_vocab_size": 2, "initializer_range": 0.02,
        "layer_norm_eps": 1e-12, "pad_token_id": 0, "classifier_dropout": None,
        "id2label": None, "problem_type": None, "is_decoder": False,
        "tie_word_embeddings": True,
    }
    PROBLEM_TYPES = ("regression", "single_label_classification", "multi_label_classification")

    def __init__(self, **kwargs: Any) -> None:
        num_labels = kwargs.pop("num_labels", None)
        super().__init__(**kwargs)
        if num_labels is not None:
            self.num_labels = num_labels

    @property
    def num_labels(self) -> int:
        return len(self.id2label) if self.id2label else 2

    @num_labels.setter
    def num_labels(self, n: int) -> None:
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"BertConfig: num_labels must be a positive int, got {n!r}")
        object.__setattr__(self, "id2label", {str(i): f"LABEL_{i}" for i in range(n)})
        self.extra["label2id"] = {f"LABEL_{i}": i for i in range(n)}

    def validate(self) -> None:
        for name in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                     "intermediate_size", "max_position_embeddings", "type_vocab_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"BertConfig: {name} must be a positive int, got {value!r}")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(f"BertConfig: hidden_size ({self.hidden_size}) must be a multiple "
                             f"of num_attention_heads ({self.num_attention_heads})")
        if self.is_decoder:
            raise ValueError("BertConfig: is_decoder=True (BERT as a causal decoder) is not "
                             "part of ember.models' BERT")
        if self.problem_type is not None and self.problem_type not in self.PROBLEM_TYPES:
            raise ValueError(f"BertConfig: problem_type must be None or one of "
                             f"{self.PROBLEM_TYPES}, got {self.problem_type!r}")
        activation(self.hidden_act, "BertConfig")


class BertEmbeddings(Module):
    """LayerNorm(word[ids] + position[0..L) + token_type[types]), then dropout."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.word_embeddings = Embedding(config.vocab_size, config.hidden_size,
                                         padding_idx=config.pad_token_id)
        self.position_embeddings = Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = Dropout(config.hidden_dropout_prob)
        self.max_positions = config.max_position_embeddings

    def forward(self, input_ids: Tensor, token_type_ids: Tensor | None = None,
                position_ids: Tensor | None = None) -> Tensor:
        length = input_ids.shape[1]
        if length > self.max_positions:
            raise ValueError(f"BertModel: {length} tokens pass the model's "
                             f"max_position_embeddings={self.max_positions}")
        if position_ids is None:
            position_ids = arange(length, device=input_ids.device).unsqueeze(0)
        if token_type_ids is None:
            token_type_ids = zeros_like(input_ids)
        x = (self.word_embeddings(input_ids) + self.position_embeddings(position_ids)
             + self.token_type_embeddings(token_type_ids))
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(Module):
    """Multi-head attention of every position to every (unpadded) position:
    softmax(q k^T / sqrt(d) + mask) v per head, through the fused SDPA kernel."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.head_dim = config.hidden_size // self.num_heads
        self.query = Linear(config.hidden_size, config.hidden_size)
        self.key = Linear(config.hidden_size, config.hidden_size)
        self.value = Linear(config.hidden_size, config.hidden_size)
        self.dropout = Dropout(config.attention_probs_dropout_prob)

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        b, n, e = x.shape

        def heads(t: Tensor) -> Tensor:  # (B, L, E) -> (B, H, L, D)
            return t.reshape(b, n, self.num_heads, self.head_dim).transpose(1, 2)

        p = self.dropout.p if self.training else 0.0
        out = F.scaled_dot_product_attention(heads(self.query(x)), heads(self.key(x)),
                                             heads(self.value(x)), attn_mask=mask, dropout_p=p)
        return out.transpose(1, 2).reshape(b, n, e)


class BertSelfOutput(Module):
    """LayerNorm(residual + dropout(dense(h))) -- used after attention and after the MLP."""

    def __init__(self, config: BertConfig, inner: int) -> None:
        super().__init__()
        self.dense = Linear(inner, config.hidden_size)
        self.LayerNorm = LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = Dropout(config.hidden_dropout_prob)

    def forward(self, h: Tensor, residual: Tensor) -> Tensor:
        return self.LayerNorm(self.dropout(self.dense(h)) + residual)


class BertAttention(Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.self = BertSelfAttention(config)
        self.output = BertSelfOutput(config, config.hidden_size)

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        return self.output(self.self(x, mask), x)


class BertIntermediate(Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = Linear(config.hidden_size, config.intermediate_size)
        self.act = activation(config.hidden_act, "BertIntermediate")

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.dense(x))


class BertLayer(Module):
    """attention (+ residual, LayerNorm), then intermediate -> output (+ residual, LN)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.attention = BertAttention(config)
        self.intermediate = BertIntermediate(config)
        self.output = BertSelfOutput(config, config.intermediate_size)

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        a = self.attention(x, mask)
        return self.output(self.intermediate(a), a)


class BertEncoder(Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.layer = ModuleList([BertLayer(config) for _ in range(config.num_hidden_layers)])

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        for layer in self.layer:
            x = layer(x, mask)
        return x


class BertPooler(Module):
    """tanh(dense(h[:, 0])): the [CLS] position's summary of the sequence."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = Linear(config.hidden_size, config.hidden_size)

    def forward(self, h: Tensor) -> Tensor:
        return tanh(self.dense(h[:, 0]))


class BertPreTrainedModel(PreTrainedModel):
    """BERT's checkpoint conventions: the base model under ``bert``; old checkpoints'
    ``position_ids`` buffer skipped."""

    config_class = BertConfig
    base_model_prefix = "bert"
    ignored_keys: ClassVar[tuple[str, ...]] = (r"embeddings\.position_ids$",)


class BertModel(BertPreTrainedModel):
    """The BERT encoder: embeddings, ``num_hidden_layers`` layers, and (unless
    ``add_pooling_layer=False``) the pooler."""

    def __init__(self, config: BertConfig, add_pooling_layer: bool = True) -> None:
        super().__init__(config)
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config) if add_pooling_layer else None
        self.init_weights()

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None,
                token_type_ids: Tensor | None = None,
                position_ids: Tensor | None = None) -> BaseModelOutput:
        """Hidden states (batch, seq, hidden) and the pooled first token (batch, hidden).

        ``input_ids`` (batch, seq) int64; ``attention_mask`` (batch, seq): 1 for tokens, 0
        for padding (padded keys are never attended to); ``token_type_ids`` (batch, seq):
        the segment of each token (default all 0)."""
        op = f"{type(self).__name__}.forward"
        if not isinstance(input_ids, Tensor) or input_ids.dtype is not _dt.int64 \
                or input_ids.ndim != 2:
            got = (f"a {input_ids.dtype} Tensor of shape {tuple(input_ids.shape)}"
                   if isinstance(input_ids, Tensor) else f"a {type(input_ids).__name__}")
            raise TypeError(f"{op}: input_ids must be an int64 Tensor (batch, seq), got {got}")
        for name, t in (("attention_mask", attention_mask), ("token_type_ids", token_type_ids)):
            if t is not None and t.shape != input_ids.shape:
                raise ValueError(f"{op}: {name} must have input_ids' shape "
                                 f"{tuple(input_ids.shape)}, got {tuple(t.shape)}")
        mask = None
        if attention_mask is not None:
            keep = attention_mask != 0
            if not keep.all().item():
                mask = keep.unsqueeze(1).unsqueeze(1)  # (B, 1, 1, S): hides padded keys
        h = self.encoder(self.embeddings(input_ids, token_type_ids, position_ids), mask)
        pooled = self.pooler(h) if self.pooler is not None else None
        return BaseModelOutput(h, pooler_output=pooled)


class BertPredictionHeadTransform(Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = Linear(config.hidden_size, config.hidden_size)
        self.act = activation(config.hidden_act, "BertPredictionHeadTransform")
        self.LayerNorm = LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, h: Tensor) -> Tensor:
        return self.LayerNorm(self.act(self.dense(h)))


class BertLMPredictionHead(Module):
    """transform, then the decoder (its weight: the word embeddings; its bias: ``bias``)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.transform = BertPredictionHeadTransform(config)
        self.decoder = Linear(config.hidden_size, config.vocab_size)
        self.bias = Parameter(zeros(config.vocab_size))
        self.decoder.bias = self.bias  # one tensor under both names, as transformers ties them

    def forward(self, h: Tensor) -> Tensor:
        return self.decoder(self.transform(h))


class BertOnlyMLMHead(Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.predictions = BertLMPredictionHead(config)

    def forward(self, h: Tensor) -> Tensor:
        return self.predictions(h)


class BertForMaskedLM(BertPreTrainedModel):
    """BERT with the masked-LM head: logits over the vocabulary at every position, and the
    cross-entropy over the positions whose label is not -100 when ``labels`` are given.
    Loads a pretraining checkpoint too (its next-sentence head and pooler are skipped)."""

    tied_weights = {"cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight",
                    "cls.predictions.decoder.bias": "cls.predictions.bias"}
    ignored_keys = (r"embeddings\.position_ids$", r"^bert\.pooler\.", r"^cls\.seq_relationship\.")

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=False)
        self.cls = BertOnlyMLMHead(config)
        self.init_weights()
        if config.tie_word_embeddings:
            self.cls.predictions.decoder.weight = self.bert.embeddings.word_embeddings.weight

    def tied_keys(self) -> set[str]:
        # the decoder's bias is always cls.predictions.bias; its weight only when tied
        keys = {"cls.predictions.decoder.bias"}
        if self.config.tie_word_embeddings:
            keys.add("cls.predictions.decoder.weight")
        return keys

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None,
                token_type_ids: Tensor | None = None, position_ids: Tensor | None = None,
                labels: Tensor | None = None) -> MaskedLMOutput:
        h = self.bert(input_ids, attention_mask, token_type_ids, position_ids).last_hidden_state
        logits = self.cls(h)
        loss = None
        if labels is not None:
            if labels.shape != input_ids.shape:
                raise ValueError(f"BertForMaskedLM: labels must have input_ids' shape "
                                 f"{tuple(input_ids.shape)}, got {tuple(labels.shape)}")
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                   ignore_index=-100)
        return MaskedLMOutput(logits, loss)


class BertForSequenceClassification(BertPreTrainedModel):
    """BERT with a classifier on the pooled [CLS] state: logits (batch, num_labels).

    The loss, when ``labels`` are given, follows ``config.problem_type`` (None: mean squared
    error when num_labels is 1, cross-entropy for int64 labels (batch,), binary
    cross-entropy with logits for float labels (batch, num_labels))."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = BertModel(config)
        p = config.classifier_dropout
        self.dropout = Dropout(config.hidden_dropout_prob if p is None else p)
        self.classifier = Linear(config.hidden_size, config.num_labels)
        self.init_weights()

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None,
                token_type_ids: Tensor | None = None, position_ids: Tensor | None = None,
                labels: Tensor | None = None) -> SequenceClassifierOutput:
        pooled = self.bert(input_ids, attention_mask, token_type_ids, position_ids).pooler_output
        logits = self.classifier(self.dropout(pooled))
        loss = None if labels is None else self._loss(logits, labels)
        return SequenceClassifierOutput(logits, loss)

    def _loss(self, logits: Tensor, labels: Tensor) -> Tensor:
        problem = self.config.problem_type
        if problem is None:
            problem = ("regression" if self.num_labels == 1 else
                       "single_label_classification" if labels.dtype is _dt.int64 else
                       "multi_label_classification")
        op = f"BertForSequenceClassification ({problem})"
        b = logits.shape[0]
        if problem == "regression":
            labels = labels.to(logits.dtype)
            if self.num_labels == 1:
                return F.mse_loss(logits.reshape(-1), _shaped(op, labels, (b,), "labels"))
            return F.mse_loss(logits, _shaped(op, labels, logits.shape, "labels"))
        if problem == "single_label_classification":
            if labels.dtype is not _dt.int64:
                raise TypeError(f"{op}: labels must be int64 class indices, got {labels.dtype}")
            return F.cross_entropy(logits, _shaped(op, labels, (b,), "labels"))
        return F.binary_cross_entropy_with_logits(
            logits, _shaped(op, labels.to(logits.dtype), logits.shape, "labels"))


def _shaped(op: str, t: Tensor, shape: tuple, name: str) -> Tensor:
    """``t`` reshaped to ``shape`` when it holds that many elements, else a ValueError."""
    n = 1
    for s in shape:
        n *= s
    if t.numel() != n:
        raise ValueError(f"{op}: {name} must have shape {tuple(shape)}, got {tuple(t.shape)}")
    return t.reshape(*shape)
