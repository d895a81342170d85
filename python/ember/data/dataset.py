"""Datasets: anything with ``__getitem__`` and ``__len__`` (PyTorch's map-style datasets).

A dataset may also offer a batched fast path, ``_get_batch(indices)``, returning the
*already collated* batch for a list of indices (or ``NotImplemented``). ``DataLoader``
uses it when no custom ``collate_fn`` is given: ``TensorDataset`` answers with one fancy
index per tensor instead of ``batch_size`` tiny tensors stacked back together, which is
what makes an MNIST epoch quick.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..creation import tensor as _tensor
from ..tensor import Tensor


class Dataset:
    """The base class of map-style datasets: subclasses define ``__getitem__`` and
    ``__len__``. ``a + b`` concatenates two datasets (a ``ConcatDataset``)."""

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


def _check_index(name: str, index: int, length: int) -> int:
    """A non-negative index in range (negative ones count from the end, like a list)."""
    if not isinstance(index, (int, np.integer)):
        raise TypeError(f"{name}: index must be an int, got {type(index).__name__}")
    i = int(index) + length if index < 0 else int(index)
    if not 0 <= i < length:
        raise IndexError(f"{name}: index {index} is out of range for a dataset of length "
                         f"{length}")
    return i


class TensorDataset(Dataset):
    """Samples are slices of tensors along their first dimension:
    ``TensorDataset(X, y)[i] == (X[i], y[i])``. NumPy arrays are turned into tensors."""

    def __init__(self, *tensors: Tensor | np.ndarray) -> None:
        if not tensors:
            raise ValueError("TensorDataset: expected at least one tensor")

        self.tensors = tuple(t if isinstance(t, Tensor) else _tensor(t) for t in tensors)
        lengths = [t.shape[0] if t.ndim else None for t in self.tensors]
        if None in lengths:
            raise ValueError("TensorDataset: 0-d tensors have no samples; every tensor needs "
                             "a first (sample) dimension")
        if len(set(lengths)) != 1:
            raise ValueError("TensorDataset: all tensors must have the same size in the first "
                             f"dimension, got sizes {lengths}")

    def __getitem__(self, index: int) -> tuple:
        i = _check_index("TensorDataset", index, len(self))
        return tuple(t[i] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def _get_batch(self, indices: Sequence[int]) -> tuple:
        """The collated batch in one fancy index per tensor (the DataLoader fast path)."""
        idx = np.asarray(indices, dtype=np.int64)
        return tuple(t[idx] for t in self.tensors)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""
    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = [int(i) for i in np.asarray(indices).reshape(-1)]

    def __getitem__(self, index: int) -> Any:
        return self.dataset[self.indices[_check_index("Subset", index, len(self))]]

    def __len__(self) -> int:
        return len(self.indices)

    def _get_batch(self, indices: Sequence[int]) -> Any:
        inner = getattr(self.dataset, "_get_batch", None)
        if inner is None:
            return NotImplemented
        return inner([self.indices[i] for i in indices])


class ConcatDataset(Dataset):
    """Datasets one after another: indices ``0..len(a)-1`` are ``a``'s, then ``b``'s, ..."""
    def __init__(self, datasets: Sequence[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: expected at least one dataset")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int) -> Any:
        i = _check_index("ConcatDataset", index, len(self))
        k = bisect.bisect_right(self.cumulative_sizes, i)
        start = self.cumulative_sizes[k - 1] if k > 0 else 0
        return self.datasets[k][i - start]
