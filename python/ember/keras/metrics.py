"""Keras-style metrics, computed in NumPy on detached predictions.

A metric function returns one value per sample; a ``Metric`` object accumulates a
sample-weighted mean over the batches of an epoch (``update_state`` / ``result`` /
``reset_state``), which is what ``fit`` logs. ``'accuracy'`` means the accuracy that fits
the loss, as in Keras: sparse-categorical for integer labels, categorical for one-hot
targets, binary (threshold 0.5) for a single sigmoid output or binary cross-entropy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "Metric", "MeanMetricWrapper", "Accuracy", "SparseCategoricalAccuracy",
    "CategoricalAccuracy", "BinaryAccuracy", "MeanSquaredError", "MeanAbsoluteError",
    "sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy", "accuracy",
    "mean_squared_error", "mean_absolute_error", "top_k_categorical_accuracy",
    "sparse_top_k_categorical_accuracy", "get",
]


def _np(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach()
    return np.asarray(x)


def _per_sample(values: np.ndarray) -> np.ndarray:
    """Average everything but the batch axis, so each sample weighs the same."""
    values = values.astype(np.float64)
    return values.reshape(len(values), -1).mean(1) if values.ndim > 1 else values


# ------------------------------------------------------------------------------ functions


def sparse_categorical_accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """1.0 where argmax(y_pred) equals the integer label, else 0.0."""
    y_true, y_pred = _np(y_true), _np(y_pred)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    return _per_sample(np.argmax(y_pred, -1) == y_true.astype(np.int64))


def categorical_accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """1.0 where argmax(y_pred) equals argmax of the one-hot target."""
    y_true, y_pred = _np(y_true), _np(y_pred)
    return _per_sample(np.argmax(y_pred, -1) == np.argmax(y_true, -1))


def binary_accuracy(y_true: Any, y_pred: Any, threshold: float = 0.5) -> np.ndarray:
    """Fraction of outputs where (y_pred > threshold) equals the 0/1 target."""
    y_true, y_pred = _np(y_true), _np(y_pred)
    y_true = y_true.reshape(y_pred.shape) if y_true.size == y_pred.size else y_true
    return _per_sample((y_pred > threshold) == (y_true > 0.5))


def accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """Accuracy by shapes: sparse labels (one dimension fewer than the predictions),
    binary for a single output, categorical otherwise."""
    y_true, y_pred = _np(y_true), _np(y_pred)
    if y_true.ndim == y_pred.ndim - 1 or (y_pred.shape[-1] > 1 and y_true.shape[-1] == 1):
        return sparse_categorical_accuracy(y_true, y_pred)
    if y_pred.shape[-1] == 1:
        return binary_accuracy(y_true, y_pred)
    return categorical_accuracy(y_true, y_pred)


def top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> np.ndarray:
    """1.0 where the one-hot target's class is among the k highest predictions."""
    return sparse_top_k_categorical_accuracy(np.argmax(_np(y_true), -1), y_pred, k)


def sparse_top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> np.ndarray:
    """1.0 where the integer label is among the k highest predictions."""
    y_true, y_pred = _np(y_true).astype(np.int64), _np(y_pred)
    if y_true.ndim == y_pred.ndim:
        y_true = y_true[..., 0]
    top = np.argsort(-y_pred, -1)[..., :k]
    return _per_sample((top == y_true[..., None]).any(-1))


def mean_squared_error(y_true: Any, y_pred: Any) -> np.ndarray:
    """Squared error per sample."""
    y_true, y_pred = _np(y_true), _np(y_pred)
    y_true = y_true.reshape(y_pred.shape) if y_true.size == y_pred.size else y_true
    return _per_sample((y_pred.astype(np.float64) - y_true) ** 2)


def mean_absolute_error(y_true: Any, y_pred: Any) -> np.ndarray:
    """Absolute error per sample."""
    y_true, y_pred = _np(y_true), _np(y_pred)
    y_true = y_true.reshape(y_pred.shape) if y_true.size == y_pred.size else y_true
    return _per_sample(np.abs(y_pred.astype(np.float64) - y_true))


# ------------------------------------------------------------------------------ objects


class Metric:
    """A running value over batches: ``update_state(y_true, y_pred)``, ``result()``,
    ``reset_state()``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def update_state(self, y_true: Any, y_pred: Any) -> None:
        raise NotImplementedError

    def result(self) -> float:
        raise NotImplementedError

    def reset_state(self) -> None:
        raise NotImplementedError

    def __call__(self, y_true: Any, y_pred: Any) -> float:
        """Update with one batch and return the running result."""
        self.update_state(y_true, y_pred)
        return self.result()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class MeanMetricWrapper(Metric):
    """The sample-weighted running mean of a per-sample function ``fn(y_true, y_pred)``."""

    def __init__(self, fn: Callable[..., Any], name: str | None = None, **kwargs: Any) -> None:
        super().__init__(name or getattr(fn, "__name__", "metric"))
        self.fn, self.kwargs = fn, kwargs
        self.reset_state()

    def update_state(self, y_true: Any, y_pred: Any) -> None:
        values = np.asarray(self.fn(y_true, y_pred, **self.kwargs), dtype=np.float64)
        self._total += float(values.sum())
        self._count += values.size

    def result(self) -> float:
        return self._total / self._count if self._count else 0.0

    def reset_state(self) -> None:
        self._total, self._count = 0.0, 0


class Accuracy(MeanMetricWrapper):
    """Accuracy chosen by shapes (see ``accuracy``)."""

    def __init__(self, name: str = "accuracy") -> None:
        super().__init__(accuracy, name)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """Accuracy of integer labels against class scores."""

    def __init__(self, name: str = "sparse_categorical_accuracy") -> None:
        super().__init__(sparse_categorical_accuracy, name)


class CategoricalAccuracy(MeanMetricWrapper):
    """Accuracy of one-hot targets against class scores."""

    def __init__(self, name: str = "categorical_accuracy") -> None:
        super().__init__(categorical_accuracy, name)


class BinaryAccuracy(MeanMetricWrapper):
    """Accuracy of 0/1 targets against probabilities (threshold 0.5)."""

    def __init__(self, name: str = "binary_accuracy", threshold: float = 0.5) -> None:
        super().__init__(binary_accuracy, name, threshold=threshold)


class MeanSquaredError(MeanMetricWrapper):
    """Running mean squared error."""

    def __init__(self, name: str = "mean_squared_error") -> None:
        super().__init__(mean_squared_error, name)


class MeanAbsoluteError(MeanMetricWrapper):
    """Running mean absolute error."""

    def __init__(self, name: str = "mean_absolute_error") -> None:
        super().__init__(mean_absolute_error, name)


_METRICS: dict[str, Callable[..., Any]] = {
    "accuracy": accuracy,
    "acc": accuracy,
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "categorical_accuracy": categorical_accuracy,
    "binary_accuracy": binary_accuracy,
    "top_k_categorical_accuracy": top_k_categorical_accuracy,
    "sparse_top_k_categorical_accuracy": sparse_top_k_categorical_accuracy,
    "mse": mean_squared_error,
    "mean_squared_error": mean_squared_error,
    "mae": mean_absolute_error,
    "mean_absolute_error": mean_absolute_error,
}


def get(identifier: str | Metric | Callable, loss: Any = None) -> Metric:
    """A fresh ``Metric`` from a Keras name, a ``Metric`` or a per-sample function.
    ``'accuracy'``/``'acc'`` become the accuracy that fits ``loss`` (logged under the name
    given)."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in _METRICS:
            raise ValueError(f"unknown metric {identifier!r}; known metrics: "
                             f"{', '.join(sorted(_METRICS))} (or pass a Metric or a function "
                             "fn(y_true, y_pred))")
        fn = _METRICS[key]
        if fn is accuracy and getattr(loss, "accuracy", None):
            fn = _METRICS[loss.accuracy]
        return MeanMetricWrapper(fn, identifier)
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise TypeError(f"a metric must be a name, a Metric or a function, got "
                    f"{type(identifier).__name__}")
