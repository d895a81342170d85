"""Fused recurrent cells: the pointwise part of one LSTM / GRU time step as one node.

A step of an LSTM is a matrix product (``W_hh h``) followed by ~10 small pointwise ops
(four gate nonlinearities, the cell update, ...). As separate graph nodes each costs Python
time in forward *and* backward, and a sequence runs thousands of them. These Functions
compute the pointwise part directly on backend arrays and write their backward by hand
(the formulas below), so a step is a handful of nodes. ``ember.nn.LSTM``/``GRU`` use them;
the composite versions in ``ember/nn/layers/rnn.py`` (``_lstm_cell``/``_gru_cell``) are the
readable reference they are tested against.

Like the fused attention op, their backward is a dedicated computation: first derivatives
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
            f"{name}: the fused recurrent cell has first derivatives only, so create_graph=True "
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
