"""``ember.backends``: PyTorch's availability flags (``torch.backends.*``), so the first
lines of real scripts run as they are. (ember's own backends -- the code that runs the
ops on each device -- are ``ember.backend``.)

- ``cuda.is_built()``: was ember built with its CUDA backend;
- ``mps.is_available()`` / ``is_built()``: always False (ember has no Apple-GPU backend);
- ``cudnn.is_available()``: False -- ember's GPU kernels are its own, not cuDNN's. Scripts
  that set ``cudnn.benchmark`` or ``cudnn.deterministic`` may do so: the flags are kept and
  read back, and change nothing, because no cuDNN algorithm is ever chosen.
"""

from . import cuda, cudnn, mps

__all__ = ["cuda", "cudnn", "mps"]
