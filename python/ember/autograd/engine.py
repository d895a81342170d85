"""The backward engine: order the graph, then walk it once from the outputs to the leaves.

    order = topological_order(roots)        # every node before the nodes that feed it
    for node in order:
        grads = incoming.pop(node)          # complete: all its consumers ran before it
        for (parent, nr), g in zip(node.next_functions, node.backward(*grads)):
            incoming[parent][nr] += g       # or leaf.grad += g for a leaf's AccumulateGrad

That is the whole idea (micrograd's ``backward``). The order comes from an explicit stack,
not recursion, so a chain of 100,000 ops is fine. Around the loop sit small helpers:
tensor hooks and ``retain_grad`` (``_run_hooks``), what ``autograd.grad`` captures
(``_Capture``), the profiler (``profiler.record``), and writing leaf gradients once each.

Unless ``retain_graph``, each node frees its saved tensors after running, so the memory of
the forward pass is released as backward goes, and a second backward through the same graph
is a clear error.
"""

from __future__ import annotations

from collections.abc import Sequence

from . import profiler
from .function import AccumulateGrad, Function
from .grad_mode import set_grad_enabled


# ---------------------------------------------------------------------------- entry points
def backward(tensors, grad_tensors=None, retain_graph: bool | None = None,
             create_graph: bool = False, inputs: Sequence | None = None) -> None:
    """Accumulate d(tensors)/d(leaf) into every leaf's ``.grad`` (or only ``inputs``')."""
    outputs = _as_tuple(tensors)
    seeds = _seed_grads("backward", outputs, _as_tuple(grad_tensors))
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is not None:
        inputs = _as_tuple(inputs)
        for t, g in zip(inputs, _grads_of(outputs, seeds, inputs, retain_graph, create_graph)):
            if g is not None:
                _accumulate(t, g, create_graph)
        return
    for t, g in zip(outputs, seeds):
        if t.grad_fn is None:  # a leaf output: its gradient is the seed itself
            _accumulate(t, g, create_graph)
    for leaf, g in run_backward(outputs, seeds, retain_graph, create_graph).values():
        _accumulate(leaf, g, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool = False) -> tuple:
    """The gradients of ``outputs`` with respect to ``inputs``, returned (``.grad`` is left
    alone). With ``create_graph=True`` the result is itself differentiable."""
    outputs, inputs = _as_tuple(outputs), _as_tuple(inputs)
    seeds = _seed_grads("grad", outputs, _as_tuple(grad_outputs))
    if retain_graph is None:
        retain_graph = create_graph
    grads = _grads_of(outputs, seeds, inputs, retain_graph, create_graph)
    for i, (t, g) in enumerate(zip(inputs, grads)):
        if g is None and not allow_unused:
            raise RuntimeError(f"grad: input {i} (shape {t.shape}) was not used to compute the "
                               "outputs; pass allow_unused=True to get None for it")
    return grads


# ---------------------------------------------------------------------------- the walk
def topological_order(roots: Sequence[Function]) -> list[Function]:
    """Every node reachable from ``roots``, each before all the nodes it sends gradient to
    (reversed depth-first post-order, with an explicit stack)."""
    post: list[Function] = []
    seen: set[int] = set()
    for root in roots:
        if id(root) in seen:
            continue
        seen.add(id(root))
        stack = [(root, iter(root.next_functions))]
        while stack:
            node, parents = stack[-1]
            for parent, _ in parents:
                if isinstance(parent, Function) and id(parent) not in seen:
                    seen.add(id(parent))
                    stack.append((parent, iter(parent.next_functions)))
                    break
            else:  # every parent is placed: the node goes after them
                stack.pop()
                post.append(node)
    return post[::-1]


def run_backward(outputs: Sequence, seeds: Sequence, retain_graph: bool, create_graph: bool,
                 capture: _Capture | None = None) -> dict:
    """Backpropagate ``seeds`` from ``outputs`` through the graph. Returns the leaves'
    gradients, ``{id(leaf): (leaf, summed gradient)}``; ``capture`` (for ``autograd.grad``)
    also records the gradients of chosen non-leaf tensors on the way."""
    incoming: dict[int, list] = {}  # id(node) -> one summed gradient per output of the node
    for t, g in zip(outputs, seeds):
        if t.grad_fn is not None:
            _add_into(incoming, t.grad_fn, t._output_nr, g)
    leaf_grads: dict[int, tuple] = {}

    with set_grad_enabled(create_graph):
        for fn in topological_order([t.grad_fn for t in outputs if t.grad_fn is not None]):
            grads = incoming.pop(id(fn), None)
            if grads is None:
                continue  # no gradient reached this node (e.g. only None flowed into it)
            if fn._released:
                raise RuntimeError(
                    f"{fn.name()}: trying to backward through the graph a second time (the "
                    "first backward freed it). Pass retain_graph=True to the first backward() "
                    "if you need to call it twice."
                )
            if fn._hooks or fn._retained or capture is not None:
                grads = _run_hooks(fn, grads, capture)
            in_grads = _call_backward(fn, grads)
            if not retain_graph:
                fn._release()
            for (parent, nr), g in zip(fn.next_functions, in_grads):
                if parent is None or g is None:
                    continue
                if isinstance(parent, AccumulateGrad):
                    _check_leaf_grad(fn, parent.leaf, g)
                    prev = leaf_grads.get(id(parent.leaf))
                    leaf_grads[id(parent.leaf)] = (parent.leaf, g if prev is None else prev[1] + g)
                else:
                    _add_into(incoming, parent, nr, g)

    # a leaf's hooks see its whole gradient, once
    for key, (leaf, g) in leaf_grads.items():
        for hook in leaf._hooks:
            g = _hooked(hook, g)
        leaf_grads[key] = (leaf, g)
    return leaf_grads


# ---------------------------------------------------------------------------- helpers
def _add_into(incoming: dict, fn: Function, nr: int, g) -> None:
    """Add gradient ``g`` into output ``nr``'s slot of node ``fn``."""
    slots = incoming.get(id(fn))
    if slots is None:
        slots = incoming[id(fn)] = [None] * fn._n_outputs
    slots[nr] = g if slots[nr] is None else slots[nr] + g


def _run_hooks(fn: Function, grads: list, capture: _Capture | None) -> list:
    """Before a node runs: the hooks of the tensors it made see (and may replace) their
    gradients, ``retain_grad`` keeps them, ``autograd.grad`` captures them."""
    for nr, g in enumerate(grads):
        if g is None:
            continue
        for hook in fn._hooks.get(nr, ()):
            g = _hooked(hook, g)
        grads[nr] = g
        owner = fn._retained.get(nr)
        owner = owner() if owner is not None else None
        if owner is not None:
            owner.grad = g if owner.grad is None else owner.grad + g
        if capture is not None:
            capture.node(fn, nr, g)
    return grads


def _hooked(hook, g):
    """A tensor hook's result replaces the gradient; None leaves it as it is."""
    new = hook(g)
    if new is not None and new.shape != g.shape:
        raise RuntimeError(f"hook {getattr(hook, '__name__', hook)!r} returned a gradient of "
                           f"shape {new.shape} for a tensor of shape {g.shape}")
    return g if new is None else new


def _call_backward(fn: Function, grads: list) -> tuple:
    """Run one node's backward (timed when a profiler is on) and check what it returns."""
    if fn._out_meta is not None:  # a multi-output op gets a gradient for every float output
        grads = _materialize(fn, grads)
    if profiler.is_active():
        in_grads = profiler.record(fn.name(), fn.backward, fn, *grads)
    else:  # the hot path: no extra call per node
        in_grads = fn.backward(fn, *grads)
    if not isinstance(in_grads, tuple):
        in_grads = (in_grads,)
    if len(in_grads) != len(fn.next_functions):
        raise RuntimeError(
            f"{fn.name()}: backward returned {len(in_grads)} gradients but forward "
            f"took {len(fn.next_functions)} inputs"
        )
    return in_grads


def _materialize(fn: Function, grads: list) -> list:
    """Zeros for the float outputs that got no gradient (as PyTorch materialises them);
    outputs without a gradient (integer indices) get None."""
    ref = next(g for g in grads if g is not None)
    return [g if g is not None or not dtype.is_floating_point
            else ref.new_zeros(shape, dtype=dtype)
            for g, (shape, dtype) in zip(grads, fn._out_meta)]


def _check_leaf_grad(fn: Function, leaf, g) -> None:
    if g.shape != leaf.shape:
        raise RuntimeError(
            f"{fn.name()}: backward produced a gradient of shape {g.shape} for an input of "
            f"shape {leaf.shape}"
        )


def _accumulate(t, g, create_graph: bool) -> None:
    """``t.grad += g``: gradients add up across backward calls until zeroed."""
    if not create_graph:
        g = g.detach()
    t.grad = g if t.grad is None else t.grad + g


class _Capture:
    """The gradients ``autograd.grad`` returns: leaves by identity, non-leaf tensors by
    (the node that made them, which output)."""

    def __init__(self, inputs: Sequence) -> None:
        self.results: list = [None] * len(inputs)
        self.leaves: dict[int, int] = {}
        self.nodes: dict[tuple, int] = {}
        for i, t in enumerate(inputs):
            if not t.requires_grad:
                raise RuntimeError(f"autograd.grad: input {i} does not require grad")
            if t.grad_fn is None:
                self.leaves[id(t)] = i
            else:
                self.nodes[(id(t.grad_fn), t._output_nr)] = i

    def node(self, fn: Function, nr: int, g) -> None:
        i = self.nodes.get((id(fn), nr))
        if i is not None:
            self.results[i] = g

    def add_leaves(self, leaf_grads: dict) -> None:
        for key, (_leaf, g) in leaf_grads.items():
            if key in self.leaves:
                self.results[self.leaves[key]] = g


def _grads_of(outputs, seeds, inputs, retain_graph, create_graph) -> tuple:
    """d outputs / d inputs (None for inputs the outputs do not depend on)."""
    capture = _Capture(inputs)
    capture.add_leaves(run_backward(outputs, seeds, retain_graph, create_graph, capture))
    for t, g in zip(outputs, seeds):  # an input that is itself an output: d t / d t = seed
        i = capture.leaves.get(id(t)) if t.grad_fn is None else None
        if i is not None:
            capture.results[i] = g if capture.results[i] is None else capture.results[i] + g
    return tuple(capture.results)


def _as_tuple(x) -> tuple:
    if x is None:
        return ()
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _seed_grads(op: str, outputs: tuple, grads: tuple) -> list:
    """The gradient each output starts with: ``grads`` (cast to the output's dtype, as
    PyTorch does), or 1 for a scalar output."""
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
            g = t.new_ones(t.shape)
        elif g.shape != t.shape:
            raise RuntimeError(f"{op}: gradient of shape {g.shape} given for an output of shape "
                               f"{t.shape}")
        elif g.dtype is not t.dtype:
            g = g.to(t.dtype)
        seeds.append(g)
    return seeds
