"""Losses: NumPy references, float64 gradcheck, extreme logits, bad input, PyTorch parity."""

import ember
import ember.nn as nn
import ember.nn.functional as F
import numpy as np
import pytest
from ember.autograd import gradcheck, gradgradcheck
from op_table import ce_reference, np_log_softmax

rng = np.random.default_rng(7)


def t64(a, grad=True):
    return ember.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def reduce_np(loss, reduction):
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_regression_losses_match_numpy_and_gradcheck(reduction):
    a, b = rng.normal(size=(4, 3)) * 2, rng.normal(size=(4, 3))
    d = a - b
    cases = [
        (F.mse_loss, {}, d ** 2),
        (F.l1_loss, {}, np.abs(d)),
        (F.huber_loss, {"delta": 0.7},
         np.where(np.abs(d) < 0.7, 0.5 * d ** 2, 0.7 * (np.abs(d) - 0.35))),
        (F.smooth_l1_loss, {"beta": 0.7},
         np.where(np.abs(d) < 0.7, 0.5 * d ** 2 / 0.7, np.abs(d) - 0.35)),
    ]
    for fn, kw, ref in cases:
        out = fn(t64(a), t64(b), reduction=reduction, **kw)
        np.testing.assert_allclose(out.detach().numpy(), reduce_np(ref, reduction), rtol=1e-12)
        assert gradcheck(lambda x, y, fn=fn, kw=kw: fn(x, y, reduction=reduction, **kw),
                         (t64(a), t64(b)))


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("use_weight", [False, True])
def test_cross_entropy_with_indices(smoothing, use_weight):
    x = rng.normal(size=(6, 4)) * 3
    y = np.array([0, 3, 1, -100, 2, 3])
    w = rng.uniform(0.5, 2, size=4) if use_weight else None
    wt = ember.tensor(w) if use_weight else None
    out = F.cross_entropy(t64(x), ember.tensor(y), weight=wt, label_smoothing=smoothing)
    np.testing.assert_allclose(out.item(), ce_reference(x, y, w, smoothing=smoothing),
                               rtol=1e-10)
    assert gradcheck(lambda a: F.cross_entropy(a, ember.tensor(y), weight=wt,
                                               label_smoothing=smoothing), (t64(x),))


def test_cross_entropy_with_probabilities_and_spatial_dims():
    x = rng.normal(size=(2, 3, 4))  # (N, C, d)
    p = rng.dirichlet(np.ones(3), size=(2, 4)).transpose(0, 2, 1)  # (N, C, d), sums to 1 over C
    ref = -(np_log_softmax(x, 1) * p).sum(1).mean()
    out = F.cross_entropy(t64(x), t64(p, grad=False))
    np.testing.assert_allclose(out.item(), ref, rtol=1e-12)
    assert gradcheck(lambda a, b: F.cross_entropy(a, b), (t64(x), t64(p)))
    y = rng.integers(0, 3, size=(2, 4))
    ref_idx = -np.take_along_axis(np_log_softmax(x, 1), y[:, None, :], 1).mean()
    np.testing.assert_allclose(F.cross_entropy(t64(x), ember.tensor(y)).item(), ref_idx,
                               rtol=1e-12)


def test_nll_loss_reductions():
    logp = np_log_softmax(rng.normal(size=(5, 3)), 1)
    y = np.array([2, 0, 1, 1, 0])
    picked = -logp[np.arange(5), y]
    for red in ("mean", "sum", "none"):
        out = F.nll_loss(t64(logp), ember.tensor(y), reduction=red)
        np.testing.assert_allclose(out.detach().numpy(), reduce_np(picked, red), rtol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss_one_node_weighted_ignored_spatial_first_and_second_derivatives(reduction):
    # (N, C, d) log-probabilities, a class weight, one ignored position
    logp = np_log_softmax(rng.normal(size=(3, 4, 2)), 1)
    y = np.array([[0, 3], [-100, 1], [2, 2]])
    w = rng.uniform(0.5, 2, size=4)
    valid = y != -100
    ys = np.where(valid, y, 0)
    picked = np.take_along_axis(logp, ys[:, None, :], 1)[:, 0]
    per = -picked * w[ys] * valid
    ref = {"mean": per.sum() / (w[ys] * valid).sum(), "sum": per.sum(), "none": per}[reduction]
    fn = lambda a: F.nll_loss(a, ember.tensor(y), weight=ember.tensor(w),  # noqa: E731
                              reduction=reduction)
    out = fn(t64(logp))
    assert out.grad_fn.name() == "NllLossBackward"  # one node, not the ~10 of the composite
    np.testing.assert_allclose(out.detach().numpy(), ref, rtol=1e-12)
    assert gradcheck(fn, (t64(logp),))
    assert gradgradcheck(fn, (t64(logp),))


def test_nll_loss_weight_that_requires_grad_gets_its_gradient():
    logp, y = t64(np_log_softmax(rng.normal(size=(5, 3)), 1)), ember.tensor([2, 0, 1, 1, -100])
    w = t64(rng.uniform(0.5, 2, size=3))
    assert gradcheck(lambda a, ww: F.nll_loss(a, y, weight=ww), (logp, w))


def test_nll_loss_unbatched_and_all_ignored():
    logp = np_log_softmax(rng.normal(size=4), 0)
    out = F.nll_loss(t64(logp), ember.tensor(2))
    np.testing.assert_allclose(out.item(), -logp[2], rtol=1e-12)
    # every target ignored: the mean is 0/0 = nan, the sum 0, and the gradient exactly 0
    # (as in PyTorch: an all-padding batch must not put nan into the parameters)
    ignored = ember.tensor([-100, -100])
    for reduction in ("mean", "sum", "none"):
        x = t64(np_log_softmax(rng.normal(size=(2, 3)), 1))
        loss = F.nll_loss(x, ignored, reduction=reduction)
        if reduction == "mean":
            assert np.isnan(loss.item())
        else:
            np.testing.assert_array_equal(loss.detach().numpy(), 0.0)
        loss.sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), 0.0)


@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_ignores_a_masked_minus_inf_class(weighted):
    # class 0 masked to -inf (a pad token) at positions whose target is ignored: finite
    # loss and gradient, the value from the one counted row, log(e + e^2) - 2
    x = t64([[-np.inf, 1.0, 2.0], [-np.inf, 0.5, 0.1]])
    w = t64([1.0, 2.0, 3.0]) if weighted else None  # requires grad: the composite path
    loss = F.cross_entropy(x, ember.tensor([2, -100]), weight=w)
    loss.backward()
    np.testing.assert_allclose(loss.item(), np.log(np.e + np.e ** 2) - 2, rtol=1e-12)
    assert np.isfinite(x.grad.numpy()).all()
    np.testing.assert_array_equal(x.grad.numpy()[1], 0.0)


def test_nll_loss_input_and_weight_dtypes():
    with pytest.raises(TypeError, match="nll_loss: input must be floating-point"):
        F.nll_loss(ember.tensor([[1, 2], [3, 4]]), ember.tensor([0, 1]))
    with pytest.raises(TypeError, match="nll_loss: weight must have the input's dtype"):
        F.nll_loss(ember.randn(2, 3), ember.tensor([0, 1]),
                   weight=ember.ones(3, dtype=ember.float64))


def test_cross_entropy_is_stable_for_huge_logits():
    x = t64([[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0]])
    loss = F.cross_entropy(x, ember.tensor([1, 1]))
    loss.backward()
    assert np.isfinite(loss.item()) and np.isfinite(x.grad.numpy()).all()
    np.testing.assert_allclose(loss.item(), 1e4, rtol=1e-12)  # (2e4 + 0) / 2
    x32 = ember.tensor([[1e4, -1e4]], requires_grad=True)
    loss32 = F.cross_entropy(x32, ember.tensor([0]))
    loss32.backward()
    assert loss32.item() == 0.0 and np.isfinite(x32.grad.numpy()).all()


def test_bce_with_logits_matches_definition_and_is_stable():
    x = rng.normal(size=(3, 4)) * 3
    t = rng.uniform(size=(3, 4))
    pw = rng.uniform(0.5, 3, size=4)
    s = 1 / (1 + np.exp(-x))
    ref = -(pw * t * np.log(s) + (1 - t) * np.log(1 - s)).mean()
    out = F.binary_cross_entropy_with_logits(t64(x), t64(t, False), pos_weight=ember.tensor(pw))
    np.testing.assert_allclose(out.item(), ref, rtol=1e-10)
    assert gradcheck(lambda a, b: F.binary_cross_entropy_with_logits(
        a, b, pos_weight=ember.tensor(pw)), (t64(x), t64(t)))
    big = ember.tensor([1e4, -1e4, 1e4, -1e4], requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(big, ember.tensor([1.0, 0.0, 0.0, 1.0]),
                                              reduction="none")
    loss.sum().backward()
    np.testing.assert_allclose(loss.detach().numpy(), [0, 0, 1e4, 1e4])
    np.testing.assert_allclose(big.grad.numpy(), [0, 0, 1, -1])


def test_bce_on_probabilities_clamps_logs_and_has_finite_gradients():
    p = rng.uniform(0.05, 0.95, size=(5,))
    t = rng.uniform(size=(5,))
    ref = -(t * np.log(p) + (1 - t) * np.log(1 - p)).mean()
    np.testing.assert_allclose(F.binary_cross_entropy(t64(p), t64(t, False)).item(), ref,
                               rtol=1e-12)
    assert gradcheck(lambda a, b: F.binary_cross_entropy(a, b), (t64(p), t64(t)))
    edge = t64([0.0, 1.0, 0.0, 1.0])
    loss = F.binary_cross_entropy(edge, ember.tensor([0.0, 1.0, 1.0, 0.0], dtype=ember.float64),
                                  reduction="none")
    loss.sum().backward()
    np.testing.assert_allclose(loss.detach().numpy(), [0, 0, 100, 100])
    assert np.isfinite(edge.grad.numpy()).all()
    with pytest.raises(ValueError, match="probabilities in \\[0, 1\\]"):
        F.binary_cross_entropy(ember.tensor([1.5]), ember.tensor([1.0]))


def test_kl_div():
    logq = np_log_softmax(rng.normal(size=(3, 4)), 1)
    p = rng.dirichlet(np.ones(4), size=3)
    p[0, 1] = 0.0  # a zero target contributes 0, not nan
    pointwise = np.where(p > 0, p * (np.log(np.where(p > 0, p, 1)) - logq), 0)
    out = F.kl_div(t64(logq), t64(p, False), reduction="batchmean")
    np.testing.assert_allclose(out.item(), pointwise.sum() / 3, rtol=1e-12)
    assert gradcheck(lambda a: F.kl_div(a, t64(p, False), reduction="sum"), (t64(logq),))
    out_log = F.kl_div(t64(logq), t64(np.log(p + 1e-300), False), reduction="sum",
                       log_target=True)
    np.testing.assert_allclose(out_log.item(), pointwise.sum(), rtol=1e-9)


def test_loss_bad_inputs_name_the_problem():
    with pytest.raises(IndexError, match="target 5 is out of bounds for 3 classes"):
        F.cross_entropy(ember.randn(2, 3), ember.tensor([0, 5]))
    with pytest.raises(ValueError, match=r"target of shape \(3,\).*input \(2, 3\)"):
        F.cross_entropy(ember.randn(2, 3), ember.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=r"\(4, 1\).*\(4,\)"):
        F.mse_loss(ember.randn(4, 1), ember.randn(4))
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(ember.randn(2), ember.randn(2), reduction="avg")
    with pytest.raises(TypeError, match="int64"):
        F.nll_loss(ember.randn(2, 3), ember.tensor([0.0, 1.0]))


def test_loss_modules_call_functional_forms():
    x, y = ember.randn(4, 3), ember.tensor([0, 2, 1, 1])
    assert nn.CrossEntropyLoss(label_smoothing=0.1)(x, y).item() == pytest.approx(
        F.cross_entropy(x, y, label_smoothing=0.1).item())
    a, b = ember.randn(5), ember.rand(5)
    assert nn.MSELoss(reduction="sum")(a, b).item() == pytest.approx(
        F.mse_loss(a, b, reduction="sum").item())
    assert nn.BCEWithLogitsLoss()(a, b).item() == pytest.approx(
        F.binary_cross_entropy_with_logits(a, b).item())


def test_losses_match_pytorch():
    torch = pytest.importorskip("torch")
    x = rng.normal(size=(5, 4)) * 4
    y = np.array([1, 0, 3, 2, -100])
    w = rng.uniform(0.5, 2, size=4)
    for kw in ({}, {"label_smoothing": 0.3}, {"weight": w}, {"weight": w, "label_smoothing": 0.1}):
        ours = F.cross_entropy(t64(x), ember.tensor(y), **{
            k: (ember.tensor(v) if k == "weight" else v) for k, v in kw.items()})
        theirs = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(y), **{
            k: (torch.tensor(v) if k == "weight" else v) for k, v in kw.items()})
        np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-10, err_msg=str(kw))
    t = rng.uniform(size=(5, 4))
    ours = F.binary_cross_entropy_with_logits(t64(x), t64(t, False), pos_weight=ember.tensor(w))
    theirs = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.tensor(x), torch.tensor(t), pos_weight=torch.tensor(w))
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-10)
    ours = F.huber_loss(t64(x), t64(t, False), delta=0.5)
    theirs = torch.nn.functional.huber_loss(torch.tensor(x), torch.tensor(t), delta=0.5)
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-12)
