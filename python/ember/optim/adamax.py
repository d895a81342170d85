"""Adamax: Adam with the infinity norm in place of the second moment."""

from __future__ import annotations

from typing import Any

from ..creation import zeros_like
from ..ops import maximum
from ..tensor import Tensor
from .optimizer import Optimizer, ParamsT


class Adamax(Optimizer):
    r"""Adamax (Kingma & Ba, 2015, section 7.1), as ``torch.optim.Adamax``.

    For each parameter θ with gradient g at step t (PyTorch's pseudo-code)::

        g ← -g                                  if maximize
        g ← g + λ θ                             if λ ≠ 0
        m ← β1 m + (1 - β1) g                   first moment
        u ← max(β2 u, |g| + ε)                  exponentially weighted infinity norm
        θ ← θ - γ / (1 - β1^t) · m / u

    u needs no bias correction: a max is not pulled towards its zero start the way a
    mean is. State names are PyTorch's: ``step``, ``exp_avg`` (m), ``exp_inf`` (u).

    Args:
        params: tensors or parameter groups to optimize.
        lr: learning rate γ (default 2e-3).
        betas: (β1, β2) (default (0.9, 0.999)).
        eps: ε added to |g| (default 1e-8).
        weight_decay: L2 penalty λ (default 0).
        maximize: maximize the objective instead of minimizing it.
    """

    def __init__(self, params: ParamsT, lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, *, maximize: bool = False) -> None:
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        maximize=maximize)
        self._check_options(defaults)
        super().__init__(params, defaults)

    def _check_options(self, options: dict[str, Any]) -> None:
        self._check_non_negative(options, "lr", "eps", "weight_decay")
        self._check_betas(options)

    def _init_state(self, p: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        state["step"] = 0
        state["exp_avg"] = zeros_like(p)        # m
        state["exp_inf"] = zeros_like(p)        # u

    def _update_param(self, p: Tensor, grad: Tensor, state: dict[str, Any],
                      group: dict[str, Any]) -> None:
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
        state["step"] += 1
        # g = -g if maximizing;  g = g + λθ
        grad = self._signed_decayed_grad(p, grad, group)
        # m = β1 m + (1 - β1) g;   u = max(β2 u, |g| + ε)
        exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
        exp_inf.copy_(maximum(exp_inf.mul_(beta2), grad.abs().add_(eps)))
        # θ = θ - γ/(1 - β1^t) · m/u
        p.sub_(exp_avg / exp_inf, alpha=lr / (1 - beta1 ** state["step"]))
