"""Keras initialiser names -> in-place initialisers (``'glorot_uniform'``, ``'orthogonal'``...).

``get_initializer`` resolves what a layer's ``*_initializer=`` argument may be: a Keras name
or a callable ``fn(tensor)``; ``initialize`` applies one to a parameter (outside autograd).
The functions are ``ember.nn.init``'s; only Keras's names and defaults live here.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ..autograd.grad_mode import no_grad
from ..nn import init as _init
from ..tensor import Tensor

__all__ = ["get_initializer", "initialize"]


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


def initialize(t: Tensor, initializer: str | Callable) -> None:
    """Fill ``t`` in place with ``initializer`` (a name or a callable), without recording it."""
    with no_grad():
        get_initializer(initializer)(t)
