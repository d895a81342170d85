"""Grad mode: whether ops record the graph. ``no_grad`` for inference and optimizer steps."""

from __future__ import annotations

import functools
import threading

_state = threading.local()


def is_grad_enabled() -> bool:
    """True when new ops record themselves for backward."""
    return getattr(_state, "enabled", True)


def _set(enabled: bool) -> None:
    _state.enabled = enabled


class set_grad_enabled:  # noqa: N801 - PyTorch name
    """Context manager / decorator that sets grad mode on or off."""

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self.prev = is_grad_enabled()
        _set(self.mode)  # like PyTorch, also works as a plain function call

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc) -> None:
        _set(self.prev)


class _GradModeContext:
    mode: bool

    def __enter__(self) -> None:
        self.prev = is_grad_enabled()
        _set(self.mode)

    def __exit__(self, *exc) -> None:
        _set(self.prev)

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = is_grad_enabled()
            _set(self.mode)
            try:
                return fn(*args, **kwargs)
            finally:
                _set(prev)

        return wrapper


class no_grad(_GradModeContext):  # noqa: N801
    """Disable graph recording inside the block (or the decorated function)."""

    mode = False


class enable_grad(_GradModeContext):  # noqa: N801
    """Enable graph recording inside the block, e.g. within a ``no_grad`` region."""

    mode = True


class inference_mode(_GradModeContext):  # noqa: N801
    """PyTorch's faster ``no_grad`` for inference. In ember the two are the same: nothing
    is recorded inside the block (or the decorated function). ``mode=False`` records."""

    def __init__(self, mode: bool = True) -> None:
        self.mode = not mode
