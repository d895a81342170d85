"""``ember.cuda``: the GPU device. The CUDA backend (``ember._cuda``) is built when a CUDA
compiler is found at install time; on machines without it, or without a GPU, everything
here answers "not available" and nothing crashes."""

from __future__ import annotations


def _module():
    try:
        from . import _cuda  # type: ignore[attr-defined]
    except ImportError:
        return None
    return _cuda


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


def backend():
    """The CUDA backend (raises a clear RuntimeError when CUDA is not available)."""
    check_available("cuda backend")
    from .backend.cuda import CUDABackend  # noqa: F401  (issue 4)

    return CUDABackend.instance()
