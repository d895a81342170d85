"""In-place methods: outside the graph they write memory; inside it the tensor takes the
result's place (gradients flow as in PyTorch); leaves that require grad are refused."""

import ember
import numpy as np
import pytest

torch = pytest.importorskip("torch")


def _run(lib, steps):
    x = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64, requires_grad=True)
    h = x * 3
    for name, args in steps:
        getattr(h, name)(*[lib.tensor(a) if isinstance(a, np.ndarray) else a for a in args])
    h.sum().backward()
    return h.detach().numpy(), x.grad.numpy()


@pytest.mark.parametrize("steps", [
    [("mul_", (2.0,)), ("exp_", ())],
    [("masked_fill_", (np.array([True, False, False]), 0.0)), ("add_", (1.0,)), ("tanh_", ())],
    [("clamp_", (-1.0, 1.5)), ("sigmoid_", ())],
    [("pow_", (2.0,)), ("sub_", (np.array([1.0, 2.0, 3.0]),)), ("abs_", ())],
])
def test_inplace_ops_in_a_graph_match_pytorch(steps):
    ours, theirs = _run(ember, steps), _run(torch, steps)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_inplace_outside_the_graph_writes_memory_and_keeps_views():
    x = ember.tensor([[1.0, -2.0], [3.0, -4.0]])
    row = x[0]  # a view
    x.abs_()
    np.testing.assert_array_equal(row.numpy(), [1.0, 2.0])
    x.tril_()
    np.testing.assert_array_equal(x.numpy(), [[1.0, 0.0], [3.0, 4.0]])
    x.fill_diagonal_(9)
    np.testing.assert_array_equal(x.numpy(), [[9.0, 0.0], [3.0, 9.0]])
    idx = ember.tensor([[1, 0]])
    x.scatter_(0, idx, 5.0)
    np.testing.assert_array_equal(x.numpy(), torch.tensor([[9.0, 0.0], [3.0, 9.0]]).scatter_(
        0, torch.tensor([[1, 0]]), 5.0).numpy())


def test_stale_saved_tensors_and_leaves_are_caught():
    x = ember.ones(3, dtype=ember.float64, requires_grad=True)
    h = x * 2
    y = h * h  # saves h
    h.exp_()
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        x.exp_()
    with ember.no_grad():
        x.clamp_(0.0, 0.5)  # the optimizer's way
    np.testing.assert_array_equal(x.detach().numpy(), [0.5, 0.5, 0.5])
    with pytest.raises(RuntimeError, match="exp_: result type ember.float32 can't be cast"):
        ember.tensor([1, 2]).exp_()
