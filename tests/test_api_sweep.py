"""The tensor API that tutorials use, added for issue 11 (point 3), against PyTorch: forward
values and (where the op is differentiable) input gradients in float64, on ordinary, empty and
non-contiguous (transposed) inputs."""

from __future__ import annotations

import ember
import numpy as np
import pytest

torch = pytest.importorskip("torch")


def _pair(arr: np.ndarray, transposed: bool = False):
    """The same values as an ember and a torch leaf (optionally a transposed, non-contiguous
    view of them)."""
    e = ember.tensor(arr, requires_grad=True)
    t = torch.tensor(arr, requires_grad=True)
    return (e, t) if not transposed else (e.transpose(0, 1), t.transpose(0, 1))


def _grad_check(fn_name, args_e, args_t, arr, transposed):
    e = ember.tensor(arr, requires_grad=True)
    t = torch.tensor(arr, requires_grad=True)
    xe, xt = (e.transpose(0, 1), t.transpose(0, 1)) if transposed else (e, t)
    out_e = getattr(ember, fn_name)(xe, *args_e)
    out_t = getattr(torch, fn_name)(xt, *args_t)
    assert tuple(out_e.shape) == tuple(out_t.shape), fn_name
    np.testing.assert_allclose(out_e.detach().numpy(), out_t.detach().numpy(), rtol=1e-12,
                               atol=1e-12, err_msg=fn_name)
    method = getattr(xe, fn_name)(*args_e)  # the Tensor method is the same function
    np.testing.assert_allclose(method.detach().numpy(), out_e.detach().numpy())
    if out_t.requires_grad and out_t.numel():
        w = np.random.default_rng(1).normal(size=tuple(out_t.shape))
        (out_t * torch.tensor(w)).sum().backward()
        if not out_e.requires_grad:  # ember's rounding ops (floor, trunc) record no graph
            assert not t.grad.any(), fn_name  # where PyTorch's gradient is zero anyway
            return
        (out_e * ember.tensor(w)).sum().backward()
        np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=fn_name)


# name, ember args, torch args (when they differ), differentiable
CASES = [
    ("flip", ((0, 1),)), ("flip", ((-1,),)),
    ("roll", (2, 1)), ("roll", ((1, -1), (0, 1))), ("roll", (3,)),
    ("movedim", (0, -1)),
    ("cumsum", (1,)), ("cumsum", (0,)),
    ("cumprod", (1,)), ("prod", (1,)), ("prod", ()),
    ("diagonal", ()), ("diagonal", (1,)), ("diagonal", (-1, 1, 0)),
    ("diag", ()), ("diag", (1,)), ("trace", ()),
    ("repeat_interleave", (2, 0)), ("repeat_interleave", (3,)),
    ("tile", ((2, 1),)), ("tile", ((2,),)),
    ("tan", ()), ("trunc", ()),
    ("remainder", (0.7,)), ("remainder", (-0.7,)),
]
SHAPES = [(3, 4), (4, 4), (0, 3), (3, 0)]


@pytest.mark.parametrize("transposed", [False, True], ids=["contiguous", "transposed"])
@pytest.mark.parametrize("shape", SHAPES, ids=[str(s) for s in SHAPES])
@pytest.mark.parametrize("name,args", CASES, ids=[f"{c[0]}{c[1]}" for c in CASES])
def test_matches_pytorch(name, args, shape, transposed):
    arr = np.random.default_rng(0).normal(size=shape) * 2
    arr[0:1, 0:1] = 0.0  # a zero entry: prod/cumprod gradients
    _grad_check(name, args, args, arr, transposed)


@pytest.mark.parametrize("shape", [(5,), (0,), (3,)])
@pytest.mark.parametrize("k", [0, 2, -1])
def test_diag_of_a_vector_matches_pytorch(shape, k):
    arr = np.random.default_rng(0).normal(size=shape)
    _grad_check("diag", (k,), (k,), arr, False)


@pytest.mark.parametrize("fn", ["log2", "log10"])
def test_logs_match_pytorch(fn):
    _grad_check(fn, (), (), np.random.default_rng(0).uniform(0.1, 5, size=(3, 4)), True)


def test_lerp_isclose_where_masked_select_match_pytorch():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    ea, ta = _pair(a)
    eb, tb = ember.tensor(b), torch.tensor(b)
    np.testing.assert_allclose(ember.lerp(ea, eb, 0.3).detach().numpy(),
                               torch.lerp(ta, tb, 0.3).detach().numpy())
    c = a.copy()
    c[0, 0] += 1e-9
    c[1, 1] = np.inf
    a[1, 1] = np.inf
    a[2, 2] = c[2, 2] = np.nan
    for kw in ({}, {"equal_nan": True}, {"rtol": 0, "atol": 1e-12}):
        assert (ember.isclose(ember.tensor(a), ember.tensor(c), **kw).numpy()
                == torch.isclose(torch.tensor(a), torch.tensor(c), **kw).numpy()).all()
    mask = b > 0
    np.testing.assert_array_equal(ea.masked_select(ember.tensor(mask)).detach().numpy(),
                                  ta.masked_select(torch.tensor(mask)).detach().numpy())
    np.testing.assert_array_equal(ea.where(ember.tensor(mask), 0.0).detach().numpy(),
                                  ta.where(torch.tensor(mask), 0.0).detach().numpy())


def test_index_results_match_pytorch():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, size=(3, 5))
    ex, tx = ember.tensor(x), torch.tensor(x)
    np.testing.assert_array_equal(ex.nonzero().numpy(), tx.nonzero().numpy())
    for a, b in zip(ex.nonzero(as_tuple=True), tx.nonzero(as_tuple=True)):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert ember.nonzero(ember.zeros(0, 2)).shape == torch.nonzero(torch.zeros(0, 2)).shape


def test_grids_and_broadcasting_match_pytorch():
    a, b = np.arange(3.0), np.arange(4.0)
    for indexing in ("ij", "xy"):
        for x, y in zip(ember.meshgrid(ember.tensor(a), ember.tensor(b), indexing=indexing),
                        torch.meshgrid(torch.tensor(a), torch.tensor(b), indexing=indexing)):
            np.testing.assert_array_equal(x.numpy(), y.numpy())
    shapes = [(3, 1), (1, 4), (4,)]
    ours = ember.broadcast_tensors(*(ember.zeros(s) for s in shapes))
    assert [tuple(t.shape) for t in ours] == [(3, 4)] * 3
    np.testing.assert_allclose(ember.logspace(0, 2, 5).numpy(),
                               torch.logspace(0, 2, 5).numpy(), rtol=1e-6)
    assert ember.is_floating_point(ember.zeros(1)) and not ember.zeros(1).long().is_floating_point()
    assert ember.zeros(2, 3).nelement() == 6 and not ember.zeros(1).is_cuda


@pytest.mark.parametrize("call,error", [
    (lambda: ember.flip(ember.zeros(2, 3), (0, 0)), RuntimeError),
    (lambda: ember.flip(ember.zeros(2, 3), 2), (IndexError, ValueError, RuntimeError)),
    (lambda: ember.roll(ember.zeros(2, 3), (1, 2), 0), RuntimeError),
    (lambda: ember.diag(ember.zeros(2, 3, 4)), RuntimeError),
    (lambda: ember.trace(ember.zeros(3)), RuntimeError),
    (lambda: ember.repeat_interleave(ember.zeros(3), -1), RuntimeError),
    (lambda: ember.broadcast_tensors(ember.zeros(2), ember.zeros(3)), RuntimeError),
    (lambda: ember.meshgrid(ember.zeros(2), indexing="yx"), ValueError),
])
def test_bad_arguments_raise_naming_the_op(call, error):
    with pytest.raises(error) as info:
        call()
    assert any(op in str(info.value) for op in ("flip", "roll", "diag", "trace", "repeat",
                                                "broadcast", "meshgrid"))


def test_integer_forms_match_pytorch():
    v = [-7, 7, 5, 0]
    for fn, other in (("remainder", 3), ("remainder", -3)):
        np.testing.assert_array_equal(getattr(ember, fn)(ember.tensor(v), other).numpy(),
                                      getattr(torch, fn)(torch.tensor(v), other).numpy())
    for fn in ("cumsum", "cumprod"):
        ours, theirs = getattr(ember.tensor(v), fn)(0), getattr(torch.tensor(v), fn)(0)
        assert ours.dtype is ember.int64
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert ember.tensor(v).prod().item() == 0 and ember.tensor([2, 3]).prod().item() == 6
