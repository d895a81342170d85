"""NAdam: Adam with Nesterov momentum."""

from __future__ import annotations

from typing import Any

from ..creation import zeros_like
from ..tensor import Tensor
from .optimizer import Optimizer, ParamsT


class NAdam(Optimizer):
    r"""NAdam (Dozat, 2016), as ``torch.optim.NAdam``.

    For each parameter θ with gradient g at step t (PyTorch's pseudo-code)::

        g ← -g                                  if maximize
        θ ← θ (1 - γλ)                          if decoupled_weight_decay
        g ← g + λ θ                             elif λ ≠ 0
        μ_t = β1 (1 - ½ · 0.96^(t ψ))            the momentum schedule (ψ: momentum_decay)
        Π_t = Π_{t-1} μ_t                       (Π_0 = 1)
        m ← β1 m + (1 - β1) g;   v ← β2 v + (1 - β2) g²
        d = √(v / (1 - β2^t)) + ε
        θ ← θ - γ (1 - μ_t) / (1 - Π_t) · g / d - γ μ_{t+1} / (1 - Π_t μ_{t+1}) · m / d

    The last line is Nesterov's look-ahead: the current gradient and the momentum as it
    will be one step on, each with its own bias correction. State names are PyTorch's:
    ``step``, ``mu_product`` (Π_t, a Python float here, a 0-dim tensor in PyTorch),
    ``exp_avg`` (m), ``exp_avg_sq`` (v).

    Args:
        params: tensors or parameter groups to optimize.
        lr: learning rate γ (default 2e-3).
        betas: (β1, β2) (default (0.9, 0.999)).
        eps: ε (default 1e-8).
        weight_decay: λ (default 0).
        momentum_decay: ψ (default 4e-3).
        decoupled_weight_decay: shrink θ directly as AdamW does (NAdamW) instead of the L2
            term.
        maximize: maximize the objective instead of minimizing it.
    """

    def __init__(self, params: ParamsT, lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, maximize: bool = False) -> None:
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        self._check_options(defaults)
        super().__init__(params, defaults)

    def _check_options(self, options: dict[str, Any]) -> None:
        self._check_non_negative(options, "lr", "eps", "weight_decay", "momentum_decay")
        self._check_betas(options)

    def _init_state(self, p: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        state["step"] = 0
        state["mu_product"] = 1.0               # Π
        state["exp_avg"] = zeros_like(p)        # m
        state["exp_avg_sq"] = zeros_like(p)     # v

    def _update_param(self, p: Tensor, grad: Tensor, state: dict[str, Any],
                      group: dict[str, Any]) -> None:
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        psi = group["momentum_decay"]
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        state["step"] += 1
        t = state["step"]
        # g = -g if maximizing;  g = g + λθ (or θ = θ(1 - γλ) if decoupled)
        grad = self._signed_decayed_grad(p, grad, group)
        # μ_t, μ_{t+1};  Π_t = Π_{t-1} μ_t
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * psi))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
        state["mu_product"] *= mu
        mu_product = state["mu_product"]
        # m = β1 m + (1 - β1) g;   v = β2 v + (1 - β2) g²;   d = √(v / (1 - β2^t)) + ε
        exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
        exp_avg_sq.mul_(beta2).add_(grad * grad, alpha=1 - beta2)
        denom = (exp_avg_sq / (1 - beta2 ** t)).sqrt().add_(eps)
        # θ = θ - γ(1 - μ_t)/(1 - Π_t) · g/d - γ μ_{t+1}/(1 - Π_t μ_{t+1}) · m/d
        p.sub_(grad / denom, alpha=lr * (1.0 - mu) / (1.0 - mu_product))
        p.sub_(exp_avg / denom, alpha=lr * mu_next / (1.0 - mu_product * mu_next))
