"""Splitting data: ``random_split`` (PyTorch), the tutorials' 8:1:1
``train_val_test_split``, and ``KFold`` / ``StratifiedKFold`` (scikit-learn's folds,
index for index)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ..random import Generator, default_generator
from ..tensor import Tensor
from .dataset import Dataset, Subset

__all__ = ["KFold", "StratifiedKFold", "random_split", "train_val_test_split"]


# ----------------------------------------------------------------------------- random_split
def _fraction_lengths(n: int, fractions: Sequence[float]) -> list[int]:
    """PyTorch 2.x: floor(n * f) each, then the remainder one by one, round robin."""
    for i, f in enumerate(fractions):
        if not 0 <= f <= 1:
            raise ValueError(f"random_split: fraction at index {i} is {f}, not within [0, 1]")
    lengths = [int(math.floor(n * f)) for f in fractions]
    for i in range(n - sum(lengths)):
        lengths[i % len(lengths)] += 1
    for i, length in enumerate(lengths):
        if length == 0:
            warnings.warn(f"random_split: length of split at index {i} is 0; this might "
                          "result in an empty dataset", stacklevel=3)
    return lengths


def random_split(dataset: Dataset, lengths: Sequence[int | float],
                 generator: Generator | None = None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random ``Subset``s of the given lengths.

    ``lengths`` are ints summing to ``len(dataset)``, or fractions summing to 1
    (``[0.8, 0.2]``; leftover samples go round robin to the first parts, as in PyTorch).
    The permutation is drawn from ``generator`` (default: ember's default generator).
    """
    n = len(dataset)
    total = sum(lengths)
    if math.isclose(total, 1) and total <= 1 and not all(isinstance(x, int) for x in lengths):
        lengths = _fraction_lengths(n, lengths)
    if any(int(x) != x or x < 0 for x in lengths):
        raise ValueError(f"random_split: lengths must be non-negative ints or fractions summing "
                         f"to 1, got {list(lengths)}")
    if sum(lengths) != n:
        raise ValueError(f"random_split: the lengths {list(lengths)} sum to {sum(lengths)} but "
                         f"the dataset has {n} samples")
    gen = generator if generator is not None else default_generator
    perm = gen.np.permutation(n).tolist()
    bounds = np.cumsum([0, *lengths]).tolist()
    return [Subset(dataset, perm[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]


# ----------------------------------------------------------------------------- 8:1:1
def _round_half_up(x: np.ndarray) -> np.ndarray:
    return np.floor(np.asarray(x) + 0.5).astype(np.int64)


def _part_sizes(n: int, ratios: np.ndarray) -> np.ndarray:
    """Sizes summing to n, each close to n * ratio: round the cumulative boundaries."""
    bounds = _round_half_up(np.cumsum(ratios) * n)
    bounds[-1] = n
    return np.diff(np.concatenate([[0], bounds]))


def _allocate(remaining: np.ndarray, size: int) -> np.ndarray:
    """Take ``size`` samples from classes with ``remaining`` counts, proportionally: floors
    first, then one more to the classes with the largest remainders (earliest class on ties)."""
    total = remaining.sum()
    if total == 0:
        return np.zeros_like(remaining)
    exact = remaining * size / total
    take = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - take), kind="stable")
    for k in order[: size - take.sum()]:
        take[k] += 1
    return np.minimum(take, remaining)


def _stratified_parts(labels: np.ndarray, sizes: np.ndarray, rng) -> list[np.ndarray]:
    """Index arrays per part, each class spread over the parts in proportion to the sizes."""
    classes = np.unique(labels)
    members = [np.flatnonzero(labels == c) for c in classes]
    if rng is not None:
        members = [rng.permutation(m) for m in members]
    remaining = np.array([len(m) for m in members])
    start = np.zeros_like(remaining)
    parts = []
    for j, size in enumerate(sizes):
        take = remaining if j == len(sizes) - 1 else _allocate(remaining, int(size))
        parts.append(np.concatenate([m[s:s + t] for m, s, t in zip(members, start, take)]))
        start, remaining = start + take, remaining - take
    return [p if rng is not None else np.sort(p) for p in parts]


def _split_indices(n: int, ratios: Sequence[float], stratify: Any, shuffle: bool,
                   seed: int | None) -> list[np.ndarray]:
    r = np.asarray(ratios, dtype=np.float64)
    if r.ndim != 1 or len(r) < 2 or np.any(r < 0) or not math.isclose(r.sum(), 1.0):
        raise ValueError(f"train_val_test_split: ratios must be >= 2 non-negative numbers "
                         f"summing to 1, got {tuple(ratios)}")
    rng = None
    if shuffle:
        rng = default_generator.np if seed is None else np.random.default_rng(seed)
    sizes = _part_sizes(n, r)
    if stratify is None:
        order = rng.permutation(n) if rng is not None else np.arange(n)
        bounds = np.cumsum(np.concatenate([[0], sizes]))
        return [order[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    labels = _as_numpy(stratify).reshape(-1)
    if len(labels) != n:
        raise ValueError(f"train_val_test_split: stratify has {len(labels)} labels but the "
                         f"data has {n} samples")
    parts = _stratified_parts(labels, sizes, rng)
    return [rng.permutation(p) if rng is not None else p for p in parts]


def _as_numpy(x: Any) -> np.ndarray:
    return np.asarray(x.detach().cpu() if isinstance(x, Tensor) else x)


def _take(x: Any, idx: np.ndarray) -> Any:
    """Rows ``idx`` of an array, tensor or list (keeping its kind)."""
    if isinstance(x, Tensor):
        return x[idx]
    if isinstance(x, np.ndarray):
        return x[idx]
    return [x[i] for i in idx.tolist()]


def train_val_test_split(data: Dataset | Any, ratios: Sequence[float] = (0.8, 0.1, 0.1),
                         stratify: Any = None, shuffle: bool = True,
                         seed: int | None = 0) -> tuple:
    """Split data into parts of the given ratios (train/val/test = 8:1:1 by default).

    Args:
        data: a ``Dataset`` (returns ``Subset``s), an array/tensor (returns arrays/tensors)
            or a tuple/list of equally long arrays such as ``(X, y)`` (returns, per part, a
            tuple ``(X_part, y_part)``).
        ratios: two or more fractions summing to 1; part sizes are the rounded cumulative
            boundaries, so they always sum to ``len(data)``.
        stratify: labels (one per sample): each part keeps the class proportions.
        shuffle: shuffle before splitting (otherwise parts are contiguous, in order).
        seed: seeds the shuffle (``None`` draws from ember's default generator).

    Example: ``(Xtr, ytr), (Xva, yva), (Xte, yte) = train_val_test_split((X, y), stratify=y)``
    """
    if isinstance(data, Dataset):
        parts = _split_indices(len(data), ratios, stratify, shuffle, seed)
        return tuple(Subset(data, p.tolist()) for p in parts)
    if isinstance(data, tuple) or (isinstance(data, list) and data
                                   and isinstance(data[0], (np.ndarray, Tensor))):
        lengths = {len(a) for a in data}
        if len(lengths) != 1:
            raise ValueError("train_val_test_split: the arrays have different lengths "
                             f"{[len(a) for a in data]}")
        parts = _split_indices(lengths.pop(), ratios, stratify, shuffle, seed)
        return tuple(tuple(_take(a, p) for a in data) for p in parts)
    parts = _split_indices(len(data), ratios, stratify, shuffle, seed)
    return tuple(_take(data, p) for p in parts)


# ----------------------------------------------------------------------------- k-fold
def _num_samples(x: Any) -> int:
    if hasattr(x, "shape") and len(x.shape) > 0:
        return int(x.shape[0])
    return len(x)


def _random_state(seed: Any) -> np.random.RandomState:
    """scikit-learn's ``check_random_state``: None -> NumPy's global RandomState."""
    if seed is None:
        return np.random.mtrand._rand
    if isinstance(seed, np.random.RandomState):
        return seed
    return np.random.RandomState(seed)


class KFold:
    """K folds of consecutive samples (shuffled first if asked), as scikit-learn's
    ``KFold``: the first ``n % n_splits`` folds get one extra sample; ``split`` yields
    sorted ``(train_idx, val_idx)`` index arrays."""

    def __init__(self, n_splits: int = 5, shuffle: bool = False,
                 random_state: int | np.random.RandomState | None = None) -> None:
        if not isinstance(n_splits, (int, np.integer)) or n_splits < 2:
            raise ValueError(f"{type(self).__name__}: n_splits must be an int >= 2, got "
                             f"{n_splits!r}")
        if not shuffle and random_state is not None:
            raise ValueError(f"{type(self).__name__}: setting random_state has no effect since "
                             "shuffle is False; leave random_state=None or set shuffle=True")
        self.n_splits, self.shuffle, self.random_state = int(n_splits), shuffle, random_state

    def get_n_splits(self, X: Any = None, y: Any = None) -> int:
        return self.n_splits

    def _test_folds(self, X: Any, y: Any) -> np.ndarray:
        """The fold number of each sample."""
        n = _num_samples(X)
        indices = np.arange(n)
        if self.shuffle:
            _random_state(self.random_state).shuffle(indices)
        sizes = np.full(self.n_splits, n // self.n_splits, dtype=np.int64)
        sizes[: n % self.n_splits] += 1
        folds = np.empty(n, dtype=np.int64)
        folds[indices] = np.repeat(np.arange(self.n_splits), sizes)
        return folds

    def split(self, X: Any, y: Any = None, groups: Any = None
              ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(train_idx, val_idx)`` for each fold."""
        n = _num_samples(X)
        if self.n_splits > n:
            raise ValueError(f"{type(self).__name__}: cannot have n_splits={self.n_splits} "
                             f"greater than the number of samples n_samples={n}")
        folds = self._test_folds(X, y)
        for k in range(self.n_splits):
            yield np.flatnonzero(folds != k), np.flatnonzero(folds == k)


class StratifiedKFold(KFold):
    """K folds keeping each class's proportion, as scikit-learn's ``StratifiedKFold``
    (same allocation, same shuffling, same indices for the same ``random_state``)."""

    def _test_folds(self, X: Any, y: Any) -> np.ndarray:
        if y is None:
            raise ValueError("StratifiedKFold.split: needs the labels y")
        y = _as_numpy(y).reshape(-1)
        if len(y) != _num_samples(X):
            raise ValueError(f"StratifiedKFold.split: X has {_num_samples(X)} samples but y "
                             f"has {len(y)} labels")
        rng = _random_state(self.random_state)
        # classes numbered by first appearance, as scikit-learn does
        _, first, inverse = np.unique(y, return_index=True, return_inverse=True)
        _, class_perm = np.unique(first, return_inverse=True)
        encoded = class_perm[inverse.reshape(-1)]
        n_classes = len(first)
        counts = np.bincount(encoded)
        if np.all(self.n_splits > counts):
            raise ValueError(f"StratifiedKFold: n_splits={self.n_splits} cannot be greater "
                             "than the number of members in each class")
        if self.n_splits > counts.min():
            warnings.warn(f"StratifiedKFold: the least populated class in y has only "
                          f"{counts.min()} members, which is less than n_splits="
                          f"{self.n_splits}", UserWarning, stacklevel=3)
        # per-fold class counts: deal the sorted labels round robin
        ordered = np.sort(encoded)
        allocation = np.asarray([np.bincount(ordered[i::self.n_splits], minlength=n_classes)
                                 for i in range(self.n_splits)])
        folds = np.empty(len(y), dtype=np.int64)
        for k in range(n_classes):
            fold_of_class = np.arange(self.n_splits).repeat(allocation[:, k])
            if self.shuffle:
                rng.shuffle(fold_of_class)
            folds[encoded == k] = fold_of_class
        return folds
