"""``Layer``: the base class of the Keras-style layers, an ``ember.nn.Module`` built lazily.

Keras layers know their output size but not their input size: ``Dense(64)`` learns the
number of input features from the first batch it sees. Here a ``Layer`` creates its inner
``ember.nn`` modules in ``build(input_shape)`` on the first call (or right away when
``input_shape=`` is given). After that it is plain ember: ``parameters()``,
``state_dict()``, autograd, optimizers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from ... import nn
from ...autograd.grad_mode import no_grad
from ...creation import tensor
from ...tensor import Tensor

__all__ = ["Layer"]


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
