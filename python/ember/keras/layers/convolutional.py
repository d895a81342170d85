"""``Conv2D`` on channels-last images, with TensorFlow's 'same' padding."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ... import nn
from ...nn import functional as F
from ...tensor import Tensor
from ..activations import get_activation
from ..initializers import initialize
from .spatial import _check_format, _check_padding, _pair, _same_pads, _Spatial2D

__all__ = ["Conv2D"]


class Conv2D(_Spatial2D):
    """2-d convolution of (N, H, W, C) input (``data_format='channels_last'``, Keras's
    default) with ``filters`` output channels; ``padding`` 'valid' or 'same' (TensorFlow's
    rule, strided too)."""

    def __init__(self, filters: int, kernel_size: int | Sequence[int],
                 strides: int | Sequence[int] = 1, padding: str = "valid",
                 activation: str | Callable | None = None, use_bias: bool = True,
                 kernel_initializer: str | Callable = "glorot_uniform",
                 bias_initializer: str | Callable = "zeros",
                 data_format: str | None = None, dilation_rate: int | Sequence[int] = 1,
                 input_shape: Sequence[int] | None = None, name: str | None = None,
                 trainable: bool = True) -> None:
        super().__init__(name=name, input_shape=input_shape, trainable=trainable)
        self.filters = filters
        self.kernel_size = _pair(kernel_size, "Conv2D: kernel_size")
        self.strides = _pair(strides, "Conv2D: strides")
        self.dilation_rate = _pair(dilation_rate, "Conv2D: dilation_rate")
        self.padding = _check_padding(padding, "Conv2D")
        self.data_format = _check_format(data_format, "Conv2D")
        self.use_bias = use_bias
        self.activation_name, self.activation = get_activation(activation)
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer

    def build(self, input_shape: tuple) -> None:
        if len(input_shape) != 4:
            raise ValueError(f"Conv2D: expected 4-d input (N, H, W, C), got shape "
                             f"{input_shape}")
        self.conv = nn.Conv2d(self._channels(input_shape), self.filters, self.kernel_size,
                              stride=self.strides, dilation=self.dilation_rate,
                              bias=self.use_bias)
        initialize(self.conv.weight, self.kernel_initializer)
        if self.use_bias:
            initialize(self.conv.bias, self.bias_initializer)

    def pre_activation(self, x: Tensor) -> Tensor:
        if not self.built:
            self._build_for(x)
        x = self._to_nchw(x)
        if self.padding == "same":
            kh, kw = (d * (k - 1) + 1 for d, k in zip(self.dilation_rate, self.kernel_size))
            top, bottom = _same_pads(x.shape[2], kh, self.strides[0])
            left, right = _same_pads(x.shape[3], kw, self.strides[1])
            if top or bottom or left or right:
                x = F.pad(x, (left, right, top, bottom))
        return self._from_nchw(self.conv(x))

    def call(self, x: Tensor) -> Tensor:
        return self.activation(self.pre_activation(x))
