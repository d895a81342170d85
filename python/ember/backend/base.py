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

import numpy as np

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

    def scalar(self, value, dtype) -> Array:
        """A 0-d array holding ``value``, for an op's constant operand (``x * 0.5``). It is
        only ever read, so a backend may hand out one cached array per (dtype, value): on a
        GPU that saves a host-to-device copy (and the wait it implies) per constant."""
        return self.from_numpy(np.asarray(value), dtype)

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
    def relu(self, x):
        """max(x, 0). A default in terms of ``maximum``; backends may run it threaded."""
        return self.maximum(x, x.dtype.type(0))

    # ---- fused activations and normalisation ------------------------------------
    # One pass each over memory; the formulas are beside the ops that call them
    # (ember/ops/activation.py Gelu/ReLU, ember/ops/normalization.py LayerNorm).
    @abstractmethod
    def relu_backward(self, g, y):
        """``g`` where ``y > 0``, else 0: relu's backward from its output."""
    @abstractmethod
    def gelu(self, x, approximate: str):
        """gelu(x), exact (``'none'``) or ``'tanh'``-approximated."""
    @abstractmethod
    def gelu_backward(self, g, x, approximate: str):
        """g * gelu'(x)."""
    @abstractmethod
    def layer_norm(self, x, weight, bias, eps: float):
        """``(y, mean, rstd)`` of layer norm over the last axis (mean, rstd: x.shape[:-1];
        weight/bias: (d,) arrays or None)."""
    @abstractmethod
    def layer_norm_backward(self, g, x, weight, mean, rstd):
        """``(dx, dweight, dbias)`` of ``layer_norm`` (dweight/dbias of shape (d,))."""

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
    @abstractmethod
    def argsort(self, x, axis: int, descending: bool):
        """int64 indices sorting ``x`` along ``axis``: stable (ties keep their order), NaN
        the largest value (last ascending, first descending) -- PyTorch's order."""

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
    def conv2d(self, x, w, stride: tuple, padding: tuple, dilation: tuple, groups: int,
               bias=None):
        """Cross-correlation of x (N, C_in, H, W) with w (C_out, C_in/groups, kH, kW),
        zero padding ``padding`` on each side, plus ``bias`` (C_out,) per output channel
        when given: y (N, C_out, OH, OW)."""
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

    # ---- recurrent layers (one layer, one direction, a whole sequence) --------------
    # The step formulas (forward and backward) are in ember/ops/rnn.py. Defaults written
    # with the primitives above (a Python loop over time), so any backend runs them as is;
    # the CPU backend overrides them with fused native kernels. Layouts:
    # x_proj (L, N, G*H) = x W_ih^T + b_ih, w_hh (G*H, H), b_hh (G*H,) or None, h0/c0 (N, H);
    # gates stacked in PyTorch's order (LSTM: i, f, g, o; GRU: r, z, n); ``reverse`` runs the
    # steps t = L-1 .. 0 (the backward direction of a bidirectional layer).
    def lstm_forward(self, x_proj, w_hh, b_hh, h0, c0, reverse: bool):
        """``(hs, cs, gates)``: the states h, c (L, N, H) after every step and the gate
        activations [i, f, g, o] (L, N, 4H) the backward needs."""
        steps, hid = x_proj.shape[0], h0.shape[-1]
        w_t = self.permute(w_hh, (1, 0))
        h, c = h0, c0
        hs, cs, acts = [None] * steps, [None] * steps, [None] * steps
        for t in _rnn_steps(steps, reverse):
            a = self.add(self.getitem(x_proj, t), self.matmul(h, w_t))
            if b_hh is not None:
                a = self.add(a, b_hh)
            i, f, o = (self.sigmoid(_rnn_gate(self, a, k, hid)) for k in (0, 1, 3))
            g = self.tanh(_rnn_gate(self, a, 2, hid))
            c = self.add(self.mul(f, c), self.mul(i, g))
            h = self.mul(o, self.tanh(c))
            hs[t], cs[t], acts[t] = h, c, self.cat([i, f, g, o], 1)
        return _rnn_stack(self, hs), _rnn_stack(self, cs), _rnn_stack(self, acts)

    def lstm_backward(self, dhs, dh_n, dc_n, hs, cs, gates, h0, c0, w_hh, reverse: bool):
        """``(dx_proj, dw_hh, db_hh, dh0, dc0)``: backprop through time of ``lstm_forward``
        from dhs (L, N, H) (the gradient of every output h) and dh_n, dc_n (N, H); at each
        step dh' = dhs[t] + the gradient from step t+1."""
        steps, hid = hs.shape[0], h0.shape[-1]
        order = list(_rnn_steps(steps, reverse))
        dh, dc = dh_n, dc_n
        das = [None] * steps
        for k in range(steps - 1, -1, -1):
            t = order[k]
            c_prev = c0 if k == 0 else self.getitem(cs, order[k - 1])
            act = self.getitem(gates, t)
            i, f, g, o = (_rnn_gate(self, act, j, hid) for j in range(4))
            dh = self.add(dh, self.getitem(dhs, t))
            tc = self.tanh(self.getitem(cs, t))
            dct = self.add(dc, self.mul(self.mul(dh, o), self.sub(1.0, self.mul(tc, tc))))
            di = self.mul(self.mul(dct, g), self.mul(i, self.sub(1.0, i)))
            df = self.mul(self.mul(dct, c_prev), self.mul(f, self.sub(1.0, f)))
            dg = self.mul(self.mul(dct, i), self.sub(1.0, self.mul(g, g)))
            do = self.mul(self.mul(dh, tc), self.mul(o, self.sub(1.0, o)))
            das[t] = self.cat([di, df, dg, do], 1)
            dh, dc = self.matmul(das[t], w_hh), self.mul(dct, f)
        dx = _rnn_stack(self, das)
        dw, db = _rnn_weight_grads(self, dx, hs, h0, order)
        return dx, dw, db, dh, dc

    def gru_forward(self, x_proj, w_hh, b_hh, h0, reverse: bool):
        """``(hs, gates)``: the states (L, N, H) and per step [r, z, n, h_n] (L, N, 4H)."""
        steps, hid = x_proj.shape[0], h0.shape[-1]
        w_t = self.permute(w_hh, (1, 0))
        h = h0
        hs, acts = [None] * steps, [None] * steps
        for t in _rnn_steps(steps, reverse):
            xp, hp = self.getitem(x_proj, t), self.matmul(h, w_t)
            if b_hh is not None:
                hp = self.add(hp, b_hh)
            r, z = (self.sigmoid(self.add(_rnn_gate(self, xp, k, hid), _rnn_gate(self, hp, k, hid)))
                    for k in (0, 1))
            hn = _rnn_gate(self, hp, 2, hid)
            n = self.tanh(self.add(_rnn_gate(self, xp, 2, hid), self.mul(r, hn)))
            h = self.add(n, self.mul(z, self.sub(h, n)))
            hs[t], acts[t] = h, self.cat([r, z, n, hn], 1)
        return _rnn_stack(self, hs), _rnn_stack(self, acts)

    def gru_backward(self, dhs, dh_n, hs, gates, h0, w_hh, reverse: bool):
        """``(dx_proj, dw_hh, db_hh, dh0)``: backprop through time of ``gru_forward``."""
        steps, hid = hs.shape[0], h0.shape[-1]
        order = list(_rnn_steps(steps, reverse))
        dh = dh_n
        dxs, dhps = [None] * steps, [None] * steps
        for k in range(steps - 1, -1, -1):
            t = order[k]
            h_prev = h0 if k == 0 else self.getitem(hs, order[k - 1])
            act = self.getitem(gates, t)
            r, z, n, hn = (_rnn_gate(self, act, j, hid) for j in range(4))
            dh = self.add(dh, self.getitem(dhs, t))
            dpre_n = self.mul(self.mul(dh, self.sub(1.0, z)), self.sub(1.0, self.mul(n, n)))
            dpre_r = self.mul(self.mul(dpre_n, hn), self.mul(r, self.sub(1.0, r)))
            dpre_z = self.mul(self.mul(dh, self.sub(h_prev, n)), self.mul(z, self.sub(1.0, z)))
            dxs[t] = self.cat([dpre_r, dpre_z, dpre_n], 1)
            dhps[t] = self.cat([dpre_r, dpre_z, self.mul(dpre_n, r)], 1)
            dh = self.add(self.mul(dh, z), self.matmul(dhps[t], w_hh))
        dw, db = _rnn_weight_grads(self, _rnn_stack(self, dhps), hs, h0, order)
        return _rnn_stack(self, dxs), dw, db, dh

    def rnn_forward(self, x_proj, w_hh, b_hh, h0, reverse: bool, relu: bool):
        """hs (L, N, H) of an Elman RNN (act = relu or tanh)."""
        w_t = self.permute(w_hh, (1, 0))
        h = h0
        hs = [None] * x_proj.shape[0]
        for t in _rnn_steps(x_proj.shape[0], reverse):
            pre = self.add(self.getitem(x_proj, t), self.matmul(h, w_t))
            if b_hh is not None:
                pre = self.add(pre, b_hh)
            h = self.maximum(pre, 0.0) if relu else self.tanh(pre)
            hs[t] = h
        return _rnn_stack(self, hs)

    def rnn_backward(self, dhs, dh_n, hs, h0, w_hh, reverse: bool, relu: bool):
        """``(dx_proj, dw_hh, db_hh, dh0)`` of ``rnn_forward`` (tanh' = 1 - h^2 and
        relu' = [h > 0], both from the output h)."""
        steps = hs.shape[0]
        order = list(_rnn_steps(steps, reverse))
        dh = dh_n
        dpres = [None] * steps
        for k in range(steps - 1, -1, -1):
            t = order[k]
            h = self.getitem(hs, t)
            dh = self.add(dh, self.getitem(dhs, t))
            # relu' = [h > 0] = sign(h), as h = relu(pre) >= 0
            slope = self.sign(h) if relu else self.sub(1.0, self.mul(h, h))
            dpres[t] = self.mul(dh, slope)
            dh = self.matmul(dpres[t], w_hh)
        dx = _rnn_stack(self, dpres)
        dw, db = _rnn_weight_grads(self, dx, hs, h0, order)
        return dx, dw, db, dh


def _rnn_steps(steps: int, reverse: bool):
    return range(steps - 1, -1, -1) if reverse else range(steps)


def _rnn_gate(b: Backend, x, k: int, hid: int):
    """Columns [k*hid, (k+1)*hid) of the last dimension (a view)."""
    return b.getitem(x, (Ellipsis, slice(k * hid, (k + 1) * hid)))


def _rnn_stack(b: Backend, xs: list):
    """(N, C) arrays -> (len(xs), N, C)."""
    return b.cat([b.reshape(x, (1, *x.shape)) for x in xs], 0)


def _rnn_weight_grads(b: Backend, dpre, hs, h0, order: list):
    """dW_hh = sum_t dpre[t]^T h_prev(t) and db_hh = sum_t sum_n dpre[t] for dpre (L, N, G*H),
    with h_prev the state each step read (h0 for the first step of ``order``)."""
    steps, batch, width = dpre.shape
    prev = [None] * steps
    for k, t in enumerate(order):
        prev[t] = h0 if k == 0 else b.getitem(hs, order[k - 1])
    flat = b.reshape(dpre, (steps * batch, width))
    h_prev = b.reshape(_rnn_stack(b, prev), (steps * batch, h0.shape[-1]))
    return b.matmul(b.permute(flat, (1, 0)), h_prev), b.sum(flat, (0,), False)
