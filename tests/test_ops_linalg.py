"""Matrix products through ember's ops (the autograd ``MatMul`` over the backend GEMM):
what the op table (tests/op_table.py, which checks NumPy's shape rules, broadcast batches,
transposed and strided operands and both float dtypes) does not -- batch-gradient sums,
promotion, the method forms, the precision setting and errors."""

import ember
import numpy as np
import pytest
from ember.autograd import gradgradcheck
from helpers import assert_close, check_op, leaf, np_of, rand


def test_matmul_broadcast_batch_gradients_sum_over_the_batch():
    a, b = rand((2, 1, 3, 4), 9), rand((5, 4, 2), 10)
    x, y = leaf(a), leaf(b)
    (x @ y).sum().backward()
    g = np.ones((2, 5, 3, 2))
    np.testing.assert_allclose(np_of(x.grad), (g @ np.swapaxes(b, -1, -2)).sum(1, keepdims=True))
    np.testing.assert_allclose(np_of(y.grad), (np.swapaxes(a, -1, -2) @ g).sum(0))


def test_matmul_mixed_dtypes_raise_as_in_pytorch():
    # PyTorch refuses float32 @ float64 (tests/test_differential.py found ember promoting)
    with pytest.raises(TypeError, match=r"matmul: expected both operands of one dtype, got "
                                        r"ember.float32 and ember.float64"):
        _ = ember.ones(2, 3) @ ember.ones(3, 2, dtype=ember.float64)
    out = ember.ones(2, 3).double() @ ember.ones(3, 2, dtype=ember.float64)
    assert out.dtype is ember.float64
    assert_close(out, np.full((2, 2), 3.0))


@pytest.mark.parametrize("sa,sb,msg", [
    ((2, 3), (4, 2), r"matmul: shapes \(2, 3\) and \(4, 2\) are not aligned: the last dimension "
                     r"of the first \(3\) must equal the second-to-last dimension of the second "
                     r"\(4\)"),
    ((2, 3), (4,), r"matmul: shapes \(2, 3\) and \(4,\) are not aligned.*only dimension"),
    ((3,), (4,), r"matmul: shapes \(3,\) and \(4,\) are not aligned"),
    ((2, 3, 4), (3, 4, 2), r"matmul: shapes \(2, 3, 4\) and \(3, 4, 2\) cannot be broadcast"),
    ((), (3,), r"matmul: both operands need at least 1 dimension, got shapes \(\) and \(3,\)"),
])
def test_matmul_shape_errors(sa, sb, msg):
    with pytest.raises(ValueError, match=msg):
        ember.zeros(*sa) @ ember.zeros(*sb)


def test_matmul_type_errors():
    with pytest.raises(TypeError, match="matmul: expected float32 or float64 tensors, got "
                                        "ember.int64"):
        ember.tensor([[1, 2]]) @ ember.tensor([[1], [2]])
    with pytest.raises(TypeError, match="matmul: expected two Tensors, got Tensor and list"):
        ember.matmul(ember.zeros(2, 2), [[1.0, 0.0], [0.0, 1.0]])


# ---------------------------------------------------------------------------- mm, bmm, dot, outer
def test_mm():
    a, b = rand((3, 4), 20), rand((4, 2), 21)
    check_op(lambda x, y: x.mm(y), np.matmul, a, b)
    with pytest.raises(ValueError, match=r"mm: expected 2-d tensors, got shapes \(3,\) and "
                                         r"\(3, 2\)"):
        ember.mm(ember.zeros(3), ember.zeros(3, 2))


def test_bmm():
    a, b = rand((2, 3, 4), 22), rand((2, 4, 2), 23)
    check_op(lambda x, y: x.bmm(y), np.matmul, a, b)
    with pytest.raises(ValueError, match=r"bmm: expected 3-d tensors with the same batch size, "
                                         r"got shapes \(2, 3, 4\) and \(1, 4, 2\)"):
        ember.bmm(ember.zeros(2, 3, 4), ember.zeros(1, 4, 2))


def test_dot():
    a, b = rand((5,), 24), rand((5,), 25)
    xs = leaf(a), leaf(b)
    assert ember.dot(*xs).shape == ()
    check_op(lambda x, y: x.dot(y), np.dot, a, b)
    with pytest.raises(ValueError, match=r"dot: expected two 1-d tensors of equal length, got "
                                         r"shapes \(5,\) and \(4,\)"):
        ember.dot(ember.zeros(5), ember.zeros(4))


def test_outer():
    a, b = rand((3,), 26), rand((4,), 27)
    check_op(lambda x, y: x.outer(y), np.outer, a, b)
    with pytest.raises(ValueError, match=r"outer: expected 1-d tensors, got shapes \(3, 1\)"):
        ember.outer(ember.zeros(3, 1), ember.zeros(4))


def test_linear_layer_composite_gradgradcheck():
    # the pattern every MLP uses: x @ W^T + b, then a nonlinearity
    x, w, b = rand((4, 3), 30), rand((2, 3), 31), rand((2,), 32)
    assert gradgradcheck(lambda xx, ww, bb: ember.tanh(xx @ ww.T + bb),
                         (leaf(x), leaf(w), leaf(b)))


def test_float32_matmul_precision_setting():
    assert ember.get_float32_matmul_precision() == "highest"
    with pytest.raises(ValueError, match="expected one of"):
        ember.set_float32_matmul_precision("low")
    a = np.random.default_rng(0).normal(size=(5, 6)).astype(np.float32)
    exact = (ember.tensor(a) @ ember.tensor(a.T)).numpy()
    ember.set_float32_matmul_precision("high")
    try:
        assert ember.get_float32_matmul_precision() == "high"
        # the CPU backend always multiplies in float32
        np.testing.assert_array_equal((ember.tensor(a) @ ember.tensor(a.T)).numpy(), exact)
    finally:
        ember.set_float32_matmul_precision("highest")
