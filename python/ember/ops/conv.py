"""Convolutions: ``conv2d``, ``conv_transpose2d`` and their 1-d forms (a height-1 2-d call).

A convolution y = C(x, w) is bilinear, and its two partial adjoints are convolutions too:

    <C(x, w), dy> = <x, D(dy, w)> = <w, B(dy, x)>

with D = "backward-data" (the transposed convolution) and B = "backward-weight". So the
three ops below differentiate into each other, which keeps every derivative, including
second derivatives (gradgradcheck), on the native kernels:

    op                          d/d(first operand)        d/d(second operand)
    y  = C(x, w)                dx = D(g, w)              dw = B(g, x)
    dx = D(dy, w)   (x-shaped)  d dy = C(g, w)            dw = B(dy, g)
    dw = B(dy, x)   (w-shaped)  d dy = C(x, g)            dx = D(dy, g)

``conv_transpose2d(x, w)`` *is* D(x, w): the adjoint of the convolution whose input has
the transposed conv's output shape.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..autograd.function import Function
from ..tensor import Tensor
from .index import pad


# ---------------------------------------------------------------------------- arguments
def _ntuple(op: str, name: str, value, n: int = 2, minimum: int = 0) -> tuple:
    """An int or a sequence of ``n`` ints, as a tuple, each >= ``minimum``."""
    if isinstance(value, bool):
        raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    if isinstance(value, int):
        out = (value,) * n
    elif isinstance(value, Sequence) and len(value) == n and \
            all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        out = tuple(value)
    else:
        raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    if any(v < minimum for v in out):
        what = "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"{op}: {name} must be {what}, got {value!r}")
    return out


def _check_float_operands(op: str, x: Tensor, w: Tensor) -> None:
    if not isinstance(x, Tensor) or not isinstance(w, Tensor):
        raise TypeError(f"{op}: expected Tensors for input and weight, got "
                        f"{type(x).__name__} and {type(w).__name__}")
    if not x.dtype.is_floating_point or x.dtype is not w.dtype:
        raise TypeError(f"{op}: input and weight must have the same float dtype, got input "
                        f"{x.dtype} and weight {w.dtype}")
    if x.device != w.device:
        raise RuntimeError(f"{op}: input and weight must be on the same device, got "
                           f"{x.device} and {w.device}")


def _batched(op: str, x: Tensor, spatial: int, layout: str) -> tuple[Tensor, bool]:
    """Accept an unbatched input (one dim fewer) by adding a batch of 1."""
    if x.ndim == spatial + 1:
        return x.unsqueeze(0), True
    if x.ndim != spatial + 2:
        raise ValueError(f"{op}: expected a {spatial + 1}-d (unbatched) or {spatial + 2}-d "
                         f"input {layout}, got shape {x.shape}")
    return x, False


def _check_bias(op: str, bias: Tensor | None, channels: int, like: Tensor) -> None:
    if bias is None:
        return
    if not isinstance(bias, Tensor) or bias.shape != (channels,):
        got = bias.shape if isinstance(bias, Tensor) else type(bias).__name__
        raise ValueError(f"{op}: bias must have shape ({channels},) (one per output channel), "
                         f"got {got}")
    if bias.dtype is not like.dtype:
        raise TypeError(f"{op}: bias must have the weight's dtype {like.dtype}, got "
                        f"{bias.dtype}")


def _check_output(op: str, x: Tensor, weight: Tensor, stride: tuple, padding: tuple,
                  dilation: tuple) -> None:
    """The output is not empty: the dilated kernel fits in the padded input."""
    spans = [n + 2 * p - d * (k - 1) - 1 for n, k, p, d in
             zip(x.shape[2:], weight.shape[2:], padding, dilation)]
    if min(spans) < 0:
        out = [max(span // s + 1, 0) for span, s in zip(spans, stride)]
        raise ValueError(f"{op}: the output would be empty ({out[0]} x {out[1]}): the dilated "
                         f"kernel is larger than the padded input; input {x.shape}, weight "
                         f"{weight.shape}, padding {padding}, dilation {dilation}")


def _add_bias(op: str, y: Tensor, bias: Tensor | None) -> Tensor:
    _check_bias(op, bias, y.shape[1], y)
    return y if bias is None else y + bias.reshape((1, -1) + (1,) * (y.ndim - 2))


# ---------------------------------------------------------------------------- Functions
# params = (stride, padding, dilation, groups), each a pair of ints but groups.
class Conv2d(Function):
    # y = C(x, w) + b  ->  dx = D(g, w) (transposed conv),  dw = B(g, x),
    #                      db[c] = sum of g over the batch and the image (axes 0, 2, 3)
    # (the bias is added by the kernel itself: no separate broadcast add over y)
    @staticmethod
    def forward(ctx, x, w, b, params):
        ctx.params = params
        ctx.save_for_backward(x, w)
        return ctx.backend.conv2d(x, w, *params, bias=b)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        gx = ConvBackwardData.apply(g, w, x.shape, ctx.params) if ctx.needs_input_grad[0] \
            else None
        gw = ConvBackwardWeight.apply(g, x, w.shape, ctx.params) if ctx.needs_input_grad[1] \
            else None
        gb = g.sum((0, 2, 3)) if ctx.needs_input_grad[2] else None
        return gx, gw, gb, None


class ConvBackwardData(Function):
    # z = D(dy, w) (shape input_shape)  ->  d dy = C(g, w),  dw = B(dy, g)
    @staticmethod
    def forward(ctx, dy, w, input_shape, params):
        ctx.params = params
        ctx.save_for_backward(dy, w)
        return ctx.backend.conv2d_backward_data(dy, w, tuple(input_shape), *params)

    @staticmethod
    def backward(ctx, g):
        dy, w = ctx.saved_tensors
        gdy = Conv2d.apply(g, w, None, ctx.params) if ctx.needs_input_grad[0] else None
        gw = ConvBackwardWeight.apply(dy, g, w.shape, ctx.params) if ctx.needs_input_grad[1] \
            else None
        return gdy, gw, None, None


class ConvBackwardWeight(Function):
    # z = B(dy, x) (shape weight_shape)  ->  d dy = C(x, g),  dx = D(dy, g)
    @staticmethod
    def forward(ctx, dy, x, weight_shape, params):
        ctx.params = params
        ctx.save_for_backward(dy, x)
        return ctx.backend.conv2d_backward_weight(dy, x, tuple(weight_shape), *params)

    @staticmethod
    def backward(ctx, g):
        dy, x = ctx.saved_tensors
        gdy = Conv2d.apply(x, g, None, ctx.params) if ctx.needs_input_grad[0] else None
        gx = ConvBackwardData.apply(dy, g, x.shape, ctx.params) if ctx.needs_input_grad[1] \
            else None
        return gdy, gx, None, None


# ---------------------------------------------------------------------------- public ops
def _same_padding(op: str, x: Tensor, kernel: tuple, stride: tuple, dilation: tuple):
    """padding='same': total d (k - 1) per dim; an odd total puts the extra on the right
    (bottom), as PyTorch does, by padding the input explicitly. Returns (x, padding)."""
    if stride != (1, 1):
        raise ValueError(f"{op}: padding='same' is not supported for strided convolutions "
                         f"(stride={stride})")
    totals = [d * (k - 1) for d, k in zip(dilation, kernel)]
    if any(t % 2 for t in totals):
        x = pad(x, (0, totals[1] % 2, 0, totals[0] % 2))
    return x, (totals[0] // 2, totals[1] // 2)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """2-d cross-correlation of ``input`` (N, C_in, H, W) or (C_in, H, W) with ``weight``
    (C_out, C_in/groups, kH, kW), plus ``bias`` (C_out,). ``padding`` is an int, an
    (h, w) pair of zeros added on both sides, 'valid' (none) or 'same' (stride 1)."""
    op = "conv2d"
    _check_float_operands(op, input, weight)
    x, unbatched = _batched(op, input, 2, "(N, C_in, H, W)")
    if weight.ndim != 4:
        raise ValueError(f"{op}: expected a 4-d weight (C_out, C_in/groups, kH, kW), got shape "
                         f"{weight.shape}")
    if not isinstance(groups, int) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    stride = _ntuple(op, "stride", stride, 2, 1)
    dilation = _ntuple(op, "dilation", dilation, 2, 1)
    if x.shape[1] != weight.shape[1] * groups:
        raise ValueError(f"{op}: expected input with {weight.shape[1] * groups} channels "
                         f"(weight {weight.shape} with groups={groups}), got input of shape "
                         f"{input.shape}")
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0, 0)
        elif padding == "same":
            x, padding = _same_padding(op, x, weight.shape[2:], stride, dilation)
        else:
            raise ValueError(f"{op}: padding must be an int, a pair, 'valid' or 'same', got "
                             f"{padding!r}")
    padding = _ntuple(op, "padding", padding, 2, 0)
    _check_output(op, x, weight, stride, padding, dilation)
    _check_bias(op, bias, weight.shape[0], weight)
    y = Conv2d.apply(x, weight, bias, (stride, padding, dilation, groups))
    return y.squeeze(0) if unbatched else y


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """1-d cross-correlation of ``input`` (N, C_in, L) or (C_in, L) with ``weight``
    (C_out, C_in/groups, k): a conv2d on height-1 images."""
    op = "conv1d"
    _check_float_operands(op, input, weight)
    x, unbatched = _batched(op, input, 1, "(N, C_in, L)")
    if weight.ndim != 3:
        raise ValueError(f"{op}: expected a 3-d weight (C_out, C_in/groups, k), got shape "
                         f"{weight.shape}")
    if x.shape[1] != weight.shape[1] * groups:
        raise ValueError(f"{op}: expected input with {weight.shape[1] * groups} channels "
                         f"(weight {weight.shape} with groups={groups}), got input of shape "
                         f"{input.shape}")
    stride2 = (1, _one(op, "stride", stride))
    dilation2 = (1, _one(op, "dilation", dilation))
    padding2 = padding if isinstance(padding, str) else (0, _one(op, "padding", padding))
    _check_bias(op, bias, weight.shape[0], weight)
    y = conv2d(x.unsqueeze(2), weight.unsqueeze(2), bias, stride2, padding2, dilation2, groups)
    y = y.squeeze(2)
    return y.squeeze(0) if unbatched else y


def _one(op: str, name: str, value) -> int:
    """An int or a 1-tuple (the 1-d ops' arguments) as an int."""
    if isinstance(value, Sequence) and len(value) == 1:
        value = value[0]
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{op}: {name} must be an int or a 1-tuple, got {value!r}")
    return value


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """The transposed convolution (the adjoint of conv2d; "deconvolution") of ``input``
    (N, C_in, H, W) with ``weight`` (C_in, C_out/groups, kH, kW). The output is
    (N, C_out, OH, OW) with OH = (H - 1) stride - 2 padding + dilation (kH - 1)
    + output_padding + 1; ``output_padding`` (< stride or dilation) picks among the
    input sizes that a strided conv2d maps to the same output size."""
    op = "conv_transpose2d"
    _check_float_operands(op, input, weight)
    x, unbatched = _batched(op, input, 2, "(N, C_in, H, W)")
    if weight.ndim != 4:
        raise ValueError(f"{op}: expected a 4-d weight (C_in, C_out/groups, kH, kW), got shape "
                         f"{weight.shape}")
    if not isinstance(groups, int) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    stride = _ntuple(op, "stride", stride, 2, 1)
    padding = _ntuple(op, "padding", padding, 2, 0)
    dilation = _ntuple(op, "dilation", dilation, 2, 1)
    output_padding = _ntuple(op, "output_padding", output_padding, 2, 0)
    if x.shape[1] != weight.shape[0] or weight.shape[0] % groups:
        raise ValueError(f"{op}: expected input with {weight.shape[0]} channels (weight "
                         f"{weight.shape}, divisible by groups={groups}), got input of shape "
                         f"{input.shape}")
    for op_, s, d in zip(output_padding, stride, dilation):
        if op_ >= s and op_ >= d:
            raise ValueError(f"{op}: output_padding {output_padding} must be smaller than "
                             f"either stride {stride} or dilation {dilation}")
    out = [(n - 1) * s - 2 * p + d * (k - 1) + o + 1 for n, s, p, d, k, o in
           zip(x.shape[2:], stride, padding, dilation, weight.shape[2:], output_padding)]
    if min(out) < 1:
        raise ValueError(f"{op}: the output would be empty ({out[0]} x {out[1]}) for input "
                         f"{input.shape}, weight {weight.shape}, stride {stride}, padding "
                         f"{padding}")
    out_shape = (x.shape[0], weight.shape[1] * groups, out[0], out[1])
    y = ConvBackwardData.apply(x, weight, out_shape, (stride, padding, dilation, groups))
    y = _add_bias(op, y, bias)
    return y.squeeze(0) if unbatched else y


__all__ = ["conv1d", "conv2d", "conv_transpose2d", "Conv2d", "ConvBackwardData",
           "ConvBackwardWeight"]
