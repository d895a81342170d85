"""The indexing planner (ember/backend/indexing.py) on the CPU, against NumPy's own indexing.

The planner turns ``x[index]`` into a strided view or a gather/put plan over x's flat
memory; the CUDA backend executes the plans with its kernels. Here ``run_gather`` /
``run_put`` execute them with NumPy -- the plain reference of those kernels -- and every
result must equal NumPy's ``x[index]`` (and ``x[index] = v``, ``np.add.at``) for many index
forms, on contiguous, transposed, reversed and strided views of a buffer.
"""

from __future__ import annotations

import numpy as np
import pytest
from ember.backend.indexing import ArrayAccess, IndexPlan, plan_index
from numpy.lib.stride_tricks import as_strided


class Dev:
    """Stands in for a device array: the planner may read its shape, dtype and strides (via
    the access) but must go through ``to_numpy`` / ``index_array`` for anything else."""

    def __init__(self, a: np.ndarray) -> None:
        self.a = a
        self.shape, self.dtype = a.shape, a.dtype

    def __repr__(self) -> str:
        return f"Dev({self.a.tolist()})"


def _index_array(a):
    if isinstance(a, Dev):
        return a if a.dtype == np.int64 else Dev(a.a.astype(np.int64))
    return Dev(np.asarray(a, dtype=np.int64))


ACCESS = ArrayAccess(is_array=lambda o: isinstance(o, Dev), to_numpy=lambda d: d.a,
                     index_array=_index_array,
                     strides=lambda d: tuple(s // d.a.itemsize for s in d.a.strides))


def _host(index):
    """The same index with the stand-in device arrays as NumPy arrays (for the reference)."""
    items = index if isinstance(index, tuple) else (index,)
    out = tuple(it.a if isinstance(it, Dev) else it for it in items)
    return out if isinstance(index, tuple) else out[0]


def _plan(buf: np.ndarray, x: np.ndarray, index) -> IndexPlan:
    item = buf.itemsize
    offset = (x.__array_interface__["data"][0] - buf.__array_interface__["data"][0]) // item
    return plan_index(x.shape, [s // item for s in x.strides], offset, index, ACCESS)


def _addresses(plan: IndexPlan) -> np.ndarray:
    """The memory address of every result element (the module doc's formula)."""
    pos = np.full(plan.shape, plan.offset, dtype=np.int64)
    for d, (n, st) in enumerate(zip(plan.shape, plan.strides)):
        pos += np.arange(n).reshape([-1 if e == d else 1 for e in range(len(plan.shape))]) * st
    for arr, ist, tst, n in zip(plan.index, plan.index_strides, plan.target_strides,
                                plan.target_sizes):
        k = as_strided(arr.a, plan.shape, [s * arr.a.itemsize for s in ist])
        if k.size and ((k < -n) | (k >= n)).any():
            raise IndexError(f"index out of bounds for a dimension of size {n}")
        pos += np.where(k < 0, k + n, k) * tst
    return pos


def run_gather(buf: np.ndarray, plan: IndexPlan) -> np.ndarray:
    if plan.is_view:
        return as_strided(buf[plan.offset:], plan.shape,
                          [s * buf.itemsize for s in plan.strides])
    return buf[_addresses(plan)]


def run_put(buf: np.ndarray, plan: IndexPlan, values, accumulate: bool = False) -> None:
    pos = _addresses(plan)  # a view's addresses are the same formula without index arrays
    values = np.broadcast_to(values, plan.shape)
    if accumulate:
        np.add.at(buf, pos, values)
    else:
        buf[pos] = values


def _views():
    """(name, buffer, x): x a view of shape (4, 5, 6) into a larger flat buffer."""
    buf = np.arange(600, dtype=np.float64)
    yield "contiguous", buf, buf[10:130].reshape(4, 5, 6)
    yield "transposed", buf, buf[:120].reshape(6, 5, 4).transpose(2, 1, 0)
    yield "reversed", buf, buf[:120].reshape(4, 5, 6)[::-1, :, ::-1]
    yield "strided", buf, buf[:480].reshape(8, 5, 12)[1::2, :, ::2]


VIEWS = list(_views())

BASIC = [
    2, -1, (1, 2), (-1, -2, -3), (3, 4, 5),
    slice(None), slice(1, 3), slice(None, None, 2), slice(None, None, -1),
    (slice(3, 0, -2), slice(None, None, -3)), slice(10, 20), slice(3, 1), slice(-2, None),
    None, (None, 1), (Ellipsis, 0), (0, Ellipsis, None), (Ellipsis,), (),
    (slice(1, 3), None, -1, Ellipsis), (None, None, slice(None, None, -2), 0, None),
]

MASK_1D = np.array([True, False, True, True])
MASK_2D = np.arange(20).reshape(4, 5) % 3 == 0
ADVANCED = [
    [0, 2], [[0, 1], [2, 3]], np.array([-1, 0, -4]), [], np.array([3]),
    ([0, 1], [1, 2]),                            # adjacent: in place
    (slice(None), [0, 4], [5, 0]),               # adjacent in the middle
    ([0, 1], slice(None), [1, 2]),               # separated by a slice: index dims go first
    (slice(1, 3), [1], [[0], [2]]),              # broadcast (2, 1) with (1,)
    ([[0], [2]], [1, 3, 4]),                     # broadcast (2, 1) with (3,) -> (2, 3)
    (slice(None), [[0], [4]], [[1, 3, 5]]),      # (2, 1) with (1, 3)
    (0, slice(None), [1, 2]),                    # an int among arrays is a 0-d index array
    ([1, 2], 0),                                 # ... adjacent: stays in place
    (None, [0, 1], slice(None), [1, 2]),         # None separates too
    (Ellipsis, [0, -1]), (Ellipsis, [[0], [4]], slice(None, None, -2)),
    ([], slice(None)), (slice(None), [], [0]),
    (np.array([[3, 2], [1, 0]]), slice(None, None, -1), 2),
    MASK_1D, MASK_2D, (MASK_1D, slice(1, 4)), (slice(None), np.array([True] * 5)),
    (MASK_2D, [0, 5, 1, 2, 3, 4, 0][:int(MASK_2D.sum())]),
    (MASK_1D, slice(None), [0, 1, 2]),
    np.zeros((4, 5, 6), dtype=bool), np.arange(120).reshape(4, 5, 6) % 7 == 1,
    [True, False, False, True],                  # a bool list is a mask too
]

DEVICE = [  # the same forms given as (stand-in) device arrays, incl. non-contiguous ones
    Dev(np.array([0, 2])), (Dev(np.array([0, 1])), slice(None), Dev(np.array([1, 2]))),
    Dev(MASK_1D), (slice(None), Dev(np.arange(5)[::2])), Dev(np.array([[1], [3]], np.int32)),
    (Dev(np.array([[0, 9, 1, 9], [2, 9, 3, 9]])[:, ::2]), Dev(np.array([4, 0]))),
]


def _ids(cases):
    return [repr(c).replace(" ", "")[:60] for c in cases]


@pytest.mark.parametrize("view", VIEWS, ids=[v[0] for v in VIEWS])
@pytest.mark.parametrize("index", BASIC, ids=_ids(BASIC))
def test_basic_index_is_a_view_equal_to_numpys(view, index):
    _, buf, x = view
    plan = _plan(buf, x, index)
    ref = x[index]
    assert plan.is_view and plan.shape == ref.shape
    np.testing.assert_array_equal(run_gather(buf, plan), ref)
    if ref.size > 1:  # the same memory as NumPy's own view
        assert np.shares_memory(run_gather(buf, plan), ref)


@pytest.mark.parametrize("view", VIEWS, ids=[v[0] for v in VIEWS])
@pytest.mark.parametrize("index", ADVANCED + DEVICE, ids=_ids(ADVANCED + DEVICE))
def test_advanced_index_gathers_what_numpy_returns(view, index):
    _, buf, x = view
    plan = _plan(buf, x, index)
    ref = x[_host(index)]
    assert not plan.is_view and plan.shape == ref.shape
    assert all(a.dtype == np.int64 for a in plan.index)
    np.testing.assert_array_equal(run_gather(buf, plan), ref)


@pytest.mark.parametrize("index", [
    (1, slice(None, None, -2)), (Ellipsis, 3), [3, 0], ([0, 1], slice(None), [1, 2]),
    (slice(1, 3), [1], [[0], [2]]), MASK_2D, (MASK_1D, slice(1, 4)),
], ids=repr)
@pytest.mark.parametrize("view", VIEWS, ids=[v[0] for v in VIEWS])
def test_put_and_add_write_where_numpy_does(view, index):
    _, buf, x = view
    offset = x.__array_interface__["data"][0] - buf.__array_interface__["data"][0]
    ours, theirs = buf.copy(), buf.copy()
    x_theirs = as_strided(theirs[offset // buf.itemsize:], x.shape, x.strides)
    plan = _plan(buf, x, index)
    values = -np.arange(np.prod(x[index].shape[-1:]), dtype=np.float64) - 1  # broadcasts
    run_put(ours, plan, values)
    x_theirs[index] = values
    np.testing.assert_array_equal(ours, theirs)
    run_put(ours, plan, 0.5, accumulate=True)
    np.add.at(x_theirs, index, 0.5)
    np.testing.assert_array_equal(ours, theirs)


def test_repeated_indices_accumulate_in_an_add():
    buf = np.zeros(6)
    plan = _plan(buf, buf, [1, 1, 4, 1])
    run_put(buf, plan, 1.0, accumulate=True)
    np.testing.assert_array_equal(buf, [0, 3, 0, 0, 1, 0])


def test_plan_reads_index_arrays_through_broadcast_strides():
    buf = np.arange(24.0)
    x = buf.reshape(2, 3, 4)
    plan = _plan(buf, x, (slice(None), [[0], [2]], [1, 3]))  # (2, 1) with (2,) -> (2, 2)
    assert plan.shape == (2, 2, 2) and plan.strides == (12, 0, 0)
    assert plan.index_strides == ((0, 1, 0), (0, 0, 1))  # size-1 and missing dims: stride 0
    assert plan.target_strides == (4, 1) and plan.target_sizes == (3, 4)


@pytest.mark.parametrize("index, message", [
    ((0, 0, 0, 0), "too many indices"),
    ((Ellipsis, 0, Ellipsis), "single ellipsis"),
    ((0, 5), "index 5 is out of bounds for axis 1 with size 5"),
    (-5, "index -5 is out of bounds for axis 0 with size 4"),
    (1.5, "unsupported index of type float"),
    ("a", "unsupported index of type str"),
    (True, "0-d boolean index"),
    (np.bool_(False), "0-d boolean index"),
])
def test_bad_indices_are_index_errors(index, message):
    buf = np.arange(120.0)
    with pytest.raises(IndexError, match=message):
        _plan(buf, buf.reshape(4, 5, 6), index)


def test_index_arrays_out_of_range_are_left_to_the_kernel():
    # the planner does not read index values (they may live on the GPU); the kernel checks
    buf = np.arange(12.0)
    plan = _plan(buf, buf.reshape(3, 4), [0, 7])
    with pytest.raises(IndexError, match="out of bounds"):
        run_gather(buf, plan)
