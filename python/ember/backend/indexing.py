"""NumPy indexing as a plan: a strided view, plus index arrays for a gather/put kernel.

A backend whose arrays are strided views of flat memory (shape, strides and offset, all in
elements), such as the CUDA backend, cannot hand ``x[index]`` to NumPy. ``plan_index``
turns a NumPy index into what its kernels can execute; it only plans, reading shapes and
strides, and never touches the data:

- *basic* indexing (ints, slices with any step, None, Ellipsis) is a **view**: a new
  offset, shape and strides over the same memory;
- *advanced* indexing (integer arrays, bool masks) is a **gather** (``x[index]``) or a
  **put/add** (``x[index] = v``, ``x[index] += v``) over the result shape R::

      for every position r of R:
          addr   = offset + sum_d strides[d] * r[d]
                          + sum_k wrap(index[k][r], target_sizes[k]) * target_strides[k]
          out[r] = x_memory[addr]                      # gather; put/add write there instead

  ``strides`` are the view's strides over R (0 on the dims the index arrays make),
  ``index[k][r]`` reads index array k through ``index_strides[k]`` (0 where it is
  broadcast), and ``wrap`` counts a negative index from the end (the kernel bounds-checks
  it against ``target_sizes[k]``).

Where the index dimensions go follows NumPy: when the advanced indices are adjacent (an int
among them counts as a 0-d index array) their broadcast shape replaces the indexed dims in
place; when a slice, None or Ellipsis separates them, it goes first. A bool mask is
``mask.nonzero()``: one index array per dimension it covers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["ArrayAccess", "IndexPlan", "plan_index"]


@dataclass(frozen=True)
class ArrayAccess:
    """What the planner needs from a backend about its arrays (each needs ``.shape`` and
    ``.dtype``, a NumPy dtype).

    Attributes:
        is_array: is this object one of the backend's arrays?
        to_numpy: a backend array as a host NumPy array (bool masks: ``nonzero`` runs on the
            host, since the result's size is data-dependent).
        index_array: an int64 backend array from a host int, int array or list, or from a
            backend integer array.
        strides: a backend array's strides, in elements.
    """

    is_array: Callable[[Any], bool]
    to_numpy: Callable[[Any], np.ndarray]
    index_array: Callable[[Any], Any]
    strides: Callable[[Any], Sequence[int]]


@dataclass(frozen=True)
class IndexPlan:
    """``x[index]`` as a view (``index == ()``) or a gather/put plan; see the module doc.

    Attributes:
        offset: the element offset of the view (of the gather's base) in x's memory.
        shape: the result's shape.
        strides: the view's strides over ``shape``; for a gather, 0 on the index dims.
        index: one int64 backend array per indexed dimension of x (empty for a view).
        index_strides: each index array's strides over ``shape`` (0 where broadcast).
        target_strides: the stride in x of each indexed dimension.
        target_sizes: the size of each indexed dimension (for bounds and negative indices).
    """

    offset: int
    shape: tuple[int, ...]
    strides: tuple[int, ...]
    index: tuple[Any, ...] = ()
    index_strides: tuple[tuple[int, ...], ...] = ()
    target_strides: tuple[int, ...] = ()
    target_sizes: tuple[int, ...] = ()

    @property
    def is_view(self) -> bool:
        """True for basic indexing: the result is a view, no kernel runs."""
        return not self.index


def _is_bool(it: Any, access: ArrayAccess) -> bool:
    if isinstance(it, (bool, np.bool_)):  # before int: bool is an int subclass
        return True
    if access.is_array(it):
        return it.dtype == np.bool_
    return isinstance(it, (np.ndarray, list)) and np.asarray(it).dtype == np.bool_


def _classify(items: Sequence[Any], access: ArrayAccess) -> list[tuple[str, Any]]:
    """Each index item as ("adv", int64 backend array), ("int", i) or ("basic", slice,
    None or Ellipsis); a bool mask becomes one "adv" array per dimension it covers."""
    out: list[tuple[str, Any]] = []
    for it in items:
        if _is_bool(it, access):
            mask = access.to_numpy(it) if access.is_array(it) else np.asarray(it)
            if mask.ndim == 0:
                raise IndexError("getitem: a 0-d boolean index (x[True]) is not supported by "
                                 "the strided indexing of this backend")
            out.extend(("adv", access.index_array(nz)) for nz in np.nonzero(mask))
        elif access.is_array(it) or isinstance(it, (np.ndarray, list)):
            out.append(("adv", access.index_array(it)))
        elif it is None or it is Ellipsis or isinstance(it, slice):
            out.append(("basic", it))
        elif isinstance(it, (int, np.integer)):
            out.append(("int", int(it)))
        else:
            raise IndexError(f"getitem: unsupported index of type {type(it).__name__}")
    return out


def _expand_ellipsis(items: list[tuple[str, Any]], ndim: int) -> list[tuple[str, Any]]:
    """Replace the Ellipsis (or append at the end) the full slices of the dims not indexed."""
    consumed = sum(1 for kind, it in items if not (kind == "basic" and
                                                   (it is None or it is Ellipsis)))
    if consumed > ndim:
        raise IndexError(f"too many indices: the array has {ndim} dims but {consumed} were "
                         "indexed")
    n_ellipsis = sum(1 for kind, it in items if kind == "basic" and it is Ellipsis)
    if n_ellipsis > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    rest = [("basic", slice(None))] * (ndim - consumed)
    full: list[tuple[str, Any]] = []
    for kind, it in items:
        full.extend(rest if kind == "basic" and it is Ellipsis else [(kind, it)])
    return full if n_ellipsis else full + rest


def plan_index(shape: Sequence[int], strides: Sequence[int], offset: int, index: Any,
               access: ArrayAccess) -> IndexPlan:
    """Plan ``x[index]`` for an array x of ``shape`` and ``strides`` (elements) starting at
    ``offset`` in its memory, with NumPy's semantics. Raises IndexError for an int out of
    bounds, too many indices, two Ellipses or an unsupported item (index arrays are
    bounds-checked by the kernel that reads them)."""
    items = list(index) if isinstance(index, tuple) else [index]
    full = _expand_ellipsis(_classify(items, access), len(shape))
    has_adv = any(kind == "adv" for kind, _ in full)

    dims: list[tuple[Any, int]] = []  # per result dim: (size, stride), or ("adv", k)
    advs: list[tuple[Any, int, int]] = []  # per indexed dim: (index array, size, stride)
    d = 0
    for kind, it in full:
        if kind == "basic" and it is None:
            dims.append((1, 0))
            continue
        n, st = shape[d], strides[d]
        if kind == "int" and not has_adv:
            i = it + n if it < 0 else it
            if not 0 <= i < n:
                raise IndexError(f"index {it} is out of bounds for axis {d} with size {n}")
            offset += i * st
        elif kind == "basic":
            start, stop, step = it.indices(n)
            length = len(range(start, stop, step))
            if length:  # an empty slice may start past the end: keep the offset valid
                offset += start * st
            dims.append((length, step * st))
        else:  # an index array, or an int among index arrays (NumPy: a 0-d index array)
            arr = access.index_array(it) if kind == "int" else it
            dims.append(("adv", len(advs)))
            advs.append((arr, n, st))
        d += 1
    if not has_adv:
        return IndexPlan(offset, tuple(s for s, _ in dims), tuple(st for _, st in dims))

    bshape = tuple(np.broadcast_shapes(*[tuple(a.shape) for a, _, _ in advs]))
    positions = [i for i, dm in enumerate(dims) if dm[0] == "adv"]
    if positions == list(range(positions[0], positions[-1] + 1)):
        # adjacent: the broadcast index dims replace the indexed ones in place
        before, after = dims[:positions[0]], dims[positions[-1] + 1:]
    else:  # separated by a slice, None or Ellipsis: they go first
        before, after = [], [dm for dm in dims if dm[0] != "adv"]
    out_shape = tuple([s for s, _ in before] + list(bshape) + [s for s, _ in after])
    base = tuple([st for _, st in before] + [0] * len(bshape) + [st for _, st in after])
    lead = len(before)
    index_strides = []
    for arr, _, _ in advs:
        # arr's dims line up with the trailing dims of bshape; size-1 dims broadcast
        ist = [0] * len(out_shape)
        a_lead = len(bshape) - len(arr.shape)
        for j, (n, st) in enumerate(zip(arr.shape, access.strides(arr))):
            ist[lead + a_lead + j] = st if n == bshape[a_lead + j] else 0
        index_strides.append(tuple(ist))
    return IndexPlan(offset, out_shape, base, tuple(a for a, _, _ in advs), tuple(index_strides),
                     tuple(st for _, _, st in advs), tuple(n for _, n, _ in advs))
