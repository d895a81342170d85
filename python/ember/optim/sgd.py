"""Stochastic gradient descent, with optional momentum (heavy ball or Nesterov)."""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor
from .optimizer import Optimizer, ParamsT


class SGD(Optimizer):
    r"""Stochastic gradient descent (optionally with momentum), as ``torch.optim.SGD``.

    For each parameter θ with gradient g, learning rate γ, momentum μ, dampening τ and
    weight decay λ (PyTorch's pseudo-code)::

        g ← -g                          if maximize
        g ← g + λ θ                     if λ ≠ 0   (L2 regularisation, see regularization.py)
        b ← g  (first step),  b ← μ b + (1 - τ) g  (later steps)     if μ ≠ 0
        g ← g + μ b  if nesterov  else  g ← b                        if μ ≠ 0
        θ ← θ - γ g

    Args:
        params: tensors or parameter groups to optimize.
        lr: learning rate γ (default 1e-3, as in PyTorch 2.x).
        momentum: momentum factor μ (default 0: plain SGD).
        dampening: dampening τ of the momentum (default 0).
        weight_decay: L2 penalty λ (default 0); equals adding (λ/2)·||θ||² to the loss.
        nesterov: use Nesterov momentum (needs momentum > 0 and dampening = 0).
        maximize: maximize the objective instead of minimizing it.
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float = 0, nesterov: bool = False, *,
                 maximize: bool = False) -> None:
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
        self._check_options(defaults)
        super().__init__(params, defaults)

    def _check_options(self, options: dict[str, Any]) -> None:
        self._check_non_negative(options, "lr", "momentum", "weight_decay")
        if options["nesterov"] and (options["momentum"] <= 0 or options["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening "
                             f"(got momentum={options['momentum']}, "
                             f"dampening={options['dampening']})")

    def _update_param(self, p: Tensor, grad: Tensor, state: dict[str, Any],
                      group: dict[str, Any]) -> None:
        lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
        # g = -g if maximizing;  g = g + λθ
        grad = self._signed_decayed_grad(p, grad, group)
        if momentum != 0:
            buf = state.get("momentum_buffer")  # made on the first update, from that gradient
            if buf is None:
                # b_1 = g_1 (a copy: the buffer is updated in place later)
                buf = grad.clone()
                state["momentum_buffer"] = buf
            else:
                # b_t = μ b_{t-1} + (1 - τ) g_t
                buf.mul_(momentum).add_(grad, alpha=1 - dampening)
            # Nesterov looks ahead along the momentum: g = g + μ b;  heavy ball: g = b
            grad = grad + buf * momentum if group["nesterov"] else buf
        # θ = θ - γ g
        p.sub_(grad, alpha=lr)
