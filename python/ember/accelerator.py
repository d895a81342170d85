"""``ember.accelerator``: the device-agnostic question "is there an accelerator, and which?"
(PyTorch's ``torch.accelerator``). ember's one accelerator type is CUDA."""

from __future__ import annotations

from . import cuda
from .device import device


def is_available() -> bool:
    """True when an accelerator (a CUDA GPU, with ember built with CUDA) is usable."""
    return cuda.is_available()


def current_accelerator() -> device | None:
    """The accelerator's device (``device(type='cuda')``), or None when there is none."""
    return device("cuda") if cuda.is_available() else None


def device_count() -> int:
    """How many accelerator devices are visible (0 without one)."""
    return cuda.device_count()


def synchronize() -> None:
    """Wait for the accelerator's queued work (a no-op without one)."""
    cuda.synchronize()
