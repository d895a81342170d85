"""Adagrad: per-coordinate step sizes shrinking with the sum of past squared gradients."""

from __future__ import annotations

from typing import Any

from ..creation import full_like
from ..tensor import Tensor
from .optimizer import Optimizer, ParamsT


class Adagrad(Optimizer):
    r"""Adagrad (Duchi et al., 2011), as ``torch.optim.Adagrad``.

    For each parameter θ with gradient g at step t (PyTorch's pseudo-code)::

        g ← -g                                  if maximize
        γ̃ = γ / (1 + (t - 1) η)                 learning-rate decay η
        g ← g + λ θ                             if λ ≠ 0
        s ← s + g²                              (s starts at initial_accumulator_value)
        θ ← θ - γ̃ g / (√s + ε)

    As in PyTorch the state (``step`` and ``sum``) is created for every parameter when the
    optimizer is constructed.

    Args:
        params: tensors or parameter groups to optimize.
        lr: learning rate γ (default 1e-2).
        lr_decay: learning-rate decay η (default 0).
        weight_decay: L2 penalty λ (default 0).
        initial_accumulator_value: starting value of the sum of squares (default 0).
        eps: ε added to the denominator (default 1e-10).
        maximize: maximize the objective instead of minimizing it.
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10, *, maximize: bool = False) -> None:
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value,
                        maximize=maximize)
        self._check_options(defaults)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, self.state[p], group)

    def _check_options(self, options: dict[str, Any]) -> None:
        self._check_non_negative(options, "lr", "lr_decay", "weight_decay",
                                 "initial_accumulator_value", "eps")

    def _init_state(self, p: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        state["step"] = 0
        state["sum"] = full_like(p, group["initial_accumulator_value"])  # s

    def _update_param(self, p: Tensor, grad: Tensor, state: dict[str, Any],
                      group: dict[str, Any]) -> None:
        lr, lr_decay, eps = group["lr"], group["lr_decay"], group["eps"]
        state["step"] += 1
        step = state["step"]

        # g = -g if maximizing;  g = g + λθ
        grad = self._signed_decayed_grad(p, grad, group)
        # γ̃ = γ / (1 + (t - 1) η)
        clr = lr / (1 + (step - 1) * lr_decay)
        # s = s + g²;   θ = θ - γ̃ g / (√s + ε)
        state_sum = state["sum"]
        state_sum.add_(grad * grad)
        p.sub_(grad / state_sum.sqrt().add_(eps), alpha=clr)
