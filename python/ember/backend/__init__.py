"""Backends: the device-specific arrays and primitives behind ``ember.ops``.

``backend_for(device)`` is the one place where a device is mapped to its backend.
"""

from __future__ import annotations

from .. import cuda as _cuda_device
from .base import Backend
from .cpu import CPUBackend

_cpu = CPUBackend()


def backend_for(device) -> Backend:
    """The backend that owns arrays on ``device`` (an ``ember.device``)."""
    if device.type == "cpu":
        return _cpu
    if device.type == "cuda":
        return _cuda_device.backend()
    raise RuntimeError(f"no backend for device {device}")


__all__ = ["Backend", "CPUBackend", "backend_for"]
