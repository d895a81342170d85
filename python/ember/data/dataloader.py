"""``DataLoader``: batches of samples from a dataset, optionally shuffled each epoch.

Everything runs in the calling process: a batch is the collated list of
``dataset[i]`` for the batch's indices, or, for datasets with a batched fast path
(``TensorDataset``, and ``Subset``s of it), one fancy index per tensor.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from .. import dtypes as _dt
from ..creation import from_numpy, tensor
from ..ops import stack
from ..random import Generator, default_generator
from ..tensor import Tensor
from .dataset import Dataset

__all__ = ["DataLoader", "RandomSampler", "SequentialSampler", "default_collate"]


class SequentialSampler:
    """Indices ``0, 1, ..., len(dataset) - 1``."""
    def __init__(self, data_source: Sequence | Dataset) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler:
    """A fresh random permutation of the indices at each ``iter()``, drawn from
    ``generator`` (or ember's default generator, so ``ember.manual_seed`` fixes every epoch)."""

    def __init__(self, data_source: Sequence | Dataset,
                 generator: Generator | None = None) -> None:
        self.data_source = data_source
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        gen = self.generator if self.generator is not None else default_generator
        return iter(gen.np.permutation(len(self.data_source)).tolist())

    def __len__(self) -> int:
        return len(self.data_source)


# ----------------------------------------------------------------------------- collate
def _stack_tensors(batch: list[Tensor]) -> Tensor:
    shapes = {t.shape for t in batch}
    if len(shapes) > 1:
        raise ValueError(f"default_collate: samples have different shapes {sorted(shapes)}; "
                         "stack needs equal shapes (pad them in a collate_fn, e.g. with "
                         "ember.data.pad_sequences)")
    if all(t.device.type == "cpu" and not t.requires_grad for t in batch):
        return _from_array(np.stack([t.numpy() for t in batch]))

    return stack(batch)


def _from_array(arr: np.ndarray) -> Tensor:
    """A tensor owning ``arr`` (no copy when the dtype is one of ember's)."""
    if _dt.from_numpy_dtype(arr.dtype).np == arr.dtype:
        return from_numpy(np.ascontiguousarray(arr))
    return tensor(arr)


def _stack_arrays(batch: list[np.ndarray]) -> Tensor:
    shapes = {a.shape for a in batch}
    if len(shapes) > 1:
        raise ValueError(f"default_collate: arrays have different shapes {sorted(shapes)}; "
                         "pass a collate_fn that pads them")
    return _from_array(np.stack(batch))


def default_collate(batch: list) -> Any:
    """Merge a list of samples into a batch, like PyTorch's ``default_collate``.

    Tensors and NumPy arrays are stacked along a new first dimension; Python/NumPy
    numbers become a 1-D tensor (ints int64, floats the default float dtype, bools bool);
    strings stay a list; tuples, lists, namedtuples and dicts are collated field by field.
    """
    if not batch:
        raise ValueError("default_collate: got an empty batch")
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack_tensors(batch)
    if isinstance(elem, np.ndarray):
        return _stack_arrays([np.asarray(a) for a in batch])
    if isinstance(elem, (np.number, np.bool_)):
        return _from_array(np.array(batch))
    if isinstance(elem, (bool, int, float)):
        return tensor(batch)
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, Mapping):
        return {key: default_collate([d[key] for d in batch]) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, (tuple, list)):
        if len({len(s) for s in batch}) > 1:
            raise ValueError("default_collate: each sample of the batch must have the same "
                             f"number of fields, got {sorted({len(s) for s in batch})}")
        fields = [default_collate(list(s)) for s in zip(*batch)]
        return tuple(fields) if isinstance(elem, tuple) else fields
    raise TypeError(f"default_collate: can't batch samples of type {type(elem).__name__}; "
                    "samples must hold tensors, numpy arrays, numbers, strings, or "
                    "tuples/lists/dicts of them (or pass a collate_fn)")


# ----------------------------------------------------------------------------- loader
class DataLoader:
    """Iterate over ``dataset`` in batches.

    Args:
        dataset: a map-style dataset (``__getitem__`` + ``__len__``).
        batch_size: samples per batch (>= 1).
        shuffle: a new random order every epoch (drawn from ``generator``, or from ember's
            default generator so that ``ember.manual_seed`` makes epochs reproducible).
        drop_last: drop the last batch when it is smaller than ``batch_size``.
        collate_fn: merges a list of samples into a batch (default: ``default_collate``).
        generator: an ``ember.Generator`` for shuffling.
        sampler: an iterable of indices to use instead (mutually exclusive with shuffle).
        num_workers, pin_memory: accepted so that PyTorch code runs unchanged; loading
            always happens in the calling process.
    """

    def __init__(self, dataset: Dataset | Sequence, batch_size: int = 1, shuffle: bool = False,
                 drop_last: bool = False, collate_fn: Callable[[list], Any] | None = None,
                 generator: Generator | None = None, sampler: Iterable[int] | None = None,
                 num_workers: int = 0, pin_memory: bool = False) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if len(dataset) == 0:
            raise ValueError("DataLoader: the dataset is empty (len(dataset) == 0); there is "
                             "nothing to load")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler is mutually exclusive with shuffle=True "
                             "(shuffle inside the sampler instead)")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.drop_last = drop_last
        self.collate_fn = collate_fn
        self.generator = generator
        self.num_workers, self.pin_memory = num_workers, pin_memory
        if sampler is None:
            sampler = RandomSampler(dataset, generator) if shuffle else SequentialSampler(dataset)
        self.sampler = sampler
        if drop_last and len(self) == 0:
            warnings.warn(f"DataLoader: drop_last=True with {self._num_samples()} samples and "
                          f"batch_size={batch_size} gives no batches at all", stacklevel=2)

    def _num_samples(self) -> int:
        return len(self.sampler)  # type: ignore[arg-type]

    def __len__(self) -> int:
        n = self._num_samples()
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[Any]:
        batch: list[int] = []
        for i in self.sampler:
            batch.append(int(i))
            if len(batch) == self.batch_size:
                yield self._fetch(batch)
                batch = []
        if batch and not self.drop_last:
            yield self._fetch(batch)

    def _fetch(self, indices: list[int]) -> Any:
        if self.collate_fn is None:
            get_batch = getattr(self.dataset, "_get_batch", None)
            if get_batch is not None:
                out = get_batch(indices)
                if out is not NotImplemented:
                    return out
            return default_collate([self.dataset[i] for i in indices])
        return self.collate_fn([self.dataset[i] for i in indices])

    def __repr__(self) -> str:
        return (f"DataLoader(len(dataset)={len(self.dataset)}, batch_size={self.batch_size}, "
                f"shuffle={isinstance(self.sampler, RandomSampler)}, drop_last={self.drop_last})")
