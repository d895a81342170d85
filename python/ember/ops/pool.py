"""Pooling and resampling: max/avg pooling (1-d and 2-d), adaptive average pooling and
``interpolate`` (nearest, (bi)linear). 1-d forms are height-1 2-d calls.

Each pooling op is linear in its input once the window choice is fixed, so its backward
is a linear map too (scatter for max, spread for the averages) whose own backward is the
forward map again: these pairs of Functions give exact second derivatives.

``interpolate`` is separable: (bi)linear resampling is a linear resample along H and then
along W, each made of two index_selects and a lerp, so autograd derives it for free.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..autograd.function import Function
from ..creation import tensor
from ..tensor import Tensor
from .conv import _ntuple, _one
from .index import Gather, index_select


# ---------------------------------------------------------------------------- helpers
def _pool_input(op: str, x: Tensor, spatial: int) -> tuple[Tensor, bool]:
    """(N, C, *spatial) as is, (C, *spatial) with a batch of 1 added; float only."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(x).__name__}")
    if not x.dtype.is_floating_point:
        raise TypeError(f"{op}: expected a float32 or float64 input, got {x.dtype}")
    layout = "(N, C, H, W)" if spatial == 2 else "(N, C, L)"
    if x.ndim == spatial + 1:
        return x.unsqueeze(0), True
    if x.ndim != spatial + 2:
        raise ValueError(f"{op}: expected a {spatial + 1}-d (unbatched) or {spatial + 2}-d "
                         f"input {layout}, got shape {x.shape}")
    return x, False


def _pool_out_size(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's pooling output size: windows that start inside the input or its left
    padding (ceil_mode rounds the count up, but drops a window starting in the right padding)."""
    span = n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)
    if span < 0:
        return 0
    out = span // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def _check_window(op: str, x: Tensor, k: tuple, s: tuple, p: tuple, d: tuple,
                  ceil_mode: bool) -> None:
    """The pooling window's semantic checks (the native boundary keeps only a safety net):
    padding of at most half the window, so no window lies wholly in the padding, and a
    non-empty output."""
    if any(pi > ki // 2 for pi, ki in zip(p, k)):
        raise ValueError(f"{op}: padding must be non-negative and at most half the kernel size, "
                         f"got padding {p} for kernel_size {k}")
    out = [_pool_out_size(n, *args, ceil_mode) for n, *args in zip(x.shape[2:], k, s, p, d)]
    if min(out) < 1:
        raise ValueError(f"{op}: the output would be empty ({out[0]} x {out[1]}) for input "
                         f"{x.shape}, kernel_size {k}, padding {p}, dilation {d}: the input is "
                         f"smaller than the window")


# ---------------------------------------------------------------------------- max
class MaxPool2d(Function):
    # y[o] = x[idx[o]] (the window's max)  ->  dx = scatter-add of g at idx.
    # Two outputs: the values and the int64 indices (which have no gradient).
    @staticmethod
    def forward(ctx, x, params):
        values, indices = ctx.backend.max_pool2d(x, *params)
        ctx.indices, ctx.in_shape = indices, x.shape
        return values, indices

    @staticmethod
    def backward(ctx, g, _g_indices):
        return MaxPool2dBackward.apply(g, ctx.indices, ctx.in_shape), None


class MaxPool2dBackward(Function):
    # dx = scatter(g at idx) is linear in g  ->  its adjoint: d g = gg[idx] (a gather)
    @staticmethod
    def forward(ctx, g, indices, in_shape):
        ctx.indices = indices
        return ctx.backend.max_pool2d_backward(g, indices, tuple(in_shape))

    @staticmethod
    def backward(ctx, gg):
        n, c, h, w = gg.shape
        idx = ctx.indices
        flat_idx = ctx.backend.reshape(idx, (n, c, -1))
        picked = Gather.apply(gg.reshape(n, c, h * w), 2, flat_idx)
        return picked.reshape(idx.shape), None, None


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """Max over ``kernel_size`` windows of (N, C, H, W) or (C, H, W). ``stride`` defaults
    to the kernel size; padding (at most half the kernel) never wins. With
    ``return_indices`` also returns the int64 flat position (h * W + w) of each max."""
    op = "max_pool2d"
    x, unbatched = _pool_input(op, input, 2)
    k = _ntuple(op, "kernel_size", kernel_size, 2, 1)
    s = k if stride is None or stride == [] else _ntuple(op, "stride", stride, 2, 1)
    p = _ntuple(op, "padding", padding, 2, 0)
    d = _ntuple(op, "dilation", dilation, 2, 1)
    _check_window(op, x, k, s, p, d, ceil_mode)
    y, idx = MaxPool2d.apply(x, (k, s, p, d, bool(ceil_mode)))
    if unbatched:
        y, idx = y.squeeze(0), idx.squeeze(0)
    return (y, idx) if return_indices else y


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """Max over windows of (N, C, L) or (C, L) (a height-1 max_pool2d)."""
    op = "max_pool1d"
    x, unbatched = _pool_input(op, input, 1)
    k = _one(op, "kernel_size", kernel_size)
    s = k if stride is None or stride == [] else _one(op, "stride", stride)
    out = max_pool2d(x.unsqueeze(2), (1, k), (1, s), (0, _one(op, "padding", padding)),
                     (1, _one(op, "dilation", dilation)), ceil_mode, return_indices=True)
    y, idx = out[0].squeeze(2), out[1].squeeze(2)
    if unbatched:
        y, idx = y.squeeze(0), idx.squeeze(0)
    return (y, idx) if return_indices else y


# ---------------------------------------------------------------------------- average
class AvgPool2d(Function):
    # y[o] = sum_{window} x / divisor  ->  dx = g[o] / divisor spread over each window
    @staticmethod
    def forward(ctx, x, params):
        ctx.params, ctx.in_shape = params, x.shape
        return ctx.backend.avg_pool2d(x, *params)

    @staticmethod
    def backward(ctx, g):
        return AvgPool2dBackward.apply(g, ctx.in_shape, ctx.params), None


class AvgPool2dBackward(Function):
    # dx = A^T g (A = the averaging map)  ->  its adjoint: d g = A gg (avg_pool2d again)
    @staticmethod
    def forward(ctx, g, in_shape, params):
        ctx.params = params
        return ctx.backend.avg_pool2d_backward(g, tuple(in_shape), *params)

    @staticmethod
    def backward(ctx, gg):
        return AvgPool2d.apply(gg, ctx.params), None, None


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """Mean over ``kernel_size`` windows of (N, C, H, W) or (C, H, W). Zero padding counts
    in the divisor when ``count_include_pad``; ``divisor_override`` replaces the divisor."""
    op = "avg_pool2d"
    x, unbatched = _pool_input(op, input, 2)
    k = _ntuple(op, "kernel_size", kernel_size, 2, 1)
    s = k if stride is None or stride == [] else _ntuple(op, "stride", stride, 2, 1)
    p = _ntuple(op, "padding", padding, 2, 0)
    if divisor_override is not None and (not isinstance(divisor_override, int) or
                                         divisor_override <= 0):
        raise ValueError(f"{op}: divisor_override must be a positive int, got "
                         f"{divisor_override!r}")
    _check_window(op, x, k, s, p, (1, 1), ceil_mode)
    y = AvgPool2d.apply(x, (k, s, p, bool(ceil_mode), bool(count_include_pad),
                            divisor_override))
    return y.squeeze(0) if unbatched else y


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """Mean over windows of (N, C, L) or (C, L) (a height-1 avg_pool2d)."""
    op = "avg_pool1d"
    x, unbatched = _pool_input(op, input, 1)
    k = _one(op, "kernel_size", kernel_size)
    s = k if stride is None or stride == [] else _one(op, "stride", stride)
    y = avg_pool2d(x.unsqueeze(2), (1, k), (1, s), (0, _one(op, "padding", padding)),
                   ceil_mode, count_include_pad).squeeze(2)
    return y.squeeze(0) if unbatched else y


class AdaptiveAvgPool2d(Function):
    # y = A x (fixed adaptive windows)  ->  dx = A^T g
    @staticmethod
    def forward(ctx, x, output_size):
        ctx.in_shape, ctx.output_size = x.shape, output_size
        return ctx.backend.adaptive_avg_pool2d(x, output_size)

    @staticmethod
    def backward(ctx, g):
        return AdaptiveAvgPool2dBackward.apply(g, ctx.in_shape), None


class AdaptiveAvgPool2dBackward(Function):
    # dx = A^T g  ->  d g = A gg
    @staticmethod
    def forward(ctx, g, in_shape):
        ctx.output_size = g.shape[2:]
        return ctx.backend.adaptive_avg_pool2d_backward(g, tuple(in_shape))

    @staticmethod
    def backward(ctx, gg):
        return AdaptiveAvgPool2d.apply(gg, tuple(ctx.output_size)), None


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Average pooling to a fixed ``output_size`` (an int, or an (h, w) pair where None
    keeps that input size): cell i covers [floor(i H / OH), ceil((i + 1) H / OH))."""
    op = "adaptive_avg_pool2d"
    x, unbatched = _pool_input(op, input, 2)
    if isinstance(output_size, Sequence) and len(output_size) == 2:
        output_size = tuple(x.shape[2 + i] if v is None else v
                            for i, v in enumerate(output_size))
    size = _ntuple(op, "output_size", output_size, 2, 1)
    y = AdaptiveAvgPool2d.apply(x, size)
    return y.squeeze(0) if unbatched else y


# ---------------------------------------------------------------------------- interpolate
def _source_positions(n_in: int, n_out: int, scale, mode: str, align_corners: bool, dtype):
    """For each output position along one axis: the input indices (i0, i1) and weights
    (1 - t, t) that PyTorch's upsampling kernels use, computed in the input's precision."""
    out = np.arange(n_out)
    if mode == "nearest":
        # PyTorch: src = dst // 2 for an exact 2x, else min(floor(dst * scale), n_in - 1)
        # with scale = 1/scale_factor or n_in/n_out, in float32
        if n_out == 2 * n_in:
            return out // 2, None, None
        r = np.float32(1.0 / scale) if scale else np.float32(n_in) / np.float32(n_out)
        i0 = np.minimum(np.floor(out.astype(np.float32) * r).astype(np.int64), n_in - 1)
        return i0, None, None
    if align_corners:  # the corner pixels' centres line up: src = dst (n_in - 1)/(n_out - 1)
        r = dtype((n_in - 1) / (n_out - 1)) if n_out > 1 else dtype(0)
        src = out.astype(dtype) * r
    else:  # pixel centres line up: src = (dst + 0.5) scale - 0.5, clamped at 0
        r = dtype(1.0 / scale) if scale else dtype(n_in) / dtype(n_out)
        src = np.maximum((out.astype(dtype) + dtype(0.5)) * r - dtype(0.5), dtype(0))
    i0 = np.minimum(src.astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    t = (src - i0).astype(dtype)
    return i0, i1, t


def _resample_axis(x: Tensor, axis: int, n_out: int, scale, mode: str, align_corners: bool):
    n_in = x.shape[axis]
    if n_out == n_in and mode == "nearest":  # PyTorch: the identity, whatever the scale
        return x
    i0, i1, t = _source_positions(n_in, n_out, scale, mode, align_corners,
                                  np.dtype(x.dtype.np).type)
    lo = index_select(x, axis, tensor(i0, device=x.device))
    if mode == "nearest":
        return lo
    hi = index_select(x, axis, tensor(i1, device=x.device))
    shape = [1] * x.ndim
    shape[axis] = n_out
    w = tensor(t.reshape(shape), dtype=x.dtype, device=x.device)
    return lo + (hi - lo) * w


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
                align_corners: bool | None = None,
                recompute_scale_factor: bool | None = None) -> Tensor:
    """Resize (N, C, L) or (N, C, H, W) to ``size`` or by ``scale_factor``.
    ``mode``: 'nearest', 'linear' (3-d) or 'bilinear' (4-d); ``align_corners`` (linear
    modes only) maps the corner pixels onto each other instead of the pixel centres."""
    op = "interpolate"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(input).__name__}")
    if input.ndim not in (3, 4):
        raise ValueError(f"{op}: expected a 3-d (N, C, L) or 4-d (N, C, H, W) input, got "
                         f"shape {input.shape}")
    if not input.dtype.is_floating_point:
        raise TypeError(f"{op}: expected a float input, got {input.dtype}")
    spatial = input.ndim - 2
    modes = {"nearest": (3, 4), "linear": (3,), "bilinear": (4,)}
    if mode not in modes:
        raise ValueError(f"{op}: mode must be one of {sorted(modes)}, got {mode!r}")
    if input.ndim not in modes[mode]:
        raise ValueError(f"{op}: mode {mode!r} expects a {modes[mode][0]}-d input, got shape "
                         f"{input.shape}")
    if mode == "nearest" and align_corners is not None:
        raise ValueError(f"{op}: align_corners can only be set with the linear modes "
                         "('linear', 'bilinear')")
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: give exactly one of size and scale_factor")
    if size is not None:
        sizes = _ntuple(op, "size", size, spatial, 1)
        scales = (None,) * spatial
    else:
        sf = scale_factor if isinstance(scale_factor, Sequence) else (scale_factor,) * spatial
        if len(sf) != spatial or any(not isinstance(v, (int, float)) or v <= 0 for v in sf):
            raise ValueError(f"{op}: scale_factor must be a positive number or {spatial} of "
                             f"them, got {scale_factor!r}")
        sizes = tuple(int(math.floor(n * float(v))) for n, v in zip(input.shape[2:], sf))
        if min(sizes) < 1:
            raise ValueError(f"{op}: scale_factor {scale_factor!r} gives an empty output "
                             f"{sizes} for input {input.shape}")
        scales = (None,) * spatial if recompute_scale_factor else tuple(float(v) for v in sf)
    x = input
    for i in range(spatial):
        x = _resample_axis(x, 2 + i, sizes[i], scales[i], mode if mode == "nearest" else
                           "linear", bool(align_corners))
    return x


def upsample(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
             align_corners: bool | None = None) -> Tensor:
    """Alias of ``interpolate`` (PyTorch's deprecated name)."""
    return interpolate(input, size, scale_factor, mode, align_corners)


__all__ = ["max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool2d",
           "interpolate", "upsample"]
