"""Normalisation layers and Embedding: references, gradcheck, running stats, PyTorch parity."""

import ember
import ember.nn as nn
import ember.nn.functional as F
import numpy as np
import pytest
from ember.autograd import gradcheck, gradgradcheck

rng = np.random.default_rng(11)


def t64(a, grad=True):
    return ember.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def test_layer_norm_matches_definition_and_gradchecks():
    x = rng.normal(size=(3, 2, 4)) * 3 + 1
    w, b = rng.normal(size=(2, 4)), rng.normal(size=(2, 4))
    mu = x.mean(axis=(1, 2), keepdims=True)
    var = x.var(axis=(1, 2), keepdims=True)
    ref = (x - mu) / np.sqrt(var + 1e-5) * w + b
    out = F.layer_norm(t64(x), (2, 4), t64(w), t64(b))
    np.testing.assert_allclose(out.detach().numpy(), ref, rtol=1e-10)
    assert gradcheck(lambda a, ww, bb: F.layer_norm(a, (2, 2), ww, bb),
                     (t64(x[:, :, :2]), t64(w[:, :2]), t64(b[:, :2])))
    assert gradgradcheck(lambda a: F.layer_norm(a, (3,)), (t64(rng.normal(size=(2, 3))),))
    with pytest.raises(ValueError, match=r"layer_norm: expected input with shape \(\*, 5\)"):
        nn.LayerNorm(5)(ember.randn(2, 4))


def test_batch_norm_training_eval_and_running_stats():
    bn = nn.BatchNorm2d(3, momentum=0.2).double()
    x = rng.normal(size=(4, 3, 2, 2)) * 2 + 5
    y = bn(t64(x, False)).detach().numpy()
    mu, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
    ref = (x - mu[None, :, None, None]) / np.sqrt(var[None, :, None, None] + 1e-5)
    np.testing.assert_allclose(y, ref, rtol=1e-10)
    n = x.size / 3
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.2 * mu, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), 0.8 + 0.2 * var * n / (n - 1), rtol=1e-12)
    assert bn.num_batches_tracked.item() == 1
    bn.eval()
    y_eval = bn(t64(x, False)).detach().numpy()
    rm, rv = bn.running_mean.numpy(), bn.running_var.numpy()
    np.testing.assert_allclose(
        y_eval, (x - rm[None, :, None, None]) / np.sqrt(rv[None, :, None, None] + 1e-5),
        rtol=1e-10)
    assert bn.num_batches_tracked.item() == 1  # eval does not count


def test_batch_norm_gradcheck_and_errors():
    bn = nn.BatchNorm1d(3).double()
    x = t64(rng.normal(size=(5, 3)))
    assert gradcheck(lambda a, w, b: F.batch_norm(a, None, None, w, b, training=True),
                     (x, t64(rng.normal(size=3)), t64(rng.normal(size=3))))
    with pytest.raises(ValueError, match=r"BatchNorm1d: expected 2D or 3D input \(got 4D"):
        bn(ember.randn(2, 3, 4, 4, dtype=ember.float64))
    with pytest.raises(ValueError, match="expected 3 channels"):
        bn(ember.randn(2, 4, dtype=ember.float64))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(ember.randn(1, 3, dtype=ember.float64))


def test_group_norm():
    x = rng.normal(size=(2, 6, 3))
    g = x.reshape(2, 3, -1)
    ref = ((g - g.mean(2, keepdims=True)) / np.sqrt(g.var(2, keepdims=True) + 1e-5)).reshape(
        x.shape)
    gn = nn.GroupNorm(3, 6).double()
    np.testing.assert_allclose(gn(t64(x, False)).detach().numpy(), ref, rtol=1e-10)
    assert gradcheck(lambda a: F.group_norm(a, 2), (t64(rng.normal(size=(2, 4, 2))),))
    with pytest.raises(ValueError, match="divisible"):
        nn.GroupNorm(4, 6)


def test_embedding_lookup_padding_and_errors():
    emb = nn.Embedding(10, 3, padding_idx=0)
    assert (emb.weight.detach().numpy()[0] == 0).all()
    ids = ember.tensor([[0, 2, 2], [5, 0, 9]])
    out = emb(ids)
    np.testing.assert_array_equal(out.detach().numpy(), emb.weight.detach().numpy()[ids.numpy()])
    out.sum().backward()
    g = emb.weight.grad.numpy()
    assert (g[0] == 0).all() and (g[2] == 2).all() and (g[5] == 1).all() and (g[1] == 0).all()
    with pytest.raises(IndexError, match="index 10 is out of range.*10 rows"):
        emb(ember.tensor([10]))
    with pytest.raises(TypeError, match="int64"):
        emb(ember.tensor([1.0]))
    frozen = nn.Embedding.from_pretrained(ember.eye(4))
    assert not frozen.weight.requires_grad
    w = t64(rng.normal(size=(5, 2)))
    assert gradcheck(lambda ww: F.embedding(ember.tensor([1, 3, 1]), ww), (w,))


def test_norm_layers_match_pytorch():
    torch = pytest.importorskip("torch")
    x = rng.normal(size=(4, 6, 3, 3))
    for ours, theirs in [(nn.BatchNorm2d(6), torch.nn.BatchNorm2d(6)),
                         (nn.GroupNorm(3, 6), torch.nn.GroupNorm(3, 6)),
                         (nn.LayerNorm((3, 3)), torch.nn.LayerNorm((3, 3)))]:
        theirs = theirs.double()
        with torch.no_grad():
            for p in theirs.parameters():
                p.copy_(torch.tensor(rng.normal(size=tuple(p.shape))))
        ours = ours.double()
        ours.load_state_dict({k: ember.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
        xe, xt = t64(x), torch.tensor(x, requires_grad=True)
        ye, yt = ours(xe), theirs(xt)
        np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), rtol=1e-9, atol=1e-12)
        (ye * ye).sum().backward()
        (yt * yt).sum().backward()
        np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-8, atol=1e-10)
        for k, v in theirs.state_dict().items():  # running stats updated identically
            np.testing.assert_allclose(ours.state_dict()[k].numpy(), v.numpy(), rtol=1e-12)
