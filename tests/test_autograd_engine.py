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


def test_topological_order_puts_each_node_before_its_inputs():
    from ember.autograd.engine import topological_order

    x = ember.tensor([1.0, 2.0], requires_grad=True)
    a = x * 2
    b = a.exp()
    c = a.sin()
    out = (b + c).sum()  # a diamond: a feeds b and c
    order = topological_order([out.grad_fn])
    pos = {id(fn): i for i, fn in enumerate(order)}
    assert len(order) == 5  # sum, add, exp, sin, mul
    for fn in order:
        for parent, _ in fn.next_functions:
            if isinstance(parent, ember.autograd.Function):
                assert pos[id(fn)] < pos[id(parent)], (fn, parent)


def test_next_functions_are_node_and_output_index_pairs_as_in_pytorch():
    x = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
    parts = x.split(1)  # one node, three outputs
    y = parts[2] * ember.tensor([2.0])
    (node, nr), (const, _) = y.grad_fn.next_functions
    assert node is parts[2].grad_fn and nr == 2
    assert const is None  # the constant needs no gradient
    sink, _ = node.next_functions[0]  # (ember also lists non-tensor arguments, as (None, 0))
    assert type(sink).__name__ == "AccumulateGrad" and sink.leaf is x


def test_tensor_hooks_see_and_replace_gradients():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    h = x * 3
    handle = h.register_hook(lambda g: seen.append(g.numpy().copy()) or g * 10)
    x.register_hook(lambda g: g + 1)  # a leaf's hook: before .grad is written
    (h * h).sum().backward()
    np.testing.assert_allclose(seen[0], [6.0, 12.0])  # d(h^2)/dh = 2h
    np.testing.assert_allclose(x.grad.numpy(), [6.0 * 10 * 3 + 1, 12.0 * 10 * 3 + 1])
    handle.remove()
    x.grad = None
    h2 = x * 3
    (h2 * h2).sum().backward()  # the removed hook is gone; the new node has none anyway
    np.testing.assert_allclose(x.grad.numpy(), [18.0 + 1, 36.0 + 1])
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        ember.tensor([1.0]).register_hook(lambda g: g)


def test_hooks_and_retain_grad_with_autograd_grad():
    x = ember.tensor([1.0, -1.0], requires_grad=True)
    y = x.exp()
    y.retain_grad()
    assert y.retains_grad and not x.retains_grad
    y.register_hook(lambda g: g * 2)
    (gx,) = grad(y.sum(), x)
    np.testing.assert_allclose(gx.numpy(), 2 * np.exp([1.0, -1.0]))
    np.testing.assert_allclose(y.grad.numpy(), [2.0, 2.0])  # after the hook, as PyTorch


def test_backward_casts_the_given_gradient_to_the_output_dtype():
    x = ember.tensor([1.0, 2.0], dtype=ember.float32, requires_grad=True)
    y = x * 2
    y.backward(ember.tensor([1.0, 1.0], dtype=ember.float64))
    assert x.grad.dtype is ember.float32
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])


def test_new_factories_take_dtype_and_device_from_the_tensor():
    x = ember.tensor([1.0], dtype=ember.float64)
    z = x.new_zeros(2, 3)
    assert z.shape == (2, 3) and z.dtype is ember.float64 and not z.numpy().any()
    assert x.new_ones((2,)).numpy().tolist() == [1.0, 1.0]
    assert x.new_full((2,), 7, dtype=ember.int64).numpy().tolist() == [7, 7]
    assert x.new_tensor([1, 2]).dtype is ember.float64
    assert x.new_empty(4, requires_grad=True).requires_grad


def test_once_differentiable_gives_first_derivatives_and_refuses_second():
    from ember.autograd import Function, once_differentiable

    class Cube(Function):
        higher_order_hint = "Write it as x * x * x."

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return ctx.backend.mul(ctx.backend.mul(x, x), x)

        @staticmethod
        @once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            assert not ember.is_grad_enabled()  # it runs outside the graph
            return g * 3 * x * x

    x = ember.tensor([2.0], dtype=ember.float64, requires_grad=True)
    (g,) = grad(Cube.apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), [12.0])
    assert g.requires_grad
    with pytest.raises(RuntimeError, match=r"CubeBackward: .*first derivatives only.*x \* x"):
        g.backward()
    x.grad = None
    Cube.apply(x).sum().backward()  # without create_graph nothing changes
    np.testing.assert_allclose(x.grad.numpy(), [12.0])


def test_max_pool_indices_are_a_second_output_without_gradient():
    x = ember.randn(1, 1, 4, 4, dtype=ember.float64, requires_grad=True)
    y, idx = ember.nn.functional.max_pool2d(x, 2, return_indices=True)
    assert idx.dtype is ember.int64 and not idx.requires_grad
    assert y.grad_fn is not None and idx.grad_fn is None
    y.sum().backward()
    assert x.grad.numpy().sum() == 4.0  # one 1 per window, at the max
    flat = x.detach().numpy().reshape(-1)
    np.testing.assert_array_equal(flat[idx.numpy().reshape(-1)], y.detach().numpy().reshape(-1))
