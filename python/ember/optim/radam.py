"""RAdam: Adam whose adaptive step is switched on as its variance estimate becomes reliable."""

from __future__ import annotations

import math
from typing import Any

from ..creation import zeros_like
from ..tensor import Tensor
from .optimizer import Optimizer, ParamsT


class RAdam(Optimizer):
    r"""RAdam (Liu et al., 2020), as ``torch.optim.RAdam``.

    For each parameter θ with gradient g at step t (PyTorch's pseudo-code)::

        g ← -g                                  if maximize
        θ ← θ (1 - γλ)                          if decoupled_weight_decay
        g ← g + λ θ                             elif λ ≠ 0
        m ← β1 m + (1 - β1) g;   v ← β2 v + (1 - β2) g²
        m̂ = m / (1 - β1^t)
        ρ_∞ = 2 / (1 - β2) - 1;   ρ_t = ρ_∞ - 2 t β2^t / (1 - β2^t)
        if ρ_t > 5:   r = √((ρ_t - 4)(ρ_t - 2) ρ_∞ / ((ρ_∞ - 4)(ρ_∞ - 2) ρ_t))
                      θ ← θ - γ m̂ · √(1 - β2^t) / (√v + ε) · r
        else:         θ ← θ - γ m̂                (SGD with momentum: v is too young)

    ρ_t is the length of the simple moving average that v approximates; while it is short
    the variance of the adaptive step is unbounded, and r rectifies it once it is not.
    State names are PyTorch's: ``step``, ``exp_avg`` (m), ``exp_avg_sq`` (v).

    Args:
        params: tensors or parameter groups to optimize.
        lr: learning rate γ (default 1e-3).
        betas: (β1, β2) (default (0.9, 0.999)).
        eps: ε (default 1e-8).
        weight_decay: λ (default 0).
        decoupled_weight_decay: shrink θ directly as AdamW does instead of the L2 term.
        maximize: maximize the objective instead of minimizing it.
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, decoupled_weight_decay: bool = False, *,
                 maximize: bool = False) -> None:
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        self._check_options(defaults)
        super().__init__(params, defaults)

    def _check_options(self, options: dict[str, Any]) -> None:
        self._check_non_negative(options, "lr", "eps", "weight_decay")
        self._check_betas(options)

    def _init_state(self, p: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        state["step"] = 0
        state["exp_avg"] = zeros_like(p)        # m
        state["exp_avg_sq"] = zeros_like(p)     # v

    def _update_param(self, p: Tensor, grad: Tensor, state: dict[str, Any],
                      group: dict[str, Any]) -> None:
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        state["step"] += 1
        t = state["step"]
        # g = -g if maximizing;  g = g + λθ (or θ = θ(1 - γλ) if decoupled)
        grad = self._signed_decayed_grad(p, grad, group)
        # m = β1 m + (1 - β1) g;   v = β2 v + (1 - β2) g²;   m̂ = m / (1 - β1^t)
        exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
        exp_avg_sq.mul_(beta2).add_(grad * grad, alpha=1 - beta2)
        bias_correction2 = 1 - beta2 ** t
        step = exp_avg / (1 - beta1 ** t) * lr
        # ρ_∞ = 2/(1 - β2) - 1;   ρ_t = ρ_∞ - 2 t β2^t / (1 - β2^t)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * beta2 ** t / bias_correction2
        if rho_t > 5.0:
            # θ = θ - γ m̂ · √(1 - β2^t)/(√v + ε) · r
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                             / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            adaptive = math.sqrt(bias_correction2) / exp_avg_sq.sqrt().add_(eps)
            step = step * adaptive * rect
        # else θ = θ - γ m̂
        p.sub_(step)
