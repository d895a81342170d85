"""Pooling and upsampling layers: MaxPool1d/2d, AvgPool1d/2d, AdaptiveAvgPool2d, Upsample.
They hold no parameters; each is its ``ember.nn.functional`` function with the arguments
fixed (PyTorch's names and defaults)."""

from __future__ import annotations

from ...tensor import Tensor
from .. import functional as F
from ..module import Module


def _check_rank(layer: str, x: Tensor, ranks: tuple, layout: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{layer}: expected a Tensor input, got {type(x).__name__}")
    if x.ndim not in ranks:
        want = " or ".join(f"{r}-d" for r in ranks)
        raise ValueError(f"{layer}: expected a {want} input {layout}, got shape {x.shape}")


class _MaxPoolNd(Module):
    """Max pooling; the 1-d and 2-d layers differ only in the functional they call and the
    input ranks they accept. ``stride`` defaults to ``kernel_size``."""

    _pool = None  # F.max_pool1d / F.max_pool2d
    _ranks: tuple = ()
    _layout = ""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride or kernel_size, padding
        self.dilation, self.return_indices, self.ceil_mode = dilation, return_indices, ceil_mode

    def forward(self, x: Tensor):
        _check_rank(type(self).__name__, x, self._ranks, self._layout)
        return type(self)._pool(x, self.kernel_size, self.stride, self.padding, self.dilation,
                                self.ceil_mode, self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """Max over windows of (N, C, L); ``stride`` defaults to ``kernel_size``."""

    _pool, _ranks, _layout = F.max_pool1d, (2, 3), "(C, L) or (N, C, L)"


class MaxPool2d(_MaxPoolNd):
    """Max over ``kernel_size`` windows of (N, C, H, W); ``stride`` defaults to the kernel."""

    _pool, _ranks, _layout = F.max_pool2d, (3, 4), "(C, H, W) or (N, C, H, W)"


class AvgPool1d(Module):
    """Mean over windows of (N, C, L)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride or kernel_size, padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, x: Tensor) -> Tensor:
        _check_rank("AvgPool1d", x, (2, 3), "(C, L) or (N, C, L)")
        return F.avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    """Mean over ``kernel_size`` windows of (N, C, H, W)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride or kernel_size, padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad
        self.divisor_override = divisor_override

    def forward(self, x: Tensor) -> Tensor:
        _check_rank("AvgPool2d", x, (3, 4), "(C, H, W) or (N, C, H, W)")
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed ``output_size`` whatever the input size (an int, or an
    (h, w) pair where None keeps that input size)."""

    def __init__(self, output_size) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        _check_rank("AdaptiveAvgPool2d", x, (3, 4), "(C, H, W) or (N, C, H, W)")
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class Upsample(Module):
    """Resize (N, C, L) or (N, C, H, W) to ``size`` or by ``scale_factor``; ``mode``
    'nearest', 'linear' or 'bilinear' (``align_corners`` for the linear modes)."""

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest",
                 align_corners: bool | None = None,
                 recompute_scale_factor: bool | None = None) -> None:
        super().__init__()
        self.size, self.scale_factor, self.mode = size, scale_factor, mode
        self.align_corners, self.recompute_scale_factor = align_corners, recompute_scale_factor

    def forward(self, x: Tensor) -> Tensor:
        _check_rank("Upsample", x, (3, 4), "(N, C, L) or (N, C, H, W)")
        return F.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners,
                             self.recompute_scale_factor)

    def extra_repr(self) -> str:
        what = f"size={self.size}" if self.size is not None else \
            f"scale_factor={self.scale_factor}"
        return f"{what}, mode={self.mode!r}"
