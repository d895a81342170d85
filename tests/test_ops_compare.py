"""Comparisons, logic, isnan/isinf/isfinite (bool results, no gradient) and the dtype
promotion table."""

import operator

import ember
import numpy as np
import pytest
from helpers import leaf, np_of, rand

CMP = {
    "eq": (operator.eq, np.equal), "ne": (operator.ne, np.not_equal),
    "lt": (operator.lt, np.less), "le": (operator.le, np.less_equal),
    "gt": (operator.gt, np.greater), "ge": (operator.ge, np.greater_equal),
}


def _with_ties(shape, seed):
    """Small integers as floats: plenty of equal pairs for == / <= to get right."""
    return np.random.default_rng(seed).integers(-2, 3, size=shape).astype(np.float64)


@pytest.mark.parametrize("sa,sb", [((3, 4), (3, 4)), ((3, 1), (4,)), ((2, 1, 3), (4, 1)),
                                   ((), (5,))])
@pytest.mark.parametrize("name", list(CMP))
def test_comparisons_against_numpy(name, sa, sb):
    op, ref = CMP[name]
    a, b = _with_ties(sa, 1), _with_ties(sb, 2)
    x, y = leaf(a), leaf(b)
    for out, expected in [(op(x, y), ref(a, b)), (getattr(ember, name)(x, y), ref(a, b)),
                          (getattr(x, name)(y), ref(a, b)), (op(x, 0.0), ref(a, 0.0)),
                          (op(1, y), ref(1, b))]:
        assert out.dtype is ember.bool_
        assert not out.requires_grad
        assert out.shape == expected.shape
        np.testing.assert_array_equal(np_of(out), expected)


@pytest.mark.parametrize("name", list(CMP))
def test_comparisons_mixed_dtypes_and_non_contiguous(name):
    op, ref = CMP[name]
    a = np.random.default_rng(3).integers(-2, 3, size=(4, 3))
    b = _with_ties((3, 4), 4)
    x = ember.tensor(a)  # int64
    y = ember.tensor(b, dtype=ember.float32).T  # non-contiguous float32
    np.testing.assert_array_equal(np_of(op(x, y)), ref(a, b.T))
    np.testing.assert_array_equal(np_of(op(x, 0.5)), ref(a, 0.5))  # int vs float scalar
    np.testing.assert_array_equal(np_of(op(x > 0, True)), ref(a > 0, True))


def test_comparison_aliases():
    x, y = ember.tensor([1, 2, 3]), ember.tensor([2, 2, 2])
    assert np_of(ember.greater(x, y)).tolist() == [False, False, True]
    assert np_of(ember.greater_equal(x, y)).tolist() == [False, True, True]
    assert np_of(ember.less(x, y)).tolist() == [True, False, False]
    assert np_of(ember.less_equal(x, y)).tolist() == [True, True, False]
    assert np_of(ember.not_equal(x, y)).tolist() == [True, False, True]


def test_comparison_with_nan():
    x = ember.tensor([np.nan, 1.0])
    np.testing.assert_array_equal(np_of(x == x), [False, True])
    np.testing.assert_array_equal(np_of(x != x), [True, False])
    np.testing.assert_array_equal(np_of(x < 2.0), [False, True])


def test_comparison_broadcast_failure():
    with pytest.raises(ValueError, match=r"lt: shapes \(2, 3\) and \(4,\) cannot be broadcast"):
        _ = ember.zeros(2, 3) < ember.zeros(4)
    with pytest.raises(ValueError, match=r"eq: shapes \(2, 3\) and \(2,\)"):
        _ = ember.zeros(2, 3) == ember.zeros(2)


# ---------------------------------------------------------------------------- logical
LOGIC = {"logical_and": np.logical_and, "logical_or": np.logical_or,
         "logical_xor": np.logical_xor}


@pytest.mark.parametrize("name", list(LOGIC))
def test_logical_binary(name):
    rng = np.random.default_rng(5)
    a, b = rng.random((3, 4)) > 0.5, rng.random((4,)) > 0.5
    out = getattr(ember, name)(ember.tensor(a), ember.tensor(b))
    assert out.dtype is ember.bool_
    np.testing.assert_array_equal(np_of(out), LOGIC[name](a, b))
    # numbers: nonzero is True
    fa, ib = _with_ties((3, 4), 6), rng.integers(-1, 2, size=(4,))
    out = getattr(ember.tensor(fa), name)(ember.tensor(ib))
    assert out.dtype is ember.bool_
    np.testing.assert_array_equal(np_of(out), LOGIC[name](fa, ib))


def test_logical_operators_and_not():
    rng = np.random.default_rng(7)
    a, b = rng.random(6) > 0.5, rng.random(6) > 0.5
    x, y = ember.tensor(a), ember.tensor(b)
    np.testing.assert_array_equal(np_of(x & y), a & b)
    np.testing.assert_array_equal(np_of(x | y), a | b)
    np.testing.assert_array_equal(np_of(x ^ y), a ^ b)
    np.testing.assert_array_equal(np_of(~x), ~a)
    np.testing.assert_array_equal(np_of(ember.logical_not(x)), ~a)
    f = np.array([0.0, -1.5, 2.0, np.nan])
    np.testing.assert_array_equal(np_of(ember.tensor(f).logical_not()), np.logical_not(f))


# ---------------------------------------------------------------------- isnan / isinf / isfinite
@pytest.mark.parametrize("name", ["isnan", "isinf", "isfinite"])
def test_isnan_isinf_isfinite(name):
    a = np.array([[0.0, np.nan, np.inf], [-np.inf, -1.5, 1e30]])
    for dtype in (ember.float32, ember.float64):
        x = ember.tensor(a, dtype=dtype)
        out = getattr(ember, name)(x)
        assert out.dtype is ember.bool_
        np.testing.assert_array_equal(np_of(out), getattr(np, name)(a.astype(dtype.np)))
    i = ember.tensor([1, -2, 0])
    np.testing.assert_array_equal(np_of(getattr(i, name)()),
                                  getattr(np, name)(np.array([1, -2, 0])))
    x = leaf(a)
    assert not getattr(x, name)().requires_grad


def test_allclose_and_equal():
    a = rand((3,), 8)
    assert ember.allclose(ember.tensor(a), ember.tensor(a + 1e-9))
    assert not ember.allclose(ember.tensor(a), ember.tensor(a + 1e-3))
    assert ember.equal(ember.tensor(a), ember.tensor(a.copy()))
    assert not ember.equal(ember.tensor(a), ember.tensor(a[:2]))


# ---------------------------------------------------------------------------- dtype promotion
def _example(dtype):
    return {ember.bool_: ember.tensor([True, False]), ember.int64: ember.tensor([3, -2]),
            ember.float32: ember.tensor([1.5, -2.0], dtype=ember.float32),
            ember.float64: ember.tensor([1.5, -2.0], dtype=ember.float64)}[dtype]


CHAIN = [ember.bool_, ember.int64, ember.float32, ember.float64]


@pytest.mark.parametrize("da", CHAIN, ids=str)
@pytest.mark.parametrize("db", CHAIN, ids=str)
def test_tensor_tensor_promotion_is_the_larger_on_the_chain(da, db):
    x, y = _example(da), _example(db)
    expected = CHAIN[max(CHAIN.index(da), CHAIN.index(db))]
    out = x * y
    assert out.dtype is expected
    np.testing.assert_allclose(np_of(out).astype(np.float64),
                               np_of(x).astype(np.float64) * np_of(y).astype(np.float64))
    assert (x + y).dtype is expected
    assert ember.maximum(x, y).dtype is expected
    if ember.bool_ not in (da, db):
        assert (x - y).dtype is expected
    else:  # PyTorch refuses a bool operand of -, whatever the other one
        with pytest.raises(TypeError, match="sub: subtraction with a bool operand"):
            _ = x - y
    assert ember.where(ember.tensor([True, False]), x, y).dtype is expected


@pytest.mark.parametrize("dtype,scalar,expected", [
    (ember.int64, 2.5, ember.float32),     # a float scalar lifts ints to the default float
    (ember.int64, 2, ember.int64),
    (ember.int64, True, ember.int64),
    (ember.float32, 2.5, ember.float32),   # weak: a Python float never widens float32
    (ember.float32, 2, ember.float32),
    (ember.float64, 2.5, ember.float64),
    (ember.float64, 2, ember.float64),
    (ember.bool_, 2, ember.int64),
    (ember.bool_, 2.5, ember.float32),
    (ember.bool_, True, ember.bool_),
])
def test_python_scalars_are_weak(dtype, scalar, expected):
    x = _example(dtype)
    for out in (x * scalar, scalar * x, x + scalar, scalar + x):
        assert out.dtype is expected, (out.dtype, expected)
    np.testing.assert_allclose(np_of(x * scalar).astype(np.float64),
                               np_of(x).astype(np.float64) * float(scalar), rtol=1e-6)


def test_numpy_scalars_follow_python_scalars():
    assert (ember.tensor([1, 2]) * np.float64(2.5)).dtype is ember.float32
    assert (ember.tensor([1.0], dtype=ember.float32) * np.float64(2.5)).dtype is ember.float32


def test_float32_plus_float64_is_float64_and_differentiable():
    a = ember.tensor([1.0, 2.0], dtype=ember.float32, requires_grad=True)
    b = ember.tensor([0.5, 0.25], dtype=ember.float64, requires_grad=True)
    out = a + b
    assert out.dtype is ember.float64
    (out * out).sum().backward()
    assert a.grad.dtype is ember.float32 and b.grad.dtype is ember.float64
    np.testing.assert_allclose(np_of(a.grad), [3.0, 4.5])
    np.testing.assert_allclose(np_of(b.grad), [3.0, 4.5])


def test_default_dtype_change_moves_scalar_promotion():
    ember.set_default_dtype(ember.float64)
    try:
        assert (ember.tensor([1, 2]) * 2.5).dtype is ember.float64
        assert (ember.tensor([1, 2]) / ember.tensor([2, 2])).dtype is ember.float64
    finally:
        ember.set_default_dtype(ember.float32)
    assert (ember.tensor([1, 2]) * 2.5).dtype is ember.float32
