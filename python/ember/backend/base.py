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

    # ---- convolution and pooling (NCHW) ------------------------------------------
    # stride / padding / dilation / kernel_size / output_size are (h, w) pairs of ints,
    # already validated for sign by the caller; the backend checks shapes and dtypes.
    @abstractmethod
    def conv2d(self, x, w, stride: tuple, padding: tuple, dilation: tuple, groups: int):
        """Cross-correlation of x (N, C_in, H, W) with w (C_out, C_in/groups, kH, kW),
        zero padding ``padding`` on each side: y (N, C_out, OH, OW)."""
    @abstractmethod
    def conv2d_backward_data(self, dy, w, input_shape: tuple, stride: tuple, padding: tuple,
                             dilation: tuple, groups: int):
        """The gradient of ``conv2d`` wrt its input of ``input_shape``, given dy: the
        transposed convolution dx = conv_transpose2d(dy, w)."""
    @abstractmethod
    def conv2d_backward_weight(self, dy, x, weight_shape: tuple, stride: tuple,
                               padding: tuple, dilation: tuple, groups: int):
        """The gradient of ``conv2d`` wrt its weight of ``weight_shape``, given dy and the
        input x: dw = sum over the batch of dy_n cross-correlated with x_n."""
    @abstractmethod
    def max_pool2d(self, x, kernel_size: tuple, stride: tuple, padding: tuple,
                   dilation: tuple, ceil_mode: bool):
        """(values, indices) of max pooling x (N, C, H, W); indices are int64 flat
        positions iy * W + ix inside each (n, c) plane (PyTorch's convention)."""
    @abstractmethod
    def max_pool2d_backward(self, dy, indices, input_shape: tuple):
        """zeros(input_shape) with dy added at ``indices`` in each (n, c) plane."""
    @abstractmethod
    def avg_pool2d(self, x, kernel_size: tuple, stride: tuple, padding: tuple,
                   ceil_mode: bool, count_include_pad: bool, divisor_override: int | None):
        """Average pooling of x (N, C, H, W), PyTorch's semantics."""
    @abstractmethod
    def avg_pool2d_backward(self, dy, input_shape: tuple, kernel_size: tuple, stride: tuple,
                            padding: tuple, ceil_mode: bool, count_include_pad: bool,
                            divisor_override: int | None):
        """The gradient of ``avg_pool2d`` wrt its input of ``input_shape``."""
    @abstractmethod
    def adaptive_avg_pool2d(self, x, output_size: tuple):
        """Average of x (N, C, H, W) over ``output_size`` adaptive windows: output cell i
        covers rows [floor(i H / OH), ceil((i + 1) H / OH)), likewise columns."""
    @abstractmethod
    def adaptive_avg_pool2d_backward(self, dy, input_shape: tuple):
        """The gradient of ``adaptive_avg_pool2d`` wrt its input of ``input_shape``."""

    # ---- attention ---------------------------------------------------------------
    @abstractmethod
    def attention_forward(self, q, k, v, mask, is_causal: bool, scale: float | None):
        """Fused scaled-dot-product attention: ``(out, lse)`` with
        out = softmax(q k^T * scale + mask) v and lse the per-row logsumexp of the scores
        (what the backward needs). q (B, H, Lq, D), k (B, H, Lk, D), v (B, H, Lk, Dv) of one
        float dtype; ``mask`` None, bool (True = attend) or additive float, broadcastable to
        (B, H, Lq, Lk); ``is_causal`` lets query i see keys j <= i only; ``scale`` None means
        1/sqrt(D). Never stores the Lq x Lk matrix. Fully masked rows give 0 (lse -inf)."""
    @abstractmethod
    def attention_backward(self, dout, q, k, v, out, lse, mask, is_causal: bool,
                           scale: float | None):
        """``(dq, dk, dv)``: the gradients of ``attention_forward`` given dout = dL/dout and
        the forward's ``out`` and ``lse`` (probabilities recomputed block by block)."""

    # ---- optimizers --------------------------------------------------------------
    @abstractmethod
    def adam_step_(self, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *, lr: float,
                   beta1: float, beta2: float, eps: float, weight_decay: float, step: int,
                   amsgrad: bool, maximize: bool, decoupled: bool) -> None:
        """One fused Adam/AdamW update of ``param``, ``exp_avg``, ``exp_avg_sq`` (and
        ``max_exp_avg_sq`` with amsgrad) in place, in a single pass over memory."""
