"""Reductions: what the op table (tests/op_table.py) does not cover -- result dtypes,
ties, extreme logits, empty and 0-d edge cases, the namedtuple results, errors; and
all/any."""

import ember
import numpy as np
import pytest
from ember.autograd import gradcheck, gradgradcheck
from helpers import assert_close, grad_of, leaf, np_of, rand
from op_table import np_softmax


# ---------------------------------------------------------------------------- sum / mean
def test_sum_int_and_bool_give_int64():
    a = np.array([[1, 2, 3], [4, 5, 6]])
    out = ember.tensor(a).sum(0)
    assert out.dtype is ember.int64
    np.testing.assert_array_equal(np_of(out), a.sum(0))
    b = ember.tensor(np.array([True, False, True]))
    assert b.sum().dtype is ember.int64 and b.sum().item() == 2
    assert ember.tensor(a).sum(dtype=ember.float64).dtype is ember.float64


def test_mean_of_int_tensor_raises():
    with pytest.raises(TypeError, match="mean.*int64"):
        ember.tensor([1, 2, 3]).mean()


def test_sum_of_0d_tensor():
    x = leaf(3.5)
    assert_close(x.sum(), 3.5)
    assert_close(x.sum(0), 3.5)
    assert_close(x.mean(-1, keepdim=True), 3.5)


@pytest.mark.parametrize("name", ["sum", "mean", "var", "amax", "logsumexp", "softmax",
                                  "argmax", "log_softmax", "max", "min", "std", "norm"])
def test_reduction_dim_out_of_range(name):
    x = leaf(rand((2, 3), 5))
    fn = (lambda t, d: ember.norm(t, 2, d)) if name == "norm" else getattr(ember, name)
    with pytest.raises(IndexError, match=rf"{name}: dimension 2 is out of range .* 2 dim"):
        fn(x, 2)
    with pytest.raises(IndexError, match=rf"{name}: dimension -3 is out of range"):
        fn(x, -3)


# ---------------------------------------------------------------------------- var / std
@pytest.mark.parametrize("unbiased,ddof", [(True, 1), (False, 0)])
def test_var_std_unbiased_flag(unbiased, ddof):
    a = rand((5,), 7)
    assert_close(ember.var(leaf(a), unbiased=unbiased), np.var(a, ddof=ddof))
    assert_close(leaf(a).std(unbiased=unbiased), np.std(a, ddof=ddof))
    assert_close(leaf(a).var(0), np.var(a, ddof=1))  # PyTorch's default: unbiased


def test_var_with_no_degrees_of_freedom_is_nan():
    # N - correction = 0: 0/0, as PyTorch (nan, not an exception)
    assert np.isnan(leaf([1.5]).var().item())
    assert np.isnan(leaf([1.5]).std().item())


# ---------------------------------------------------------------------------- max / min
def _distinct(shape, seed):
    """Values with no ties (a random permutation), so max/min are differentiable."""
    n = int(np.prod(shape))
    return np.random.default_rng(seed).permutation(n).reshape(shape) * 0.37 - 1.0


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_with_dim_returns_values_and_indices(name, dim, keepdim):
    a = _distinct((3, 4), 11)
    x = leaf(a)
    values, indices = getattr(ember, name)(x, dim, keepdim)
    res = getattr(x, name)(dim=dim, keepdim=keepdim)
    assert res.values.shape == values.shape and res.indices.dtype is ember.int64
    assert_close(values, getattr(np, name)(a, axis=dim, keepdims=keepdim))
    assert indices.dtype is ember.int64 and not indices.requires_grad
    np.testing.assert_array_equal(np_of(indices),
                                  getattr(np, "arg" + name)(a, axis=dim, keepdims=keepdim))
    assert gradcheck(lambda t: getattr(ember, name)(t, dim, keepdim).values, (x,))


@pytest.mark.parametrize("name", ["amax", "amin"])
def test_amax_amin_ties_split_gradient(name):
    x = leaf([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]] if name == "amax"
             else [[3.0, 1.0, 1.0], [2.0, 2.0, 2.0]])
    (g,) = grad_of(lambda t: getattr(ember, name)(t, 1), x)
    np.testing.assert_allclose(g, [[0.0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_with_dim_ties_send_gradient_to_the_returned_index(name):
    # PyTorch's max(dim)/min(dim): the gradient goes to the element at `indices` only
    vals = [[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]] if name == "max" else [[3.0, 1.0, 1.0], [2.0] * 3]
    x = leaf(vals)
    res = getattr(x, name)(1)
    np.testing.assert_array_equal(np_of(res.indices), [1, 0])
    res.values.sum().backward()
    np.testing.assert_array_equal(np_of(x.grad), [[0, 1, 0], [1, 0, 0]])
    assert gradgradcheck(lambda t: getattr(t, name)(0).values ** 2, (leaf(_distinct((2, 3), 15)),))


def test_max_min_of_0d_tensor():
    x = leaf(2.5)
    v, i = x.max(0)
    assert v.item() == 2.5 and i.item() == 0
    assert x.min().item() == 2.5


def test_max_min_of_empty_tensor_raises():
    e = ember.zeros(0, 3)
    with pytest.raises(ValueError, match=r"amax.*zero-size.*\(0, 3\)"):
        e.max()
    with pytest.raises(ValueError, match=r"amin.*zero-size"):
        e.amin()
    with pytest.raises(ValueError, match=r"argmax.*zero-size"):
        e.argmax()
    with pytest.raises(ValueError, match=r"max: .*zero-size dimension \(input shape \(0, 3\)"):
        e.max(0)
    assert e.max(1)[0].shape == (0,)  # over a dimension of size 3: an empty result


# ---------------------------------------------------------------------------- logsumexp / softmax
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_gradgradcheck_and_properties(name):
    a = rand((2, 5), 22, -3, 3)
    x = leaf(a)
    assert gradgradcheck(lambda t: getattr(ember, name)(t, 1), (x,))
    s = np_of(ember.softmax(x, -1))
    np.testing.assert_allclose(s.sum(-1), 1.0)
    # softmax is shift invariant along its dim
    assert_close(getattr(ember, name)(x + 100.0, 1), np_of(getattr(ember, name)(x, 1)))


def test_softmax_logsumexp_over_empty_dim():
    x = ember.zeros(2, 0)
    assert ember.softmax(x, -1).shape == (2, 0)
    assert ember.log_softmax(x, -1).shape == (2, 0)
    np.testing.assert_array_equal(np_of(ember.logsumexp(x, -1)), [-np.inf, -np.inf])  # log(0)
    assert ember.softmax(ember.zeros(0, 3), -1).shape == (0, 3)


def test_softmax_of_int_tensor_is_float():
    out = ember.softmax(ember.tensor([1, 2, 3]), 0)
    assert out.dtype is ember.float32
    assert_close(out, np_softmax(np.array([1.0, 2.0, 3.0]), 0), rtol=1e-6)


EXTREME = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4]])


def test_logsumexp_extreme_logits():
    x = leaf(EXTREME)
    out = ember.logsumexp(x, 1)
    # 1e4 + log(1 + e^-1e4 + e^-2e4) = 1e4; -1e4 + log 3; 1e4 + log 2
    np.testing.assert_allclose(np_of(out), [1e4, -1e4 + np.log(3.0), 1e4 + np.log(2.0)],
                               rtol=1e-15)
    (g,) = grad_of(lambda t: ember.logsumexp(t, 1), x)
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0]], atol=1e-15)
    assert np.isfinite(ember.logsumexp(x).item())  # over everything


def test_softmax_extreme_logits():
    x = leaf(EXTREME)
    s = ember.softmax(x, 1)
    np.testing.assert_allclose(np_of(s), [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0]],
                               atol=1e-15)
    w = rand((3, 3), 24)
    (g,) = grad_of(lambda t: ember.softmax(t, 1) * leaf(w, requires_grad=False), x)
    assert np.all(np.isfinite(g))
    sv = np_of(s)
    np.testing.assert_allclose(g, sv * (w - (w * sv).sum(1, keepdims=True)), atol=1e-12)


def test_log_softmax_extreme_logits():
    x = leaf(EXTREME)
    y = ember.log_softmax(x, 1)
    v = np_of(y)
    assert np.all(np.isfinite(v))
    np.testing.assert_allclose(
        v, [[0, -2e4, -1e4], [-np.log(3)] * 3, [-np.log(2), -np.log(2), -2e4 - np.log(2)]],
        rtol=1e-12, atol=1e-12)
    w = rand((3, 3), 25)
    (g,) = grad_of(lambda t: ember.log_softmax(t, 1) * leaf(w, requires_grad=False), x)
    assert np.all(np.isfinite(g))
    sv = np.exp(v)
    np.testing.assert_allclose(g, w - sv * w.sum(1, keepdims=True), atol=1e-12)
    # float32 too
    x32 = ember.tensor(EXTREME.astype(np.float32), requires_grad=True)
    ember.log_softmax(x32, 1).sum().backward()
    assert np.all(np.isfinite(np_of(x32.grad)))


def test_logsumexp_of_all_minus_inf_row_is_minus_inf():
    out = ember.logsumexp(ember.tensor([[-np.inf, -np.inf], [0.0, 0.0]]), 1)
    v = np_of(out)
    assert v[0] == -np.inf and np.isclose(v[1], np.log(2.0))


# ---------------------------------------------------------------------------- norm
@pytest.mark.parametrize("p", [1, 2, 3, float("inf")])
def test_norm_gradient_at_zero_vector_is_zero(p):
    # (sum x^2)^(1/2) has no derivative at 0; PyTorch (and ember) use the subgradient 0,
    # never 0/0 = nan, which would poison a whole training step
    x = leaf(np.zeros(3))
    (g,) = grad_of(lambda t: ember.norm(t, p), x)
    np.testing.assert_array_equal(g, np.zeros(3))
    # a zero row next to a nonzero one: each row's gradient on its own
    y = leaf([[0.0, 0.0], [3.0, 4.0]])
    (g,) = grad_of(lambda t: ember.norm(t, p, 1), y)
    assert np.all(np.isfinite(g)) and np.all(g[0] == 0)
    if p == 2:
        np.testing.assert_allclose(g[1], [0.6, 0.8])


def test_norm_bad_p():
    with pytest.raises(ValueError, match="norm: p must be positive"):
        ember.norm(leaf([1.0]), 0)


def test_norm_default_and_method():
    a = rand((5,), 31)
    assert_close(leaf(a).norm(), np.linalg.norm(a))
    assert_close(ember.norm(leaf(a), 1), np.linalg.norm(a, 1))


# ---------------------------------------------------------------------------- all / any
@pytest.mark.parametrize("dim", [None, 0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("name", ["all", "any"])
def test_all_any(name, dim, keepdim):
    a = np.array([[0.0, 1.5, -2.0], [0.0, 0.0, 0.0], [1.0, 2.0, 3.0]])
    for arr in (a, a.astype(np.int64), a != 0):
        out = getattr(ember, name)(ember.tensor(arr), dim, keepdim)
        assert out.dtype is ember.bool_
        expected = getattr(np, name)(arr, axis=dim, keepdims=keepdim)
        np.testing.assert_array_equal(np_of(out), expected)
    x = leaf(a)
    assert not getattr(x, name)().requires_grad
