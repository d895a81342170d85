"""Evaluation metrics with scikit-learn's semantics (same names, same numbers).

Inputs may be ember tensors (any device, with or without grad), NumPy arrays or lists.
Classification metrics take labels; ``accuracy``/``confusion_matrix``-style functions
also take scores of shape (N, C), reduced with argmax. Results are Python floats (or
NumPy arrays for per-class values).

The precision/recall/F arithmetic, per class c::

    precision = tp / (tp + fp)      recall = tp / (tp + fn)
    F_beta    = (1 + b^2) tp / ((1 + b^2) tp + b^2 fn + fp)

and a 0/0 becomes ``zero_division`` (0 by default; 1 or ``nan`` on request).
``average='micro'`` pools the counts over classes first, 'macro' is the plain mean of the
per-class values, 'weighted' their mean weighted by each class's support.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from .tensor import Tensor

__all__ = ["accuracy", "classification_report", "confusion_matrix", "f1_score",
           "fbeta_score", "mean_absolute_error", "mean_squared_error", "precision",
           "precision_recall_fscore_support", "r2_score", "recall",
           "root_mean_squared_error", "top_k_accuracy"]

_AVERAGES = ("binary", "micro", "macro", "weighted", None)


# ----------------------------------------------------------------------------- inputs
def _np(x: Any, fn: str, name: str) -> np.ndarray:
    """Tensor / array / list -> numpy array (a detached CPU copy for tensors)."""
    if isinstance(x, Tensor):
        return np.asarray(x.detach().cpu().numpy())
    arr = np.asarray(x)
    if arr.dtype == object:
        raise TypeError(f"{fn}: {name} must be numbers or labels of one type, got a ragged or "
                        "mixed sequence")
    return arr


def _as_labels(y: np.ndarray, fn: str, name: str) -> np.ndarray:
    """Labels (N,) as they are; scores/one-hot (N, C) -> argmax; (N, 1) -> squeezed."""
    if y.ndim == 2:
        return y[:, 0] if y.shape[1] == 1 else y.argmax(axis=1)
    if y.ndim != 1:
        raise ValueError(f"{fn}: {name} must be labels (N,) or scores (N, C), got shape "
                         f"{y.shape}")
    return y


def _pair(y_true: Any, y_pred: Any, fn: str) -> tuple[np.ndarray, np.ndarray]:
    """Both label vectors, checked for equal, non-zero length."""
    t = _as_labels(_np(y_true, fn, "y_true"), fn, "y_true")
    p = _as_labels(_np(y_pred, fn, "y_pred"), fn, "y_pred")
    if len(t) != len(p):
        raise ValueError(f"{fn}: y_true has {len(t)} samples but y_pred has {len(p)}")
    if len(t) == 0:
        raise ValueError(f"{fn}: got empty inputs")
    return t, p


def _union_labels(t: np.ndarray, p: np.ndarray, fn: str) -> np.ndarray:
    try:
        return np.unique(np.concatenate([t, p]))
    except TypeError:
        raise TypeError(f"{fn}: y_true and y_pred mix label types ({t.dtype} and {p.dtype})"
                        ) from None


# ----------------------------------------------------------------------------- accuracy
def accuracy(y_true: Any, y_pred: Any, threshold: float | None = None) -> float:
    """The fraction of samples whose predicted label equals the true one.

    ``y_pred`` may be labels (N,) or scores (N, C) (argmax is taken); one-hot ``y_true``
    (N, C) works too. With ``threshold``, ``y_pred`` holds binary scores/probabilities and
    the predicted label is ``y_pred > threshold``.
    """
    if threshold is not None:
        scores = _np(y_pred, "accuracy", "y_pred")
        if scores.ndim == 2 and scores.shape[1] == 1:
            scores = scores[:, 0]
        if scores.ndim != 1:
            raise ValueError(f"accuracy: with a threshold, y_pred must be binary scores (N,) "
                             f"or (N, 1), got shape {scores.shape}")
        y_pred = (scores > threshold).astype(np.int64)
    t, p = _pair(y_true, y_pred, "accuracy")
    return float(np.mean(t == p))


def top_k_accuracy(y_true: Any, scores: Any, k: int = 5) -> float:
    """The fraction of samples whose true class (an index 0..C-1) is among the ``k``
    highest scores (ties: the higher class index ranks first, as in scikit-learn)."""
    t = _np(y_true, "top_k_accuracy", "y_true").reshape(-1)
    s = _np(scores, "top_k_accuracy", "scores")
    if s.ndim != 2:
        raise ValueError(f"top_k_accuracy: scores must have shape (N, C), got {s.shape}")
    if len(t) != len(s):
        raise ValueError(f"top_k_accuracy: y_true has {len(t)} samples but scores has "
                         f"{len(s)}")
    if len(t) == 0:
        raise ValueError("top_k_accuracy: got empty inputs")
    if k < 1:
        raise ValueError(f"top_k_accuracy: k must be >= 1, got {k}")
    if t.min() < 0 or t.max() >= s.shape[1] or not np.all(t == np.round(t)):
        raise ValueError(f"top_k_accuracy: y_true must hold class indices in [0, "
                         f"{s.shape[1]}), got values in [{t.min()}, {t.max()}]")
    top = np.argsort(s, axis=1, kind="mergesort")[:, ::-1][:, :k]
    return float(np.mean((top == t.astype(np.int64)[:, None]).any(axis=1)))


# ----------------------------------------------------------------------------- confusion
def _positions(y: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Index of each y in ``labels`` (any order), or -1 where it is not a label."""
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    pos = np.clip(np.searchsorted(sorted_labels, y), 0, len(labels) - 1)
    return np.where(sorted_labels[pos] == y, order[pos], -1)


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int | None = None,
                     labels: Sequence | None = None,
                     normalize: str | None = None) -> np.ndarray:
    """C[i, j] = how many samples of true class i were predicted as class j.

    Classes are ``0..num_classes-1`` when ``num_classes`` is given (a label outside that
    range is an error), else ``labels``, else the sorted labels seen in either input
    (scikit-learn). ``normalize``: 'true' (rows sum to 1), 'pred' (columns) or 'all'.
    """
    t, p = _pair(y_true, y_pred, "confusion_matrix")
    if num_classes is not None:
        for name, y in (("y_true", t), ("y_pred", p)):
            bad = y[(y < 0) | (y >= num_classes) | (y != np.round(y))]
            if len(bad):
                raise ValueError(f"confusion_matrix: {name} has label {bad[0].item()!r}, outside "
                                 f"0..{num_classes - 1} (num_classes={num_classes})")
        classes = np.arange(num_classes)
    elif labels is not None:
        classes = np.asarray(labels)
        if len(classes) == 0:
            raise ValueError("confusion_matrix: labels is empty")
    else:
        classes = _union_labels(t, p, "confusion_matrix")
    n = len(classes)
    ti, pi = _positions(t, classes), _positions(p, classes)
    keep = (ti >= 0) & (pi >= 0)
    cm = np.bincount(ti[keep] * n + pi[keep], minlength=n * n).reshape(n, n).astype(np.int64)
    return _normalize_cm(cm, normalize)


def _normalize_cm(cm: np.ndarray, normalize: str | None) -> np.ndarray:
    if normalize is None:
        return cm
    axis = {"true": 1, "pred": 0, "all": None}.get(normalize, "bad")
    if axis == "bad":
        raise ValueError(f"confusion_matrix: normalize must be 'true', 'pred', 'all' or "
                         f"None, got {normalize!r}")
    total = cm.sum(axis=axis, keepdims=axis is not None).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nan_to_num(cm / total)


# ----------------------------------------------------------------------------- P/R/F
def _zero_division_value(zero_division: Any) -> float:
    if isinstance(zero_division, str) and zero_division == "warn":
        return 0.0
    if zero_division in (0, 1) or (isinstance(zero_division, float) and np.isnan(zero_division)):
        return float(zero_division)
    raise ValueError(f"zero_division must be 0, 1, np.nan or 'warn', got {zero_division!r}")


def _divide(num: np.ndarray, den: np.ndarray, zero_division: Any, what: str) -> np.ndarray:
    """num / den with 0/0 (den == 0) set to ``zero_division``."""
    mask = den == 0
    out = num / np.where(mask, 1, den).astype(np.float64)
    if mask.any():
        out[mask] = _zero_division_value(zero_division)
        if isinstance(zero_division, str):
            warnings.warn(f"{what} is ill-defined (0/0) for some labels and set to 0.0; use "
                          "zero_division to control this", UserWarning, stacklevel=4)
    return out


def _nan_average(values: np.ndarray, weights: np.ndarray | None) -> float:
    """scikit-learn's average: NaNs (from zero_division=nan) are left out; all-zero
    weights fall back to the plain mean."""
    keep = ~np.isnan(values)
    if not keep.any():
        return float("nan")
    if weights is None or weights[keep].sum() == 0:
        return float(values[keep].mean())
    return float(np.average(values[keep], weights=weights[keep]))


def _set_labels(t: np.ndarray, p: np.ndarray, average: str | None, labels: Sequence | None,
                pos_label: Any, fn: str) -> np.ndarray:
    """The labels to score: [pos_label] for binary, else ``labels`` or all seen."""
    if average not in _AVERAGES:
        raise ValueError(f"{fn}: average must be one of {_AVERAGES}, got {average!r}")
    present = _union_labels(t, p, fn)
    if average == "binary":
        if len(present) > 2:
            raise ValueError(f"{fn}: the targets are multiclass ({len(present)} labels) but "
                             "average='binary'; choose average='micro', 'macro', 'weighted' "
                             "or None")
        if pos_label not in present and len(present) >= 2:
            raise ValueError(f"{fn}: pos_label={pos_label!r} is not a valid label; it should "
                             f"be one of {present.tolist()}")
        return np.asarray([pos_label])
    return present if labels is None else np.asarray(labels)


def _class_counts(t: np.ndarray, p: np.ndarray, classes: np.ndarray) -> tuple:
    """Per class: true positives, predicted count, true count (the support)."""
    ti, pi = _positions(t, classes), _positions(p, classes)
    n = len(classes)
    hit = (ti == pi) & (ti >= 0)
    return (np.bincount(ti[hit], minlength=n), np.bincount(pi[pi >= 0], minlength=n),
            np.bincount(ti[ti >= 0], minlength=n))


def precision_recall_fscore_support(y_true: Any, y_pred: Any, beta: float = 1.0,
                                    labels: Sequence | None = None, pos_label: Any = 1,
                                    average: str | None = None,
                                    zero_division: Any = 0.0) -> tuple:
    """Precision, recall, F-beta and support, per class (``average=None``: four arrays)
    or averaged (three floats and ``None`` for the support), as scikit-learn."""
    fn = "precision_recall_fscore_support"
    t, p = _pair(y_true, y_pred, fn)
    classes = _set_labels(t, p, average, labels, pos_label, fn)
    tp, pred, true = _class_counts(t, p, classes)
    if average == "micro":
        tp, pred, true = tp.sum(keepdims=True), pred.sum(keepdims=True), true.sum(keepdims=True)
    prec = _divide(tp, pred, zero_division, "precision")
    rec = _divide(tp, true, zero_division, "recall")
    b2 = beta * beta
    f = _divide((1 + b2) * tp, b2 * true + pred, zero_division, "F-score")
    if average is None:
        return prec, rec, f, true
    weights = true.astype(np.float64) if average == "weighted" else None
    return (_nan_average(prec, weights), _nan_average(rec, weights),
            _nan_average(f, weights), None)


def precision(y_true: Any, y_pred: Any, average: str | None = "binary", pos_label: Any = 1,
              labels: Sequence | None = None, zero_division: Any = 0.0) -> Any:
    """tp / (tp + fp): of the samples predicted as a class, the fraction that are."""
    return precision_recall_fscore_support(y_true, y_pred, labels=labels, pos_label=pos_label,
                                           average=average, zero_division=zero_division)[0]


def recall(y_true: Any, y_pred: Any, average: str | None = "binary", pos_label: Any = 1,
           labels: Sequence | None = None, zero_division: Any = 0.0) -> Any:
    """tp / (tp + fn): of the samples of a class, the fraction predicted as it."""
    return precision_recall_fscore_support(y_true, y_pred, labels=labels, pos_label=pos_label,
                                           average=average, zero_division=zero_division)[1]


def fbeta_score(y_true: Any, y_pred: Any, beta: float, average: str | None = "binary",
                pos_label: Any = 1, labels: Sequence | None = None,
                zero_division: Any = 0.0) -> Any:
    """The weighted harmonic mean of precision and recall (recall counts beta times more)."""
    return precision_recall_fscore_support(y_true, y_pred, beta=beta, labels=labels,
                                           pos_label=pos_label, average=average,
                                           zero_division=zero_division)[2]


def f1_score(y_true: Any, y_pred: Any, average: str | None = "binary", pos_label: Any = 1,
             labels: Sequence | None = None, zero_division: Any = 0.0) -> Any:
    """2 tp / (2 tp + fp + fn), the harmonic mean of precision and recall."""
    return fbeta_score(y_true, y_pred, 1.0, average=average, pos_label=pos_label,
                       labels=labels, zero_division=zero_division)


def classification_report(y_true: Any, y_pred: Any, labels: Sequence | None = None,
                          target_names: Sequence[str] | None = None, digits: int = 2,
                          zero_division: Any = 0.0) -> str:
    """Per-class precision, recall, F1 and support, then accuracy and the macro and
    weighted averages: the same text table as scikit-learn's."""
    t, p = _pair(y_true, y_pred, "classification_report")
    present = _union_labels(t, p, "classification_report")
    classes = present if labels is None else np.asarray(labels)
    names = [str(c) for c in classes] if target_names is None else list(target_names)
    if len(names) != len(classes):
        raise ValueError(f"classification_report: {len(classes)} labels but "
                         f"{len(names)} target_names")
    kw = {"labels": classes, "zero_division": zero_division}
    per_class = precision_recall_fscore_support(t, p, average=None, **kw)
    rows = zip(names, *per_class)
    width = max(max(len(n) for n in names), len("weighted avg"), digits)
    headers = ("precision", "recall", "f1-score", "support")
    report = "{:>{width}s} ".format("", width=width) + " {:>9}" * 4
    report = report.format(*headers) + "\n\n"
    row_fmt = "{:>{width}s} " + " {:>9.{digits}f}" * 3 + " {:>9}\n"
    for row in rows:
        report += row_fmt.format(*row, width=width, digits=digits)
    report += "\n"
    support = int(per_class[3].sum())
    micro_is_accuracy = labels is None or set(classes.tolist()) >= set(present.tolist())
    for avg in ("micro", "macro", "weighted"):
        pr, rc, f1, _ = precision_recall_fscore_support(t, p, average=avg, **kw)
        if avg == "micro" and micro_is_accuracy:
            acc_fmt = "{:>{width}s} " + " {:>9}" * 2 + " {:>9.{digits}f} {:>9}\n"
            report += acc_fmt.format("accuracy", "", "", f1, support, width=width,
                                     digits=digits)
        else:
            report += row_fmt.format(f"{avg} avg", pr, rc, f1, support, width=width,
                                     digits=digits)
    return report


# ----------------------------------------------------------------------------- regression
def _regression_pair(y_true: Any, y_pred: Any, fn: str) -> tuple[np.ndarray, np.ndarray]:
    """(N, K) float arrays; (N,) and (N, 1) count as the same shape."""
    t = _np(y_true, fn, "y_true").astype(np.float64)
    p = _np(y_pred, fn, "y_pred").astype(np.float64)
    t, p = (a.reshape(-1, 1) if a.ndim == 1 else a for a in (t, p))
    if t.ndim != 2 or p.ndim != 2:
        raise ValueError(f"{fn}: expected targets of shape (N,) or (N, K), got y_true "
                         f"{t.shape} and y_pred {p.shape}")
    if t.shape != p.shape:
        raise ValueError(f"{fn}: y_true has shape {t.shape} but y_pred has shape {p.shape}")
    if len(t) == 0:
        raise ValueError(f"{fn}: got empty inputs")
    return t, p


def _aggregate(per_output: np.ndarray, multioutput: str, fn: str) -> Any:
    if multioutput == "raw_values":
        return per_output
    if multioutput == "uniform_average":
        return float(per_output.mean())
    raise ValueError(f"{fn}: multioutput must be 'uniform_average' or 'raw_values', got "
                     f"{multioutput!r}")


def mean_absolute_error(y_true: Any, y_pred: Any, multioutput: str = "uniform_average") -> Any:
    """mean(|y - y_hat|) (per output, then averaged over outputs)."""
    t, p = _regression_pair(y_true, y_pred, "mean_absolute_error")
    return _aggregate(np.abs(t - p).mean(axis=0), multioutput, "mean_absolute_error")


def mean_squared_error(y_true: Any, y_pred: Any, multioutput: str = "uniform_average") -> Any:
    """mean((y - y_hat)^2) (per output, then averaged over outputs)."""
    t, p = _regression_pair(y_true, y_pred, "mean_squared_error")
    return _aggregate(((t - p) ** 2).mean(axis=0), multioutput, "mean_squared_error")


def root_mean_squared_error(y_true: Any, y_pred: Any,
                            multioutput: str = "uniform_average") -> Any:
    """sqrt(mean((y - y_hat)^2)) per output, then averaged over outputs."""
    t, p = _regression_pair(y_true, y_pred, "root_mean_squared_error")
    return _aggregate(np.sqrt(((t - p) ** 2).mean(axis=0)), multioutput,
                      "root_mean_squared_error")


def r2_score(y_true: Any, y_pred: Any, multioutput: str = "uniform_average") -> Any:
    """1 - sum((y - y_hat)^2) / sum((y - mean(y))^2): 1 is perfect, 0 is as good as
    predicting the mean. A constant y_true scores 1 if predicted exactly, else 0
    (scikit-learn's ``force_finite``); fewer than two samples give nan with a warning."""
    t, p = _regression_pair(y_true, y_pred, "r2_score")
    if len(t) < 2:
        warnings.warn("r2_score: R^2 is not well-defined with fewer than two samples",
                      UserWarning, stacklevel=2)
        return float("nan")
    ss_res = ((t - p) ** 2).sum(axis=0)
    ss_tot = ((t - t.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = 1.0 - ss_res / np.where(ss_tot == 0, 1.0, ss_tot)
    score = np.where(ss_tot == 0, np.where(ss_res == 0, 1.0, 0.0), score)
    return _aggregate(score, multioutput, "r2_score")
