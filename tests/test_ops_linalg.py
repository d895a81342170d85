"""Matrix products through ember's ops (the autograd ``MatMul`` over the backend GEMM):
NumPy's shape rules, broadcast batches, strided operands, dtypes, and errors."""

import ember
import numpy as np
import pytest
from ember.autograd import gradcheck, gradgradcheck
from helpers import assert_close, check_op, leaf, noncontig_leaf, np_of, rand

SHAPES = [
    ((3, 4), (4, 2)),           # 2-D
    ((4,), (4,)),               # 1-D x 1-D: a dot product (0-d result)
    ((4,), (4, 3)),             # 1-D x 2-D: a row vector
    ((3, 4), (4,)),             # 2-D x 1-D: a column vector
    ((2, 3, 4), (2, 4, 2)),     # batched 3-D
    ((2, 2, 3, 4), (2, 2, 4, 1)),  # batched 4-D
    ((2, 1, 3, 4), (5, 4, 2)),  # broadcast batch dims -> (2, 5, 3, 2)
    ((3, 4), (2, 4, 2)),        # a matrix against a batch
    ((2, 3, 4), (4,)),          # batch x 1-D
    ((4,), (2, 4, 3)),          # 1-D x batch
    ((1, 1), (1, 1)),
]


@pytest.mark.parametrize("sa,sb", SHAPES, ids=[f"{a}@{b}" for a, b in SHAPES])
def test_matmul_forward_and_gradcheck(sa, sb):
    a, b = rand(sa, 1), rand(sb, 2)
    xs = check_op(lambda x, y: x @ y, np.matmul, a, b)
    assert (xs[0] @ xs[1]).shape == np.matmul(a, b).shape
    check_op(ember.matmul, np.matmul, a, b)


@pytest.mark.parametrize("sa,sb", [((3, 4), (4, 2)), ((2, 1, 2, 3), (2, 3, 2)), ((3,), (3,))])
def test_matmul_gradgradcheck(sa, sb):
    check_op(lambda x, y: x @ y, np.matmul, rand(sa, 3), rand(sb, 4), gradgrad=True)


def test_matmul_transposed_and_strided_operands():
    a, b = rand((4, 3), 5), rand((2, 4), 6)
    x, y = noncontig_leaf(a.T.copy()), noncontig_leaf(b.T.copy())  # (3, 4) and (4, 2) views
    assert_close(x @ y, a.T @ b.T)
    assert gradcheck(lambda s, t: s @ t, (x, y))
    # .T / .mT of contiguous leaves, and strided slices
    p, q = leaf(a), leaf(b)
    assert_close(p.T @ q.T, a.T @ b.T)
    assert gradcheck(lambda s, t: s.T @ t.T, (p, q))
    big = leaf(rand((6, 8), 7))
    assert_close(big[::2, 1::2] @ big[1:5, ::3], np_of(big)[::2, 1::2] @ np_of(big)[1:5, ::3])
    assert gradcheck(lambda s: s[::2, 1::2] @ s[1:5, ::3], (big,))
    c = rand((2, 3, 4), 8)
    z = leaf(c)
    assert_close(z.mT @ z, np.swapaxes(c, -1, -2) @ c)
    assert gradcheck(lambda s: s.mT @ s, (z,))


def test_matmul_broadcast_batch_gradients_sum_over_the_batch():
    a, b = rand((2, 1, 3, 4), 9), rand((5, 4, 2), 10)
    x, y = leaf(a), leaf(b)
    (x @ y).sum().backward()
    g = np.ones((2, 5, 3, 2))
    np.testing.assert_allclose(np_of(x.grad), (g @ np.swapaxes(b, -1, -2)).sum(1, keepdims=True))
    np.testing.assert_allclose(np_of(y.grad), (np.swapaxes(a, -1, -2) @ g).sum(0))


@pytest.mark.parametrize("dtype", [ember.float32, ember.float64])
def test_matmul_dtypes(dtype):
    a, b = rand((5, 7), 11), rand((7, 3), 12)
    x = ember.tensor(a, dtype=dtype)
    y = ember.tensor(b, dtype=dtype)
    out = x @ y
    assert out.dtype is dtype
    tol = 1e-5 if dtype is ember.float32 else 1e-12
    assert_close(out, a.astype(dtype.np) @ b.astype(dtype.np), rtol=tol, atol=tol)


def test_matmul_larger_float32_against_numpy():
    # big enough to cross any blocking of a native GEMM (odd sizes: edge tiles)
    a, b = rand((37, 65), 13).astype(np.float32), rand((65, 29), 14).astype(np.float32)
    assert_close(ember.tensor(a) @ ember.tensor(b), a.astype(np.float64) @ b.astype(np.float64),
                 rtol=1e-4, atol=1e-4)


def test_matmul_mixed_dtypes_promote():
    out = ember.ones(2, 3) @ ember.ones(3, 2, dtype=ember.float64)
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
    check_op(ember.mm, np.matmul, a, b)
    check_op(lambda x, y: x.mm(y), np.matmul, a, b)
    with pytest.raises(ValueError, match=r"mm: expected 2-d tensors, got shapes \(3,\) and "
                                         r"\(3, 2\)"):
        ember.mm(ember.zeros(3), ember.zeros(3, 2))


def test_bmm():
    a, b = rand((2, 3, 4), 22), rand((2, 4, 2), 23)
    check_op(ember.bmm, np.matmul, a, b)
    check_op(lambda x, y: x.bmm(y), np.matmul, a, b)
    with pytest.raises(ValueError, match=r"bmm: expected 3-d tensors with the same batch size, "
                                         r"got shapes \(2, 3, 4\) and \(1, 4, 2\)"):
        ember.bmm(ember.zeros(2, 3, 4), ember.zeros(1, 4, 2))


def test_dot():
    a, b = rand((5,), 24), rand((5,), 25)
    xs = check_op(ember.dot, np.dot, a, b, gradgrad=True)
    assert ember.dot(*xs).shape == ()
    check_op(lambda x, y: x.dot(y), np.dot, a, b)
    with pytest.raises(ValueError, match=r"dot: expected two 1-d tensors of equal length, got "
                                         r"shapes \(5,\) and \(4,\)"):
        ember.dot(ember.zeros(5), ember.zeros(4))


def test_outer():
    a, b = rand((3,), 26), rand((4,), 27)
    check_op(ember.outer, np.outer, a, b, gradgrad=True)
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
