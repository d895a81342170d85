"""Embedding: a lookup table from integer ids to learned vectors."""

from __future__ import annotations

from ... import dtypes as _dt
from ...autograd.grad_mode import no_grad
from ...creation import empty
from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..module import Module
from ..parameter import Parameter


class Embedding(Module):
    """``weight[ids]``: row i of the (num_embeddings, embedding_dim) table is the vector of
    id i. ``padding_idx``'s row starts at zero and never receives gradient (so padding
    tokens stay neutral)."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 _weight: Tensor | None = None, device=None, dtype=None) -> None:
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} must be within "
                                 f"[{-num_embeddings}, {num_embeddings})")
            padding_idx %= num_embeddings
        self.padding_idx = padding_idx
        dt = _dt.as_dtype(dtype) if dtype is not None else None
        if _weight is not None:
            self.weight = Parameter(_weight)
        else:
            self.weight = Parameter(empty(num_embeddings, embedding_dim, dtype=dt, device=device))
            self.reset_parameters()

    def reset_parameters(self) -> None:
        init.normal_(self.weight)  # N(0, 1), as in PyTorch
        if self.padding_idx is not None:
            with no_grad():
                self.weight[self.padding_idx] = 0.0

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True,
                        padding_idx: int | None = None) -> Embedding:
        """An Embedding holding a copy of ``embeddings`` (frozen by default)."""
        emb = cls(embeddings.shape[0], embeddings.shape[1], padding_idx=padding_idx,
                  _weight=embeddings.detach().clone())
        emb.weight.requires_grad_(not freeze)
        return emb

    def forward(self, ids: Tensor) -> Tensor:
        return F.embedding(ids, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        return s + (f", padding_idx={self.padding_idx}" if self.padding_idx is not None else "")
