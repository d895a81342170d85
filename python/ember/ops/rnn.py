"""Recurrent ops: one step of an RNN / LSTM / GRU cell, and a whole layer over a sequence.

The step formulas live here, once (the native kernels in csrc/cpu/rnn.cpp and the
primitive-composed loops in ember/backend/base.py implement exactly these). With
x_proj = x W_ih^T + b_ih (all steps in one product) and the gates stacked in PyTorch's
order:

    RNN:   h' = act(x_proj + h W_hh^T + b_hh)                       act = tanh or relu
           da = dh' act'(...);  dh = da W_hh

    LSTM:  a = x_proj + h W_hh^T + b_hh = [a_i, a_f, a_g, a_o]
           i, f, o = sigmoid(a_i, a_f, a_o);  g = tanh(a_g)
           c' = f c + i g;  h' = o tanh(c')
           with dc_total = dc' + dh' o (1 - tanh(c')^2):
           da_i = dc_total g i (1 - i);   da_f = dc_total c f (1 - f)
           da_g = dc_total i (1 - g^2);   da_o = dh' tanh(c') o (1 - o)
           dc = dc_total f;  dh = da W_hh

    GRU:   [h_r, h_z, h_n] = h W_hh^T + b_hh;  [x_r, x_z, x_n] = x_proj
           r = sigmoid(x_r + h_r);  z = sigmoid(x_z + h_z);  n = tanh(x_n + r h_n)
           h' = (1 - z) n + z h
           d(pre_n) = dh' (1 - z) (1 - n^2);  d(pre_r) = d(pre_n) h_n r (1 - r)
           d(pre_z) = dh' (h - n) z (1 - z)
           dx_proj = [d(pre_r), d(pre_z), d(pre_n)];  dh_proj = [d(pre_r), d(pre_z), d(pre_n) r]
           dh = dh' z + dh_proj W_hh

    and for all three, over the sequence: dW_hh = sum_t da_t^T h_{t-1};  db_hh = sum_t da_t.

``rnn_cell`` / ``lstm_cell`` / ``gru_cell`` are these steps written with Tensor ops: the
readable reference, differentiable to any order (autograd derives the backward lines).
``LSTMLayer`` / ``GRULayer`` / ``RNNLayer`` run one direction of one layer over the whole
sequence as *one* graph node: ``backend.lstm_forward`` (on the CPU the entire time loop is
native code: per step one GEMM and one vectorised pointwise loop) and
``backend.lstm_backward`` (backprop through time with the lines above; dW_hh in one GEMM).
A sequence of L steps then costs two nodes instead of ~10 L. Their backward is a fused
kernel: first derivatives only (``once_differentiable``).
"""

from __future__ import annotations

from ..autograd.function import Function, once_differentiable
from ..tensor import Tensor
from .activation import sigmoid
from .elementwise import tanh
from .linalg import linear

_HINT = ("Set ember.nn.RNNBase.use_fused_cells = False to use the composite cells "
         "(differentiable to any order).")


# ---- one step, composite ---------------------------------------------------------------------
def rnn_cell(x_proj: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None,
             relu: bool = False) -> Tensor:
    """h' of one Elman RNN step (formula in the module docstring)."""
    pre = x_proj + linear(h, w_hh, b_hh)
    return pre.relu() if relu else tanh(pre)


def lstm_cell(x_proj: Tensor, h: Tensor, c: Tensor, w_hh: Tensor,
              b_hh: Tensor | None) -> tuple[Tensor, Tensor]:
    """(h', c') of one LSTM step (formula in the module docstring)."""
    i, f, g, o = (x_proj + linear(h, w_hh, b_hh)).chunk(4, dim=-1)
    c = sigmoid(f) * c + sigmoid(i) * tanh(g)
    return sigmoid(o) * tanh(c), c


def gru_cell(x_proj: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> Tensor:
    """h' of one GRU step (formula in the module docstring; the reset gate scales h_n
    including its bias, as PyTorch's GRU does)."""
    xr, xz, xn = x_proj.chunk(3, dim=-1)
    hr, hz, hn = linear(h, w_hh, b_hh).chunk(3, dim=-1)
    r, z = sigmoid(xr + hr), sigmoid(xz + hz)
    n = tanh(xn + r * hn)
    return n + z * (h - n)


# ---- whole layers over a sequence ------------------------------------------------------------

def _wrap(x, dev):
    return Tensor._wrap(x, dev)


def _last(b, seq, reverse: bool):
    """A copy of the state after the last step processed (step 0 when running backwards)."""
    return b.copy(b.getitem(seq, 0 if reverse else seq.shape[0] - 1))


class LSTMLayer(Function):
    higher_order_hint = _HINT

    # x_proj (L, N, 4H) = x W_ih^T + b_ih, w_hh, b_hh (or None), h0, c0  ->  (hs, h_n, c_n).
    # Per step (backend.lstm_forward): a = x_proj[t] + h W_hh^T + b_hh;  i, f, o = sigmoid,
    # g = tanh;  c = f c + i g;  h = o tanh(c). Backward: backend.lstm_backward (BPTT, the
    # formulas are in its docstring); d(x_proj) is d(gates), since x_proj enters additively.
    @staticmethod
    def forward(ctx, x_proj, w_hh, b_hh, h0, c0, reverse):
        b = ctx.backend
        hs, cs, gates = b.lstm_forward(x_proj, w_hh, b_hh, h0, c0, reverse)
        ctx.reverse, ctx.has_bias = reverse, b_hh is not None
        ctx.save_for_backward(hs, cs, gates, h0, c0, w_hh)
        return hs, _last(b, hs, reverse), _last(b, cs, reverse)

    @staticmethod
    @once_differentiable
    def backward(ctx, dhs, dh_n, dc_n):
        hs, cs, gates, h0, c0, w_hh = (t._data for t in ctx.saved_tensors)
        dev = dhs.device
        dx, dw, db, dh0, dc0 = ctx.backend.lstm_backward(
            dhs._data, dh_n._data, dc_n._data, hs, cs, gates, h0, c0, w_hh, ctx.reverse)
        return (_wrap(dx, dev), _wrap(dw, dev), _wrap(db, dev) if ctx.has_bias else None,
                _wrap(dh0, dev), _wrap(dc0, dev), None)

    @staticmethod
    def flops(ctx, arrays, out_array) -> float:
        steps, batch, width = arrays[0].shape
        return 2.0 * steps * batch * width * arrays[1].shape[1]  # the recurrent GEMMs


class GRULayer(Function):
    higher_order_hint = _HINT

    # x_proj (L, N, 3H), w_hh, b_hh (or None), h0  ->  (hs, h_n). Per step
    # (backend.gru_forward): [h_r, h_z, hn] = h W_hh^T + b_hh;  r = sigmoid(x_r + h_r);
    # z = sigmoid(x_z + h_z);  n = tanh(x_n + r hn);  h = (1 - z) n + z h_prev.
    @staticmethod
    def forward(ctx, x_proj, w_hh, b_hh, h0, reverse):
        b = ctx.backend
        hs, gates = b.gru_forward(x_proj, w_hh, b_hh, h0, reverse)
        ctx.reverse, ctx.has_bias = reverse, b_hh is not None
        ctx.save_for_backward(hs, gates, h0, w_hh)
        return hs, _last(b, hs, reverse)

    @staticmethod
    @once_differentiable
    def backward(ctx, dhs, dh_n):
        hs, gates, h0, w_hh = (t._data for t in ctx.saved_tensors)
        dev = dhs.device
        dx, dw, db, dh0 = ctx.backend.gru_backward(dhs._data, dh_n._data, hs, gates, h0, w_hh,
                                                   ctx.reverse)
        return (_wrap(dx, dev), _wrap(dw, dev), _wrap(db, dev) if ctx.has_bias else None,
                _wrap(dh0, dev), None)

    flops = LSTMLayer.flops


class RNNLayer(Function):
    higher_order_hint = _HINT

    # x_proj (L, N, H), w_hh, b_hh (or None), h0  ->  (hs, h_n) with
    # h = act(x_proj[t] + h_prev W_hh^T + b_hh), act = tanh or relu.
    @staticmethod
    def forward(ctx, x_proj, w_hh, b_hh, h0, reverse, relu):
        b = ctx.backend
        hs = b.rnn_forward(x_proj, w_hh, b_hh, h0, reverse, relu)
        ctx.reverse, ctx.relu, ctx.has_bias = reverse, relu, b_hh is not None
        ctx.save_for_backward(hs, h0, w_hh)
        return hs, _last(b, hs, reverse)

    @staticmethod
    @once_differentiable
    def backward(ctx, dhs, dh_n):
        hs, h0, w_hh = (t._data for t in ctx.saved_tensors)
        dev = dhs.device
        dx, dw, db, dh0 = ctx.backend.rnn_backward(dhs._data, dh_n._data, hs, h0, w_hh,
                                                   ctx.reverse, ctx.relu)
        return (_wrap(dx, dev), _wrap(dw, dev), _wrap(db, dev) if ctx.has_bias else None,
                _wrap(dh0, dev), None, None)

    flops = LSTMLayer.flops


def _check_layer(name: str, gates: int, x_proj: Tensor, w_hh: Tensor, b_hh, states) -> None:
    """Shapes and dtypes of a layer op's arguments, checked before any kernel runs."""
    h = states[0].shape[-1] if states[0].ndim == 2 else -1
    n = states[0].shape[0] if states[0].ndim == 2 else -1
    ok = (x_proj.ndim == 3 and x_proj.shape[1:] == (n, gates * h) and x_proj.shape[0] > 0
          and w_hh.shape == (gates * h, h) and (b_hh is None or b_hh.shape == (gates * h,))
          and all(s.shape == (n, h) for s in states))
    if not ok:
        named = [("x_proj", x_proj), ("w_hh", w_hh), ("b_hh", b_hh), ("h0", states[0]),
                 ("c0", states[-1] if len(states) > 1 else None)]
        got = ", ".join(f"{a} {t.shape}" for a, t in named if t is not None)
        raise ValueError(f"{name}: expected x_proj (L, N, {gates}H) with L > 0, w_hh "
                         f"({gates}H, H), b_hh ({gates}H,) or None and states (N, H); got {got}")
    tensors = [x_proj, w_hh, *states] + ([b_hh] if b_hh is not None else [])
    if len({t.dtype for t in tensors}) != 1 or not x_proj.dtype.is_floating_point:
        raise TypeError(f"{name}: all tensors must share one floating dtype, got "
                        f"{[str(t.dtype) for t in tensors]}")


def lstm_layer(x_proj: Tensor, w_hh: Tensor, b_hh: Tensor | None, h0: Tensor, c0: Tensor,
               reverse: bool = False) -> tuple[Tensor, Tensor, Tensor]:
    """One LSTM layer direction over a sequence: ``(hs (L, N, H), h_n, c_n)`` from the input
    projection x_proj (L, N, 4H), w_hh (4H, H), b_hh (4H,) or None and h0, c0 (N, H)."""
    _check_layer("lstm_layer", 4, x_proj, w_hh, b_hh, (h0, c0))
    return LSTMLayer.apply(x_proj, w_hh, b_hh, h0, c0, bool(reverse))


def gru_layer(x_proj: Tensor, w_hh: Tensor, b_hh: Tensor | None, h0: Tensor,
              reverse: bool = False) -> tuple[Tensor, Tensor]:
    """One GRU layer direction over a sequence: ``(hs (L, N, H), h_n)`` from x_proj
    (L, N, 3H), w_hh (3H, H), b_hh (3H,) or None and h0 (N, H)."""
    _check_layer("gru_layer", 3, x_proj, w_hh, b_hh, (h0,))
    return GRULayer.apply(x_proj, w_hh, b_hh, h0, bool(reverse))


def rnn_layer(x_proj: Tensor, w_hh: Tensor, b_hh: Tensor | None, h0: Tensor,
              reverse: bool = False, relu: bool = False) -> tuple[Tensor, Tensor]:
    """One Elman RNN layer direction (tanh, or relu) over a sequence: ``(hs, h_n)``."""
    _check_layer("rnn_layer", 1, x_proj, w_hh, b_hh, (h0,))
    return RNNLayer.apply(x_proj, w_hh, b_hh, h0, bool(reverse), bool(relu))
