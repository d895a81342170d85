"""nn layers and functions added for issue 11 (point 3), against PyTorch: values and input
gradients in float64, on ordinary, empty and non-contiguous inputs, plus their bad-input errors."""

from __future__ import annotations

import ember
import numpy as np
import pytest

torch = pytest.importorskip("torch")
eF, tF = ember.nn.functional, torch.nn.functional


def _both(arr, transposed=False):
    e, t = ember.tensor(arr, requires_grad=True), torch.tensor(arr, requires_grad=True)
    return e, t, ((e.transpose(0, 1), t.transpose(0, 1)) if transposed else (e, t))


def _compare(out_e, out_t, leaves, rtol=1e-10):
    assert tuple(out_e.shape) == tuple(out_t.shape)
    np.testing.assert_allclose(out_e.detach().numpy(), out_t.detach().numpy(), rtol=rtol,
                               atol=1e-12)
    if out_t.numel():
        w = np.random.default_rng(1).normal(size=tuple(out_t.shape))
        (out_e * ember.tensor(w)).sum().backward()
        (out_t * torch.tensor(w)).sum().backward()
        for e, t in leaves:
            np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=1e-12)


UNARY = [
    ("hardtanh", {}), ("hardtanh", {"min_val": -0.5, "max_val": 2.0}), ("relu6", {}),
    ("hardsigmoid", {}), ("hardswish", {}), ("celu", {}), ("celu", {"alpha": 0.5}),
    ("selu", {}), ("logsigmoid", {}), ("mish", {}), ("softsign", {}), ("tanhshrink", {}),
    ("threshold", {"threshold": 0.3, "value": -2.0}), ("softmin", {"dim": 1}),
    ("glu", {"dim": 0}), ("normalize", {}), ("normalize", {"p": 1.0, "dim": 0}),
]
SHAPES = [(4, 6), (0, 6), (4, 0)]


@pytest.mark.parametrize("transposed", [False, True], ids=["contiguous", "transposed"])
@pytest.mark.parametrize("shape", SHAPES, ids=[str(s) for s in SHAPES])
@pytest.mark.parametrize("name,kw", UNARY, ids=[f"{n}{kw}" for n, kw in UNARY])
def test_functional_matches_pytorch(name, kw, shape, transposed):
    arr = np.random.default_rng(0).normal(size=shape) * 4
    if name == "glu" and (shape[1 if transposed else 0] % 2):
        pytest.skip("glu needs an even dim")
    e, t, (xe, xt) = _both(arr, transposed)
    # PyTorch's hardsigmoid backward multiplies by a float32 1/6 even in float64
    rtol = 1e-7 if name == "hardsigmoid" else 1e-10
    _compare(getattr(eF, name)(xe, **kw), getattr(tF, name)(xt, **kw), [(e, t)], rtol)


LAYERS = [("ReLU6", ()), ("SELU", ()), ("CELU", (0.5,)), ("Mish", ()), ("Softsign", ()),
          ("Hardswish", ()), ("Hardsigmoid", ()), ("Hardtanh", (-2.0, 3.0)), ("Tanhshrink", ()),
          ("LogSigmoid", ()), ("Threshold", (0.1, 20.0)), ("GLU", ()), ("Softmin", (1,))]


@pytest.mark.parametrize("name,args", LAYERS, ids=[n for n, _ in LAYERS])
def test_layers_match_pytorch(name, args):
    arr = np.random.default_rng(0).normal(size=(3, 4)) * 4
    e, t, (xe, xt) = _both(arr)
    rtol = 1e-7 if name == "Hardsigmoid" else 1e-10  # as in test_functional_matches_pytorch
    _compare(getattr(ember.nn, name)(*args)(xe), getattr(torch.nn, name)(*args)(xt), [(e, t)],
             rtol)
    assert repr(getattr(ember.nn, name)(*args)).startswith(name)


@pytest.mark.parametrize("num", [1, 3])
def test_prelu_learns_the_same_slope_gradient(num):
    arr = np.random.default_rng(0).normal(size=(2, 3, 5))
    e, t, _ = _both(arr)
    me, mt = ember.nn.PReLU(num).double(), torch.nn.PReLU(num).double()
    _compare(me(e), mt(t), [(e, t), (me.weight, mt.weight)])


def test_rms_norm_matches_pytorch():
    arr = np.random.default_rng(0).normal(size=(2, 3, 4))
    for eps in (None, 1e-5):
        e, t, _ = _both(arr)
        me = ember.nn.RMSNorm([3, 4], eps=eps).double()
        mt = torch.nn.RMSNorm([3, 4], eps=eps).double()
        with torch.no_grad():
            mt.weight.copy_(torch.linspace(0.5, 2, 12).reshape(3, 4))
        with ember.no_grad():
            me.weight.copy_(ember.tensor(mt.weight.detach().numpy()))
        _compare(me(e), mt(t), [(e, t), (me.weight, mt.weight)])
    with pytest.raises(RuntimeError, match="rms_norm"):
        eF.rms_norm(ember.zeros(2, 3), [4])


def test_similarity_distance_and_losses_match_pytorch():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    a[0] = 0.0  # a zero vector: the eps clamp decides, as in PyTorch
    for name, args in (("cosine_similarity", ()), ("cosine_similarity", (0,)),
                       ("pairwise_distance", ()), ("pairwise_distance", (1.0, 1e-6, True))):
        e1, t1, _ = _both(a)
        e2, t2, _ = _both(b)
        _compare(getattr(eF, name)(e1, e2, *args), getattr(tF, name)(t1, t2, *args),
                 [(e1, t1), (e2, t2)])
    e1, t1, _ = _both(a[:, 0])
    e2, t2, _ = _both(b[:, 0])
    y = np.sign(rng.normal(size=5))
    for reduction in ("mean", "sum", "none"):
        e1.grad = t1.grad = e2.grad = t2.grad = None
        _compare(eF.margin_ranking_loss(e1, e2, ember.tensor(y), 0.3, reduction=reduction),
                 tF.margin_ranking_loss(t1, t2, torch.tensor(y), 0.3, reduction=reduction),
                 [(e1, t1), (e2, t2)])
    x = rng.normal(size=(2, 8, 3, 3))
    e, t, _ = _both(x)
    _compare(eF.pixel_shuffle(e, 2), tF.pixel_shuffle(t, 2), [(e, t)])
    m = ember.nn.CosineSimilarity(dim=1)(ember.tensor(a), ember.tensor(b))
    np.testing.assert_allclose(m.numpy(), torch.nn.CosineSimilarity(dim=1)(
        torch.tensor(a), torch.tensor(b)).numpy())
    d = ember.nn.PairwiseDistance()(ember.tensor(a), ember.tensor(b))
    np.testing.assert_allclose(d.numpy(), torch.nn.PairwiseDistance()(
        torch.tensor(a), torch.tensor(b)).numpy())


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_sequence_matches_pytorch(batch_first, side):
    rng = np.random.default_rng(0)
    arrs = [rng.normal(size=(n, 3)) for n in (4, 1, 0, 2)]
    pe = [ember.tensor(a, requires_grad=True) for a in arrs]
    pt = [torch.tensor(a, requires_grad=True) for a in arrs]
    out_e = ember.nn.utils.rnn.pad_sequence(pe, batch_first, -1.0, side)
    out_t = torch.nn.utils.rnn.pad_sequence(pt, batch_first, -1.0, side)
    _compare(out_e, out_t, [(e, t) for e, t in zip(pe, pt) if t.numel()])


@pytest.mark.parametrize("call", [
    lambda: eF.glu(ember.zeros(3, 5)),
    lambda: eF.pixel_shuffle(ember.zeros(1, 3, 2, 2), 2),
    lambda: ember.nn.utils.rnn.pad_sequence([]),
    lambda: ember.nn.utils.rnn.pad_sequence([ember.zeros(2, 3), ember.zeros(2, 4)]),
])
def test_bad_inputs_raise_naming_the_op(call):
    with pytest.raises(RuntimeError, match="glu|pixel_shuffle|pad_sequence"):
        call()


@pytest.mark.parametrize("name,args", [
    ("ZeroPad2d", (1,)), ("ZeroPad2d", ((1, 0, 2, 1),)), ("ConstantPad1d", (2, 3.5)),
    ("ConstantPad2d", ((0, 1, 1, 0), -1.0)), ("ReflectionPad2d", (1,)),
    ("ReplicationPad1d", ((2, 1),)), ("ReflectionPad1d", (1,)), ("ReplicationPad2d", (2,)),
])
def test_padding_layers_match_pytorch(name, args):
    arr = np.random.default_rng(0).normal(size=(2, 3, 4, 5) if "2d" in name else (2, 3, 5))
    e, t, _ = _both(arr)
    _compare(getattr(ember.nn, name)(*args)(e), getattr(torch.nn, name)(*args)(t), [(e, t)])
    with pytest.raises(ValueError, match=name):
        getattr(ember.nn, name)((1, 2, 3))


def test_parameter_containers_register_like_pytorch():
    def build(lib):
        class M(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.ps = lib.nn.ParameterList([lib.zeros(2), lib.nn.Parameter(lib.ones(3))])
                self.ps.append(lib.ones(1))
                self.pd = lib.nn.ParameterDict({"b": lib.zeros(1), "a": lib.ones(2)})
                self.po = lib.nn.ParameterDict([("d", lib.zeros(1)), ("c", lib.ones(2))])
        return M()

    ours, theirs = build(ember), build(torch)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert all(p.requires_grad for p in ours.parameters()) and len(ours.ps) == 3
    assert isinstance(ours.ps[0], ember.nn.Parameter) and "a" in ours.pd
    with pytest.raises(TypeError, match="ParameterList"):
        ember.nn.ParameterList([3.0])


def test_margin_ranking_loss_and_pixel_shuffle_layers_match_pytorch():
    rng = np.random.default_rng(0)
    a, b, y = rng.normal(size=6), rng.normal(size=6), np.sign(rng.normal(size=6))
    e1, t1, _ = _both(a)
    e2, t2, _ = _both(b)
    _compare(ember.nn.MarginRankingLoss(0.2)(e1, e2, ember.tensor(y)),
             torch.nn.MarginRankingLoss(0.2)(t1, t2, torch.tensor(y)), [(e1, t1), (e2, t2)])
    e, t, _ = _both(rng.normal(size=(1, 9, 2, 2)))
    _compare(ember.nn.PixelShuffle(3)(e), torch.nn.PixelShuffle(3)(t), [(e, t)])


@pytest.mark.parametrize("name,shape", [("Dropout1d", (4, 8, 5)), ("Dropout2d", (4, 8, 3, 3)),
                                        ("Dropout2d", (8, 3, 3))])
def test_channel_dropout_zeroes_whole_channels(name, shape):
    x = ember.ones(shape, dtype=ember.float64)
    layer = getattr(ember.nn, name)(0.5)
    y = layer(x).numpy()
    spatial = 1 if name == "Dropout1d" else 2
    per_channel = y.reshape(*shape[:-spatial], -1)
    # each channel is all zeros or all 1/(1-p), and both kinds occur
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2.0).all(-1))
    assert (per_channel == 0).any() and (per_channel == 2.0).any()
    layer.eval()
    assert np.array_equal(layer(x).numpy(), x.numpy())
    with pytest.raises(RuntimeError, match=name.lower()):
        getattr(ember.nn.functional, name.lower())(ember.ones(3), 0.5)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_embedding_losses_match_pytorch(reduction):
    rng = np.random.default_rng(0)
    a, b, c = (rng.normal(size=(5, 4)) for _ in range(3))
    y = np.array([1.0, -1.0, 1.0, -1.0, -1.0])
    e1, t1, _ = _both(a)
    _compare(ember.nn.HingeEmbeddingLoss(0.5, reduction=reduction)(e1, ember.tensor(a * 0 + 1)),
             torch.nn.HingeEmbeddingLoss(0.5, reduction=reduction)(t1, torch.tensor(a * 0 + 1)),
             [(e1, t1)])
    e1, t1, _ = _both(a[:, 0])
    _compare(eF.hinge_embedding_loss(e1, ember.tensor(y), 0.3, reduction),
             tF.hinge_embedding_loss(t1, torch.tensor(y), 0.3, reduction=reduction), [(e1, t1)])
    e1, t1, _ = _both(a)
    e2, t2, _ = _both(b)
    _compare(ember.nn.CosineEmbeddingLoss(0.1, reduction=reduction)(e1, e2, ember.tensor(y)),
             torch.nn.CosineEmbeddingLoss(0.1, reduction=reduction)(t1, t2, torch.tensor(y)),
             [(e1, t1), (e2, t2)])
    for swap in (False, True):
        leaves = [_both(v)[:2] for v in (a, b, c)]
        _compare(ember.nn.TripletMarginLoss(0.7, swap=swap, reduction=reduction)(
                     *(e for e, _ in leaves)),
                 torch.nn.TripletMarginLoss(0.7, swap=swap, reduction=reduction)(
                     *(t for _, t in leaves)), leaves)


@pytest.mark.parametrize("name,shape", [("InstanceNorm1d", (3, 4, 6)), ("InstanceNorm2d",
                                        (2, 4, 3, 5)), ("InstanceNorm2d", (4, 3, 5))])
@pytest.mark.parametrize("affine,track", [(False, False), (True, False), (True, True)])
def test_instance_norm_matches_pytorch(name, shape, affine, track):
    arr = np.random.default_rng(0).normal(size=shape) * 3 + 1
    me = getattr(ember.nn, name)(4, affine=affine, track_running_stats=track).double()
    mt = getattr(torch.nn, name)(4, affine=affine, track_running_stats=track).double()
    for _ in range(2):  # train mode twice: the running statistics move the same way
        e, t, _ = _both(arr)
        leaves = [(e, t)] + ([(me.weight, mt.weight), (me.bias, mt.bias)] if affine else [])
        for a, b in leaves[1:]:
            a.grad, b.grad = None, None
        _compare(me(e), mt(t), leaves)
    if track:
        np.testing.assert_allclose(me.running_mean.numpy(), mt.running_mean.numpy())
        np.testing.assert_allclose(me.running_var.numpy(), mt.running_var.numpy())
    me.eval()
    mt.eval()
    e, t, _ = _both(arr)
    _compare(me(e), mt(t), [(e, t)])
    with pytest.raises(ValueError, match=name):
        me(ember.zeros(2, 5, *shape[-1:]) if name == "InstanceNorm1d" else ember.zeros(2, 3))
