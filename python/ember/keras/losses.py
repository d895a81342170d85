"""Keras-style losses: ``y_true`` first, predictions second, probabilities by default.

Keras's cross-entropies take *probabilities* (``from_logits=False``): the output of a
softmax or sigmoid layer. Taking the log of a probability that rounded to 0 gives -inf, so
Keras clips probabilities to [1e-7, 1 - 1e-7] and these losses do too. Better still,
``Sequential`` notices a final softmax/sigmoid layer and hands these losses its
*pre-activation* (logits) with ``from_logits=True``, computed through log-softmax /
softplus exactly, as Keras itself does. Every loss reduces to the mean over the batch
(Keras's ``'sum_over_batch_size'``).

Each loss also checks the targets once before training (``prepare_targets``): class
labels within the output size, one-hot widths, 0/1 targets, and (N,) versus (N, 1) shapes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np

from ..creation import tensor
from ..nn import functional as F
from ..ops import log, log_softmax, where
from ..tensor import Tensor

__all__ = [
    "Loss", "SparseCategoricalCrossentropy", "CategoricalCrossentropy", "BinaryCrossentropy",
    "MeanSquaredError", "MeanAbsoluteError", "Huber", "LossFunctionWrapper",
    "sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy",
    "mean_squared_error", "mean_absolute_error", "huber", "get",
]

EPSILON = 1e-7  # Keras's backend epsilon: probabilities are clipped to [eps, 1 - eps]


def _as_tensor(x: Any, like: Tensor | None = None) -> Tensor:
    t = x if isinstance(x, Tensor) else tensor(np.asarray(x))
    if like is not None and t.device != like.device:
        t = t.to(like.device)
    return t


# ------------------------------------------------------------------------------ functions
# Each returns the per-sample loss (the class/feature axis, the last one, reduced).


def sparse_categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False
                                    ) -> Tensor:
    """-log p[label] for integer labels (N, ...) and class scores (N, ..., C)."""
    y_pred = _as_tensor(y_pred)
    labels = _as_tensor(y_true, y_pred).long()
    if from_logits:
        logp = log_softmax(y_pred, dim=-1)
    else:
        p = y_pred / y_pred.sum(-1, keepdim=True)
        logp = log(p.clamp(EPSILON, 1.0 - EPSILON))
    return -logp.gather(-1, labels.unsqueeze(-1)).squeeze(-1)


def categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False) -> Tensor:
    """-sum_c t_c log p_c for one-hot (or soft) targets (N, ..., C)."""
    y_pred = _as_tensor(y_pred)
    target = _as_tensor(y_true, y_pred).to(y_pred.dtype)
    if from_logits:
        logp = log_softmax(y_pred, dim=-1)
    else:
        p = y_pred / y_pred.sum(-1, keepdim=True)
        logp = log(p.clamp(EPSILON, 1.0 - EPSILON))
    return -(target * logp).sum(-1)


def binary_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False) -> Tensor:
    """-(t log p + (1 - t) log(1 - p)), averaged over the last axis."""
    y_pred = _as_tensor(y_pred)
    target = _as_tensor(y_true, y_pred).to(y_pred.dtype)
    if from_logits:
        # (1 - t) x + softplus(-x): exact for any logit
        loss = (1.0 - target) * y_pred + F.softplus(-y_pred)
    else:
        p = y_pred.clamp(EPSILON, 1.0 - EPSILON)
        loss = -(target * log(p) + (1.0 - target) * log(1.0 - p))
    return loss.mean(-1)


def mean_squared_error(y_true: Any, y_pred: Any) -> Tensor:
    """(y - y_pred)^2 averaged over the last axis."""
    y_pred = _as_tensor(y_pred)
    d = y_pred - _as_tensor(y_true, y_pred).to(y_pred.dtype)
    return (d * d).mean(-1)


def mean_absolute_error(y_true: Any, y_pred: Any) -> Tensor:
    """|y - y_pred| averaged over the last axis."""
    y_pred = _as_tensor(y_pred)
    return (y_pred - _as_tensor(y_true, y_pred).to(y_pred.dtype)).abs().mean(-1)


def huber(y_true: Any, y_pred: Any, delta: float = 1.0) -> Tensor:
    """0.5 d^2 where |d| <= delta, else delta (|d| - delta / 2); mean over the last axis."""
    y_pred = _as_tensor(y_pred)
    a = (y_pred - _as_tensor(y_true, y_pred).to(y_pred.dtype)).abs()
    return where(a <= delta, a * a * 0.5, (a - 0.5 * delta) * delta).mean(-1)


# ------------------------------------------------------------------------------ classes


class Loss:
    """Base class: ``loss(y_true, y_pred)`` is the mean over the batch of ``call``.

    Attributes used by ``Sequential``:
        logits_activation: 'softmax' or 'sigmoid' when this loss can take the logits of a
            final layer with that activation instead of its probabilities.
        accuracy: the accuracy metric that ``metrics=['accuracy']`` means with this loss.
    """

    logits_activation: str | None = None
    accuracy: str | None = None

    def __init__(self, name: str | None = None) -> None:
        self.name = name or _snake(type(self).__name__)

    def call(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        """Per-sample losses."""
        raise NotImplementedError

    def __call__(self, y_true: Any, y_pred: Any) -> Tensor:
        y_pred = _as_tensor(y_pred)
        y_true = _as_tensor(y_true, y_pred)
        if y_true.numel() == y_pred.numel() and y_true.shape != y_pred.shape \
                and not isinstance(self, SparseCategoricalCrossentropy):
            y_true = y_true.reshape(y_pred.shape)  # (N,) against (N, 1)
        return self.call(y_true, y_pred).mean()

    def from_logits_loss(self, y_true: Any, logits: Tensor) -> Tensor:
        """The same loss computed from the final layer's pre-activation (exact)."""
        raise NotImplementedError(f"{type(self).__name__} does not take logits")

    def prepare_targets(self, y: np.ndarray, output_shape: tuple) -> np.ndarray:
        """Check ``y`` against the model's per-sample ``output_shape`` (no batch dim) and
        convert it to the dtype and shape this loss expects. Raises ValueError."""
        y = np.asarray(y, dtype=np.float32)
        if y.shape[1:] != output_shape and int(np.prod(y.shape[1:])) == \
                int(np.prod(output_shape)):
            y = y.reshape((len(y),) + tuple(output_shape))
        if y.shape[1:] != tuple(output_shape):
            raise ValueError(f"{self.name}: targets of shape {y.shape} do not match the "
                             f"model's output shape {(None,) + tuple(output_shape)}")
        return y

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def _snake(name: str) -> str:
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


class SparseCategoricalCrossentropy(Loss):
    """Cross-entropy of integer class labels (N,) against class probabilities (N, C) (or
    logits with ``from_logits=True``)."""

    logits_activation = "softmax"
    accuracy = "sparse_categorical_accuracy"

    def __init__(self, from_logits: bool = False,
                 name: str = "sparse_categorical_crossentropy") -> None:
        super().__init__(name)
        self.from_logits = from_logits

    def call(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        return sparse_categorical_crossentropy(y_true, y_pred, self.from_logits)

    def from_logits_loss(self, y_true: Any, logits: Tensor) -> Tensor:
        return sparse_categorical_crossentropy(y_true, logits, True).mean()

    def prepare_targets(self, y: np.ndarray, output_shape: tuple) -> np.ndarray:
        y = np.asarray(y)
        if y.ndim == len(output_shape) + 1 and y.shape[-1] == 1:
            y = y[..., 0]  # (N, 1) labels, as Keras accepts
        if y.shape[1:] != tuple(output_shape[:-1]):
            raise ValueError(f"{self.name}: expected integer class labels of shape "
                             f"{(len(y),) + tuple(output_shape[:-1])} for outputs of shape "
                             f"{(None,) + tuple(output_shape)}, got shape {y.shape}"
                             + (" (one-hot targets need loss='categorical_crossentropy')"
                                if y.shape[1:] == tuple(output_shape) else ""))
        if y.size and not np.all(np.equal(np.mod(y, 1), 0)):
            raise ValueError(f"{self.name}: labels must be integers, got e.g. "
                             f"{y.reshape(-1)[np.mod(y.reshape(-1), 1) != 0][0]}")
        n_classes = output_shape[-1]
        if y.size and (y.min() < 0 or y.max() >= n_classes):
            bad = y.min() if y.min() < 0 else y.max()
            raise ValueError(f"{self.name}: label {int(bad)} is out of range for the model's "
                             f"{n_classes} outputs (labels must be in 0..{n_classes - 1}); "
                             "make the last layer as wide as the number of classes")
        return y.astype(np.int64)


class CategoricalCrossentropy(Loss):
    """Cross-entropy of one-hot (or soft) targets (N, C) against probabilities (N, C)."""

    logits_activation = "softmax"
    accuracy = "categorical_accuracy"

    def __init__(self, from_logits: bool = False, name: str = "categorical_crossentropy"
                 ) -> None:
        super().__init__(name)
        self.from_logits = from_logits

    def call(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        return categorical_crossentropy(y_true, y_pred, self.from_logits)

    def from_logits_loss(self, y_true: Any, logits: Tensor) -> Tensor:
        return categorical_crossentropy(y_true, logits, True).mean()

    def prepare_targets(self, y: np.ndarray, output_shape: tuple) -> np.ndarray:
        y = np.asarray(y, dtype=np.float32)
        if y.shape[1:] != tuple(output_shape):
            hint = (" (integer labels need loss='sparse_categorical_crossentropy', or "
                    "one-hot encode them with ember.keras.utils.to_categorical)"
                    if y.shape[1:] in ((), (1,)) else "")
            raise ValueError(f"{self.name}: expected one-hot targets of shape "
                             f"{(len(y),) + tuple(output_shape)}, got shape {y.shape}{hint}")
        return y


class BinaryCrossentropy(Loss):
    """Binary cross-entropy of 0/1 targets against probabilities in [0, 1]."""

    logits_activation = "sigmoid"
    accuracy = "binary_accuracy"

    def __init__(self, from_logits: bool = False, name: str = "binary_crossentropy") -> None:
        super().__init__(name)
        self.from_logits = from_logits

    def call(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        return binary_crossentropy(y_true, y_pred, self.from_logits)

    def from_logits_loss(self, y_true: Any, logits: Tensor) -> Tensor:
        return binary_crossentropy(y_true, logits, True).mean()

    def prepare_targets(self, y: np.ndarray, output_shape: tuple) -> np.ndarray:
        y = super().prepare_targets(y, output_shape)
        if y.size and (y.min() < 0 or y.max() > 1):
            raise ValueError(f"{self.name}: targets must be in [0, 1], got values in "
                             f"[{y.min():g}, {y.max():g}]")
        return y


class MeanSquaredError(Loss):
    """Mean of (y - y_pred)^2."""

    def __init__(self, name: str = "mean_squared_error") -> None:
        super().__init__(name)

    def call(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        return mean_squared_error(y_true, y_pred)


class MeanAbsoluteError(Loss):
    """Mean of |y - y_pred|."""

    def __init__(self, name: str = "mean_absolute_error") -> None:
        super().__init__(name)

    def call(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        return mean_absolute_error(y_true, y_pred)


class Huber(Loss):
    """Squared error for |d| <= delta, linear beyond (robust regression)."""

    def __init__(self, delta: float = 1.0, name: str = "huber_loss") -> None:
        super().__init__(name)
        self.delta = delta

    def call(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        return huber(y_true, y_pred, self.delta)


class LossFunctionWrapper(Loss):
    """A loss from a function ``fn(y_true, y_pred)`` returning per-sample losses or a
    scalar (it gets ember tensors and must use differentiable ops)."""

    def __init__(self, fn: Callable, name: str | None = None) -> None:
        super().__init__(name or getattr(fn, "__name__", "loss"))
        self.fn = fn

    def call(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        out = self.fn(y_true, y_pred)
        if not isinstance(out, Tensor):
            raise TypeError(f"loss function {self.name!r} must return an ember Tensor, got "
                            f"{type(out).__name__}")
        return out

    def prepare_targets(self, y: np.ndarray, output_shape: tuple) -> np.ndarray:
        y = np.asarray(y)
        return y if np.issubdtype(y.dtype, np.integer) else y.astype(np.float32)


_LOSSES: dict[str, Callable[[], Loss]] = {
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
    "huber": Huber,
    "huber_loss": Huber,
}


def get(identifier: str | Loss | Callable) -> Loss:
    """A ``Loss`` from a Keras name (``'mse'``, ``'sparse_categorical_crossentropy'``, ...),
    a ``Loss`` instance, or a function ``fn(y_true, y_pred)``."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in _LOSSES:
            loss = _LOSSES[key]()
            loss.name = identifier
            return loss
        raise ValueError(f"unknown loss {identifier!r}; known losses: "
                         f"{', '.join(sorted(_LOSSES))} (or pass a Loss or a function "
                         "fn(y_true, y_pred))")
    if callable(identifier):
        for name, cls in _LOSSES.items():  # the module-level functions by their names
            if identifier is globals().get(name):
                return cls()
        return LossFunctionWrapper(identifier)
    raise TypeError(f"loss must be a name, a Loss or a function, got "
                    f"{type(identifier).__name__}")
