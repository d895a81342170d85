"""``ember.autograd``: the graph machinery. See ``function.py`` (what a node is),
``engine.py`` (how backward walks the graph) and ``ember/testing.py`` (``gradcheck``: how we
know the gradients are right)."""

from __future__ import annotations

# grad_mode first: function.py imports ember.tensor, which needs it
from .grad_mode import (  # isort: skip
    enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled)
from . import profiler
from .engine import backward, grad
from .function import Function, once_differentiable

# gradcheck lives in ember.testing (a tool over the whole library, not part of the engine);
# it is here too under PyTorch's name, torch.autograd.gradcheck
from ..testing import GradcheckError, gradcheck, gradgradcheck  # isort: skip

__all__ = ["Function", "backward", "grad", "gradcheck", "gradgradcheck", "GradcheckError",
           "no_grad", "enable_grad", "inference_mode", "set_grad_enabled", "is_grad_enabled",
           "once_differentiable", "profiler"]

