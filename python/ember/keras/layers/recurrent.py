"""Recurrent layers over batch-first (N, T, F): SimpleRNN, LSTM, GRU and Bidirectional.

Each wraps the matching ``ember.nn`` module. With a padding mask (from
``Embedding(mask_zero=True)``) the steps run one by one so padded steps carry the state
through unchanged, as Keras's masking does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ... import nn
from ...autograd.grad_mode import no_grad
from ...creation import zeros
from ...nn import functional as F
from ...ops import cat, stack, where
from ...tensor import Tensor
from ..initializers import initialize
from .base import Layer

__all__ = ["SimpleRNN", "LSTM", "GRU", "Bidirectional"]


class _Recurrent(Layer):
    """SimpleRNN / LSTM / GRU over batch-first (N, T, F) input."""

    accepts_mask = True

    def __init__(self, units: int, activation: str = "tanh", use_bias: bool = True,
                 return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0,
                 kernel_initializer: str | Callable = "glorot_uniform",
                 recurrent_initializer: str | Callable = "orthogonal",
                 bias_initializer: str | Callable = "zeros", unit_forget_bias: bool = True,
                 input_shape: Sequence[int] | None = None, name: str | None = None,
                 trainable: bool = True) -> None:
        layer = type(self).__name__
        if not isinstance(units, int) or units <= 0:
            raise ValueError(f"{layer}: units must be a positive int, got {units!r}")
        if return_state or go_backwards:
            raise ValueError(f"{layer}: return_state and go_backwards are not supported")
        if recurrent_dropout:
            raise ValueError(f"{layer}: recurrent_dropout is not supported (use dropout, "
                             "applied to the inputs)")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"{layer}: dropout must be in [0, 1), got {dropout}")
        if layer == "SimpleRNN" and activation not in ("tanh", "relu"):
            raise ValueError(f"SimpleRNN: activation must be 'tanh' or 'relu', got "
                             f"{activation!r}")
        super().__init__(name=name, input_shape=input_shape, trainable=trainable)
        self.units, self.use_bias, self.activation_name = units, use_bias, activation
        self.return_sequences, self.dropout = return_sequences, dropout
        self.kernel_initializer = kernel_initializer
        self.recurrent_initializer = recurrent_initializer
        self.bias_initializer, self.unit_forget_bias = bias_initializer, unit_forget_bias
        self._bidirectional = False

    def _make_rnn(self, input_size: int, bidirectional: bool) -> nn.RNNBase:
        layer = type(self).__name__
        kw = dict(bias=self.use_bias, batch_first=True, bidirectional=bidirectional)
        if layer == "SimpleRNN":
            rnn = nn.RNN(input_size, self.units, nonlinearity=self.activation_name, **kw)
        else:
            rnn = getattr(nn, layer)(input_size, self.units, **kw)
        for name, p in rnn.named_parameters():
            if name.startswith("weight_ih"):
                initialize(p, self.kernel_initializer)
            elif name.startswith("weight_hh"):
                initialize(p, self.recurrent_initializer)
            else:
                initialize(p, self.bias_initializer)
                if layer == "LSTM" and self.unit_forget_bias and name.startswith("bias_ih"):
                    with no_grad():  # gates i, f, g, o: the forget gate starts open
                        p[self.units:2 * self.units] = 1.0
        return rnn

    def build(self, input_shape: tuple) -> None:
        if len(input_shape) != 3:
            raise ValueError(f"{type(self).__name__}: expected 3-d input (batch, timesteps, "
                             f"features), got shape {input_shape}")
        self.rnn = self._make_rnn(input_shape[-1], self._bidirectional)

    def call(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        if x.ndim != 3:
            raise ValueError(f"{type(self).__name__}: expected 3-d input (batch, timesteps, "
                             f"features), got shape {x.shape}")
        if self.dropout:
            x = F.dropout(x, self.dropout, self.training)
        if mask is None:
            out, state = self.rnn(x)
            h = state[0] if isinstance(state, tuple) else state  # (dirs, N, H)
        else:
            out, h = _masked_run(self.rnn, x, mask)
        if self.return_sequences:
            return out
        # the final state of each direction (the backward one has read the whole sequence
        # when it reaches t = 0), concatenated like Keras's Bidirectional(merge_mode='concat')
        return h[0] if h.shape[0] == 1 else cat([h[0], h[1]], -1)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        return self.call(x, mask)


def _masked_run(rnn: nn.RNNBase, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """Run a one-layer batch-first ``rnn`` over (N, T, F) ``x`` where ``mask`` (N, T) is
    False at padding: there the state is carried over unchanged and the output is zero
    (Keras's masking semantics). Returns (outputs (N, T, dirs*H), final h (dirs, N, H))."""
    n, steps = x.shape[0], x.shape[1]
    dirs = 2 if rnn.bidirectional else 1
    keep = mask.to(x.dtype).unsqueeze(-1)  # (N, T, 1)
    outs, finals = [], []
    for d in range(dirs):
        w_ih, w_hh, b_ih, b_hh = rnn._weights(0, d)
        x_proj = F.linear(x, w_ih, b_ih)  # all steps at once: (N, T, G*H)
        h0 = zeros(n, rnn.hidden_size, dtype=x.dtype, device=x.device)
        state = (h0, h0) if rnn.mode == "LSTM" else (h0,)
        hs: list = [None] * steps
        for t in (range(steps - 1, -1, -1) if d else range(steps)):
            new = rnn._step(x_proj[:, t], state, w_hh, b_hh)
            m = keep[:, t]
            state = tuple(where(m > 0, a, b) for a, b in zip(new, state))
            hs[t] = state[0] * m
        outs.append(stack(hs, 1))
        finals.append(state[0])
    out = outs[0] if dirs == 1 else cat(outs, -1)
    return out, stack(finals, 0)


class SimpleRNN(_Recurrent):
    """Fully connected recurrent layer: h_t = activation(W x_t + U h_{t-1} + b). Returns
    the last output (N, units), or all of them (N, T, units) with ``return_sequences``."""


class LSTM(_Recurrent):
    """Long short-term memory over (N, T, F). Returns the last output (N, units), or all of
    them (N, T, units) with ``return_sequences``. ``dropout`` drops input features."""


class GRU(_Recurrent):
    """Gated recurrent unit over (N, T, F) (the ``reset_after`` variant, Keras's default).
    Returns the last output (N, units), or all (N, T, units) with ``return_sequences``."""


class Bidirectional(Layer):
    """Runs a recurrent layer forwards and backwards and concatenates the results
    (``merge_mode='concat'``, the only mode supported): ``units`` becomes ``2 * units``."""

    accepts_mask = True

    def __init__(self, layer: _Recurrent, merge_mode: str = "concat",
                 input_shape: Sequence[int] | None = None, name: str | None = None) -> None:
        if not isinstance(layer, _Recurrent):
            raise TypeError(f"Bidirectional: expected a SimpleRNN, LSTM or GRU layer, got "
                            f"{type(layer).__name__}")
        if merge_mode != "concat":
            raise ValueError(f"Bidirectional: only merge_mode='concat' is supported, got "
                             f"{merge_mode!r}")
        if layer.built:
            raise ValueError("Bidirectional: wrap a layer that has not been built yet")
        super().__init__(name=name, input_shape=input_shape or (
            layer._batch_input_shape[1:] if layer._batch_input_shape else None))
        layer._bidirectional = True
        self.layer = layer

    def call(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        return self.layer(x, mask)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        return self.call(x, mask)
