"""The fused elementwise and normalisation kernels (ReLU, GELU, LayerNorm, 2x2 max
pooling): native kernels against float64 references and against the backend's
primitive-composed defaults (what a backend without its own kernel, e.g. CUDA, runs),
first and second derivatives, extreme inputs, bad input."""

import math

import ember
import ember.nn.functional as F
import numpy as np
import pytest
from ember import _C
from ember.autograd import gradcheck, gradgradcheck
from ember.backend import backend_for
from ember.backend.base import Backend

rng = np.random.default_rng(5)
CPU = backend_for(ember.device("cpu"))
_erfc = np.vectorize(math.erfc)


def t64(a, grad=True):
    return ember.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def gelu_ref(x, approximate):
    """gelu and its derivative in float64, straight from the definitions."""
    if approximate == "tanh":
        c = math.sqrt(2 / math.pi)
        t = np.tanh(c * (x + 0.044715 * x ** 3))
        du = c * (1 + 3 * 0.044715 * x * x)
        return 0.5 * x * (1 + t), 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du
    cdf = 0.5 * _erfc(-x / math.sqrt(2))  # = (1 + erf(x / sqrt 2)) / 2, no cancellation
    return x * cdf, cdf + x * np.exp(-x * x / 2) / math.sqrt(2 * math.pi)


# ------------------------------------------------------------------------------- ReLU
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_kernel_matches_maximum_and_keeps_nan(dtype):
    x = rng.normal(size=300_001).astype(dtype)  # several threads' chunks and a ragged end
    x[[0, 5, -1]] = [np.nan, -np.inf, np.inf]
    y = _C.relu(x)
    np.testing.assert_array_equal(y, np.maximum(x, 0))  # NaN stays NaN, as in NumPy/PyTorch
    np.testing.assert_array_equal(Backend.relu(CPU, x), y)  # the primitive default agrees
    ints = np.array([-3, 0, 4])
    np.testing.assert_array_equal(CPU.relu(ints), [0, 0, 4])  # ints take NumPy's path


def test_max_pool_2x2_fast_path_matches_the_general_rule():
    # the branch-free 2x2/stride-2 path against its selection rule written in NumPy: the
    # largest value, the first of equal ones, a NaN over any number, the last of two NaNs
    x = rng.normal(size=(3, 4, 8, 10)).astype(np.float32)
    x[0, 0, 0, :2] = np.nan
    x[1, 2, 3, 4:6] = 7.0  # a tie: the first of the window wins
    x[2, 1, 6:8, 0:2] = [[np.nan, 1.0], [np.nan, 2.0]]  # two NaNs: the later one wins
    y, idx = _C.max_pool2d(x, (2, 2), (2, 2), (0, 0), (1, 1), False)
    windows = x.reshape(3, 4, 4, 2, 5, 2).transpose(0, 1, 2, 4, 3, 5).reshape(3, 4, 4, 5, 4)
    nan = np.isnan(windows)
    last_nan = 3 - np.argmax(nan[..., ::-1], axis=-1)
    first_max = np.argmax(np.where(nan, -np.inf, windows), axis=-1)
    k = np.where(nan.any(-1), last_nan, first_max)  # window position 0..3 (row-major)
    oy, ox = np.meshgrid(np.arange(4), np.arange(5), indexing="ij")
    want_idx = (2 * oy + k // 2) * 10 + 2 * ox + k % 2
    np.testing.assert_array_equal(idx, want_idx)
    np.testing.assert_array_equal(y, np.take_along_axis(windows, k[..., None], -1)[..., 0])


# ------------------------------------------------------------------------------- GELU
@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gelu_kernel_matches_definition(approximate, dtype):
    x = np.concatenate([rng.normal(size=40_000) * 3, np.linspace(-12, 12, 2001)]).astype(dtype)
    g = rng.normal(size=x.size).astype(dtype)
    y_ref, d_ref = gelu_ref(x.astype(np.float64), approximate)
    tol = 2e-6 if dtype == np.float32 else 1e-13
    y = CPU.gelu(x, approximate)
    dx = CPU.gelu_backward(g, x, approximate)
    assert y.dtype == dtype and dx.dtype == dtype
    np.testing.assert_allclose(y, y_ref, rtol=tol, atol=tol)
    np.testing.assert_allclose(dx, g * d_ref, rtol=tol * 4, atol=tol * 4)


def test_gelu_float32_keeps_relative_precision_in_the_negative_tail():
    # x Phi(x) through erfc, not 1 + erf (which cancels: at x = -6 every digit is lost,
    # PyTorch's float32 gelu returns 0 there)
    x = np.linspace(-12, -1, 5001).astype(np.float32)
    x64 = x.astype(np.float64)
    want = gelu_ref(x64, "none")[0]
    got = CPU.gelu(x, "none")
    assert np.all(got < 0)
    np.testing.assert_allclose(got, want, rtol=3e-5)
    np.testing.assert_allclose(CPU.gelu_backward(np.ones_like(x), x, "none"),
                               gelu_ref(x64, "none")[1], rtol=3e-5, atol=1e-7)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_first_second_and_third_derivatives(approximate):
    x = t64(rng.uniform(-3, 3, size=(3, 4)))
    f = lambda a: F.gelu(a, approximate=approximate)  # noqa: E731
    assert gradcheck(f, (x,))
    assert gradgradcheck(f, (x,))
    # third order: gradgradcheck of the first derivative (through GeluBackward's backward)
    grad_of = lambda a: ember.autograd.grad(f(a).sum(), a, create_graph=True)[0]  # noqa: E731
    assert gradgradcheck(grad_of, (x,))


def test_gelu_extreme_inputs_stay_finite():
    x = ember.tensor([-1e4, -50.0, -8.0, 0.0, 8.0, 50.0, 1e4], requires_grad=True)
    y = F.gelu(x)
    y.sum().backward()
    assert np.isfinite(y.detach().numpy()).all() and np.isfinite(x.grad.numpy()).all()
    np.testing.assert_allclose(y.detach().numpy(), [0, 0, 0, 0, 8, 50, 1e4], atol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), [0, 0, 0, 0.5, 1, 1, 1], atol=1e-6)


def test_gelu_kernel_bad_input():
    with pytest.raises(TypeError, match=r"gelu: expected a float32 or float64 array, "
                                        r"got \(3,\) int64"):
        _C.gelu(np.arange(3))
    with pytest.raises(ValueError, match=r"gelu_backward: gradient \(\(3,\) float32\) "
                                         r"and input \(\(4,\) float32\)"):
        _C.gelu_backward(np.zeros(3, np.float32), np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="gelu_backward.*same shape and dtype"):
        _C.gelu_backward(np.zeros(3, np.float32), np.zeros(3, np.float64))


def test_gelu_non_contiguous_input():
    x = rng.normal(size=(6, 8))
    xt = ember.from_numpy(x.T)  # a transposed view
    np.testing.assert_allclose(F.gelu(xt).numpy(), gelu_ref(x.T, "none")[0], rtol=1e-13)


# ------------------------------------------------------------------------------- LayerNorm
def ln_ref(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    y = (x - mu) / np.sqrt(var + eps)
    return y * (1 if w is None else w) + (0 if b is None else b)


def ln_backward_ref(g, x, w, eps):
    """(dx, dweight, dbias) by the formula: xhat = (x - mean) rstd, gh = g w,
    dx = rstd (gh - mean(gh) - xhat mean(gh xhat)), dweight = sum_rows g xhat, dbias = sum g."""
    mean = x.mean(-1, keepdims=True)
    rstd = 1 / np.sqrt(((x - mean) ** 2).mean(-1, keepdims=True) + eps)
    xhat = (x - mean) * rstd
    gh = g if w is None else g * w
    dx = rstd * (gh - gh.mean(-1, keepdims=True) - xhat * (gh * xhat).mean(-1, keepdims=True))
    rows = tuple(range(x.ndim - 1))
    return dx, (g * xhat).sum(rows), g.sum(rows)


@pytest.mark.parametrize("affine", ["both", "weight", "bias", "none"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layer_norm_kernel_forward_backward(affine, dtype):
    # rows * d > 65536: two threads, each with its own dweight/dbias partial sums (on a
    # 2-core machine); a width that is no vector multiple
    rows, d = 603, 130
    x = (rng.normal(size=(3, rows // 3, d)) * 2 + 0.5).astype(dtype)
    g = rng.normal(size=x.shape).astype(dtype)
    w = rng.normal(size=d).astype(dtype) if affine in ("both", "weight") else None
    b = rng.normal(size=d).astype(dtype) if affine in ("both", "bias") else None
    y, mean, rstd = CPU.layer_norm(x, w, b, 1e-5)
    assert y.shape == x.shape and mean.shape == rstd.shape == x.shape[:-1]
    tol = 1e-5 if dtype == np.float32 else 1e-12
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(y, ln_ref(x64, w, b, 1e-5), rtol=tol, atol=tol)
    # backward against the formula (ember/ops/normalization.py) in float64
    dx, dw, db = CPU.layer_norm_backward(g, x, w, mean, rstd)
    ref = ln_backward_ref(g.astype(np.float64), x64, None if w is None else w.astype(np.float64),
                          1e-5)
    for got, want in zip((dx, dw, db), ref):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, want, rtol=tol * 10, atol=tol * 10)


@pytest.mark.parametrize("with_affine", [True, False])
def test_layer_norm_gradcheck_and_gradgradcheck(with_affine):
    x = t64(rng.normal(size=(2, 3, 5)))
    w, b = (t64(rng.normal(size=(3, 5))), t64(rng.normal(size=(3, 5)))) if with_affine \
        else (None, None)
    args = (x, w, b) if with_affine else (x,)
    f = (lambda a, ww, bb: F.layer_norm(a, (3, 5), ww, bb, eps=1e-3)) if with_affine \
        else (lambda a: F.layer_norm(a, (3, 5), eps=1e-3))
    assert gradcheck(f, args)
    assert gradgradcheck(f, args)


def test_layer_norm_large_offset_and_constant_rows_float32():
    # 1e4 + O(1) noise: the two-pass variance keeps the noise (a one-pass E[x^2] - E[x]^2
    # in float32 would lose it to cancellation); a constant row gives y = bias, no NaN
    noise = rng.normal(size=(4, 64))
    x = np.concatenate([1e4 + noise, np.full((1, 64), 7.0)]).astype(np.float32)
    xt = ember.tensor(x, requires_grad=True)
    y = F.layer_norm(xt, 64)
    y.sum().backward()
    out = y.detach().numpy()
    assert np.isfinite(out).all() and np.isfinite(xt.grad.numpy()).all()
    np.testing.assert_allclose(out[:4], ln_ref(x[:4].astype(np.float64), None, None, 1e-5),
                               atol=2e-3)
    np.testing.assert_array_equal(out[4], 0.0)


def test_layer_norm_module_matches_torch():
    torch = pytest.importorskip("torch")
    x = rng.normal(size=(4, 6, 16)).astype(np.float32)
    ln = ember.nn.LayerNorm(16)
    tln = torch.nn.LayerNorm(16)
    with torch.no_grad():
        tln.weight.copy_(torch.tensor(rng.normal(size=16).astype(np.float32)))
        tln.bias.copy_(torch.tensor(rng.normal(size=16).astype(np.float32)))
    ln.load_state_dict({k: ember.tensor(v.numpy()) for k, v in tln.state_dict().items()})
    xe, xt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    g = rng.normal(size=x.shape).astype(np.float32)
    ye, yt = ln(xe), tln(xt)
    ye.backward(ember.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ln.weight.grad.numpy(), tln.weight.grad.numpy(),
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ln.bias.grad.numpy(), tln.bias.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_group_norm_uses_the_fused_rows_and_gradchecks():
    x = t64(rng.normal(size=(2, 4, 3)))
    w, b = t64(rng.normal(size=4)), t64(rng.normal(size=4))
    xg = x.detach().numpy().reshape(2, 2, 6)
    ref = ln_ref(xg, None, None, 1e-5).reshape(2, 4, 3) * w.detach().numpy()[:, None] \
        + b.detach().numpy()[:, None]
    np.testing.assert_allclose(F.group_norm(x, 2, w, b).detach().numpy(), ref, rtol=1e-12)
    assert gradcheck(lambda a, ww, bb: F.group_norm(a, 2, ww, bb), (x, w, b))


@pytest.mark.parametrize("shape", [(3, 0), (0, 5), (2, 0, 4)])
def test_layer_norm_zero_size(shape):
    x = ember.zeros(shape, dtype=ember.float64, requires_grad=True)
    w = ember.ones(shape[-1], dtype=ember.float64, requires_grad=True)
    y = F.layer_norm(x, shape[-1], w)
    assert y.shape == shape
    y.sum().backward()
    assert x.grad.shape == shape and w.grad.shape == (shape[-1],)


def test_layer_norm_long_rows_accumulate_accurately():
    # a million values per row (as GroupNorm produces), offset from 0: float32 sums would
    # be off in the 4th digit; the kernel's double accumulators are not
    x = (rng.normal(size=(2, 1 << 20)) + 50).astype(np.float32)
    y, mean, rstd = CPU.layer_norm(x, None, None, 1e-5)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(mean, x64.mean(-1), rtol=1e-7)
    np.testing.assert_allclose(y, ln_ref(x64, None, None, 1e-5), atol=2e-5)


def test_layer_norm_and_gelu_accept_arrays_with_their_own_dtype_object():
    # an unpickled array carries a dtype object of its own (equal, but not identical)
    import pickle

    x = pickle.loads(pickle.dumps(rng.normal(size=(2, 8)).astype(np.float32)))
    ln = ember.nn.LayerNorm(8)
    out = ln(ember.from_numpy(x))
    np.testing.assert_allclose(out.detach().numpy(),
                               ln_ref(x.astype(np.float64), None, None, 1e-5), atol=1e-5)
    g = pickle.loads(pickle.dumps(np.ones((2, 8), np.float32)))
    np.testing.assert_allclose(_C.gelu_backward(g, x), gelu_ref(x.astype(np.float64), "none")[1],
                               atol=1e-5)


def test_layer_norm_bad_input():
    with pytest.raises(TypeError, match="layer_norm: weight must have the input's dtype"):
        F.layer_norm(ember.randn(2, 5), 5, ember.ones(5, dtype=ember.float64))
    with pytest.raises(ValueError, match="normalized_shape must name at least one dimension"):
        F.layer_norm(ember.randn(2, 5), ())
    with pytest.raises(ValueError, match="layer_norm: eps must be >= 0"):
        F.layer_norm(ember.randn(2, 5), 5, eps=-1.0)
    with pytest.raises(ValueError, match=r"layer_norm: weight of shape \(4,\) does not match "
                                         r"normalized_shape \(5,\)"):
        F.layer_norm(ember.randn(2, 5), 5, ember.ones(4))
    with pytest.raises(TypeError, match="layer_norm: expected a floating-point input"):
        F.layer_norm(ember.tensor([[1, 2, 3]]), 3)
    with pytest.raises(ValueError, match=r"layer_norm: weight has \(3,\) float32 but the "
                                         r"input \(2, 4\) float32 needs \(4,\)"):
        _C.layer_norm_forward(np.zeros((2, 4), np.float32), np.zeros(3, np.float32), None, 1e-5)
    with pytest.raises(TypeError, match="layer_norm: expected a float32 or float64 input"):
        _C.layer_norm_forward(np.zeros((2, 4), np.int32), None, None, 1e-5)
    with pytest.raises(ValueError, match=r"layer_norm_backward: mean has \(3,\) float64 "
                                         r"but the input \(2, 4\) float64 has 2 rows"):
        _C.layer_norm_backward(np.zeros((2, 4)), np.zeros((2, 4)), None, np.zeros(3),
                               np.zeros(2))
