"""Adam and AdamW: per-coordinate step sizes from running moments of the gradient."""

from __future__ import annotations

import math
from typing import Any

from ..creation import zeros_like
from ..ops import maximum
from ..ops.optim import fused_adam_step_
from ..tensor import Tensor
from .optimizer import Optimizer, ParamsT


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015), as ``torch.optim.Adam``.

    For each parameter θ with gradient g at step t (PyTorch's pseudo-code)::

        g ← -g                                  if maximize
        θ ← θ - γ λ θ                           if decoupled_weight_decay (AdamW)
        g ← g + λ θ                             elif λ ≠ 0  (L2, coupled to the gradient)
        m ← β1 m + (1 - β1) g                   first moment (mean)
        v ← β2 v + (1 - β2) g²                  second moment (uncentered variance)
        v_max ← max(v_max, v), used for v below  if amsgrad
        m̂ = m / (1 - β1^t),  v̂ = v / (1 - β2^t)   bias correction (m, v start at 0)
        θ ← θ - γ m̂ / (√v̂ + ε)

    Args:
        params: tensors or parameter groups to optimize.
        lr: learning rate γ (default 1e-3).
        betas: (β1, β2), the decay rates of the two moments (default (0.9, 0.999)).
        eps: ε added to the denominator for numerical stability (default 1e-8).
        weight_decay: λ (default 0). For Adam this is L2 regularisation (added to the
            gradient, so it is rescaled by the adaptive step); AdamW decouples it.
        amsgrad: use the AMSGrad variant (the maximum of past second moments).
        maximize: maximize the objective instead of minimizing it.
        fused: use the native one-pass kernel (``ember.ops.fused_adam_step_``). The default
            ``None`` uses it whenever the parameter is contiguous; ``False`` runs the
            readable tensor-op version below (the reference the kernel is tested against).
        decoupled_weight_decay: apply weight decay as AdamW does (``θ ← θ(1 - γλ)``).
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, maximize: bool = False,
                 fused: bool | None = None, decoupled_weight_decay: bool = False) -> None:
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        self._check_options(defaults)
        super().__init__(params, defaults)

    def _check_options(self, options: dict[str, Any]) -> None:
        self._check_non_negative(options, "lr", "eps", "weight_decay")
        self._check_betas(options)

    def _init_state(self, p: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        state["step"] = 0
        state["exp_avg"] = zeros_like(p)        # m
        state["exp_avg_sq"] = zeros_like(p)     # v
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = zeros_like(p)

    def _update_param(self, p: Tensor, grad: Tensor, state: dict[str, Any],
                      group: dict[str, Any]) -> None:
        fused = group["fused"]
        if fused is None:
            fused = p.is_contiguous()
        elif fused and not p.is_contiguous():
            raise ValueError(f"{type(self).__name__}(fused=True): parameters must be contiguous; "
                             f"got a non-contiguous tensor of shape {p.shape}")
        if fused:
            self._fused_update(p, grad, state, group)
        else:
            self._reference_update(p, grad, state, group)

    def _fused_update(self, p: Tensor, grad: Tensor, state: dict[str, Any],
                      group: dict[str, Any]) -> None:
        """The same update as ``_reference_update`` in one native pass over memory."""
        state["step"] += 1
        beta1, beta2 = group["betas"]
        fused_adam_step_(p, grad.to(p.dtype), state["exp_avg"], state["exp_avg_sq"],
                         state.get("max_exp_avg_sq"), lr=group["lr"], beta1=beta1,
                         beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
                         step=state["step"], amsgrad=group["amsgrad"],
                         maximize=group["maximize"],
                         decoupled=group["decoupled_weight_decay"])

    def _reference_update(self, p: Tensor, grad: Tensor, state: dict[str, Any],
                          group: dict[str, Any]) -> None:
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        state["step"] += 1
        step = state["step"]

        # g = -g if maximizing;  g = g + λθ (or θ = θ(1 - γλ) if decoupled)
        grad = self._signed_decayed_grad(p, grad, group)

        # m = β1 m + (1 - β1) g;   v = β2 v + (1 - β2) g²
        exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
        exp_avg_sq.mul_(beta2).add_(grad * grad, alpha=1 - beta2)
        if group["amsgrad"]:
            # v_max = max(v_max, v): the denominator never shrinks
            state["max_exp_avg_sq"].copy_(maximum(state["max_exp_avg_sq"], exp_avg_sq))
            exp_avg_sq = state["max_exp_avg_sq"]

        # θ = θ - γ/(1-β1^t) · m / (√v / √(1-β2^t) + ε)
        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        denom = (exp_avg_sq.sqrt() / math.sqrt(bias_correction2)).add_(eps)
        p.sub_(exp_avg / denom, alpha=lr / bias_correction1)


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter, 2019), as
    ``torch.optim.AdamW``.

    Identical to Adam except for weight decay: before the Adam update the parameter is
    shrunk directly, ``θ ← θ (1 - γλ)``, instead of adding ``λθ`` to the gradient (where
    Adam's adaptive scaling would weaken it for parameters with large gradients).

    Args:
        params, lr, betas, eps, amsgrad, maximize, fused: as for :class:`Adam`.
        weight_decay: decoupled weight decay λ (default 1e-2).
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False, fused: bool | None = None) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize, fused=fused,
                         decoupled_weight_decay=True)
