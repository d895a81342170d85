"""ember: a small, readable deep-learning framework.

A reverse-mode autodiff graph in Python (``ember.autograd``) over native kernels
(``ember._C``, C++) behind one backend interface (``ember.backend``). Names follow
PyTorch: ``ember.tensor``, ``Tensor.backward``, ``ember.no_grad``, ``ember.autograd.grad``.
"""

from __future__ import annotations

from . import _memory

_memory.tune_malloc()  # fewer page faults per training step; see ember/_memory.py

from . import accelerator, autograd, backends, cuda, ops, profiler  # noqa: E402
from ._broadcast import Size
from .autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .creation import (
    BoolTensor,
    DoubleTensor,
    FloatTensor,
    LongTensor,
    arange,
    as_tensor,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    multinomial,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from .device import device, get_default_device, set_default_device
from .dtypes import (
    DType,
    bool_,
    double,
    float32,
    float64,
    get_default_dtype,
    int64,
    long,
    set_default_dtype,
)
from .ops import *  # noqa: F401,F403 - ember.exp, ember.matmul, ... (PyTorch's top-level names)
from .precision import get_float32_matmul_precision, set_float32_matmul_precision
from .random import Generator, get_rng_state, initial_seed, manual_seed, set_rng_state
from .tensor import Tensor, _install_methods

bool = bool_  # noqa: A001 - ember.bool, as torch.bool
float = float32  # noqa: A001
dtype = DType


def is_tensor(obj) -> bool:
    """True for an ember Tensor (``torch.is_tensor``)."""
    return isinstance(obj, Tensor)


def numel(t: Tensor) -> int:
    """The number of elements of ``t``."""
    return t.numel()


_install_methods()

# after Tensor's methods exist; io and summary also install Module.save/load/summary (see
# ember.nn.module.register_workflow)
from . import data, keras, metrics, models, nn, optim, summary, utils, viz  # noqa: E402
from .io import load, save  # noqa: E402

__version__ = "0.1.0"
from . import linalg  # noqa: E402 - torch.linalg's names (cross, matmul)
from .torch_format import load_torch  # noqa: E402
