"""Keras-style layers, each a thin wrapper around ``ember.nn`` modules.

Keras layers know their output size but not their input size: ``Dense(64)`` learns the
number of input features from the first batch it sees. Here a ``Layer`` is an
``ember.nn.Module`` whose inner ``ember.nn`` modules are created by ``build(input_shape)``
on the first call (or right away when ``input_shape=`` is given). After that it is plain
ember: ``parameters()``, ``state_dict()``, autograd, optimizers.

Keras is channels-last: ``Conv2D`` and the pooling layers take (N, H, W, C) and transpose
to ember's (N, C, H, W) around the kernel, so ``Flatten`` sees the same order as in Keras.

Initialisers follow Keras: Glorot-uniform kernels, zero biases, orthogonal recurrent
kernels, LSTM forget-gate bias 1, U(-0.05, 0.05) embeddings. Weight *layouts* are ember's
(PyTorch's), e.g. a Dense kernel is (units, input_dim), not Keras's (input_dim, units).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from .. import dtypes as _dt
from .. import nn
from ..autograd.grad_mode import no_grad
from ..nn import functional as F
from ..nn import init as _init
from ..ops import cat, elu, stack, where
from ..tensor import Tensor

__all__ = [
    "Layer", "InputLayer", "Input", "Dense", "Activation", "Flatten", "Dropout", "Reshape",
    "Conv2D", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D",
    "GlobalMaxPooling2D", "GlobalAveragePooling1D", "Embedding", "SimpleRNN", "LSTM", "GRU",
    "Bidirectional", "BatchNormalization", "LayerNormalization", "Lambda",
    "get_activation", "get_initializer",
]

# ------------------------------------------------------------------------------ activations


def _selu(x: Tensor) -> Tensor:
    # SELU (Klambauer et al. 2017): scale * elu(x, alpha) with the self-normalising constants
    return elu(x, 1.6732632423543772) * 1.0507009873554805


def _linear(x: Tensor) -> Tensor:
    return x


_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "linear": _linear,
    "relu": F.relu,
    "sigmoid": F.sigmoid,
    "tanh": F.tanh,
    "softmax": lambda x: F.softmax(x, dim=-1),
    "log_softmax": lambda x: F.log_softmax(x, dim=-1),
    "gelu": F.gelu,
    "elu": F.elu,
    "selu": _selu,
    "leaky_relu": lambda x: F.leaky_relu(x, 0.2),  # Keras's default negative slope
    "softplus": F.softplus,
    "swish": F.silu,
    "silu": F.silu,
}


def get_activation(activation: str | Callable | None) -> tuple[str, Callable[[Tensor], Tensor]]:
    """``(name, fn)`` for a Keras activation name, a callable, or None (linear)."""
    if activation is None:
        return "linear", _linear
    if callable(activation):
        return getattr(activation, "__name__", "custom"), activation
    if isinstance(activation, str) and activation.lower() in _ACTIVATIONS:
        return activation.lower(), _ACTIVATIONS[activation.lower()]
    raise ValueError(f"unknown activation {activation!r}; known activations: "
                     f"{', '.join(sorted(_ACTIVATIONS))} (or pass a callable)")


# ------------------------------------------------------------------------------ initialisers


def _lecun(t: Tensor, dist: str) -> Tensor:
    fan_in, _ = _init._calculate_fan_in_and_fan_out(t)
    if dist == "uniform":
        a = math.sqrt(3.0 / fan_in)
        return _init.uniform_(t, -a, a)
    return _init.normal_(t, 0.0, math.sqrt(1.0 / fan_in))


_INITIALIZERS: dict[str, Callable[[Tensor], Tensor]] = {
    "glorot_uniform": _init.xavier_uniform_,
    "glorot_normal": _init.xavier_normal_,
    "he_uniform": lambda t: _init.kaiming_uniform_(t, nonlinearity="relu"),
    "he_normal": lambda t: _init.kaiming_normal_(t, nonlinearity="relu"),
    "lecun_uniform": lambda t: _lecun(t, "uniform"),
    "lecun_normal": lambda t: _lecun(t, "normal"),
    "orthogonal": _init.orthogonal_,
    "zeros": _init.zeros_,
    "ones": _init.ones_,
    "random_uniform": lambda t: _init.uniform_(t, -0.05, 0.05),
    "uniform": lambda t: _init.uniform_(t, -0.05, 0.05),
    "random_normal": lambda t: _init.normal_(t, 0.0, 0.05),
    "normal": lambda t: _init.normal_(t, 0.0, 0.05),
}


def get_initializer(initializer: str | Callable) -> Callable[[Tensor], Tensor]:
    """An in-place initialiser ``fn(tensor)`` for a Keras initialiser name or a callable."""
    if callable(initializer):
        return initializer
    if isinstance(initializer, str) and initializer.lower() in _INITIALIZERS:
        return _INITIALIZERS[initializer.lower()]
    raise ValueError(f"unknown initializer {initializer!r}; known initializers: "
                     f"{', '.join(sorted(_INITIALIZERS))} (or pass a callable)")


def _initialize(t: Tensor, initializer: str | Callable) -> None:
    with no_grad():
        get_initializer(initializer)(t)


def _snake(name: str) -> str:
    """``'MaxPooling2D'`` -> ``'max_pooling2d'`` (Keras's default layer names)."""
    s = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", name)  # Keras's to_snake_case
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def _shape_tuple(shape: Any, what: str) -> tuple:
    if isinstance(shape, int):
        return (shape,)
    try:
        out = tuple(shape)
    except TypeError:
        raise TypeError(f"{what} must be an int or a tuple of ints, got {shape!r}") from None
    if not all(d is None or (isinstance(d, int) and d > 0) for d in out):
        raise ValueError(f"{what} must hold positive ints (or None), got {shape!r}")
    return out


# ------------------------------------------------------------------------------ base class


class Layer(nn.Module):
    """Base class of the Keras-style layers: an ``ember.nn.Module`` built lazily.

    Subclasses implement ``build(input_shape)`` (create the inner ``ember.nn`` modules,
    ``input_shape`` including the batch dimension as ``None``) and ``call(x)``. The first
    ``__call__`` builds the layer from the actual input. ``output_shape`` holds the last
    output's shape with the batch dimension as ``None``.

    Args:
        name: the layer's name (default: its class name in snake case, made unique by the
            model, e.g. ``dense_1``).
        input_shape: the shape of one sample (without the batch dimension); lets a model
            be built (and summarised) before it sees data.
    """

    #: layers whose output passes through an activation name (Dense, Conv2D, Activation)
    activation_name: str = "linear"
    #: True for layers whose ``call(x, mask)`` uses the padding mask of
    #: ``Embedding(mask_zero=True)`` (recurrent layers, GlobalAveragePooling1D)
    accepts_mask: bool = False
    #: True for layers that work per time step, so a mask passes through them unchanged
    keeps_mask: bool = False

    def __init__(self, name: str | None = None, input_shape: Sequence[int] | None = None,
                 trainable: bool = True) -> None:
        super().__init__()
        self.name = name
        self.built = False
        self.input_shape: tuple | None = None
        self.output_shape: tuple | None = None
        self.trainable = trainable
        self._batch_input_shape = (None,) + _shape_tuple(input_shape, "input_shape") \
            if input_shape is not None else None

    def build(self, input_shape: tuple) -> None:
        """Create the inner modules for inputs of ``input_shape`` (batch dim first)."""

    def call(self, x: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} must define call()")

    def forward(self, x: Tensor) -> Tensor:
        return self.call(x)

    def _build_for(self, x: Tensor) -> None:
        shape = (None,) + tuple(x.shape[1:])
        self.build(shape)
        self.train(self.training)  # new inner modules take the layer's train/eval mode
        self.input_shape = shape
        self.built = True
        if x.device.type != "cpu":  # new parameters are made on the CPU
            self.to(x.device)
        if not self.trainable:
            self.requires_grad_(False)

    def __call__(self, x: Any, mask: Tensor | None = None) -> Any:
        if not isinstance(x, Tensor):
            from ..creation import tensor

            x = tensor(x)
        if not self.built:
            self._build_for(x)
        out = super().__call__(x, mask) if self.accepts_mask else super().__call__(x)
        if isinstance(out, Tensor):
            self.output_shape = (None,) + tuple(out.shape[1:])
        return out

    @property
    def weights(self) -> list[Tensor]:
        """The layer's state in order: parameters, then floating-point buffers (e.g.
        BatchNormalization's moving mean/variance, which Keras counts as non-trainable
        weights)."""
        params = list(self.parameters())
        buffers = [b for b in self.buffers() if b.dtype.is_floating_point]
        return params + buffers

    @property
    def trainable_weights(self) -> list[Tensor]:
        return [p for p in self.parameters() if p.requires_grad]

    @property
    def non_trainable_weights(self) -> list[Tensor]:
        ids = {id(p) for p in self.trainable_weights}
        return [w for w in self.weights if id(w) not in ids]

    def count_params(self) -> int:
        """The number of scalars in ``weights`` (trainable and not)."""
        if not self.built:
            raise ValueError(f"layer {self.name or type(self).__name__!r} is not built yet: "
                             "call it on data or give the model an input_shape")
        return sum(w.numel() for w in self.weights)

    def get_weights(self) -> list:
        """The weights as NumPy arrays (copies)."""
        return [w.detach().numpy().copy() for w in self.weights]

    def set_weights(self, weights: Sequence) -> None:
        """Copy NumPy arrays (in ``weights`` order) into the layer."""
        _assign(self.weights, weights, self.name or type(self).__name__)

    def extra_repr(self) -> str:
        return f"name={self.name!r}" if self.name else ""


def _assign(targets: list[Tensor], values: Sequence, what: str) -> None:
    import numpy as np

    from ..creation import tensor

    values = list(values)
    if len(values) != len(targets):
        raise ValueError(f"{what}: expected a list of {len(targets)} weight arrays, got "
                         f"{len(values)}")
    for i, (t, v) in enumerate(zip(targets, values)):
        arr = np.asarray(v)
        if tuple(arr.shape) != tuple(t.shape):
            raise ValueError(f"{what}: weight {i} has shape {tuple(t.shape)}, got an array of "
                             f"shape {arr.shape}")
    with no_grad():
        for t, v in zip(targets, values):
            t.copy_(tensor(np.asarray(v)).to(t.dtype).to(t.device))


# ------------------------------------------------------------------------------ core layers


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
        _initialize(self.linear.weight, self.kernel_initializer)
        if self.use_bias:
            _initialize(self.linear.bias, self.bias_initializer)

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


# ------------------------------------------------------------------------------ convolution


def _pair(value: int | Sequence[int], what: str) -> tuple[int, int]:
    if isinstance(value, int):
        return (value, value)
    value = tuple(value)
    if len(value) != 2:
        raise ValueError(f"{what} must be an int or a pair of ints, got {value!r}")
    return value  # type: ignore[return-value]


def _same_pads(size: int, k: int, s: int) -> tuple[int, int]:
    """TensorFlow's 'same' padding: output ceil(size / s); the odd pixel goes at the end."""
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def _check_padding(padding: str, layer: str) -> str:
    padding = padding.lower()
    if padding not in ("valid", "same"):
        raise ValueError(f"{layer}: padding must be 'valid' or 'same', got {padding!r}")
    return padding


def _check_format(data_format: str | None, layer: str) -> str:
    data_format = data_format or "channels_last"
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"{layer}: data_format must be 'channels_last' or 'channels_first', "
                         f"got {data_format!r}")
    return data_format


class _Spatial2D(Layer):
    """Shared NHWC <-> NCHW handling of the 2-d layers."""

    data_format = "channels_last"

    def _check4d(self, x: Tensor) -> None:
        if x.ndim != 4:
            layout = "(N, H, W, C)" if self.data_format == "channels_last" else "(N, C, H, W)"
            raise ValueError(f"{type(self).__name__}: expected a 4-d input {layout}, got shape "
                             f"{x.shape}")

    def _to_nchw(self, x: Tensor) -> Tensor:
        self._check4d(x)
        return x.permute(0, 3, 1, 2) if self.data_format == "channels_last" else x

    def _from_nchw(self, x: Tensor) -> Tensor:
        return x.permute(0, 2, 3, 1) if self.data_format == "channels_last" else x

    def _channels(self, input_shape: tuple) -> int:
        return input_shape[-1] if self.data_format == "channels_last" else input_shape[1]


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
        _initialize(self.conv.weight, self.kernel_initializer)
        if self.use_bias:
            _initialize(self.conv.bias, self.bias_initializer)

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
            from ..creation import ones

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


# ------------------------------------------------------------------------------ normalisation


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


# ------------------------------------------------------------------------------ sequences


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
        _initialize(self.embedding.weight, embeddings_initializer)
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


_RNN_MODES = {"SimpleRNN": "RNN_TANH", "LSTM": "LSTM", "GRU": "GRU"}


class _Recurrent(Layer):
    """SimpleRNN / LSTM / GRU over batch-first (N, T, F) input."""

    accepts_mask = True

    def __init__(self, units: int, activation: str = "tanh", use_bias: bool = True,
                 return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0,
                 kernel_initializer: str | Callable = "glorot_uniform",
                 recurrent_initializer: str | Callable = "orthogonal",
                 bias_initializer: str | Callable = "zeros", unit_forget_bias: bool = True,
                 input_shape: Sequence[int] | None = None, name: str | None = None,
                 trainable: bool = True) -> None:
        layer = type(self).__name__
        if not isinstance(units, int) or units <= 0:
            raise ValueError(f"{layer}: units must be a positive int, got {units!r}")
        if return_state or go_backwards:
            raise ValueError(f"{layer}: return_state and go_backwards are not supported")
        if recurrent_dropout:
            raise ValueError(f"{layer}: recurrent_dropout is not supported (use dropout, "
                             "applied to the inputs)")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"{layer}: dropout must be in [0, 1), got {dropout}")
        if layer == "SimpleRNN" and activation not in ("tanh", "relu"):
            raise ValueError(f"SimpleRNN: activation must be 'tanh' or 'relu', got "
                             f"{activation!r}")
        super().__init__(name=name, input_shape=input_shape, trainable=trainable)
        self.units, self.use_bias, self.activation_name = units, use_bias, activation
        self.return_sequences, self.dropout = return_sequences, dropout
        self.kernel_initializer = kernel_initializer
        self.recurrent_initializer = recurrent_initializer
        self.bias_initializer, self.unit_forget_bias = bias_initializer, unit_forget_bias
        self._bidirectional = False

    def _make_rnn(self, input_size: int, bidirectional: bool) -> nn.RNNBase:
        layer = type(self).__name__
        kw = dict(bias=self.use_bias, batch_first=True, bidirectional=bidirectional)
        if layer == "SimpleRNN":
            rnn = nn.RNN(input_size, self.units, nonlinearity=self.activation_name, **kw)
        else:
            rnn = getattr(nn, layer)(input_size, self.units, **kw)
        for name, p in rnn.named_parameters():
            if name.startswith("weight_ih"):
                _initialize(p, self.kernel_initializer)
            elif name.startswith("weight_hh"):
                _initialize(p, self.recurrent_initializer)
            else:
                _initialize(p, self.bias_initializer)
                if layer == "LSTM" and self.unit_forget_bias and name.startswith("bias_ih"):
                    with no_grad():  # gates i, f, g, o: the forget gate starts open
                        p[self.units:2 * self.units] = 1.0
        return rnn

    def build(self, input_shape: tuple) -> None:
        if len(input_shape) != 3:
            raise ValueError(f"{type(self).__name__}: expected 3-d input (batch, timesteps, "
                             f"features), got shape {input_shape}")
        self.rnn = self._make_rnn(input_shape[-1], self._bidirectional)

    def call(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        if x.ndim != 3:
            raise ValueError(f"{type(self).__name__}: expected 3-d input (batch, timesteps, "
                             f"features), got shape {x.shape}")
        if self.dropout:
            x = F.dropout(x, self.dropout, self.training)
        if mask is None:
            out, state = self.rnn(x)
            h = state[0] if isinstance(state, tuple) else state  # (dirs, N, H)
        else:
            out, h = _masked_run(self.rnn, x, mask)
        if self.return_sequences:
            return out
        # the final state of each direction (the backward one has read the whole sequence
        # when it reaches t = 0), concatenated like Keras's Bidirectional(merge_mode='concat')
        return h[0] if h.shape[0] == 1 else cat([h[0], h[1]], -1)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        return self.call(x, mask)


def _masked_run(rnn: nn.RNNBase, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """Run a one-layer batch-first ``rnn`` over (N, T, F) ``x`` where ``mask`` (N, T) is
    False at padding: there the state is carried over unchanged and the output is zero
    (Keras's masking semantics). Returns (outputs (N, T, dirs*H), final h (dirs, N, H))."""
    from ..creation import zeros

    n, steps = x.shape[0], x.shape[1]
    dirs = 2 if rnn.bidirectional else 1
    keep = mask.to(x.dtype).unsqueeze(-1)  # (N, T, 1)
    outs, finals = [], []
    for d in range(dirs):
        w_ih, w_hh, b_ih, b_hh = rnn._weights(0, d)
        x_proj = F.linear(x, w_ih, b_ih)  # all steps at once: (N, T, G*H)
        h0 = zeros(n, rnn.hidden_size, dtype=x.dtype, device=x.device)
        state = (h0, h0) if rnn.mode == "LSTM" else (h0,)
        hs: list = [None] * steps
        for t in (range(steps - 1, -1, -1) if d else range(steps)):
            new = rnn._step(x_proj[:, t], state, w_hh, b_hh)
            m = keep[:, t]
            state = tuple(where(m > 0, a, b) for a, b in zip(new, state))
            hs[t] = state[0] * m
        outs.append(stack(hs, 1))
        finals.append(state[0])
    out = outs[0] if dirs == 1 else cat(outs, -1)
    return out, stack(finals, 0)


class SimpleRNN(_Recurrent):
    """Fully connected recurrent layer: h_t = activation(W x_t + U h_{t-1} + b). Returns
    the last output (N, units), or all of them (N, T, units) with ``return_sequences``."""


class LSTM(_Recurrent):
    """Long short-term memory over (N, T, F). Returns the last output (N, units), or all of
    them (N, T, units) with ``return_sequences``. ``dropout`` drops input features."""


class GRU(_Recurrent):
    """Gated recurrent unit over (N, T, F) (the ``reset_after`` variant, Keras's default).
    Returns the last output (N, units), or all (N, T, units) with ``return_sequences``."""


class Bidirectional(Layer):
    """Runs a recurrent layer forwards and backwards and concatenates the results
    (``merge_mode='concat'``, the only mode supported): ``units`` becomes ``2 * units``."""

    accepts_mask = True

    def __init__(self, layer: _Recurrent, merge_mode: str = "concat",
                 input_shape: Sequence[int] | None = None, name: str | None = None) -> None:
        if not isinstance(layer, _Recurrent):
            raise TypeError(f"Bidirectional: expected a SimpleRNN, LSTM or GRU layer, got "
                            f"{type(layer).__name__}")
        if merge_mode != "concat":
            raise ValueError(f"Bidirectional: only merge_mode='concat' is supported, got "
                             f"{merge_mode!r}")
        if layer.built:
            raise ValueError("Bidirectional: wrap a layer that has not been built yet")
        super().__init__(name=name, input_shape=input_shape or (
            layer._batch_input_shape[1:] if layer._batch_input_shape else None))
        layer._bidirectional = True
        self.layer = layer

    def call(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        return self.layer(x, mask)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        return self.call(x, mask)
