"""Adadelta: per-coordinate step sizes from the ratio of running RMS of updates and gradients."""

from __future__ import annotations

from typing import Any

from ..creation import zeros_like
from ..tensor import Tensor
from .optimizer import Optimizer, ParamsT


class Adadelta(Optimizer):
    r"""Adadelta (Zeiler, 2012), as ``torch.optim.Adadelta``.

    For each parameter θ with gradient g (PyTorch's pseudo-code)::

        g ← -g                                  if maximize
        g ← g + λ θ                             if λ ≠ 0
        v ← ρ v + (1 - ρ) g²                    running mean of squared gradients
        Δθ = √(u + ε) / √(v + ε) · g            (u: running mean of squared updates)
        u ← ρ u + (1 - ρ) Δθ²
        θ ← θ - γ Δθ

    The ratio √(u + ε) / √(v + ε) has the units of θ, which is why the paper needs no
    learning rate; ``lr`` (default 1) only rescales the update, as in PyTorch. The state
    names are PyTorch's: ``square_avg`` (v), ``acc_delta`` (u) and ``step``.

    Args:
        params: tensors or parameter groups to optimize.
        lr: coefficient γ scaling the update (default 1.0).
        rho: decay rate ρ of both running means (default 0.9), in [0, 1].
        eps: ε added inside both square roots (default 1e-6); it also sets the size of the
            first steps, when u is still 0.
        weight_decay: L2 penalty λ (default 0).
        maximize: maximize the objective instead of minimizing it.
    """

    def __init__(self, params: ParamsT, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, *, maximize: bool = False) -> None:
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        self._check_options(defaults)
        super().__init__(params, defaults)

    def _check_options(self, options: dict[str, Any]) -> None:
        self._check_non_negative(options, "lr", "eps", "weight_decay")
        rho = options.get("rho")
        if rho is not None and not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho} (expected 0 <= rho <= 1)")

    def _init_state(self, p: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        state["step"] = 0
        state["square_avg"] = zeros_like(p)     # v
        state["acc_delta"] = zeros_like(p)      # u

    def _update_param(self, p: Tensor, grad: Tensor, state: dict[str, Any],
                      group: dict[str, Any]) -> None:
        lr, rho, eps = group["lr"], group["rho"], group["eps"]
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        state["step"] += 1

        # g = -g if maximizing;  g = g + λθ
        grad = self._signed_decayed_grad(p, grad, group)

        # v = ρ v + (1 - ρ) g²
        square_avg.mul_(rho).add_(grad * grad, alpha=1 - rho)
        # Δθ = √(u + ε) / √(v + ε) · g
        delta = (acc_delta + eps).sqrt().div_((square_avg + eps).sqrt()).mul_(grad)
        # u = ρ u + (1 - ρ) Δθ²
        acc_delta.mul_(rho).add_(delta * delta, alpha=1 - rho)
        # θ = θ - γ Δθ
        p.sub_(delta, alpha=lr)
