"""What the 2-d layers share: Keras's channels-last layout and TensorFlow's 'same' padding.

Keras is channels-last: ``Conv2D`` and the pooling layers take (N, H, W, C) and transpose
to ember's (N, C, H, W) around the kernel, so ``Flatten`` sees the same order as in Keras.
"""

from __future__ import annotations

from collections.abc import Sequence

from ...tensor import Tensor
from .base import Layer


def _pair(value: int | Sequence[int], what: str) -> tuple[int, int]:
    if isinstance(value, int):
        return (value, value)
    value = tuple(value)
    if len(value) != 2:
        raise ValueError(f"{what} must be an int or a pair of ints, got {value!r}")
    return value  # type: ignore[return-value]


def _same_pads(size: int, k: int, s: int) -> tuple[int, int]:
    """TensorFlow's 'same' padding: output ceil(size / s); the odd pixel goes at the end."""
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def _check_padding(padding: str, layer: str) -> str:
    padding = padding.lower()
    if padding not in ("valid", "same"):
        raise ValueError(f"{layer}: padding must be 'valid' or 'same', got {padding!r}")
    return padding


def _check_format(data_format: str | None, layer: str) -> str:
    data_format = data_format or "channels_last"
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"{layer}: data_format must be 'channels_last' or 'channels_first', "
                         f"got {data_format!r}")
    return data_format


class _Spatial2D(Layer):
    """Shared NHWC <-> NCHW handling of the 2-d layers."""

    data_format = "channels_last"

    def _check4d(self, x: Tensor) -> None:
        if x.ndim != 4:
            layout = "(N, H, W, C)" if self.data_format == "channels_last" else "(N, C, H, W)"
            raise ValueError(f"{type(self).__name__}: expected a 4-d input {layout}, got shape "
                             f"{x.shape}")

    def _to_nchw(self, x: Tensor) -> Tensor:
        self._check4d(x)
        return x.permute(0, 3, 1, 2) if self.data_format == "channels_last" else x

    def _from_nchw(self, x: Tensor) -> Tensor:
        return x.permute(0, 2, 3, 1) if self.data_format == "channels_last" else x

    def _channels(self, input_shape: tuple) -> int:
        return input_shape[-1] if self.data_format == "channels_last" else input_shape[1]
