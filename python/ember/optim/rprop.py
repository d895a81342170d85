"""Rprop: per-coordinate step sizes adapted from the sign of the gradient alone."""

from __future__ import annotations

from typing import Any

from ..creation import full_like, ones_like, zeros_like
from ..ops import where
from ..tensor import Tensor
from .optimizer import Optimizer, ParamsT


class Rprop(Optimizer):
    r"""Resilient backpropagation (Riedmiller & Braun, 1993), as ``torch.optim.Rprop``.

    For each parameter θ with gradient g (PyTorch's pseudo-code)::

        g ← -g                                  if maximize
        s = sign(g · g_prev)
        Δ ← clamp(Δ η+, Γmin, Γmax)             where s > 0   (same direction: speed up)
        Δ ← clamp(Δ η-, Γmin, Γmax)             where s < 0   (overshot: slow down ...)
        g ← 0                                   where s < 0   (... and skip this step)
        θ ← θ - sign(g) Δ
        g_prev ← g

    Only the gradient's sign is used, so the method is blind to its scale: meant for
    full-batch training. ``lr`` is the initial step size Δ of every coordinate. State
    names are PyTorch's: ``step``, ``prev`` (g_prev), ``step_size`` (Δ).

    Args:
        params: tensors or parameter groups to optimize.
        lr: initial step size (default 1e-2).
        etas: (η-, η+), the factors shrinking and growing Δ (default (0.5, 1.2)),
            0 < η- < 1 < η+.
        step_sizes: (Γmin, Γmax), the bounds of Δ (default (1e-6, 50)).
        maximize: maximize the objective instead of minimizing it.
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2,
                 etas: tuple[float, float] = (0.5, 1.2),
                 step_sizes: tuple[float, float] = (1e-6, 50), *,
                 maximize: bool = False) -> None:
        defaults = dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes),
                        maximize=maximize)
        self._check_options(defaults)
        super().__init__(params, defaults)

    def _check_options(self, options: dict[str, Any]) -> None:
        self._check_non_negative(options, "lr")
        etaminus, etaplus = options["etas"]
        if not 0.0 < etaminus < 1.0 < etaplus:
            raise ValueError(f"Invalid eta values: {etaminus}, {etaplus} (expected "
                             "0 < etaminus < 1 < etaplus)")
        low, high = options["step_sizes"]
        if not 0.0 <= low <= high:
            raise ValueError(f"Invalid step_sizes: ({low}, {high}) (expected "
                             "0 <= min <= max)")

    def _init_state(self, p: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        state["step"] = 0
        state["prev"] = zeros_like(p)                   # g_prev
        state["step_size"] = full_like(p, group["lr"])  # Δ

    def _update_param(self, p: Tensor, grad: Tensor, state: dict[str, Any],
                      group: dict[str, Any]) -> None:
        (etaminus, etaplus), (low, high) = group["etas"], group["step_sizes"]
        prev, step_size = state["prev"], state["step_size"]
        state["step"] += 1
        # g = -g if maximizing
        grad = self._signed_decayed_grad(p, grad, group)
        # s = sign(g · g_prev);  Δ = clamp(Δ · (η+ | η- | 1), Γmin, Γmax)
        sign = (grad * prev).sign()
        factor = where(sign > 0, etaplus, where(sign < 0, etaminus, ones_like(p)))
        step_size.mul_(factor).clamp_(low, high)
        # g = 0 where the sign flipped;  θ = θ - sign(g) Δ;  g_prev = g
        grad = where(sign < 0, 0.0, grad)
        p.sub_(grad.sign() * step_size)
        prev.copy_(grad)
