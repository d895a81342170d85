"""The op table: one ``OpEntry`` per op drives every table-shaped op test (tests/test_ops.py).

An entry names the op, its ember callable, the sample inputs it is tried on, the dtypes, a
NumPy reference, whether it is differentiable (and twice differentiable), its PyTorch twin
and tolerances. From it test_ops.py generates, for every entry:

- forward against the NumPy reference, for every sample and dtype, on every device
  ("cpu" always, "cuda" when ``ember.cuda.is_available()``: a real GPU or the emulator);
  on an accelerator also the outputs and the input gradients against the CPU's;
- float64 ``gradcheck`` of every differentiable op on every (non-extra) sample, and
  ``gradgradcheck`` unless the entry says why not (fused kernels with first derivatives
  only);
- forward and gradients against the PyTorch twin when torch is importable.

Adding an op is one entry here. The samples follow PyTorch's OpInfo: the usual shape,
broadcasting, a non-contiguous copy, a 0-size and a 1-sized shape where the op accepts
them; ``extra=True`` marks the big kernel-path samples (shapes that steer the CUDA backend
into each of its kernel variants), which run forward and device parity only, too big for
finite differences.

Sample arguments: ``U(shape, low, high)`` is a seeded uniform float array (made in the dtype
under test, and differentiable); a literal NumPy array is used as given (an int64 array
becomes an index tensor, a bool array a mask, a float array a differentiable input); any
other value is passed through. ``kwargs`` are passed to the op, the reference and the twin.
"""

from __future__ import annotations

import importlib
import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import ember
import ember.nn.functional as F
import ember.ops
import ember.ops.rnn
import numpy as np


class _Lazy:
    """A module imported on first use: the twins call PyTorch only in test_matches_torch
    (which skips without it), and the device runs (the emulator, under AddressSanitizer
    too) never load it."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr: str):
        return getattr(importlib.import_module(self._name), attr)


torch = _Lazy("torch")
TF = _Lazy("torch.nn.functional")


# ------------------------------------------------------------------------------ records
@dataclass(frozen=True)
class U:
    """A seeded uniform float64 array of ``shape`` in [low, high): values within ``gap`` of a
    ``kinks`` point (relu's 0, clamp's bounds) are pushed away so that finite differences
    never straddle a kink; ``distinct`` gives values without ties (max, sort-like ops)."""

    shape: tuple
    low: float = -2.0
    high: float = 2.0
    kinks: tuple = ()
    gap: float = 0.1
    distinct: bool = False

    def make(self, rng: np.random.Generator) -> np.ndarray:
        if self.distinct:
            n = int(np.prod(self.shape))
            a = rng.permutation(n).reshape(self.shape) * (self.high - self.low) / max(n, 1)
            a = a + self.low
        else:
            a = rng.uniform(self.low, self.high, size=self.shape)
        for p in self.kinks:
            near = np.abs(a - p) < self.gap
            a[near] = p + np.where(a[near] >= p, self.gap, -self.gap)
        return a


@dataclass(frozen=True)
class Sample:
    args: tuple
    kwargs: dict = field(default_factory=dict)
    name: str = ""
    noncontig: bool = False  # float inputs in transposed (>= 2-d) or strided (1-d) memory
    # no finite differences: a kernel-path case too big for them, or a gradient that is not
    # the derivative by definition (embedding's padding row); forward and parity only
    extra: bool = False
    # device -> why this sample is known to fail there (a bug to fix): the test then
    # expects the failure and fails once it is gone, so that the mark is removed
    xfail: dict = field(default_factory=dict)

    def label(self) -> str:
        if self.name:
            return self.name
        parts = [("x".join(map(str, a.shape)) or "0d") if isinstance(a, (U, np.ndarray))
                 else repr(a) for a in self.args]
        text = ",".join(parts) + ("" if not self.kwargs else f" {self.kwargs}")
        return text + (" noncontig" if self.noncontig else "")


def S(*args, name: str = "", nc: bool = False, extra: bool = False, xfail=None,
      **kwargs) -> Sample:
    return Sample(args, kwargs, name, nc, extra, xfail or {})


@dataclass
class OpEntry:
    name: str
    op: Callable                           # on ember tensors: op(*args, **kwargs)
    samples: list[Sample]
    ref: Callable | None = None            # NumPy float64: ref(*arrays, **kwargs)
    torch: Callable | None = None          # on torch tensors: torch(*args, **kwargs)
    dtypes: tuple = ("float32", "float64")
    differentiable: bool = True
    once_differentiable: str = ""          # why the op has first derivatives only, if so
    grad_args: tuple | None = None         # positions of the float inputs to differentiate
    rtol: float = 1e-7                     # float64 forward against the reference
    atol: float = 1e-9
    tol32: float = 1e-5                    # float32: |got - want| <= tol32 (1 + |want|)
    grad_atol: float = 1e-5
    grad_rtol: float = 1e-3

    def make(self, sample: Sample):
        """The sample's arguments, materialised (the same arrays on every call)."""
        rng = np.random.default_rng(zlib.crc32(f"{self.name}/{sample.label()}".encode()))
        return [a.make(rng) if isinstance(a, U) else a for a in sample.args]


# ------------------------------------------------------------------------------ NumPy oracles
_np_erf = np.vectorize(math.erf, otypes=[np.float64])


def np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_softplus(x, beta=1.0, threshold=20.0):
    z = beta * x
    return np.where(z > threshold, x, np.log1p(np.exp(np.minimum(z, threshold))) / beta)


def np_gelu(x, approximate="none"):
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1 + _np_erf(x / np.sqrt(2)))


def np_log_softmax(x, axis):
    if x.ndim == 0:  # one element: softmax 1, log_softmax 0
        return x - x
    m = x.max(axis=axis, keepdims=True, initial=-np.inf)
    with np.errstate(divide="ignore"):  # an empty row: log(0), in an empty result
        return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def np_softmax(x, axis):
    return np.exp(np_log_softmax(x, axis))


def np_logsumexp(x, dim=None, keepdim=False):
    axis = _np_dim(dim)
    m = np.max(x, axis=axis, keepdims=True, initial=-np.inf)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):  # log(0) = -inf over an empty dimension
        out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdim else np.squeeze(out, axis=axis)


def _np_dim(dim):
    return dim if dim is None or isinstance(dim, int) else tuple(dim)


def np_norm(x, p=2, dim=None, keepdim=False):
    axis = _np_dim(dim)
    if p == np.inf:
        return np.abs(x).max(axis=axis, keepdims=keepdim)
    return (np.abs(x) ** p).sum(axis=axis, keepdims=keepdim) ** (1.0 / p)


def np_pad(a, pad, mode="constant", value=0.0):
    widths = [(0, 0)] * a.ndim
    for i in range(len(pad) // 2):
        widths[a.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if mode == "constant":
        crop = tuple(slice(-min(lo, 0), n + min(hi, 0)) for (lo, hi), n in zip(widths, a.shape))
        a = a[crop]
        widths = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
        return np.pad(a, widths, mode="constant", constant_values=value)
    np_mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
    return np.pad(a, widths, mode=np_mode)


def np_gather(a, dim, idx):
    dim %= a.ndim
    a = a[tuple(slice(0, n) if d != dim else slice(None) for d, n in enumerate(idx.shape))]
    return np.take_along_axis(a, idx, axis=dim)


def np_scatter_add(a, dim, idx, src):
    out = a.copy()
    for pos in np.ndindex(*idx.shape):
        tgt = list(pos)
        tgt[dim] = idx[pos]
        out[tuple(tgt)] += src[pos]
    return out


def np_conv2d(x, w, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """Cross-correlation by summing one shifted, strided slice per kernel tap."""
    n, c, h, wd = x.shape
    co, cg, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((n, co, oh, ow), dtype=np.float64)
    og = co // groups
    for g in range(groups):
        xg = xp[:, g * cg:(g + 1) * cg]
        wg = w[g * og:(g + 1) * og]
        for i in range(kh):
            for j in range(kw):
                patch = xg[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh,
                           j * dw:j * dw + sw * (ow - 1) + 1:sw]
                y[:, g * og:(g + 1) * og] += np.einsum("nchw,oc->nohw", patch, wg[:, :, i, j])
    return y


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def np_conv2d_op(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """F.conv2d's arguments (ints or pairs, padding 'same' for stride 1) on np_conv2d."""
    if padding == "same":  # PyTorch pads the extra row/column at the end
        total = [d * (k - 1) for d, k in zip(_pair(dilation), w.shape[2:])]
        x = np.pad(x, ((0, 0), (0, 0), (total[0] // 2, total[0] - total[0] // 2),
                       (total[1] // 2, total[1] - total[1] // 2)))
        padding = 0
    y = np_conv2d(x, w, _pair(stride), _pair(padding), _pair(dilation), groups)
    return y if b is None else y + b[None, :, None, None]


def np_conv1d_op(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    return np_conv2d_op(x[:, :, None], w[:, :, None], b, (1, stride), (0, padding),
                        (1, dilation), groups)[:, :, 0]


def np_pool2d(x, k, s, p, reduce, d=(1, 1), ceil_mode=False):
    """Max or sum-and-count over each window, one output at a time (the definition)."""
    n, c, h, w = x.shape

    def out_size(size, k, s, p, d):
        span = size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)
        o = span // s + 1
        if ceil_mode and (o - 1) * s >= size + p:
            o -= 1
        return o

    oh, ow = out_size(h, k[0], s[0], p[0], d[0]), out_size(w, k[1], s[1], p[1], d[1])
    y = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            rows = [i * s[0] - p[0] + a * d[0] for a in range(k[0])]
            cols = [j * s[1] - p[1] + b * d[1] for b in range(k[1])]
            y[:, :, i, j] = reduce(x, rows, cols, h, w)
    return y


def np_max(x, rows, cols, h, w):
    rows = [r for r in rows if 0 <= r < h]
    cols = [c for c in cols if 0 <= c < w]
    return x[:, :, rows][:, :, :, cols].max(axis=(2, 3))


def np_avg_include_pad(p):
    def reduce(x, rows, cols, h, w):
        # the divisor counts padding but not the part of a ceil-mode window past it
        nr = len([r for r in rows if r < h + p[0]])
        nc = len([c for c in cols if c < w + p[1]])
        inside = x[:, :, [r for r in rows if 0 <= r < h]][:, :, :, [c for c in cols
                                                                      if 0 <= c < w]]
        return inside.sum(axis=(2, 3)) / (nr * nc)
    return reduce


def np_avg_exclude_pad(x, rows, cols, h, w):
    inside = x[:, :, [r for r in rows if 0 <= r < h]][:, :, :, [c for c in cols if 0 <= c < w]]
    return inside.mean(axis=(2, 3))


def np_max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    k = _pair(kernel_size)
    s = k if stride is None else _pair(stride)
    return np_pool2d(x, k, s, _pair(padding), np_max, _pair(dilation), ceil_mode)


def np_avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False,
                  count_include_pad=True):
    k = _pair(kernel_size)
    s = k if stride is None else _pair(stride)
    p = _pair(padding)
    reduce = np_avg_include_pad(p) if count_include_pad else np_avg_exclude_pad
    return np_pool2d(x, k, s, p, reduce, (1, 1), ceil_mode)


def np_adaptive_avg_pool2d(x, output_size):
    oh, ow = _pair(output_size)
    h, w = x.shape[-2:]
    oh, ow = oh or h, ow or w
    y = np.zeros(x.shape[:-2] + (oh, ow))
    for i in range(oh):
        r0, r1 = (i * h) // oh, -(-((i + 1) * h) // oh)
        for j in range(ow):
            c0, c1 = (j * w) // ow, -(-((j + 1) * w) // ow)
            y[..., i, j] = x[..., r0:r1, c0:c1].mean(axis=(-2, -1))
    return y


def np_attention(q, k, v, mask=None, causal=False, scale=None):
    """softmax(q k^T * scale + mask) v in float64 NumPy; fully masked rows give 0, a NaN
    score gives its row NaN."""
    q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    s = q @ np.swapaxes(k, -1, -2) * scale
    if mask is not None:
        s = np.where(mask, s, -np.inf) if mask.dtype == bool else s + mask
    if causal:
        s = np.where(np.tril(np.ones(s.shape[-2:], bool)), s, -np.inf)
    m = s.max(-1, keepdims=True)
    e = np.exp(s - np.where(np.isinf(m), 0, m))
    total = e.sum(-1, keepdims=True)
    p = np.where(total == 0, 0, e / np.where(total == 0, 1, total))
    return p @ v


def np_layer_norm(x, normalized_shape, w=None, b=None, eps=1e-5):
    if x.size == 0:
        return x.copy()
    axes = tuple(range(x.ndim - len(normalized_shape), x.ndim))
    mean = x.mean(axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axes, keepdims=True)
    y = (x - mean) / np.sqrt(var + eps)
    return y * (1 if w is None else w) + (0 if b is None else b)


def np_group_norm(x, num_groups, w=None, b=None, eps=1e-5):
    n, c = x.shape[:2]
    g = x.reshape(n, num_groups, -1)
    y = ((g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, keepdims=True) + eps)).reshape(
        x.shape)
    shape = (1, c) + (1,) * (x.ndim - 2)
    return y * (1 if w is None else w.reshape(shape)) + (0 if b is None else b.reshape(shape))


def np_batch_norm_train(x, w=None, b=None, eps=1e-5):
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    y = (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + eps)
    return y * (1 if w is None else w.reshape(shape)) + (0 if b is None else b.reshape(shape))


def np_reduce(loss, reduction="mean"):
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


def ce_reference(x, y, weight=None, ignore_index=-100, smoothing=0.0):
    """Cross-entropy with class indices, written from the definition (N, C)."""
    n, c = x.shape
    logp = np_log_softmax(x, 1)
    w = np.ones(c) if weight is None else weight
    valid = y != ignore_index
    ys = np.where(valid, y, 0)
    nll = -logp[np.arange(n), ys] * w[ys] * valid
    smooth = -(logp * w).sum(1) * valid
    denom = (w[ys] * valid).sum()
    return (1 - smoothing) * nll.sum() / denom + smoothing / c * smooth.sum() / denom


def np_huber(a, b, reduction="mean", delta=1.0):
    d = np.abs(a - b)
    return np_reduce(np.where(d < delta, 0.5 * d ** 2, delta * (d - 0.5 * delta)), reduction)


def np_smooth_l1(a, b, reduction="mean", beta=1.0):
    d = np.abs(a - b)
    return np_reduce(np.where(d < beta, 0.5 * d ** 2 / beta, d - 0.5 * beta), reduction)


def np_bce_with_logits(x, t, pw=None):
    logsig, log1msig = -np.logaddexp(0, -x), -np.logaddexp(0, x)
    return np.mean(-((1 if pw is None else pw) * t * logsig + (1 - t) * log1msig))


# ------------------------------------------------------------------------------ index helpers
def _ember_index(index, device):
    """An index with its NumPy arrays made ember tensors on ``device`` (lists stay lists)."""
    if isinstance(index, np.ndarray):
        return ember.tensor(index, device=device)
    if isinstance(index, tuple):
        return tuple(_ember_index(i, device) for i in index)
    return index


def _torch_index(index):
    if isinstance(index, np.ndarray):
        return torch.from_numpy(index)
    if isinstance(index, tuple):
        return tuple(_torch_index(i) for i in index)
    return index


def _torch_dims(x, dim):
    """PyTorch's spelling of "every dimension" for reductions with keepdim."""
    return tuple(range(x.ndim)) if dim is None else dim


def _torch_pad(x, pad, mode, value):
    if mode != "constant" and len(pad) // 2 >= x.ndim:
        return NotImplemented  # PyTorch pads at most ndim - 1 dimensions in these modes
    return TF.pad(x, pad, mode, value if mode == "constant" else None)


def _torch_cannot_index(index) -> bool:
    """Indices where PyTorch is not NumPy: negative slice steps (an error there), and an int
    with an index array (PyTorch keeps the array's dimension in place, NumPy moves it
    first when a slice separates them)."""
    if isinstance(index, slice):
        return index.step is not None and index.step < 0
    if not isinstance(index, tuple):
        return False
    if any(isinstance(i, int) for i in index) and \
            any(isinstance(i, (list, np.ndarray)) for i in index):
        return True
    return any(_torch_cannot_index(i) for i in index)


def _layout(x, t, transpose):
    """The operand, or its last two dimensions swapped ('t' in a GEMM layout name)."""
    return x if t == "n" else transpose(x)


def _i64(*values):
    return np.asarray(values if len(values) > 1 else values[0], dtype=np.int64)


_MASK = np.array([True, False, True])

# ------------------------------------------------------------------------------ sample sets
def unary(low=-2.0, high=2.0, kinks=(), gap=0.1):
    """The usual shape, 0-d, empty, 1-sized, non-contiguous and strided-1-d samples."""
    def u(shape):
        return U(shape, low, high, kinks, gap)
    return [S(u((3, 4))), S(u(())), S(u((0, 3))), S(u((1, 1))), S(u((3, 4)), nc=True),
            S(u((2, 1, 3))), S(u((7,)), nc=True)]


BROADCAST = [((2, 3), (2, 3)), ((3, 1, 4), (2, 4)), ((), (2, 3)), ((2, 3), ()),
             ((4, 1), (1,)), ((1, 3), (2, 1)), ((0, 3), (1, 3)), ((2, 3, 4), (4,)),
             ((1, 3, 1), (2, 1, 4))]


def binary(low=-2.0, high=2.0, blow=None, bhigh=None, bkinks=(), bgap=0.1):
    blow, bhigh = low if blow is None else blow, high if bhigh is None else bhigh
    out = [S(U(sa, low, high), U(sb, blow, bhigh, bkinks, bgap)) for sa, sb in BROADCAST]
    out.append(S(U((3, 4), low, high), U((3, 4), blow, bhigh, bkinks, bgap), nc=True))
    return out


REDUCE_DIMS = [None, 0, 1, -1, (0, 2), (-1, 0), (0, 1, 2)]


def reduction(dims=REDUCE_DIMS, shape=(2, 3, 2), keepdims=(False, True), **u):
    out = [S(U(shape, **u), dim=d, keepdim=k) for d in dims for k in keepdims]
    out += [S(U((3, 4), **u), dim=1, keepdim=False, nc=True),
            S(U((1, 1), **u), dim=0, keepdim=True)]
    return out


def _bound(x, *, low, high):
    return U(x, low, high)


# ------------------------------------------------------------------------------ the table
OPS: list[OpEntry] = []


def op(name: str, fn: Callable, samples: list[Sample], ref=None, twin=None, **kw) -> OpEntry:
    entry = OpEntry(name, fn, samples, ref, twin, **kw)
    OPS.append(entry)
    return entry


# ---- arithmetic (broadcasting, scalars on both sides, non-contiguous)
op("add", lambda a, b: a + b, binary() + [S(U((2, 3)), 2.5), S(3, U((2, 3)))],
   lambda a, b: a + b, lambda a, b: a + b)
op("add_alpha", lambda a, b, alpha: ember.add(a, b, alpha=alpha),
   [S(U((2, 3)), U((3,)), alpha=2.5)], lambda a, b, alpha: a + alpha * b,
   lambda a, b, alpha: torch.add(a, b, alpha=alpha))
op("sub", lambda a, b: a - b, binary() + [S(U((2, 3)), -0.5), S(3, U((2, 3)))],
   lambda a, b: a - b, lambda a, b: a - b)
op("sub_alpha", lambda a, b, alpha: ember.sub(a, b, alpha=alpha),
   [S(U((2, 3)), U((3,)), alpha=-3)], lambda a, b, alpha: a - alpha * b,
   lambda a, b, alpha: torch.sub(a, b, alpha=alpha))
op("mul", lambda a, b: a * b, binary() + [S(U((2, 3)), 2.5), S(-0.5, U((2, 3)))],
   lambda a, b: a * b, lambda a, b: a * b)
op("div", lambda a, b: a / b,
   binary(bkinks=(0.0,), bgap=0.5) + [S(U((2, 3)), 2.5), S(3, U((2, 3), kinks=(0.0,), gap=0.5))],
   lambda a, b: a / b, lambda a, b: a / b)
op("neg", ember.neg, unary(), np.negative, lambda *a: torch.neg(*a))
_NAN = S(np.array([1.0, np.nan, -1.0]), np.array(0.0), name="nan propagates", extra=True)
# (at a NaN both inputs get the gradient, as in PyTorch: tests/test_ops_elementwise.py)
op("maximum", ember.maximum, binary() + [_NAN], np.maximum, lambda *a: torch.maximum(*a))
op("minimum", ember.minimum, binary() + [_NAN], np.minimum, lambda *a: torch.minimum(*a))
op("pow", ember.pow, binary(0.3, 2.0) + [S(U((3, 4), 0.3, 2.0), U((3, 4), -2, 2))],
   np.power, lambda a, b: torch.pow(a, b))
op("pow_scalar_exponent", lambda x, p: x ** p,
   [S(U((2, 3), 0.2, 2.0), p=p) for p in (2, 3, 0.5, -1, -2.5, 1.5, 0, 1)]
   + [S(U((5,)), p=3), S(U((3, 4), 0.3, 2.0), p=1.5, nc=True), S(U((0, 2), 0.3, 2), p=2)],
   lambda x, p: x ** p, lambda x, p: x ** p)
op("pow_scalar_base", lambda x, base: base ** x, [S(U((2, 3)), base=2.0), S(U((2, 3)), base=0.5)],
   lambda x, base: base ** x, lambda x, base: base ** x)
op("clamp", lambda x, lo, hi: ember.clamp(x, lo, hi),
   [S(U((3, 4), kinks=(-0.5, 0.7), gap=0.05), lo=-0.5, hi=0.7),
    S(U((3, 4), kinks=(0.3,), gap=0.05), lo=None, hi=0.3),
    S(U((3, 4), kinks=(-0.2,), gap=0.05), lo=-0.2, hi=None),
    S(U((3, 4), kinks=(-0.5, 0.5), gap=0.05), lo=-0.5, hi=0.5, nc=True),
    S(U((0, 2)), lo=-0.5, hi=0.5)],
   lambda x, lo, hi: np.clip(x, lo, hi), lambda x, lo, hi: torch.clamp(x, lo, hi))
op("clamp_tensor_bounds", lambda x, lo, hi: ember.clamp(x, lo, hi),
   [S(np.array([[-1.9, -0.6, 0.05, 1.6], [0.4, -1.2, 1.1, -0.1], [1.8, 0.7, -0.9, 0.2]]),
      np.array([-1.0, -0.7, -0.3, -0.5]), np.array([[0.3], [0.9], [1.3]])),
    S(np.array([[-1.9, -0.6, 0.05, 1.6], [0.4, -1.2, 1.1, -0.1]]),
      np.array([-1.0, -0.7, -0.3, -0.5]), None, name="min only")],
   lambda x, lo, hi: np.maximum(x, lo) if hi is None else np.minimum(np.maximum(x, lo), hi),
   lambda x, lo, hi: torch.clamp(x, lo, hi))
op("where", lambda c, a, b: ember.where(c, a, b),
   [S(np.random.default_rng(60).random((3, 1, 4)) > 0.5, U((2, 4)), U((4,))),
    S(np.random.default_rng(61).random((4, 5)) > 0.5, U((4, 5)), U((5,))),
    S(np.random.default_rng(63).random((3, 4)) > 0.5, U((3, 4)), U((3, 4)), nc=True),
    S(np.zeros((0, 2), bool), U((0, 2)), U((1, 2)))],
   np.where, lambda c, a, b: torch.where(c, a, b))
op("where_scalar_branch", lambda c, a, other, first: ember.where(c, other, a) if first else
   ember.where(c, a, other),
   [S(np.random.default_rng(62).random((2, 4)) > 0.5, U((2, 4)), other=0.0, first=False),
    S(np.random.default_rng(62).random((3, 1, 4)) > 0.5, U((2, 4)), other=-1.5, first=True)],
   lambda c, a, other, first: np.where(c, other, a) if first else np.where(c, a, other),
   lambda c, a, other, first: torch.where(c, other, a) if first else torch.where(c, a, other))

# ---- unary math
op("exp", ember.exp, unary(), np.exp, lambda *a: torch.exp(*a))
op("log", ember.log, unary(0.2, 3.0), np.log, lambda *a: torch.log(*a))
op("log1p", ember.log1p, unary(-0.8, 3.0), np.log1p, lambda *a: torch.log1p(*a))
op("sqrt", ember.sqrt, unary(0.2, 3.0), np.sqrt, lambda *a: torch.sqrt(*a))
op("rsqrt", ember.rsqrt, unary(0.2, 3.0), lambda x: 1 / np.sqrt(x),
   lambda *a: torch.rsqrt(*a))
op("abs", ember.abs, unary(kinks=(0.0,)), np.abs, lambda *a: torch.abs(*a))
op("sin", ember.sin, unary(-4, 4), np.sin, lambda *a: torch.sin(*a))
op("cos", ember.cos, unary(-4, 4), np.cos, lambda *a: torch.cos(*a))
op("tanh", ember.tanh, unary(-3, 3), np.tanh, lambda *a: torch.tanh(*a))
op("erf", ember.erf, unary(-3, 3), _np_erf, lambda *a: torch.erf(*a))
op("square", ember.square, unary(), np.square, lambda *a: torch.square(*a))
op("reciprocal", ember.reciprocal, unary(kinks=(0.0,), gap=0.3), np.reciprocal,
   lambda *a: torch.reciprocal(*a))

# ---- activations
op("sigmoid", ember.sigmoid, unary(-5, 5) + [S(U((3, 4), -20, 20), name="wide range")], np_sigmoid,
   lambda *a: torch.sigmoid(*a))
op("relu", ember.relu, unary(kinks=(0.0,)) + [
    S(np.array([-1.0, 0.0, 2.0, -0.0]), name="backward_at_zero", extra=True)],
   lambda x: np.maximum(x, 0), lambda *a: torch.relu(*a))
op("leaky_relu", lambda x, negative_slope: ember.leaky_relu(x, negative_slope),
   [S(U((3, 4), kinks=(0.0,)), negative_slope=0.01), S(U((4, 5), kinks=(0.0,)),
                                                        negative_slope=0.2),
    S(U((3, 4), kinks=(0.0,)), negative_slope=0.2, nc=True), S(U((0,)), negative_slope=0.2)],
   lambda x, negative_slope: np.where(x > 0, x, negative_slope * x),
   lambda x, negative_slope: TF.leaky_relu(x, negative_slope))
_GELU_TAIL = np.linspace(-12, 6, 37)
op("gelu", lambda x, approximate: F.gelu(x, approximate=approximate),
   [S(U((3, 4), -3, 3), approximate=a) for a in ("none", "tanh")]
   + [S(U((4, 5), -4, 4), approximate="none", nc=True), S(U(()), approximate="tanh"),
      S(U((0, 3)), approximate="none")]
   # deep in the negative tail, where 1 + erf(x / sqrt 2) would cancel to 0
   + [S(_GELU_TAIL, approximate=a, name=f"tail_{a}", extra=True) for a in ("none", "tanh")],
   np_gelu, lambda x, approximate: TF.gelu(x, approximate=approximate), tol32=2e-5)
op("silu", F.silu, unary(-5, 5), lambda x: x * np_sigmoid(x),
   lambda *a: TF.silu(*a))
op("elu", lambda x, alpha: F.elu(x, alpha),
   [S(U((3, 4), kinks=(0.0,)), alpha=1.0), S(U((3, 4), kinks=(0.0,)), alpha=0.5),
    S(U((4, 5), kinks=(0.0,)), alpha=1.0, nc=True), S(U(()), alpha=1.0)],
   lambda x, alpha: np.where(x > 0, x, alpha * np.expm1(x)),
   lambda x, alpha: TF.elu(x, alpha))
op("softplus", lambda x, beta, threshold: F.softplus(x, beta=beta, threshold=threshold),
   [S(U((3, 4), -5, 5), beta=1.0, threshold=20.0),
    S(U((3, 4), -4, 4, kinks=(1.5,)), beta=2.0, threshold=3.0),
    S(U((4, 5), -15, 15, kinks=(10.0,)), beta=2.0, threshold=20.0),
    S(U((3, 4), -2, 2), beta=20.0, threshold=20.0, nc=True), S(U((0, 2)), beta=1.0,
                                                                 threshold=20.0)],
   np_softplus, lambda x, beta, threshold: TF.softplus(x, beta, threshold))

# ---- reductions
op("sum", lambda x, dim, keepdim: ember.sum(x, dim, keepdim),
   reduction() + [S(U((0, 3)), dim=1, keepdim=False), S(U((0, 3)), dim=0, keepdim=False),
                  S(U(()), dim=None, keepdim=False),
                  # the GPU's multi-block reductions: > 256 elements per output, and one
                  # output over many blocks
                  S(U((70_000,)), dim=None, keepdim=False, extra=True),
                  S(U((3, 5000)), dim=1, keepdim=False, extra=True),
                  S(U((1000, 70)), dim=None, keepdim=False, extra=True)],
   lambda x, dim, keepdim: np.sum(x, axis=_np_dim(dim), keepdims=keepdim),
   lambda x, dim, keepdim: torch.sum(x, _torch_dims(x, dim), keepdim),
   tol32=1e-4)
op("mean", lambda x, dim, keepdim: ember.mean(x, dim, keepdim),
   reduction(),
   lambda x, dim, keepdim: np.mean(x, axis=_np_dim(dim), keepdims=keepdim),
   lambda x, dim, keepdim: torch.mean(x, _torch_dims(x, dim), keepdim))
for _name in ("var", "std"):
    op(_name, (lambda f: lambda x, dim, keepdim, correction: f(x, dim, keepdim,
                                                               correction=correction))(
        getattr(ember, _name)),
       [S(U((3, 3, 3)), dim=d, keepdim=k, correction=c) for d in (None, 0, -1, (0, 2))
        for k, c in ((False, 0), (True, 1), (False, 1), (False, 2))]
       + [S(U((3, 4)), dim=1, keepdim=False, correction=1, nc=True)],
       (lambda f: lambda x, dim, keepdim, correction: f(x, axis=_np_dim(dim), keepdims=keepdim,
                                                        ddof=correction))(getattr(np, _name)),
       (lambda n: lambda x, dim, keepdim, correction: getattr(torch, n)(
           x, dim, keepdim=keepdim, correction=correction))(_name))
for _name in ("amax", "amin"):
    op(_name, (lambda f: lambda x, dim, keepdim: f(x, dim, keepdim))(getattr(ember, _name)),
       [S(U((2, 3, 2), distinct=True), dim=d, keepdim=k) for d in (None, 0, (0, 2), -1)
        for k in (False, True)]
       + [S(U((3, 4), distinct=True), dim=1, keepdim=False, nc=True),
          S(U((3000, 2)), dim=0, keepdim=False, extra=True)],
       (lambda f: lambda x, dim, keepdim: f(x, axis=_np_dim(dim), keepdims=keepdim))(
           getattr(np, _name[1:])),
       (lambda n: lambda x, dim, keepdim: getattr(torch, n)(
           x, () if dim is None else dim, keepdim))(_name))
for _name in ("max", "min"):
    op(f"{_name}_dim", (lambda n: lambda x, dim, keepdim: tuple(getattr(ember, n)(x, dim,
                                                                                 keepdim)))(_name),
       [S(U((3, 4), distinct=True), dim=d, keepdim=k) for d in (0, 1, -1) for k in (False, True)]
       + [S(U((5, 6), distinct=True), dim=1, keepdim=False, nc=True)],
       (lambda n: lambda x, dim, keepdim: (getattr(np, n)(x, axis=dim, keepdims=keepdim),
                                           getattr(np, "arg" + n)(x, axis=dim,
                                                                  keepdims=keepdim)))(_name),
       (lambda n: lambda x, dim, keepdim: tuple(getattr(torch, n)(x, dim, keepdim)))(_name))
    op(f"{_name}_full", getattr(ember, _name), [S(U((3, 4), distinct=True)),
                                               S(U((4, 3), distinct=True), nc=True)],
       getattr(np, _name), (lambda n: lambda *a: getattr(torch, n)(*a))(_name))
for _name in ("argmax", "argmin"):
    op(_name, (lambda f: lambda x, dim, keepdim: f(x, dim, keepdim))(getattr(ember, _name)),
       [S(U((3, 4)), dim=d, keepdim=k) for d in (None, 0, 1, -1) for k in (False, True)]
       + [S(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]), dim=1, keepdim=False, name="ties"),
          S(np.array([[1, np.nan, 3], [2, 5, np.nan], [4, 0, 1]]), dim=1, keepdim=False,
            name="nan"),
          S(np.array([[1, np.nan, 3], [2, 5, np.nan], [4, 0, 1]]), dim=0, keepdim=False,
            name="nan_dim0"),
          S(U((7, 1000)), dim=1, keepdim=False, extra=True),
          S(U((7, 1000)), dim=None, keepdim=False, extra=True),
          S(U((7, 1000)), dim=0, keepdim=True, extra=True)],
       (lambda n: lambda x, dim, keepdim: (
           getattr(np, n)(x, axis=dim, keepdims=keepdim) if dim is not None else
           np.asarray(getattr(np, n)(x)).reshape((1,) * x.ndim if keepdim else ())))(_name),
       (lambda n: lambda x, dim, keepdim: getattr(torch, n)(x, dim, keepdim))(_name),
       differentiable=False)
op("logsumexp", lambda x, dim, keepdim: ember.logsumexp(x, dim, keepdim),
   [S(U((3, 4), -3, 3), dim=d, keepdim=k) for d in (None, 0, -1, (0, 1)) for k in (False, True)]
   + [S(U((3, 8), -50, 50), dim=1, keepdim=False), S(U((4, 3)), dim=1, keepdim=False, nc=True),
      S(U((2, 0)), dim=0, keepdim=False)],
   np_logsumexp,
   lambda x, dim, keepdim: torch.logsumexp(x, dim if dim is not None else tuple(range(x.ndim)),
                                           keepdim))
for _name, _ref in (("softmax", np_softmax), ("log_softmax", np_log_softmax)):
    op(_name, (lambda f: lambda x, dim: f(x, dim))(getattr(ember, _name)),
       [S(U((2, 3, 4), -3, 3), dim=d) for d in (0, 1, -1)]
       + [S(U((3, 7), -30, 30), dim=-1), S(U((4, 3)), dim=0, nc=True), S(U(()), dim=0),
          S(U((2, 0)), dim=-1), S(U((0, 3)), dim=-1), S(U((1, 1)), dim=1)],
       (lambda f: lambda x, dim: f(x, dim))(_ref),
       (lambda n: lambda x, dim: getattr(torch, n)(x, dim))(_name))
op("norm", lambda x, p, dim, keepdim: ember.norm(x, p, dim, keepdim),
   [S(U((3, 4), kinks=(0.0,), distinct=True), p=p, dim=d, keepdim=k)
    for p in (1, 2, float("inf"), 3) for d in (None, 1, (0, 1)) for k in (False, True)]
   + [S(U((2, 3)), p=1.5, dim=1, keepdim=False), S(U((3, 4)), p=2, dim=1, keepdim=False, nc=True)],
   np_norm,
   lambda x, p, dim, keepdim: torch.linalg.vector_norm(x, p, dim, keepdim))

# ---- shape
op("reshape", lambda x, shape: x.reshape(*shape),
   [S(U((2, 3, 2)), shape=s) for s in ((4, 3), (-1,), (2, -1), (-1, 2, 3), (3, 1, 4), (12,))]
   + [S(U((3, 4)), shape=(2, 6), nc=True), S(U((0, 3)), shape=(3, 0)), S(U(()), shape=(1, 1))],
   lambda x, shape: x.reshape(shape), lambda x, shape: x.reshape(shape))
op("view", lambda x, shape: ember.view(x, shape),
   [S(U((2, 3, 2)), shape=s) for s in ((4, 3), (-1,), (3, 1, 4))],
   lambda x, shape: x.reshape(shape), lambda x, shape: x.view(shape))
op("permute", lambda x, dims: x.permute(*dims),
   [S(U((2, 3, 4)), dims=d) for d in ((2, 0, 1), (1, 0, 2), (0, 1, 2), (-1, -3, -2))]
   + [S(U((3, 4)), dims=(1, 0), nc=True), S(U((0, 2, 1)), dims=(2, 0, 1))],
   lambda x, dims: np.transpose(x, dims), lambda x, dims: x.permute(*dims))
op("transpose", lambda x, d0, d1: x.transpose(d0, d1),
   [S(U((2, 3, 4)), d0=a, d1=b) for a, b in ((0, 1), (0, 2), (-1, -2), (1, 1))]
   + [S(U((3, 4)), d0=0, d1=1, nc=True)],
   lambda x, d0, d1: np.swapaxes(x, d0, d1), lambda x, d0, d1: x.transpose(d0, d1))
op("mT", lambda x: x.mT, [S(U((2, 3, 4))), S(U((3, 4)))], lambda x: np.swapaxes(x, -1, -2),
   lambda x: x.mT)
op("flatten", lambda x, start, end: x.flatten(start, end),
   [S(U((2, 3, 2, 2)), start=s, end=e) for s, e in
    ((0, -1), (1, -1), (0, 1), (1, 2), (-2, -1), (2, 2))] + [S(U(()), start=0, end=-1)],
   lambda x, start, end: x.reshape(-1) if x.ndim == 0 else x.reshape(
       x.shape[:start % x.ndim] + (-1,) + x.shape[end % x.ndim + 1:]),
   lambda x, start, end: x.flatten(start, end))
op("unflatten", lambda x, dim, sizes: x.unflatten(dim, sizes),
   [S(U((2, 12)), dim=1, sizes=(3, 4)), S(U((2, 12)), dim=-1, sizes=(2, -1))],
   lambda x, dim, sizes: x.reshape(x.shape[:1] + tuple(sizes)),
   lambda x, dim, sizes: x.unflatten(dim, sizes))
op("squeeze", lambda x, dim: x.squeeze(dim),
   [S(U((1, 3, 1, 2)), dim=d) for d in (None, 0, 2, 1, (0, 2), -2)],
   lambda x, dim: np.squeeze(x) if dim is None else np.squeeze(
       x, axis=tuple(d for d in np.atleast_1d(dim) if x.shape[d] == 1)),
   lambda x, dim: x.squeeze() if dim is None else x.squeeze(dim))
op("unsqueeze", lambda x, dim: x.unsqueeze(dim),
   [S(U((2, 3)), dim=d) for d in (0, 1, 2, -1, -3)],
   lambda x, dim: np.expand_dims(x, dim), lambda x, dim: x.unsqueeze(dim))
op("expand", lambda x, shape: x.expand(*shape),
   [S(U(src), shape=shape) for src, shape in
    (((3, 1), (3, 4)), ((1,), (2, 3)), ((2, 1, 3), (4, 2, 5, 3)), ((3, 1), (-1, 4)), ((), (2, 2)),
     ((3, 1, 2), (3, 4, 2)), ((1, 3), (0, 3)))]
   + [S(U((3, 1, 2)), shape=(3, 4, 2), nc=True)],
   lambda x, shape: np.broadcast_to(x, tuple(
       x.shape[i - (len(shape) - x.ndim)] if s == -1 else s for i, s in enumerate(shape))),
   lambda x, shape: x.expand(*shape))
op("repeat", lambda x, reps: x.repeat(*reps),
   [S(U(src), reps=r) for src, r in (((2, 3), (2, 1)), ((2, 3), (1, 3)), ((3,), (2, 2)),
                                     ((2, 1, 2), (1, 3, 2)), ((2,), (3,)), ((), (4,)),
                                     ((2, 3), (0, 2)))],
   lambda x, reps: np.tile(x, reps), lambda x, reps: x.repeat(*reps))
op("cat", lambda *xs, dim: ember.cat(xs, dim),
   [S(U((2, 3)), U((1, 3)), U((3, 3)), dim=0), S(U((2, 1)), U((2, 3)), U((2, 2)), dim=1),
    S(U((2, 1)), U((2, 3)), U((2, 2)), dim=-1), S(U((3, 2)), U((3, 4)), dim=1, nc=True),
    S(U((0, 3)), U((2, 3)), dim=0)],
   lambda *xs, dim: np.concatenate(xs, axis=dim), lambda *xs, dim: torch.cat(xs, dim))
op("stack", lambda *xs, dim: ember.stack(xs, dim),
   [S(U((2, 3)), U((2, 3)), U((2, 3)), dim=d) for d in (0, 1, 2, -1)]
   + [S(U((3, 2)), U((3, 2)), dim=1, nc=True)],
   lambda *xs, dim: np.stack(xs, axis=dim), lambda *xs, dim: torch.stack(xs, dim))


def _np_split(x, size, dim):
    idx = list(range(size, x.shape[dim], size)) if isinstance(size, int) else \
        list(np.cumsum(size)[:-1])
    return tuple(np.split(x, idx, axis=dim))


op("split", lambda x, size, dim: tuple(ember.split(x, size, dim)),
   [S(U((5, 4)), size=s, dim=d) for s, d in ((2, 0), (3, 0), (1, 1), (4, 1), (5, 0),
                                             ([1, 3, 1], 0), ([2, 2], -1), ([0, 5], 0))]
   + [S(U((3, 5)), size=2, dim=1, nc=True)],
   _np_split, lambda x, size, dim: tuple(torch.split(x, size, dim)))
op("chunk", lambda x, chunks: tuple(x.chunk(chunks, 0)),
   [S(U((n, 2)), chunks=c) for n, c in ((6, 3), (5, 2), (7, 3), (2, 4), (6, 1))],
   lambda x, chunks: tuple(x[i:i + -(-len(x) // chunks)]
                           for i in range(0, len(x), -(-len(x) // chunks))),
   lambda x, chunks: tuple(x.chunk(chunks, 0)))
op("unbind", lambda x, dim: tuple(x.unbind(dim)),
   [S(U((2, 3, 2)), dim=d) for d in (0, 1, -1)],
   lambda x, dim: tuple(np.moveaxis(x, dim, 0)), lambda x, dim: tuple(x.unbind(dim)))
op("pad", lambda x, pad, mode, value: ember.pad(x, pad, mode, value),
   [S(U((2, 3, 4)), pad=p, mode=m, value=0.0) for m in ("constant", "reflect", "replicate",
                                                          "circular")
    for p in ((1, 2), (0, 1, 2, 0), (2, 2, 1, 1), (1, 0, 0, 0, 1, 1))]
   + [S(U((3, 4)), pad=p, mode="constant", value=1.5) for p in ((-1, 2), (-1, -1, 1, 0), (0, -2))]
   + [S(U((3, 4)), pad=(1, 1), mode="constant", value=-2.0, nc=True),
      S(U((3, 4)), pad=(1, 2, 2, 1), mode="reflect", value=0.0, nc=True),
      S(U((3, 4)), pad=(3, 0), mode="circular", value=0.0, nc=True),
      S(U((0, 3)), pad=(1, 1), mode="constant", value=0.5)],
   np_pad, _torch_pad)
op("clone", ember.clone, [S(U((2, 3))), S(U((3, 4)), nc=True)], np.copy,
   lambda x: x.clone())
op("contiguous", lambda x: x.contiguous(), [S(U((3, 4)), nc=True)], np.ascontiguousarray,
   lambda x: x.contiguous())

# ---- indexing
_BASIC = [1, -1, (0, 2), (-2, -1), slice(1, 3), slice(None, None, 2), slice(None, None, -1),
          (slice(None), 1), (slice(None), slice(3, 0, -2)), (1, slice(None), -1), (None, 0),
          (Ellipsis, 1), (Ellipsis, None), (slice(None), None, slice(1, None)),
          (0, Ellipsis, slice(None, None, 3)), (slice(-2, None), slice(None, -1)),
          (slice(5, 10),)]
_ADVANCED = [[0, 2], [2, 0, 2, 2], [-1, 0], ([0, 1], [2, 3]), (slice(None), [3, 0, 3]),
             ([[0, 1], [2, 2]],), (Ellipsis, [1, 1, 0]), (1, [0, 0, 3]), ([0, 2], slice(1, 3))]


def _as_arrays(index):
    """The same index with its lists as int64 arrays (they become index tensors)."""
    if isinstance(index, list):
        return np.asarray(index, dtype=np.int64)
    return tuple(_as_arrays(i) for i in index) if isinstance(index, tuple) else index


_MIXED = [(None, [0, 1]), ([0, 2], None), (_MASK, slice(1, None)), (slice(None), [1, 3], 0),
          (_MASK, [0, 3]), ([[0], [2]], [1, 3]), (Ellipsis, None, [1]),
          (0, [[1, 1], [3, 0]], slice(None, None, -1)), (1, 2, [1, 1]),
          (0, slice(None), [1, 0]), (slice(None), [0, 2], [1, 1]), ([1, 2], slice(None), [0, 1])]
op("getitem", lambda x, index: x[_ember_index(index, x.device)],
   [S(U((3, 4, 2)), index=i, name=f"basic {i!r}") for i in _BASIC]
   + [S(U((3, 4, 2)), index=i, name=f"list {i!r}") for i in _ADVANCED]
   + [S(U((3, 4, 2)), index=_as_arrays(i), name=f"tensor {i!r}") for i in _ADVANCED]
   + [S(U((3, 4, 2)), index=_as_arrays(i), name=f"mixed {i!r}") for i in _MIXED]
   + [S(U((4, 5)), index=i, name=f"2d {i!r}") for i in
      (1, (-1, 2), (slice(1, 3), slice(None, None, 2)), (slice(None, None, -1), slice(4, 0, -2)),
       (None, Ellipsis, 1), [0, 2, 2, -1], (slice(None), _i64([[0, 1], [4, 4]])),
       ([0, 1, 3], [4, 0, 0]), ([1, 2], [0, 1]), np.array([True, False, True, True]),
       _i64(1), (2, _i64(-1)))]
   + [S(U((4, 3)), index=(slice(1, None), slice(None, None, 2)), nc=True, name="basic nc"),
      S(U((4, 3)), index=(slice(None, None, -1), 1), nc=True, name="reversed nc"),
      S(U((4, 3)), index=([0, 2, 2],), nc=True, name="advanced nc"),
      S(U((5, 4)), index=(_i64([4, 0, 0, 2]), slice(1, None)), name="advanced then slice"),
      S(U((4, 5, 3)), index=(slice(1, None), slice(None, None, 2), -1), name="slices then int")],
   lambda x, index: x[index],
   lambda x, index: NotImplemented if _torch_cannot_index(index) else x[_torch_index(index)])
op("getitem_bool_mask", lambda x, m: x[m],
   [S(U((3, 4)), np.random.default_rng(7).random((3, 4)) > 0.4),
    S(U((3, 4)), np.random.default_rng(8).random(3) > 0.4),
    S(U((4, 5)), np.random.default_rng(9).random((4, 5)) > 0.5)],
   lambda x, m: x[m], lambda x, m: x[m])
op("getitem_mask_from_input", lambda x: x[x > 0], [S(U((3, 4), kinks=(0.0,))), S(U((0, 2)))],
   lambda x: x[x > 0], lambda x: x[x > 0])
op("take", lambda x, i: ember.take(x, i),
   [S(U((3, 4)), _i64([0, 5, 5, 11])), S(U((3, 4)), _i64([[-1, 3], [2, 2]])),
    S(U((3, 4)), _i64(7)), S(U((4, 5)), _i64([0, 5, 5]))],
   lambda x, i: np.take(x, i), lambda x, i: torch.take(x, i))
op("gather", lambda x, i, dim: ember.gather(x, dim, i),
   [S(U((3, 4)), np.random.default_rng(11).integers(0, 3 if d == 0 else 4, s), dim=d)
    for d, s in ((0, (2, 3)), (1, (3, 5)), (-1, (2, 2)), (1, (1, 1)))]
   + [S(U((3, 4)), _i64([[0, 3], [1, 1], [2, 0]]), dim=1),
      S(U((3, 4)), _i64([[1, 0]]), dim=0),
      S(U((4, 3)), _i64([[0, 2, 1], [3, 3, 0]]), dim=0, nc=True)],
   lambda x, i, dim: np_gather(x, dim, i), lambda x, i, dim: torch.gather(x, dim, i))
op("scatter_add", lambda x, i, s, dim: ember.scatter_add(x, dim, i, s),
   [S(U((3, 4)), np.random.default_rng(22).integers(0, 3 if d == 0 else 4, ishape),
      U(sshape), dim=d)
    for d, ishape, sshape in ((0, (2, 3), (2, 3)), (1, (3, 4), (3, 4)), (1, (2, 2), (3, 4)),
                              (-1, (1, 3), (2, 5)))]
   + [S(U((3, 4)), _i64([[0, 1, 2, 0], [2, 2, 1, 0]]), U((2, 4)), dim=0),
      S(np.zeros((3, 4)), _i64([[0, 2], [1, 0]]), U((2, 2)), dim=1, name="into zeros"),
      # the integer path of the scatter kernel
      S(_i64([0, 0, 0, 0]), _i64([0, 0, 3, 3, 3]), _i64([5, 6, 7, -1, 2]), dim=0,
        name="int64")],
   lambda x, i, s, dim: np_scatter_add(x, dim % x.ndim, i, s),
   # PyTorch's backward needs src cut to the index's shape (the rest gets no gradient)
   lambda x, i, s, dim: torch.scatter_add(x, dim, i, s[tuple(slice(0, n) for n in i.shape)]))
op("index_select", lambda x, i, dim: ember.index_select(x, dim, i),
   [S(U((3, 4)), _i64(i), dim=d) for d, i in ((0, [2, 0, 2]), (1, [3]), (-1, [1, 1, 0, 3]),
                                              (1, [3, 0]))]  # (no negative index: PyTorch's)
   + [S(U((4, 3)), _i64([3, 1, 3]), dim=0), S(U((3, 4)), _i64([0, 0, 2]), dim=1, nc=True),
      S(U((3, 4)), np.zeros(0, np.int64), dim=0)],
   lambda x, i, dim: np.take(x, i, axis=dim),
   lambda x, i, dim: torch.index_select(x, dim, i))
op("masked_fill", lambda x, m, value: ember.masked_fill(x, m, value),
   [S(U((3, 4)), np.random.default_rng(41).random(s) > 0.5, value=-3.5)
    for s in ((3, 4), (4,), (3, 1))]
   + [S(U((4, 4)), np.random.default_rng(51).random((4, 4)) > 0.5, value=-1.0, nc=True)],
   lambda x, m, value: np.where(m, value, x), lambda x, m, value: x.masked_fill(m, value))
op("masked_fill_tensor_value", lambda x, m, v: ember.masked_fill(x, m, v),
   [S(U((3, 4)), np.random.default_rng(41).random((3, 4)) > 0.5, U(()))],
   lambda x, m, v: np.where(m, v, x), lambda x, m, v: x.masked_fill(m, v))

# ---- linear algebra
_MATMUL_SHAPES = [((3, 4), (4, 2)), ((4,), (4,)), ((4,), (4, 3)), ((3, 4), (4,)),
                  ((2, 3, 4), (2, 4, 2)), ((2, 2, 3, 4), (2, 2, 4, 1)), ((2, 1, 3, 4), (5, 4, 2)),
                  ((3, 4), (2, 4, 2)), ((2, 3, 4), (4,)), ((4,), (2, 4, 3)), ((1, 1), (1, 1)),
                  ((0, 3), (3, 2)), ((2, 0), (0, 3))]


def _mm_layout(transpose):
    def fn(a, b, layout="nn"):
        return _layout(a, layout[0], transpose) @ _layout(b, layout[1], transpose)
    return fn


op("matmul", _mm_layout(lambda x: x.mT),
   [S(U(a), U(b)) for a, b in _MATMUL_SHAPES]
   + [S(U((4, 3)), U((2, 4)), layout="tt"), S(U((3, 4)), U((4, 2)), nc=True),
      S(U((2, 3, 4)), U((2, 3, 4)), layout="tn"),
      S(U((33, 17)), U((17, 29))), S(U((5, 4)), U((4,))),
      S(U((2, 3, 5, 4)), U((4, 6))), S(U((37, 65)), U((65, 29)), extra=True),
      # GEMM's 128x128 tiles in all four operand layouts (once the tiles fill every SM and
      # the operands allow float4 loads)
      S(U((40, 132, 20)), U((40, 20, 132)), layout="nn", extra=True),
      S(U((40, 132, 20)), U((40, 132, 20)), layout="nt", extra=True),
      S(U((40, 20, 132)), U((40, 20, 132)), layout="tn", extra=True),
      S(U((40, 20, 132)), U((40, 132, 20)), layout="tt", extra=True)],
   _mm_layout(lambda x: np.swapaxes(x, -1, -2)), _mm_layout(lambda x: x.mT), tol32=1e-4)
op("mm", ember.mm, [S(U((3, 4)), U((4, 2)))], np.matmul, lambda *a: torch.mm(*a))
op("bmm", ember.bmm, [S(U((2, 3, 4)), U((2, 4, 2)))], np.matmul, lambda *a: torch.bmm(*a))
op("dot", ember.dot, [S(U((5,)), U((5,))), S(U((0,)), U((0,)))], np.dot,
   lambda *a: torch.dot(*a))
op("outer", ember.outer, [S(U((3,)), U((4,))), S(U((1,)), U((2,)))], np.outer,
   lambda *a: torch.outer(*a))
op("linear", F.linear, [S(U((2, 3, 8)), U((5, 8)), U((5,))), S(U((4, 3)), U((2, 3)), None),
                        S(U((4, 3)), U((2, 3)), U((2,)), nc=True)],
   lambda x, w, b: x @ w.T + (0 if b is None else b),
   lambda x, w, b: TF.linear(x, w, b))

# ---- convolution
op("conv2d", lambda x, w, b, **kw: F.conv2d(x, w, b, **kw),
   [S(U((2, 3, 7, 6)), U((5, 3, 3, 3)), U((5,)), stride=1, padding=1),
    S(U((2, 4, 9, 8)), U((6, 2, 3, 3)), None, stride=2, padding=2, dilation=2, groups=2),
    S(U((1, 2, 6, 6)), U((3, 2, 4, 4)), None, padding="same"),
    S(U((1, 4, 9, 6)), U((6, 2, 3, 2)), U((6,)), stride=(2, 1), padding=(1, 0), dilation=(1, 2),
      groups=2),
    S(U((2, 3, 5, 5)), U((3, 1, 3, 3)), None, padding=1, groups=3),
    S(U((2, 3, 5, 4)), U((2, 3, 1, 1)), U((2,))),
    S(U((2, 3, 5, 5)), U((2, 3, 3, 3)), None, padding=1, nc=True),
    S(U((1, 2, 4, 4)), U((3, 2, 4, 4)), None),
    S(U((1, 2, 4, 4)), U((2, 2, 2, 2)), U((2,)), stride=1, padding=1),
    S(U((1, 2, 5, 5)), U((2, 1, 3, 3)), None, stride=2, padding=1, dilation=2, groups=2),
    S(U((1, 4, 4, 5)), U((4, 4, 3, 2)), U((4,))),
    S(U((1, 4, 4, 5)), U((4, 2, 3, 2)), U((4,)), stride=2, padding=1, groups=2),
    S(U((1, 4, 5, 5)), U((4, 4, 3, 2)), U((4,)), stride=(1, 2), padding=(2, 1), dilation=(2, 1)),
    S(U((1, 2, 4, 4)), U((4, 1, 2, 3)), U((4,)), stride=(2, 1), padding=1, dilation=(1, 2),
      groups=2)],
   np_conv2d_op, lambda x, w, b, **kw: TF.conv2d(x, w, b, **kw), grad_atol=1e-4)
op("conv1d", lambda x, w, b, **kw: F.conv1d(x, w, b, **kw),
   [S(U((2, 3, 11)), U((4, 3, 3)), U((4,)), stride=2, padding=1),
    S(U((1, 4, 9)), U((2, 2, 2)), None, dilation=2, groups=2),
    S(U((2, 4, 9)), U((6, 2, 3)), U((6,)), stride=2, padding=1, dilation=2, groups=2)],
   np_conv1d_op, lambda x, w, b, **kw: TF.conv1d(x, w, b, **kw))
op("conv_transpose2d", lambda x, w, b, **kw: F.conv_transpose2d(x, w, b, **kw),
   [S(U((2, 3, 4, 5)), U((3, 2, 3, 3)), U((2,)), stride=2, padding=1, output_padding=1),
    S(U((1, 2, 3, 3)), U((2, 3, 2, 2)), None),
    S(U((2, 4, 3, 3)), U((4, 1, 3, 2)), U((2,)), stride=2, padding=1, output_padding=(1, 0),
      groups=2, dilation=(1, 2)),
    S(U((1, 4, 3, 3)), U((4, 1, 3, 2)), None, stride=(1, 2))],
   None, lambda x, w, b, **kw: TF.conv_transpose2d(x, w, b, **kw))

# ---- pooling and resampling
_MAX_POOL = [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
             dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2)),
             dict(kernel_size=3, stride=2, ceil_mode=True),
             dict(kernel_size=2, stride=3, padding=1, dilation=2, ceil_mode=True),
             dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)]
op("max_pool2d", lambda x, **kw: F.max_pool2d(x, **kw),
   [S(U((2, 3, 7, 6), distinct=True), **kw) for kw in _MAX_POOL]
   + [S(U((2, 3, 6, 6), distinct=True), kernel_size=2, nc=True),
      S(U((1, 2, 7, 7), distinct=True), kernel_size=3, stride=2, padding=1, ceil_mode=True),
      S(U((1, 2, 5, 5), distinct=True), kernel_size=3, stride=2, padding=1, ceil_mode=True)],
   np_max_pool2d, lambda x, **kw: TF.max_pool2d(x, **kw))
_AVG_POOL = [dict(kernel_size=2), dict(kernel_size=3, stride=2),
             dict(kernel_size=3, stride=2, padding=1),
             dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
             dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)]
op("avg_pool2d", lambda x, **kw: F.avg_pool2d(x, **kw),
   [S(U((2, 2, 7, 6)), **kw) for kw in _AVG_POOL] + [S(U((2, 3, 6, 6)), kernel_size=2, nc=True),
                                                     S(U((1, 2, 5, 4)), kernel_size=2)],
   np_avg_pool2d, lambda x, **kw: TF.avg_pool2d(x, **kw))
op("max_avg_pool1d", lambda x: F.max_pool1d(x, 2) + F.avg_pool1d(x, 2),
   [S(U((2, 3, 8), distinct=True))],
   lambda x: (np_max_pool2d(x[:, :, None], (1, 2)) + np_avg_pool2d(x[:, :, None], (1, 2)))[:, :, 0],
   lambda x: TF.max_pool1d(x, 2) + TF.avg_pool1d(x, 2))
op("adaptive_avg_pool2d", lambda x, size: F.adaptive_avg_pool2d(x, size),
   [S(U((2, 3, 7, 6)), size=s) for s in ((1, 1), (3, 2), (5, 7), (2, None))]
   + [S(U((2, 2, 7, 5)), size=(3, 2), nc=True), S(U((1, 2, 5, 4)), size=(2, 3))],
   lambda x, size: np_adaptive_avg_pool2d(x, size),
   lambda x, size: TF.adaptive_avg_pool2d(x, size))
op("interpolate", lambda x, **kw: F.interpolate(x, **kw),
   [S(U((1, 2, 3, 4)), scale_factor=2, mode="nearest"),
    S(U((1, 2, 3, 4)), size=(5, 7), mode="bilinear", align_corners=False),
    S(U((1, 2, 3, 4)), size=(5, 7), mode="bilinear", align_corners=True),
    S(U((2, 1, 4, 3)), size=(7, 5), mode="nearest")],
   None, lambda x, **kw: TF.interpolate(x, **kw))

# ---- attention (the fused kernels on both devices: first derivatives only)
_SDPA_ONCE = "the fused attention kernel has first derivatives only (once_differentiable)"


def _sdpa(q, k, v, mask=None, is_causal=False, strided=False, scale=None):
    if strided:
        # q, v: (B, L, H, D) storage seen as (B, H, L, D), as MHA produces (rows strided,
        # D contiguous); k: (B, H, D, L) storage, so D itself is strided (element-wise loads)
        q, k, v = q.transpose(1, 2), k.mT, v.transpose(1, 2)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal,
                                          scale=scale)


def _np_sdpa(q, k, v, mask=None, is_causal=False, strided=False, scale=None):
    if strided:
        q, k, v = np.swapaxes(q, 1, 2), np.swapaxes(k, -1, -2), np.swapaxes(v, 1, 2)
    return np_attention(q, k, v, mask, is_causal, scale)


def _torch_sdpa(q, k, v, mask=None, is_causal=False, strided=False, scale=None):
    if strided:
        q, k, v = q.transpose(1, 2), k.mT, v.transpose(1, 2)
    return TF.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal,
                                           scale=scale)


_FLOAT_MASK = np.random.default_rng(94).uniform(-2, 2, (3, 4))
op("scaled_dot_product_attention", _sdpa,
   [S(U((2, 3, 9, 8)), U((2, 3, 11, 8)), U((2, 3, 11, 8))),
    S(U((2, 3, 5, 4)), U((2, 3, 5, 4)), U((2, 3, 5, 4)), is_causal=True),
    S(U((1, 2, 3, 4)), U((1, 2, 4, 4)), U((1, 2, 4, 4)),
      np.random.default_rng(90).random((3, 4)) > 0.3, name="bool mask"),
    S(U((1, 2, 3, 4)), U((1, 2, 4, 4)), U((1, 2, 4, 4)), _FLOAT_MASK, name="float mask"),
    S(U((1, 1, 1, 4)), U((1, 1, 1, 4)), U((1, 1, 1, 4)), name="L=1"),
    S(U((2, 4, 3)), U((2, 5, 3)), U((2, 5, 2)), scale=0.3, name="3-d, Dv != D, scale"),
    S(U((1, 2, 3, 4)), U((1, 2, 4, 4)), U((1, 2, 4, 4)), nc=True),
    S(U((2, 2, 70, 16)), U((2, 2, 70, 16)), U((2, 2, 70, 16)), is_causal=True, extra=True),
    # flash attention's D <= 128 kernels with Dv != D
    S(U((1, 2, 37, 96)), U((1, 2, 37, 96)), U((1, 2, 37, 112)), is_causal=True, extra=True),
    # a constant additive mask (no gradient)
    S(U((2, 2, 19, 24)), U((2, 2, 23, 24)), U((2, 2, 23, 24)),
      np.random.default_rng(7).uniform(-2, 2, (19, 23)), name="constant float mask",
      extra=True),
    S(U((2, 33, 2, 16)), U((2, 2, 16, 33)), U((2, 33, 2, 16)), is_causal=True, strided=True,
      name="strided operands", extra=True),
    # Lq != Lk with causal masking
    S(U((1, 2, 20, 16)), U((1, 2, 37, 16)), U((1, 2, 37, 16)), is_causal=True, extra=True)],
   _np_sdpa, _torch_sdpa, once_differentiable=_SDPA_ONCE, grad_args=(0, 1, 2), tol32=1e-4)
op("scaled_dot_product_attention_mask_grad", lambda q, k, v, m: F.scaled_dot_product_attention(
    q, k, v, attn_mask=m),
   [S(U((1, 2, 3, 4)), U((1, 2, 4, 4)), U((1, 2, 4, 4)), U((3, 4)))],
   np_attention, lambda q, k, v, m: TF.scaled_dot_product_attention(q, k, v, attn_mask=m),
   once_differentiable=_SDPA_ONCE)

# ---- recurrent layers (the fused time loops: first derivatives only)
_RNN_ONCE = "the fused recurrent op has first derivatives only (once_differentiable)"


def np_lstm_layer(x_proj, w_hh, b_hh, h0, c0, reverse=False):
    """The LSTM recurrence, one step at a time: gates [i, f, g, o] = x_proj[t] + h W^T + b."""
    h, c, hs = h0, c0, np.zeros(x_proj.shape[:2] + h0.shape[-1:])
    for t in (reversed if reverse else iter)(range(len(x_proj))):
        a = x_proj[t] + h @ w_hh.T + (0 if b_hh is None else b_hh)
        i, f, g, o = np.split(a, 4, axis=-1)
        c = np_sigmoid(f) * c + np_sigmoid(i) * np.tanh(g)
        h = hs[t] = np_sigmoid(o) * np.tanh(c)
    return hs, h, c


def np_gru_layer(x_proj, w_hh, b_hh, h0, reverse=False):
    """GRU: r, z = sigmoid(x_r + h_r, x_z + h_z); n = tanh(x_n + r hn); h = (1 - z) n + z h."""
    h, hs = h0, np.zeros(x_proj.shape[:2] + h0.shape[-1:])
    for t in (reversed if reverse else iter)(range(len(x_proj))):
        hr, hz, hn = np.split(h @ w_hh.T + (0 if b_hh is None else b_hh), 3, axis=-1)
        xr, xz, xn = np.split(x_proj[t], 3, axis=-1)
        r, z = np_sigmoid(xr + hr), np_sigmoid(xz + hz)
        n = np.tanh(xn + r * hn)
        h = hs[t] = (1 - z) * n + z * h
    return hs, h


def np_rnn_layer(x_proj, w_hh, b_hh, h0, reverse=False, relu=False):
    h, hs = h0, np.zeros(x_proj.shape[:2] + h0.shape[-1:])
    for t in (reversed if reverse else iter)(range(len(x_proj))):
        a = x_proj[t] + h @ w_hh.T + (0 if b_hh is None else b_hh)
        h = hs[t] = np.maximum(a, 0) if relu else np.tanh(a)
    return hs, h


op("lstm_layer", lambda *a, **kw: tuple(ember.ops.rnn.lstm_layer(*a, **kw)),
   [S(U((3, 2, 8)), U((8, 2)), U((8,)), U((2, 2)), U((2, 2)), reverse=False),
    S(U((3, 2, 8)), U((8, 2)), None, U((2, 2)), U((2, 2)), reverse=True),
    S(U((4, 1, 12)), U((12, 3)), U((12,)), U((1, 3)), U((1, 3)), reverse=False, nc=True)],
   np_lstm_layer, once_differentiable=_RNN_ONCE)
op("gru_layer", lambda *a, **kw: tuple(ember.ops.rnn.gru_layer(*a, **kw)),
   [S(U((3, 2, 6)), U((6, 2)), U((6,)), U((2, 2)), reverse=False),
    S(U((3, 2, 6)), U((6, 2)), None, U((2, 2)), reverse=True)],
   np_gru_layer, once_differentiable=_RNN_ONCE)
op("rnn_layer", lambda *a, **kw: tuple(ember.ops.rnn.rnn_layer(*a, **kw)),
   [S(U((3, 2, 2)), U((2, 2)), U((2,)), U((2, 2)), reverse=False, relu=False),
    S(U((3, 2, 2), kinks=(0.0,)), U((2, 2), 0.2, 0.6), None, U((2, 2), 0.2, 1.0), reverse=True,
      relu=True)],
   np_rnn_layer, once_differentiable=_RNN_ONCE)

# ---- normalisation and embedding
op("layer_norm", lambda x, w, b, shape: F.layer_norm(x, shape, w, b),
   [S(U((3, 4, 6)), U((6,)), U((6,)), shape=(6,)), S(U((2, 3, 4)), U((3, 4)), U((3, 4)),
                                                     shape=(3, 4)),
    S(U((3, 5)), None, None, shape=(5,)), S(U((4, 6)), U((6,)), U((6,)), shape=(6,), nc=True),
    S(U((1, 1)), U((1,)), U((1,)), shape=(1,)),
    # the fused LayerNorm: rows longer than a warp, more rows than one column-sum chunk
    S(U((3, 50, 200), -3, 5), U((200,)), U((200,)), shape=(200,), extra=True),
    # a large mean and a small spread: float sums over the row would lose the spread
    S(U((4, 300), 1e3, 1e3 + 1), None, None, shape=(300,), extra=True),
    S(U((4, 9, 7)), None, None, shape=(7,), nc=True, name="no affine, strided"),
    S(U((3, 0)), None, None, shape=(0,), name="empty rows", extra=True)],
   lambda x, w, b, shape: np_layer_norm(x, shape, w, b),
   lambda x, w, b, shape: TF.layer_norm(x, shape, w, b), tol32=5e-5)
op("group_norm", lambda x, w, b, groups: F.group_norm(x, groups, w, b),
   [S(U((2, 4, 3, 3)), U((4,)), U((4,)), groups=2), S(U((2, 6, 5)), None, None, groups=3),
    S(U((2, 4, 3)), U((4,)), U((4,)), groups=4, nc=True)],
   lambda x, w, b, groups: np_group_norm(x, groups, w, b),
   lambda x, w, b, groups: TF.group_norm(x, groups, w, b), tol32=5e-5)
op("batch_norm_train", lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
   [S(U((4, 3, 2, 2)), U((3,)), U((3,))), S(U((6, 5)), None, None),
    S(U((4, 3)), U((3,)), U((3,)), nc=True)],
   np_batch_norm_train,
   lambda x, w, b: TF.batch_norm(x, None, None, w, b, training=True), tol32=5e-5)
op("embedding", lambda w, i, padding_idx: F.embedding(i, w, padding_idx=padding_idx),
   [S(U((6, 4)), _i64([[0, 2, 5], [5, 1, 0]]), padding_idx=None),
    S(U((5, 3)), _i64([4, 4, 1]), padding_idx=None),
    # the padding row gets no gradient by definition, so no finite differences
    S(U((6, 4)), _i64([[0, 2, 5], [5, 1, 0]]), padding_idx=0, extra=True)],
   lambda w, i, padding_idx: w[i],
   lambda w, i, padding_idx: TF.embedding(i, w, padding_idx=padding_idx))

# ---- losses (targets are constants: the gradient is the input's)
_P = dict(low=0.02, high=0.98)
for _red in ("mean", "sum", "none"):
    op(f"mse_loss_{_red}", (lambda r: lambda a, b: F.mse_loss(a, b, reduction=r))(_red),
       [S(U((4, 3)), U((4, 3)))], (lambda r: lambda a, b: np_reduce((a - b) ** 2, r))(_red),
       (lambda r: lambda a, b: TF.mse_loss(a, b, reduction=r))(_red))
    op(f"l1_loss_{_red}", (lambda r: lambda a, b: F.l1_loss(a, b, reduction=r))(_red),
       [S(U((4, 3), kinks=(0,)), np.zeros((4, 3)))],
       (lambda r: lambda a, b: np_reduce(np.abs(a - b), r))(_red),
       (lambda r: lambda a, b: TF.l1_loss(a, b, reduction=r))(_red))
op("huber_loss", lambda a, b, delta: F.huber_loss(a, b, delta=delta),
   [S(U((4, 3), -1, 1, kinks=(0.5, -0.5)), np.zeros((4, 3)), delta=0.5),
    S(U((4, 3), -1, 1, kinks=(0.7, -0.7)), np.zeros((4, 3)), delta=0.7)],
   lambda a, b, delta: np_huber(a, b, delta=delta),
   lambda a, b, delta: TF.huber_loss(a, b, delta=delta))
op("smooth_l1_loss", lambda a, b, beta: F.smooth_l1_loss(a, b, reduction="none", beta=beta),
   [S(U((4, 3), -2, 2, kinks=(1.0, -1.0)), np.zeros((4, 3)), beta=1.0),
    S(U((4, 3), -1, 1, kinks=(0.7, -0.7)), np.zeros((4, 3)), beta=0.7)],
   lambda a, b, beta: np_smooth_l1(a, b, "none", beta),
   lambda a, b, beta: TF.smooth_l1_loss(a, b, reduction="none", beta=beta))
op("cross_entropy", lambda x, y: F.cross_entropy(x, y),
   [S(U((5, 4)), _i64([0, 3, 1, 1, 2])), S(U((5, 4), -1e4, 1e4), _i64([0, 3, 1, 1, 2]),
                                         name="huge logits", extra=True),
    S(U((4, 3)), _i64([2, 0, 1, 2]), nc=True)],
   lambda x, y: ce_reference(x, y), lambda x, y: TF.cross_entropy(x, y))
op("cross_entropy_weight_ignore_smooth",
   lambda x, y, w, smoothing, ignore: F.cross_entropy(x, y, weight=w, ignore_index=ignore,
                                                      label_smoothing=smoothing),
   [S(U((6, 4)), _i64([0, 3, 2, 1, 2, 3]), U((4,), 0.5, 3.0), smoothing=0.1, ignore=2),
    S(U((6, 4)), _i64([0, 3, 2, 1, 2, 3]), U((4,), 0.5, 3.0), smoothing=0.0, ignore=-100)],
   lambda x, y, w, smoothing, ignore: ce_reference(x, y, w, ignore, smoothing),
   lambda x, y, w, smoothing, ignore: TF.cross_entropy(x, y, weight=w, ignore_index=ignore,
                                                       label_smoothing=smoothing),
   grad_args=(0,))
op("cross_entropy_constant_weight_ignore",  # the one-node NLL (a weight without grad)
   lambda x, y: F.cross_entropy(x, y, ignore_index=1, weight=ember.tensor(
       [0.5, 2.0, 1.0, 3.0], dtype=x.dtype, device=x.device)),
   [S(U((6, 4)), _i64([0, 1, 3, 2, 1, 3]))],
   lambda x, y: ce_reference(x, y, np.array([0.5, 2.0, 1.0, 3.0]), 1),
   lambda x, y: TF.cross_entropy(x, y, ignore_index=1, weight=torch.tensor(
       [0.5, 2.0, 1.0, 3.0], dtype=x.dtype)))
op("cross_entropy_probabilities", lambda x, t: F.cross_entropy(x, t),
   [S(U((3, 5)), U((3, 5), **_P))],
   lambda x, t: -(t * np_log_softmax(x, 1)).sum(1).mean(),
   lambda x, t: TF.cross_entropy(x, t), grad_args=(0,))
op("cross_entropy_spatial", lambda x, y: F.cross_entropy(x, y),
   [S(U((2, 3, 4, 2)), np.random.default_rng(15).integers(0, 3, (2, 4, 2)))],
   lambda x, y: ce_reference(np.moveaxis(x, 1, -1).reshape(-1, x.shape[1]), y.reshape(-1)),
   lambda x, y: TF.cross_entropy(x, y))
op("nll_loss", lambda x, y: F.nll_loss(F.log_softmax(x, 1), y),
   [S(U((4, 3)), _i64([2, 0, 1, 2]))], lambda x, y: ce_reference(x, y),
   lambda x, y: TF.nll_loss(TF.log_softmax(x, 1), y))
op("binary_cross_entropy", lambda p, t: F.binary_cross_entropy(p, t),
   [S(U((4, 3), **_P), U((4, 3), **_P))],
   lambda p, t: np.mean(-(t * np.log(p) + (1 - t) * np.log(1 - p))),
   lambda p, t: TF.binary_cross_entropy(p, t), grad_args=(0,))
op("binary_cross_entropy_with_logits",
   lambda x, t, pw: F.binary_cross_entropy_with_logits(x, t, pos_weight=pw),
   [S(U((4, 3)), U((4, 3), **_P), U((3,), 0.5, 3.0)), S(U((4, 3)), U((4, 3), **_P), None),
    S(U((4, 3), -1e4, 1e4), U((4, 3), **_P), U((3,), 0.5, 3.0), name="huge logits",
      extra=True)],
   np_bce_with_logits,
   lambda x, t, pw: TF.binary_cross_entropy_with_logits(x, t, pos_weight=pw), grad_args=(0,))
op("kl_div", lambda x, t: F.kl_div(F.log_softmax(x, 1), t, reduction="batchmean"),
   [S(U((3, 4)), U((3, 4), **_P))],
   lambda x, t: (t * (np.log(t) - np_log_softmax(x, 1))).sum() / x.shape[0],
   lambda x, t: TF.kl_div(TF.log_softmax(x, 1), t, reduction="batchmean"), grad_args=(0,))

# ---- integer and bool paths of the elementwise, comparison and reduction kernels
_A, _B = _i64([7, -7, 5, -5, 0, 3]), _i64([2, 2, -3, -3, 4, 1])
op("int_arithmetic", lambda a, b: ember.stack([a // b, a + b, a * b, ember.maximum(a, b), a - b,
                                               a ** b.abs(), ember.abs(a)]),
   [S(_A, _B, name="signs"), S(_i64([3, -2, 5, 0, -1, 7]), _i64([2, 3, 1, 4, 5, 1]),
                               name="powers")],
   lambda a, b: np.stack([a // b, a + b, a * b, np.maximum(a, b), a - b, a ** np.abs(b),
                          np.abs(a)]),
   lambda a, b: torch.stack([a // b, a + b, a * b, torch.maximum(a, b), a - b, a ** b.abs(),
                             a.abs()]),
   dtypes=("int64",), differentiable=False)
_M = np.array([True, False, True, False])
_N = np.array([False, False, True, True])
op("logical", lambda a, b: ember.stack([~a, a & b, a | b, a ^ b, ember.logical_not(a),
                                        ember.logical_xor(a, b), ember.logical_or(a, b),
                                        ember.logical_and(a, b)]),
   [S(_M, _N)],
   lambda a, b: np.stack([~a, a & b, a | b, a ^ b, ~a, a ^ b, a | b, a & b]),
   lambda a, b: torch.stack([~a, a & b, a | b, a ^ b, ~a, a ^ b, a | b, a & b]),
   dtypes=("bool",), differentiable=False)
op("logical_numbers", lambda a, b: ember.stack([ember.logical_xor(a > 0, b > 0),
                                                ember.logical_or(a > 1, b < 0),
                                                ember.logical_and(a, b)]),
   [S(_i64([3, -2, 5, 0, -1, 7]), _i64([2, 3, 0, -4, 5, 1]))],
   lambda a, b: np.stack([np.logical_xor(a > 0, b > 0), np.logical_or(a > 1, b < 0),
                          np.logical_and(a, b)]),
   lambda a, b: torch.stack([torch.logical_xor(a > 0, b > 0), torch.logical_or(a > 1, b < 0),
                             torch.logical_and(a, b)]),
   dtypes=("int64",), differentiable=False)
op("int_bool_sum", lambda a, dim: a.sum(dim),
   [S(np.array([[True, False], [True, True]]), dim=0), S(_M, dim=None),
    S(_i64([[1, 2, 3], [4, 5, 6]]), dim=0), S(_i64([[1, 2, 3], [4, 5, 6]]), dim=None)],
   lambda a, dim: np.sum(a, axis=dim, dtype=np.int64),
   lambda a, dim: a.sum(dim) if dim is not None else a.sum(),
   dtypes=("int64",), differentiable=False)
_CMP = np.array([[1.0, 2.0, np.nan], [3.0, 3.0, 0.0]]), np.array([2.0, 2.0, 0.0])
for _name, _np in (("eq", np.equal), ("ne", np.not_equal), ("lt", np.less),
                   ("le", np.less_equal), ("gt", np.greater), ("ge", np.greater_equal)):
    op(_name, (lambda n: lambda a, b: getattr(ember, n)(a, b))(_name),
       [S(*_CMP, name="with nan"),
        S(np.random.default_rng(1).integers(-2, 3, (3, 4)).astype(float),
          np.random.default_rng(2).integers(-2, 3, (4,)).astype(float), name="ties broadcast"),
        S(np.random.default_rng(3).integers(-2, 3, (2, 1, 3)).astype(float),
          np.random.default_rng(4).integers(-2, 3, (4, 1)).astype(float), name="broadcast 3d"),
        S(np.random.default_rng(5).integers(-2, 3, (3, 4)).astype(float), 0.0, name="scalar")],
       _np, (lambda n: lambda a, b: getattr(torch, n)(a, b))(_name), differentiable=False)
for _name in ("isnan", "isinf", "isfinite"):
    op(_name, getattr(ember, _name),
       [S(np.array([[0.0, np.nan, np.inf], [-np.inf, -1.5, 1e30]]))],
       getattr(np, _name), (lambda n: lambda *a: getattr(torch, n)(*a))(_name),
       differentiable=False)

# ---- flat almost everywhere: values only (no gradient by definition)
for _name in ("ceil", "floor", "round", "sign"):
    op(_name, getattr(ember, _name), unary(-3, 3) + [S(np.array([-1.5, -0.5, 0.0, 0.5, 2.5]),
                                                        name="halves")],
       getattr(np, _name), (lambda n: lambda *a: getattr(torch, n)(*a))(_name),
       differentiable=False)
op("floor_divide", ember.floor_divide, binary(-5, 5, bkinks=(0.0,), bgap=0.5), np.floor_divide,
   lambda a, b: torch.floor_divide(a, b), differentiable=False)
for _name in ("all", "any"):
    op(_name, (lambda n: lambda x, dim, keepdim: getattr(ember, n)(x, dim, keepdim))(_name),
       [S(np.array([[0.0, 1.5, -2.0], [0.0, 0.0, 0.0], [1.0, 2.0, 3.0]]), dim=d, keepdim=k,
          name=f"dim={d} keepdim={k}") for d in (None, 0, 1, -1) for k in (False, True)]
       + [S(np.array([[0, 2], [0, 0]]), dim=1, keepdim=False, name="int64"),
          S(np.array([True, False]), dim=None, keepdim=False, name="bool")],
       (lambda n: lambda x, dim, keepdim: getattr(np, n)(x, axis=dim, keepdims=keepdim))(_name),
       (lambda n: lambda x, dim, keepdim: getattr(torch, n)(x) if dim is None and not keepdim
        else getattr(torch, n)(x, _torch_dims(x, dim), keepdim))(_name),
       differentiable=False)

# ---- the materialising attention (the fused kernels' reference, written with ember ops)
op("attention_reference", lambda q, k, v, mask=None, is_causal=False: ember.ops.attention_reference(
    q, k, v, attn_mask=mask, is_causal=is_causal),
   [S(U((2, 2, 5, 4)), U((2, 2, 6, 4)), U((2, 2, 6, 3))),
    S(U((1, 1, 3, 2)), U((1, 1, 3, 2)), U((1, 1, 3, 2)), is_causal=True),
    S(U((1, 2, 3, 4)), U((1, 2, 4, 4)), U((1, 2, 4, 4)),
      np.random.default_rng(90).random((3, 4)) > 0.3, name="bool mask")],
   lambda q, k, v, mask=None, is_causal=False: np_attention(q, k, v, mask, is_causal),
   lambda q, k, v, mask=None, is_causal=False: TF.scaled_dot_product_attention(
       q, k, v, attn_mask=mask, is_causal=is_causal))


# ---- added with issue 11: sorting, selection, triangles, windows, fused products
def _np_sort(x, dim=-1, descending=False):
    """Stable sort with PyTorch's order (NaN largest), values and indices."""
    if descending:
        n = x.shape[dim]
        idx = n - 1 - np.flip(np.argsort(np.flip(x, dim), axis=dim, kind="stable"), dim)
    else:
        idx = np.argsort(x, axis=dim, kind="stable")
    return np.take_along_axis(x, idx, dim), idx


def _np_unfold(x, dimension, size, step):
    dimension %= x.ndim
    n = x.shape[dimension]
    starts = range(0, n - size + 1, step)
    windows = [np.moveaxis(np.take(x, range(s, s + size), axis=dimension), dimension, -1)
               for s in starts]
    return np.stack(windows, axis=dimension)


def _np_scatter(x, dim, idx, src):
    out = x.copy()
    grids = np.indices(idx.shape, sparse=True)
    key = tuple(idx if a == dim else np.broadcast_to(g, idx.shape) for a, g in enumerate(grids))
    out[key] = src[tuple(slice(0, n) for n in idx.shape)] if np.ndim(src) else src
    return out


op("sort", lambda x, dim, descending: ember.sort(x, dim, descending).values,
   [S(U((3, 5), distinct=True), dim=d, descending=desc) for d in (0, 1, -1)
    for desc in (False, True)]
   + [S(U((4, 3), distinct=True), dim=0, descending=True, nc=True),
      S(U((0, 3)), dim=1, descending=False), S(U((6,), distinct=True), dim=0, descending=True)],
   lambda x, dim, descending: _np_sort(x, dim, descending)[0],
   lambda x, dim, descending: torch.sort(x, dim=dim, descending=descending, stable=True).values)
op("argsort", lambda x, dim, descending: ember.argsort(x, dim, descending),
   [S(U((3, 5), distinct=True), dim=1, descending=False),
    S(_i64([[3, 1, 3, 0], [2, 2, 2, 1]]), dim=1, descending=True, name="ties keep order"),
    S(np.array([[0.5, np.nan, -1.0, np.nan, 2.0]]), dim=1, descending=False, name="nan last"),
    S(np.array([[0.5, np.nan, -1.0, np.nan, 2.0]]), dim=1, descending=True, name="nan first")],
   lambda x, dim, descending: _np_sort(x, dim, descending)[1],
   lambda x, dim, descending: torch.argsort(x, dim=dim, descending=descending, stable=True),
   differentiable=False, dtypes=("float64", "int64"))
op("topk", lambda x, k, dim, largest: ember.topk(x, k, dim, largest).values,
   [S(U((3, 6), distinct=True), k=k, dim=d, largest=lg) for k, d in ((2, 1), (3, 0), (1, -1))
    for lg in (True, False)]
   + [S(U((5, 4), distinct=True), k=2, dim=0, largest=True, nc=True),
      S(U((4, 3)), k=0, dim=0, largest=True)],
   lambda x, k, dim, largest: np.take(_np_sort(x, dim, largest)[0], range(k), axis=dim),
   lambda x, k, dim, largest: torch.topk(x, k, dim, largest).values)
op("narrow", lambda x, dim, start, length: ember.narrow(x, dim, start, length),
   [S(U((4, 5)), dim=d, start=s, length=n) for d, s, n in ((0, 1, 2), (1, 0, 5), (-1, 3, 2),
                                                            (1, -2, 1), (0, 4, 0))]
   + [S(U((4, 5)), dim=1, start=1, length=3, nc=True)],
   lambda x, dim, start, length: np.take(x, range(start % x.shape[dim],
                                                 start % x.shape[dim] + length), axis=dim),
   lambda x, dim, start, length: torch.narrow(x, dim, start, length))
op("scatter", lambda x, i, s, dim: ember.scatter(x, dim, i, s),
   [S(U((3, 4)), _i64([[0, 1, 2, 0]]), U((1, 4)), dim=0),
    S(U((3, 4)), _i64([[3, 0], [1, 2], [0, 3]]), U((3, 3)), dim=1, name="src larger"),
    S(U((4, 3)), _i64([[1, 0, 3]]), U((2, 3)), dim=0, nc=True)],
   lambda x, i, s, dim: _np_scatter(x, dim, i, s),
   # PyTorch's backward needs src cut to the index's shape (the rest gets no gradient)
   lambda x, i, s, dim: torch.scatter(x, dim, i, s[tuple(slice(0, n) for n in i.shape)]))
op("scatter_value", lambda x, i, dim, value: ember.scatter(x, dim, i, value=value),
   [S(U((3, 4)), _i64([[2, 0, 1, 2]]), dim=0, value=-1.5)],
   lambda x, i, dim, value: _np_scatter(x, dim, i, value),
   lambda x, i, dim, value: torch.scatter(x, dim, i, value))
op("index_add", lambda x, i, s, dim, alpha: ember.index_add(x, dim, i, s, alpha=alpha),
   [S(U((4, 3)), _i64([0, 2, 0]), U((3, 3)), dim=0, alpha=1),
    S(U((3, 5)), _i64([4, 4, 1]), U((3, 3)), dim=1, alpha=-2.0, name="repeats add up"),
    S(U((4, 3)), _i64([3]), U((1, 3)), dim=0, alpha=1, nc=True)],
   lambda x, i, s, dim, alpha: (lambda out: (np.add.at(out, (slice(None),) * dim + (i,),
                                                      alpha * s), out)[1])(x.copy()),
   lambda x, i, s, dim, alpha: torch.index_add(x, dim, i, s, alpha=alpha))
_TRI_SAMPLES = ([S(U((4, 5)), diagonal=k) for k in (0, 1, -2)]
                + [S(U((2, 3, 3)), diagonal=0), S(U((5, 4)), diagonal=1, nc=True),
                   S(U((0, 3)), diagonal=0)])
op("tril", lambda x, diagonal: ember.tril(x, diagonal), _TRI_SAMPLES,
   lambda x, diagonal: np.tril(x, diagonal), lambda x, diagonal: torch.tril(x, diagonal))
op("triu", lambda x, diagonal: ember.triu(x, diagonal), _TRI_SAMPLES,
   lambda x, diagonal: np.triu(x, diagonal), lambda x, diagonal: torch.triu(x, diagonal))
op("unfold", lambda x, dimension, size, step: x.unfold(dimension, size, step),
   [S(U((3, 7)), dimension=1, size=3, step=2), S(U((6, 2)), dimension=0, size=2, step=1),
    S(U((2, 5, 3)), dimension=1, size=5, step=1), S(U((4, 6)), dimension=-1, size=2, step=3,
                                                    nc=True)],
   _np_unfold, lambda x, dimension, size, step: x.unfold(dimension, size, step))
op("addmm", lambda c, a, b, beta, alpha: ember.addmm(c, a, b, beta=beta, alpha=alpha),
   [S(U((3, 2)), U((3, 4)), U((4, 2)), beta=1, alpha=1),
    S(U((2,)), U((3, 4)), U((4, 2)), beta=0.5, alpha=-2.0, name="broadcast input"),
    S(U((3, 2)), U((3, 4)), U((4, 2)), beta=0, alpha=1, name="beta 0")],
   lambda c, a, b, beta, alpha: (beta * c if beta else 0) + alpha * (a @ b),
   # with beta = 0 PyTorch gives input a zero gradient, ember none (input is not used)
   lambda c, a, b, beta, alpha: NotImplemented if beta == 0 else
   torch.addmm(c, a, b, beta=beta, alpha=alpha))
op("baddbmm", lambda c, a, b, beta, alpha: ember.baddbmm(c, a, b, beta=beta, alpha=alpha),
   [S(U((2, 3, 2)), U((2, 3, 4)), U((2, 4, 2)), beta=1, alpha=1),
    S(U((2, 3, 2)), U((2, 3, 4)), U((2, 4, 2)), beta=2.0, alpha=0.5, nc=True)],
   lambda c, a, b, beta, alpha: beta * c + alpha * (a @ b),
   lambda c, a, b, beta, alpha: torch.baddbmm(c, a, b, beta=beta, alpha=alpha))
op("logaddexp", ember.logaddexp, binary(-3.0, 3.0)
   + [S(np.array([1000.0, -1000.0, 0.5]), np.array([1000.0, 3.0, -0.5]), name="large"),
      S(np.array([-np.inf, np.inf, 0.0]), np.array([-np.inf, np.inf, -np.inf]), name="inf",
        extra=True)],
   np.logaddexp, lambda a, b: torch.logaddexp(a, b))


# ---- einsum (every equation lowers to permute / reshape / diagonal / sum / mul / matmul)
def np_einsum(equation, *xs):
    """np.einsum, except that an explicit output without '...' sums the '...' dimensions
    (PyTorch's rule; NumPy refuses the equation)."""
    lhs, arrow, rhs = equation.replace(" ", "").partition("->")
    if arrow and "..." in lhs and "..." not in rhs:
        y = np.einsum(f"{lhs}->...{rhs}", *xs)
        return y.sum(axis=tuple(range(y.ndim - len(rhs))))
    return np.einsum(equation, *xs)


op("einsum", lambda eq, *xs: ember.einsum(eq, *xs),
   [S("ij,jk->ik", U((2, 3)), U((3, 4)), name="matmul"),
    S("bij,bjk->bik", U((2, 3, 4)), U((2, 4, 2)), name="batch matmul"),
    S("bij,bjk->bik", U((2, 3, 4)), U((2, 4, 2)), nc=True, name="batch matmul noncontig"),
    S("bhqd,bhkd->bhqk", U((2, 2, 3, 4)), U((2, 2, 5, 4)), name="attention scores"),
    S("i,j->ij", U((3,)), U((4,)), name="outer"),
    S("i,i", U((5,)), U((5,)), name="dot implicit"),
    S("ij,j", U((2, 3)), U((3,)), name="matrix-vector implicit"),
    S("ii", U((3, 3)), name="trace implicit"),
    S("ii->i", U((3, 3)), name="diagonal"),
    S("bii->bi", U((2, 3, 3)), name="batch diagonal"),
    S("iii->i", U((3, 3, 3)), name="diagonal of a cube"),
    S("ij->ji", U((2, 3)), name="transpose"),
    S("ba", U((2, 3)), name="implicit output sorted"),
    S("bA,ca", U((2, 3)), U((4, 5)), name="upper case sorts first"),
    S("ij->", U((2, 3)), name="sum all"),
    S("ijk->j", U((2, 3, 4)), name="sum some"),
    S("bn,anm,bm->ba", U((2, 3)), U((4, 3, 5)), U((2, 5)), name="bilinear"),
    S("ij,jk,kl->il", U((2, 3)), U((3, 4)), U((4, 2)), name="three operands"),
    S("...ij,...jk->...ik", U((2, 1, 3, 4)), U((5, 4, 2)), name="ellipsis broadcast"),
    S("...ij->ij", U((2, 3, 4)), name="ellipsis summed"),
    S("i...->...", U((2, 3, 4)), name="ellipsis kept"),
    S("ij,ij->ij", U((1, 3)), U((2, 3)), name="size-1 broadcast"),
    S("aij,jk->aik", U((2, 1, 3)), U((1, 4)), name="size-1 broadcast of a summed letter"),
    S("ij,jk->ik", U((0, 3)), U((3, 4)), name="empty rows"),
    S("ij,jk->ik", U((2, 0)), U((0, 4)), name="empty summed dim"),
    S("ijk,jil->kl", U((2, 3, 4)), U((3, 2, 5)), name="two summed letters out of order"),
    S(" b i j , b j k -> b i k ", U((2, 2, 3)), U((2, 3, 2)), name="spaces"),
    S("ij,ij", U((2, 3)), U((2, 3)), name="elementwise implicit sum")],
   np_einsum, lambda eq, *xs: torch.einsum(eq, *xs))


# ---- products and distances (ops/products.py)
def np_cdist(x1, x2, p=2.0, compute_mode=None):
    d = np.abs(x1[..., :, None, :] - x2[..., None, :, :])
    if p == np.inf:
        return d.max(-1, initial=0.0)
    if p == 0:
        return (d != 0).sum(-1).astype(d.dtype)
    return (d ** p).sum(-1) ** (1 / p)


def np_cross(a, b, dim=None):
    shape = np.broadcast_shapes(a.shape, b.shape)
    return np.cross(a, b, axis=shape.index(3) if dim is None else dim)


op("tensordot", lambda a, b, dims: ember.tensordot(a, b, dims),
   [S(U((2, 3, 4)), U((3, 4, 2)), dims=2), S(U((2, 3, 4)), U((4, 2)), dims=1),
    S(U((2, 3)), U((2,)), dims=0), S(U((2, 3, 4)), U((4, 2, 3)), dims=([0, 2], [1, 0])),
    S(U((3, 4)), U((4, 3)), dims=([1], [0]), nc=True), S(U((0, 3)), U((3, 2)), dims=1)],
   lambda a, b, dims: np.tensordot(a, b, dims),
   lambda a, b, dims: torch.tensordot(a, b, dims))
op("inner", ember.inner, [S(U((2, 3)), U((4, 3))), S(U((5,)), U((5,))), S(U(()), U((2, 3))),
                          S(U((2, 1, 3)), U((3,))), S(U((3, 4)), U((2, 4)), nc=True)],
   np.inner, lambda a, b: torch.inner(a, b))
op("kron", ember.kron, [S(U((2, 3)), U((2, 2))), S(U((2, 3)), U((4,))), S(U((3,)), U((2, 1, 2))),
                        S(U((2, 3)), U((3, 2)), nc=True), S(U((0, 2)), U((2, 2)))],
   np.kron, lambda a, b: torch.kron(a, b))
op("ger", ember.ger, [S(U((3,)), U((4,)))], np.outer, lambda a, b: torch.ger(a, b))
op("cross", lambda a, b, dim: ember.cross(a, b, dim),
   [S(U((4, 3)), U((4, 3)), dim=1), S(U((3, 4)), U((3, 1)), dim=0, name="broadcast"),
    S(U((2, 3, 4)), U((1, 3, 4)), dim=-2), S(U((2, 3)), U((2, 3)), dim=None,
                                             name="first dim of size 3"),
    S(U((5, 3)), U((5, 3)), dim=-1, nc=True)],
   np_cross, lambda a, b, dim: torch.cross(a, b, dim=1 if dim is None else dim))
op("linalg_cross", lambda a, b: ember.linalg.cross(a, b), [S(U((2, 4, 3)), U((1, 4, 3)))],
   lambda a, b: np.cross(a, b), lambda a, b: torch.linalg.cross(a, b))
op("cdist", lambda a, b, **kw: ember.cdist(a, b, **kw),
   [S(U((3, 4)), U((5, 4)), p=2.0), S(U((2, 3, 4)), U((5, 4)), p=1.0, name="batch, p=1"),
    S(U((1, 3, 2)), U((2, 4, 2)), p=3.0), S(U((3, 2)), U((4, 2)), p=float("inf")),
    S(U((3, 2)), U((4, 2)), p=1.5, nc=True),
    S(U((26, 3)), U((4, 3)), p=2.0, name="p=2 on the GEMM (more than 25 rows)"),
    S(U((3, 3)), U((4, 3)), p=2.0, compute_mode="use_mm_for_euclid_dist", name="mm mode"),
    S(U((0, 3)), U((4, 3)), p=2.0)],
   np_cdist, lambda a, b, **kw: torch.cdist(a, b, **kw))
op("cdist_p0", lambda a, b: ember.cdist(a, b, p=0.0),
   [S(np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 0.0]]), np.array([[1.0, 3.0, 2.0]]))],
   lambda a, b: np_cdist(a, b, p=0.0), lambda a, b: torch.cdist(a, b, p=0.0),
   differentiable=False)


# ---- issue 12's ops: distinct values and counts, order statistics, NaN reductions, repeats
def np_unique(x, return_inverse=False, return_counts=False, dim=None):
    values, inverse, counts = np.unique(x, return_inverse=True, return_counts=True, axis=dim,
                                        equal_nan=False)
    inverse = inverse.reshape(x.shape if dim is None else -1)
    out = [values] + [inverse] * return_inverse + [counts] * return_counts
    return out[0] if len(out) == 1 else tuple(out)


def np_unique_consecutive(x, return_inverse=False, return_counts=False, dim=None):
    rows = x.reshape(-1, 1) if dim is None else np.moveaxis(x, dim, 0).reshape(x.shape[dim], -1)
    new = np.r_[True, (rows[1:] != rows[:-1]).any(1)] if len(rows) else np.zeros(0, bool)
    pick = x.reshape(-1)[new] if dim is None else np.compress(new, x, axis=dim)
    starts = np.flatnonzero(new)
    counts = np.diff(np.append(starts, len(rows)))
    inverse = (np.cumsum(new) - 1).reshape(x.shape if dim is None else -1)
    out = [pick] + [inverse] * return_inverse + [counts] * return_counts
    return out[0] if len(out) == 1 else tuple(out)


def np_kth(x, k, dim, keepdim=False):
    idx = np.take(np.argsort(x, axis=dim, kind="stable"), [k - 1], axis=dim)
    values = np.take_along_axis(x, idx, dim)
    return (values, idx) if keepdim else (values.squeeze(dim), idx.squeeze(dim))


def np_median(x, dim=None, keepdim=False):
    if dim is None:
        return np.sort(x.reshape(-1))[(x.size - 1) // 2]
    return np_kth(x, (x.shape[dim] + 1) // 2, dim, keepdim)


_UNIQUE_INT = np.array([[3, 1, 2], [1, 3, 2], [3, 1, 2], [0, 0, 5]])
op("unique", lambda x, **kw: ember.unique(x, **kw),
   [S(_UNIQUE_INT), S(_UNIQUE_INT, return_inverse=True, return_counts=True),
    S(_UNIQUE_INT, return_inverse=True, dim=0, name="rows"),
    S(_UNIQUE_INT, return_counts=True, dim=1, name="columns"),
    S(np.array([2.5, -1.0, 2.5, 0.0]), return_inverse=True, name="float"),
    S(np.zeros((0, 2), np.int64), return_counts=True, name="empty")],
   np_unique, lambda x, **kw: torch.unique(x, **kw), differentiable=False,
   dtypes=("int64", "float64"))
op("unique_consecutive", lambda x, **kw: ember.unique_consecutive(x, **kw),
   [S(_i64([1, 1, 2, 2, 3, 1, 1, 2]), return_inverse=True, return_counts=True),
    S(_UNIQUE_INT[[0, 2, 2, 1]], return_counts=True, dim=0, name="rows"),
    S(np.array([0.5, 0.5, -1.0]), name="float")],
   np_unique_consecutive, lambda x, **kw: torch.unique_consecutive(x, **kw),
   differentiable=False, dtypes=("int64", "float64"))
op("bincount", lambda i, w, minlength: ember.bincount(i, w, minlength),
   [S(_i64([0, 2, 2, 5]), None, minlength=0), S(_i64([1, 1, 3]), None, minlength=6),
    S(_i64([0, 2, 2, 5]), np.array([0.5, -1.0, 2.0, 3.0]), minlength=0, name="weights"),
    S(np.zeros(0, np.int64), None, minlength=2, name="empty")],
   lambda i, w, minlength: np.bincount(i, w, minlength),
   lambda i, w, minlength: torch.bincount(i, w, minlength), differentiable=False)
_ZEROS = np.array([[1.5, 0.0, 2.0], [0.0, 0.0, -3.0]])
op("argwhere", ember.argwhere, [S(_ZEROS), S(np.zeros((0, 3))), S(np.array(2.0))],
   np.argwhere, lambda x: torch.argwhere(x), differentiable=False)
op("nonzero_as_tuple", lambda x: ember.nonzero(x, as_tuple=True), [S(_ZEROS), S(np.zeros(4))],
   np.nonzero, lambda x: torch.nonzero(x, as_tuple=True), differentiable=False)
op("count_nonzero", lambda x, dim: ember.count_nonzero(x, dim),
   [S(_ZEROS, dim=None), S(_ZEROS, dim=0), S(_ZEROS, dim=(0, 1)), S(_ZEROS, dim=-1)],
   lambda x, dim: np.asarray(np.count_nonzero(x, axis=dim), np.int64),
   lambda x, dim: torch.count_nonzero(x, dim), differentiable=False)
op("cumprod", lambda x, dim: ember.cumprod(x, dim),
   [S(U((3, 4), 0.5, 1.5), dim=1), S(U((3, 4)), dim=0, nc=True),
    S(np.array([[1.5, 0.0, 2.0, -1.0], [0.0, 0.0, 3.0, 0.5]]), dim=1, name="zeros"),
    S(np.array([2.0, -0.5, 0.0, 3.0, 0.0]), dim=0, name="two zeros"), S(U((0, 3)), dim=1)],
   lambda x, dim: np.cumprod(x, axis=dim), lambda x, dim: torch.cumprod(x, dim))
op("repeat_interleave", lambda x, r, **kw: ember.repeat_interleave(x, r, **kw),
   [S(U((2, 3)), 2, dim=None), S(U((2, 3)), _i64([1, 0, 2]), dim=1, name="tensor repeats"),
    S(U((2, 3)), _i64([3, 1]), dim=0, output_size=4, name="output_size"),
    S(U((3, 2)), 2, dim=-1, nc=True)],
   lambda x, r, dim, output_size=None: np.repeat(x, r, axis=dim),
   lambda x, r, **kw: torch.repeat_interleave(x, r, **kw))
op("repeat_interleave_counts", lambda r: ember.repeat_interleave(r), [S(_i64([2, 0, 3]))],
   lambda r: np.repeat(np.arange(len(r)), r), lambda r: torch.repeat_interleave(r),
   differentiable=False, dtypes=("int64",))
op("tile", lambda x, dims: ember.tile(x, dims),
   [S(U((2, 3)), dims=(2, 1)), S(U((2, 3)), dims=(2,), name="fewer dims"),
    S(U((3,)), dims=(2, 2), name="more dims"), S(U((2, 3)), dims=(1, 2), nc=True)],
   lambda x, dims: np.tile(x, dims), lambda x, dims: torch.tile(x, dims))
op("one_hot", lambda i, num_classes: F.one_hot(i, num_classes),
   [S(_i64([0, 2, 1]), num_classes=-1), S(_i64([[0, 3], [1, 1]]), num_classes=5)],
   lambda i, num_classes: np.eye(num_classes if num_classes > 0 else i.max() + 1,
                                 dtype=np.int64)[i],
   lambda i, num_classes: TF.one_hot(i, num_classes), differentiable=False, dtypes=("int64",))
op("atan2", ember.atan2, binary(), np.arctan2, lambda y, x: torch.atan2(y, x))
op("hypot", ember.hypot, binary()
   + [S(np.array([1e30, 1e-30, 3.0]), np.array([1e30, 1e-30, -4.0]), name="extremes",
        extra=True)],
   np.hypot, lambda a, b: torch.hypot(a, b))
_NANS = np.array([[1.0, np.nan, -2.0], [np.nan, 0.5, 3.0]])
op("nansum", lambda x, dim, keepdim: ember.nansum(x, dim, keepdim),
   reduction() + [S(_NANS, dim=d, keepdim=False, name=f"nan dim {d}") for d in (None, 0, 1)],
   lambda x, dim, keepdim: np.nansum(x, axis=_np_dim(dim), keepdims=keepdim),
   lambda x, dim, keepdim: torch.nansum(x, _torch_dims(x, dim), keepdim))
op("nanmean", lambda x, dim, keepdim: ember.nanmean(x, dim, keepdim),
   [S(_NANS, dim=d, keepdim=k, name=f"nan dim {d} {k}") for d in (None, 0, 1)
    for k in (False, True)] + [S(U((2, 3)), dim=(0, 1), keepdim=False)],
   lambda x, dim, keepdim: np.nanmean(x, axis=_np_dim(dim), keepdims=keepdim),
   lambda x, dim, keepdim: torch.nanmean(x, _torch_dims(x, dim), keepdim))
op("kthvalue", lambda x, k, dim, keepdim: tuple(ember.kthvalue(x, k, dim, keepdim)),
   [S(U((3, 5), distinct=True), k=2, dim=1, keepdim=False),
    S(U((3, 5), distinct=True), k=3, dim=0, keepdim=True),
    S(U((4, 3), distinct=True), k=4, dim=0, keepdim=False, nc=True),
    S(U((2, 1), distinct=True), k=1, dim=1, keepdim=False)],
   np_kth, lambda x, k, dim, keepdim: tuple(torch.kthvalue(x, k, dim, keepdim)))
op("median", lambda x, **kw: ember.median(x, **kw) if "dim" not in kw
   else tuple(ember.median(x, **kw)),
   [S(U((3, 5), distinct=True)), S(U((4, 2), distinct=True), name="even count"),
    S(U((3, 4), distinct=True), dim=1), S(U((3, 4), distinct=True), dim=0, keepdim=True),
    S(U((5, 3), distinct=True), dim=-2, nc=True)],
   np_median, lambda x, **kw: torch.median(x) if "dim" not in kw
   else tuple(torch.median(x, **kw)))

OPS_BY_NAME = {e.name: e for e in OPS}
assert len(OPS_BY_NAME) == len(OPS), "duplicate op names in the table"

