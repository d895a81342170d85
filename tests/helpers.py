"""Shared helpers for the op tests: float64 inputs, forward-vs-NumPy checks, gradchecks."""

from __future__ import annotations

import ember
import numpy as np
from ember.autograd import gradcheck, gradgradcheck


def rand(shape, seed=0, low=-2.0, high=2.0) -> np.ndarray:
    """Uniform float64 values in [low, high) from a seeded generator."""
    return np.random.default_rng(seed).uniform(low, high, size=shape)


def away_from(a: np.ndarray, points=(0.0,), gap=0.1) -> np.ndarray:
    """Push values at least ``gap`` away from each of ``points`` (kinks of relu, abs, ...),
    so finite differences never straddle a non-differentiable point."""
    a = np.array(a, dtype=np.float64, copy=True)
    for p in points:
        near = np.abs(a - p) < gap
        a[near] = p + np.where(a[near] >= p, gap, -gap)
    return a


def leaf(a, requires_grad=True, dtype=ember.float64) -> ember.Tensor:
    """A float64 leaf tensor (a copy of ``a``)."""
    return ember.tensor(np.asarray(a, dtype=np.float64), dtype=dtype, requires_grad=requires_grad)


def noncontig_leaf(a: np.ndarray, requires_grad=True) -> ember.Tensor:
    """A leaf holding ``a``'s values in non-contiguous memory (a transposed buffer)."""
    a = np.asarray(a, dtype=np.float64)
    buf = np.ascontiguousarray(np.swapaxes(a, 0, -1)) if a.ndim >= 2 else \
        np.repeat(a, 2)  # 1-d: every other element of a buffer twice as long
    view = np.swapaxes(buf, 0, -1) if a.ndim >= 2 else buf[::2]
    assert not view.flags["C_CONTIGUOUS"] and np.array_equal(view, a)
    t = ember.from_numpy(view)
    t.requires_grad_(requires_grad)
    return t


def np_of(t) -> np.ndarray:
    return np.asarray(t.detach().numpy())


def assert_close(actual, expected, rtol=1e-7, atol=1e-9, dtype=None):
    """Compare a tensor (or tuple of tensors) with NumPy values; checks shape and dtype."""
    if isinstance(actual, (tuple, list)):
        assert len(actual) == len(expected)
        for a, e in zip(actual, expected):
            assert_close(a, e, rtol, atol, dtype)
        return
    assert isinstance(actual, ember.Tensor), type(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    if dtype is not None:
        assert actual.dtype is dtype, (actual.dtype, dtype)
    np.testing.assert_allclose(np_of(actual).astype(np.float64), expected.astype(np.float64),
                               rtol=rtol, atol=atol)


def check_op(fn, ref, *arrays, gradgrad=False, rtol=1e-7, atol=1e-9, grad_atol=1e-5,
             grad_rtol=1e-3):
    """``fn`` on float64 leaves made from ``arrays`` vs ``ref`` on the arrays (NumPy float64),
    then gradcheck (and gradgradcheck when ``gradgrad``) on every input."""
    xs = tuple(leaf(a) for a in arrays)
    assert_close(fn(*xs), ref(*[np.asarray(a, dtype=np.float64) for a in arrays]), rtol, atol)
    assert gradcheck(fn, xs, atol=grad_atol, rtol=grad_rtol)
    if gradgrad:
        assert gradgradcheck(fn, xs, atol=grad_atol, rtol=grad_rtol)
    return xs


def grad_of(fn, *tensors):
    """The gradients of ``fn(*tensors).sum()`` with respect to each tensor (as NumPy)."""
    for t in tensors:
        t.grad = None
    fn(*tensors).sum().backward()
    return tuple(np_of(t.grad) for t in tensors)


def close_scaled(what: str, got: np.ndarray, want: np.ndarray, tol: float) -> None:
    """|got - want| <= tol * (1 + max |want|) elementwise (one scale for the whole array, as
    float rounding of a sum or a product scales with its largest terms); NaN and inf must
    match too. The comparison of a device with the CPU and of ember with PyTorch."""
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    finite = np.isfinite(want)
    scale = tol * (1.0 + (float(np.max(np.abs(want[finite]))) if finite.any() else 0.0))
    np.testing.assert_allclose(np.asarray(got, np.float64), np.asarray(want, np.float64), rtol=0,
                               atol=scale, err_msg=what, equal_nan=True)
