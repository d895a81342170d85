"""``ember.backends.cuda``: was ember built with its CUDA backend."""

from .. import cuda as _cuda


def is_built() -> bool:
    """True when ember's CUDA module was compiled (a GPU may still be missing)."""
    return _cuda.is_built()
