"""The backward engine: accumulation, retain_graph, deep graphs, versions, autograd.grad."""

import gc
import sys

import ember
import numpy as np
import pytest
from ember.autograd import grad


def test_backward_matches_hand_derivative():
    # f(x, y) = sum(x * y + x^2)  ->  df/dx = y + 2x, df/dy = x
    xv, yv = np.array([1.0, -2.0, 3.0]), np.array([0.5, 4.0, -1.0])
    x = ember.tensor(xv, requires_grad=True)
    y = ember.tensor(yv, requires_grad=True)
    (x * y + x ** 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), yv + 2 * xv)
    np.testing.assert_allclose(y.grad.numpy(), xv)


def test_gradients_accumulate_until_zeroed():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 6.0])  # two backward calls add up
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_second_backward_without_retain_graph_is_an_error():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 8.0])


def test_deep_chain_has_no_recursion_limit():
    # ten times deeper than the recursion limit (lowered for the test, so that the chain
    # stays quick to build): a recursive graph walk would raise RecursionError
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(2_000)
    try:
        x = ember.tensor(1.0, dtype=ember.float64, requires_grad=True)
        y = x
        for _ in range(20_000):
            y = y * 1.0
        y.backward()
    finally:
        sys.setrecursionlimit(limit)
    assert x.grad.item() == 1.0


def test_non_scalar_backward_needs_gradient():
    x = ember.ones(3, 2, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match=r"scalar outputs.*\(3, 2\)"):
        y.backward()
    y.backward(ember.ones(3, 2))
    np.testing.assert_allclose(x.grad.numpy(), np.full((3, 2), 2.0))


def test_integer_tensor_cannot_require_grad():
    with pytest.raises(RuntimeError, match="floating-point.*int64"):
        ember.tensor([1, 2, 3], requires_grad=True)


def test_inplace_change_of_saved_tensor_is_detected():
    a = ember.tensor([1.0, 2.0], requires_grad=True)
    b = a.detach()  # shares memory and version counter with a
    y = (a * b).sum()  # Mul saves b
    b.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


def test_inplace_on_leaf_requiring_grad_is_refused():
    w = ember.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        w.add_(1)
    with ember.no_grad():
        w.add_(1)  # the optimizer's way
    np.testing.assert_allclose(w.detach().numpy(), [2.0, 2.0, 2.0])


def test_no_grad_and_detach_cut_the_graph():
    x = ember.ones(2, requires_grad=True)
    with ember.no_grad():
        y = x * 2
    assert not y.requires_grad and y.grad_fn is None
    z = (x * 2).detach()
    assert not z.requires_grad
    with ember.no_grad():
        with ember.enable_grad():
            w = x * 2
    assert w.requires_grad


def test_autograd_grad_returns_without_touching_dot_grad():
    x = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (g,) = grad((x ** 3).sum(), x)
    np.testing.assert_allclose(g.numpy(), 3 * np.array([1.0, 4.0, 9.0]))
    assert x.grad is None


def test_create_graph_gives_second_derivative():
    x = ember.tensor([0.5, -1.0], dtype=ember.float64, requires_grad=True)
    (g,) = grad(x.sin().sum(), x, create_graph=True)  # cos x
    (h,) = grad(g.sum(), x)  # -sin x
    np.testing.assert_allclose(h.numpy(), -np.sin([0.5, -1.0]))


def test_grad_of_unused_input():
    x = ember.ones(2, requires_grad=True)
    y = ember.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="not used"):
        grad((x * 2).sum(), [x, y])
    gx, gy = grad((x * 2).sum(), [x, y], allow_unused=True)
    assert gy is None


def test_retain_grad_on_intermediate():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), 2 * np.array([3.0, 6.0]))


def test_graph_memory_is_freed_after_backward():
    # 1,000 training-style iterations must not grow the number of live tensors/nodes
    w = ember.randn(32, 16, requires_grad=True)
    x = ember.randn(8, 32)

    def step():
        loss = (x @ w).tanh().mean()
        loss.backward()
        with ember.no_grad():
            w.sub_(w.grad * 0.01)
        w.grad = None

    def live():
        gc.collect()
        kinds = (ember.Tensor, ember.autograd.Function)
        return sum(1 for o in gc.get_objects() if issubclass(type(o), kinds))

    for _ in range(10):
        step()
    before = live()
    for _ in range(1000):
        step()
    assert live() <= before


def test_multi_output_function_gets_one_gradient_per_output():
    x = ember.randn(6, 3, dtype=ember.float64, requires_grad=True)
    a, b, c = x.split(2)
    assert a.grad_fn is b.grad_fn is c.grad_fn  # one node, three outputs
    assert (a._output_nr, b._output_nr, c._output_nr) == (0, 1, 2)
    (a * 2 + c * 3).sum().backward()  # b unused: its gradient is materialised as zeros
    expected = np.concatenate([np.full((2, 3), 2.0), np.zeros((2, 3)), np.full((2, 3), 3.0)])
    np.testing.assert_array_equal(x.grad.numpy(), expected)


def test_multi_output_grad_retain_grad_and_gradcheck():
    from ember.autograd import gradcheck, gradgradcheck

    x = ember.randn(4, 2, dtype=ember.float64, requires_grad=True)
    parts = x.unbind(0)
    parts[1].retain_grad()
    (parts[1] * parts[3]).sum().backward(retain_graph=True)
    np.testing.assert_array_equal(parts[1].grad.numpy(), parts[3].detach().numpy())
    g1, g3 = grad((parts[1] ** 2).sum(), [parts[1], x])
    np.testing.assert_allclose(g1.numpy(), 2 * parts[1].detach().numpy())
    assert gradcheck(lambda t: t.chunk(3, 1)[0] * t.chunk(3, 1)[1], (ember.randn(
        2, 6, dtype=ember.float64, requires_grad=True),))
    assert gradgradcheck(lambda t: t.split([1, 3], 0)[1].tanh(), (x,))
