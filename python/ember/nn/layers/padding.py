"""Padding layers (``nn.ZeroPad2d``, ``nn.ConstantPad1d``, ``nn.ReflectionPad2d``, ...): each
is ``F.pad`` with its sizes and mode stored."""

from __future__ import annotations

from ...ops import pad
from ...tensor import Tensor
from ..module import Module


class _PadNd(Module):
    mode = "constant"
    dims = 2

    def __init__(self, padding, value: float = 0.0) -> None:
        super().__init__()
        sizes = (padding,) * (2 * self.dims) if isinstance(padding, int) else tuple(padding)
        if len(sizes) != 2 * self.dims:
            raise ValueError(f"{type(self).__name__}: padding must be an int or "
                             f"{2 * self.dims} ints, got {padding!r}")
        self.padding, self.value = sizes, value

    def forward(self, x: Tensor) -> Tensor:
        return pad(x, self.padding, self.mode, self.value)

    def extra_repr(self) -> str:
        return f"{self.padding}" + (f", value={self.value}" if self.mode == "constant" else "")


def _pad_layer(name: str, mode: str, dims: int, constant: bool):
    doc = f"Pad the last {dims} dimension(s) ({mode} mode) by ``padding``."
    if constant:
        return type(name, (_PadNd,), {"mode": mode, "dims": dims, "__doc__": doc,
                                      "__module__": __name__})

    def __init__(self, padding) -> None:
        _PadNd.__init__(self, padding)

    return type(name, (_PadNd,), {"mode": mode, "dims": dims, "__doc__": doc,
                                  "__init__": __init__, "__module__": __name__})


ConstantPad1d = _pad_layer("ConstantPad1d", "constant", 1, True)
ConstantPad2d = _pad_layer("ConstantPad2d", "constant", 2, True)
ZeroPad1d = _pad_layer("ZeroPad1d", "constant", 1, False)
ZeroPad2d = _pad_layer("ZeroPad2d", "constant", 2, False)
ReflectionPad1d = _pad_layer("ReflectionPad1d", "reflect", 1, False)
ReflectionPad2d = _pad_layer("ReflectionPad2d", "reflect", 2, False)
ReplicationPad1d = _pad_layer("ReplicationPad1d", "replicate", 1, False)
ReplicationPad2d = _pad_layer("ReplicationPad2d", "replicate", 2, False)
CircularPad1d = _pad_layer("CircularPad1d", "circular", 1, False)
CircularPad2d = _pad_layer("CircularPad2d", "circular", 2, False)

__all__ = ["ConstantPad1d", "ConstantPad2d", "ZeroPad1d", "ZeroPad2d", "ReflectionPad1d",
           "ReflectionPad2d", "ReplicationPad1d", "ReplicationPad2d", "CircularPad1d",
           "CircularPad2d"]
