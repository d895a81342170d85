"""Pooling layers: windowed max/average over (N, H, W, C), and global pooling."""

from __future__ import annotations

import math
from collections.abc import Sequence

from ...creation import ones
from ...nn import functional as F
from ...tensor import Tensor
from .base import Layer
from .spatial import _check_format, _check_padding, _pair, _same_pads, _Spatial2D

__all__ = ["MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D",
           "GlobalAveragePooling1D"]


class _Pooling2D(_Spatial2D):
    kind = "max"

    def __init__(self, pool_size: int | Sequence[int] = 2,
                 strides: int | Sequence[int] | None = None, padding: str = "valid",
                 data_format: str | None = None, name: str | None = None,
                 input_shape: Sequence[int] | None = None) -> None:
        super().__init__(name=name, input_shape=input_shape)
        layer = type(self).__name__
        self.pool_size = _pair(pool_size, f"{layer}: pool_size")
        self.strides = _pair(strides, f"{layer}: strides") if strides is not None \
            else self.pool_size
        self.padding = _check_padding(padding, layer)
        self.data_format = _check_format(data_format, layer)

    def call(self, x: Tensor) -> Tensor:
        x = self._to_nchw(x)
        (kh, kw), (sh, sw) = self.pool_size, self.strides
        pads = (0, 0, 0, 0)
        if self.padding == "same":
            top, bottom = _same_pads(x.shape[2], kh, sh)
            left, right = _same_pads(x.shape[3], kw, sw)
            pads = (left, right, top, bottom)
        if self.kind == "max":
            if any(pads):  # padded cells must never win: pad with -inf
                x = F.pad(x, pads, value=-math.inf)
            y = F.max_pool2d(x, self.pool_size, self.strides)
        elif any(pads):
            # TensorFlow averages over the real cells only: sum-pool / count-pool
            summed = F.avg_pool2d(F.pad(x, pads), self.pool_size, self.strides)
            ones_ = ones(1, 1, x.shape[2], x.shape[3], dtype=x.dtype, device=x.device)
            count = F.avg_pool2d(F.pad(ones_, pads), self.pool_size, self.strides)
            y = summed / count
        else:
            y = F.avg_pool2d(x, self.pool_size, self.strides)
        return self._from_nchw(y)


class MaxPooling2D(_Pooling2D):
    """Max over ``pool_size`` windows of (N, H, W, C); ``strides`` default to the window."""

    kind = "max"


class AveragePooling2D(_Pooling2D):
    """Mean over ``pool_size`` windows of (N, H, W, C); ``strides`` default to the window."""

    kind = "avg"


class GlobalAveragePooling2D(_Spatial2D):
    """Mean over the spatial dimensions: (N, H, W, C) -> (N, C)."""

    def __init__(self, data_format: str | None = None, name: str | None = None) -> None:
        super().__init__(name=name)
        self.data_format = _check_format(data_format, "GlobalAveragePooling2D")

    def call(self, x: Tensor) -> Tensor:
        return self._to_nchw(x).mean((2, 3))


class GlobalMaxPooling2D(_Spatial2D):
    """Max over the spatial dimensions: (N, H, W, C) -> (N, C)."""

    def __init__(self, data_format: str | None = None, name: str | None = None) -> None:
        super().__init__(name=name)
        self.data_format = _check_format(data_format, "GlobalMaxPooling2D")

    def call(self, x: Tensor) -> Tensor:
        return self._to_nchw(x).amax((2, 3))


class GlobalAveragePooling1D(Layer):
    """Mean over time: (N, T, C) -> (N, C); with a mask (from ``Embedding(mask_zero=True)``)
    the mean of the unmasked steps."""

    accepts_mask = True

    def call(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        if mask is None:
            return x.mean(1)
        m = mask.to(x.dtype).unsqueeze(-1)
        return (x * m).sum(1) / m.sum(1).clamp(min=1.0)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        return self.call(x, mask)
