"""The core layers: Input, Dense, Activation, Flatten, Reshape, Dropout, Lambda."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ... import nn
from ...tensor import Tensor
from ..activations import get_activation
from ..initializers import get_initializer, initialize
from .base import Layer

__all__ = ["InputLayer", "Input", "Dense", "Activation", "Flatten", "Reshape", "Dropout",
           "Lambda"]


class InputLayer(Layer):
    """Declares the input shape of a ``Sequential`` model (``Input(shape=(784,))``); the
    identity otherwise. Not listed in ``model.layers`` or the summary (as in Keras)."""

    def __init__(self, shape: Sequence[int] | None = None, name: str | None = None,
                 dtype: str | None = None, input_shape: Sequence[int] | None = None) -> None:
        shape = shape if shape is not None else input_shape
        if shape is None:
            raise ValueError("Input: give the shape of one sample, e.g. Input(shape=(784,))")
        super().__init__(name=name, input_shape=shape)
        self.dtype = dtype

    def call(self, x: Tensor) -> Tensor:
        return x


def Input(shape: Sequence[int] | None = None, name: str | None = None,  # noqa: N802
          dtype: str | None = None) -> InputLayer:
    """``Input(shape=(784,))`` for the first entry of a ``Sequential`` list. (Keras returns a
    symbolic tensor for its functional API; ember.keras has only ``Sequential``, where
    this declares the input shape.)"""
    return InputLayer(shape=shape, name=name, dtype=dtype)


class Dense(Layer):
    """Fully connected: ``activation(x @ W^T + b)`` over the last dimension (an
    ``ember.nn.Linear`` built for the input's last dimension)."""

    keeps_mask = True

    def __init__(self, units: int, activation: str | Callable | None = None,
                 use_bias: bool = True, kernel_initializer: str | Callable = "glorot_uniform",
                 bias_initializer: str | Callable = "zeros",
                 input_shape: Sequence[int] | None = None, input_dim: int | None = None,
                 name: str | None = None, trainable: bool = True) -> None:
        if not isinstance(units, int) or units <= 0:
            raise ValueError(f"Dense: units must be a positive int, got {units!r}")
        if input_shape is None and input_dim is not None:
            input_shape = (input_dim,)
        super().__init__(name=name, input_shape=input_shape, trainable=trainable)
        self.units, self.use_bias = units, use_bias
        self.activation_name, self.activation = get_activation(activation)
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        get_initializer(kernel_initializer), get_initializer(bias_initializer)  # fail early

    def build(self, input_shape: tuple) -> None:
        self.linear = nn.Linear(input_shape[-1], self.units, bias=self.use_bias)
        initialize(self.linear.weight, self.kernel_initializer)
        if self.use_bias:
            initialize(self.linear.bias, self.bias_initializer)

    def pre_activation(self, x: Tensor) -> Tensor:
        """The output before the activation (the logits of a softmax/sigmoid layer)."""
        if not self.built:
            self._build_for(x)
        return self.linear(x)

    def call(self, x: Tensor) -> Tensor:
        return self.activation(self.linear(x))


class Activation(Layer):
    """Applies an activation by name (``'relu'``, ``'softmax'``, ...) or a callable."""

    keeps_mask = True

    def __init__(self, activation: str | Callable, name: str | None = None,
                 input_shape: Sequence[int] | None = None) -> None:
        super().__init__(name=name, input_shape=input_shape)
        self.activation_name, self.activation = get_activation(activation)

    def pre_activation(self, x: Tensor) -> Tensor:
        return x

    def call(self, x: Tensor) -> Tensor:
        return self.activation(x)


class Flatten(Layer):
    """Flattens everything but the batch dimension."""

    def call(self, x: Tensor) -> Tensor:
        return x.flatten(1)


class Reshape(Layer):
    """Reshapes each sample to ``target_shape`` (one entry may be -1)."""

    def __init__(self, target_shape: Sequence[int], name: str | None = None,
                 input_shape: Sequence[int] | None = None) -> None:
        super().__init__(name=name, input_shape=input_shape)
        self.target_shape = tuple(target_shape)

    def call(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], *self.target_shape)


class Dropout(Layer):
    """Zeroes a fraction ``rate`` of the inputs while training (scaling the rest by
    1/(1 - rate)); the identity in evaluation."""

    keeps_mask = True

    def __init__(self, rate: float, name: str | None = None,
                 input_shape: Sequence[int] | None = None) -> None:
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"Dropout: rate must be in [0, 1), got {rate}")
        super().__init__(name=name, input_shape=input_shape)
        self.rate = rate
        self.dropout = nn.Dropout(rate)

    def call(self, x: Tensor) -> Tensor:
        return self.dropout(x)


class Lambda(Layer):
    """Wraps a function of a tensor (or any ``ember.nn.Module``) as a layer."""

    def __init__(self, function: Callable[[Tensor], Tensor], name: str | None = None,
                 input_shape: Sequence[int] | None = None) -> None:
        super().__init__(name=name, input_shape=input_shape)
        self.function = function  # a Module assigned here is registered as a sub-module

    def call(self, x: Tensor) -> Tensor:
        return self.function(x)
