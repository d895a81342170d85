"""RNN, LSTM, GRU: PyTorch parity (names, layouts, numbers), gradcheck, learning."""

import ember
import ember.nn as nn
import numpy as np
import pytest
from ember.autograd import gradcheck

rng = np.random.default_rng(5)


def test_parameter_names_and_shapes_follow_pytorch():
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    shapes = {n: p.shape for n, p in lstm.named_parameters()}
    assert shapes["weight_ih_l0"] == (16, 3) and shapes["weight_hh_l0"] == (16, 4)
    assert shapes["weight_ih_l1"] == (16, 8) and shapes["bias_hh_l1_reverse"] == (16,)
    assert len(shapes) == 16
    gru = nn.GRU(3, 4, bias=False)
    assert [n for n, _ in gru.named_parameters()] == ["weight_ih_l0", "weight_hh_l0"]
    assert gru.weight_ih_l0.shape == (12, 3)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("layers, bidir, batch_first", [(1, False, False), (2, True, True)])
def test_matches_pytorch(kind, layers, bidir, batch_first):
    torch = pytest.importorskip("torch")
    kw = dict(num_layers=layers, bidirectional=bidir, batch_first=batch_first)
    theirs = getattr(torch.nn, kind)(3, 4, **kw).double()
    ours = getattr(nn, kind)(3, 4, **kw).double()
    ours.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in
                          theirs.state_dict().items()})
    x = rng.normal(size=(2, 5, 3) if batch_first else (5, 2, 3))
    dirs = 2 if bidir else 1
    h0 = rng.normal(size=(layers * dirs, 2, 4))
    xe, xt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    if kind == "LSTM":
        c0 = rng.normal(size=h0.shape)
        ye, (he, ce) = ours(xe, (ember.tensor(h0), ember.tensor(c0)))
        yt, (ht, ct) = theirs(xt, (torch.tensor(h0), torch.tensor(c0)))
        np.testing.assert_allclose(ce.detach().numpy(), ct.detach().numpy(), rtol=1e-9)
    else:
        ye, he = ours(xe, ember.tensor(h0))
        yt, ht = theirs(xt, torch.tensor(h0))
    np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(he.detach().numpy(), ht.detach().numpy(), rtol=1e-9, atol=1e-12)
    (ye.sum() + (he * he).sum()).backward()
    (yt.sum() + (ht * ht).sum()).backward()
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-8, atol=1e-10)
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), dict(theirs.named_parameters())[name].grad,
                                   rtol=1e-8, atol=1e-10, err_msg=name)


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_gradcheck_through_time(cls):
    layer = cls(2, 3, num_layers=2, bidirectional=True).double()
    x = ember.randn(3, 1, 2, dtype=ember.float64, requires_grad=True)
    params = list(layer.parameters())[:2]  # first layer's weights: through both layers' paths
    assert gradcheck(lambda a, *ps: layer(a)[0], (x, *params))


def test_unbatched_input_and_relu_rnn():
    rnn = nn.RNN(3, 4, nonlinearity="relu")
    out, h = rnn(ember.randn(6, 3))
    assert out.shape == (6, 4) and h.shape == (1, 4)
    assert (out.detach().numpy() >= 0).all()
    assert "nonlinearity='relu'" in repr(rnn)


def test_bad_inputs():
    lstm = nn.LSTM(3, 4)
    with pytest.raises(ValueError, match="expected input with 3 features"):
        lstm(ember.randn(5, 2, 7))
    with pytest.raises(ValueError, match=r"expected h0 of shape \(1, 2, 4\)"):
        lstm(ember.randn(5, 2, 3), (ember.zeros(2, 2, 4), ember.zeros(1, 2, 4)))
    with pytest.raises(ValueError, match="2-D.*or 3-D"):
        lstm(ember.randn(3))
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(2, 2, nonlinearity="gelu")


def test_lstm_learns_to_remember_the_first_token():
    # The label is the first element of a noisy sequence: the LSTM must carry it across time.
    ember.manual_seed(0)
    gen = np.random.default_rng(0)
    seq_len, n = 12, 256
    first = gen.integers(0, 2, size=n)
    x = gen.normal(scale=0.5, size=(n, seq_len, 1))
    x[:, 0, 0] = first * 2.0 - 1.0
    model = nn.LSTM(1, 16, batch_first=True)
    head = nn.Linear(16, 2)
    params = list(model.parameters()) + list(head.parameters())
    from ember.optim import Adam

    opt = Adam(params, lr=0.02)
    xt, yt = ember.tensor(x, dtype=ember.float32), ember.tensor(first)
    for _ in range(60):
        out, _ = model(xt)
        loss = nn.functional.cross_entropy(head(out[:, -1]), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
    acc = (head(model(xt)[0][:, -1]).argmax(1) == yt).float().mean().item()
    assert acc >= 0.95, acc


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU])
def test_fused_cells_match_the_composite_reference(cls):
    layer = cls(3, 4, num_layers=2, bidirectional=True).double()
    x = ember.randn(5, 2, 3, dtype=ember.float64, requires_grad=True)

    def run(fused):
        cls.use_fused_cells = fused
        try:
            out = layer(x)[0]
            (out * out).sum().backward()
        finally:
            del cls.use_fused_cells  # back to the RNNBase default
        grads = [x.grad.numpy().copy()] + [p.grad.numpy().copy() for p in layer.parameters()]
        x.grad = None
        layer.zero_grad()
        return out.detach().numpy(), grads

    out_f, grads_f = run(True)
    out_c, grads_c = run(False)
    np.testing.assert_allclose(out_f, out_c, rtol=1e-12, atol=1e-14)
    for gf, gc in zip(grads_f, grads_c):
        np.testing.assert_allclose(gf, gc, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_match_pytorch_and_take_unbatched_input(kind):
    torch = pytest.importorskip("torch")
    theirs = getattr(torch.nn, kind)(3, 4).double()
    ours = getattr(nn, kind)(3, 4).double()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    ours.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in
                          theirs.state_dict().items()})
    x = rng.standard_normal((2, 3))
    h = rng.standard_normal((2, 4))
    state = (h, h * 0.5) if kind == "LSTMCell" else h

    def wrap(lib, a):
        return tuple(wrap(lib, b) for b in a) if isinstance(a, tuple) else \
            lib.tensor(a, requires_grad=True)

    xt, st = wrap(torch, x), wrap(torch, state)
    xe, se = wrap(ember, x), wrap(ember, state)
    out_t, out_e = theirs(xt, st), ours(xe, se)
    outs_t = out_t if isinstance(out_t, tuple) else (out_t,)
    outs_e = out_e if isinstance(out_e, tuple) else (out_e,)
    sum(o.sum() for o in outs_t).backward()
    sum(o.sum() for o in outs_e).backward()
    for a, b in zip(outs_e, outs_t):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    for (n, pe), (_, pt) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(pe.grad.numpy(), pt.grad.numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=n)
    one = ours(xe[0])  # unbatched: (input,) and no state -> zeros
    ref = theirs(xt[0])
    for a, b in zip(one if isinstance(one, tuple) else (one,),
                    ref if isinstance(ref, tuple) else (ref,)):
        assert a.shape == (4,)
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match=kind):
        ours(ember.randn(2, 5, dtype=ember.float64))


def test_composite_cells_have_second_derivatives():
    from ember.autograd import gradgradcheck
    from ember.ops.rnn import gru_cell, lstm_cell, rnn_cell

    def r(*shape):
        return ember.randn(*shape, dtype=ember.float64, requires_grad=True)

    h, c, w4, w3, w1 = r(2, 3), r(2, 3), r(12, 3), r(9, 3), r(3, 3)
    assert gradgradcheck(lambda x, h, c, w: lstm_cell(x, h, c, w, None), (r(2, 12), h, c, w4))
    assert gradgradcheck(lambda x, h, w: gru_cell(x, h, w, None), (r(2, 9), h, w3))
    assert gradgradcheck(lambda x, h, w: rnn_cell(x, h, w, None), (r(2, 3), h, w1))


# ---- the fused sequence-level layers (ember.ops.rnn.lstm_layer / gru_layer / rnn_layer) ----

_GATE_COUNT = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}


def _layer_inputs(kind, steps, batch, hidden, dtype, bias=True, seed=0):
    gen = np.random.default_rng(seed)
    g = _GATE_COUNT[kind] * hidden

    def t(*shape, scale=1.0):
        return ember.tensor(gen.normal(scale=scale, size=shape), dtype=dtype, requires_grad=True)

    x_proj, w_hh = t(steps, batch, g), t(g, hidden, scale=0.5)
    b_hh = t(g) if bias else None
    states = (t(batch, hidden), t(batch, hidden)) if kind == "lstm" else (t(batch, hidden),)
    return x_proj, w_hh, b_hh, states


def _fused(kind, x_proj, w_hh, b_hh, states, reverse):
    from ember.ops.rnn import gru_layer, lstm_layer, rnn_layer

    if kind == "lstm":
        return lstm_layer(x_proj, w_hh, b_hh, *states, reverse=reverse)
    if kind == "gru":
        return gru_layer(x_proj, w_hh, b_hh, *states, reverse=reverse)
    return rnn_layer(x_proj, w_hh, b_hh, *states, reverse=reverse, relu=kind == "rnn_relu")


def _composite(kind, x_proj, w_hh, b_hh, states, reverse):
    # the readable reference: a Python loop over the composite cells of ember.ops.rnn
    from ember.ops.rnn import gru_cell, lstm_cell, rnn_cell

    steps = x_proj.shape[0]
    hs = [None] * steps
    state = states
    for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
        if kind == "lstm":
            state = lstm_cell(x_proj[t], state[0], state[1], w_hh, b_hh)
        elif kind == "gru":
            state = (gru_cell(x_proj[t], state[0], w_hh, b_hh),)
        else:
            state = (rnn_cell(x_proj[t], state[0], w_hh, b_hh, kind == "rnn_relu"),)
        hs[t] = state[0]
    return (ember.stack(hs, 0), *state)


def _values_and_grads(fn, inputs, seed=1):
    x_proj, w_hh, b_hh, states = inputs
    leaves = [x_proj, w_hh] + ([b_hh] if b_hh is not None else []) + list(states)
    for p in leaves:
        p.grad = None
    outs = fn(x_proj, w_hh, b_hh, states)
    gen = np.random.default_rng(seed)  # a random linear functional of every output
    loss = sum((o * ember.tensor(gen.normal(size=o.shape), dtype=o.dtype)).sum() for o in outs)
    loss.backward()
    return [o.detach().numpy() for o in outs], [p.grad.numpy() for p in leaves]


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh", "rnn_relu"])
@pytest.mark.parametrize("dtype", [ember.float32, ember.float64])
@pytest.mark.parametrize("steps, batch, hidden, reverse, bias", [
    (6, 3, 5, False, True),    # H not a multiple of any SIMD width
    (6, 3, 5, True, True),     # the backward direction of a bidirectional layer
    (1, 4, 19, False, True),   # a single step
    (7, 1, 33, True, False),   # an unbatched sequence (N = 1), no bias
    (5, 17, 16, False, True),  # N above the GEMM's small-batch cut-off
    # big enough steps for the multi-threaded time loops (with 2+ cores): the hidden units
    # split between threads -- LSTM: ragged (72 = 32 + 40) and reversed; all three kinds
    (4, 32, 72, False, True),
    (3, 32, 64, True, False),
    (3, 32, 128, True, True),
])
def test_fused_layer_matches_composite(kind, dtype, steps, batch, hidden, reverse, bias):
    inputs = _layer_inputs(kind, steps, batch, hidden, dtype, bias)
    outs_f, grads_f = _values_and_grads(
        lambda x, w, b, s: _fused(kind, x, w, b, s, reverse), inputs)
    outs_c, grads_c = _values_and_grads(
        lambda x, w, b, s: _composite(kind, x, w, b, s, reverse), inputs)
    # float32: the two sum the GEMMs' products in different orders (dW over 32 x 4 rows)
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == ember.float64 else dict(rtol=2e-4, atol=1e-4)
    for a, b in zip(outs_f, outs_c):
        np.testing.assert_allclose(a, b, **tol)
    for a, b in zip(grads_f, grads_c):
        np.testing.assert_allclose(a, b, **tol)
    assert all(o.dtype == dtype.np for o in outs_f + grads_f)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh", "rnn_relu"])
def test_backend_default_recurrence_matches_the_native_kernels(kind):
    # Backend's default lstm_forward/... (a Python loop over backend primitives, what a new
    # backend inherits) against the CPU backend's native kernels, forward and backward.
    from ember.backend import base
    from ember.backend.cpu import CPUBackend

    class Portable(CPUBackend):  # the CPU primitives, but the base class's recurrence
        pass

    for name in ("lstm_forward", "lstm_backward", "gru_forward", "gru_backward",
                 "rnn_forward", "rnn_backward"):
        setattr(Portable, name, getattr(base.Backend, name))
    native, portable = CPUBackend(), Portable()
    gen = np.random.default_rng(3)
    for reverse in (False, True):
        n, h, steps, g = 3, 6, 5, _GATE_COUNT[kind] * 6
        x, w, b = gen.normal(size=(steps, n, g)), gen.normal(size=(g, h)), gen.normal(size=g)
        h0, c0 = gen.normal(size=(n, h)), gen.normal(size=(n, h))
        dhs, dh_n, dc_n = gen.normal(size=(steps, n, h)), gen.normal(size=(n, h)), \
            gen.normal(size=(n, h))
        results = []
        for be in (native, portable):
            if kind == "lstm":
                fwd = be.lstm_forward(x, w, b, h0, c0, reverse)
                bwd = be.lstm_backward(dhs, dh_n, dc_n, *fwd, h0, c0, w, reverse)
            elif kind == "gru":
                fwd = be.gru_forward(x, w, b, h0, reverse)
                bwd = be.gru_backward(dhs, dh_n, *fwd, h0, w, reverse)
            else:
                relu = kind == "rnn_relu"
                fwd = (be.rnn_forward(x, w, b, h0, reverse, relu),)
                bwd = be.rnn_backward(dhs, dh_n, fwd[0], h0, w, reverse, relu)
            results.append([np.asarray(a) for a in (*fwd, *bwd)])
        for a, b_ in zip(*results):
            np.testing.assert_allclose(a, b_, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh", "rnn_relu"])
@pytest.mark.parametrize("reverse, bias", [(False, True), (True, False)])
def test_fused_layer_gradcheck(kind, reverse, bias):
    x_proj, w_hh, b_hh, states = _layer_inputs(kind, 3, 2, 3, ember.float64, bias, seed=7)
    args = (x_proj, w_hh, *states) + ((b_hh,) if bias else ())

    def fn(x, w, *rest):
        st = rest[:len(states)]
        b = rest[len(states)] if bias else None
        return _fused(kind, x, w, b, st, reverse)

    assert gradcheck(fn, args)


def test_fused_layer_is_once_differentiable_and_checks_inputs():
    from ember.autograd import grad
    from ember.ops.rnn import gru_layer, lstm_layer

    x_proj, w_hh, b_hh, (h0, c0) = _layer_inputs("lstm", 3, 2, 4, ember.float64)
    hs, _, _ = lstm_layer(x_proj, w_hh, b_hh, h0, c0)
    (dx,) = grad(hs.sum(), x_proj, create_graph=True)  # first derivatives: as without it
    (plain,) = grad(lstm_layer(x_proj, w_hh, b_hh, h0, c0)[0].sum(), x_proj)
    np.testing.assert_array_equal(dx.detach().numpy(), plain.numpy())
    with pytest.raises(RuntimeError, match="LSTMLayerBackward.*first derivatives only.*"
                                           "use_fused_cells = False"):
        dx.sum().backward()  # ... but no second derivatives through the fused kernel
    with pytest.raises(ValueError, match=r"lstm_layer: expected x_proj \(L, N, 4H\).*w_hh "
                                         r"\(15, 4\)"):
        lstm_layer(x_proj, w_hh[:15], b_hh, h0, c0)
    with pytest.raises(ValueError, match="gru_layer"):
        gru_layer(x_proj, w_hh, b_hh, h0)  # 4H gates for a GRU
    with pytest.raises(TypeError, match="lstm_layer: all tensors must share one floating"):
        lstm_layer(x_proj, w_hh, b_hh, h0.float(), c0)


def test_native_kernels_check_their_arguments():
    from ember import _C

    f, d = np.float32, np.float64
    x, w, b = np.zeros((3, 2, 8), f), np.zeros((8, 2), f), np.zeros(8, f)
    h0 = np.zeros((2, 2), f)
    with pytest.raises(ValueError, match=r"lstm_forward: expected w_hh of shape \(8, 2\), got "
                                         r"\(8, 3\); got x_proj \(3, 2, 8\) float32"):
        _C.lstm_forward(x, np.zeros((8, 3), f), b, h0, h0, False)
    with pytest.raises(TypeError, match="lstm_forward: all arrays must share one floating dtype"):
        _C.lstm_forward(x, w, b, h0.astype(d), h0, False)
    with pytest.raises(TypeError, match="gru_forward"):
        _C.gru_forward(np.zeros((3, 2, 6), np.int64), np.zeros((6, 2), np.int64), None,
                       np.zeros((2, 2), np.int64), False)
    with pytest.raises(ValueError, match="positive"):
        _C.rnn_forward(np.zeros((0, 2, 2), f), np.zeros((2, 2), f), None, h0, False, False)
    with pytest.raises(ValueError, match=r"expected x_proj of shape \(3, 2, 6\)"):
        _C.gru_forward(x, np.zeros((6, 2), f), None, h0, False)
    with pytest.raises(ValueError, match=r"lstm_backward: expected gates of shape"):
        _C.lstm_backward(*(np.zeros((3, 2, 2), f),) + (h0,) * 2 + (np.zeros((3, 2, 2), f),) * 2
                         + (np.zeros((3, 2, 7), f), h0, h0, w))
    # non-contiguous and strided views are accepted (copied once at the boundary)
    gen = np.random.default_rng(0)
    xb = gen.normal(size=(2, 3, 16)).astype(f)
    wb = gen.normal(size=(2, 8)).astype(f)
    ref = _C.lstm_forward(np.ascontiguousarray(xb.transpose(1, 0, 2)[:, :, ::2]),
                          np.ascontiguousarray(wb.T), None, h0, h0, True)
    got = _C.lstm_forward(xb.transpose(1, 0, 2)[:, :, ::2], wb.T, None, h0, h0, True)
    for a, r in zip(got, ref):
        np.testing.assert_array_equal(a, r)
