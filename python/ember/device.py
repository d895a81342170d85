"""Devices: where a tensor's memory lives ("cpu", or "cuda" / "cuda:N" with the CUDA backend)."""

from __future__ import annotations


class device:  # noqa: N801 - the PyTorch spelling, `ember.device("cpu")`
    """A device: a type ('cpu' or 'cuda') and an optional index."""

    __slots__ = ("type", "index")

    def __init__(self, spec: str | device = "cpu", index: int | None = None) -> None:
        if isinstance(spec, device):
            self.type, self.index = spec.type, spec.index
            return
        if not isinstance(spec, str):
            raise TypeError(f"device: expected a string like 'cpu' or 'cuda:0', got {spec!r}")
        kind, _, idx = spec.partition(":")
        if kind not in ("cpu", "cuda"):
            raise ValueError(f"device: unknown device type {kind!r}; expected 'cpu' or 'cuda'")
        if idx:
            if not idx.isdigit():
                raise ValueError(f"device: bad index in {spec!r}")
            index = int(idx)
        if kind == "cuda" and index is None:
            index = 0
        self.type, self.index = kind, index

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        return f"device(type='{self.type}')" if self.index is None else \
            f"device(type='{self.type}', index={self.index})"


cpu = device("cpu")
_default = cpu


def as_device(d) -> device:
    """Accept None (the default device: cpu unless ``set_default_device`` changed it), a
    string or a device."""
    if d is None:
        return _default
    return d if isinstance(d, device) else device(d)


def set_default_device(d) -> None:
    """The device tensors are made on when none is given (``ember.tensor``, ``zeros``,
    ``randn``, layers' parameters, ...), as ``torch.set_default_device``. None resets it
    to the CPU."""
    global _default
    _default = cpu if d is None else as_device(d)


def get_default_device() -> device:
    """The device tensors are made on when none is given."""
    return _default
