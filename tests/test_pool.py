"""Pooling and resampling: max/avg pooling (1-d, 2-d), adaptive average pooling and
interpolate against NumPy references and PyTorch, gradcheck / gradgradcheck, the layers
and bad input."""

from __future__ import annotations

import ember
import ember.nn as nn
import ember.nn.functional as F
import numpy as np
import pytest
from ember.autograd import gradcheck, gradgradcheck
from helpers import leaf, np_of, rand
from op_table import np_avg_exclude_pad, np_avg_include_pad, np_max, np_pool2d

MAX_CONFIGS = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2)),
    dict(kernel_size=3, stride=2, ceil_mode=True),
    dict(kernel_size=2, stride=3, padding=1, dilation=2, ceil_mode=True),
]


def _pairs(kw):
    k = kw["kernel_size"]
    k = k if isinstance(k, tuple) else (k, k)
    s = kw.get("stride", k)
    s = s if isinstance(s, tuple) else (s, s)
    p = kw.get("padding", 0)
    p = p if isinstance(p, tuple) else (p, p)
    d = kw.get("dilation", 1)
    d = d if isinstance(d, tuple) else (d, d)
    return k, s, p, d


@pytest.mark.parametrize("kw", MAX_CONFIGS)
def test_max_pool2d_forward_indices_and_gradcheck(kw):
    x = rand((2, 3, 7, 8), seed=1)
    k, s, p, d = _pairs(kw)
    y, idx = F.max_pool2d(leaf(x), return_indices=True, **kw)
    ref = np_pool2d(x, k, s, p, np_max, d, kw.get("ceil_mode", False))
    np.testing.assert_array_equal(np_of(y), ref)
    assert idx.dtype is ember.int64
    flat = x.reshape(2, 3, -1)
    np.testing.assert_array_equal(np.take_along_axis(flat, np_of(idx).reshape(2, 3, -1), 2),
                                  ref.reshape(2, 3, -1))
    assert gradcheck(lambda t: F.max_pool2d(t, **kw), (leaf(rand((1, 2, 7, 8), seed=2)),))


def test_max_pool_gradgradcheck_and_overlap_accumulates():
    assert gradgradcheck(lambda t: F.max_pool2d(t, 3, 1, 1), (leaf(rand((1, 2, 4, 5), seed=3)),))
    x = leaf(np.array([[[[0.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]]]))
    F.max_pool2d(x, 2, 1).sum().backward()  # the two top windows both pick (0, 1)
    np.testing.assert_array_equal(np_of(x.grad)[0, 0, 0], [0.0, 2.0, 0.0])


@pytest.mark.parametrize("kw", [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 1), count_include_pad=False),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
])
def test_avg_pool2d_forward_and_gradcheck(kw):
    x = rand((2, 3, 7, 6), seed=4)
    k, s, p, _ = _pairs(kw)
    reduce = np_avg_include_pad(p) if kw.get("count_include_pad", True) else \
        np_avg_exclude_pad
    ref = np_pool2d(x, k, s, p, reduce, ceil_mode=kw.get("ceil_mode", False))
    np.testing.assert_allclose(np_of(F.avg_pool2d(leaf(x), **kw)), ref, rtol=1e-12)
    assert gradcheck(lambda t: F.avg_pool2d(t, **kw), (leaf(rand((1, 2, 5, 6), seed=5)),))


def test_avg_and_adaptive_pool_gradgradcheck_divisor_override():
    x = leaf(rand((1, 2, 5, 5), seed=6))
    assert gradgradcheck(lambda t: F.avg_pool2d(t, 3, 2, 1, divisor_override=4), (x,))
    assert gradgradcheck(lambda t: F.adaptive_avg_pool2d(t, (2, 3)), (x,))
    y = F.avg_pool2d(x, 2, divisor_override=3)
    np.testing.assert_allclose(np_of(y), np_of(F.avg_pool2d(x, 2)) * 4 / 3, rtol=1e-12)


@pytest.mark.parametrize("size", [(1, 1), (3, 2), (5, 7), (2, None)])
def test_adaptive_avg_pool2d(size):
    x = rand((2, 3, 5, 7), seed=7)
    y = F.adaptive_avg_pool2d(leaf(x), size)
    oh, ow = size[0], size[1] or 7
    ref = np.zeros((2, 3, oh, ow))
    for i in range(oh):
        for j in range(ow):
            r0, r1 = i * 5 // oh, -(-(i + 1) * 5 // oh)
            c0, c1 = j * 7 // ow, -(-(j + 1) * 7 // ow)
            ref[:, :, i, j] = x[:, :, r0:r1, c0:c1].mean(axis=(2, 3))
    np.testing.assert_allclose(np_of(y), ref, rtol=1e-12)
    assert gradcheck(lambda t: F.adaptive_avg_pool2d(t, size), (leaf(rand((1, 2, 5, 7), 8)),))


def test_pool1d_and_unbatched():
    x = rand((2, 3, 9), seed=9)
    y, idx = F.max_pool1d(leaf(x), 3, 2, 1, return_indices=True)
    ref = np_pool2d(x[:, :, None], (1, 3), (1, 2), (0, 1), np_max)[:, :, 0]
    np.testing.assert_array_equal(np_of(y), ref)
    assert idx.shape == (2, 3, 5) and int(idx.max().item()) < 9
    np.testing.assert_allclose(np_of(F.avg_pool1d(leaf(x), 3, 3)),
                               x.reshape(2, 3, 3, 3).mean(-1), rtol=1e-12)
    assert gradcheck(lambda t: F.max_pool1d(t, 2, 1, dilation=2), (leaf(rand((1, 2, 6), 10)),))
    assert gradcheck(lambda t: F.avg_pool1d(t, 3, 2, 1, count_include_pad=False),
                     (leaf(rand((1, 2, 6), 11)),))
    assert F.max_pool2d(ember.randn(3, 6, 6), 2).shape == (3, 3, 3)
    assert F.avg_pool1d(ember.randn(3, 6), 2).shape == (3, 3)


# ---------------------------------------------------------------------------- interpolate
def test_interpolate_nearest_and_bilinear_values_and_gradcheck():
    x = rand((1, 2, 3, 4), seed=12)
    y = F.interpolate(leaf(x), scale_factor=2)
    np.testing.assert_array_equal(np_of(y), x.repeat(2, axis=2).repeat(2, axis=3))
    # align_corners=True: the corners map onto each other, so the four corners are kept
    yb = np_of(F.interpolate(leaf(x), size=(5, 7), mode="bilinear", align_corners=True))
    np.testing.assert_allclose(yb[..., [0, -1], :][..., [0, -1]], x[..., [0, -1], :][..., [0, -1]],
                               rtol=1e-12)
    np.testing.assert_allclose(yb[0, 0, 0, 1], (x[0, 0, 0, 0] + x[0, 0, 0, 1]) / 2, rtol=1e-12)
    for kw in (dict(size=(5, 6), mode="bilinear"), dict(scale_factor=1.5, mode="bilinear",
                                                       align_corners=True),
               dict(size=(2, 7)), dict(scale_factor=(0.7, 1.6))):
        assert gradcheck(lambda t, kw=kw: F.interpolate(t, **kw), (leaf(x),))
    assert gradgradcheck(lambda t: F.interpolate(t, size=(4, 5), mode="bilinear"), (leaf(x),))
    x1 = rand((2, 3, 5), seed=13)
    assert gradcheck(lambda t: F.interpolate(t, size=8, mode="linear"), (leaf(x1),))


# ---------------------------------------------------------------------------- PyTorch parity
POOL_CASES = [
    ("max_pool2d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("max_pool2d", dict(kernel_size=(2, 3), stride=1, dilation=(2, 1))),
    ("avg_pool2d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                        count_include_pad=False)),
    ("avg_pool2d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("avg_pool2d", dict(kernel_size=2, divisor_override=3)),
    ("adaptive_avg_pool2d", dict(output_size=(3, 4))),
    ("max_pool1d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("avg_pool1d", dict(kernel_size=4, stride=3, padding=2, count_include_pad=False)),
    ("interpolate", dict(scale_factor=1.7, mode="bilinear")),
    ("interpolate", dict(size=(9, 4), mode="bilinear", align_corners=True)),
    ("interpolate", dict(scale_factor=(2.3, 0.6), mode="nearest")),
    ("interpolate", dict(size=(11, 13), mode="nearest")),
    ("interpolate", dict(scale_factor=1.5, mode="bilinear", recompute_scale_factor=True)),
]


@pytest.mark.parametrize("name,kw", POOL_CASES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_pooling_matches_torch(name, kw, dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(14)
    shape = (2, 3, 11) if name.endswith("1d") else (2, 3, 7, 9)
    x = rng.standard_normal(shape).astype(dtype)
    tx, ex = torch.tensor(x, requires_grad=True), ember.tensor(x, requires_grad=True)
    ty = getattr(torch.nn.functional, name)(tx, **kw)
    ey = getattr(F, name)(ex, **kw)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np_of(ey), ty.detach().numpy(), **tol)
    g = rng.standard_normal(ty.shape).astype(dtype)
    ty.backward(torch.tensor(g))
    ey.backward(ember.tensor(g))
    np.testing.assert_allclose(np_of(ex.grad), tx.grad.numpy(), **tol)


def test_max_pool_indices_and_nan_match_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(15).standard_normal((2, 2, 6, 7))
    x[0, 1, 2, 3] = np.nan
    ty, ti = torch.nn.functional.max_pool2d(torch.tensor(x), 3, 2, 1, return_indices=True)
    ey, ei = F.max_pool2d(ember.tensor(x), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(np_of(ei), ti.numpy())
    np.testing.assert_array_equal(np_of(ey), ty.numpy())  # NaN in the same places


def test_pool_layers_match_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(16).standard_normal((2, 4, 8, 8)).astype(np.float32)
    pairs = [
        (nn.MaxPool2d(3, 2, 1), torch.nn.MaxPool2d(3, 2, 1)),
        (nn.AvgPool2d(2), torch.nn.AvgPool2d(2)),
        (nn.AdaptiveAvgPool2d((1, 1)), torch.nn.AdaptiveAvgPool2d((1, 1))),
        (nn.Upsample(scale_factor=2, mode="bilinear"),
         torch.nn.Upsample(scale_factor=2, mode="bilinear")),
        (nn.Upsample(size=(5, 11)), torch.nn.Upsample(size=(5, 11))),
    ]
    for em, tm in pairs:
        np.testing.assert_allclose(np_of(em(ember.tensor(x))), tm(torch.tensor(x)).numpy(),
                                   rtol=1e-5, atol=1e-6)
    x1 = x.reshape(2, 4, 64)
    for em, tm in ((nn.MaxPool1d(3, 2), torch.nn.MaxPool1d(3, 2)),
                   (nn.AvgPool1d(4, 2, 1), torch.nn.AvgPool1d(4, 2, 1))):
        np.testing.assert_allclose(np_of(em(ember.tensor(x1))), tm(torch.tensor(x1)).numpy(),
                                   rtol=1e-5, atol=1e-6)
    y, idx = nn.MaxPool2d(2, return_indices=True)(ember.tensor(x))
    assert y.shape == idx.shape == (2, 4, 4, 4)


# ---------------------------------------------------------------------------- bad input
def test_pool_errors():
    x = ember.randn(2, 3, 6, 6)
    with pytest.raises(ValueError, match=r"max_pool2d: expected a 3-d \(unbatched\) or 4-d"):
        F.max_pool2d(ember.randn(6, 6), 2)
    with pytest.raises(TypeError, match="max_pool2d: expected a float32 or float64 input"):
        F.max_pool2d(ember.tensor(np.zeros((1, 1, 4, 4), np.int64)), 2)
    with pytest.raises(ValueError, match=r"max_pool2d: padding .*at most half"):
        F.max_pool2d(x, 2, padding=2)
    with pytest.raises(ValueError, match="avg_pool2d: the output would be empty"):
        F.avg_pool2d(x, 7)
    with pytest.raises(ValueError, match="stride must be positive"):
        F.avg_pool2d(x, 2, stride=0)
    with pytest.raises(ValueError, match="adaptive_avg_pool2d: output_size must be positive"):
        F.adaptive_avg_pool2d(x, 0)
    with pytest.raises(ValueError, match="interpolate: mode 'bilinear' expects a 4-d"):
        F.interpolate(ember.randn(1, 2, 5), size=4, mode="bilinear")
    with pytest.raises(ValueError, match="align_corners can only be set"):
        F.interpolate(x, size=4, align_corners=True)
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        F.interpolate(x)
    with pytest.raises(ValueError, match=r"MaxPool2d: expected a 3-d or 4-d input"):
        nn.MaxPool2d(2)(ember.randn(2, 3))
    with pytest.raises(ValueError, match=r"max_pool2d_backward: grad_output"):
        ember._C.max_pool2d_backward(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 3, 2), np.int64),
                                     (1, 1, 4, 4))
    with pytest.raises(TypeError, match="indices must be int64"):
        ember._C.max_pool2d_backward(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 2, 2)),
                                     (1, 1, 4, 4))
