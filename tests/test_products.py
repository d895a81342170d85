"""tensordot, inner, kron, cross and cdist beyond the op table (forward against NumPy,
gradcheck, gradgradcheck, PyTorch): the method forms, ``ember.linalg.cross``, PyTorch's
zero gradient at coinciding points in cdist, and the errors."""

import ember
import numpy as np
import pytest


def test_methods_and_the_linalg_namespace():
    a, b = ember.randn(4, 3), ember.randn(4, 3)
    np.testing.assert_allclose(a.cross(b, dim=1).numpy(), np.cross(a.numpy(), b.numpy()),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ember.linalg.cross(a, b).numpy(), a.cross(b, 1).numpy())
    np.testing.assert_allclose(a.inner(b).numpy(), np.inner(a.numpy(), b.numpy()), rtol=1e-5,
                               atol=1e-6)
    assert a.kron(b).shape == (16, 9)
    assert ember.randn(3).ger(ember.randn(2)).shape == (3, 2)


def test_tensordot_takes_a_tensor_for_dims():
    a, b = ember.randn(2, 3), ember.randn(3, 4)
    np.testing.assert_allclose(ember.tensordot(a, b, ember.tensor(1)).numpy(), (a @ b).numpy(),
                               rtol=1e-6)


@pytest.mark.parametrize("mode", ["use_mm_for_euclid_dist_if_necessary",
                                  "donot_use_mm_for_euclid_dist"])
def test_cdist_gradient_is_zero_between_coinciding_points(mode):
    x = ember.tensor([[0.0, 1.0], [2.0, 3.0]], dtype=ember.float64, requires_grad=True)
    ember.cdist(x, x, compute_mode=mode).sum().backward()
    # only the two off-diagonal distances (each sqrt(8)) carry a gradient: d/dx0 = 2 (x0-x1)/8
    np.testing.assert_allclose(x.grad.numpy(), [[-2 ** 0.5, -2 ** 0.5], [2 ** 0.5, 2 ** 0.5]])


@pytest.mark.parametrize("call,err,msg", [
    (lambda: ember.tensordot(ember.ones(2, 3), ember.ones(4, 5), 1), ValueError,
     r"tensordot: contracted dimensions must match, but a \(shape \(2, 3\)\) has size 3 in dim 1"
     r" and b \(shape \(4, 5\)\) has 4 in dim 0"),
    (lambda: ember.tensordot(ember.ones(2, 3), ember.ones(3), 3), ValueError,
     r"tensordot: dims=3 must be in \[0, min\(a.ndim, b.ndim\)\]"),
    (lambda: ember.tensordot(ember.ones(2, 3), ember.ones(3), ([1, 0], [0])), ValueError,
     r"tensordot: 2 dims of a"),
    (lambda: ember.tensordot(ember.ones(2, 3), ember.ones(3), "x"), TypeError,
     r"tensordot: dims must be an int or a pair of lists"),
    (lambda: ember.inner(ember.ones(2, 3), ember.ones(2)), ValueError,
     r"inner: the last dimensions must match, got shapes \(2, 3\) and \(2,\)"),
    (lambda: ember.cross(ember.ones(2, 4), ember.ones(2, 4)), ValueError,
     r"cross: no dimension of size 3 in the broadcast shape \(2, 4\)"),
    (lambda: ember.cross(ember.ones(3, 2), ember.ones(3, 2), dim=1), ValueError,
     r"cross: dimension 1 must have size 3 in both inputs"),
    (lambda: ember.cross(ember.ones(3, 3), ember.ones(1, 3), dim=0), ValueError,
     r"cross: dimension 0 must have size 3 in both inputs"),
    (lambda: ember.cross(ember.ones(2, 3), ember.ones(3)), ValueError,
     r"cross: the inputs must have the same number of dimensions"),
    (lambda: ember.cdist(ember.ones(3, 4), ember.ones(2, 5)), ValueError,
     r"cdist: x1 and x2 must have the same number of columns, got shapes \(3, 4\) and \(2, 5\)"),
    (lambda: ember.cdist(ember.ones(3, 4), ember.ones(2, 4), p=-1), ValueError,
     r"cdist: p must be non-negative, got -1"),
    (lambda: ember.cdist(ember.ones(4), ember.ones(2, 4)), ValueError,
     r"cdist: expected tensors of at least 2 dimensions"),
    (lambda: ember.cdist(ember.ones(3, 4), ember.ones(2, 4), compute_mode="fast"), ValueError,
     r"cdist: compute_mode must be one of"),
    (lambda: ember.cdist(ember.ones(3, 4).long(), ember.ones(2, 4).long()), TypeError,
     r"cdist: expected floating-point tensors, got ember.int64 and ember.int64"),
    (lambda: ember.kron(ember.ones(2), [1, 2]), TypeError, r"kron: expected Tensors, got list"),
])
def test_errors_name_the_op_and_the_shapes(call, err, msg):
    with pytest.raises(err, match=msg):
        call()
