"""Indexing beyond the op table (tests/op_table.py checks basic, advanced and mixed
getitem, gather, scatter_add, index_select, take and masked_fill values and gradients):
views, repeated indices, the error messages, and ``x[idx] = v``."""

import ember
import numpy as np
import pytest
from ember.autograd import gradcheck, gradgradcheck
from helpers import assert_close, check_op, grad_of, leaf, noncontig_leaf, np_of, rand
from op_table import np_gather


# ---------------------------------------------------------------------------- basic indexing
def test_basic_indexing_gradgradcheck_and_view():
    a = rand((3, 4), 2)
    check_op(lambda x: x[1:, ::2] * x[:2, 1::2], lambda x: x[1:, ::2] * x[:2, 1::2], a,
             gradgrad=True)
    # a basic index is a view: it sees later writes to the base
    x = ember.tensor(a)
    row = x[1]
    x[1, 0] = 42.0
    assert row[0].item() == 42.0


@pytest.mark.parametrize("index", [3, -4, (0, 4), (0, 0, 0), (slice(None), -5)])
def test_index_out_of_range(index):
    x = ember.zeros(3, 4)
    with pytest.raises(IndexError, match=r"getitem: index .* out of range for a tensor of shape "
                                         r"\(3, 4\)"):
        x[index]


def test_unsupported_index_types():
    x = ember.zeros(3)
    with pytest.raises(IndexError, match="getitem: unsupported index of type str"):
        x["a"]
    with pytest.raises(IndexError, match="getitem: tensors used as indices must be int64 or "
                                         "bool, got ember.float32"):
        x[ember.tensor([0.0, 1.0])]
    with pytest.raises(IndexError, match="getitem: index arrays must be integer or bool"):
        x[[0.5]]


# ---------------------------------------------------------------------------- advanced indexing
def test_repeated_indices_accumulate_gradients():
    x = leaf([1.0, 2.0, 3.0])
    (g,) = grad_of(lambda t: t[[0, 2, 0, 0]], x)
    np.testing.assert_array_equal(g, [3.0, 0.0, 1.0])
    m = leaf(rand((2, 3), 5))
    (g,) = grad_of(lambda t: t[ember.tensor([1, 1]), ember.tensor([2, 2])] * 1.5, m)
    np.testing.assert_array_equal(g, [[0, 0, 0], [0, 0, 3.0]])
    assert gradgradcheck(lambda t: t[[0, 2, 0]] ** 2, (leaf([1.0, 2.0, 3.0]),))


def test_mask_with_wrong_shape_raises():
    with pytest.raises(IndexError, match=r"getitem: .*\(3, 4\)"):
        ember.zeros(3, 4)[ember.tensor([True, False])]


# ---------------------------------------------------------------------------- gather / scatter_add
def test_gather_repeated_index_accumulates_and_non_contiguous():
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    (g,) = grad_of(lambda t: t.gather(1, ember.tensor([[0, 0, 0], [1, 0, 1]])), x)
    np.testing.assert_array_equal(g, [[3, 0], [1, 2]])
    a = rand((4, 3), 12)
    y = noncontig_leaf(a)
    idx = np.array([[0, 2, 1], [3, 3, 0]])
    assert_close(y.gather(0, ember.tensor(idx)), np_gather(a, 0, idx))
    assert gradcheck(lambda t: t.gather(0, ember.tensor(idx)), (y,))


def test_gather_bad_index():
    x = ember.zeros(3, 4)
    with pytest.raises(TypeError, match=r"gather: index must be an int64 tensor, got "
                                        r"ember.float32"):
        x.gather(1, ember.tensor([[0.0]]))
    with pytest.raises(ValueError, match=r"gather: index has 1 dims but the tensor has 2"):
        x.gather(1, ember.tensor([0]))
    with pytest.raises(IndexError, match=r"gather: index 4 is out of range for dimension 1 of "
                                         r"size 4 \(tensor shape \(3, 4\)\)"):
        x.gather(1, ember.tensor([[4]]))
    with pytest.raises(IndexError, match=r"gather: index -5 is out of range"):
        x.gather(1, ember.tensor([[-5]]))
    with pytest.raises(IndexError, match="gather: dimension 2 is out of range"):
        x.gather(2, ember.tensor([[0]]))
    with pytest.raises(ValueError, match=r"gather: index shape \(4, 1\) exceeds shape \(3, 4\)"):
        x.gather(1, ember.zeros(4, 1).long())


def test_scatter_add_bad_arguments():
    x = ember.zeros(3, 4)
    with pytest.raises(TypeError, match="scatter_add: index must be an int64 tensor"):
        x.scatter_add(0, ember.tensor([[0.0]]), ember.ones(1, 1))
    with pytest.raises(IndexError, match="scatter_add: index 3 is out of range for dimension 0"):
        x.scatter_add(0, ember.tensor([[3]]), ember.ones(1, 1))
    with pytest.raises(ValueError, match=r"scatter_add: index shape \(2, 2\) exceeds shape "
                                         r"\(1, 1\)"):
        x.scatter_add(0, ember.zeros(2, 2).long(), ember.ones(1, 1))


# ---------------------------------------------------------------------------- index_select / take
def test_index_select_non_contiguous_and_errors():
    a = rand((3, 4), 31)
    x = noncontig_leaf(a)
    assert_close(x.index_select(1, ember.tensor([0, 0, 2])), a[:, [0, 0, 2]])
    assert gradcheck(lambda t: t.index_select(1, ember.tensor([0, 0, 2])), (x,))
    with pytest.raises(IndexError, match=r"index_select: index 4 is out of range for dimension "
                                         r"1 of size 4 \(tensor shape \(3, 4\)\)"):
        x.index_select(1, ember.tensor([0, 4]))
    with pytest.raises(ValueError, match=r"index_select: index must be a 1-d int64 tensor, got "
                                         r"shape \(1, 1\)"):
        x.index_select(1, ember.tensor([[0]]))
    with pytest.raises(ValueError, match="index_select: .* dtype ember.float32"):
        x.index_select(1, ember.tensor([0.0]))


def test_take_out_of_range():
    with pytest.raises(IndexError, match=r"getitem: index .* out of range"):
        ember.zeros(3, 4).take(ember.tensor([12]))


# ---------------------------------------------------------------------------- masked_fill
def test_masked_fill_with_inf_and_errors():
    a = rand((2, 3), 42)
    x = leaf(a)
    out = x.masked_fill(x < 0, float("-inf"))
    assert_close(out, np.where(a < 0, -np.inf, a))
    sm = ember.softmax(out, -1)  # the usual attention-mask pattern stays finite
    assert np.all(np.isfinite(np_of(sm)))
    with pytest.raises(TypeError, match="masked_fill: mask must be a bool tensor"):
        x.masked_fill(ember.tensor([1, 0, 1]), 0.0)
    with pytest.raises(ValueError, match=r"masked_fill: shapes \(4,\) and \(2, 3\) cannot be"):
        x.masked_fill(ember.tensor([True, False, True, True]), 0.0)
    # out of place, a larger mask broadcasts the result as in PyTorch; in place it cannot
    assert x.masked_fill(ember.zeros(2, 2, 3).bool(), 0.0).shape == (2, 2, 3)
    with pytest.raises(ValueError, match=r"masked_fill_: the result's shape \(2, 2, 3\)"):
        x.detach().masked_fill_(ember.zeros(2, 2, 3).bool(), 0.0)


# ---------------------------------------------------------------------------- setitem
def test_setitem_outside_the_graph_writes_in_place():
    a = rand((3, 4), 50)
    x = ember.tensor(a)
    buf = x.numpy()
    x[1] = 7.0
    x[:, 0] = ember.tensor([1.0, 2.0, 3.0])
    x[ember.tensor([0, 2]), 3] = -1.0
    x[x > 5] = 0.0
    expected = a.copy()
    expected[1] = 7.0
    expected[:, 0] = [1, 2, 3]
    expected[[0, 2], 3] = -1.0
    expected[expected > 5] = 0.0
    np.testing.assert_array_equal(np_of(x), expected)
    assert np.shares_memory(buf, np_of(x))  # same memory: written in place
    assert not x.requires_grad


def test_setitem_under_no_grad_on_leaf():
    w = leaf([1.0, 2.0, 3.0])
    with ember.no_grad():
        w[0] = 10.0
    np.testing.assert_array_equal(np_of(w), [10.0, 2.0, 3.0])
    assert w.requires_grad and w.is_leaf


def test_setitem_on_leaf_that_requires_grad_raises():
    w = leaf([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        w[0] = 5.0


@pytest.mark.parametrize("index,vshape", [
    (0, (3,)), ((slice(None), 1), (2,)), ((slice(None), 1), ()), ([1, 0], (2, 3)),
    ((slice(None), slice(0, 2)), (1, 2)), (0, (1, 3)), (0, (1, 1)),
])
def test_setitem_recorded_when_value_requires_grad(index, vshape):
    a, v = rand((2, 3), 51), rand(vshape, 52)

    def fn(x, val):
        y = x * 2.0  # a non-leaf that requires grad
        y[index] = val
        return y * y  # non-linear, so second derivatives are meaningful

    def ref(x, val):
        y = x * 2.0
        y[index] = val
        return y * y

    x, vt = check_op(fn, ref, a, v, gradgrad=True)
    gx, gv = grad_of(lambda s, t: fn(s, t) * 0.5, x, vt)
    # the overwritten part of x gets no gradient, the rest does
    expected_gx = 4.0 * a
    expected_gx[index] = 0.0
    np.testing.assert_allclose(gx, expected_gx)
    # the value gets dL/dy (= y) summed over every position it was broadcast to
    y = 2.0 * a
    y[index] = v
    gy = np.array(y[index], dtype=np.float64, ndmin=0)
    core = vshape
    while len(core) > gy.ndim and core[0] == 1:  # NumPy drops a value's extra leading 1s
        core = core[1:]
    gy = gy.sum(axis=tuple(range(gy.ndim - len(core))))
    gy = gy.sum(axis=tuple(i for i, s in enumerate(core) if s == 1), keepdims=True)
    np.testing.assert_allclose(gv, gy.reshape(vshape))


def test_setitem_into_plain_tensor_with_grad_value():
    # x does not require grad but the value does: the write is recorded
    x = ember.zeros(3, dtype=ember.float64)
    v = leaf(2.0)
    x[1] = v
    assert x.requires_grad
    (x * ember.tensor([1.0, 5.0, 1.0], dtype=ember.float64)).sum().backward()
    assert v.grad.item() == 5.0
    np.testing.assert_array_equal(np_of(x), [0.0, 2.0, 0.0])


def test_setitem_bumps_version_of_saved_tensor():
    x = leaf([1.0, 2.0])
    y = x * 1.0
    z = y * y  # saves y
    y[0] = leaf(3.0)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        z.sum().backward()
