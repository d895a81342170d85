"""``ember.profiler``: PyTorch's spelling (``torch.profiler.profile``). The profiler lives
beside the engine that calls it, in ``ember/autograd/profiler.py``."""

from .autograd.profiler import is_active, profile

__all__ = ["profile", "is_active"]
