"""Elementwise ops: what the op table (tests/op_table.py) does not cover -- promotion of
ints and bools, integer division, pow's special cases, clamp and where's gradient
rules, extreme values and errors."""

import math

import ember
import numpy as np
import pytest
from ember.autograd import gradcheck
from helpers import assert_close, away_from, grad_of, leaf, noncontig_leaf, np_of, rand
from op_table import OPS_BY_NAME, np_sigmoid


# ---------------------------------------------------------------------------- arithmetic
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


def test_bool_arithmetic_errors():
    t = ember.tensor([True, False])
    with pytest.raises(TypeError, match="neg.*bool"):
        _ = -t
    with pytest.raises(TypeError, match="sub.*bool"):
        _ = t - t


# ---------------------------------------------------------------------------- pow
def test_pow_integer_tensors():
    a = np.array([1, 2, 3, -2])
    out = ember.tensor(a) ** 2
    assert out.dtype is ember.int64
    np.testing.assert_array_equal(np_of(out), a ** 2)
    out = ember.tensor(a) ** 0.5
    assert out.dtype is ember.float32
    assert_close(out[:3], np.sqrt(a[:3]), rtol=1e-6)


def test_pow_integer_to_negative_integer_exponents_as_pytorch():
    # PyTorch truncates an integer power to an integer: 1 ** -k = 1, (-1) ** -k = +-1, any
    # other base ** -k = 0 (found by tests/test_differential.py; ember used to raise). A
    # negative Python int exponent is refused, as in PyTorch.
    out = ember.tensor([1, 2, -1, -1, 0, 3]) ** ember.tensor([-1, -1, -3, -2, -1, 2])
    assert out.dtype is ember.int64
    np.testing.assert_array_equal(np_of(out), [1, 0, -1, 1, 0, 9])
    np.testing.assert_array_equal(np_of(ember.tensor([2, 3]) ** ember.tensor([3, 2])), [8, 9])
    with pytest.raises(ValueError, match=r"pow: integers to negative integer powers"):
        _ = ember.tensor([1, 2]) ** -1


def test_pow_gradient_of_exponent_at_zero_base_is_finite():
    # d(a^b)/db = a^b log a, which tends to 0 as a -> 0+ for b > 0
    a, b = leaf([0.0, 2.0]), leaf([2.0, 3.0])
    (a ** b).sum().backward()
    np.testing.assert_allclose(np_of(b.grad), [0.0, 8.0 * math.log(2.0)])
    np.testing.assert_allclose(np_of(a.grad), [0.0, 12.0])


# ---------------------------------------------------------------------------- unary math
# (forward, gradients and non-contiguous inputs of every op: tests/op_table.py)
@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "sin", "tanh", "sigmoid", "erf"])
def test_unary_on_int_tensor_computes_in_default_float(name):
    fn, ref = OPS_BY_NAME[name].op, OPS_BY_NAME[name].ref
    a = np.array([1, 2, 3])
    out = fn(ember.tensor(a))
    assert out.dtype is ember.float32
    assert_close(out, ref(a.astype(np.float64)), rtol=1e-5)


@pytest.mark.parametrize("name", ["gelu", "silu", "elu", "softplus", "leaky_relu"])
def test_activation_of_int_tensor_raises_as_in_pytorch(name):
    # PyTorch has no integer kernels for these (tests/test_differential.py found ember
    # quietly converting); relu, like PyTorch's, takes ints but not bools
    with pytest.raises(TypeError, match=rf"{name}: expected a floating-point tensor"):
        getattr(ember.nn.functional, name)(ember.tensor([1, 2]))
    assert ember.relu(ember.tensor([-1, 2])).tolist() == [0, 2]
    with pytest.raises(TypeError, match="relu: not defined for bool"):
        ember.relu(ember.tensor([True]))


def test_float32_forward_keeps_dtype():
    a = rand((3,), 43).astype(np.float32)
    for fn, ref in [(ember.exp, np.exp), (ember.tanh, np.tanh), (ember.sigmoid, np_sigmoid)]:
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
    np.testing.assert_allclose(g, [0.0, np_sigmoid(-50.0), 0.5, 1.0, 1.0], rtol=1e-12,
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


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_send_the_gradient_to_both_inputs_at_a_nan(name):
    """A NaN leaves the comparison undecided: PyTorch gives both inputs the gradient."""
    torch = pytest.importorskip("torch")
    a, b = [np.nan, 1.0, 2.0, np.nan, 3.0], [1.0, np.nan, 2.0, np.nan, -1.0]
    ga, gb = grad_of(getattr(ember, name), leaf(a), leaf(b))
    ta, tb = (torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in (a, b))
    getattr(torch, name)(ta, tb).sum().backward()
    np.testing.assert_array_equal(ga, ta.grad.numpy())
    np.testing.assert_array_equal(gb, tb.grad.numpy())
    assert ga[0] == gb[0] == 1.0


def test_max_min_of_two_tensors_is_elementwise():
    a, b = rand((2, 3), 55), rand((2, 3), 56)
    assert_close(ember.max(leaf(a), leaf(b)), np.maximum(a, b))
    assert_close(ember.min(leaf(a), leaf(b)), np.minimum(a, b))


# ---------------------------------------------------------------------------- where
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
