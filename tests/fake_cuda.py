"""A simulated ``ember._cuda``: the CUDA module's Python interface, in NumPy.

It follows the C++ contracts (csrc/cuda/kernels.h and bindings_cuda.cu) literally: device
arrays are strided views (element strides, an offset) over one flat storage, the index
kernel takes the same offset formula and makes the same checks, new arrays start filled
with NaN / garbage so that reading unwritten memory shows. The heavy kernels (conv,
attention, Adam, pooling) call ember's CPU kernels.

What it is for: running the CUDA test suites on a machine without a GPU
(``EMBER_SIMULATED_CUDA=1``, see conftest.py and test_cuda_simulated.py), which exercises
``python/ember/backend/cuda.py`` -- NumPy indexing turned into views and index kernels,
dtype promotion, broadcasting, random-number plumbing, device moves -- on every CI run.
What it is not: a test of the CUDA kernels themselves; those need a GPU.
"""

from __future__ import annotations

import numpy as np
from ember import _C
from numpy.lib.stride_tricks import as_strided

SIMULATED = True  # the tests that need the real allocator check this
HAVE_GEMM = HAVE_CONV = HAVE_ATTENTION = HAVE_ADAM = True
_NATIVE = (np.dtype(np.bool_), np.dtype(np.int64), np.dtype(np.float32), np.dtype(np.float64))


def _dt(obj):
    d = np.dtype(obj)
    if d not in _NATIVE:
        raise TypeError(f"CUDA arrays hold bool, int64, float32 or float64, got {d}")
    return d


def _cstrides(shape):
    s, acc = [], 1
    for n in reversed(shape):
        s.append(acc)
        acc *= max(n, 1)
    return tuple(reversed(s))


class DeviceArray:
    def __init__(self, buf, offset, shape, strides):
        self._buf, self._off = buf, int(offset)
        self._shape, self._strides = tuple(int(s) for s in shape), tuple(int(s) for s in strides)

    shape = property(lambda self: self._shape)
    strides = property(lambda self: self._strides)
    ndim = property(lambda self: len(self._shape))
    dtype = property(lambda self: self._buf.dtype)
    size = property(lambda self: int(np.prod(self._shape, dtype=np.int64)))
    offset = property(lambda self: self._off)
    itemsize = property(lambda self: self._buf.itemsize)
    nbytes = property(lambda self: self.size * self.itemsize)
    device = property(lambda self: 0)

    def is_contiguous(self):
        return self._strides == _cstrides(self._shape)

    @property
    def flags(self):
        return {"C_CONTIGUOUS": self.is_contiguous(), "c_contiguous": self.is_contiguous()}

    def shares_storage(self, other):
        return self._buf is other._buf

    def __len__(self):
        if not self._shape:
            raise TypeError("len() of a 0-d array")
        return self._shape[0]

    def np(self):
        """A NumPy view (writeable) of this strided view."""
        it = self._buf.itemsize
        if self.size == 0:
            return np.empty(self._shape, self.dtype)
        return as_strided(self._buf[self._off:], self._shape,
                          [s * it for s in self._strides], writeable=True)


def _new(shape, dtype):
    shape = tuple(int(s) for s in shape)
    if any(s < 0 for s in shape):
        raise ValueError("empty: negative dimension")
    n = int(np.prod(shape, dtype=np.int64))
    buf = np.empty(max(n, 1), dtype=dtype)
    if np.dtype(dtype).kind == "f":
        buf[...] = np.nan  # uninitialised memory: make reads of it visible
    else:
        buf[...] = np.array(-7777).astype(dtype)
    return DeviceArray(buf, 0, shape, _cstrides(shape))


def _wrap(arr):
    arr = np.array(arr, order="C")
    out = _new(arr.shape, arr.dtype)
    out.np()[...] = arr
    return out


def device_count():
    return 1


def current_device():
    return 0


def set_device(d):
    pass


def synchronize():
    pass


def get_device_name(device=0):
    return "fake"


def empty_cache():
    pass


def memory_allocated(device=0):
    return 0


def memory_reserved(device=0):
    return 0


def round_alloc_size(n):
    return max(512, n)


def empty(shape, dtype):
    return _new(shape, _dt(dtype))


def view(x, offset, shape, strides):
    shape, strides = list(shape), list(strides)
    if len(shape) != len(strides):
        raise ValueError("view: shape and strides differ in length")
    cap = len(x._buf)
    lo = hi = offset
    n = 1
    for s, st in zip(shape, strides):
        if s < 0:
            raise ValueError("view: negative size")
        n *= s
        if s > 0:
            span = (s - 1) * st
            if span < 0:
                lo += span
            else:
                hi += span
    if offset < 0 or offset > cap or (n > 0 and (lo < 0 or hi >= cap)):
        raise IndexError(f"view: offset {offset}, shape {shape}, strides {strides} reach "
                         f"outside the array's memory of {cap} elements")
    return DeviceArray(x._buf, offset, shape, strides)


def from_numpy(arr):
    if not arr.flags.c_contiguous:
        raise ValueError("from_numpy: the array must be C-contiguous")
    _dt(arr.dtype)
    return _wrap(arr.copy())


def to_numpy(x):
    return np.array(x.np(), copy=True)


def _cast(vals, dtype):
    dtype = np.dtype(dtype)
    vals = np.asarray(vals)
    if dtype == np.bool_:
        return vals != 0
    if dtype == np.int64 and vals.dtype.kind == "f":
        ok = (vals >= -9.2233720368547758e18) & (vals < 9.2233720368547758e18)
        with np.errstate(all="ignore"):
            out = np.where(ok, vals, 0).astype(np.int64)
        out[~ok] = np.iinfo(np.int64).min
        return out
    return vals.astype(dtype)


def copy_(dst, src):
    if dst.shape != src.shape:
        raise ValueError(f"copy: destination shape {dst.shape} differs from source shape "
                         f"{src.shape}")
    if dst.size == 0:
        return
    vals = np.array(src.np(), copy=True)
    dst.np()[...] = _cast(vals, dst.dtype)


def contiguous(x):
    return x if x.is_contiguous() else astype(x, x.dtype)


def astype(x, dtype):
    out = _new(x.shape, _dt(dtype))
    copy_(out, x)
    return out


def fill_(dst, fvalue, ivalue):
    if dst.size == 0:
        return
    if dst.dtype.kind == "f":
        dst.np()[...] = fvalue
    else:
        dst.np()[...] = _cast(np.int64(ivalue), dst.dtype)


def arange(start, step, istart, istep, n, dtype):
    dtype = _dt(dtype)
    if n < 0:
        raise ValueError("arange: negative length")
    i = np.arange(n)
    if dtype.kind == "f":
        return _wrap((start + i.astype(np.float64) * step).astype(dtype))
    return _wrap(_cast(istart + i * istep, dtype))


def linspace(start, stop, n, dtype):
    dtype = _dt(dtype)
    if n < 0:
        raise ValueError("linspace: steps must be non-negative")
    v = np.linspace(start, stop, n)
    if dtype == np.int64:
        v = np.floor(v)
    return _wrap(_cast(v, dtype))


def eye(n, m, dtype):
    return _wrap(np.eye(n, m, dtype=_dt(dtype)))


_UNARY_F = {"exp": np.exp, "log": np.log, "log1p": np.log1p, "sqrt": np.sqrt, "sin": np.sin,
            "cos": np.cos, "tanh": np.tanh}


def unary(op, x):
    a = x.np()
    dt = x.dtype
    with np.errstate(all="ignore"):
        if op == "not":
            return _wrap(a == 0)
        if op == "neg":
            if dt == np.bool_:
                raise TypeError("neg: not supported for bool arrays")
            return _wrap(np.negative(a))
        if op == "abs":
            return _wrap(np.abs(a))
        if op == "sign":
            return _wrap(a.copy() if dt == np.bool_ else np.sign(a))
        if dt.kind != "f":
            raise TypeError(f"{op}: not supported for {dt} arrays")
        if op in _UNARY_F:
            return _wrap(_UNARY_F[op](a).astype(dt))
        if op == "sigmoid":
            e = np.exp(-np.abs(a))
            return _wrap(np.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(dt))
        if op == "erf":
            return _wrap(_C.erf(np.ascontiguousarray(a)))
    raise ValueError(f"unary: unknown op '{op}'")


def softplus(x, beta, threshold):
    if x.dtype.kind != "f":
        raise TypeError("softplus: not supported")
    if beta == 0:
        raise ValueError("softplus: beta must be nonzero")
    a = x.np()
    b = x.dtype.type(beta)
    with np.errstate(all="ignore"):
        z = a * b
        soft = (np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))) / b
        return _wrap(np.where(z > threshold, a, soft).astype(x.dtype))


def _bshape(shapes, op):
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        raise ValueError(f"{op}: shapes cannot be broadcast together") from None


def binary(op, a, b):
    if a.dtype != b.dtype:
        raise TypeError(f"{op}: both arrays must have one dtype, got {a.dtype} and {b.dtype}")
    _bshape([a.shape, b.shape], op)
    x, y = a.np(), b.np()
    dt = a.dtype
    with np.errstate(all="ignore"):
        if op in ("sub", "div", "pow") and dt == np.bool_:
            raise TypeError(f"{op}: not supported for bool arrays")
        if op == "add":
            r = np.logical_or(x, y) if dt == np.bool_ else x + y
        elif op == "sub":
            r = x - y
        elif op == "mul":
            r = np.logical_and(x, y) if dt == np.bool_ else x * y
        elif op == "div":
            if dt == np.int64:
                r = np.where(y == 0, 0, np.floor_divide(x, np.where(y == 0, 1, y)))
            else:
                r = x / y
        elif op == "pow":
            if dt == np.int64:
                r = np.power(x, np.where(y < 0, 0, y))  # negatives: not exercised
            else:
                r = np.power(x, y)
        elif op == "maximum":
            r = np.maximum(x, y)
        elif op == "minimum":
            r = np.minimum(x, y)
        elif op in ("eq", "ne", "lt", "le", "gt", "ge"):
            r = getattr(np, {"eq": "equal", "ne": "not_equal", "lt": "less", "le": "less_equal",
                             "gt": "greater", "ge": "greater_equal"}[op])(x, y)
        elif op == "and":
            r = (x != 0) & (y != 0)
        elif op == "or":
            r = (x != 0) | (y != 0)
        elif op == "xor":
            r = (x != 0) ^ (y != 0)
        else:
            raise ValueError(f"binary: unknown op '{op}'")
    r = np.asarray(r)
    if op not in ("eq", "ne", "lt", "le", "gt", "ge", "and", "or", "xor"):
        r = r.astype(dt)
    return _wrap(r)


def where(cond, a, b):
    if cond.dtype != np.bool_:
        raise TypeError("where: the condition must be bool")
    if a.dtype != b.dtype:
        raise TypeError("where: both branches must have one dtype")
    _bshape([cond.shape, a.shape, b.shape], "where")
    return _wrap(np.where(cond.np(), a.np(), b.np()))


def reduce(op, x, axes, keepdims):
    axes = list(axes)
    if len(set(axes)) != len(axes) or any(a < 0 or a >= x.ndim for a in axes):
        raise ValueError(f"{op}: bad or repeated axis")
    a = x.np()
    ax = tuple(axes)
    if op == "sum":
        dt = np.int64 if x.dtype.kind in "bi" else x.dtype
        return _wrap(np.asarray(np.sum(a, axis=ax, keepdims=keepdims, dtype=dt)))
    if op not in ("max", "min"):
        raise ValueError("reduce: unknown op")
    if any(x.shape[d] == 0 for d in ax):
        n_out = int(np.prod([x.shape[d] for d in range(x.ndim) if d not in ax]))
        if n_out > 0:
            raise ValueError(f"{op}: zero-size reduction")
    if a.size == 0:
        shape = [1 if d in ax else n for d, n in enumerate(x.shape)
                 if keepdims or d not in ax]
        return _new(shape, x.dtype)
    return _wrap(np.asarray(getattr(np, op)(a, axis=ax, keepdims=keepdims)))


def arg_reduce(op, x, axis, keepdims):
    a = x.np()
    if axis >= x.ndim:
        raise ValueError("axis out of range")
    ax = None if axis < 0 else axis
    if x.size == 0 and (ax is None or x.shape[ax] == 0):
        raise ValueError(f"{op}: attempt to get {op} of an empty sequence")
    r = getattr(np, op)(a, axis=ax, keepdims=keepdims)
    return _wrap(np.asarray(r, dtype=np.int64))


def index(mode, target, values, base_strides, idx, target_strides, sizes):
    if mode not in ("gather", "put", "add"):
        raise ValueError(f"index: unknown mode {mode}")
    R = values.shape
    nd, nk = len(R), len(idx)
    if target.dtype != values.dtype:
        raise TypeError("index: dtype mismatch")
    if len(base_strides) != nd or len(target_strides) != nk or len(sizes) != nk:
        raise ValueError("index: inconsistent stride/size lists")
    for k in range(nk):
        if idx[k].dtype != np.int64:
            raise TypeError("index arrays must be int64")
        if idx[k].shape != R:
            raise ValueError(f"index array {k} does not have the iteration shape")
    n = int(np.prod(R, dtype=np.int64))
    if n == 0:
        return
    cap = len(target._buf)
    lo = hi = target.offset
    for d in range(nd):
        span = (R[d] - 1) * base_strides[d]
        if span < 0:
            lo += span
        else:
            hi += span
    for k in range(nk):
        if sizes[k] <= 0:
            raise IndexError("index into a dimension of size 0")
        span = (sizes[k] - 1) * target_strides[k]
        if span < 0:
            lo += span
        else:
            hi += span
    if lo < 0 or hi >= cap:
        raise IndexError("index: the indexed positions reach outside the target's memory")
    if mode == "add" and target.dtype == np.bool_:
        raise TypeError("accumulating into a bool array is not supported")
    coords = np.indices(R).reshape(nd, -1) if nd else np.zeros((0, 1), np.int64)
    off = target.offset + (np.asarray(base_strides, np.int64) @ coords if nd else 0)
    off = np.broadcast_to(np.asarray(off, np.int64), (n,)).copy()
    for k in range(nk):
        raw = np.array(idx[k].np(), copy=True).reshape(-1)
        j = np.where(raw < 0, raw + sizes[k], raw)
        bad = (j < 0) | (j >= sizes[k])
        if bad.any():
            raise IndexError(f"index {int(raw[bad][0])} is out of bounds for a dimension of "
                             f"size {sizes[k]} (index array {k})")
        off += j * target_strides[k]
    vals = values.np()
    if mode == "gather":
        vals[...] = target._buf[off].reshape(R)
    elif mode == "put":
        target._buf[off] = np.array(vals, copy=True).reshape(-1)
    else:
        np.add.at(target._buf, off, np.array(vals, copy=True).reshape(-1))


def _rng(seed, counter):
    return np.random.default_rng([seed & (2**63 - 1), counter])


def rand(shape, dtype, seed, counter):
    dtype = _dt(dtype)
    if dtype.kind != "f":
        raise TypeError("rand: expected float")
    return _wrap(_rng(seed, counter).random(tuple(shape), dtype=dtype))


def randn(shape, dtype, seed, counter):
    dtype = _dt(dtype)
    if dtype.kind != "f":
        raise TypeError("randn: expected float")
    return _wrap(_rng(seed, counter).standard_normal(tuple(shape), dtype=dtype))


def randint(low, high, shape, seed, counter):
    if high <= low:
        raise ValueError("randint: high must be greater than low")
    return _wrap(_rng(seed, counter).integers(low, high, size=tuple(shape), dtype=np.int64))


def _h(x):
    return np.array(x.np(), order="C")


def _float4d(x):
    if x.dtype.kind != "f":
        raise TypeError("expected float")


def max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode):
    y, i = _C.max_pool2d(_h(x), kernel_size, stride, padding, dilation, ceil_mode)
    return _wrap(y), _wrap(i)


def max_pool2d_backward(dy, indices, input_shape):
    return _wrap(_C.max_pool2d_backward(_h(dy), _h(indices), input_shape))


def avg_pool2d(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    return _wrap(_C.avg_pool2d(_h(x), kernel_size, stride, padding, ceil_mode,
                               count_include_pad, divisor_override))


def avg_pool2d_backward(dy, input_shape, kernel_size, stride, padding, ceil_mode,
                        count_include_pad, divisor_override):
    return _wrap(_C.avg_pool2d_backward(_h(dy), input_shape, kernel_size, stride, padding,
                                        ceil_mode, count_include_pad, divisor_override))


def adaptive_avg_pool2d(x, output_size):
    return _wrap(_C.adaptive_avg_pool2d(_h(x), output_size))


def adaptive_avg_pool2d_backward(dy, input_shape):
    return _wrap(_C.adaptive_avg_pool2d_backward(_h(dy), input_shape))


def matmul(a, b):
    if a.dtype.kind != "f" or a.dtype != b.dtype:
        raise TypeError("matmul: dtypes")
    if a.ndim < 2 or b.ndim < 2 or a.ndim != b.ndim:
        raise ValueError("matmul: both operands need the same number (>= 2) of dimensions")
    if a.shape[-1] != b.shape[-2] or a.shape[:-2] != b.shape[:-2]:
        raise ValueError("matmul: shapes not aligned / batch dimensions must be identical")
    return _wrap(np.matmul(a.np(), b.np()))


def conv2d_forward(x, w, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    return _wrap(_C.conv2d_forward(_h(x), _h(w), stride, padding, dilation, groups))


def conv2d_backward_data(dy, w, input_shape, stride=(1, 1), padding=(0, 0), dilation=(1, 1),
                         groups=1):
    return _wrap(_C.conv2d_backward_data(_h(dy), _h(w), input_shape, stride, padding, dilation,
                                         groups))


def conv2d_backward_weight(dy, x, weight_shape, stride=(1, 1), padding=(0, 0),
                           dilation=(1, 1), groups=1):
    return _wrap(_C.conv2d_backward_weight(_h(dy), _h(x), weight_shape, stride, padding,
                                           dilation, groups))


def attention_forward(q, k, v, mask=None, is_causal=False, scale=None, *, kernel="auto"):
    out, lse = _C.attention_forward(_h(q), _h(k), _h(v), None if mask is None else _h(mask),
                                    is_causal, scale)
    return _wrap(out), _wrap(lse)


def attention_backward(dout, q, k, v, out, lse, mask=None, is_causal=False, scale=None, *,
                       kernel="auto"):
    r = _C.attention_backward(_h(dout), _h(q), _h(k), _h(v), _h(out), _h(lse),
                              None if mask is None else _h(mask), is_causal, scale)
    return tuple(_wrap(a) for a in r)


def adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr, beta1, beta2, eps,
              weight_decay, step, amsgrad, maximize, decoupled):
    for a in (param, exp_avg, exp_avg_sq) + ((max_exp_avg_sq,) if amsgrad else ()):
        if not a.is_contiguous():
            raise ValueError("adam_step: must be a contiguous array")
    vm = None if max_exp_avg_sq is None else max_exp_avg_sq.np()
    _C.adam_step(param.np(), _h(grad), exp_avg.np(), exp_avg_sq.np(), vm, lr, beta1, beta2,
                 eps, weight_decay, step, amsgrad, maximize, decoupled)
