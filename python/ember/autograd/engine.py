"""The backward engine: walk the graph from the outputs to the leaves, in topological order.

1. Collect every node reachable from the outputs' ``grad_fn`` (an explicit stack, not
   recursion: a chain of 100,000 ops is fine) and count, for each node, how many edges
   point into it.
2. Start from the outputs with their seed gradients. A node runs its ``backward`` only
   when all the nodes that feed it gradient have run (its count reached zero), so its
   incoming gradient is complete: this is Kahn's topological sort.
3. Gradients reaching a leaf are added into ``leaf.grad`` (or collected, for
   ``autograd.grad``).

Unless ``retain_graph``, each node frees its saved tensors after running, so the
memory of the forward pass is released as backward goes, and a second backward
through the same graph is a clear error.
"""

from __future__ import annotations

from collections.abc import Sequence

from .. import profiler as _profiler
from .function import AccumulateGrad, Function
from .grad_mode import set_grad_enabled


def _n_outputs(fn: Function) -> int:
    return 1 if fn._out_meta is None else len(fn._out_meta)


def _deliver(buf: dict, fn: Function, nr: int, g) -> None:
    """Add gradient ``g`` into output ``nr``'s slot of node ``fn``."""
    slots = buf.get(id(fn))
    if slots is None:
        slots = buf[id(fn)] = [None] * _n_outputs(fn)
    slots[nr] = g if slots[nr] is None else slots[nr] + g


def _output_grads(fn: Function, slots: list) -> list:
    """A multi-output node's backward gets a gradient for every output: zeros where none
    arrived (as PyTorch materialises them)."""
    if fn._out_meta is None or all(g is not None for g in slots):
        return slots
    from ..creation import zeros

    ref = next(g for g in slots if g is not None)
    return [g if g is not None else zeros(*shape, dtype=dtype, device=ref.device)
            for g, (shape, dtype) in zip(slots, fn._out_meta)]


def run_backward(outputs: Sequence, grads: Sequence, retain_graph: bool, create_graph: bool,
                 inputs: Sequence | None = None, allow_unused: bool = False):
    """Backpropagate ``grads`` from ``outputs``.

    With ``inputs=None`` gradients accumulate into the leaves' ``.grad``. Otherwise the
    gradients with respect to ``inputs`` are returned (a tuple) and no ``.grad`` changes.
    """
    roots = [(t.grad_fn, t._output_nr, g) for t, g in zip(outputs, grads)
             if t.grad_fn is not None]

    # 1. dependency counts over the reachable graph (iterative DFS)
    deps: dict[int, int] = {}
    stack = [fn for fn, _, _ in roots]
    seen = {id(fn) for fn in stack}
    while stack:
        fn = stack.pop()
        for nxt in fn.next_functions:
            if isinstance(nxt, Function):
                deps[id(nxt)] = deps.get(id(nxt), 0) + 1
                if id(nxt) not in seen:
                    seen.add(id(nxt))
                    stack.append(nxt)

    # what to capture for autograd.grad: leaves by identity, non-leaves by (grad_fn, output)
    capture_leaf: dict[int, int] = {}
    capture_node: dict[tuple, int] = {}
    results: list = [None] * (len(inputs) if inputs is not None else 0)
    if inputs is not None:
        for i, t in enumerate(inputs):
            if not t.requires_grad:
                raise RuntimeError(f"autograd.grad: input {i} does not require grad")
            if t.grad_fn is None:
                capture_leaf[id(t)] = i
            else:
                capture_node[(id(t.grad_fn), t._output_nr)] = i

    grad_buf: dict[int, list] = {}
    for fn, nr, g in roots:
        _deliver(grad_buf, fn, nr, g)
    ready = [fn for fn in {id(f): f for f, _, _ in roots}.values() if deps.get(id(fn), 0) == 0]

    # leaf gradients are summed here first, then written once
    leaf_grads: dict[int, tuple] = {}

    with set_grad_enabled(create_graph):
        while ready:
            fn = ready.pop()
            slots = grad_buf.pop(id(fn))
            for nr, g in enumerate(slots):
                if g is None:
                    continue
                if (id(fn), nr) in capture_node:
                    results[capture_node[(id(fn), nr)]] = g
                ref = fn._retain_refs.get(nr)
                owner = ref() if ref is not None else None
                if owner is not None:
                    owner.grad = g if owner.grad is None else owner.grad + g
            if fn._released:
                raise RuntimeError(
                    f"{fn.name()}: trying to backward through the graph a second time (the "
                    "first backward freed it). Pass retain_graph=True to the first backward() "
                    "if you need to call it twice."
                )
            out_grads = _output_grads(fn, slots)
            if _profiler._active:
                start = _profiler.begin()
                in_grads = fn.backward(fn, *out_grads)
                _profiler.end(fn.name(), start)
            else:
                in_grads = fn.backward(fn, *out_grads)
            if not isinstance(in_grads, tuple):
                in_grads = (in_grads,)
            if len(in_grads) != len(fn.next_functions):
                raise RuntimeError(
                    f"{fn.name()}: backward returned {len(in_grads)} gradients but forward "
                    f"took {len(fn.next_functions)} inputs"
                )
            if not retain_graph:
                fn._release()
            for nxt, nr, gi in zip(fn.next_functions, fn.next_output_nrs, in_grads):
                if nxt is None or gi is None:
                    if isinstance(nxt, Function):
                        _done_one_input(nxt, deps, ready, grad_buf)
                    continue
                if isinstance(nxt, AccumulateGrad):
                    leaf = nxt.leaf
                    _check_grad(fn, leaf, gi)
                    prev = leaf_grads.get(id(leaf))
                    leaf_grads[id(leaf)] = (leaf, gi if prev is None else prev[1] + gi)
                else:
                    _deliver(grad_buf, nxt, nr, gi)
                    _done_one_input(nxt, deps, ready, grad_buf)

    if inputs is not None:
        for key, (_leaf, g) in leaf_grads.items():
            if key in capture_leaf:
                results[capture_leaf[key]] = g
        for i, r in enumerate(results):
            if r is None and not allow_unused:
                raise RuntimeError(
                    f"autograd.grad: input {i} was not used to compute the outputs "
                    "(pass allow_unused=True to get None for it)"
                )
        return tuple(results)

    for leaf, g in leaf_grads.values():
        if not create_graph:
            g = g.detach()
        leaf.grad = g if leaf.grad is None else leaf.grad + g
    return None


def _done_one_input(nxt, deps, ready, grad_buf) -> None:
    """One edge into ``nxt`` has delivered (or skipped) its gradient."""
    stack = [nxt]
    while stack:
        node = stack.pop()
        deps[id(node)] -= 1
        if deps[id(node)] == 0:
            if id(node) in grad_buf:
                ready.append(node)
            else:  # every path into it carried no gradient: its inputs get none from it
                stack.extend(n for n in node.next_functions if isinstance(n, Function))


def _check_grad(fn, leaf, g) -> None:
    if g.shape != leaf.shape:
        raise RuntimeError(
            f"{fn.name()}: backward produced a gradient of shape {g.shape} for an input of "
            f"shape {leaf.shape}"
        )
