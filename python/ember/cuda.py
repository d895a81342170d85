"""``ember.cuda``: the GPU device. The CUDA backend (``ember._cuda``) is built when a CUDA
compiler is found at install time; on machines without it, or without a GPU, everything
here answers "not available" and nothing crashes: ``is_available()`` is False,
``device_count()`` 0, the memory counters 0, ``synchronize``/``empty_cache`` do nothing,
and what needs a GPU (``current_device``, ``get_device_name``, ``tensor.to("cuda")``)
raises a RuntimeError that says why."""

from __future__ import annotations

from .device import device as _device
from .random import manual_seed

# PyTorch seeds each GPU's generator apart; ember's CUDA kernels draw from the one default
# generator (Philox streams keyed by it), so seeding it seeds them all
manual_seed_all = manual_seed

try:
    from . import _cuda  # type: ignore[attr-defined]
except ImportError:  # ember was built without a CUDA compiler
    _cuda = None


def _module():
    return _cuda


def is_built() -> bool:
    """True when ember was built with its CUDA backend (a GPU may still be missing)."""
    return _module() is not None


def is_available() -> bool:
    """True when ember was built with CUDA and a GPU is visible."""
    m = _module()
    if m is None:
        return False
    try:
        return m.device_count() > 0
    except RuntimeError:
        return False


def device_count() -> int:
    """Number of visible GPUs (0 without the CUDA backend)."""
    return _module().device_count() if is_available() else 0


def check_available(op: str) -> None:
    if not is_available():
        reason = ("ember was built without its CUDA backend" if _module() is None
                  else "no CUDA GPU is visible")
        raise RuntimeError(f"{op}: CUDA is not available ({reason}); "
                           "ember.cuda.is_available() tells before you try")


def _index(device) -> int:
    """The GPU index of ``device``: None (0), an int, 'cuda' / 'cuda:N' or an ember.device."""
    if device is None:
        return 0
    if isinstance(device, str):
        device = _device(device)
    if getattr(device, "type", "cuda") != "cuda":
        raise ValueError(f"expected a CUDA device, got {device}")
    index = getattr(device, "index", device)
    return int(index or 0)


def backend():
    """The CUDA backend (raises a clear RuntimeError when CUDA is not available)."""
    check_available("cuda backend")
    from .backend.cuda import CUDABackend  # a real cycle: ember.backend imports this module

    return CUDABackend.instance()


def current_device() -> int:
    """The index of the current GPU."""
    check_available("current_device")
    return _module().current_device()


def get_device_name(device: int | None = None) -> str:
    """The GPU's name, e.g. 'NVIDIA H100 80GB HBM3'."""
    check_available("get_device_name")
    return _module().get_device_name(_index(device))


def synchronize() -> None:
    """Wait until every queued GPU kernel has finished (a no-op without CUDA). Kernels run
    asynchronously: time GPU code with a synchronize() before reading the clock."""
    if is_available():
        _module().synchronize()


def empty_cache() -> None:
    """Give the caching allocator's unused blocks back to CUDA (a no-op without CUDA)."""
    if is_available():
        _module().empty_cache()


def memory_allocated(device: int | None = None) -> int:
    """Bytes of GPU memory held by live tensors (0 without CUDA)."""
    if not is_available():
        return 0
    return _module().memory_allocated(_index(device))


def memory_reserved(device: int | None = None) -> int:
    """Bytes of GPU memory held by the caching allocator: live tensors plus cached blocks."""
    if not is_available():
        return 0
    return _module().memory_reserved(_index(device))
