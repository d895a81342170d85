r"""L1 and L2 penalties to add to a loss.

``loss = data_loss + l2_penalty(model_params, weight)`` makes the optimizer see the
penalty's gradient like any other part of the loss.

How this relates to an optimizer's ``weight_decay=λ``: ``weight_decay`` adds ``λθ`` to
each gradient, which is the gradient of ``(λ/2)·||θ||²``. So for SGD (and for Adam,
RMSprop and Adagrad, whose ``weight_decay`` is coupled to the gradient the same way)::

    SGD(params, lr, weight_decay=λ)   ≡   SGD(params, lr) on  loss + l2_penalty(params, λ / 2)

up to floating-point rounding. AdamW's *decoupled* weight decay (``θ ← θ(1 - γλ)``) is
not the gradient of any penalty: it bypasses Adam's per-coordinate scaling, which is its
point. The penalty form is the one to use when you want the regulariser to show up in
the reported loss, to apply it to some tensors only, or to use L1.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..tensor import Tensor


def _params_list(params: Tensor | Iterable[Tensor], fn: str) -> list[Tensor]:
    params = [params] if isinstance(params, Tensor) else list(params)
    if len(params) == 0:
        raise ValueError(f"{fn}: got an empty list of parameters")
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{fn}: parameter {i} is a {type(p).__name__}, not a Tensor")
    return params


def l1_penalty(params: Tensor | Iterable[Tensor], weight: float) -> Tensor:
    r"""``weight · Σ_i Σ |θ_i|`` over all ``params``, a differentiable scalar tensor.

    Its gradient is ``weight · sign(θ)`` (0 at θ = 0). Encourages exact zeros (sparsity).
    """
    total = None
    for p in _params_list(params, "l1_penalty"):
        term = p.abs().sum()
        total = term if total is None else total + term
    return total * weight


def l2_penalty(params: Tensor | Iterable[Tensor], weight: float) -> Tensor:
    r"""``weight · Σ_i Σ θ_i²`` over all ``params``, a differentiable scalar tensor.

    Its gradient is ``2 · weight · θ``: ``l2_penalty(params, λ / 2)`` is what
    ``weight_decay=λ`` does inside SGD/Adam (see the module docstring).
    """
    total = None
    for p in _params_list(params, "l2_penalty"):
        term = (p * p).sum()
        total = term if total is None else total + term
    return total * weight
