"""Shared start for the compat programs: the same parameters in both libraries.

Each program builds its model through the ``torch`` name it is given, then calls
:func:`init_from_numpy` so ember and PyTorch start from identical weights: every parameter,
taken in name order, is overwritten from one NumPy generator through API both libraries share
(``torch.no_grad``, ``Tensor.copy_``, ``torch.from_numpy``).
"""

from __future__ import annotations

import numpy as np


def init_from_numpy(torch, model, seed: int, scale: float = 0.3) -> None:
    """Overwrite every parameter of ``model`` with uniform(-scale, scale) draws from ``seed``."""
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for _name, p in sorted(model.named_parameters(), key=lambda kv: kv[0]):
            arr = rng.uniform(-scale, scale, size=tuple(p.shape))
            p.copy_(torch.from_numpy(arr).to(p.dtype))
