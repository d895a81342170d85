"""``Optimizer``: the base class every optimizer builds on.

An optimizer holds *parameter groups* (lists of tensors that share options such as the
learning rate) and a per-parameter *state* (momentum buffers, running averages, step
counts). ``step()`` walks the parameters that have a gradient and updates each one in
place, outside the graph (under ``ember.no_grad()``), using only public Tensor ops, so the
same code runs on any device.

A new optimizer usually only writes two methods:

- ``_init_state(p, state, group)``: fill the empty ``state`` dict the first time ``p`` is
  updated (buffers live on ``p``'s device and dtype);
- ``_update_param(p, grad, state, group)``: one update of one parameter, with the math in a
  comment above the code (``_signed_decayed_grad`` does the ``maximize`` and weight-decay
  lines most rules start with).

The state dict format is PyTorch's: ``{'state': {index: {...}}, 'param_groups':
[{..., 'params': [indices]}]}``, where parameters are numbered in group order.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from ..autograd.grad_mode import enable_grad, no_grad
from ..tensor import Tensor

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]]


class Optimizer:
    """Base class of all optimizers.

    Args:
        params: an iterable of tensors to optimize, or of dicts defining parameter groups
            (each with a ``'params'`` entry plus any options overriding ``defaults``).
        defaults: the default options of every group (``lr``, ``momentum``, ...).
    """

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or "
                f"dicts, but got a Tensor of shape {params.shape} (wrap it in a list: [p])"
            )
        if isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be in an ordered collection (a list), not a "
                "set: the order of a set changes between runs, and so would the state dict"
            )
        self.defaults = dict(defaults)
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []

        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    # ------------------------------------------------------------------ options
    def _check_options(self, options: dict[str, Any]) -> None:
        """Raise ValueError for an invalid option value (subclasses check theirs). Called on
        the defaults and on every group, so a bad per-group override is caught too."""

    @staticmethod
    def _check_non_negative(options: dict[str, Any], *names: str) -> None:
        for name in names:
            if name in options and not options[name] >= 0.0:
                label = {"lr": "learning rate"}.get(name, f"{name} value")
                raise ValueError(f"Invalid {label}: {options[name]} (expected >= 0)")

    @staticmethod
    def _check_betas(options: dict[str, Any]) -> None:
        betas = options.get("betas")
        if betas is None:
            return
        if len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        for i, b in enumerate(betas):
            if not 0.0 <= b < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {b} "
                                 "(expected 0 <= beta < 1)")

    @staticmethod
    def _signed_decayed_grad(p: Tensor, grad: Tensor, group: dict[str, Any]) -> Tensor:
        """The first lines of every update rule (PyTorch's order): ``g ← -g`` if the group
        maximizes, then weight decay λ -- the L2 term ``g ← g + λθ``, or with the group's
        ``decoupled_weight_decay`` (AdamW's) ``θ ← θ (1 - γλ)`` in place, independent of
        the gradient."""
        if group.get("maximize", False):
            grad = -grad
        weight_decay = group.get("weight_decay", 0)
        if weight_decay != 0:
            if group.get("decoupled_weight_decay", False):
                p.mul_(1 - group["lr"] * weight_decay)
            else:
                grad = grad + p * weight_decay
        return grad

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own options (missing options take the
        optimizer's defaults). Useful when fine-tuning: unfreeze a layer and add it."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError("param_group must have a 'params' entry (the tensors to optimize)")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be in an ordered collection (a "
                            "list), not a set: the order of a set changes between runs")
        else:
            params = list(params)
        if len(params) == 0:
            raise ValueError("optimizer got a parameter group with an empty parameter list")

        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but parameter {i} of the "
                                f"group is a {type(p).__name__}")
            if not p.is_floating_point():
                raise TypeError(f"optimizer can only optimize floating-point tensors, but "
                                f"parameter {i} of the group (shape {p.shape}) is {p.dtype}")
            if not p.is_leaf:
                raise ValueError(
                    f"can't optimize a non-leaf Tensor: parameter {i} of the group (shape "
                    f"{p.shape}) was computed by {p.grad_fn!r}; optimize the leaf tensors it "
                    "came from, or make it a leaf with .detach().requires_grad_()"
                )

        # One parameter updated twice per step would be a silent bug: refuse it.
        seen: set[int] = set()
        for i, p in enumerate(params):
            if id(p) in seen:
                raise ValueError(f"parameter {i} of the group (shape {p.shape}) appears more "
                                 "than once in the same parameter group")
            seen.add(id(p))
        for g, group in enumerate(self.param_groups):
            if any(id(q) in seen for q in group["params"]):
                raise ValueError("some parameters appear in more than one parameter group "
                                 f"(the new group shares parameters with group {g})")

        group = {**param_group, "params": params}
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        self._check_options(group)
        self.param_groups.append(group)

    # ------------------------------------------------------------------ gradients
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of all optimized tensors.

        ``backward()`` *adds* into ``.grad``: gradients accumulate across backward calls
        (which is how gradient accumulation over several micro-batches works). Call this
        once per step, before the next backward, unless you mean to accumulate.

        Args:
            set_to_none: set ``.grad`` to ``None`` (the default; frees the memory, and a
                parameter that gets no gradient next time is then skipped by ``step()``)
                instead of filling it with zeros (a zero gradient still takes a step: with
                momentum or weight decay the parameter keeps moving).
        """
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if p.grad.grad_fn is not None:  # made with create_graph=True
                        p.grad = p.grad.detach()
                    p.grad.requires_grad_(False)
                    with no_grad():
                        p.grad.zero_()

    # ------------------------------------------------------------------ the update
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimization step: update every parameter that has a gradient.

        Args:
            closure: optional function that re-evaluates the model (zero_grad, forward,
                backward) and returns the loss; it runs with grad mode on before the update.
                Some algorithms (e.g. L-BFGS) need it; the others accept it for uniformity.

        Returns:
            the closure's loss, or ``None`` without a closure.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for gi, group in enumerate(self.param_groups):
                for pi, p in enumerate(group["params"]):
                    grad = p.grad
                    if grad is None:
                        continue  # no gradient this step (unused, or frozen): leave it alone
                    if grad.shape != p.shape:
                        raise RuntimeError(
                            f"{type(self).__name__}.step: parameter {pi} of group {gi} has "
                            f"shape {p.shape} but its .grad has shape {grad.shape}"
                        )
                    state = self.state[p]
                    if len(state) == 0:
                        self._init_state(p, state, group)
                    self._update_param(p, grad, state, group)
        return loss

    def _init_state(self, p: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        """Fill the (empty) state of ``p`` before its first update."""

    def _update_param(self, p: Tensor, grad: Tensor, state: dict[str, Any],
                      group: dict[str, Any]) -> None:
        """Update ``p`` in place from ``grad`` (runs under no_grad)."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement _update_param (or override step)"
        )

    # ------------------------------------------------------------------ state dicts
    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state as a dict, in PyTorch's format.

        ``'state'`` maps a parameter's index (its position when the groups' parameter
        lists are concatenated) to its state dict; ``'param_groups'`` lists each group's
        options with ``'params'`` holding indices instead of tensors. As in PyTorch the
        state tensors are references to the live buffers (copy the dict, e.g. with
        ``copy.deepcopy``, to keep a snapshot while training goes on).
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {index[id(p)]: s for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state saved by ``state_dict()`` from an optimizer with the same
        parameter layout (same number of groups, of parameters per group, and shapes).

        The saved options (lr, betas, ...) replace this optimizer's; state tensors are
        *copied* onto each parameter's device and dtype, never aliased.
        """
        name = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= set(state_dict):
            raise ValueError(f"{name}: expected a dict with 'state' and 'param_groups' entries "
                             "(as returned by state_dict())")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}: loaded state dict has {len(saved_groups)} parameter "
                             f"group(s) but this optimizer has {len(self.param_groups)}")
        for g, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"{name}: parameter group {g} has {len(saved['params'])} parameter(s) in "
                    f"the loaded state dict but {len(group['params'])} in this optimizer"
                )

        # saved index -> (this optimizer's parameter, its group number, position in group)
        id_map: dict[Any, tuple[Tensor, int, int]] = {}
        for g, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            for i, (k, p) in enumerate(zip(saved["params"], group["params"])):
                id_map[k] = (p, g, i)

        new_state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for k, pstate in state_dict["state"].items():
            if k not in id_map:
                raise ValueError(f"{name}: the loaded state refers to parameter index {k!r}, "
                                 "which no loaded parameter group lists")
            p, g, i = id_map[k]
            new_state[p] = {key: self._load_value(p, value, f"{name}: state '{key}' of "
                                                  f"parameter {i} in group {g}")
                            for key, value in pstate.items()}

        new_groups = []
        for group, saved in zip(self.param_groups, saved_groups):
            # options missing from an older state dict keep this optimizer's defaults
            options = {**self.defaults,
                       **{k: copy.deepcopy(v) for k, v in saved.items() if k != "params"}}
            new_groups.append({**options, "params": group["params"]})
        for group in new_groups:
            self._check_options(group)
        self.state = new_state
        self.param_groups = new_groups

    @staticmethod
    def _load_value(p: Tensor, value: Any, where: str) -> Any:
        """A copy of one saved state value, tensors moved onto ``p``'s device and dtype."""
        if isinstance(value, Tensor):
            if value.ndim > 0 and value.shape != p.shape:
                raise ValueError(f"{where} has shape {value.shape} but the parameter has shape "
                                 f"{p.shape}")
            dtype = p.dtype if value.is_floating_point() else value.dtype
            return value.detach().to(p.device, dtype, copy=True)
        return copy.deepcopy(value)

    # ------------------------------------------------------------------ printing
    def __repr__(self) -> str:
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            n = len(group["params"])
            lines.append(f"Parameter Group {i} ({n} tensor{'s' if n != 1 else ''})")
            for key in sorted(group):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)
