"""ASGD: stochastic gradient descent with a decaying step and a running average of θ."""

from __future__ import annotations

from typing import Any

from ..creation import zeros_like
from ..tensor import Tensor
from .optimizer import Optimizer, ParamsT


class ASGD(Optimizer):
    r"""Averaged SGD (Polyak & Juditsky, 1992), as ``torch.optim.ASGD``.

    For each parameter θ with gradient g at step t (PyTorch's pseudo-code)::

        g ← -g                                  if maximize
        g ← g + λ_w θ                           if weight_decay λ_w ≠ 0
        θ ← θ (1 - λ η);   θ ← θ - η g          (η: the current step size, η_0 = γ)
        ā ← ā + μ (θ - ā)                       the average of θ (ā ← θ while μ = 1)
        η ← γ / (1 + λ γ t)^α
        μ ← 1 / max(1, t - t0)                  averaging starts after t0 steps

    The parameters themselves follow plain (decaying) SGD; the average ``ax`` is the
    estimate the method is named for (read it from ``optimizer.state[p]['ax']``). State
    names are PyTorch's: ``step``, ``eta`` (η), ``mu`` (μ), both Python floats here (0-dim
    tensors in PyTorch), and ``ax`` (ā).

    Args:
        params: tensors or parameter groups to optimize.
        lr: learning rate γ (default 1e-2).
        lambd: decay term λ (default 1e-4).
        alpha: power α of the step-size decay (default 0.75).
        t0: the step at which averaging starts (default 1e6).
        weight_decay: L2 penalty λ_w (default 0).
        maximize: maximize the objective instead of minimizing it.
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, lambd: float = 1e-4,
                 alpha: float = 0.75, t0: float = 1e6, weight_decay: float = 0, *,
                 maximize: bool = False) -> None:
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                        maximize=maximize)
        self._check_options(defaults)
        super().__init__(params, defaults)

    def _check_options(self, options: dict[str, Any]) -> None:
        self._check_non_negative(options, "lr", "weight_decay")

    def _init_state(self, p: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        state["step"] = 0
        state["eta"] = float(group["lr"])       # η
        state["mu"] = 1.0                       # μ
        state["ax"] = zeros_like(p)             # ā

    def _update_param(self, p: Tensor, grad: Tensor, state: dict[str, Any],
                      group: dict[str, Any]) -> None:
        lr, lambd, alpha, t0 = group["lr"], group["lambd"], group["alpha"], group["t0"]
        eta, mu, ax = state["eta"], state["mu"], state["ax"]
        state["step"] += 1
        t = state["step"]
        # g = -g if maximizing;  g = g + λ_w θ
        grad = self._signed_decayed_grad(p, grad, group)
        # θ = θ(1 - λη) - η g
        p.mul_(1 - lambd * eta).sub_(grad, alpha=eta)
        # ā = ā + μ(θ - ā), which is θ itself while μ = 1
        if mu != 1:
            ax.add_((p - ax).mul_(mu))
        else:
            ax.copy_(p)
        # η = γ / (1 + λγt)^α;   μ = 1 / max(1, t - t0)
        state["eta"] = lr / ((1 + lambd * lr * t) ** alpha)
        state["mu"] = 1 / max(1, t - t0)
