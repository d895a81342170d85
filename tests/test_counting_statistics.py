"""unique, bincount, median/kthvalue, nansum/nanmean, atan2/hypot, repeat_interleave beyond
the op table (forward against NumPy, gradcheck, gradgradcheck, PyTorch): NaN handling,
gradients the table cannot take (bincount's weights), methods, and the errors."""

import ember
import numpy as np
import pytest
from ember.autograd import gradcheck, gradgradcheck

nan = float("nan")


def test_unique_keeps_each_nan_apart_as_torch():
    torch = pytest.importorskip("torch")
    x = [3.0, 1.0, nan, 1.0, nan, 2.0]
    got = ember.unique(ember.tensor(x), return_inverse=True, return_counts=True)
    want = torch.unique(torch.tensor(x), return_inverse=True, return_counts=True)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g.numpy(), w.numpy())


def test_median_of_a_row_with_nan_is_nan_at_the_first_nan():
    x = ember.tensor([[1.0, nan, 0.0, nan], [4.0, 2.0, 3.0, 1.0]])
    values, indices = x.median(dim=1)
    np.testing.assert_array_equal(values.numpy(), [nan, 2.0])
    np.testing.assert_array_equal(indices.numpy(), [1, 1])
    assert np.isnan(ember.median(x).item())


def test_median_and_kthvalue_send_the_gradient_to_the_selected_element():
    x = ember.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]], requires_grad=True)
    x.median(1).values.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0, 1], [0, 0, 1]])
    x.grad = None
    x.kthvalue(1, dim=0).values.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 1, 1], [1, 0, 0]])


def test_bincount_weights_get_the_gradient_of_their_bin():
    idx = ember.tensor([0, 2, 2, 4])
    w = ember.tensor([0.5, -1.0, 2.0, 3.0], dtype=ember.float64, requires_grad=True)
    assert gradcheck(lambda w: ember.bincount(idx, w, minlength=6), (w,))
    assert gradgradcheck(lambda w: ember.bincount(idx, w) ** 2, (w,))


def test_nansum_gives_nan_entries_no_gradient():
    x = ember.tensor([1.0, nan, 2.0], requires_grad=True)
    ember.nansum(x).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 0.0, 1.0])


def test_hypot_and_atan2_on_extremes_and_signed_zeros():
    big = ember.tensor([1e200, 3.0, float("inf")], dtype=ember.float64)
    np.testing.assert_allclose(ember.hypot(big, big).numpy(), np.hypot(big.numpy(), big.numpy()))
    y, x = ember.tensor([0.0, 0.0, -0.0]), ember.tensor([0.0, -1.0, -1.0])
    np.testing.assert_array_equal(ember.atan2(y, x).numpy(), np.arctan2(y.numpy(), x.numpy()))
    a, b = (ember.zeros(1, requires_grad=True) for _ in range(2))
    ember.atan2(a, b).sum().backward()
    assert a.grad.item() == 0.0 and b.grad.item() == 0.0  # PyTorch's 0 at the origin


def test_methods():
    x = ember.tensor([[3, 1], [3, 1], [0, 2]])
    assert x.unique().tolist() == [0, 1, 2, 3] and x.count_nonzero().item() == 5
    assert x.unique_consecutive(dim=0).tolist() == [[3, 1], [0, 2]]
    assert x.argwhere().shape == (5, 2) and x[:, 0].bincount().tolist() == [1, 0, 0, 2]
    f = ember.tensor([[1.0, nan], [2.0, 4.0]])
    assert f.nansum().item() == 7.0 and f.nanmean(1).tolist() == [1.0, 3.0]
    assert f.atan2(f).shape == f.hypot(f).shape == (2, 2)


@pytest.mark.parametrize("call,err,msg", [
    (lambda: ember.bincount(ember.tensor([[0, 1]])), ValueError,
     r"bincount: expected a 1-D int64 tensor, got ember.int64 of shape \(1, 2\)"),
    (lambda: ember.bincount(ember.tensor([0.0, 1.0])), ValueError,
     r"bincount: expected a 1-D int64 tensor, got ember.float32"),
    (lambda: ember.bincount(ember.tensor([0, -1])), ValueError,
     r"bincount: the input must be non-negative, got a value -1"),
    (lambda: ember.bincount(ember.tensor([0, 1]), ember.ones(3)), ValueError,
     r"bincount: weights must be a tensor of the input's shape \(2,\)"),
    (lambda: ember.bincount(ember.tensor([0, 1]), minlength=-1), ValueError,
     r"bincount: minlength must be a non-negative int"),
    (lambda: ember.kthvalue(ember.ones(2, 3), 4, dim=1), ValueError,
     r"kthvalue: k must be an int in \[1, 3\] \(the size of dimension 1 of a tensor of shape "
     r"\(2, 3\)\), got 4"),
    (lambda: ember.median(ember.ones(0)), ValueError,
     r"median: the input \(shape \(0,\)\) is empty"),
    (lambda: ember.median(ember.ones(2, 0), dim=1), ValueError,
     r"median: dimension 1 of the input \(shape \(2, 0\)\) is empty"),
    (lambda: ember.nanmean(ember.tensor([1, 2])), TypeError,
     r"nanmean: expected a floating-point tensor"),
    (lambda: ember.unique(ember.ones(2, 3), dim=2), IndexError, r"unique: dimension 2 is out"),
    (lambda: ember.repeat_interleave(ember.ones(2, 2), ember.tensor([1, 2, 3]), dim=0),
     RuntimeError, r"repeat_interleave: expected one repeat count or 2 \(the size of dim 0\)"),
    (lambda: ember.repeat_interleave(ember.ones(2), 2, output_size=3), RuntimeError,
     r"repeat_interleave: output_size=3 but the repeats add up to 4"),
    (lambda: ember.atan2(ember.ones(2), ember.ones(3)), ValueError, r"atan2: shapes"),
])
def test_errors(call, err, msg):
    with pytest.raises(err, match=msg):
        call()
