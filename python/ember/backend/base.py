"""The Backend interface: every primitive that ``ember.ops`` may call.

A backend owns arrays of one device kind. Its arrays expose ``.shape`` (a tuple),
``.ndim`` and ``.dtype`` (a NumPy dtype). Backends know nothing about autograd: they
take arrays and return new arrays (or write into one, for the few ``*_`` in-place
primitives). Adding a device means implementing this class; ``ember.ops`` and the
autograd engine do not change.

Conventions: ``axes`` is a tuple of non-negative axis numbers (already normalised by
the caller), ``dtype`` is an ``ember.dtypes.DType``, shapes are tuples of ints.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

Array = Any  # a backend array (numpy.ndarray on the CPU)


class Backend(ABC):
    name: str

    # ---- moving data in and out --------------------------------------------------
    @abstractmethod
    def from_numpy(self, arr, dtype) -> Array:
        """An array of ``dtype`` holding ``arr``'s values (may share memory on the CPU)."""

    @abstractmethod
    def to_numpy(self, x: Array):
        """A numpy.ndarray with x's values."""

    # ---- creation ----------------------------------------------------------------
    @abstractmethod
    def full(self, shape: tuple, value, dtype) -> Array: ...
    @abstractmethod
    def arange(self, start, stop, step, dtype) -> Array: ...
    @abstractmethod
    def linspace(self, start, stop, steps: int, dtype) -> Array: ...
    @abstractmethod
    def eye(self, n: int, m: int, dtype) -> Array: ...
    @abstractmethod
    def rand(self, shape: tuple, dtype, generator) -> Array:
        """Uniform on [0, 1)."""
    @abstractmethod
    def randn(self, shape: tuple, dtype, generator) -> Array:
        """Standard normal."""
    @abstractmethod
    def randint(self, low: int, high: int, shape: tuple, generator) -> Array:
        """int64 uniform on [low, high)."""

    # ---- copies and casts --------------------------------------------------------
    @abstractmethod
    def astype(self, x: Array, dtype) -> Array: ...
    @abstractmethod
    def copy(self, x: Array) -> Array:
        """A contiguous copy."""
    @abstractmethod
    def assign_(self, dst: Array, src: Array) -> None:
        """dst[...] = src (broadcasting src), in place."""
    @abstractmethod
    def setitem_(self, dst: Array, index, src: Array) -> None:
        """dst[index] = src, in place."""

    # ---- elementwise -------------------------------------------------------------
    # unary: all take and return arrays of the same dtype
    @abstractmethod
    def neg(self, x): ...
    @abstractmethod
    def exp(self, x): ...
    @abstractmethod
    def log(self, x): ...
    @abstractmethod
    def log1p(self, x): ...
    @abstractmethod
    def sqrt(self, x): ...
    @abstractmethod
    def abs(self, x): ...
    @abstractmethod
    def sign(self, x): ...
    @abstractmethod
    def sin(self, x): ...
    @abstractmethod
    def cos(self, x): ...
    @abstractmethod
    def tanh(self, x): ...
    @abstractmethod
    def sigmoid(self, x):
        """1 / (1 + e^-x), computed without overflow for large |x|."""
    @abstractmethod
    def softplus(self, x, beta: float, threshold: float):
        """log(1 + e^(beta x)) / beta, linear above ``threshold``, without overflow."""
    @abstractmethod
    def erf(self, x): ...

    # binary: inputs broadcast (NumPy rules), same dtype
    @abstractmethod
    def add(self, a, b): ...
    @abstractmethod
    def sub(self, a, b): ...
    @abstractmethod
    def mul(self, a, b): ...
    @abstractmethod
    def div(self, a, b): ...
    @abstractmethod
    def pow(self, a, b): ...
    @abstractmethod
    def maximum(self, a, b): ...
    @abstractmethod
    def minimum(self, a, b): ...
    @abstractmethod
    def compare(self, op: str, a, b):
        """Elementwise comparison, op in {'eq','ne','lt','le','gt','ge'}; returns bool."""
    @abstractmethod
    def logical(self, op: str, a, b=None):
        """op in {'and','or','xor','not'} on bool arrays."""
    @abstractmethod
    def where(self, cond, a, b): ...
    @abstractmethod
    def clip(self, x, lo, hi):
        """Clamp into [lo, hi]; either bound may be None."""

    # ---- reductions --------------------------------------------------------------
    @abstractmethod
    def sum(self, x, axes: tuple | None, keepdims: bool): ...
    @abstractmethod
    def max(self, x, axes: tuple | None, keepdims: bool): ...
    @abstractmethod
    def min(self, x, axes: tuple | None, keepdims: bool): ...
    @abstractmethod
    def argmax(self, x, axis: int | None, keepdims: bool): ...
    @abstractmethod
    def argmin(self, x, axis: int | None, keepdims: bool): ...

    # ---- shape and indexing ------------------------------------------------------
    @abstractmethod
    def reshape(self, x, shape: tuple): ...
    @abstractmethod
    def permute(self, x, axes: tuple): ...
    @abstractmethod
    def broadcast_to(self, x, shape: tuple): ...
    @abstractmethod
    def getitem(self, x, index):
        """x[index]; index uses NumPy's rules (ints, slices, None, Ellipsis, int/bool arrays)."""
    @abstractmethod
    def index_add(self, shape: tuple, index, values, dtype):
        """zeros(shape) with ``values`` added at ``index`` (repeated indices accumulate)."""
    @abstractmethod
    def gather(self, x, axis: int, index): ...
    @abstractmethod
    def scatter_add(self, shape: tuple, axis: int, index, src):
        """zeros(shape); out[..., index[i], ...] += src[i] along ``axis``."""
    @abstractmethod
    def cat(self, xs: Sequence, axis: int): ...
    @abstractmethod
    def pad(self, x, widths: Sequence[tuple], value): ...

    # ---- linear algebra ----------------------------------------------------------
    @abstractmethod
    def matmul(self, a, b):
        """Batched matrix product of (..., M, K) and (..., K, N); batch dims broadcast."""
