"""Making tensors: from data, filled with a value, ranges, and random."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import dtypes as _dt
from ._broadcast import shape_arg
from .backend import backend_for
from .device import as_device
from .random import default_generator
from .tensor import Tensor, _to_array


def tensor(data: Any, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (a number, nested lists, a numpy array)."""
    dev = as_device(device)
    t = Tensor._wrap(None, dev)
    arr = _to_array(data, dtype, dev)
    if isinstance(data, np.ndarray) and dev.type == "cpu" and np.shares_memory(arr, data):
        arr = arr.copy()
    t._data = arr
    t._shape = None
    if requires_grad:
        t.requires_grad = True
    return t


def as_tensor(data: Any, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but shares memory with a numpy array when it can."""
    if isinstance(data, Tensor) and dtype is None and device is None:
        return data
    dev = as_device(device)
    return Tensor._wrap(_to_array(data, dtype, dev), dev)


def from_numpy(arr: np.ndarray) -> Tensor:
    """A CPU tensor sharing memory with ``arr`` (its dtype must be one ember has)."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(arr).__name__}")
    dt = _dt.from_numpy_dtype(arr.dtype)
    if dt.np != arr.dtype:
        raise TypeError(f"from_numpy: dtype {arr.dtype} would need a copy; ember shares only "
                        "float32, float64, int64 and bool arrays (use ember.tensor to convert)")
    return Tensor._wrap(arr, as_device("cpu"))


def _make(op: str, array_fn, shape, dtype, device, requires_grad) -> Tensor:
    dev = as_device(device)
    dt = _dt.as_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
    try:
        array = array_fn(backend_for(dev), dt)
    except (MemoryError, ValueError) as e:
        # NumPy says "array is too big" or raises a bare MemoryError: name what was asked
        if shape is None:  # arange/linspace/eye: NumPy's own message says what was wrong
            raise ValueError(f"{op}: {e}") from None
        n = 1
        for s in shape:
            n *= s
        raise RuntimeError(f"{op}: cannot allocate a tensor of shape {shape} and dtype {dt} "
                           f"({n * dt.itemsize:,} bytes) on {dev}: {e}") from None
    t = Tensor._wrap(array, dev)
    if requires_grad:
        t.requires_grad = True
    return t


def full(size, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of shape ``size`` filled with ``fill_value`` (dtype from the value if not given)."""
    shape = shape_arg((size,) if isinstance(size, int) else tuple(size))
    if dtype is None:
        dtype = _dt.scalar_dtype(fill_value)
    return _make("full", lambda b, dt: b.full(shape, fill_value, dt), shape, dtype, device,
                 requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))``."""
    shape = shape_arg(size)
    return _make("zeros", lambda b, dt: b.full(shape, 0, dt), shape, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones."""
    shape = shape_arg(size)
    return _make("ones", lambda b, dt: b.full(shape, 1, dt), shape, dtype, device, requires_grad)


empty = zeros


def arange(start, end=None, step=1, dtype=None, device=None,
           requires_grad: bool = False) -> Tensor:
    """Values from ``start`` (default 0) up to but excluding ``end``, ``step`` apart.
    int64 when all arguments are ints, else the default float dtype."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if dtype is None:
        ints = all(isinstance(v, int) for v in (start, end, step))
        dtype = _dt.int64 if ints else _dt.get_default_dtype()
    return _make("arange", lambda b, dt: b.arange(start, end, step, dt), None, dtype, device,
                 requires_grad)


def linspace(start, end, steps: int, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    if steps < 0:
        raise ValueError(f"linspace: steps must be non-negative, got {steps}")
    return _make("linspace", lambda b, dt: b.linspace(start, end, steps, dt), None, dtype, device,
                 requires_grad)


def eye(n: int, m: int | None = None, dtype=None, device=None,
        requires_grad: bool = False) -> Tensor:
    """The n x m identity matrix (m defaults to n)."""
    m = n if m is None else m
    return _make("eye", lambda b, dt: b.eye(n, m, dt), None, dtype, device, requires_grad)


def rand(*size, dtype=None, device=None, generator=None,
         requires_grad: bool = False) -> Tensor:
    """Uniform samples on [0, 1)."""
    shape, gen = shape_arg(size), generator or default_generator
    return _make("rand", lambda b, dt: b.rand(shape, dt, gen), shape, dtype, device, requires_grad)


def randn(*size, dtype=None, device=None, generator=None,
          requires_grad: bool = False) -> Tensor:
    """Standard normal samples."""
    shape, gen = shape_arg(size), generator or default_generator
    return _make("randn", lambda b, dt: b.randn(shape, dt, gen), shape, dtype, device,
                 requires_grad)


def randint(low: int, high: int | None = None, size=(), dtype=None, device=None,
            generator=None) -> Tensor:
    """Integers uniform on [low, high): ``randint(10, (3,))``, ``randint(2, 10, (3,))``
    or ``randint(10, size=(3,))`` -- PyTorch's argument forms."""
    if isinstance(high, (tuple, list)):  # randint(high, size)
        if size != ():
            raise TypeError("randint: size given twice (as the second argument and size=)")
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    for name, v in (("low", low), ("high", high)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
            raise TypeError(f"randint: {name} must be an int, got {v!r}")
    if high <= low:
        raise ValueError(f"randint: expected low < high, got low={low}, high={high}")
    shape, gen = shape_arg((size,) if isinstance(size, int) else tuple(size)), generator or \
        default_generator
    t = _make("randint", lambda b, dt: b.randint(low, high, shape, gen), shape, _dt.int64,
              device, False)
    return t if dtype is None else t.to(dtype)


def randperm(n: int, device=None, generator=None) -> Tensor:
    """A random permutation of 0..n-1 (int64)."""
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
        raise ValueError(f"randperm: n must be a non-negative int, got {n!r}")
    gen = generator or default_generator
    return tensor(gen.np.permutation(n).astype(np.int64), device=device)


def _like(fn, t: Tensor, dtype, device, requires_grad, *args, **kw) -> Tensor:
    return fn(*args, *t.shape, dtype=dtype or t.dtype, device=device or t.device,
              requires_grad=requires_grad, **kw)


def zeros_like(t: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _like(zeros, t, dtype, device, requires_grad)


def ones_like(t: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _like(ones, t, dtype, device, requires_grad)


empty_like = zeros_like


def full_like(t: Tensor, fill_value, dtype=None, device=None,
              requires_grad: bool = False) -> Tensor:
    return full(t.shape, fill_value, dtype=dtype or t.dtype, device=device or t.device,
                requires_grad=requires_grad)


def rand_like(t: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _like(rand, t, dtype, device, requires_grad)


def randn_like(t: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _like(randn, t, dtype, device, requires_grad)


def randint_like(t: Tensor, low: int, high: int | None = None, dtype=None,
                 device=None) -> Tensor:
    return randint(low, high, t.shape, dtype=dtype or t.dtype, device=device or t.device)


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,
                generator=None) -> Tensor:
    """``num_samples`` category indices (int64) drawn with probabilities proportional to the
    non-negative weights ``input`` (1-d, or 2-d: one draw per row). Without replacement each
    category is drawn at most once, so ``num_samples`` may not exceed the categories with
    positive weight."""
    if not isinstance(input, Tensor) or input.ndim not in (1, 2):
        got = input.shape if isinstance(input, Tensor) else type(input).__name__
        raise ValueError(f"multinomial: expected a 1-d or 2-d tensor of weights, got {got}")
    w = np.asarray(input.detach().cpu().numpy(), dtype=np.float64)
    rows = w.reshape(-1, w.shape[-1])
    if not np.isfinite(rows).all() or (rows < 0).any():
        raise ValueError("multinomial: weights must be finite and non-negative")
    if not isinstance(num_samples, int) or num_samples <= 0:
        raise ValueError(f"multinomial: num_samples must be a positive int, got {num_samples!r}")
    gen = (generator or default_generator).np
    out = np.empty((rows.shape[0], num_samples), dtype=np.int64)
    for r, row in enumerate(rows):
        total, positive = row.sum(), int((row > 0).sum())
        if total <= 0:
            raise ValueError(f"multinomial: row {r} of the weights sums to 0")
        if not replacement and num_samples > positive:
            raise ValueError(f"multinomial: cannot draw {num_samples} samples without "
                             f"replacement from {positive} categories with positive weight")
        out[r] = gen.choice(row.size, size=num_samples, replace=bool(replacement),
                            p=row / total)
    return tensor(out.reshape(w.shape[:-1] + (num_samples,)), device=input.device)


# ---------------------------------------------------------------------------- legacy constructors
def _legacy(dtype: _dt.DType, name: str):
    def make(*args, device=None) -> Tensor:
        """``{name}(data)`` copies data; ``{name}(2, 3)`` is an uninitialised tensor of that
        shape (zeros in ember); ``{name}()`` an empty one -- PyTorch's legacy constructors."""
        if not args:
            return zeros(0, dtype=dtype, device=device)
        if all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in args):
            return zeros(*args, dtype=dtype, device=device)
        if len(args) == 1:
            return tensor(args[0], dtype=dtype, device=device)
        raise TypeError(f"{name}: expected data or a shape of ints, got {args!r}")

    make.__name__ = make.__qualname__ = name
    make.__doc__ = make.__doc__.format(name=name)
    return make


FloatTensor = _legacy(_dt.float32, "FloatTensor")
DoubleTensor = _legacy(_dt.float64, "DoubleTensor")
LongTensor = _legacy(_dt.int64, "LongTensor")
BoolTensor = _legacy(_dt.bool_, "BoolTensor")
