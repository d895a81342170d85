"""Right at the edges, as PyTorch is: values where a formula reads 0 * inf, empty tensors,
0-dim promotion, NumPy dtypes ember cannot hold. Each case is checked against PyTorch."""

import warnings

import ember
import numpy as np
import pytest
from ember.autograd import gradgradcheck

torch = pytest.importorskip("torch")


def _grads(lib, fn, *values):
    xs = [lib.tensor(v, dtype=lib.float64, requires_grad=True) for v in values]
    fn(lib, *xs).sum().backward()
    return [x.grad.detach().numpy() for x in xs]


@pytest.mark.parametrize("name", ["std", "var"])
@pytest.mark.parametrize("shape, dim", [((4,), None), ((3, 5), 1), ((3, 5), 0)])
def test_std_and_var_of_constant_input_have_gradient_zero(name, shape, dim):
    value = np.full(shape, 2.5)

    def fn(lib, x):
        return getattr(x, name)() if dim is None else getattr(x, name)(dim)

    (ours,), (theirs,) = _grads(ember, fn, value), _grads(torch, fn, value)
    assert np.isfinite(ours).all()
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(ours, np.zeros(shape))


def test_std_keeps_its_gradient_elsewhere_and_second_derivatives_are_finite():
    x = ember.tensor([[1.0, 1.0, 1.0], [0.5, -1.0, 2.0]], dtype=ember.float64,
                     requires_grad=True)
    mixed = _grads(ember, lambda lib, t: t.std(1), x.detach().numpy())[0]
    want = _grads(torch, lambda lib, t: t.std(1), x.detach().numpy())[0]
    np.testing.assert_allclose(mixed, want, rtol=1e-12)
    assert gradgradcheck(lambda t: t[1:].std(1), (x,))
    (g,) = ember.autograd.grad(x.std(1).sum(), x, create_graph=True)
    (gg,) = ember.autograd.grad(g.sum(), x)
    assert np.isfinite(gg.numpy()).all()


def test_pow_at_zero_to_the_zero_has_gradient_zero():
    base, exponent = np.array([0.0, 0.0, 2.0, 0.0]), np.array([0.0, 2.0, 0.0, 1.0])
    fn = lambda lib, a, b: a ** b  # noqa: E731
    ours, theirs = _grads(ember, fn, base, exponent), _grads(torch, fn, base, exponent)
    for o, t in zip(ours, theirs):
        np.testing.assert_array_equal(o, t)
    assert ours[0][0] == 0.0  # d(a^b)/da at a = b = 0
    a = ember.tensor([0.0, 1.5], dtype=ember.float64, requires_grad=True)
    b = ember.tensor([0.0, 2.0], dtype=ember.float64, requires_grad=True)
    (ga,) = ember.autograd.grad((a ** b).sum(), a, create_graph=True)
    (gga,) = ember.autograd.grad(ga.sum(), a)
    assert np.isfinite(gga.numpy()).all()


@pytest.mark.parametrize("ours, theirs", [
    ((ember.float32, (2,)), (ember.float64, ())),   # same kind: the tensor with dims decides
    ((ember.float64, ()), (ember.float32, (2,))),
    ((ember.int64, (2,)), (ember.float64, ())),     # higher kind: the 0-dim tensor decides
    ((ember.bool_, (2,)), (ember.int64, ())),
    ((ember.float32, ()), (ember.float64, ())),     # both 0-dim: the usual table
    ((ember.int64, (2,)), (ember.bool_, ())),
])
def test_zero_dim_tensors_promote_like_pytorch(ours, theirs):
    (da, sa), (db, sb) = ours, theirs
    a, b = ember.ones(sa, dtype=da), ember.ones(sb, dtype=db)
    ta = torch.ones(sa, dtype=getattr(torch, da.name))
    tb = torch.ones(sb, dtype=getattr(torch, db.name))
    for op in ("__add__", "__mul__", "__sub__"):
        if ember.bool_ in (da, db) and op == "__sub__":
            continue
        got, want = getattr(a, op)(b), getattr(ta, op)(tb)
        assert got.dtype.name == str(want.dtype).removeprefix("torch."), (op, got.dtype, want.dtype)


def test_reductions_over_empty_tensors():
    x, tx = ember.randn(0, 3), torch.randn(0, 3)
    assert x.sum(0).numpy().tolist() == tx.sum(0).tolist() == [0.0, 0.0, 0.0]
    assert np.isnan(x.mean(0).numpy()).all() and tx.mean(0).isnan().all()
    values, indices = x.max(1)  # over a dimension of size 3: an empty result
    assert values.shape == indices.shape == tuple(tx.max(1).values.shape) == (0,)
    assert ember.amax(x, 1).shape == (0,) and ember.argmin(x, 1).shape == (0,)
    for fn in (lambda t: t.max(0), lambda t: t.amax(), lambda t: t.argmax()):
        with pytest.raises((ValueError, IndexError, RuntimeError)):
            fn(tx)
        with pytest.raises(ValueError, match="zero-size dimension"):
            fn(x)


def test_layers_accept_empty_batches_and_zero_features():
    x = ember.randn(0, 3, requires_grad=True)
    for module in (ember.nn.BatchNorm1d(3), ember.nn.LayerNorm(3), ember.nn.Linear(3, 4)):
        y = module(x)
        assert y.shape[0] == 0
        y.sum().backward()
        assert x.grad.shape == (0, 3)
        x.grad = None
    bn = ember.nn.BatchNorm1d(3)
    bn(ember.randn(0, 3))
    np.testing.assert_array_equal(bn.running_mean.numpy(), [0.0, 0.0, 0.0])  # unchanged
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lin, tlin = ember.nn.Linear(0, 3), torch.nn.Linear(0, 3)
        no_out = ember.nn.Linear(3, 0)
    out = lin(ember.randn(2, 0))
    assert out.shape == tuple(tlin(torch.randn(2, 0)).shape) == (2, 3)
    np.testing.assert_array_equal(out.detach().numpy(), np.zeros((2, 3)))  # bias U(0, 0)
    assert no_out(ember.randn(2, 3)).shape == (2, 0)
    conv = ember.nn.functional.conv2d(ember.randn(0, 1, 4, 4), ember.randn(2, 1, 3, 3))
    assert conv.shape == (0, 2, 2, 2)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        ember.nn.BatchNorm1d(3)(ember.randn(1, 3))


@pytest.mark.parametrize("np_dtype", [np.uint64, np.float16, np.complex64])
def test_numpy_dtypes_ember_cannot_hold_are_errors(np_dtype):
    with pytest.raises(TypeError, match=f"unsupported NumPy dtype {np.dtype(np_dtype)}"):
        ember.tensor(np.array([1, 2], dtype=np_dtype))
    with pytest.raises(TypeError, match="unsupported NumPy dtype"):
        ember.from_numpy(np.array([1, 2], dtype=np_dtype))
    # an explicit dtype is a conversion the user asked for
    assert ember.tensor(np.array([1, 2], dtype=np_dtype).real, dtype=ember.float32).tolist() \
        == [1.0, 2.0]


@pytest.mark.parametrize("np_dtype", [np.int8, np.int16, np.int32, np.uint8, np.uint16,
                                      np.uint32])
def test_narrower_integers_widen_exactly(np_dtype):
    info = np.iinfo(np_dtype)
    values = np.array([info.min, 0, info.max], dtype=np_dtype)
    t = ember.tensor(values)
    assert t.dtype is ember.int64
    assert t.numpy().tolist() == values.astype(np.int64).tolist()
