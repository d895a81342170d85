"""``ember.autograd``: the graph machinery. See ``function.py`` (what a node is),
``engine.py`` (how backward walks the graph) and ``gradcheck.py`` (how we know the
gradients are right)."""

from __future__ import annotations

from collections.abc import Sequence

from .function import Function
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import GradcheckError, gradcheck, gradgradcheck


def _as_tuple(x) -> tuple:
    if x is None:
        return ()
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _seed_grads(op: str, outputs: tuple, grads: tuple) -> list:
    from ..creation import ones_like

    if grads and len(grads) != len(outputs):
        raise RuntimeError(f"{op}: got {len(grads)} gradients for {len(outputs)} outputs")
    seeds = []
    for i, t in enumerate(outputs):
        g = grads[i] if grads else None
        if not t.requires_grad:
            raise RuntimeError(
                f"{op}: element {i} of the outputs does not require grad and has no grad_fn "
                "(did you forget requires_grad=True on an input, or run under no_grad?)"
            )
        if g is None:
            if t.numel() != 1:
                raise RuntimeError(
                    f"{op}: the gradient can be created implicitly only for scalar outputs; "
                    f"output {i} has shape {t.shape}. Pass gradient= (a tensor of that shape)."
                )
            g = ones_like(t)
        elif g.shape != t.shape:
            raise RuntimeError(f"{op}: gradient of shape {g.shape} given for an output of shape "
                               f"{t.shape}")
        seeds.append(g)
    return seeds


def backward(tensors, grad_tensors=None, retain_graph: bool | None = None,
             create_graph: bool = False, inputs: Sequence | None = None) -> None:
    """Accumulate d(tensors)/d(leaf) into every leaf's ``.grad`` (or only ``inputs``')."""
    from .engine import run_backward

    outputs = _as_tuple(tensors)
    seeds = _seed_grads("backward", outputs, _as_tuple(grad_tensors))
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is not None:
        inputs = _as_tuple(inputs)
        grads = run_backward(outputs, seeds, retain_graph, create_graph, inputs=inputs,
                             allow_unused=True)
        for t, g in zip(inputs, grads):
            if g is not None:
                g = g if create_graph else g.detach()
                t.grad = g if t.grad is None else t.grad + g
        return
    # a leaf output: its gradient is the seed itself
    for t, g in zip(outputs, seeds):
        if t.grad_fn is None:
            t.grad = g if t.grad is None else t.grad + g
    run_backward(outputs, seeds, retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool = False) -> tuple:
    """The gradients of ``outputs`` with respect to ``inputs``, returned (``.grad`` is left
    alone). With ``create_graph=True`` the result is itself differentiable."""
    from .engine import run_backward

    outputs = _as_tuple(outputs)
    inputs = _as_tuple(inputs)
    seeds = _seed_grads("grad", outputs, _as_tuple(grad_outputs))
    if retain_graph is None:
        retain_graph = create_graph
    direct = {id(t): g for t, g in zip(outputs, seeds) if t.grad_fn is None}
    grads = run_backward(outputs, seeds, retain_graph, create_graph, inputs=inputs,
                         allow_unused=True)
    out = []
    for i, (t, g) in enumerate(zip(inputs, grads)):
        if id(t) in direct:
            g = direct[id(t)] if g is None else g + direct[id(t)]
        if g is None and not allow_unused:
            raise RuntimeError(f"grad: input {i} (shape {t.shape}) was not used to compute the "
                               "outputs; pass allow_unused=True to get None for it")
        out.append(g)
    return tuple(out)


__all__ = ["Function", "backward", "grad", "gradcheck", "gradgradcheck", "GradcheckError",
           "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled"]
