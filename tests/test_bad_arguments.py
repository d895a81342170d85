"""Invalid arguments raise ValueError/TypeError/RuntimeError naming the op and the value --
never ZeroDivisionError, AttributeError, RecursionError or a bare MemoryError -- and a
failed load_state_dict changes nothing."""

import ember
import ember.nn.functional as F
import numpy as np
import pytest

BAD = {
    "randperm(-3)": (lambda: ember.randperm(-3), ValueError, r"randperm: .*-3"),
    "pad past the size": (lambda: F.pad(ember.ones(2, 3), (-4, 0)), ValueError,
                          r"pad: dimension 1 of size 3 padded by \(-4, 0\)"),
    "sum over a repeated dim": (lambda: ember.ones(2, 3).sum((0, 0)), ValueError,
                                r"sum: dim \(0, 0\) names a dimension more than once"),
    "mean over 1 and -1": (lambda: ember.ones(2, 3).mean((1, -1)), ValueError,
                           r"mean: dim \(1, -1\)"),
    "Conv2d kernel_size=0": (lambda: ember.nn.Conv2d(1, 1, 0), ValueError,
                             r"Conv2d: kernel_size must be positive, got \(0, 0\)"),
    "Conv1d stride=0": (lambda: ember.nn.Conv1d(1, 1, 3, stride=0), ValueError,
                        r"Conv1d: stride must be positive"),
    "max_pool2d kernel_size=0": (lambda: F.max_pool2d(ember.ones(1, 1, 4, 4), 0), ValueError,
                                 r"max_pool2d: kernel_size must be positive, got 0"),
    "stack of a list": (lambda: ember.stack([ember.ones(2), [1.0, 2.0]]), TypeError,
                        r"stack: element 1 is a list"),
    "stack of ints": (lambda: ember.stack([1, 2]), TypeError, r"stack: element 0 is a int"),
    "a list as a state dict": (lambda: ember.nn.Linear(2, 2).load_state_dict([1, 2]),
                               TypeError, r"load_state_dict: expected a dict.*got a list"),
    "an absurd size": (lambda: ember.zeros(10**6, 10**6), RuntimeError,
                       r"zeros: cannot allocate a tensor of shape \(1000000, 1000000\)"),
    "a size past 2**64 bytes": (lambda: ember.rand(2**40, 2**30), RuntimeError,
                                r"rand: cannot allocate"),
    "a list that contains itself": (lambda: ember.tensor((lambda l: l.append(l) or l)([])),
                                    ValueError, r"tensor: the data nests too deeply"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_invalid_arguments_raise_a_clear_error(case):
    fn, kind, pattern = BAD[case]
    with pytest.raises(kind, match=pattern):
        fn()


def test_pad_may_crop_to_an_empty_dimension_as_pytorch():
    assert F.pad(ember.ones(2, 3), (-3, 0)).shape == (2, 0)
    assert F.pad(ember.ones(2, 3), (-1, -2)).shape == (2, 0)


def test_failed_load_state_dict_changes_nothing():
    model = ember.nn.Sequential(ember.nn.Linear(3, 4), ember.nn.BatchNorm1d(4),
                                ember.nn.Linear(4, 2))
    before = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    good = {k: ember.randn(*v.shape) if v.dtype.is_floating_point else v
            for k, v in model.state_dict().items()}
    for broken in (
        {**good, "2.weight": ember.randn(3, 3)},        # a shape mismatch in the last layer
        {**good, "2.bias": "not a tensor"},             # an unconvertible value, last
        {**good, "unexpected": ember.ones(1)},          # strict: an unexpected key
        {k: v for k, v in good.items() if k != "2.bias"},  # strict: a missing key
    ):
        with pytest.raises(RuntimeError, match="Error\\(s\\) in loading state_dict"):
            model.load_state_dict(broken)
        for k, v in model.state_dict().items():
            np.testing.assert_array_equal(v.detach().numpy(), before[k], err_msg=k)
    model.load_state_dict(good)  # and a good one loads
    np.testing.assert_array_equal(model[2].bias.detach().numpy(), good["2.bias"].numpy())
