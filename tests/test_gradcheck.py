"""gradcheck itself: it must pass on correct gradients and *fail* on wrong ones."""

import ember
import numpy as np
import pytest
from ember.autograd import Function, GradcheckError, gradcheck, gradgradcheck


class WrongSquare(Function):
    # y = x^2 with a deliberately wrong backward (3x instead of 2x)
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x


class RightSquare(Function):
    # y = x^2  ->  dx = 2 x g
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 2 * x


class CubeWithWrongSecondDerivative(Function):
    # y = x^3; the first derivative 3x^2 is right numerically, but it is computed from a
    # detached x, so its own derivative (6x) is lost: gradgradcheck must notice.
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x.detach() ** 2


def x64(*shape):
    return ember.randn(*shape, dtype=ember.float64, requires_grad=True)


def test_passes_on_a_correct_custom_function():
    assert gradcheck(RightSquare.apply, (x64(4),))


def test_fails_on_a_wrong_backward_and_names_input_and_element():
    x = x64(2, 3)
    with pytest.raises(GradcheckError) as err:
        gradcheck(WrongSquare.apply, (x,))
    msg = str(err.value)
    assert "input 0" in msg and "output 0" in msg
    assert "analytical" in msg and "numerical" in msg
    # the reported element's numbers are 3x and 2x of the same x
    assert "d in[" in msg


def test_raise_exception_false_returns_false():
    assert gradcheck(WrongSquare.apply, (x64(3),), raise_exception=False) is False


def test_detects_wrong_gradient_of_second_input_only():
    class WrongSecond(Function):
        # z = a * b, with db deliberately off by a factor 2
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            return g * b, g * a * 2

    with pytest.raises(GradcheckError, match="input 1"):
        gradcheck(WrongSecond.apply, (x64(3), x64(3)))


def test_several_outputs():
    x = x64(3)
    assert gradcheck(lambda a: (a.exp(), a.sin().sum()), (x,))
    with pytest.raises(GradcheckError, match="output 1"):
        gradcheck(lambda a: (a.exp(), WrongSquare.apply(a)), (x,))


def test_non_tensor_and_non_grad_inputs_are_passed_through():
    x = x64(3)
    w = ember.randn(3, dtype=ember.float64)  # no grad: not checked
    assert gradcheck(lambda a, b, k: (a * b) ** k, (x, w, 2))


def test_float32_inputs_are_refused():
    with pytest.raises(ValueError, match="float64"):
        gradcheck(lambda a: a * 2, (ember.randn(3, requires_grad=True),))


def test_gradgradcheck_passes_and_catches_wrong_second_derivative():
    assert gradgradcheck(RightSquare.apply, (x64(3),))
    assert gradcheck(CubeWithWrongSecondDerivative.apply, (x64(3),))  # first order is fine
    with pytest.raises(GradcheckError):
        gradgradcheck(CubeWithWrongSecondDerivative.apply, (x64(3),))


def test_custom_function_gradient_used_by_backward():
    x = ember.tensor(np.array([1.0, 2.0]), requires_grad=True)
    RightSquare.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])
