"""Fused recurrent ops: a whole layer over a sequence as one node, and single-step cells.

``LSTMLayer`` / ``GRULayer`` / ``RNNLayer`` run one direction of one layer over the whole
sequence as *one* graph node: the forward calls ``backend.lstm_forward`` (on the CPU the
entire time loop is native code: per step one GEMM and one vectorised pointwise loop) and
the backward ``backend.lstm_backward`` (backprop through time, dW_hh in one GEMM). A
sequence of L steps then costs two nodes instead of ~10 L. ``ember.nn.LSTM``/``GRU``/``RNN``
use them; the cells below are the per-step building blocks for custom loops.

Fused recurrent cells: the pointwise part of one LSTM / GRU time step as one node.

A step of an LSTM is a matrix product (``W_hh h``) followed by ~10 small pointwise ops
(four gate nonlinearities, the cell update, ...). As separate graph nodes each costs Python
time in forward *and* backward, and a sequence runs thousands of them. These Functions
compute the pointwise part directly on backend arrays and write their backward by hand
(the formulas below), so a step is a handful of nodes. ``ember.nn.LSTM``/``GRU`` use them;
the composite versions in ``ember/nn/layers/rnn.py`` (``_lstm_cell``/``_gru_cell``) are the
readable reference they are tested against.

Like the fused attention op, all of these have a dedicated backward: first derivatives
only (``create_graph=True`` raises; set ``ember.nn.RNNBase.use_fused_cells = False`` for
higher-order gradients through recurrent layers).
"""

from __future__ import annotations

from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor


def _no_double_backward(name: str) -> None:
    if is_grad_enabled():
        raise RuntimeError(
            f"{name}: the fused recurrent op has first derivatives only, so create_graph=True "
            "is not supported; set ember.nn.RNNBase.use_fused_cells = False to use the "
            "composite cells (differentiable to any order)")


def _gate(b, x, k: int, h: int):
    """Columns [k*h, (k+1)*h) of the last dimension (a view)."""
    return b.getitem(x, (Ellipsis, slice(k * h, (k + 1) * h)))


class LSTMCell(Function):
    # gates = [a_i, a_f, a_g, a_o] (pre-activations), c_prev  ->  (h, c):
    #   i, f, o = sigmoid(a_i, a_f, a_o);  g = tanh(a_g)
    #   c = f c_prev + i g;  h = o tanh(c)
    # Backward, with dc_total = dc + dh o (1 - tanh(c)^2):
    #   da_i = dc_total g i (1 - i);   da_f = dc_total c_prev f (1 - f)
    #   da_g = dc_total i (1 - g^2);   da_o = dh tanh(c) o (1 - o);   dc_prev = dc_total f
    @staticmethod
    def forward(ctx, gates, c_prev):
        b = ctx.backend
        h = c_prev.shape[-1]
        i, f, o = (b.sigmoid(_gate(b, gates, k, h)) for k in (0, 1, 3))
        g = b.tanh(_gate(b, gates, 2, h))
        c = b.add(b.mul(f, c_prev), b.mul(i, g))
        tc = b.tanh(c)
        ctx.save_for_backward(i, f, g, o, tc, c_prev)
        return b.mul(o, tc), c

    @staticmethod
    def backward(ctx, dh, dc):
        _no_double_backward("LSTMCell")
        b = ctx.backend
        i, f, g, o, tc, c_prev = (t._data for t in ctx.saved_tensors)
        one = tc.dtype.type(1)
        dev = dh.device
        dh, dc = dh._data, dc._data
        dct = b.add(dc, b.mul(b.mul(dh, o), b.sub(one, b.mul(tc, tc))))
        di = b.mul(b.mul(dct, g), b.mul(i, b.sub(one, i)))
        df = b.mul(b.mul(dct, c_prev), b.mul(f, b.sub(one, f)))
        dg = b.mul(b.mul(dct, i), b.sub(one, b.mul(g, g)))
        do = b.mul(b.mul(dh, tc), b.mul(o, b.sub(one, o)))
        dgates = b.cat([di, df, dg, do], di.ndim - 1)
        return Tensor._wrap(dgates, dev), Tensor._wrap(b.mul(dct, f), dev)


class GRUCell(Function):
    # x_proj = [x_r, x_z, x_n] = W_i x + b_i,  h_proj = [h_r, h_z, h_n] = W_h h + b_h:
    #   r = sigmoid(x_r + h_r);  z = sigmoid(x_z + h_z);  n = tanh(x_n + r h_n)
    #   h' = (1 - z) n + z h_prev
    # Backward: dn = dh' (1 - z);  dz = dh' (h_prev - n);  dh_prev = dh' z
    #   d(pre_n) = dn (1 - n^2) -> dx_n = d(pre_n), dh_n = d(pre_n) r, dr = d(pre_n) h_n
    #   d(pre_r) = dr r (1 - r) -> dx_r = dh_r;  d(pre_z) = dz z (1 - z) -> dx_z = dh_z
    @staticmethod
    def forward(ctx, x_proj, h_proj, h_prev):
        b = ctx.backend
        h = h_prev.shape[-1]
        r = b.sigmoid(b.add(_gate(b, x_proj, 0, h), _gate(b, h_proj, 0, h)))
        z = b.sigmoid(b.add(_gate(b, x_proj, 1, h), _gate(b, h_proj, 1, h)))
        hn = _gate(b, h_proj, 2, h)
        n = b.tanh(b.add(_gate(b, x_proj, 2, h), b.mul(r, hn)))
        ctx.save_for_backward(r, z, n, hn, h_prev)
        return b.add(n, b.mul(z, b.sub(h_prev, n)))

    @staticmethod
    def backward(ctx, dh):
        _no_double_backward("GRUCell")
        b = ctx.backend
        r, z, n, hn, h_prev = (t._data for t in ctx.saved_tensors)
        one = n.dtype.type(1)
        dev = dh.device
        dh = dh._data
        dpre_n = b.mul(b.mul(dh, b.sub(one, z)), b.sub(one, b.mul(n, n)))
        dpre_r = b.mul(b.mul(dpre_n, hn), b.mul(r, b.sub(one, r)))
        dpre_z = b.mul(b.mul(dh, b.sub(h_prev, n)), b.mul(z, b.sub(one, z)))
        axis = dh.ndim - 1
        dx = b.cat([dpre_r, dpre_z, dpre_n], axis)
        dhp = b.cat([dpre_r, dpre_z, b.mul(dpre_n, r)], axis)
        return (Tensor._wrap(dx, dev), Tensor._wrap(dhp, dev),
                Tensor._wrap(b.mul(dh, z), dev))


def lstm_cell(gates: Tensor, c_prev: Tensor) -> tuple[Tensor, Tensor]:
    """(h, c) of one LSTM step from the summed gate pre-activations (N, 4H) and c (N, H)."""
    if gates.shape[:-1] != c_prev.shape[:-1] or gates.shape[-1] != 4 * c_prev.shape[-1]:
        raise ValueError(f"lstm_cell: gates {gates.shape} must be (..., 4H) for c of shape "
                         f"{c_prev.shape}")
    return LSTMCell.apply(gates, c_prev)


def gru_cell(x_proj: Tensor, h_proj: Tensor, h_prev: Tensor) -> Tensor:
    """h' of one GRU step from the input and hidden projections (N, 3H) and h (N, H)."""
    if x_proj.shape != h_proj.shape or x_proj.shape[-1] != 3 * h_prev.shape[-1]:
        raise ValueError(f"gru_cell: projections {x_proj.shape}, {h_proj.shape} must be "
                         f"(..., 3H) for h of shape {h_prev.shape}")
    return GRUCell.apply(x_proj, h_proj, h_prev)


# ---- whole layers over a sequence ------------------------------------------------------------

def _wrap(x, dev):
    return Tensor._wrap(x, dev)


def _last(b, seq, reverse: bool):
    """A copy of the state after the last step processed (step 0 when running backwards)."""
    return b.copy(b.getitem(seq, 0 if reverse else seq.shape[0] - 1))


class LSTMLayer(Function):
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
    def backward(ctx, dhs, dh_n, dc_n):
        _no_double_backward("LSTMLayer")
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
    def backward(ctx, dhs, dh_n):
        _no_double_backward("GRULayer")
        hs, gates, h0, w_hh = (t._data for t in ctx.saved_tensors)
        dev = dhs.device
        dx, dw, db, dh0 = ctx.backend.gru_backward(dhs._data, dh_n._data, hs, gates, h0, w_hh,
                                                   ctx.reverse)
        return (_wrap(dx, dev), _wrap(dw, dev), _wrap(db, dev) if ctx.has_bias else None,
                _wrap(dh0, dev), None)

    flops = LSTMLayer.flops


class RNNLayer(Function):
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
    def backward(ctx, dhs, dh_n):
        _no_double_backward("RNNLayer")
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
