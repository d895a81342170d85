"""``ember.linalg``: the ``torch.linalg`` functions ember has, with their signatures (the
ops themselves live in ``ember.ops``)."""

from __future__ import annotations

from .ops import cross as _cross
from .ops import matmul
from .tensor import Tensor


def cross(input: Tensor, other: Tensor, *, dim: int = -1) -> Tensor:
    """The 3-D cross product along ``dim`` (default the last), as ``torch.linalg.cross``."""
    return _cross(input, other, dim)


__all__ = ["cross", "matmul"]
