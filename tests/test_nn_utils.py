"""Gradient clipping and parameter vectors, against the definitions and PyTorch."""

import ember
import ember.nn as nn
import numpy as np
import pytest
from ember.nn.utils import (
    clip_grad_norm_,
    clip_grad_value_,
    parameters_to_vector,
    vector_to_parameters,
)


def params_with_grads(seed=0):
    rng = np.random.default_rng(seed)
    ps = [nn.Parameter(ember.tensor(rng.normal(size=s))) for s in [(3, 4), (5,), (2, 2)]]
    for p in ps:
        p.grad = ember.tensor(rng.normal(size=p.shape) * 3)
    return ps


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
def test_clip_grad_norm_scales_to_max_norm(norm_type):
    ps = params_with_grads()
    flat = np.concatenate([p.grad.numpy().ravel() for p in ps])
    expected_total = np.linalg.norm(flat, ord=norm_type)
    total = clip_grad_norm_(ps, max_norm=1.0, norm_type=norm_type)
    np.testing.assert_allclose(total.item(), expected_total, rtol=1e-12)
    clipped = np.concatenate([p.grad.numpy().ravel() for p in ps])
    np.testing.assert_allclose(clipped, flat * (1.0 / (expected_total + 1e-6)), rtol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(clipped, ord=norm_type), 1.0, rtol=1e-5)


def test_clip_grad_norm_leaves_small_gradients_alone_and_reports_nonfinite():
    ps = params_with_grads()
    before = [p.grad.numpy().copy() for p in ps]
    clip_grad_norm_(ps, max_norm=1e6)
    for b, p in zip(before, ps):
        np.testing.assert_array_equal(b, p.grad.numpy())
    ps[0].grad = ember.full((3, 4), float("nan"), dtype=ember.float64)
    with pytest.raises(RuntimeError, match="nan"):
        clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)


def test_clip_grad_value_and_vectors():
    ps = params_with_grads(1)
    clip_grad_value_(ps, 0.5)
    assert all(np.abs(p.grad.numpy()).max() <= 0.5 for p in ps)
    with pytest.raises(ValueError):
        clip_grad_value_(ps, -1.0)
    vec = parameters_to_vector(ps)
    assert vec.shape == (12 + 5 + 4,)
    vector_to_parameters(vec * 2, ps)
    np.testing.assert_allclose(parameters_to_vector(ps).detach().numpy(),
                               2 * vec.detach().numpy())


def test_clip_grad_norm_matches_pytorch():
    torch = pytest.importorskip("torch")
    ps = params_with_grads(2)
    tps = [torch.nn.Parameter(torch.tensor(p.detach().numpy())) for p in ps]
    for tp, p in zip(tps, ps):
        tp.grad = torch.tensor(p.grad.numpy())
    ours = clip_grad_norm_(ps, 2.0)
    theirs = torch.nn.utils.clip_grad_norm_(tps, 2.0)
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-12)
    for tp, p in zip(tps, ps):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-12)
