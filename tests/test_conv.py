"""Convolutions: the native kernels against the direct-loop reference and a NumPy conv,
gradcheck / gradgradcheck of conv1d, conv2d and conv_transpose2d, parity with PyTorch
(values, gradients, a loaded state_dict), the layers, bad input, and a small CNN that
must learn."""

from __future__ import annotations

import math

import ember
import ember.nn as nn
import ember.nn.functional as F
import numpy as np
import pytest
from ember import _C
from helpers import leaf, np_of, rand
from op_table import np_conv2d  # the NumPy oracle

# (x shape, w shape, stride, padding, dilation, groups)
CONFIGS = [
    ((2, 3, 7, 7), (4, 3, 3, 3), (1, 1), (1, 1), (1, 1), 1),
    ((1, 4, 9, 6), (6, 2, 3, 2), (2, 1), (1, 0), (1, 2), 2),            # non-square, groups
    ((3, 6, 8, 8), (6, 1, 3, 3), (1, 1), (1, 1), (1, 1), 6),            # depthwise
    ((2, 5, 5, 7), (3, 5, 1, 1), (1, 1), (0, 0), (1, 1), 1),            # pointwise (no im2col)
    ((2, 3, 11, 10), (2, 3, 5, 3), (3, 2), (2, 1), (2, 1), 1),          # stride + dilation
    ((1, 2, 4, 4), (3, 2, 4, 4), (1, 1), (0, 0), (1, 1), 1),            # 1x1 output
    ((5, 4, 6, 5), (8, 2, 2, 2), (2, 2), (1, 1), (1, 1), 2),            # odd sizes, batch 5
    ((4, 8, 3, 3), (4, 2, 3, 3), (1, 1), (3, 3), (1, 1), 4),            # padding > kernel/2
]


@pytest.mark.parametrize("cfg", CONFIGS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_native_kernels_match_reference_and_numpy(cfg, dtype):
    xs, ws, s, p, d, g = cfg
    rng = np.random.default_rng(1)
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    y = _C.conv2d_forward(x, w, s, p, d, g)
    assert y.dtype == dtype
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(y, _C.conv2d_reference(x, w, s, p, d, g), **tol)
    np.testing.assert_allclose(y, np_conv2d(x.astype(np.float64), w.astype(np.float64),
                                            s, p, d, g), **tol)
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx = _C.conv2d_backward_data(dy, w, xs, s, p, d, g)
    dw = _C.conv2d_backward_weight(dy, x, ws, s, p, d, g)
    np.testing.assert_allclose(dx, _C.conv2d_backward_data_reference(dy, w, xs, s, p, d, g),
                               **tol)
    np.testing.assert_allclose(dw, _C.conv2d_backward_weight_reference(dy, x, ws, s, p, d, g),
                               **tol)
    # the adjoint identities that define the two backward kernels
    xr = rng.standard_normal(xs)
    wr = rng.standard_normal(ws)
    lhs = np.sum(np_conv2d(xr, w.astype(np.float64), s, p, d, g) * dy)
    np.testing.assert_allclose(lhs, np.sum(xr * dx), rtol=1e-4 if dtype == np.float32 else 1e-10)
    lhs = np.sum(np_conv2d(x.astype(np.float64), wr, s, p, d, g) * dy)
    np.testing.assert_allclose(lhs, np.sum(wr * dw), rtol=1e-4 if dtype == np.float32 else 1e-10)


def test_native_threads_path_with_batch_1_and_many_channels():
    # batch 1 runs the GEMM and im2col multi-threaded instead of one image per thread
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 16, 12, 12)).astype(np.float32)
    w = rng.standard_normal((24, 16, 3, 3)).astype(np.float32)
    y = _C.conv2d_forward(x, w, (1, 1), (1, 1), (1, 1), 1)
    np.testing.assert_allclose(y, _C.conv2d_reference(x, w, (1, 1), (1, 1), (1, 1), 1),
                               rtol=1e-4, atol=1e-4)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    np.testing.assert_allclose(
        _C.conv2d_backward_weight(dy, x, w.shape, (1, 1), (1, 1), (1, 1), 1),
        _C.conv2d_backward_weight_reference(dy, x, w.shape, (1, 1), (1, 1), (1, 1), 1),
        rtol=1e-4, atol=1e-3)


# The implicit-GEMM paths: forward gathers col(X) inside the GEMM's packing for the whole
# batch at once (panels straddle images when OH OW is not a multiple of the panel width);
# stride-1 backward-data runs as a forward conv with the flipped weight when there are
# >= 16 channels per group; backward-weight packs both operands from dY and a padded
# channels-last copy of X. Each is checked with every GEMM micro-kernel this CPU has.
IMPLICIT_CONFIGS = [
    # (x shape, w shape, stride, padding, dilation, groups)
    ((3, 16, 5, 5), (8, 16, 3, 3), (1, 1), (1, 1), (1, 1), 1),     # P = 25: straddling panels
    ((1, 32, 9, 7), (20, 16, 3, 3), (1, 1), (1, 1), (2, 1), 2),    # batch 1, groups, dilation
    ((2, 16, 11, 10), (17, 16, 3, 2), (2, 1), (1, 0), (1, 1), 1),  # stride: col2im dx path
    ((2, 16, 6, 40), (5, 16, 1, 3), (1, 1), (0, 2), (1, 1), 1),    # wide rows (> 1 vector)
    ((3, 48, 4, 4), (30, 16, 2, 2), (1, 1), (1, 1), (1, 1), 3),    # pad > d (k - 1) - p ...
    ((2, 16, 7, 7), (9, 16, 7, 7), (1, 1), (3, 3), (1, 1), 1),     # 49 taps
]


@pytest.mark.parametrize("cfg", IMPLICIT_CONFIGS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_implicit_gemm_paths_match_reference_on_every_kernel(cfg, dtype):
    xs, ws, s, p, d, g = cfg
    rng = np.random.default_rng(7)
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    y_ref = _C.conv2d_reference(x, w, s, p, d, g)
    dy = rng.standard_normal(y_ref.shape).astype(dtype)
    dx_ref = _C.conv2d_backward_data_reference(dy, w, xs, s, p, d, g)
    dw_ref = _C.conv2d_backward_weight_reference(dy, x, ws, s, p, d, g)
    tol = dict(rtol=1e-4, atol=1e-3) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-10)
    b = rng.standard_normal(ws[0]).astype(dtype)
    yb_ref = _C.conv2d_reference(x, w, s, p, d, g, bias=b)
    np.testing.assert_allclose(yb_ref, y_ref.astype(np.float64) + b[:, None, None],
                               **tol)  # the reference's bias against the definition
    for kernel in _C.gemm_kernels():
        np.testing.assert_allclose(_C.conv2d_forward(x, w, s, p, d, g, kernel=kernel), y_ref,
                                   err_msg=kernel, **tol)
        # the bias is the GEMM's starting value (it accumulates onto it)
        np.testing.assert_allclose(_C.conv2d_forward(x, w, s, p, d, g, kernel=kernel, bias=b),
                                   yb_ref, err_msg=kernel, **tol)
        np.testing.assert_allclose(
            _C.conv2d_backward_data(dy, w, xs, s, p, d, g, kernel=kernel), dx_ref,
            err_msg=kernel, **tol)
        np.testing.assert_allclose(
            _C.conv2d_backward_weight(dy, x, ws, s, p, d, g, kernel=kernel), dw_ref,
            err_msg=kernel, **tol)


@pytest.mark.slow  # big enough to need several chunks of images
def test_backward_weight_chunks_of_images_add_up():
    # Backward-weight's channels-last copy holds at most 2**21 elements: a 16 x 258 x 258
    # padded image is one chunk on its own, so a batch of 3 takes three accumulating GEMMs.
    rng = np.random.default_rng(8)
    x = rng.standard_normal((3, 16, 256, 256)).astype(np.float32)
    args = ((1, 1), (1, 1), (1, 1), 1)
    dy = rng.standard_normal((3, 1, 258, 258)).astype(np.float32)  # 1x1 kernel, padding 1
    np.testing.assert_allclose(_C.conv2d_backward_weight(dy, x, (1, 16, 1, 1), *args),
                               _C.conv2d_backward_weight_reference(dy, x, (1, 16, 1, 1), *args),
                               rtol=1e-4, atol=1e-2)
    # 3x3: the chunked sum equals the sum of one-image (one-chunk) gradients
    dy = rng.standard_normal((3, 2, 256, 256)).astype(np.float32)
    dw = _C.conv2d_backward_weight(dy, x, (2, 16, 3, 3), *args)
    per_image = sum(_C.conv2d_backward_weight(dy[n:n + 1], x[n:n + 1], (2, 16, 3, 3), *args)
                    for n in range(3))
    np.testing.assert_allclose(dw, per_image, rtol=1e-4, atol=1e-2)


def test_native_conv_rejects_unknown_kernel():
    x = np.zeros((1, 2, 4, 4), np.float32)
    w = np.zeros((3, 2, 3, 3), np.float32)
    with pytest.raises(ValueError, match="conv2d: unknown kernel 'sse9'"):
        _C.conv2d_forward(x, w, kernel="sse9")


def test_native_accepts_any_strides_and_empty_batch():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 5, 3, 2)).transpose(3, 2, 1, 0)  # (2, 3, 5, 5), F-order
    w = rng.standard_normal((4, 3, 3, 3))[:, :, ::-1, :]          # negative strides
    assert not x.flags.c_contiguous
    np.testing.assert_allclose(_C.conv2d_forward(x, w, (1, 1), (1, 1)),
                               np_conv2d(x, np.ascontiguousarray(w), padding=(1, 1)), rtol=1e-12)
    y = _C.conv2d_forward(np.zeros((0, 3, 5, 5)), np.ascontiguousarray(w))
    assert y.shape == (0, 4, 3, 3)


# ---------------------------------------------------------------------------- autograd
# (conv1d, conv2d and conv_transpose2d's values, gradcheck and gradgradcheck on strided,
# padded, dilated and grouped samples: entries of the op table, tests/op_table.py)
def test_conv1d_same_padding_keeps_the_length():
    x, w = leaf(rand((2, 4, 9), seed=1)), leaf(rand((6, 2, 3), seed=2))
    assert F.conv1d(x, w, padding="same", groups=2).shape == (2, 6, 9)


def test_conv2d_same_padding_even_kernel_and_unbatched():
    x = rand((3, 6, 5), seed=4)
    w = rand((2, 3, 4, 3), seed=5)
    y = F.conv2d(leaf(x), leaf(w), padding="same")
    # total padding 3 rows: 1 above, 2 below; 2 columns: 1 each side
    ref = np_conv2d(np.pad(x[None], ((0, 0), (0, 0), (1, 2), (1, 1))), w)[0]
    assert y.shape == (2, 6, 5)
    np.testing.assert_allclose(np_of(y), ref, rtol=1e-12, atol=1e-12)
    assert F.conv2d(leaf(x), leaf(w), padding="valid").shape == (2, 3, 3)


def test_conv_layers_shapes_and_init_bounds():
    conv = nn.Conv2d(6, 12, (3, 5), stride=2, padding=(1, 2), groups=3)
    assert conv.weight.shape == (12, 2, 3, 5) and conv.bias.shape == (12,)
    bound = 1 / math.sqrt(2 * 3 * 5)
    assert float(conv.weight.abs().max().item()) <= bound
    assert float(conv.bias.abs().max().item()) <= bound
    assert float(conv.weight.abs().max().item()) > 0.8 * bound
    assert conv(ember.randn(2, 6, 9, 10)).shape == (2, 12, 5, 5)
    t = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)
    assert t.weight.shape == (4, 3, 3, 3)
    assert t(ember.randn(1, 4, 5, 5)).shape == (1, 6, 10, 10)
    assert t(ember.randn(1, 4, 5, 5), output_size=(9, 10)).shape == (1, 6, 9, 10)
    c1 = nn.Conv1d(3, 5, 4, padding="same", padding_mode="reflect", bias=False)
    assert c1.weight.shape == (5, 3, 4) and c1.bias is None
    assert c1(ember.randn(2, 3, 10)).shape == (2, 5, 10)
    assert "kernel_size=(3, 5)" in repr(conv)


# ---------------------------------------------------------------------------- PyTorch parity
torch_configs = [
    dict(stride=1, padding=1, dilation=1, groups=1),
    dict(stride=2, padding=(0, 2), dilation=(2, 1), groups=4),
    dict(stride=(1, 3), padding=2, dilation=1, groups=8),
]


@pytest.mark.parametrize("kw", torch_configs)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_conv2d_matches_torch(kw, dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 8, 10, 9)).astype(dtype)
    w = rng.standard_normal((16, 8 // kw["groups"], 3, 3)).astype(dtype)
    b = rng.standard_normal(16).astype(dtype)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, **kw)
    ex, ew, eb = (ember.tensor(a, requires_grad=True) for a in (x, w, b))
    ey = F.conv2d(ex, ew, eb, **kw)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == "float32" else dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(np_of(ey), ty.detach().numpy(), **tol)
    g = rng.standard_normal(ty.shape).astype(dtype)
    ty.backward(torch.tensor(g))
    ey.backward(ember.tensor(g))
    for e, t in ((ex, tx), (ew, tw), (eb, tb)):
        np.testing.assert_allclose(np_of(e.grad), t.grad.numpy(), **tol)


def test_conv_transpose2d_and_conv1d_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 4, 5, 6))
    w = rng.standard_normal((4, 3, 3, 2))
    kw = dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2), groups=2, dilation=(1, 2))
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    ty = torch.nn.functional.conv_transpose2d(tx, tw, **kw)
    ex, ew = ember.tensor(x, requires_grad=True), ember.tensor(w, requires_grad=True)
    ey = F.conv_transpose2d(ex, ew, **kw)
    np.testing.assert_allclose(np_of(ey), ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    ty.sum().backward()
    ey.sum().backward()
    np.testing.assert_allclose(np_of(ex.grad), tx.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(np_of(ew.grad), tw.grad.numpy(), rtol=1e-10, atol=1e-10)
    x1 = rng.standard_normal((2, 4, 11))
    w1 = rng.standard_normal((6, 2, 3))
    ty = torch.nn.functional.conv1d(torch.tensor(x1), torch.tensor(w1), stride=2, padding=2,
                                    dilation=2, groups=2)
    ey = F.conv1d(ember.tensor(x1), ember.tensor(w1), stride=2, padding=2, dilation=2, groups=2)
    np.testing.assert_allclose(np_of(ey), ty.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_conv2d_layer_loads_torch_state_dict(mode):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    padding = "same" if mode == "circular" else (1, 2)
    tm = torch.nn.Conv2d(4, 6, (3, 4), padding=padding, padding_mode=mode, groups=2)
    em = nn.Conv2d(4, 6, (3, 4), padding=padding, padding_mode=mode, groups=2)
    result = em.load_state_dict({k: ember.tensor(v.detach().numpy())
                                 for k, v in tm.state_dict().items()})
    assert not result.missing_keys and not result.unexpected_keys
    x = np.random.default_rng(7).standard_normal((2, 4, 7, 8)).astype(np.float32)
    tx = torch.tensor(x, requires_grad=True)
    ex = ember.tensor(x, requires_grad=True)
    ty, ey = tm(tx), em(ex)
    np.testing.assert_allclose(np_of(ey), ty.detach().numpy(), rtol=1e-4, atol=1e-5)
    ty.square().sum().backward()
    ey.square().sum().backward()
    np.testing.assert_allclose(np_of(ex.grad), tx.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np_of(em.weight.grad), tm.weight.grad.numpy(), rtol=1e-4,
                               atol=1e-3)


def test_conv_transpose_and_conv1d_layers_load_torch_state_dict():
    torch = pytest.importorskip("torch")
    torch.manual_seed(1)
    for tm, em, shape in (
        (torch.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1),
         nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1), (2, 4, 5, 5)),
        (torch.nn.Conv1d(3, 5, 3, stride=2, padding=1), nn.Conv1d(3, 5, 3, stride=2, padding=1),
         (2, 3, 9)),
    ):
        assert {k: tuple(v.shape) for k, v in tm.state_dict().items()} == \
            {k: v.shape for k, v in em.state_dict().items()}
        em.load_state_dict({k: ember.tensor(v.detach().numpy())
                            for k, v in tm.state_dict().items()})
        x = np.random.default_rng(8).standard_normal(shape).astype(np.float32)
        np.testing.assert_allclose(np_of(em(ember.tensor(x))),
                                   tm(torch.tensor(x)).detach().numpy(), rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------- bad input
def test_native_errors_name_op_shapes_and_dtypes():
    x = np.zeros((2, 3, 5, 5), np.float32)
    w = np.zeros((4, 3, 3, 3), np.float32)
    with pytest.raises(TypeError, match=r"conv2d: .*float32 and weight \(4, 3, 3, 3\) float64"):
        _C.conv2d_forward(x, w.astype(np.float64))
    with pytest.raises(TypeError, match="conv2d"):
        _C.conv2d_forward(x.astype(np.int64), w.astype(np.int64))
    with pytest.raises(ValueError, match=r"conv2d: expected a 4-d input .*\(3, 5, 5\)"):
        _C.conv2d_forward(x[0], w)
    with pytest.raises(ValueError, match=r"weight expects 2 input channels .*\(2, 3, 5, 5\)"):
        _C.conv2d_forward(x, w[:, :2])
    with pytest.raises(ValueError, match="divisible by groups=2"):
        _C.conv2d_forward(x, w, groups=2)
    with pytest.raises(ValueError, match="stride must be positive"):
        _C.conv2d_forward(x, w, (0, 1))
    with pytest.raises(ValueError, match="dilation must be positive"):
        _C.conv2d_forward(x, w, (1, 1), (0, 0), (1, -1))
    with pytest.raises(ValueError, match="padding must be non-negative"):
        _C.conv2d_forward(x, w, (1, 1), (-1, 0))
    with pytest.raises(ValueError, match="output would be empty"):
        _C.conv2d_forward(x, np.zeros((4, 3, 7, 3), np.float32))
    with pytest.raises(ValueError, match=r"conv2d_backward_data: grad_output has shape"):
        _C.conv2d_backward_data(np.zeros((2, 4, 2, 2), np.float32), w, (2, 3, 5, 5))
    with pytest.raises(ValueError, match=r"conv2d_backward_weight: weight_shape must have 4"):
        _C.conv2d_backward_weight(np.zeros((2, 4, 3, 3), np.float32), x, (4, 3, 3))
    with pytest.raises(ValueError, match=r"conv2d: bias has \(3,\) float32 but the weight "
                                         r"\(4, 3, 3, 3\) float32 needs \(4,\)"):
        _C.conv2d_forward(x, w, bias=np.zeros(3, np.float32))
    with pytest.raises(ValueError, match=r"conv2d: bias has \(4,\) float64"):
        _C.conv2d_forward(x, w, bias=np.zeros(4))


def test_functional_and_layer_errors():
    x = ember.randn(2, 3, 8, 8)
    with pytest.raises(ValueError, match=r"conv2d: expected input with 4 channels"):
        F.conv2d(x, ember.randn(5, 4, 3, 3))
    with pytest.raises(TypeError, match="conv2d: input and weight must have the same float"):
        F.conv2d(x, ember.randn(5, 3, 3, 3, dtype=ember.float64))
    with pytest.raises(ValueError, match=r"conv2d: expected a 3-d \(unbatched\) or 4-d"):
        F.conv2d(ember.randn(8, 8), ember.randn(5, 3, 3, 3))
    with pytest.raises(ValueError, match=r"conv2d: bias must have shape \(5,\)"):
        F.conv2d(x, ember.randn(5, 3, 3, 3), ember.randn(4))
    with pytest.raises(TypeError, match="conv2d: bias must have the weight's dtype ember.float32"):
        F.conv2d(x, ember.randn(5, 3, 3, 3), ember.randn(5, dtype=ember.float64))
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        F.conv2d(x, ember.randn(5, 3, 3, 3), stride=2, padding="same")
    with pytest.raises(ValueError, match=r"Conv2d: expected input with 4 channels "
                                         r"\(in_channels=4\), got 3 channels"):
        nn.Conv2d(4, 8, 3)(x)
    with pytest.raises(ValueError, match=r"Conv2d: expected a 3-d \(unbatched\) or 4-d input "
                                         r"\(N, C, H, W\), got shape \(2, 3\)"):
        nn.Conv2d(3, 8, 3)(ember.randn(2, 3))
    with pytest.raises(ValueError, match="Conv1d: expected a 2-d"):
        nn.Conv1d(3, 8, 3)(x)
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(4, 6, 3, groups=4)
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(4, 6, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="output_padding"):
        F.conv_transpose2d(x, ember.randn(3, 2, 3, 3), stride=2, output_padding=2)


# ---------------------------------------------------------------------------- learning
def test_small_cnn_learns_bar_orientation():
    # 8x8 images with one horizontal or vertical bar in random position plus noise.
    rng = np.random.default_rng(0)
    n = 128
    labels = rng.integers(0, 2, n)
    images = rng.normal(0, 0.3, (n, 1, 8, 8)).astype(np.float32)
    pos = rng.integers(1, 7, n)
    for i in range(n):
        if labels[i]:
            images[i, 0, :, pos[i]] += 1.5
        else:
            images[i, 0, pos[i], :] += 1.5
    ember.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        nn.Flatten(), nn.Linear(8, 2))
    x, y = ember.tensor(images), ember.tensor(labels)
    opt = ember.optim.Adam(model.parameters(), lr=0.02)
    losses = []
    for _ in range(40):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    acc = float((model(x).argmax(1) == y).float().mean().item())
    assert losses[-1] < 0.5 * losses[0], losses
    assert acc > 0.9, acc
