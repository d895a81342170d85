"""Layers and initialisation: Linear, activations, Flatten, Dropout, nn.init."""

import math

import ember
import ember.nn as nn
import numpy as np
import pytest
from ember.autograd import gradcheck


def test_linear_forward_backward_and_gradcheck():
    lin = nn.Linear(5, 3).double()
    x = ember.randn(4, 5, dtype=ember.float64, requires_grad=True)
    w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    np.testing.assert_allclose(lin(x).detach().numpy(), x.detach().numpy() @ w.T + b,
                               rtol=1e-12)
    assert gradcheck(lambda inp, W, B: nn.functional.linear(inp, W, B),
                     (x, lin.weight, lin.bias))
    y = lin(ember.randn(2, 7, 5, dtype=ember.float64))  # any leading dims
    assert y.shape == (2, 7, 3)


def test_linear_default_init_bounds_follow_pytorch():
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w = lin.weight.detach().numpy()
    assert w.shape == (300, 400) and np.abs(w).max() <= bound
    assert np.abs(w).max() > 0.95 * bound  # really uniform over the whole range
    assert abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound
    assert np.abs(lin.bias.detach().numpy()).max() <= bound
    assert nn.Linear(3, 2, bias=False).bias is None


def test_linear_shape_error_names_features():
    with pytest.raises(ValueError, match=r"linear: input of shape \(2, 4\) has 4 features.*"
                                         r"expects 5"):
        nn.Linear(5, 3)(ember.randn(2, 4))


@pytest.mark.parametrize("module, fn", [
    (nn.ReLU(), lambda x: np.maximum(x, 0)),
    (nn.LeakyReLU(0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    (nn.ELU(0.5), lambda x: np.where(x > 0, x, 0.5 * (np.exp(x) - 1))),
    (nn.SiLU(), lambda x: x / (1 + np.exp(-x))),
    (nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
    (nn.Tanh(), np.tanh),
    (nn.Softplus(beta=2.0), lambda x: np.log1p(np.exp(2 * x)) / 2),
    (nn.Softmax(dim=1), lambda x: np.exp(x) / np.exp(x).sum(1, keepdims=True)),
    (nn.LogSoftmax(dim=1), lambda x: x - np.log(np.exp(x).sum(1, keepdims=True))),
    (nn.GELU(approximate="tanh"),
     lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))),
])
def test_activation_modules(module, fn):
    xv = np.random.default_rng(3).normal(size=(3, 4)) * 2
    x = ember.tensor(xv, requires_grad=True)
    np.testing.assert_allclose(module(x).detach().numpy(), fn(xv), rtol=1e-10, atol=1e-12)
    assert gradcheck(module, (x,))


def test_flatten_unflatten_identity():
    x = ember.randn(2, 3, 4, 5)
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 2)(x).shape == (24, 5)
    assert nn.Unflatten(1, (2, 30))(nn.Flatten()(x)).shape == (2, 2, 30)
    assert nn.Identity(3, foo=1)(x) is x


def test_dropout_is_unbiased_and_gradient_flows_through_kept_units():
    x = ember.ones(20000, requires_grad=True)
    y = nn.functional.dropout(x, 0.3)
    assert abs(y.detach().numpy().mean() - 1.0) < 0.03
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.detach().numpy())  # d y / d x = mask / (1-p)
    with pytest.raises(ValueError, match="probability"):
        nn.Dropout(1.5)


def test_init_functions_statistics():
    init = nn.init
    t = ember.empty(256, 512)
    fan_in, fan_out = 512, 256
    init.xavier_uniform_(t)
    a = math.sqrt(6 / (fan_in + fan_out))
    assert np.abs(t.numpy()).max() <= a and abs(t.numpy().std() - a / math.sqrt(3)) < 0.01 * a
    init.xavier_normal_(t, gain=2.0)
    assert abs(t.numpy().std() - 2 * math.sqrt(2 / (fan_in + fan_out))) < 0.02
    init.kaiming_normal_(t, nonlinearity="relu")
    assert abs(t.numpy().std() - math.sqrt(2 / fan_in)) < 0.002
    init.kaiming_uniform_(t, mode="fan_out", nonlinearity="relu")
    b = math.sqrt(2) * math.sqrt(3 / fan_out)
    assert np.abs(t.numpy()).max() <= b
    init.trunc_normal_(t, std=1.0, a=-1.0, b=1.0)
    assert np.abs(t.numpy()).max() <= 1.0
    init.constant_(t, 0.25)
    assert (t.numpy() == 0.25).all()
    conv_w = ember.empty(8, 4, 3, 3)
    assert nn.init._calculate_fan_in_and_fan_out(conv_w) == (36, 72)
    assert nn.init.calculate_gain("tanh") == pytest.approx(5 / 3)
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        nn.init.calculate_gain("swishy")


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (3, 2, 2)])
def test_orthogonal_init(shape):
    t = ember.empty(*shape, dtype=ember.float64)
    nn.init.orthogonal_(t, gain=1.5)
    m = t.numpy().reshape(shape[0], -1)
    small = min(m.shape)
    gram = m @ m.T if m.shape[0] == small else m.T @ m
    np.testing.assert_allclose(gram, 1.5 ** 2 * np.eye(small), atol=1e-10)


def test_init_does_not_record_a_graph():
    lin = nn.Linear(3, 3)
    nn.init.normal_(lin.weight)
    assert lin.weight.is_leaf and lin.weight.grad_fn is None


def test_linear_matches_pytorch_with_converted_state_dict():
    torch = pytest.importorskip("torch")
    tl = torch.nn.Linear(6, 4).double()
    ours = nn.Linear(6, 4).double()
    ours.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in
                          tl.state_dict().items()})
    x = np.random.default_rng(0).normal(size=(3, 6))
    np.testing.assert_allclose(ours(ember.tensor(x)).detach().numpy(),
                               tl(torch.tensor(x)).detach().numpy(), rtol=1e-12)
