"""``Tensor``: an n-dimensional array on a device, plus what autograd needs.

A tensor holds a backend array (``_data``; a numpy.ndarray on the CPU) and, when it takes
part in a graph, ``requires_grad``, ``grad_fn`` (the node that made it) and ``grad``
(filled in by ``backward()`` on leaves). The math lives in ``ember.ops``; the methods
here are thin, documented doors into it.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

# ember.ops and ember.autograd make Tensors, so they import this module; the methods here
# reach them through the package (``ember.ops.add``, ``ember.autograd.backward``), looked
# up when called -- the way PyTorch's torch/_tensor.py and needle's Tensor do.
import ember

from . import dtypes as _dt
from ._broadcast import Size, shape_arg
from .backend import backend_for
from .device import as_device, device
from .tensor_inplace import InPlaceMethods, inplace_method

Scalar = int | float | bool
_new_size = tuple.__new__  # Size from a backend shape without re-checking its ints


class _Version:
    """A counter bumped by every in-place write; views share their base's counter."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


class Tensor(InPlaceMethods):
    """An n-dimensional array with reverse-mode automatic differentiation.

    Make one with ``ember.tensor(data)`` (or zeros, randn, ...). ``requires_grad=True``
    asks ember to record the ops applied to it so that ``backward()`` can fill ``.grad``.
    """

    # _shape: the shape as a Size, made on first use and kept (None until then; whatever
    # replaces _data sets it back to None)
    __slots__ = ("_data", "_shape", "_device", "_requires_grad", "grad", "grad_fn",
                 "_output_nr", "_version", "_hooks", "__weakref__")
    __array_priority__ = 1000  # numpy_array + tensor -> Tensor.__radd__

    def __init__(self, data: Any, dtype=None, device=None, requires_grad: bool = False) -> None:
        dev = as_device(device)
        self._data = _to_array(data, dtype, dev)
        self._shape = None
        self._device = dev
        self._requires_grad = False
        self.grad: Tensor | None = None
        self.grad_fn = None
        self._output_nr = 0  # which output of grad_fn this tensor is
        self._version = _Version()
        self._hooks = ()  # a leaf's gradient hooks (a non-leaf's live on its grad_fn)
        if requires_grad:
            self.requires_grad = True

    @classmethod
    def _wrap(cls, array, device: device) -> Tensor:
        """A tensor around an existing backend array (no copy, no checks)."""
        if isinstance(array, np.generic):  # NumPy gives scalars for 0-d results
            array = np.asarray(array)
        t = object.__new__(cls)
        t._data = array
        t._shape = None
        t._device = device
        t._requires_grad = False
        t.grad = None
        t.grad_fn = None
        t._output_nr = 0
        t._version = _Version()
        t._hooks = ()
        return t

    # ------------------------------------------------------------------ attributes
    @property
    def shape(self) -> Size:
        """The size of each dimension, an ``ember.Size`` (a tuple of ints)."""
        s = self._shape
        if s is None:  # built once per tensor, not per access
            s = self._shape = _new_size(Size, self._data.shape)
        return s

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def dtype(self) -> _dt.DType:
        return _dt.of_array(self._data)

    @property
    def device(self) -> device:
        return self._device

    @property
    def is_cuda(self) -> bool:
        """True when the tensor lives on a CUDA device."""
        return self._device.type == "cuda"

    @property
    def is_leaf(self) -> bool:
        """True for tensors not made by a recorded op (user-made tensors, parameters)."""
        return self.grad_fn is None

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if value and not self.dtype.is_floating_point:
            raise RuntimeError(
                f"only floating-point tensors can require gradients; this tensor is "
                f"{self.dtype} with shape {self.shape} (convert it with .float() first)"
            )
        if not value and self.grad_fn is not None:
            raise RuntimeError(
                "requires_grad can only be turned off on leaf tensors; use .detach() for a "
                "non-leaf tensor"
            )
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place and return self."""
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward (leaves always keep it)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: the tensor does not require grad")
        if self.grad_fn is not None:
            self.grad_fn._retained[self._output_nr] = weakref.ref(self)

    @property
    def retains_grad(self) -> bool:
        """True for a non-leaf tensor after ``retain_grad()``."""
        return self.grad_fn is not None and self._output_nr in self.grad_fn._retained

    def register_hook(self, hook) -> _HookHandle:
        """Call ``hook(grad)`` each time the gradient with respect to this tensor is
        computed; a tensor it returns replaces the gradient. Returns a handle whose
        ``remove()`` unregisters it. (For a leaf, the hook sees the gradient before it is
        added into ``.grad``.)"""
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that "
                               "doesn't require gradient")
        if self.grad_fn is None:
            self._hooks = (*self._hooks, hook)
            return _HookHandle(lambda: setattr(self, "_hooks", tuple(
                h for h in self._hooks if h is not hook)))
        hooks = self.grad_fn._hooks.setdefault(self._output_nr, [])
        hooks.append(hook)
        return _HookHandle(lambda: hook in hooks and hooks.remove(hook))

    @property
    def data(self) -> Tensor:
        """The same memory as a tensor outside the graph (prefer ``detach()``)."""
        return self.detach()

    @data.setter
    def data(self, value: Tensor) -> None:
        self._data = value._data if isinstance(value, Tensor) else np.asarray(value)
        self._shape = None
        self._version.value += 1

    @property
    def T(self) -> Tensor:  # noqa: N802
        """All dimensions reversed."""
        return self.permute(*reversed(range(self.ndim)))

    @property
    def mT(self) -> Tensor:  # noqa: N802
        """The last two dimensions swapped (batched matrix transpose)."""
        if self.ndim == 1:  # (a 0-dim tensor is its own mT, as in PyTorch)
            raise RuntimeError(f"mT: expected a tensor with at least 2 dimensions, got shape "
                               f"{self.shape}")
        return self.transpose(-2, -1) if self.ndim else self

    def size(self, dim: int | None = None):
        """The shape (an ``ember.Size``), or the size of dimension ``dim``."""
        return self.shape if dim is None else self.shape[dim]

    def dim(self) -> int:
        return self.ndim

    def numel(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n

    def element_size(self) -> int:
        return self.dtype.itemsize

    def is_contiguous(self) -> bool:
        """True when the elements are laid out in row-major order without gaps."""
        flags = getattr(self._data, "flags", None)
        return True if flags is None else bool(flags["C_CONTIGUOUS"])

    def is_floating_point(self) -> bool:
        return self.dtype.is_floating_point

    # ------------------------------------------------------------------ conversion
    def numpy(self) -> np.ndarray:
        """The values as a numpy array (shares memory on the CPU). Fails on tensors that
        require grad, like PyTorch: call ``.detach().numpy()``."""
        if self.requires_grad:
            raise RuntimeError(
                "numpy(): can't call numpy() on a tensor that requires grad; use "
                "tensor.detach().numpy()"
            )
        if self._device.type != "cpu":
            raise TypeError(f"numpy(): the tensor is on {self._device}; call .cpu() first")
        return self._data

    def __array__(self, dtype=None, copy=None):
        arr = self.detach().cpu()._data
        return arr if dtype is None else arr.astype(dtype)

    def item(self) -> Scalar:
        """The value of a one-element tensor as a Python number."""
        if self.numel() != 1:
            raise ValueError(
                f"item(): only one-element tensors can be converted to a Python scalar; "
                f"this one has shape {self.shape}"
            )
        return self.detach().cpu()._data.reshape(()).item()

    def tolist(self):
        return self.detach().cpu()._data.tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.dtype is not _dt.int64 or self.numel() != 1:
            raise TypeError("only one-element integer tensors can be used as an index")
        return int(self.item())

    def __bool__(self) -> bool:
        if self.numel() != 1:
            raise RuntimeError(
                f"the truth value of a tensor with {self.numel()} elements is ambiguous; "
                "use .any() or .all()"
            )
        return bool(self.item())

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        arr = self.detach().cpu()._data
        body = np.array2string(arr, separator=", ", prefix="tensor(", precision=4,
                               threshold=1000, edgeitems=3)
        extras = []
        if self._device.type != "cpu":
            extras.append(f"device='{self._device}'")
        if self.dtype not in (_dt.get_default_dtype(), _dt.int64, _dt.bool_) or arr.size == 0:
            extras.append(f"dtype={self.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn={self.grad_fn!r}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    # ------------------------------------------------------------------ autograd
    def backward(self, gradient: Tensor | None = None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs: Sequence[Tensor] | None = None) -> None:
        """Compute the gradient of this tensor with respect to the graph's leaves and add
        it into their ``.grad``. ``gradient`` is required unless this tensor is a scalar.
        Gradients *accumulate*: call ``zero_grad()`` (or set ``.grad = None``) between steps.
        """
        ember.autograd.backward(self, gradient, retain_graph=retain_graph,
                                create_graph=create_graph, inputs=inputs)

    def detach(self) -> Tensor:
        """The same memory, cut from the graph (shares the version counter)."""
        t = Tensor._wrap(self._data, self._device)
        t._version = self._version
        return t

    def new_full(self, size, fill_value, dtype=None, device=None,
                 requires_grad: bool = False) -> Tensor:
        """A tensor of ``size`` filled with ``fill_value``, with this tensor's dtype and
        device unless given (PyTorch's ``Tensor.new_full``)."""
        dt = self.dtype if dtype is None else _dt.as_dtype(dtype)
        dev = self._device if device is None else as_device(device)
        shape = shape_arg(tuple(size) if isinstance(size, (tuple, list)) else (size,))
        t = Tensor._wrap(backend_for(dev).full(shape, fill_value, dt), dev)
        return t.requires_grad_() if requires_grad else t

    def new_zeros(self, *size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
        return self.new_full(size, 0, dtype, device, requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
        return self.new_full(size, 1, dtype, device, requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
        return self.new_full(size, 0, dtype, device, requires_grad)

    def new_tensor(self, data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
        """A copy of ``data`` with this tensor's dtype and device unless given."""
        return Tensor(data, dtype=self.dtype if dtype is None else dtype,
                      device=self._device if device is None else device,
                      requires_grad=requires_grad)

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self._requires_grad = False
        return self

    # ------------------------------------------------------------------ devices, dtypes
    def to(self, *args, **kwargs) -> Tensor:
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)`` or ``to(other_tensor)``."""
        dtype = kwargs.pop("dtype", None)
        dev = kwargs.pop("device", None)
        kwargs.pop("non_blocking", None)
        copy = kwargs.pop("copy", False)
        if kwargs:
            raise TypeError(f"to(): unexpected arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                dtype, dev = a.dtype, a.device
            elif isinstance(a, (str, device)) and not (isinstance(a, str) and a in _dt._BY_NAME):
                dev = a
            else:
                dtype = a
        ops = ember.ops
        out = self
        if dev is not None and as_device(dev) != self._device:
            out = ops.to_device(out, as_device(dev))
        if dtype is not None and _dt.as_dtype(dtype) is not out.dtype:
            out = ops.cast(out, _dt.as_dtype(dtype))
        if copy and out is self:
            out = self.clone()
        return out

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self, index: int = 0) -> Tensor:
        return self.to(device("cuda", index))

    def float(self) -> Tensor:
        return self.to(_dt.float32)

    def double(self) -> Tensor:
        return self.to(_dt.float64)

    def long(self) -> Tensor:
        return self.to(_dt.int64)

    def bool(self) -> Tensor:
        return self.to(_dt.bool_)

    def type(self, dtype=None):
        """Without an argument, the type's name as PyTorch spells it (``'ember.FloatTensor'``);
        with a dtype (or such a name), the tensor converted to it."""
        if dtype is None:
            return f"ember.{_LEGACY_NAMES[self.dtype]}"
        if isinstance(dtype, str) and dtype.rsplit(".", 1)[-1] in _LEGACY_DTYPES:
            dtype = _LEGACY_DTYPES[dtype.rsplit(".", 1)[-1]]
        return self.to(dtype)

    def type_as(self, other: Tensor) -> Tensor:
        """This tensor converted to ``other``'s dtype."""
        return self.to(other.dtype)

    def __format__(self, spec: str) -> str:
        """``f"{loss:.4f}"`` formats a 0-dim tensor's value, as PyTorch does."""
        if spec and self.ndim == 0:
            return format(self.item(), spec)
        if spec:
            raise TypeError(f"unsupported format string {spec!r} passed to a tensor of shape "
                            f"{self.shape}: only 0-dim tensors take a format spec (use "
                            f".item() for a one-element tensor)")
        return str(self)

    def clone(self) -> Tensor:
        """A copy with its own memory; gradients flow back to the original."""
        return ember.ops.clone(self)

    def contiguous(self) -> Tensor:
        return ember.ops.contiguous(self)

    # ------------------------------------------------------------------ operators
    def __add__(self, o):
        return ember.ops.add(self, o)

    def __radd__(self, o):
        return ember.ops.add(o, self)

    def __sub__(self, o):
        return ember.ops.sub(self, o)

    def __rsub__(self, o):
        return ember.ops.sub(o, self)

    def __mul__(self, o):
        return ember.ops.mul(self, o)

    def __rmul__(self, o):
        return ember.ops.mul(o, self)

    def __truediv__(self, o):
        return ember.ops.div(self, o)

    def __rtruediv__(self, o):
        return ember.ops.div(o, self)

    def __floordiv__(self, o):
        return ember.ops.floor_divide(self, o)

    def __rfloordiv__(self, o):
        return ember.ops.floor_divide(o, self)

    def __mod__(self, o):
        return ember.ops.remainder(self, o)

    def __rmod__(self, o):
        return ember.ops.remainder(o, self)

    def __pow__(self, o):
        return ember.ops.pow(self, o)

    def __rpow__(self, o):
        return ember.ops.pow(o, self)

    def __matmul__(self, o):
        return ember.ops.matmul(self, o)

    def __rmatmul__(self, o):
        return ember.ops.matmul(o, self)

    def __neg__(self):
        return ember.ops.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return ember.ops.abs(self)

    def __eq__(self, o):  # type: ignore[override]
        return ember.ops.eq(self, o)

    def __ne__(self, o):  # type: ignore[override]
        return ember.ops.ne(self, o)

    def __lt__(self, o):
        return ember.ops.lt(self, o)

    def __le__(self, o):
        return ember.ops.le(self, o)

    def __gt__(self, o):
        return ember.ops.gt(self, o)

    def __ge__(self, o):
        return ember.ops.ge(self, o)

    def __and__(self, o):
        return ember.ops.bitwise_and(self, o)

    def __rand__(self, o):
        return ember.ops.bitwise_and(o, self)

    def __or__(self, o):
        return ember.ops.bitwise_or(self, o)

    def __ror__(self, o):
        return ember.ops.bitwise_or(o, self)

    def __xor__(self, o):
        return ember.ops.bitwise_xor(self, o)

    def __rxor__(self, o):
        return ember.ops.bitwise_xor(o, self)

    def __invert__(self):
        return ember.ops.logical_not(self)

    def __getitem__(self, index):
        return ember.ops.getitem(self, index)


def _install_methods() -> None:
    """Expose the ops as methods (``x.exp()``, ``x.sum(dim=1)``, ...).

    Each method is the function of the same name in ``ember.ops``, so there is exactly
    one definition (and one docstring) per op.
    """
    for name in ember.ops.TENSOR_METHODS:
        setattr(Tensor, name, getattr(ember.ops, name))
    Tensor.where = ember.ops.composite.where_method  # x.where(cond, y), self in the middle
    Tensor.nelement = Tensor.numel
    for name in ember.ops.INPLACE_METHODS:  # x.exp_(), x.masked_fill_(m, v), ...
        if not hasattr(Tensor, name + "_"):
            setattr(Tensor, name + "_", inplace_method(name))



def _to_array(data: Any, dtype, dev):
    """Any array-like -> a backend array on ``dev``. Python floats become the default
    dtype, ints int64, bools bool; NumPy arrays keep their dtype (mapped onto ember's)."""
    try:
        if isinstance(data, Tensor):
            arr = data.detach().cpu()._data
        elif isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in _flat(data)):
            arr = np.array([np.asarray(x) for x in data])
        else:
            arr = np.asarray(data)
    except RecursionError:
        raise ValueError("tensor: the data nests too deeply (a list that contains itself?)") \
            from None
    if arr.dtype == object:
        raise TypeError(f"tensor: can't make a tensor from {type(data).__name__} data "
                        "(ragged nesting or non-numeric values)")
    if dtype is not None:
        dt = _dt.as_dtype(dtype)
    elif arr.dtype.kind == "f" and not isinstance(data, (np.ndarray, np.generic, Tensor)):
        dt = _dt.get_default_dtype()  # Python floats (a NumPy float keeps its dtype)
    else:
        dt = _dt.from_numpy_dtype(arr.dtype)
    return backend_for(dev).from_numpy(arr, dt)


def _flat(data):
    for x in data:
        if isinstance(x, (list, tuple)):
            yield from _flat(x)
        else:
            yield x


_LEGACY_NAMES = {_dt.float32: "FloatTensor", _dt.float64: "DoubleTensor",
                 _dt.int64: "LongTensor", _dt.bool_: "BoolTensor"}
_LEGACY_DTYPES = {name: dt for dt, name in _LEGACY_NAMES.items()}


class _HookHandle:
    """What ``register_hook`` returns: ``remove()`` unregisters the hook."""

    __slots__ = ("_remove",)

    def __init__(self, remove) -> None:
        self._remove = remove

    def remove(self) -> None:
        self._remove()
