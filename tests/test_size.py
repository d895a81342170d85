"""``ember.Size``: what ``Tensor.shape`` and ``Tensor.size()`` return (``torch.Size``)."""

import ast
import copy
import pickle
from pathlib import Path

import ember
import numpy as np
import pytest


def test_shape_and_size_are_sizes_that_print_like_torch():
    torch = pytest.importorskip("torch")
    x = ember.zeros(2, 3)
    assert type(x.shape) is ember.Size and type(x.size()) is ember.Size
    assert x.size(1) == 3 and type(x.size(1)) is int
    assert repr(x.shape) == str(x.shape) == "ember.Size([2, 3])"
    for shape in [(2, 3), (4,), ()]:
        assert repr(ember.zeros(shape).shape) == repr(torch.zeros(shape).shape).replace(
            "torch", "ember")
    assert type(x.shape).__name__ == "Size" and ember.Size.__module__ == "ember"


def test_in_an_fstring_a_size_reads_as_its_tuple():
    # ember's error messages say "got shape (2, 3)"
    assert f"{ember.zeros(2, 3).shape}" == "(2, 3)" and f"{ember.zeros(4).shape}" == "(4,)"


def test_a_size_is_a_tuple():
    s = ember.zeros(2, 3, 4).shape
    assert isinstance(s, tuple) and s == (2, 3, 4) and (2, 3, 4) == s and s != (2, 3)
    assert hash(s) == hash((2, 3, 4)) and {s: 1}[(2, 3, 4)] == 1
    n, c, w = s
    assert (n, c, w) == (2, 3, 4) and list(s) == [2, 3, 4] and len(s) == 3 and s[-1] == 4
    assert np.zeros(s).shape == (2, 3, 4) and ember.zeros(s).shape == s


def test_sums_and_repeats_of_a_size_are_sizes_and_slices_are_tuples():
    s = ember.Size([2, 3, 4])
    for value, want in [(s + (5,), (2, 3, 4, 5)), ((1,) + s, (1, 2, 3, 4)),
                        (s * 2, (2, 3, 4) * 2), (2 * s, (2, 3, 4) * 2),
                        (s + s, (2, 3, 4, 2, 3, 4))]:
        assert type(value) is ember.Size and value == want
    # (torch gives a Size; ember keeps tuple's C indexing on the ops' hot path)
    assert type(s[1:]) is tuple and s[1:] == (3, 4) and s[::-1] == (4, 3, 2)
    assert type(s[0]) is int
    with pytest.raises(TypeError):
        s + [5]


def test_numel():
    assert ember.Size([2, 3, 4]).numel() == 24 == ember.zeros(2, 3, 4).numel()
    assert ember.Size([]).numel() == 1 and ember.Size([3, 0]).numel() == 0


def test_constructor_takes_an_iterable_of_ints():
    assert ember.Size((2, np.int64(3))) == (2, 3) and ember.Size() == ()
    assert type(ember.Size([2])[0]) is int
    with pytest.raises(TypeError, match=r"Size: expected an iterable of ints, but item 1 is float"):
        ember.Size([2, 2.5])


@pytest.mark.parametrize("clone", [lambda s: pickle.loads(pickle.dumps(s)), copy.deepcopy,
                                   copy.copy])
def test_pickle_and_copy_keep_the_type(clone):
    s = ember.zeros(2, 3).shape
    back = clone(s)
    assert type(back) is ember.Size and back == s
    t = clone(ember.zeros(2, 3))
    assert type(t.shape) is ember.Size and t.shape == (2, 3)


def test_the_shape_follows_a_replaced_array():
    x = ember.zeros(2, 3)
    assert x.shape == (2, 3)
    x.data = ember.zeros(4)
    assert x.shape == (4,)
    layer = ember.nn.Linear(2, 3)
    assert layer.weight.shape == (3, 2)
    layer.double()
    assert layer.weight.shape == (3, 2) and layer.weight.dtype is ember.float64


def _assigns_data(node) -> bool:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    flat = [e for t in targets for e in (t.elts if isinstance(t, ast.Tuple) else [t])]
    return any(isinstance(e, ast.Attribute) and e.attr == "_data" for e in flat)


def test_every_assignment_to_data_resets_the_cached_shape():
    """Whatever replaces a tensor's ``_data`` must reset ``_shape`` in the same or the next
    line (the cached Size would otherwise go stale): a check over the library's source."""
    root = Path(ember.__file__).parent
    bad, seen = [], 0
    for path in root.rglob("*.py"):
        text = path.read_text()
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)) and \
                    _assigns_data(node):
                seen += 1
                if "_shape" not in " ".join(lines[node.lineno - 1:node.end_lineno + 1]):
                    bad.append(f"{path.relative_to(root)}:{node.lineno}")
    assert seen >= 7 and not bad, bad
