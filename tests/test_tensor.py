"""Tensor creation, dtypes, properties, NumPy interop and repr."""

import ember
import numpy as np
import pytest


@pytest.mark.parametrize(
    "data, dtype",
    [
        (1.5, ember.float32),
        ([1.0, 2.0], ember.float32),
        (3, ember.int64),
        ([[1, 2], [3, 4]], ember.int64),
        (True, ember.bool),
        (np.array([1.0, 2.0]), ember.float64),  # NumPy arrays keep their dtype
        (np.array([1, 2], dtype=np.int32), ember.int64),
        (np.array([1.0], dtype=np.float32), ember.float32),
    ],
)
def test_tensor_infers_dtype(data, dtype):
    t = ember.tensor(data)
    assert t.dtype is dtype
    np.testing.assert_array_equal(t.numpy(), np.asarray(data))


def test_tensor_copies_but_from_numpy_shares():
    a = np.zeros(3)
    t = ember.tensor(a)
    s = ember.from_numpy(a)
    a[0] = 5.0
    assert t[0].item() == 0.0
    assert s[0].item() == 5.0


def test_unsupported_data_is_a_clear_error():
    with pytest.raises(TypeError, match="unsupported NumPy dtype complex128: ember has float32"):
        ember.tensor(np.array([1 + 2j]))
    with pytest.raises(TypeError, match="ragged|non-numeric"):
        ember.tensor(["a", None])


def test_factories_shapes_and_values():
    assert ember.zeros(2, 3).shape == (2, 3)
    assert ember.ones((4,)).numpy().sum() == 4
    assert ember.full((2, 2), 7).dtype is ember.int64
    assert ember.full((2, 2), 7.0).dtype is ember.float32
    np.testing.assert_array_equal(ember.arange(5).numpy(), np.arange(5))
    assert ember.arange(5).dtype is ember.int64
    np.testing.assert_allclose(ember.arange(0, 1, 0.25).numpy(), [0, 0.25, 0.5, 0.75])
    np.testing.assert_allclose(ember.linspace(0, 1, 5).numpy(), np.linspace(0, 1, 5))
    np.testing.assert_array_equal(ember.eye(3).numpy(), np.eye(3))
    np.testing.assert_array_equal(ember.eye(2, 3).numpy(), np.eye(2, 3))
    x = ember.randn(3, 2, dtype=ember.float64)
    for like, value in [(ember.zeros_like, 0), (ember.ones_like, 1)]:
        y = like(x)
        assert y.shape == x.shape and y.dtype is ember.float64 and (y.numpy() == value).all()
    assert ember.full_like(x, 3.0).numpy().mean() == 3.0
    assert ember.rand_like(x).shape == (3, 2)
    assert ember.randn_like(x).dtype is ember.float64


def test_random_distributions_look_right():
    u = ember.rand(20000).numpy()
    assert 0 <= u.min() and u.max() < 1 and abs(u.mean() - 0.5) < 0.01
    n = ember.randn(20000).numpy()
    assert abs(n.mean()) < 0.03 and abs(n.std() - 1) < 0.03
    r = ember.randint(3, 7, (10000,)).numpy()
    assert r.min() == 3 and r.max() == 6 and r.dtype == np.int64
    p = ember.randperm(10).numpy()
    assert sorted(p.tolist()) == list(range(10))


def test_manual_seed_makes_randomness_reproducible():
    ember.manual_seed(42)
    a = [ember.rand(3).numpy(), ember.randn(2).numpy(), ember.randint(0, 100, (4,)).numpy()]
    ember.manual_seed(42)
    b = [ember.rand(3).numpy(), ember.randn(2).numpy(), ember.randint(0, 100, (4,)).numpy()]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    ember.manual_seed(43)
    assert not np.array_equal(ember.rand(3).numpy(), a[0])


def test_generator_objects_are_independent():
    g1, g2 = ember.Generator(7), ember.Generator(7)
    np.testing.assert_array_equal(ember.rand(4, generator=g1).numpy(),
                                  ember.rand(4, generator=g2).numpy())


def test_properties():
    x = ember.randn(2, 3, 4)
    assert x.shape == (2, 3, 4) and x.ndim == 3 and x.dim() == 3
    assert x.size() == (2, 3, 4) and x.size(1) == 3 and x.numel() == 24
    assert x.dtype is ember.float32 and x.device == ember.device("cpu")
    assert x.is_leaf and not x.requires_grad and x.grad is None and x.grad_fn is None
    y = x.requires_grad_() * 2
    assert not y.is_leaf and y.grad_fn is not None and y.requires_grad
    assert len(x) == 2 and [t.shape for t in x] == [(3, 4), (3, 4)]


def test_numpy_interop():
    x = ember.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert isinstance(x.numpy(), np.ndarray)
    np.testing.assert_array_equal(np.asarray(x), [[1, 2], [3, 4]])
    assert np.asarray(x, dtype=np.float64).dtype == np.float64
    r = np.ones(2) + ember.tensor([1.0, 2.0])  # NumPy defers to the Tensor
    assert isinstance(r, ember.Tensor)
    w = ember.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        w.numpy()
    np.testing.assert_array_equal(w.detach().numpy(), [1, 1])


def test_item_and_python_conversions():
    assert ember.tensor([[2.5]]).item() == 2.5
    assert isinstance(ember.tensor(3).item(), int)
    assert float(ember.tensor(1.5)) == 1.5 and int(ember.tensor(7)) == 7
    with pytest.raises(ValueError, match=r"one-element.*\(2,\)"):
        ember.tensor([1.0, 2.0]).item()
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(ember.tensor([1.0, 2.0]))
    assert ember.tensor([1, 2, 3]).tolist() == [1, 2, 3]


def test_repr_is_readable():
    assert repr(ember.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(ember.tensor([1, 2])) == "tensor([1, 2])"
    assert "dtype=ember.float64" in repr(ember.tensor([1.0], dtype=ember.float64))
    assert "requires_grad=True" in repr(ember.ones(2, requires_grad=True))
    assert "grad_fn=<MulBackward>" in repr(ember.ones(2, requires_grad=True) * 2)


def test_to_and_casts():
    x = ember.tensor([1.7, -2.2])
    assert x.to(ember.float64).dtype is ember.float64
    assert x.double().dtype is ember.float64 and x.long().tolist() == [1, -2]
    assert x.to("float64").dtype is ember.float64
    assert x.to("cpu") is x
    assert x.bool().tolist() == [True, True]
    assert x.to(ember.zeros(1, dtype=ember.float64)).dtype is ember.float64


def test_cuda_is_reported_unavailable_without_a_gpu():
    if ember.cuda.is_available():
        pytest.skip("a GPU is present")
    assert ember.cuda.device_count() == 0
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        ember.ones(2).to("cuda")


def test_device_parsing():
    assert str(ember.device("cuda:1")) == "cuda:1"
    assert ember.device("cuda") == ember.device("cuda", 0)
    with pytest.raises(ValueError, match="unknown device type"):
        ember.device("tpu")


def test_inplace_ops_outside_the_graph():
    x = ember.zeros(3)
    x += 1
    x.mul_(3).sub_(ember.tensor([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(x.numpy(), [2, 1, 0])
    x.fill_(5).clamp_(max=4)
    np.testing.assert_allclose(x.numpy(), [4, 4, 4])
    x.zero_()
    assert x.numpy().sum() == 0
    x.copy_(ember.tensor([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(x.numpy(), [1, 2, 3])
    with pytest.raises(ValueError, match="copy_"):
        x.copy_(ember.ones(4))


def test_augmented_assignment_inside_the_graph_becomes_out_of_place():
    w = ember.ones(2, requires_grad=True)
    y = w * 2
    y += w  # recorded as y = y + w
    y.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [3.0, 3.0])


def test_default_dtype_switch():
    ember.set_default_dtype(ember.float64)
    try:
        assert ember.tensor(1.5).dtype is ember.float64
        assert ember.zeros(2).dtype is ember.float64
    finally:
        ember.set_default_dtype(ember.float32)
    assert ember.zeros(2).dtype is ember.float32
