"""Convolution layers: Conv1d, Conv2d, ConvTranspose2d (PyTorch's parameter names, shapes
and initialisation, so a PyTorch ``state_dict`` loads as is)."""

from __future__ import annotations

import math

from ... import dtypes as _dt
from ...creation import empty
from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..module import Module
from ..parameter import Parameter

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _tuple(name: str, value, n: int, layer: str) -> tuple:
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,) * n
    if isinstance(value, (tuple, list)) and len(value) == n and \
            all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return tuple(value)
    raise TypeError(f"{layer}: {name} must be an int or a tuple of {n} ints, got {value!r}")


class _ConvNd(Module):
    """The shared part of the conv layers: arguments, parameters, initialisation and the
    input checks. ``n`` is the number of spatial dimensions."""

    n: int = 2
    transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride, padding,
                 dilation, groups: int, bias: bool, padding_mode: str, output_padding=0,
                 device=None, dtype=None) -> None:
        super().__init__()
        name, n = type(self).__name__, self.n
        if in_channels <= 0 or out_channels <= 0:
            raise ValueError(f"{name}: in_channels and out_channels must be positive, got "
                             f"{in_channels} and {out_channels}")
        if groups <= 0 or in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) and out_channels "
                             f"({out_channels}) must be divisible by groups ({groups})")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {_PADDING_MODES}, got "
                             f"{padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _tuple("kernel_size", kernel_size, n, name)
        self.stride = _tuple("stride", stride, n, name)
        self.dilation = _tuple("dilation", dilation, n, name)
        self.output_padding = _tuple("output_padding", output_padding, n, name)
        for what, values, least in (("kernel_size", self.kernel_size, 1),
                                    ("stride", self.stride, 1), ("dilation", self.dilation, 1),
                                    ("output_padding", self.output_padding, 0)):
            if min(values) < least:
                raise ValueError(f"{name}: {what} must be {'positive' if least else 'non-negative'}"
                                 f", got {values}")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{name}: padding must be an int, a tuple, 'same' or 'valid', "
                                 f"got {padding!r}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{name}: padding='same' is not supported for strided "
                                 f"convolutions (stride={self.stride})")
            self.padding = padding
        else:
            self.padding = _tuple("padding", padding, n, name)
        self.padding_mode = padding_mode
        if self.transposed and padding_mode != "zeros":
            raise ValueError(f"{name}: only padding_mode='zeros' is supported, got "
                             f"{padding_mode!r}")

        dt = _dt.as_dtype(dtype) if dtype is not None else None
        shape = ((in_channels, out_channels // groups) if self.transposed else
                 (out_channels, in_channels // groups)) + self.kernel_size
        self.weight = Parameter(empty(*shape, dtype=dt, device=device))
        if bias:
            self.bias = Parameter(empty(out_channels, dtype=dt, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # PyTorch's default: kaiming_uniform(a = sqrt 5) = U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        # for the weight, and the same bound for the bias.
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def _check_input(self, x: Tensor) -> None:
        name, n = type(self).__name__, self.n
        layout = "(N, C, L)" if n == 1 else "(N, C, H, W)"
        if not isinstance(x, Tensor):
            raise TypeError(f"{name}: expected a Tensor input, got {type(x).__name__}")
        if x.ndim not in (n + 1, n + 2):
            raise ValueError(f"{name}: expected a {n + 1}-d (unbatched) or {n + 2}-d input "
                             f"{layout}, got shape {x.shape}")
        c = x.shape[0] if x.ndim == n + 1 else x.shape[1]
        if c != self.in_channels:
            raise ValueError(f"{name}: expected input with {self.in_channels} channels "
                             f"(in_channels={self.in_channels}), got {c} channels in input of "
                             f"shape {x.shape}")

    def _explicit_pad(self, x: Tensor) -> tuple[Tensor, object]:
        """For padding_mode != 'zeros': pad x with that mode here and convolve unpadded."""
        if self.padding_mode == "zeros":
            return x, self.padding
        if self.padding == "valid":
            return x, 0
        if self.padding == "same":
            totals = [d * (k - 1) for d, k in zip(self.dilation, self.kernel_size)]
            pairs = [(t // 2, t - t // 2) for t in totals]
        else:
            pairs = [(p, p) for p in self.padding]
        widths = [w for pair in reversed(pairs) for w in pair]  # last dim first
        return F.pad(x, widths, mode=self.padding_mode), 0

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * self.n:
            s += f", padding={self.padding!r}" if isinstance(self.padding, str) else \
                f", padding={self.padding}"
        if self.dilation != (1,) * self.n:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self.n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode!r}"
        return s


class Conv1d(_ConvNd):
    """1-d convolution over (N, C_in, L): weight (out_channels, in_channels/groups, k),
    bias (out_channels,). ``padding``: int, 'valid' or 'same'; ``padding_mode``: 'zeros',
    'reflect', 'replicate' or 'circular'."""

    n = 1

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device=device, dtype=dtype)

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        x, padding = self._explicit_pad(x)
        if isinstance(padding, tuple):
            padding = padding[0]
        return F.conv1d(x, self.weight, self.bias, self.stride[0], padding, self.dilation[0],
                        self.groups)


class Conv2d(_ConvNd):
    """2-d convolution over (N, C_in, H, W): weight (out_channels, in_channels/groups, kH,
    kW), bias (out_channels,). ``padding``: int, (h, w), 'valid' or 'same';
    ``padding_mode``: 'zeros', 'reflect', 'replicate' or 'circular'."""

    n = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device=device, dtype=dtype)

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        x, padding = self._explicit_pad(x)
        return F.conv2d(x, self.weight, self.bias, self.stride, padding, self.dilation,
                        self.groups)


class ConvTranspose2d(_ConvNd):
    """Transposed 2-d convolution (the gradient of Conv2d wrt its input, used to upsample):
    weight (in_channels, out_channels/groups, kH, kW), bias (out_channels,). The output
    size is (H - 1) stride - 2 padding + dilation (kH - 1) + output_padding + 1; pass
    ``output_size`` to forward to pick output_padding from the size you want."""

    n = 2
    transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 padding_mode: str = "zeros", device=None, dtype=None) -> None:
        if isinstance(padding, str):
            raise ValueError(f"ConvTranspose2d: padding must be an int or a tuple, got "
                             f"{padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, output_padding, device=device,
                         dtype=dtype)

    def _output_padding(self, x: Tensor, output_size) -> tuple:
        if output_size is None:
            return self.output_padding
        size = tuple(output_size)[-2:]
        out = []
        for d in range(2):
            smallest = ((x.shape[-2 + d] - 1) * self.stride[d] - 2 * self.padding[d] +
                        self.dilation[d] * (self.kernel_size[d] - 1) + 1)
            extra = size[d] - smallest
            largest = smallest + max(self.stride[d], self.dilation[d]) - 1
            if not smallest <= size[d] <= largest:
                raise ValueError(f"ConvTranspose2d: requested output_size {tuple(size)} is not "
                                 f"reachable from input {x.shape}: dimension {d} must be in "
                                 f"[{smallest}, {largest}]")
            out.append(extra)
        return tuple(out)

    def forward(self, x: Tensor, output_size=None) -> Tensor:
        self._check_input(x)
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                  self._output_padding(x, output_size), self.groups,
                                  self.dilation)
