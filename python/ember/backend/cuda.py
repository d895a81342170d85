"""The CUDA backend: ``ember._cuda`` device arrays and kernels behind the Backend interface.

A backend array here is an ``ember._cuda.DeviceArray``: a strided view (shape, strides in
elements, offset) of a block of GPU memory from ember's caching allocator. Views
(reshape of a contiguous array, permute, broadcast_to, basic indexing) only make new
strides; everything else runs a kernel and returns a new contiguous array.

This file turns NumPy's semantics into the kernels' simpler contracts:
- scalars (Python or NumPy) become 0-d device arrays of the other operand's dtype;
- NumPy indexing (ints, slices, None, Ellipsis, int and bool arrays, with NumPy's rule for
  where the broadcast index dimensions go) becomes a view plus, for advanced indices, one
  gather/put/add kernel over index arrays (bool masks go through ``nonzero`` on the host),
  as planned by ``backend/indexing.py``;
- randomness comes from a Philox counter-based generator keyed by the ember Generator's
  seed and a per-generator call counter, so ``ember.manual_seed`` makes it reproducible.

GEMM, conv2d, attention and fused Adam are separate CUDA kernels (``_cuda.matmul`` etc.);
when ember was built without one of them, calling it raises a clear RuntimeError.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Sequence

import numpy as np

from .. import dtypes as _dt
from .. import precision
from .base import Backend
from .cpu import argsort_numpy
from .indexing import ArrayAccess, plan_index

try:
    from .. import _cuda  # type: ignore[attr-defined]
except ImportError:  # built without CUDA: CUDABackend() raises, nothing else breaks
    _cuda = None

_MASK64 = (1 << 64) - 1


def _contiguous_strides(shape: Sequence[int]) -> tuple:
    strides, acc = [], 1
    for n in reversed(shape):
        strides.append(acc)
        acc *= max(n, 1)
    return tuple(reversed(strides))


def _prod(xs) -> int:
    n = 1
    for x in xs:
        n *= x
    return n


class CUDABackend(Backend):
    name = "cuda"
    _instance: CUDABackend | None = None

    def __init__(self) -> None:
        if _cuda is None:
            raise RuntimeError("CUDA backend: ember was built without ember._cuda")
        self._m = _cuda
        # generator -> [the numpy Generator object it had at our last draw, call counter];
        # manual_seed replaces generator.np, which restarts the counter (reproducibility)
        self._rng: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._consts: dict = {}  # (dtype, value) -> 0-d device array, read-only constants
        # how the indexing planner reads device arrays (their strides are in elements)
        self._access = ArrayAccess(self._is_array, self.to_numpy, self._index_array,
                                   lambda a: a.strides)

    @classmethod
    def instance(cls) -> CUDABackend:
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    # ---- helpers -----------------------------------------------------------------------
    def _is_array(self, x) -> bool:
        return isinstance(x, self._m.DeviceArray)

    def _upload(self, arr) -> object:
        a = np.asarray(arr)
        if a.dtype not in (np.bool_, np.int64, np.float32, np.float64):
            a = a.astype(_dt.from_numpy_dtype(a.dtype).np)
        if not a.flags.c_contiguous:
            a = a.copy(order="C")
        return self._m.from_numpy(a)

    def _const(self, value, npdtype) -> object:
        """A cached 0-d device array holding ``value`` as ``npdtype`` (only ever read)."""
        host = np.asarray(value, dtype=npdtype)
        key = (host.dtype.str, host.tobytes())
        arr = self._consts.get(key)
        if arr is None:
            if len(self._consts) > 1024:
                self._consts.clear()
            arr = self._consts[key] = self._upload(host)
        return arr

    def _operand(self, x, like=None):
        """x as a device array; host scalars/arrays take ``like``'s dtype when given."""
        if self._is_array(x):
            return x
        if isinstance(x, np.ndarray) and x.ndim > 0:
            arr = x if like is None else x.astype(like.dtype, copy=False)
            return self._upload(arr)
        if like is not None:
            return self._const(x, like.dtype)
        host = np.asarray(x)
        return self._const(host, _dt.from_numpy_dtype(host.dtype).np)

    def _pair(self, a, b):
        """Both operands as device arrays of one dtype (scalars adopt the array's dtype)."""
        if self._is_array(a) and not self._is_array(b):
            return a, self._operand(b, like=a)
        if self._is_array(b) and not self._is_array(a):
            return self._operand(a, like=b), b
        a, b = self._operand(a), self._operand(b)
        if a.dtype != b.dtype:
            dt = np.result_type(a.dtype, b.dtype)
            a, b = self._m.astype(a, dt), self._m.astype(b, dt)
        return a, b

    def _binary(self, op, a, b):
        a, b = self._pair(a, b)
        if a.dtype == np.bool_ and op in ("div", "pow"):  # NumPy computes these in ints
            a, b = self._m.astype(a, np.int64), self._m.astype(b, np.int64)
        return self._m.binary(op, a, b)

    def _view(self, x, offset, shape, strides):
        return self._m.view(x, int(offset), [int(s) for s in shape], [int(s) for s in strides])

    def _philox(self, generator) -> tuple:
        state = self._rng.get(generator)
        if state is None or state[0] is not generator.np:
            state = self._rng[generator] = [generator.np, 0]
        counter = state[1]
        state[1] += 1
        return int(generator._seed) & _MASK64, counter

    # ---- moving data in and out --------------------------------------------------
    def from_numpy(self, arr, dtype):
        a = np.asarray(arr, dtype=dtype.np)
        if not a.flags.c_contiguous:
            a = a.copy(order="C")
        return self._m.from_numpy(a)

    def scalar(self, value, dtype):
        return self._const(value, dtype.np)  # cached: constants are never written

    def to_numpy(self, x):
        if not self._is_array(x):
            return np.asarray(x)
        return self._m.to_numpy(x)

    # ---- creation ----------------------------------------------------------------
    def full(self, shape, value, dtype):
        out = self._m.empty([int(s) for s in shape], dtype.np)
        self._fill(out, value)
        return out

    def _fill(self, out, value) -> None:
        if out.dtype.kind == "f":
            self._m.fill_(out, float(value), 0)
        elif out.dtype == np.bool_:
            self._m.fill_(out, 0.0, int(bool(value)))
        else:
            self._m.fill_(out, 0.0, int(value))

    def arange(self, start, stop, step, dtype):
        if step == 0:
            raise ValueError("arange: step must be nonzero")
        ints = all(isinstance(v, (int, np.integer)) for v in (start, stop, step))
        if ints and dtype is not _dt.float32 and dtype is not _dt.float64:
            n = len(range(int(start), int(stop), int(step)))
            return self._m.arange(0.0, 0.0, int(start), int(step), n, dtype.np)
        if dtype.is_floating_point:
            n = max(0, math.ceil((stop - start) / step))
            return self._m.arange(float(start), float(step), 0, 0, n, dtype.np)
        # an integer dtype from float arguments: NumPy's own rules, computed on the host
        return self.from_numpy(np.arange(start, stop, step, dtype=dtype.np), dtype)

    def linspace(self, start, stop, steps, dtype):
        return self._m.linspace(float(start), float(stop), int(steps), dtype.np)

    def eye(self, n, m, dtype):
        return self._m.eye(int(n), int(m), dtype.np)

    def rand(self, shape, dtype, generator):
        seed, counter = self._philox(generator)
        return self._m.rand([int(s) for s in shape], dtype.np, seed, counter)

    def randn(self, shape, dtype, generator):
        seed, counter = self._philox(generator)
        return self._m.randn([int(s) for s in shape], dtype.np, seed, counter)

    def randint(self, low, high, shape, generator):
        seed, counter = self._philox(generator)
        return self._m.randint(int(low), int(high), [int(s) for s in shape], seed, counter)

    # ---- copies and casts --------------------------------------------------------
    def astype(self, x, dtype):
        return self._m.astype(x, dtype.np)

    def copy(self, x):
        return self._m.astype(x, x.dtype)  # always a new contiguous array

    def assign_(self, dst, src):
        src = self._broadcast_values("assign", self._operand(src, like=dst), dst.shape)
        self._m.copy_(dst, src)

    def setitem_(self, dst, index, src):
        view, adv = self._index_plan(dst, index)
        if adv is None:
            self.assign_(view, src)
            return
        shape, base_strides, idx, tstrides, sizes = adv
        if _prod(shape) == 0:
            return
        src = self._operand(src, like=dst)
        if src.dtype != dst.dtype:
            src = self._m.astype(src, dst.dtype)
        src = self._broadcast_values("setitem", src, shape)
        self._m.index("put", view, src, base_strides, idx, tstrides, sizes)

    # ---- elementwise -------------------------------------------------------------
    def neg(self, x):
        return self._m.unary("neg", x)

    def exp(self, x):
        return self._m.unary("exp", x)

    def log(self, x):
        return self._m.unary("log", x)

    def log1p(self, x):
        return self._m.unary("log1p", x)

    def sqrt(self, x):
        return self._m.unary("sqrt", x)

    def abs(self, x):
        return self._m.unary("abs", x)

    def sign(self, x):
        return self._m.unary("sign", x)

    def sin(self, x):
        return self._m.unary("sin", x)

    def cos(self, x):
        return self._m.unary("cos", x)

    def tanh(self, x):
        return self._m.unary("tanh", x)

    def sigmoid(self, x):
        return self._m.unary("sigmoid", x)

    # fused activations and LayerNorm: one kernel each way (see csrc/cuda/elementwise.cu and
    # layer_norm.cu) instead of the primitive-composed defaults of Backend
    def relu_backward(self, g, y):
        return self._m.binary("relu_backward", g, y)

    def gelu(self, x, approximate):
        return self._m.unary("gelu_tanh" if approximate == "tanh" else "gelu", x)

    def gelu_backward(self, g, x, approximate):
        return self._m.binary("gelu_tanh_backward" if approximate == "tanh" else "gelu_backward",
                              g, x)

    def layer_norm(self, x, weight, bias, eps):
        return self._m.layer_norm_forward(x, weight, bias, float(eps))

    def layer_norm_backward(self, g, x, weight, mean, rstd):
        return self._m.layer_norm_backward(g, x, weight, mean, rstd)

    def softplus(self, x, beta, threshold):
        return self._m.softplus(x, float(beta), float(threshold))

    def erf(self, x):
        return self._m.unary("erf", x)

    def add(self, a, b):
        return self._binary("add", a, b)

    def sub(self, a, b):
        return self._binary("sub", a, b)

    def mul(self, a, b):
        return self._binary("mul", a, b)

    def div(self, a, b):
        return self._binary("div", a, b)  # integer dtypes floor, like NumPy's //

    def pow(self, a, b):
        return self._binary("pow", a, b)

    def maximum(self, a, b):
        return self._binary("maximum", a, b)

    def minimum(self, a, b):
        return self._binary("minimum", a, b)

    def compare(self, op, a, b):
        if op not in ("eq", "ne", "lt", "le", "gt", "ge"):
            raise ValueError(f"compare: unknown op {op!r}")
        return self._binary(op, a, b)

    def logical(self, op, a, b=None):
        a = self._as_bool(self._operand(a))
        if op == "not":
            return self._m.unary("not", a)
        if op not in ("and", "or", "xor"):
            raise ValueError(f"logical: unknown op {op!r}")
        return self._m.binary(op, a, self._as_bool(self._operand(b)))

    def _as_bool(self, x):
        return x if x.dtype == np.bool_ else self._m.astype(x, np.bool_)

    def where(self, cond, a, b):
        cond = self._as_bool(self._operand(cond))
        a, b = self._pair(a, b)
        return self._m.where(cond, a, b)

    def clip(self, x, lo, hi):
        if lo is not None:
            x = self._binary("maximum", x, lo)
        if hi is not None:
            x = self._binary("minimum", x, hi)
        return x

    # ---- reductions --------------------------------------------------------------
    def _axes(self, x, axes) -> list:
        return list(range(x.ndim)) if axes is None else [int(a) for a in axes]

    def sum(self, x, axes, keepdims):
        return self._m.reduce("sum", x, self._axes(x, axes), bool(keepdims))

    def max(self, x, axes, keepdims):
        return self._m.reduce("max", x, self._axes(x, axes), bool(keepdims))

    def min(self, x, axes, keepdims):
        return self._m.reduce("min", x, self._axes(x, axes), bool(keepdims))

    def argmax(self, x, axis, keepdims):
        return self._m.arg_reduce("argmax", x, -1 if axis is None else int(axis), bool(keepdims))

    def argmin(self, x, axis, keepdims):
        return self._m.arg_reduce("argmin", x, -1 if axis is None else int(axis), bool(keepdims))

    def argsort(self, x, axis, descending):
        # No device sort kernel yet: the order is computed on the host (one copy each way)
        # with the CPU backend's rule, so both devices sort identically.
        host = self.to_numpy(x)
        return self.from_numpy(argsort_numpy(host, axis, descending), _dt.int64)

    # ---- shape and indexing ------------------------------------------------------
    def reshape(self, x, shape):
        shape = tuple(int(s) for s in shape)
        if _prod(shape) != x.size:
            raise ValueError(f"reshape: cannot reshape an array of shape {x.shape} "
                             f"({x.size} elements) into shape {shape}")
        if not x.is_contiguous():
            x = self._m.contiguous(x)  # a view is impossible: copy, as NumPy does
        return self._view(x, x.offset, shape, _contiguous_strides(shape))

    def permute(self, x, axes):
        axes = tuple(int(a) for a in axes)
        if sorted(axes) != list(range(x.ndim)):
            raise ValueError(f"permute: {axes} is not a permutation of {x.ndim} dims")
        return self._view(x, x.offset, [x.shape[a] for a in axes], [x.strides[a] for a in axes])

    def broadcast_to(self, x, shape):
        shape = tuple(int(s) for s in shape)
        lead = len(shape) - x.ndim
        if lead < 0:
            raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to {shape}")
        strides = [0] * lead
        for d, (n, st) in enumerate(zip(x.shape, x.strides)):
            if n == shape[lead + d]:
                strides.append(st)
            elif n == 1:
                strides.append(0)
            else:
                raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to {shape}")
        return self._view(x, x.offset, shape, strides)

    def _broadcast_values(self, op, values, shape):
        if tuple(values.shape) == tuple(shape):
            return values
        try:
            return self.broadcast_to(values, shape)
        except ValueError:
            # NumPy also drops leading 1s of the values to fit (x[idx] = v[None])
            core = tuple(values.shape)
            while len(core) > len(shape) and core[0] == 1:
                core = core[1:]
            if len(core) <= len(shape):
                try:
                    return self.broadcast_to(self.reshape(values, core), shape)
                except ValueError:
                    pass
            raise ValueError(f"{op}: values of shape {tuple(values.shape)} cannot be "
                             f"broadcast to the indexed shape {tuple(shape)}") from None

    def getitem(self, x, index):
        view, adv = self._index_plan(x, index)
        if adv is None:
            return view
        shape, base_strides, idx, tstrides, sizes = adv
        out = self._m.empty(list(shape), x.dtype)
        if _prod(shape):
            self._m.index("gather", view, out, base_strides, idx, tstrides, sizes)
        return out

    def index_add(self, shape, index, values, dtype):
        out = self.full(shape, 0, dtype)
        view, adv = self._index_plan(out, index)
        values = self._operand(values, like=out)
        if values.dtype != out.dtype:
            values = self._m.astype(values, out.dtype)
        if adv is None:  # a basic index selects each element at most once
            self.assign_(view, values)
            return out
        rshape, base_strides, idx, tstrides, sizes = adv
        if _prod(rshape):
            values = self._broadcast_values("index_add", values, rshape)
            self._m.index("add", view, values, base_strides, idx, tstrides, sizes)
        return out

    def gather(self, x, axis, index):
        # out[i, j, k] = x[i, index[i, j, k], k] (axis 1): the non-axis coordinates come from
        # the index's position (index may be smaller than x there), the axis one from its value
        index = self._index_array(index)
        out = self._m.empty(list(index.shape), x.dtype)
        if out.size:
            base = [0 if d == axis else x.strides[d] for d in range(x.ndim)]
            self._m.index("gather", x, out, base, [index], [x.strides[axis]], [x.shape[axis]])
        return out

    def scatter_add(self, shape, axis, index, src):
        # out = zeros(shape); out[i, index[i, j, k], k] += src[i, j, k] (axis 1)
        index = self._index_array(index)
        src = self._operand(src)
        out = self.full(shape, 0, _dt.from_numpy_dtype(src.dtype))
        if index.size:
            vals = self._view(src, src.offset, index.shape, src.strides)  # src[:i, :j, :k]
            base = [0 if d == axis else out.strides[d] for d in range(out.ndim)]
            self._m.index("add", out, vals, base, [index], [out.strides[axis]], [out.shape[axis]])
        return out

    def cat(self, xs, axis):
        xs = [self._operand(x) for x in xs]
        ref = xs[0]
        shape = list(ref.shape)
        shape[axis] = sum(x.shape[axis] for x in xs)
        out = self._m.empty(shape, ref.dtype)
        pos = 0
        for x in xs:
            if x.size:
                part = self._view(out, pos * out.strides[axis], x.shape, out.strides)
                self._m.copy_(part, x)
            pos += x.shape[axis]
        return out

    def pad(self, x, widths, value):
        widths = [(int(lo), int(hi)) for lo, hi in widths]
        if len(widths) != x.ndim or any(lo < 0 or hi < 0 for lo, hi in widths):
            raise ValueError(f"pad: expected {x.ndim} non-negative (before, after) pairs, "
                             f"got {widths}")
        shape = [n + lo + hi for n, (lo, hi) in zip(x.shape, widths)]
        out = self.full(shape, value, _dt.from_numpy_dtype(x.dtype))
        if x.size:
            offset = sum(lo * st for (lo, _), st in zip(widths, out.strides))
            self._m.copy_(self._view(out, offset, x.shape, out.strides), x)
        return out

    # ---- NumPy indexing → a view plus index arrays (planned in backend/indexing.py) -----
    def _index_array(self, a):
        """An int64 device array from a device/host int array or a host int (bool arrays are
        masks, handled by the planner); ints are cached constants (no upload per index)."""
        if self._is_array(a):
            return a if a.dtype == np.int64 else self._m.astype(a, np.int64)
        if isinstance(a, (int, np.integer)):
            return self._const(a, np.int64)
        return self._upload(np.asarray(a, dtype=np.int64))

    def _index_plan(self, x, index):
        """``x[index]`` as (view, None) for basic indexing, or (base, plan) with plan =
        (result shape R, base strides over R, index arrays viewed over R, the target stride
        and size of each indexed dimension) for the index kernel (see backend/indexing.py)."""
        p = plan_index(x.shape, x.strides, x.offset, index, self._access)
        if p.is_view:
            return self._view(x, p.offset, p.shape, p.strides), None
        idx = [self._view(a, a.offset, p.shape, st) for a, st in zip(p.index, p.index_strides)]
        base_view = self._view(x, p.offset, (), ()) if _prod(p.shape) else x
        return base_view, (p.shape, list(p.strides), idx, list(p.target_strides),
                           list(p.target_sizes))

    # ---- linear algebra (the GPU kernel engineer's GEMM) ---------------------------
    def matmul(self, a, b):
        # float32 on TF32 tensor cores when ember.set_float32_matmul_precision allows it
        tf32 = a.dtype == np.float32 and precision.allow_tf32()
        return self._m.matmul(a, b, allow_tf32=tf32)

    # ---- convolution and pooling ---------------------------------------------------
    def conv2d(self, x, w, stride, padding, dilation, groups, bias=None):
        y = self._m.conv2d_forward(x, w, stride, padding, dilation, groups)
        if bias is not None:
            y = self.add(y, self.reshape(bias, (1, bias.shape[0], 1, 1)))
        return y

    def conv2d_backward_data(self, dy, w, input_shape, stride, padding, dilation, groups):
        return self._m.conv2d_backward_data(dy, w, input_shape, stride, padding, dilation,
                                            groups)

    def conv2d_backward_weight(self, dy, x, weight_shape, stride, padding, dilation, groups):
        return self._m.conv2d_backward_weight(dy, x, weight_shape, stride, padding, dilation,
                                              groups)

    def max_pool2d(self, x, kernel_size, stride, padding, dilation, ceil_mode):
        return self._m.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode)

    def max_pool2d_backward(self, dy, indices, input_shape):
        return self._m.max_pool2d_backward(dy, indices, input_shape)

    def avg_pool2d(self, x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                   divisor_override):
        return self._m.avg_pool2d(x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                                  divisor_override or 0)

    def avg_pool2d_backward(self, dy, input_shape, kernel_size, stride, padding, ceil_mode,
                            count_include_pad, divisor_override):
        return self._m.avg_pool2d_backward(dy, input_shape, kernel_size, stride, padding,
                                           ceil_mode, count_include_pad, divisor_override or 0)

    def adaptive_avg_pool2d(self, x, output_size):
        return self._m.adaptive_avg_pool2d(x, output_size)

    def adaptive_avg_pool2d_backward(self, dy, input_shape):
        return self._m.adaptive_avg_pool2d_backward(dy, input_shape)

    # ---- attention -------------------------------------------------------------------
    def attention_forward(self, q, k, v, mask, is_causal, scale):
        return self._m.attention_forward(q, k, v, mask, is_causal, scale)

    def attention_backward(self, dout, q, k, v, out, lse, mask, is_causal, scale):
        return self._m.attention_backward(dout, q, k, v, out, lse, mask, is_causal, scale)

    # ---- optimizers ------------------------------------------------------------------
    def adam_step_(self, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *, lr, beta1, beta2,
                   eps, weight_decay, step, amsgrad, maximize, decoupled):
        self._m.adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr, beta1, beta2,
                          eps, weight_decay, step, amsgrad, maximize, decoupled)
