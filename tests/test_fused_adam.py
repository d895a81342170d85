"""The native fused Adam/AdamW kernel against the readable tensor-op update."""

import ember
import numpy as np
import pytest
from ember import _C, optim


def run(cls, fused, dtype, steps=6, **kw):
    rng = np.random.default_rng(1)
    p = ember.nn.Parameter(ember.tensor(rng.normal(size=(7, 5)), dtype=dtype))
    opt = cls([p], lr=0.05, fused=fused, **kw)
    for _ in range(steps):
        p.grad = ember.tensor(rng.normal(size=(7, 5)), dtype=dtype)
        opt.step()
    return p.detach().numpy(), opt.state[p]


@pytest.mark.parametrize("cls, kw", [
    (optim.Adam, {}),
    (optim.Adam, {"weight_decay": 0.1}),
    (optim.Adam, {"amsgrad": True, "maximize": True}),
    (optim.AdamW, {}),
    (optim.AdamW, {"weight_decay": 0.3, "amsgrad": True, "betas": (0.8, 0.9), "eps": 1e-6}),
])
@pytest.mark.parametrize("dtype", [ember.float32, ember.float64])
def test_fused_matches_reference(cls, kw, dtype):
    p_fused, s_fused = run(cls, True, dtype, **kw)
    p_ref, s_ref = run(cls, False, dtype, **kw)
    tol = 1e-6 if dtype is ember.float32 else 1e-13
    np.testing.assert_allclose(p_fused, p_ref, rtol=tol, atol=tol)
    for key in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
        if key in s_ref:
            np.testing.assert_allclose(s_fused[key].numpy(), s_ref[key].numpy(), rtol=tol,
                                       atol=tol)
    assert s_fused["step"] == s_ref["step"] == 6


def test_default_is_fused_for_contiguous_params_and_reference_otherwise():
    base = ember.randn(4, 3)
    p_view = ember.nn.Parameter(base).T  # non-contiguous view, still a leaf
    p_view = p_view.detach().requires_grad_()
    assert not p_view.is_contiguous()
    p_view.grad = ember.ones(3, 4)
    optim.Adam([p_view]).step()  # falls back to the reference update
    with pytest.raises(ValueError, match="contiguous"):
        optim.Adam([p_view], fused=True).step()


def test_binding_checks_arguments():
    p = np.zeros(4, np.float32)
    args = (1e-3, 0.9, 0.999, 1e-8, 0.0, 1, False, False, False)
    with pytest.raises(ValueError, match="grad has shape \\(3,\\)"):
        _C.adam_step(p, np.zeros(3, np.float32), p.copy(), p.copy(), None, *args)
    with pytest.raises(TypeError, match="expected float32 or float64"):
        _C.adam_step(np.zeros(4, np.int64), np.zeros(4, np.int64), p, p, None, *args)
    with pytest.raises(ValueError, match="contiguous"):
        big = np.zeros(8, np.float32)
        _C.adam_step(big[::2], p, p.copy(), p.copy(), None, *args)
    amsgrad = (1e-3, 0.9, 0.999, 1e-8, 0.0, 1, True, False, False)
    with pytest.raises(ValueError, match="amsgrad=True needs max_exp_avg_sq"):
        _C.adam_step(p, p.copy(), p.copy(), p.copy(), None, *amsgrad)
    with pytest.raises(ValueError, match="step must be >= 1"):
        _C.adam_step(p, p.copy(), p.copy(), p.copy(), None, 1e-3, 0.9, 0.999, 1e-8, 0.0, 0,
                     False, False, False)
