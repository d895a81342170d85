"""Fused optimizer updates: in-place, outside the graph, one backend primitive each."""

from __future__ import annotations

from ..backend import backend_for
from ..tensor import Tensor


def fused_adam_step_(param: Tensor, grad: Tensor, exp_avg: Tensor, exp_avg_sq: Tensor,
                     max_exp_avg_sq: Tensor | None, *, lr: float, beta1: float, beta2: float,
                     eps: float, weight_decay: float, step: int, amsgrad: bool = False,
                     maximize: bool = False, decoupled: bool = False) -> None:
    """One Adam (or, with ``decoupled=True``, AdamW) step for one parameter, fused: the
    parameter and its state are read and written once (see csrc/cpu/adam.cpp for the
    formula). Everything is updated in place; ``step`` counts from 1."""
    tensors = [param, grad, exp_avg, exp_avg_sq] + ([max_exp_avg_sq] if amsgrad else [])
    for name, t in zip(("param", "grad", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"), tensors):
        if t.device != param.device or t.dtype is not param.dtype or t.shape != param.shape:
            raise ValueError(
                f"fused_adam_step_: {name} has shape {t.shape}, {t.dtype} on {t.device}; "
                f"expected shape {param.shape}, {param.dtype} on {param.device}"
            )

    backend_for(param.device).adam_step_(
        param._data, grad._data, exp_avg._data, exp_avg_sq._data,
        max_exp_avg_sq._data if amsgrad else None, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
        weight_decay=weight_decay, step=step, amsgrad=amsgrad, maximize=maximize,
        decoupled=decoupled)
    for t in (param, exp_avg, exp_avg_sq) + ((max_exp_avg_sq,) if amsgrad else ()):
        t._version.value += 1
