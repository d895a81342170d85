"""Elementwise ops: forward vs NumPy, float64 gradcheck, broadcasting, strides, errors,
and extreme values."""

import math

import ember
import numpy as np
import pytest
from ember.autograd import gradcheck, gradgradcheck
from helpers import assert_close, away_from, check_op, grad_of, leaf, noncontig_leaf, np_of, rand

_np_erf = np.vectorize(math.erf)


def _np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _np_softplus(x, beta=1.0, threshold=20.0):
    z = beta * x
    return np.where(z > threshold, x, np.log1p(np.exp(np.minimum(z, threshold))) / beta)


# ---------------------------------------------------------------------------- arithmetic
BINARY = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / b, np.divide),
    "maximum": (ember.maximum, np.maximum),
    "minimum": (ember.minimum, np.minimum),
}

# (3,1,4) with (2,4), a 0-d tensor with a tensor, and equal shapes
BROADCAST_SHAPES = [((2, 3), (2, 3)), ((3, 1, 4), (2, 4)), ((), (2, 3)), ((4, 1), (1,)),
                    ((1, 3), (2, 1))]


def _binary_inputs(name, sa, sb):
    a, b = rand(sa, 1), rand(sb, 2)
    if name == "div":  # keep the divisor away from 0
        b = away_from(b, (0.0,), 0.5)
    return a, b


@pytest.mark.parametrize("name", list(BINARY))
@pytest.mark.parametrize("sa,sb", BROADCAST_SHAPES)
def test_binary_forward_and_gradcheck_with_broadcasting(name, sa, sb):
    fn, ref = BINARY[name]
    a, b = _binary_inputs(name, sa, sb)
    check_op(fn, ref, a, b)
    check_op(fn, ref, b, a)  # the broadcast operand on the other side


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div"])
def test_arithmetic_gradgradcheck(name):
    fn, ref = BINARY[name]
    a, b = _binary_inputs(name, (3, 1), (2,))
    check_op(fn, ref, a, b, gradgrad=True)


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "maximum", "minimum"])
def test_binary_non_contiguous_operands(name):
    fn, ref = BINARY[name]
    a, b = _binary_inputs(name, (3, 4), (3, 4))
    x, y = noncontig_leaf(a), noncontig_leaf(b)
    assert_close(fn(x, y), ref(a, b))
    assert gradcheck(fn, (x, y))
    # a strided slice of a contiguous leaf
    big = leaf(rand((3, 8), 3))
    assert_close(fn(big[:, ::2], y), ref(np_of(big)[:, ::2], b))
    assert gradcheck(lambda t, u: fn(t[:, ::2], u), (big, y))


@pytest.mark.parametrize("scalar", [3, 2.5, -0.5])
@pytest.mark.parametrize("name", ["add", "sub", "mul", "div"])
def test_binary_with_python_scalar_both_sides(name, scalar):
    fn, ref = BINARY[name]
    a = away_from(rand((2, 3), 4), (0.0,), 0.5)
    x = leaf(a)
    assert_close(fn(x, scalar), ref(a, scalar), dtype=ember.float64)
    assert_close(fn(scalar, x), ref(scalar, a), dtype=ember.float64)
    assert gradcheck(lambda t: fn(t, scalar), (x,))
    assert gradcheck(lambda t: fn(scalar, t), (x,))


def test_add_sub_alpha():
    a, b = rand((2, 3), 5), rand((3,), 6)
    check_op(lambda x, y: ember.add(x, y, alpha=2.5), lambda x, y: x + 2.5 * y, a, b)
    check_op(lambda x, y: ember.sub(x, y, alpha=-3), lambda x, y: x + 3 * y, a, b)


def test_true_division_of_ints_gives_float():
    a, b = np.array([7, -7, 1, 0]), np.array([2, 2, 3, 5])
    out = ember.tensor(a) / ember.tensor(b)
    assert out.dtype is ember.float32
    assert_close(out, a / b, rtol=1e-6)
    assert (ember.tensor(a) / 2).dtype is ember.float32
    assert_close(ember.tensor(a) / 2, a / 2)
    assert (3 / ember.tensor(b)).dtype is ember.float32


def test_floor_divide_ints_and_floats():
    a, b = np.array([7, -7, 7, -7, 0]), np.array([2, 2, -2, -2, 3])
    out = ember.tensor(a) // ember.tensor(b)
    assert out.dtype is ember.int64
    np.testing.assert_array_equal(np_of(out), np.floor_divide(a, b))
    af, bf = rand((2, 3), 7, -5, 5), away_from(rand((2, 3), 8), (0.0,), 0.5)
    x = leaf(af)
    out = x // leaf(bf)
    assert_close(out, np.floor_divide(af, bf))
    assert not out.requires_grad  # piecewise constant: outside the graph
    assert_close(ember.div(x, leaf(bf), rounding_mode="floor"), np.floor_divide(af, bf))
    assert_close(7 // ember.tensor(b), np.floor_divide(7, b))


def test_integer_floor_division_by_zero_raises():
    # NumPy quietly returns 0 here; a silent wrong result is worse than an error
    msg = r"floor_divide: integer division by zero \(ember.int64 tensors of shapes \(2,\) and \(\)"
    with pytest.raises(ZeroDivisionError, match=msg):
        _ = ember.tensor([1, 2]) // 0
    with pytest.raises(ZeroDivisionError, match="floor_divide"):
        ember.div(ember.tensor([1, 2]), ember.tensor([1, 0]), rounding_mode="floor")
    v = np_of(ember.tensor([1.0, -1.0]) // 0.0)  # floats: inf, as in PyTorch
    np.testing.assert_array_equal(v, [np.inf, -np.inf])


def test_neg():
    a = rand((2, 3), 9)
    check_op(lambda x: -x, np.negative, a, gradgrad=True)
    check_op(ember.neg, np.negative, a)


def test_bool_arithmetic_errors():
    t = ember.tensor([True, False])
    with pytest.raises(TypeError, match="neg.*bool"):
        _ = -t
    with pytest.raises(TypeError, match="sub.*bool"):
        _ = t - t


# ---------------------------------------------------------------------------- pow
@pytest.mark.parametrize("p", [2, 3, 0.5, -1, -2.5, 1.5, 0, 1])
def test_pow_scalar_exponent(p):
    a = rand((2, 3), 10, 0.2, 2.0)  # positive base for the fractional powers
    check_op(lambda x: x ** p, lambda x: x ** p, a)
    if p in (2, 3, 0.5, -1):
        assert gradgradcheck(lambda x: x ** p, (leaf(a),))


def test_pow_integer_power_of_negative_base():
    a = rand((5,), 11)
    check_op(lambda x: x ** 3, lambda x: x ** 3, a)
    check_op(lambda x: ember.pow(x, 2), np.square, a)


def test_pow_tensor_exponent_with_broadcasting():
    a, b = rand((3, 1), 12, 0.3, 2.0), rand((2,), 13, -2, 2)
    check_op(ember.pow, np.power, a, b, gradgrad=True)
    check_op(lambda x, y: x ** y, np.power, a, b)


def test_pow_scalar_base():
    b = rand((2, 3), 14)
    check_op(lambda x: 2 ** x, lambda x: 2.0 ** x, b, gradgrad=True)
    check_op(lambda x: 0.5 ** x, lambda x: 0.5 ** x, b)


def test_pow_non_contiguous():
    a = rand((3, 4), 15, 0.3, 2)
    x = noncontig_leaf(a)
    assert_close(x ** 1.5, a ** 1.5)
    assert gradcheck(lambda t: t ** 1.5, (x,))
    assert gradcheck(lambda t: t ** t, (x,))


def test_pow_integer_tensors():
    a = np.array([1, 2, 3, -2])
    out = ember.tensor(a) ** 2
    assert out.dtype is ember.int64
    np.testing.assert_array_equal(np_of(out), a ** 2)
    out = ember.tensor(a) ** 0.5
    assert out.dtype is ember.float32
    assert_close(out[:3], np.sqrt(a[:3]), rtol=1e-6)


def test_pow_integer_to_negative_integer_tensor_raises():
    with pytest.raises(ValueError, match=r"pow: integers to negative integer powers are not "
                                         r"allowed \(ember.int64 base of shape \(2,\)"):
        _ = ember.tensor([1, 2]) ** ember.tensor([-1, 2])
    np.testing.assert_array_equal(np_of(ember.tensor([2, 3]) ** ember.tensor([3, 2])), [8, 9])


def test_pow_gradient_of_exponent_at_zero_base_is_finite():
    # d(a^b)/db = a^b log a, which tends to 0 as a -> 0+ for b > 0
    a, b = leaf([0.0, 2.0]), leaf([2.0, 3.0])
    (a ** b).sum().backward()
    np.testing.assert_allclose(np_of(b.grad), [0.0, 8.0 * math.log(2.0)])
    np.testing.assert_allclose(np_of(a.grad), [0.0, 12.0])


# ---------------------------------------------------------------------------- unary math
# name -> (ember fn, numpy reference, input sampler)
UNARY = {
    "exp": (ember.exp, np.exp, lambda s: rand(s, 20)),
    "log": (ember.log, np.log, lambda s: rand(s, 21, 0.2, 3.0)),
    "log1p": (ember.log1p, np.log1p, lambda s: rand(s, 22, -0.8, 3.0)),
    "sqrt": (ember.sqrt, np.sqrt, lambda s: rand(s, 23, 0.2, 3.0)),
    "rsqrt": (ember.rsqrt, lambda x: 1 / np.sqrt(x), lambda s: rand(s, 24, 0.2, 3.0)),
    "abs": (ember.abs, np.abs, lambda s: away_from(rand(s, 25))),
    "sin": (ember.sin, np.sin, lambda s: rand(s, 26, -4, 4)),
    "cos": (ember.cos, np.cos, lambda s: rand(s, 27, -4, 4)),
    "tanh": (ember.tanh, np.tanh, lambda s: rand(s, 28, -3, 3)),
    "erf": (ember.erf, _np_erf, lambda s: rand(s, 29, -3, 3)),
    "sigmoid": (ember.sigmoid, _np_sigmoid, lambda s: rand(s, 30, -5, 5)),
    "relu": (ember.relu, lambda x: np.maximum(x, 0), lambda s: away_from(rand(s, 31))),
    "leaky_relu": (ember.leaky_relu, lambda x: np.where(x > 0, x, 0.01 * x),
                   lambda s: away_from(rand(s, 32))),
    "leaky_relu_0.2": (lambda x: ember.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x),
                       lambda s: away_from(rand(s, 33))),
    "gelu": (ember.gelu, lambda x: 0.5 * x * (1 + _np_erf(x / np.sqrt(2))),
             lambda s: rand(s, 34, -3, 3)),
    "gelu_tanh": (lambda x: ember.gelu(x, approximate="tanh"),
                  lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3))),
                  lambda s: rand(s, 35, -3, 3)),
    "softplus": (ember.softplus, _np_softplus, lambda s: rand(s, 36, -5, 5)),
    "softplus_beta": (lambda x: ember.softplus(x, beta=2.0, threshold=3.0),
                      lambda x: _np_softplus(x, 2.0, 3.0),
                      lambda s: away_from(rand(s, 37, -4, 4), (1.5,))),
    "silu": (ember.silu, lambda x: x * _np_sigmoid(x), lambda s: rand(s, 38, -5, 5)),
    "elu": (ember.elu, lambda x: np.where(x > 0, x, np.expm1(x)),
            lambda s: away_from(rand(s, 39))),
    "elu_alpha": (lambda x: ember.elu(x, alpha=0.5),
                  lambda x: np.where(x > 0, x, 0.5 * np.expm1(x)),
                  lambda s: away_from(rand(s, 40))),
    "square": (ember.square, np.square, lambda s: rand(s, 41)),
    "reciprocal": (ember.reciprocal, np.reciprocal, lambda s: away_from(rand(s, 42), (0,), 0.3)),
}


@pytest.mark.parametrize("name", list(UNARY))
def test_unary_forward_and_gradcheck(name):
    fn, ref, sample = UNARY[name]
    check_op(fn, ref, sample((3, 4)), gradgrad=True)
    check_op(fn, ref, sample(()))  # 0-d


@pytest.mark.parametrize("name", list(UNARY))
def test_unary_non_contiguous(name):
    fn, ref, sample = UNARY[name]
    a = sample((3, 4))
    x = noncontig_leaf(a)
    assert_close(fn(x), ref(a))
    assert gradcheck(fn, (x,))
    v = sample((8,))
    y = leaf(v)
    assert_close(fn(y[1::3]), ref(v[1::3]))
    assert gradcheck(lambda t: fn(t[1::3]), (y,))


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "sin", "tanh", "sigmoid", "erf", "gelu"])
def test_unary_on_int_tensor_computes_in_default_float(name):
    fn, ref, _ = UNARY[name]
    a = np.array([1, 2, 3])
    out = fn(ember.tensor(a))
    assert out.dtype is ember.float32
    assert_close(out, ref(a.astype(np.float64)), rtol=1e-5)


def test_float32_forward_keeps_dtype():
    a = rand((3,), 43).astype(np.float32)
    for fn, ref in [(ember.exp, np.exp), (ember.tanh, np.tanh), (ember.sigmoid, _np_sigmoid)]:
        out = fn(ember.tensor(a))
        assert out.dtype is ember.float32
        assert_close(out, ref(a.astype(np.float64)), rtol=1e-6)


def test_abs_and_relu_gradient_at_zero_is_zero():
    x = leaf([0.0, -1.0, 2.0])
    np.testing.assert_array_equal(grad_of(ember.abs, x)[0], [0.0, -1.0, 1.0])
    np.testing.assert_array_equal(grad_of(ember.relu, x)[0], [0.0, 0.0, 1.0])


def test_log_edge_values():
    out = ember.log(ember.tensor([0.0, -1.0, 1.0]))
    v = np_of(out)
    assert v[0] == -np.inf and np.isnan(v[1]) and v[2] == 0.0


def test_gelu_bad_approximate():
    with pytest.raises(ValueError, match="gelu.*approximate"):
        ember.gelu(leaf([1.0]), approximate="fast")


def test_unknown_operand_type_raises():
    with pytest.raises(TypeError, match="add"):
        _ = ember.tensor([1.0]) + "a"


# ---------------------------------------------------------------------------- extreme values
def test_sigmoid_extreme_values():
    x = leaf([-1e4, -800.0, 0.0, 800.0, 1e4])
    y = ember.sigmoid(x)
    v = np_of(y)
    assert np.all(np.isfinite(v))
    np.testing.assert_allclose(v, [0.0, 0.0, 0.5, 1.0, 1.0], atol=1e-300)
    (g,) = grad_of(ember.sigmoid, x)
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g, [0.0, 0.0, 0.25, 0.0, 0.0], atol=1e-300)
    x32 = ember.tensor([-1e4, 1e4], requires_grad=True)
    ember.sigmoid(x32).sum().backward()
    assert np.all(np.isfinite(np_of(x32.grad)))


def test_softplus_extreme_values():
    x = leaf([-1e4, -50.0, 0.0, 50.0, 1e4])
    y = ember.softplus(x)
    v = np_of(y)
    assert np.all(np.isfinite(v))
    np.testing.assert_allclose(v, [0.0, math.exp(-50.0), math.log(2.0), 50.0, 1e4], rtol=1e-12,
                               atol=1e-300)
    (g,) = grad_of(ember.softplus, x)
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g, [0.0, _np_sigmoid(-50.0), 0.5, 1.0, 1.0], rtol=1e-12,
                               atol=1e-300)
    # with a large beta the threshold is what keeps it linear
    y2 = ember.softplus(x, beta=10.0, threshold=5.0)
    assert np.all(np.isfinite(np_of(y2)))


@pytest.mark.parametrize("fn", [ember.silu, ember.elu, ember.gelu, ember.tanh,
                                lambda t: ember.gelu(t, approximate="tanh")])
def test_activations_extreme_values_stay_finite(fn):
    x = leaf([-1e4, 1e4])
    v = np_of(fn(x))
    assert np.all(np.isfinite(v))
    np.testing.assert_allclose(np.abs(v[1]), 1e4 if fn is not ember.tanh else 1.0)
    (g,) = grad_of(fn, x)
    assert np.all(np.isfinite(g)), g


def test_exp_overflow_is_inf_not_error():
    v = np_of(ember.exp(leaf([1e4])))
    assert v[0] == np.inf


# ---------------------------------------------------------------------------- clamp
@pytest.mark.parametrize("lo,hi", [(-0.5, 0.7), (None, 0.3), (-0.2, None)])
def test_clamp_scalar_bounds(lo, hi):
    a = away_from(rand((3, 4), 50), [v for v in (lo, hi) if v is not None], 0.05)
    check_op(lambda x: ember.clamp(x, lo, hi), lambda x: np.clip(x, lo, hi), a)
    x = leaf(a)
    (g,) = grad_of(lambda t: t.clamp(min=lo, max=hi), x)
    inside = np.ones_like(a, dtype=bool)
    if lo is not None:
        inside &= a >= lo
    if hi is not None:
        inside &= a <= hi
    np.testing.assert_array_equal(g, inside.astype(np.float64))


def test_clamp_tensor_bounds_broadcast():
    a = rand((3, 4), 51)
    lo, hi = rand((4,), 52, -1.5, -0.2), rand((3, 1), 53, 0.2, 1.5)
    a = away_from(away_from(a, np.unique(lo), 0.02), np.unique(hi), 0.02)
    check_op(lambda x, lo_, hi_: ember.clamp(x, lo_, hi_),
             lambda x, lo_, hi_: np.minimum(np.maximum(x, lo_), hi_), a, lo, hi)
    check_op(lambda x, lo_: ember.clamp(x, min=lo_), lambda x, lo_: np.maximum(x, lo_), a, lo)


def test_clamp_non_contiguous_and_int():
    a = away_from(rand((3, 4), 54), (-0.5, 0.5), 0.05)
    x = noncontig_leaf(a)
    assert_close(x.clamp(-0.5, 0.5), np.clip(a, -0.5, 0.5))
    assert gradcheck(lambda t: t.clamp(-0.5, 0.5), (x,))
    i = ember.tensor([-3, 0, 5])
    out = i.clamp(-1, 2)
    assert out.dtype is ember.int64
    np.testing.assert_array_equal(np_of(out), [-1, 0, 2])
    assert ember.clip(i, 0.5, 2.5).dtype is ember.float32


def test_clamp_without_bounds_raises():
    with pytest.raises(ValueError, match="clamp"):
        ember.clamp(leaf([1.0]))


# ---------------------------------------------------------------------------- maximum/minimum ties
@pytest.mark.parametrize("fn", [ember.maximum, ember.minimum])
def test_maximum_minimum_ties_split_gradient_evenly(fn):
    a, b = leaf([1.0, 2.0, 3.0]), leaf([1.0, 5.0, -1.0])
    ga, gb = grad_of(fn, a, b)
    win_a = [1.0, 0.0, 1.0] if fn is ember.maximum else [0.0, 1.0, 0.0]
    np.testing.assert_array_equal(ga, [0.5] + win_a[1:])
    np.testing.assert_array_equal(gb, [0.5] + [1 - w for w in win_a[1:]])
    # broadcast tie: the scalar b gets half from each tied position
    x, s = leaf([2.0, 2.0, 0.0]), leaf(2.0)
    gx, gs = grad_of(fn, x, s)
    np.testing.assert_array_equal(gx, [0.5, 0.5, 0.0 if fn is ember.maximum else 1.0])
    # ties at 0 and 1 give the scalar 0.5 each; at 2 it wins under maximum, loses under minimum
    assert gs == (2.0 if fn is ember.maximum else 1.0)


def test_max_min_of_two_tensors_is_elementwise():
    a, b = rand((2, 3), 55), rand((2, 3), 56)
    assert_close(ember.max(leaf(a), leaf(b)), np.maximum(a, b))
    assert_close(ember.min(leaf(a), leaf(b)), np.minimum(a, b))


# ---------------------------------------------------------------------------- where
def test_where_forward_gradcheck_broadcast():
    cond = np.random.default_rng(60).random((3, 1, 4)) > 0.5
    a, b = rand((2, 4), 61), rand((4,), 62)
    c = ember.tensor(cond)
    check_op(lambda x, y: ember.where(c, x, y), lambda x, y: np.where(cond, x, y), a, b,
             gradgrad=True)
    # scalar branches
    check_op(lambda x: ember.where(c, x, 0.0), lambda x: np.where(cond, x, 0.0), a)
    check_op(lambda x: ember.where(c, -1.5, x), lambda x: np.where(cond, -1.5, x), a)
    out = ember.where(c, 1.0, 0.0)
    assert_close(out, np.where(cond, 1.0, 0.0))


def test_where_non_contiguous():
    cond = np.random.default_rng(63).random((4, 3)) > 0.5
    a, b = rand((3, 4), 64), rand((3, 4), 65)
    x, y = noncontig_leaf(a), leaf(b)
    c = ember.tensor(cond).T
    assert_close(ember.where(c, x, y), np.where(cond.T, a, b))
    assert gradcheck(lambda s, t: ember.where(c, s, t), (x, y))


def test_where_gradient_masks_unused_branch():
    x = leaf([-1.0, 4.0])
    c = x > 0
    (g,) = grad_of(lambda t: ember.where(c, ember.sqrt(ember.abs(t)), t * 0), x)
    np.testing.assert_allclose(g, [0.0, 0.25])


def test_where_requires_bool_condition():
    with pytest.raises(TypeError, match="where.*bool.*int64"):
        ember.where(ember.tensor([1, 0]), leaf([1.0, 2.0]), leaf([3.0, 4.0]))
    with pytest.raises(ValueError, match=r"where.*\(3,\).*\(2,\)"):
        ember.where(ember.tensor([True, False, True]), leaf([1.0, 2.0]), 0.0)


# ---------------------------------------------------------------------------- errors
def test_add_broadcast_failure_names_op_and_shapes():
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\) and \(4,\) cannot be broadcast"):
        ember.ones(2, 3) + ember.ones(4)
    for op in ("mul", "sub", "div", "maximum", "pow"):
        with pytest.raises(ValueError, match=rf"{op}: shapes \(2, 3\) and \(4,\)"):
            getattr(ember, op)(ember.ones(2, 3), ember.ones(4))


def test_gradcheck_catches_a_wrong_gradient():
    # the harness itself must be able to fail: a Function with a deliberately wrong backward
    from ember.autograd import Function, GradcheckError

    class BadSquare(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * x  # should be 2 g x

    with pytest.raises(GradcheckError, match="mismatch"):
        gradcheck(BadSquare.apply, (leaf([1.0, 2.0]),))
