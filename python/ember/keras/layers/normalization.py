"""Normalisation layers over the last (channels) axis: BatchNormalization, LayerNormalization."""

from __future__ import annotations

from collections.abc import Sequence

from ... import nn
from ...tensor import Tensor
from .base import Layer

__all__ = ["BatchNormalization", "LayerNormalization"]


class BatchNormalization(Layer):
    """Batch normalisation over the last axis (the channels of NHWC images, the features of
    (N, F) or (N, T, F)). Keras's ``momentum`` weighs the *old* moving average
    (``moving = momentum * moving + (1 - momentum) * batch``), so ember's momentum is
    ``1 - momentum``."""

    keeps_mask = True

    def __init__(self, axis: int = -1, momentum: float = 0.99, epsilon: float = 1e-3,
                 center: bool = True, scale: bool = True, name: str | None = None,
                 input_shape: Sequence[int] | None = None) -> None:
        if axis != -1:
            raise ValueError(f"BatchNormalization: only axis=-1 (channels last) is supported, "
                             f"got axis={axis}")
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"BatchNormalization: momentum must be in [0, 1], got {momentum}")
        super().__init__(name=name, input_shape=input_shape)
        self.axis, self.momentum, self.epsilon = axis, momentum, epsilon
        self.center, self.scale = center, scale

    def build(self, input_shape: tuple) -> None:
        if len(input_shape) not in (2, 3, 4):
            raise ValueError(f"BatchNormalization: expected 2-, 3- or 4-d input, got shape "
                             f"{input_shape}")
        cls = nn.BatchNorm2d if len(input_shape) == 4 else nn.BatchNorm1d
        self.bn = cls(input_shape[-1], eps=self.epsilon, momentum=1.0 - self.momentum)
        if not self.scale:
            self.bn.weight.requires_grad_(False)
        if not self.center:
            self.bn.bias.requires_grad_(False)

    def call(self, x: Tensor) -> Tensor:
        if x.ndim == 2:
            return self.bn(x)
        perm = (0, x.ndim - 1) + tuple(range(1, x.ndim - 1))  # channels to dim 1
        back = (0,) + tuple(range(2, x.ndim)) + (1,)
        return self.bn(x.permute(*perm)).permute(*back)


class LayerNormalization(Layer):
    """Normalises each sample over its last axis, with learned scale and offset."""

    keeps_mask = True

    def __init__(self, axis: int = -1, epsilon: float = 1e-3, name: str | None = None,
                 input_shape: Sequence[int] | None = None) -> None:
        if axis != -1:
            raise ValueError(f"LayerNormalization: only axis=-1 is supported, got {axis}")
        super().__init__(name=name, input_shape=input_shape)
        self.epsilon = epsilon

    def build(self, input_shape: tuple) -> None:
        self.ln = nn.LayerNorm(input_shape[-1], eps=self.epsilon)

    def call(self, x: Tensor) -> Tensor:
        return self.ln(x)
