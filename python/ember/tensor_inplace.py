"""Tensor's in-place methods: ``x.add_(y)``, ``x.exp_()``, ``x.copy_(src)``, ``x[i] = v``.

Writes into a tensor's memory meet the graph in two ways. Outside it (under ``no_grad``,
or when nothing involved requires grad) the values are written in place and the tensor's
version counter moves on, so a tensor saved for a backward that is now stale is caught.
Inside it the write is recorded: the tensor takes the result's place in the graph (see
``_inplace``), and a leaf that requires grad may not be written at all (its gradient would
have nothing to refer to) -- the optimizer's updates run under ``no_grad``.

``InPlaceMethods`` is a base of ``Tensor``; the Tensor class itself lives in tensor.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

# tensor.py imports this module to build Tensor; the methods reach Tensor and the ops
# through the package when called (as tensor.py does)
import ember

from ._broadcast import broadcast_shapes
from .autograd.grad_mode import is_grad_enabled
from .backend import backend_for
from .random import default_generator

if TYPE_CHECKING:
    from .tensor import Tensor

Scalar = int | float | bool


class InPlaceMethods:
    __slots__ = ()

    def _check_inplace(self, op: str, *others) -> None:
        """In-place writes are allowed outside the graph: under no_grad, or on tensors
        that do not require grad (with no argument that does)."""
        if not is_grad_enabled():
            return
        if self.requires_grad and self.is_leaf:
            raise RuntimeError(
                f"{op}: a leaf tensor that requires grad (shape {self.shape}) is being used in "
                "an in-place operation; wrap the update in `with ember.no_grad():`"
            )
        if self.requires_grad or any(isinstance(o, ember.Tensor) and o.requires_grad
                                     for o in others):
            raise RuntimeError(
                f"{op}: in-place operations on tensors that are part of the graph are not "
                "supported; write it out of place (x = x + y), or under ember.no_grad()"
            )

    def _write(self, array) -> Tensor:
        self._ops_backend().assign_(self._data, array)
        self._version.value += 1
        return self

    def _ops_backend(self):
        return backend_for(self._device)

    def _operand(self, other):
        if isinstance(other, ember.Tensor):
            if other.device != self.device:
                raise RuntimeError(
                    f"in-place op: tensors on different devices ({self.device} and "
                    f"{other.device})"
                )
            return other._data
        return other

    def copy_(self, src: Tensor | Any) -> Tensor:
        """Copy ``src`` (broadcast to this shape, cast to this dtype) into this tensor."""
        self._check_inplace("copy_", src)
        if isinstance(src, ember.Tensor) and src.device != self.device:
            src = src.to(self.device)
        src_arr = self._operand(src) if isinstance(src, ember.Tensor) else np.asarray(src)
        if broadcast_shapes("copy_", self.shape, tuple(src_arr.shape)) != self.shape:
            raise ValueError(
                f"copy_: source of shape {tuple(src_arr.shape)} cannot be broadcast to the "
                f"destination's shape {self.shape}"
            )
        return self._write(src_arr)

    def fill_(self, value: Scalar) -> Tensor:
        self._check_inplace("fill_")
        return self._write(self._dtype_scalar(value))

    def zero_(self) -> Tensor:
        return self.fill_(0)

    def _dtype_scalar(self, value):
        return self.dtype.np.type(value)

    def _inplace(self, name: str, *args, **kwargs) -> Tensor:
        """``x.name_(...)``: ``ember.ops.name(x, ...)`` written into x.

        Outside the graph the result is written into x's memory. Inside it (x, or an
        argument, requires grad) x takes the result's place in the graph, as ``x[i] = v``
        does, so gradients flow through the in-place op; tensors saved earlier from x then
        fail backward with a clear "modified by an in-place operation" (x's version moved),
        as in PyTorch. A leaf that requires grad may only be changed under ``no_grad``.
        """
        op = name + "_"
        others = [*args, *kwargs.values()]
        in_graph = is_grad_enabled() and (self.requires_grad or any(
            isinstance(o, ember.Tensor) and o.requires_grad for o in others))
        if in_graph and self.requires_grad and self.is_leaf:
            self._check_inplace(op)  # raises: a leaf that requires grad
        # In the graph the op runs on an alias of x's current value (its own version
        # counter: that value is never overwritten, so what the op saves stays valid),
        # and x then moves on to the result.
        source = self._alias() if in_graph else self
        result = getattr(ember.ops, name)(source, *args, **kwargs)
        if result.dtype is not self.dtype:
            if result.dtype.is_floating_point and not self.dtype.is_floating_point:
                raise RuntimeError(f"{op}: result type {result.dtype} can't be cast to the "
                                   f"in-place output's dtype {self.dtype}")
            result = ember.ops.cast(result, self.dtype)
        if result.shape != self.shape:
            raise ValueError(f"{op}: the result's shape {result.shape} does not match the "
                             f"in-place output's shape {self.shape}")
        if not in_graph:
            return self._write(result._data)
        self._data, self.grad_fn, self._output_nr = result._data, result.grad_fn, 0
        self._shape = None
        self._requires_grad = True
        self._version.value += 1
        return self

    def _alias(self) -> Tensor:
        """The same array and graph position as a new tensor object."""
        t = ember.Tensor._wrap(self._data, self._device)
        t.grad_fn, t._output_nr, t._requires_grad = self.grad_fn, self._output_nr, \
            self._requires_grad
        t._version.value = self._version.value
        return t

    def add_(self, other, alpha: Scalar = 1) -> Tensor:
        return self._inplace("add", other if alpha == 1 else other * alpha)

    def sub_(self, other, alpha: Scalar = 1) -> Tensor:
        return self._inplace("sub", other if alpha == 1 else other * alpha)

    def mul_(self, other) -> Tensor:
        return self._inplace("mul", other)

    def div_(self, other) -> Tensor:
        return self._inplace("div", other)

    def pow_(self, exponent) -> Tensor:
        return self._inplace("pow", exponent)

    def clamp_(self, min=None, max=None) -> Tensor:  # noqa: A002
        return self._inplace("clamp", min, max)

    def fill_diagonal_(self, fill_value: Scalar, wrap: bool = False) -> Tensor:
        """Write ``fill_value`` on the main diagonal (of a 2-d tensor, or of every
        dimension of an n-d tensor with equal sizes), as PyTorch's ``fill_diagonal_``."""
        if self.ndim < 2 or (self.ndim > 2 and len(set(self.shape)) != 1):
            raise ValueError(f"fill_diagonal_: expected a 2-d tensor or one with all "
                             f"dimensions equal, got shape {self.shape}")
        n = min(self.shape)
        rows = np.arange(self.shape[0] if wrap and self.ndim == 2 else n)
        if wrap and self.ndim == 2:  # tall matrices: the diagonal restarts every cols + 1 rows
            rows = rows[rows % (self.shape[1] + 1) < self.shape[1]]
        cols = rows % (self.shape[1] + 1) if wrap and self.ndim == 2 else rows
        self[(rows,) + (cols,) * (self.ndim - 1)] = fill_value
        return self

    def uniform_(self, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
        """Fill with samples from U(a, b)."""
        self._check_inplace("uniform_")
        r = self._random("rand", generator)
        return self._write((r * (b - a) + a)._data)

    def normal_(self, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
        """Fill with samples from N(mean, std^2)."""
        self._check_inplace("normal_")
        r = self._random("randn", generator)
        return self._write((r * std + mean)._data)

    def _random(self, kind: str, generator) -> Tensor:
        """Samples of this tensor's shape, dtype and device (``kind``: rand or randn)."""
        b = self._ops_backend()
        sample = getattr(b, kind)(self.shape, self.dtype, generator or default_generator)
        return ember.Tensor._wrap(sample, self._device)

    def __iadd__(self, other):
        return self._augmented("add", other)

    def __isub__(self, other):
        return self._augmented("sub", other)

    def __imul__(self, other):
        return self._augmented("mul", other)

    def __itruediv__(self, other):
        return self._augmented("div", other)

    def _augmented(self, name: str, other):
        # `x += y` inside a graph becomes `x = x + y` (a new node), as most users expect;
        # outside the graph it writes in place.
        if is_grad_enabled() and (self.requires_grad or
                                  (isinstance(other, ember.Tensor) and other.requires_grad)):
            return getattr(ember.ops, name)(self, other)
        return self._inplace(name, other)

    def __setitem__(self, index, value) -> None:
        """``x[index] = value``. Inside a graph (x a non-leaf that requires grad, or value
        requires grad) the write is recorded: gradients flow to value and to the
        untouched part of x."""
        ops = ember.ops
        if is_grad_enabled() and (self.requires_grad or
                                  (isinstance(value, ember.Tensor) and value.requires_grad)):
            if self.requires_grad and self.is_leaf:
                self._check_inplace("__setitem__")
            out = ops.index_put(self, index, value)
            self._data, self.grad_fn, self._output_nr = out._data, out.grad_fn, 0
            self._shape = None
            self._requires_grad = True
            self._version.value += 1
            return
        idx, val = ops.prepare_setitem(self, index, value)
        self._ops_backend().setitem_(self._data, idx, val)
        self._version.value += 1


def inplace_method(name: str):
    """The method ``x.name_(...)`` for an op of ember.ops (installed by _install_methods)."""

    def method(self, *args, **kwargs):
        return self._inplace(name, *args, **kwargs)

    method.__name__ = method.__qualname__ = name + "_"
    method.__doc__ = f"In-place ``{name}``: ``ember.ops.{name}(x, ...)`` written into x."
    return method
