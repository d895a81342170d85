"""``Embedding``: integer ids -> learned vectors, with Keras's ``mask_zero`` padding mask."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ... import dtypes as _dt
from ... import nn
from ...autograd.grad_mode import no_grad
from ...tensor import Tensor
from ..initializers import initialize
from .base import Layer

__all__ = ["Embedding"]


class Embedding(Layer):
    """Maps integer ids in [0, input_dim) to learned vectors of size ``output_dim``:
    (N, T) -> (N, T, output_dim).

    ``mask_zero=True`` declares id 0 as padding: its vector is kept at zero (ember's
    ``padding_idx``) and the following recurrent layers skip padded steps (they carry their
    state through them, as Keras's masking does)."""

    def __init__(self, input_dim: int, output_dim: int,
                 embeddings_initializer: str | Callable = "uniform", mask_zero: bool = False,
                 input_length: int | None = None, input_shape: Sequence[int] | None = None,
                 name: str | None = None, trainable: bool = True) -> None:
        if input_shape is None and input_length is not None:
            input_shape = (input_length,)
        super().__init__(name=name, input_shape=input_shape, trainable=trainable)
        self.input_dim, self.output_dim = input_dim, output_dim
        self.mask_zero, self.input_length = mask_zero, input_length
        self.embedding = nn.Embedding(input_dim, output_dim,
                                      padding_idx=0 if mask_zero else None)
        initialize(self.embedding.weight, embeddings_initializer)
        if mask_zero:
            with no_grad():
                self.embedding.weight[0] = 0.0

    def call(self, x: Tensor) -> Tensor:
        if x.dtype is not _dt.int64:
            x = x.long()
        return self.embedding(x)

    def compute_mask(self, x: Tensor) -> Tensor | None:
        """(N, T) bool, True at real (non-zero) tokens; None without ``mask_zero``."""
        return (x != 0) if self.mask_zero else None
