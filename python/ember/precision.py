"""The precision of float32 matrix products, as PyTorch's ``set_float32_matmul_precision``.

- ``"highest"`` (the default): float32 products are computed in float32 everywhere.
- ``"high"``: the CUDA backend may run float32 matmuls on tensor cores with TF32 inputs
  (float32's 8-bit exponent but a 10-bit mantissa, so each input carries about 3 decimal
  digits; products accumulate in float32). Several times faster on GPUs that have them, at
  a relative error of about 1e-3 instead of 1e-7.
- ``"medium"``: the same as ``"high"`` here (ember has no bfloat16 path).

The CPU backend always computes in float32. Convolutions and attention are unaffected.
"""

from __future__ import annotations

_PRECISIONS = ("highest", "high", "medium")
_precision = "highest"


def set_float32_matmul_precision(precision: str) -> None:
    """Set the precision of float32 matrix products: "highest", "high" or "medium"."""
    global _precision
    if precision not in _PRECISIONS:
        raise ValueError(f"set_float32_matmul_precision: expected one of {_PRECISIONS}, "
                         f"got {precision!r}")
    _precision = precision


def get_float32_matmul_precision() -> str:
    """The current setting: "highest" (the default), "high" or "medium"."""
    return _precision


def allow_tf32() -> bool:
    """True when float32 matmuls may use TF32 tensor cores (precision "high" or "medium")."""
    return _precision != "highest"
