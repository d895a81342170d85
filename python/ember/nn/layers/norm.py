"""Normalisation layers: BatchNorm1d/2d, LayerNorm, GroupNorm.

All normalise (x - mean) / sqrt(var + eps) over some dimensions, then apply a learned
per-feature scale (weight, init 1) and shift (bias, init 0). They differ in *which*
dimensions the statistics are taken over:

- BatchNorm: per channel, over the batch (and spatial) dims; keeps running averages for
  eval mode.
- LayerNorm: per sample, over the last dims (``normalized_shape``).
- GroupNorm: per sample, over groups of channels (and spatial dims).

Written with differentiable ops, so the (rather long) backward formulas come from autograd
and second derivatives work.
"""

from __future__ import annotations

from ... import dtypes as _dt
from ...autograd.grad_mode import no_grad
from ...creation import ones, zeros
from ...tensor import Tensor
from .. import functional as F
from ..module import Module
from ..parameter import Parameter


class _BatchNorm(Module):
    _expected_dims: tuple = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        dt = _dt.as_dtype(dtype) if dtype is not None else None
        if affine:
            self.weight = Parameter(ones(num_features, dtype=dt, device=device))
            self.bias = Parameter(zeros(num_features, dtype=dt, device=device))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, dtype=dt, device=device))
            self.register_buffer("running_var", ones(num_features, dtype=dt, device=device))
            self.register_buffer("num_batches_tracked",
                                 zeros((), dtype=_dt.int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            with no_grad():
                self.running_mean.zero_()
                self.running_var.fill_(1.0)
                self.num_batches_tracked.zero_()

    def forward(self, x: Tensor) -> Tensor:
        name = type(self).__name__
        if x.ndim not in self._expected_dims:
            dims = " or ".join(f"{d}D" for d in self._expected_dims)
            raise ValueError(f"{name}: expected {dims} input (got {x.ndim}D input of shape "
                             f"{x.shape})")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{name}: expected {self.num_features} channels in dimension 1, got "
                             f"input of shape {x.shape}")
        momentum = self.momentum
        if self.training and self.track_running_stats:
            with no_grad():
                self.num_batches_tracked.add_(1)
            if momentum is None:  # cumulative moving average
                momentum = 1.0 / float(self.num_batches_tracked.item())
        use_batch_stats = self.training or not self.track_running_stats
        return F.batch_norm(
            x, self.running_mean if self.track_running_stats else None,
            self.running_var if self.track_running_stats else None, self.weight, self.bias,
            training=use_batch_stats, momentum=momentum or 0.0, eps=self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) input, per channel C."""

    _expected_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) input, per channel C."""

    _expected_dims = (4,)


class LayerNorm(Module):
    """Normalise each sample over its last ``len(normalized_shape)`` dimensions."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        dt = _dt.as_dtype(dtype) if dtype is not None else None
        if elementwise_affine:
            self.weight = Parameter(ones(self.normalized_shape, dtype=dt, device=device))
            if bias:
                self.bias = Parameter(zeros(self.normalized_shape, dtype=dt, device=device))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class GroupNorm(Module):
    """Normalise each sample over groups of ``num_channels // num_groups`` channels."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by "
                             f"num_groups ({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = (num_groups, num_channels,
                                                                     eps, affine)
        dt = _dt.as_dtype(dtype) if dtype is not None else None
        if affine:
            self.weight = Parameter(ones(num_channels, dtype=dt, device=device))
            self.bias = Parameter(zeros(num_channels, dtype=dt, device=device))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"


class _InstanceNorm(Module):
    """Normalise each (sample, channel) over its spatial positions (affine and running
    statistics off by default, as PyTorch's)."""

    spatial = 1

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = False, track_running_stats: bool = False, device=None,
                 dtype=None) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        dt = _dt.as_dtype(dtype) if dtype is not None else None
        self.weight = Parameter(ones(num_features, dtype=dt, device=device)) if affine else None
        self.bias = Parameter(zeros(num_features, dtype=dt, device=device)) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, dtype=dt, device=device))
            self.register_buffer("running_var", ones(num_features, dtype=dt, device=device))
        else:
            self.running_mean = self.running_var = None

    def forward(self, x: Tensor) -> Tensor:
        name = type(self).__name__
        if x.ndim not in (self.spatial + 1, self.spatial + 2):
            raise ValueError(f"{name}: expected a {self.spatial + 1}-D or {self.spatial + 2}-D "
                             f"input, got shape {tuple(x.shape)}")
        unbatched = x.ndim == self.spatial + 1
        x = x.unsqueeze(0) if unbatched else x
        if x.shape[1] != self.num_features:
            raise ValueError(f"{name}: expected {self.num_features} channels, got input of "
                             f"shape {tuple(x.shape)}")
        y = F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            self.training or not self.track_running_stats, self.momentum,
                            self.eps)
        return y.squeeze(0) if unbatched else y

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class InstanceNorm1d(_InstanceNorm):
    """Instance normalisation of (N, C, L) input."""

    spatial = 1


class InstanceNorm2d(_InstanceNorm):
    """Instance normalisation of (N, C, H, W) input (the style-transfer tutorials' norm)."""

    spatial = 2
