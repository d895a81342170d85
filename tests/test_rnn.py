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


def test_fused_cells_gradcheck_and_refuse_double_backward():
    from ember.autograd import grad
    from ember.ops.rnn import gru_cell, lstm_cell

    g = ember.randn(2, 8, dtype=ember.float64, requires_grad=True)
    c = ember.randn(2, 2, dtype=ember.float64, requires_grad=True)
    assert gradcheck(lambda a, b: lstm_cell(a, b), (g, c))
    xp = ember.randn(2, 6, dtype=ember.float64, requires_grad=True)
    hp = ember.randn(2, 6, dtype=ember.float64, requires_grad=True)
    assert gradcheck(lambda a, b, h: gru_cell(a, b, h), (xp, hp, c))
    h, _ = lstm_cell(g, c)
    with pytest.raises(RuntimeError, match="first derivatives only"):
        grad(h.sum(), g, create_graph=True)
    with pytest.raises(ValueError, match="lstm_cell"):
        lstm_cell(g, ember.randn(2, 3, dtype=ember.float64))
