"""Recurrent layers: RNN (tanh/relu), LSTM and GRU, multi-layer and bidirectional.

Parameter names and layouts are PyTorch's: for layer k (``_reverse`` for the backward
direction) ``weight_ih_l{k}`` (G*H, input), ``weight_hh_l{k}`` (G*H, H), ``bias_ih_l{k}``,
``bias_hh_l{k}``, with the gates stacked in PyTorch's order (LSTM: i, f, g, o; GRU: r, z, n).

The input projection of all time steps is one matrix product; only the recurrent part
loops over time. By default (``use_fused_cells``) that loop is one fused op per layer and
direction (``ember.ops.rnn.lstm_layer``/``gru_layer``/``rnn_layer``: the time loop and its
backprop through time in native code); otherwise it is a Python loop over the composite
cells (``ember.ops.rnn.lstm_cell`` ...: the step formulas are there), and autograd
backpropagates through time step by step. ``RNNCell``/``LSTMCell``/``GRUCell`` are single
steps, for loops written by hand.

The layers take a ``PackedSequence`` (``nn.utils.rnn``) as well as a padded tensor: then the
output is packed too and h_n/c_n hold each sequence's state at its own last step (the
reverse direction starting there); see ``RNNBase._packed``.
"""

from __future__ import annotations

import math

from ... import dtypes as _dt
from ...creation import empty, zeros
from ...ops import cat, stack
from ...ops.rnn import gru_cell, gru_layer, lstm_cell, lstm_layer, rnn_cell, rnn_layer
from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..module import Module
from ..parameter import Parameter
from ..utils.rnn import PackedSequence, batch_sizes_of

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _runs(batch_sizes: list[int]) -> list[tuple[int, int, int]]:
    """A packed sequence's steps grouped into runs of one batch size: (first row, steps,
    batch) each; e.g. batch sizes [3, 3, 2, 1, 1] -> [(0, 2, 3), (6, 1, 2), (8, 2, 1)]."""
    runs: list[list[int]] = []
    row = 0
    for b in batch_sizes:
        if runs and runs[-1][2] == b:
            runs[-1][1] += 1
        else:
            runs.append([row, 1, b])
        row += b
    return [tuple(r) for r in runs]


class RNNBase(Module):
    """Shared machinery of RNN, LSTM and GRU.

    ``use_fused_cells`` (class attribute, default True) runs each layer direction over the
    whole sequence as one fused node (``ember.ops.rnn``: much faster, first derivatives
    only); False uses the composite cells of ``ember.ops.rnn`` (slower, differentiable to
    any order).
    """

    use_fused_cells = True

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device=None, dtype=None) -> None:
        super().__init__()
        if not 0 <= dropout <= 1:
            raise ValueError(f"{type(self).__name__}: dropout must be in [0, 1], got {dropout}")
        if num_layers < 1 or hidden_size < 1:
            raise ValueError(f"{type(self).__name__}: num_layers and hidden_size must be "
                             "positive")
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional = float(dropout), bidirectional
        dirs = 2 if bidirectional else 1
        gate = _GATES[mode] * hidden_size
        dt = _dt.as_dtype(dtype) if dtype is not None else None
        self._flat_names: list[list[str]] = []
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else hidden_size * dirs
            for d in range(dirs):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                names = [f"weight_ih{sfx}", f"weight_hh{sfx}"]
                setattr(self, names[0], Parameter(empty(gate, layer_in, dtype=dt,
                                                        device=device)))
                setattr(self, names[1], Parameter(empty(gate, hidden_size, dtype=dt,
                                                        device=device)))
                if bias:
                    names += [f"bias_ih{sfx}", f"bias_hh{sfx}"]
                    setattr(self, names[2], Parameter(empty(gate, dtype=dt, device=device)))
                    setattr(self, names[3], Parameter(empty(gate, dtype=dt, device=device)))
                self._flat_names.append(names)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H)), as in PyTorch
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def flatten_parameters(self) -> None:
        """A no-op, as PyTorch's on the CPU: ember's weights are always usable as they are
        (PyTorch packs them into one buffer for cuDNN)."""

    def _weights(self, layer: int, direction: int):
        names = self._flat_names[layer * (2 if self.bidirectional else 1) + direction]
        w = [getattr(self, n) for n in names]
        return (w[0], w[1], w[2], w[3]) if self.bias else (w[0], w[1], None, None)

    def _check_input(self, x: Tensor) -> bool:
        name = type(self).__name__
        if x.ndim not in (2, 3):
            raise ValueError(f"{name}: expected a 2-D (unbatched) or 3-D input, got shape "
                             f"{x.shape}")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected input with {self.input_size} features in the "
                             f"last dimension, got shape {x.shape}")
        return x.ndim == 3

    def _check_packed(self, x: PackedSequence) -> tuple[Tensor, list[int]]:
        """The packed data (S, input) and its batch sizes, checked."""
        data, name = x.data, type(self).__name__
        if data.ndim != 2 or data.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected a PackedSequence of (S, {self.input_size}) "
                             f"data, got data of shape {data.shape}")
        return data, batch_sizes_of(x, name).tolist()

    def _initial_state(self, h0: Tensor | None, x: Tensor, batch: int, what: str) -> Tensor:
        dirs = 2 if self.bidirectional else 1
        shape = (self.num_layers * dirs, batch, self.hidden_size)
        if h0 is None:
            return zeros(*shape, dtype=x.dtype, device=x.device)
        if h0.shape != shape:
            raise ValueError(f"{type(self).__name__}: expected {what} of shape {shape}, got "
                             f"{h0.shape}")
        return h0

    def _run(self, x: Tensor, states: list, runs: list | None = None) -> tuple:
        """x: (L, N, input), or packed rows (S, input) with their ``runs`` (see ``_runs``).
        states: per layer*direction, a tuple (h,) or (h, c). Returns the last layer's
        outputs ((L, N, dirs*H) or (S, dirs*H)) and the final states."""
        dirs = 2 if self.bidirectional else 1
        finals = []
        layer_in = x
        for layer in range(self.num_layers):
            outs = []
            for d in range(dirs):
                w_ih, w_hh, b_ih, b_hh = self._weights(layer, d)
                # the input projection of all time steps in one product
                x_proj = F.linear(layer_in, w_ih, b_ih)
                state = states[layer * dirs + d]
                if runs is None:
                    hs, final = self._sequence(x_proj, state, w_hh, b_hh, bool(d))
                else:
                    hs, final = self._packed(x_proj, state, w_hh, b_hh, bool(d), runs)
                outs.append(hs)
                finals.append(final)
            layer_in = outs[0] if dirs == 1 else cat(outs, -1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_in = F.dropout(layer_in, self.dropout, True)
        return layer_in, finals

    def _sequence(self, x_proj, state, w_hh, b_hh, reverse: bool):
        """One layer direction over x_proj (L, N, G*H) from ``state``: (hs (L, N, H), final
        state)."""
        if self.use_fused_cells:  # the whole recurrence as one node
            hs, *final = self._fused_layer(x_proj, state, w_hh, b_hh, reverse)
            return hs, tuple(final)
        x_proj = x_proj.unbind(0)  # the reference: a Python loop over time
        steps = range(len(x_proj) - 1, -1, -1) if reverse else range(len(x_proj))
        hs = [None] * len(x_proj)
        for t in steps:
            state = self._step(x_proj[t], state, w_hh, b_hh)
            hs[t] = state[0]
        return stack(hs, 0), state

    def _packed(self, x_proj, state, w_hh, b_hh, reverse: bool, runs: list):
        """One layer direction over packed rows x_proj (S, G*H): (hs (S, H), final state).

        The sequences are sorted by decreasing length, so those running at a step are a
        prefix of the batch, and the steps fall into runs of one batch size: each run is a
        plain (steps, batch) sequence (its rows are contiguous). Between runs the state
        drops the rows of the sequences that ended (their final states) or, going in
        reverse, takes in the initial states of those that start -- each sequence's reverse
        pass begins at its own last step. As cuDNN does: no step is computed for padding.
        """
        outs, ended = [], []
        cur = tuple(s[:runs[-1][2]] for s in state) if reverse else state
        for row, steps, batch in (reversed(runs) if reverse else runs):
            alive = cur[0].shape[0]
            if batch > alive:
                cur = tuple(cat([c, s[alive:batch]], 0) for c, s in zip(cur, state))
            elif batch < alive:
                ended.append(tuple(c[batch:] for c in cur))
                cur = tuple(c[:batch] for c in cur)
            seq = x_proj[row:row + steps * batch].reshape(steps, batch, x_proj.shape[-1])
            hs, cur = self._sequence(seq, cur, w_hh, b_hh, reverse)
            outs.append(hs.reshape(steps * batch, hs.shape[-1]))
        if reverse:
            outs.reverse()
        if ended:  # the batch's final states in order: the longest (still running) first
            cur = tuple(cat([c, *(e[i] for e in reversed(ended))], 0) for i, c in enumerate(cur))
        return (outs[0] if len(outs) == 1 else cat(outs, 0)), cur

    def _fused_layer(self, x_proj, state, w_hh, b_hh, reverse: bool):
        """(hs, h_n) or (hs, h_n, c_n) of one layer direction, by one fused op."""
        if self.mode == "LSTM":
            return lstm_layer(x_proj, w_hh, b_hh, state[0], state[1], reverse)
        if self.mode == "GRU":
            return gru_layer(x_proj, w_hh, b_hh, state[0], reverse)
        return rnn_layer(x_proj, w_hh, b_hh, state[0], reverse, self.mode == "RNN_RELU")

    def _step(self, x_proj, state, w_hh, b_hh):
        # the composite cells: one step as plain Tensor ops (any order of derivatives)
        if self.mode == "LSTM":
            return lstm_cell(x_proj, state[0], state[1], w_hh, b_hh)
        if self.mode == "GRU":
            return (gru_cell(x_proj, state[0], w_hh, b_hh),)
        return (rnn_cell(x_proj, state[0], w_hh, b_hh, self.mode == "RNN_RELU"),)

    def _forward(self, x: Tensor | PackedSequence, hx):
        packed = isinstance(x, PackedSequence)
        if packed:  # packed rows (S, input) and their runs; hx in the caller's batch order
            data, sizes = self._check_packed(x)
            runs = _runs(sizes)
            if hx is not None and x.sorted_indices is not None:
                hx = tuple(h.index_select(1, x.sorted_indices) for h in hx)
            batch = runs[0][2]
        else:
            batched, runs = self._check_input(x), None
            if not batched:
                x = x.unsqueeze(1)
                hx = None if hx is None else tuple(h.unsqueeze(1) for h in hx)
            elif self.batch_first:
                x = x.transpose(0, 1)
            data, batch = x, x.shape[1]
        names = ("h0", "c0") if self.mode == "LSTM" else ("h0",)
        init_states = [self._initial_state(None if hx is None else hx[i], data, batch, n)
                       for i, n in enumerate(names)]
        n_slots = init_states[0].shape[0]
        states = [tuple(s[i] for s in init_states) for i in range(n_slots)]
        out, finals = self._run(data, states, runs)
        final = tuple(stack([f[i] for f in finals], 0) for i in range(len(names)))
        if packed:
            if x.unsorted_indices is not None:
                final = tuple(f.index_select(1, x.unsorted_indices) for f in final)
            return PackedSequence(out, x.batch_sizes, x.sorted_indices, x.unsorted_indices), final
        if not batched:
            out = out.squeeze(1)
            final = tuple(f.squeeze(1) for f in final)
        elif self.batch_first:
            out = out.transpose(0, 1)
        return out, final

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(RNNBase):
    """Elman RNN: h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), act = tanh or relu.
    ``forward(input, h0=None) -> (output, h_n)``."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device=None,
                 dtype=None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor | PackedSequence, hx: Tensor | None = None):
        out, (h,) = self._forward(input, None if hx is None else (hx,))
        return out, h


class LSTM(RNNBase):
    """Long short-term memory. ``forward(input, (h0, c0)=None) -> (output, (h_n, c_n))``."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device=None, dtype=None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, device, dtype)

    def forward(self, input: Tensor | PackedSequence, hx: tuple | None = None):
        out, (h, c) = self._forward(input, hx)
        return out, (h, c)


class GRU(RNNBase):
    """Gated recurrent unit. ``forward(input, h0=None) -> (output, h_n)``."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device=None, dtype=None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, device, dtype)

    def forward(self, input: Tensor | PackedSequence, hx: Tensor | None = None):
        out, (h,) = self._forward(input, None if hx is None else (hx,))
        return out, h


# ---------------------------------------------------------------------------- single steps
class RNNCellBase(Module):
    """Shared machinery of RNNCell, LSTMCell and GRUCell: one time step, PyTorch's
    parameters ``weight_ih`` (G*H, input), ``weight_hh`` (G*H, H), ``bias_ih``, ``bias_hh``."""

    def __init__(self, gates: int, input_size: int, hidden_size: int, bias: bool = True,
                 device=None, dtype=None) -> None:
        super().__init__()
        if input_size < 1 or hidden_size < 1:
            raise ValueError(f"{type(self).__name__}: input_size and hidden_size must be "
                             f"positive, got {input_size} and {hidden_size}")
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        dt = _dt.as_dtype(dtype) if dtype is not None else None
        g = gates * hidden_size
        self.weight_ih = Parameter(empty(g, input_size, dtype=dt, device=device))
        self.weight_hh = Parameter(empty(g, hidden_size, dtype=dt, device=device))
        if bias:
            self.bias_ih = Parameter(empty(g, dtype=dt, device=device))
            self.bias_hh = Parameter(empty(g, dtype=dt, device=device))
        else:
            self.bias_ih = self.bias_hh = None
        self.reset_parameters()

    reset_parameters = RNNBase.reset_parameters

    def _prepare(self, x: Tensor, states: tuple) -> tuple:
        """(x_proj, states, batched): the input projection and (N, H) states, zeros when
        not given; an unbatched (input,) step is run as a batch of one."""
        name = type(self).__name__
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected input of shape (N, {self.input_size}) or "
                             f"({self.input_size},), got {x.shape}")
        batched = x.ndim == 2
        if not batched:
            x = x.unsqueeze(0)
        shape = (x.shape[0], self.hidden_size)
        out = []
        for s in states:
            if s is None:
                s = zeros(*shape, dtype=x.dtype, device=x.device)
            elif not batched:
                s = s.unsqueeze(0)
            if s.shape != shape:
                want, got = (shape, s.shape) if batched else (shape[1:], s.shape[1:])
                raise ValueError(f"{name}: expected hidden state of shape {want}, got {got}")
            out.append(s)
        return F.linear(x, self.weight_ih, self.bias_ih), out, batched

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(RNNCellBase):
    """One Elman RNN step: h' = act(W_ih x + b_ih + W_hh h + b_hh), act = tanh or relu.
    ``forward(input, hx=None) -> h'``."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got "
                             f"{nonlinearity!r}")
        super().__init__(1, input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x_proj, (h,), batched = self._prepare(input, (hx,))
        h = rnn_cell(x_proj, h, self.weight_hh, self.bias_hh, self.nonlinearity == "relu")
        return h if batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step. ``forward(input, (h, c)=None) -> (h', c')``."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__(4, input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx: tuple | None = None) -> tuple[Tensor, Tensor]:
        x_proj, (h, c), batched = self._prepare(input, (None, None) if hx is None else hx)
        h, c = lstm_cell(x_proj, h, c, self.weight_hh, self.bias_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step. ``forward(input, hx=None) -> h'``."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__(3, input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x_proj, (h,), batched = self._prepare(input, (hx,))
        h = gru_cell(x_proj, h, self.weight_hh, self.bias_hh)
        return h if batched else h.squeeze(0)
