"""Keras activation names -> functions (``'relu'``, ``'softmax'``, ``'selu'``, ...).

``get_activation`` resolves what a layer's ``activation=`` argument may be: a Keras name, a
callable, or None (linear). Dense, Conv2D and Activation use it.
"""

from __future__ import annotations

from collections.abc import Callable

from ..nn import functional as F
from ..ops import elu
from ..tensor import Tensor

__all__ = ["get_activation"]


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
