"""The CPU backend: NumPy arrays, with ember's own native kernels (``ember._C``) where
they matter (GEMM, and later conv2d, attention, fused Adam)."""

from __future__ import annotations

import numpy as np

from .. import _C
from .base import Backend

_COMPARE = {"eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal,
            "gt": np.greater, "ge": np.greater_equal}
_LOGICAL = {"and": np.logical_and, "or": np.logical_or, "xor": np.logical_xor}
def _quiet():
    """log(0) = -inf and 0/0 = nan, as in PyTorch, without NumPy warnings."""
    return np.errstate(all="ignore")


class CPUBackend(Backend):
    name = "cpu"

    # ---- moving data in and out --------------------------------------------------
    def from_numpy(self, arr, dtype):
        return np.asarray(arr, dtype=dtype.np)

    def to_numpy(self, x):
        return x

    # ---- creation ----------------------------------------------------------------
    def full(self, shape, value, dtype):
        return np.full(shape, value, dtype=dtype.np)

    def arange(self, start, stop, step, dtype):
        return np.arange(start, stop, step, dtype=dtype.np)

    def linspace(self, start, stop, steps, dtype):
        return np.linspace(start, stop, steps, dtype=dtype.np)

    def eye(self, n, m, dtype):
        return np.eye(n, m, dtype=dtype.np)

    def rand(self, shape, dtype, generator):
        return generator.np.random(shape, dtype=dtype.np)

    def randn(self, shape, dtype, generator):
        return generator.np.standard_normal(shape, dtype=dtype.np)

    def randint(self, low, high, shape, generator):
        return generator.np.integers(low, high, size=shape, dtype=np.int64)

    # ---- copies and casts --------------------------------------------------------
    def astype(self, x, dtype):
        return x.astype(dtype.np)

    def copy(self, x):
        return np.array(x, copy=True, order="C")

    def assign_(self, dst, src):
        np.copyto(dst, src, casting="unsafe")

    def setitem_(self, dst, index, src):
        dst[index] = src

    # ---- elementwise -------------------------------------------------------------
    def neg(self, x):
        return np.negative(x)

    def exp(self, x):
        with _quiet():
            return np.exp(x)

    def log(self, x):
        with _quiet():
            return np.log(x)

    def log1p(self, x):
        with _quiet():
            return np.log1p(x)

    def sqrt(self, x):
        with _quiet():
            return np.sqrt(x)

    def abs(self, x):
        return np.abs(x)

    def sign(self, x):
        return np.sign(x)

    def sin(self, x):
        return np.sin(x)

    def cos(self, x):
        return np.cos(x)

    def tanh(self, x):
        return np.tanh(x)

    def sigmoid(self, x):
        # e = exp(-|x|) never overflows: x >= 0 -> 1/(1+e), x < 0 -> e/(1+e)
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)

    def softplus(self, x, beta, threshold):
        # log(1 + e^z) = max(z, 0) + log1p(e^-|z|), z = beta x
        z = x * x.dtype.type(beta)
        soft = (np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))) / x.dtype.type(beta)
        return np.where(z > threshold, x, soft).astype(x.dtype, copy=False)

    def erf(self, x):
        return _C.erf(x)

    def add(self, a, b):
        return np.add(a, b)

    def sub(self, a, b):
        return np.subtract(a, b)

    def mul(self, a, b):
        return np.multiply(a, b)

    def div(self, a, b):
        with _quiet():
            if a.dtype.kind in "iub":
                return np.floor_divide(a, b)
            return np.divide(a, b)

    def pow(self, a, b):
        with _quiet():
            return np.power(a, b)

    def maximum(self, a, b):
        return np.maximum(a, b)

    def minimum(self, a, b):
        return np.minimum(a, b)

    def compare(self, op, a, b):
        return _COMPARE[op](a, b)

    def logical(self, op, a, b=None):
        if op == "not":
            return np.logical_not(a)
        return _LOGICAL[op](a, b)

    def where(self, cond, a, b):
        return np.where(cond, a, b)

    def relu(self, x):
        if x.dtype.kind != "f":  # the native kernel is for floats; ints take NumPy's
            return np.maximum(x, x.dtype.type(0))
        return _C.relu(x)

    def relu_backward(self, g, y):
        return _C.relu_backward(g, y)

    def gelu(self, x, approximate):
        return _C.gelu(x, approximate == "tanh")

    def gelu_backward(self, g, x, approximate):
        return _C.gelu_backward(g, x, approximate == "tanh")

    def layer_norm(self, x, weight, bias, eps):
        return _C.layer_norm_forward(x, weight, bias, eps)

    def layer_norm_backward(self, g, x, weight, mean, rstd):
        return _C.layer_norm_backward(g, x, weight, mean, rstd)

    def clip(self, x, lo, hi):
        if lo is not None:
            x = np.maximum(x, x.dtype.type(lo))
        if hi is not None:
            x = np.minimum(x, x.dtype.type(hi))
        return x

    # ---- reductions --------------------------------------------------------------
    def sum(self, x, axes, keepdims):
        dtype = np.int64 if x.dtype == np.bool_ else x.dtype
        return np.sum(x, axis=axes, keepdims=keepdims, dtype=dtype)

    def max(self, x, axes, keepdims):
        return np.max(x, axis=axes, keepdims=keepdims)

    def min(self, x, axes, keepdims):
        return np.min(x, axis=axes, keepdims=keepdims)

    def argmax(self, x, axis, keepdims):
        return np.argmax(x, axis=axis, keepdims=keepdims).astype(np.int64, copy=False)

    def argmin(self, x, axis, keepdims):
        return np.argmin(x, axis=axis, keepdims=keepdims).astype(np.int64, copy=False)

    def argsort(self, x, axis, descending):
        return argsort_numpy(x, axis, descending)

    # ---- shape and indexing ------------------------------------------------------
    def reshape(self, x, shape):
        return np.reshape(x, shape)

    def permute(self, x, axes):
        return np.transpose(x, axes)

    def broadcast_to(self, x, shape):
        return np.broadcast_to(x, shape)

    def getitem(self, x, index):
        return x[index]

    def index_add(self, shape, index, values, dtype):
        out = np.zeros(shape, dtype=dtype.np)
        if _is_basic_index(index):
            out[index] = values  # a basic index selects each element at most once
        else:
            np.add.at(out, index, values)
        return out

    def gather(self, x, axis, index):
        # torch.gather allows index to be smaller than x in the other dims
        if index.shape != x.shape:
            x = x[tuple(slice(0, index.shape[d]) if d != axis else slice(None)
                        for d in range(x.ndim))]
        return np.take_along_axis(x, index, axis=axis)

    def scatter_add(self, shape, axis, index, src):
        out = np.zeros(shape, dtype=src.dtype)
        idx = list(np.ix_(*[np.arange(n) for n in index.shape]))
        idx[axis] = index
        src = src[tuple(slice(0, n) for n in index.shape)]
        np.add.at(out, tuple(idx), src)
        return out

    def cat(self, xs, axis):
        return np.concatenate(xs, axis=axis)

    def pad(self, x, widths, value):
        return np.pad(x, widths, mode="constant", constant_values=value)

    # ---- linear algebra ----------------------------------------------------------
    def matmul(self, a, b):
        return _C.matmul(a, b)

    # ---- convolution and pooling (ember's native kernels) --------------------------
    def conv2d(self, x, w, stride, padding, dilation, groups, bias=None):
        return _C.conv2d_forward(x, w, stride, padding, dilation, groups, bias=bias)

    def conv2d_backward_data(self, dy, w, input_shape, stride, padding, dilation, groups):
        return _C.conv2d_backward_data(dy, w, input_shape, stride, padding, dilation, groups)

    def conv2d_backward_weight(self, dy, x, weight_shape, stride, padding, dilation, groups):
        return _C.conv2d_backward_weight(dy, x, weight_shape, stride, padding, dilation,
                                         groups)

    def max_pool2d(self, x, kernel_size, stride, padding, dilation, ceil_mode):
        return _C.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode)

    def max_pool2d_backward(self, dy, indices, input_shape):
        return _C.max_pool2d_backward(dy, indices, input_shape)

    def avg_pool2d(self, x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                   divisor_override):
        return _C.avg_pool2d(x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                             divisor_override or 0)

    def avg_pool2d_backward(self, dy, input_shape, kernel_size, stride, padding, ceil_mode,
                            count_include_pad, divisor_override):
        return _C.avg_pool2d_backward(dy, input_shape, kernel_size, stride, padding, ceil_mode,
                                      count_include_pad, divisor_override or 0)

    def adaptive_avg_pool2d(self, x, output_size):
        return _C.adaptive_avg_pool2d(x, output_size)

    def adaptive_avg_pool2d_backward(self, dy, input_shape):
        return _C.adaptive_avg_pool2d_backward(dy, input_shape)

    # ---- attention ---------------------------------------------------------------
    def attention_forward(self, q, k, v, mask, is_causal, scale):
        return _C.attention_forward(q, k, v, mask, is_causal, scale)

    def attention_backward(self, dout, q, k, v, out, lse, mask, is_causal, scale):
        return _C.attention_backward(dout, q, k, v, out, lse, mask, is_causal, scale)

    # ---- optimizers --------------------------------------------------------------
    def adam_step_(self, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *, lr, beta1, beta2,
                   eps, weight_decay, step, amsgrad, maximize, decoupled):
        _C.adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr, beta1, beta2, eps,
                     weight_decay, step, amsgrad, maximize, decoupled)

    # ---- recurrent layers: the whole time loop in one native call (csrc/cpu/rnn.cpp) --
    def lstm_forward(self, x_proj, w_hh, b_hh, h0, c0, reverse):
        return _C.lstm_forward(x_proj, w_hh, b_hh, h0, c0, reverse)

    def lstm_backward(self, dhs, dh_n, dc_n, hs, cs, gates, h0, c0, w_hh, reverse):
        return _C.lstm_backward(dhs, dh_n, dc_n, hs, cs, gates, h0, c0, w_hh, reverse)

    def gru_forward(self, x_proj, w_hh, b_hh, h0, reverse):
        return _C.gru_forward(x_proj, w_hh, b_hh, h0, reverse)

    def gru_backward(self, dhs, dh_n, hs, gates, h0, w_hh, reverse):
        return _C.gru_backward(dhs, dh_n, hs, gates, h0, w_hh, reverse)

    def rnn_forward(self, x_proj, w_hh, b_hh, h0, reverse, relu):
        return _C.rnn_forward(x_proj, w_hh, b_hh, h0, reverse, relu)

    def rnn_backward(self, dhs, dh_n, hs, h0, w_hh, reverse, relu):
        return _C.rnn_backward(dhs, dh_n, hs, h0, w_hh, reverse, relu)


def _is_basic_index(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, slice, type(None), type(Ellipsis))) for i in items)


def argsort_numpy(x: np.ndarray, axis: int, descending: bool) -> np.ndarray:
    """Stable int64 argsort with PyTorch's order: NumPy's ascending order already puts NaN
    last; descending sorts the reversed array ascending and reverses the result, so equal
    values keep their original order and NaN comes first."""
    if not descending:
        return np.argsort(x, axis=axis, kind="stable").astype(np.int64)
    n = x.shape[axis]
    rev = np.argsort(np.flip(x, axis), axis=axis, kind="stable")
    return (n - 1 - np.flip(rev, axis)).astype(np.int64)
