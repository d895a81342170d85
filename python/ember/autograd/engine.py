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


def _accumulate(buf: dict, key, g):
    prev = buf.get(key)
    buf[key] = g if prev is None else prev + g


def run_backward(outputs: Sequence, grads: Sequence, retain_graph: bool, create_graph: bool,
                 inputs: Sequence | None = None, allow_unused: bool = False):
    """Backpropagate ``grads`` from ``outputs``.

    With ``inputs=None`` gradients accumulate into the leaves' ``.grad``. Otherwise the
    gradients with respect to ``inputs`` are returned (a tuple) and no ``.grad`` changes.
    """
    roots = [(t.grad_fn, g) for t, g in zip(outputs, grads) if t.grad_fn is not None]

    # 1. dependency counts over the reachable graph (iterative DFS)
    deps: dict[int, int] = {}
    nodes: dict[int, Function] = {}
    stack = [fn for fn, _ in roots]
    for fn in stack:
        nodes[id(fn)] = fn
    seen = set(nodes)
    while stack:
        fn = stack.pop()
        for nxt in fn.next_functions:
            if isinstance(nxt, Function):
                deps[id(nxt)] = deps.get(id(nxt), 0) + 1
                if id(nxt) not in seen:
                    seen.add(id(nxt))
                    nodes[id(nxt)] = nxt
                    stack.append(nxt)

    # what to capture for autograd.grad: leaves by identity, non-leaves by their grad_fn
    capture_leaf: dict[int, int] = {}
    capture_node: dict[int, int] = {}
    results: list = [None] * (len(inputs) if inputs is not None else 0)
    if inputs is not None:
        for i, t in enumerate(inputs):
            if not t.requires_grad:
                raise RuntimeError(f"autograd.grad: input {i} does not require grad")
            if t.grad_fn is None:
                capture_leaf[id(t)] = i
            else:
                capture_node[id(t.grad_fn)] = i

    grad_buf: dict[int, object] = {}
    for fn, g in roots:
        _accumulate(grad_buf, id(fn), g)
    ready = [fn for fn in {id(f): f for f, _ in roots}.values() if deps.get(id(fn), 0) == 0]

    # leaf gradients are summed here first, then written once
    leaf_grads: dict[int, tuple] = {}

    with set_grad_enabled(create_graph):
        while ready:
            fn = ready.pop()
            g = grad_buf.pop(id(fn))
            if id(fn) in capture_node:
                results[capture_node[id(fn)]] = g
            if fn._retain_ref is not None:
                owner = fn._retain_ref()
                if owner is not None:
                    owner.grad = g if owner.grad is None else owner.grad + g
            if fn._released:
                raise RuntimeError(
                    f"{fn.name()}: trying to backward through the graph a second time (the "
                    "first backward freed it). Pass retain_graph=True to the first backward() "
                    "if you need to call it twice."
                )
            if _profiler._active:
                start = _profiler.begin()
                in_grads = fn.backward(fn, g)
                _profiler.end(fn.name(), start)
            else:
                in_grads = fn.backward(fn, g)
            if not isinstance(in_grads, tuple):
                in_grads = (in_grads,)
            if len(in_grads) != len(fn.next_functions):
                raise RuntimeError(
                    f"{fn.name()}: backward returned {len(in_grads)} gradients but forward "
                    f"took {len(fn.next_functions)} inputs"
                )
            if not retain_graph:
                fn._release()
            for nxt, gi in zip(fn.next_functions, in_grads):
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
                    _accumulate(grad_buf, id(nxt), gi)
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
