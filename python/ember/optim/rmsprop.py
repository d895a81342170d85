"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""

from __future__ import annotations

from typing import Any

from ..creation import zeros_like
from ..tensor import Tensor
from .optimizer import Optimizer, ParamsT


class RMSprop(Optimizer):
    r"""RMSprop (Hinton's lecture notes; centered version from Graves, 2013), as
    ``torch.optim.RMSprop``.

    For each parameter θ with gradient g (PyTorch's pseudo-code)::

        g ← -g                                  if maximize
        g ← g + λ θ                             if λ ≠ 0
        v ← α v + (1 - α) g²                    running mean of squares
        ṽ = v - ḡ²  with ḡ ← α ḡ + (1 - α) g    if centered (an estimate of the variance)
        ṽ = v                                   otherwise
        b ← μ b + g / (√ṽ + ε);  θ ← θ - γ b    if μ > 0
        θ ← θ - γ g / (√ṽ + ε)                  otherwise

    Args:
        params: tensors or parameter groups to optimize.
        lr: learning rate γ (default 1e-2).
        alpha: smoothing constant α (default 0.99).
        eps: ε added to the denominator (default 1e-8).
        weight_decay: L2 penalty λ (default 0).
        momentum: momentum factor μ (default 0).
        centered: normalize by the estimated variance instead of the raw second moment.
        maximize: maximize the objective instead of minimizing it.
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0, momentum: float = 0,
                 centered: bool = False, *, maximize: bool = False) -> None:
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered, maximize=maximize)
        self._check_options(defaults)
        super().__init__(params, defaults)

    def _check_options(self, options: dict[str, Any]) -> None:
        self._check_non_negative(options, "lr", "eps", "momentum", "weight_decay", "alpha")

    def _init_state(self, p: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        state["step"] = 0
        state["square_avg"] = zeros_like(p)             # v
        if group["momentum"] > 0:
            state["momentum_buffer"] = zeros_like(p)    # b
        if group["centered"]:
            state["grad_avg"] = zeros_like(p)           # ḡ

    def _update_param(self, p: Tensor, grad: Tensor, state: dict[str, Any],
                      group: dict[str, Any]) -> None:
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        momentum = group["momentum"]
        square_avg = state["square_avg"]
        state["step"] += 1

        # g = -g if maximizing;  g = g + λθ
        grad = self._signed_decayed_grad(p, grad, group)

        # v = α v + (1 - α) g²
        square_avg.mul_(alpha).add_(grad * grad, alpha=1 - alpha)
        if group["centered"]:
            # ḡ = α ḡ + (1 - α) g;   denominator √(v - ḡ²) + ε
            grad_avg = state["grad_avg"]
            grad_avg.mul_(alpha).add_(grad, alpha=1 - alpha)
            avg = (square_avg - grad_avg * grad_avg).sqrt().add_(eps)
        else:
            # denominator √v + ε
            avg = square_avg.sqrt().add_(eps)

        if momentum > 0:
            # b = μ b + g / (√ṽ + ε);   θ = θ - γ b
            buf = state["momentum_buffer"]
            buf.mul_(momentum).add_(grad / avg)
            p.sub_(buf, alpha=lr)
        else:
            # θ = θ - γ g / (√ṽ + ε)
            p.sub_(grad / avg, alpha=lr)
