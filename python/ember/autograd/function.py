"""``Function``: one differentiable op = a forward on backend arrays + a backward on Tensors.

Writing an op (the pattern every file in ``ember.ops`` follows)::

    class Mul(Function):
        # z = a * b  ->  dL/da = g * b,  dL/db = g * a
        @staticmethod
        def forward(ctx, a, b):            # a, b: backend arrays (numpy on the CPU)
            ctx.save_for_backward(a, b)
            return ctx.backend.mul(a, b)   # -> backend array
        @staticmethod
        def backward(ctx, g):              # g: Tensor, the gradient of the output
            a, b = ctx.saved_tensors       # Tensors again
            return g * b, g * a            # one gradient (or None) per forward input

``Function.apply(*args)`` unwraps Tensor arguments to arrays, runs ``forward``, wraps the
result in a Tensor and, when grad mode is on and an input requires grad, records the
call as the result's ``grad_fn``: a node of the graph that ``backward()`` walks.

An op may return several arrays (a tuple): it then makes several output tensors, and its
backward receives one gradient per output (zeros for outputs that got none) -- ``split``
is the example: one node, a single ``cat`` in backward.

Because backward is written with Tensor ops, running it with grad mode on
(``create_graph=True``) records a graph of the backward itself: second derivatives come
for free. To make that right, ``saved_tensors`` gives back the *real* input tensors (with
their history) and, for a saved output, a tensor whose ``grad_fn`` is this node.
"""

from __future__ import annotations

import functools
from typing import Any

from ..backend import backend_for
from ..tensor import Tensor
from . import profiler
from .grad_mode import is_grad_enabled, no_grad

_INPUT, _OUTPUT, _CONST = 0, 1, 2


class AccumulateGrad:
    """The graph's sink for a leaf tensor: backward adds the gradient into ``leaf.grad``."""

    __slots__ = ("leaf",)

    def __init__(self, leaf) -> None:
        self.leaf = leaf

    def name(self) -> str:
        return "AccumulateGrad"

    def __repr__(self) -> str:
        return "<AccumulateGrad>"


class Function:
    """Base class of differentiable ops. An instance is both the ``ctx`` of one call and
    that call's node in the graph (the ``grad_fn`` of its output)."""

    # True for ops whose output aliases the input's memory (reshape, permute, slicing):
    # the output then shares the input's version counter, so an in-place change
    # through either one is seen by tensors saved for backward.
    is_view = False
    differentiable = True

    # ------------------------------------------------------------------ subclasses
    @staticmethod
    def forward(ctx: Function, *args: Any) -> Any:
        raise NotImplementedError("a Function subclass must define forward")

    @staticmethod
    def backward(ctx: Function, grad_output):
        raise NotImplementedError("a Function subclass must define backward")

    # ------------------------------------------------------------------ ctx API
    def save_for_backward(self, *arrays) -> None:
        """Keep arrays for backward. Pass the forward's own input or output arrays (or
        any other array, which comes back as a constant; None comes back as None)."""
        self._saved = arrays

    @property
    def saved_tensors(self) -> tuple:
        """The saved arrays as Tensors. Raises if the graph was already freed or an input
        was changed in place since it was saved."""
        if self._released:
            raise RuntimeError(
                f"{self.name()}: trying to backward through the graph a second time (its saved "
                "tensors were freed by the first backward). Pass retain_graph=True to the first "
                "backward() if you need to call it twice."
            )
        out = []
        for kind, payload in self._saved_slots:
            if kind == _INPUT:
                tensor, version = payload
                if tensor._version.value != version:
                    raise RuntimeError(
                        f"{self.name()}: one of the tensors needed for gradient computation has "
                        f"been modified by an in-place operation: a tensor of shape "
                        f"{tensor.shape} ({tensor.dtype}) was saved at version {version} and is "
                        f"now at version {tensor._version.value}. Use an out-of-place op "
                        f"(x = x + y rather than x += y), or clone() the tensor first."
                    )
                out.append(tensor)
            elif kind == _OUTPUT:
                array, device, nr = payload
                t = Tensor._wrap(array, device)
                if is_grad_enabled():  # create_graph: the saved output keeps its history
                    t.grad_fn, t._output_nr = self, nr
                    t.requires_grad = True
                out.append(t)
            else:
                array, device = payload
                out.append(None if array is None else Tensor._wrap(array, device))
        return tuple(out)

    @staticmethod
    def flops(ctx: Function, arrays: list, out_array: Any) -> float:
        """Floating-point operations of one forward call (for the profiler); 0 = unknown."""
        return 0.0

    def mark_non_differentiable(self) -> None:
        """Declare the output has no gradient (e.g. argmax)."""
        self.__dict__["_non_diff"] = True

    def name(self) -> str:
        return type(self).__name__ + "Backward"

    def __repr__(self) -> str:
        return f"<{self.name()}>"

    # ------------------------------------------------------------------ machinery
    def __init__(self) -> None:
        # per input: (the node its gradient goes to, which of that node's outputs the input
        # was) -- PyTorch's ``grad_fn.next_functions``; (None, 0) for inputs needing none
        self.next_functions: tuple = ()
        self._saved: tuple = ()
        self._saved_slots: list = []
        self._released = False
        self._n_outputs = 1
        self._out_meta: tuple | None = None  # (shape, dtype) per output, multi-output ops only
        self._hooks: dict = {}  # output index -> [hook], from Tensor.register_hook
        self._retained: dict = {}  # output index -> weakref to the tensor, for retain_grad()

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any):
        """Run the op on Tensors (and plain Python values) and record it in the graph."""
        ctx = cls()
        device = None
        arrays = []
        track = False  # does any input require grad?
        for a in args:
            if isinstance(a, Tensor):
                if device is None:
                    device = a._device
                elif a._device is not device and a._device != device:
                    raise RuntimeError(
                        f"{cls.__name__}: expected all tensors on the same device, got "
                        f"{device} and {a._device}"
                    )
                arrays.append(a._data)
                track = track or a._requires_grad
            else:
                arrays.append(a)
        if device is None:
            raise TypeError(f"{cls.__name__}.apply: expected at least one Tensor argument")
        ctx.backend = backend_for(device)
        if profiler.is_active():
            out_array = profiler.record(cls.__name__, cls.forward, ctx, *arrays,
                                        flops=lambda out: cls.flops(ctx, arrays, out), **kwargs)
        else:
            out_array = cls.forward(ctx, *arrays, **kwargs)

        out_device = ctx.__dict__.get("out_device", device)  # set by ops that move data
        multi = isinstance(out_array, tuple)
        out_arrays = out_array if multi else (out_array,)
        outs = tuple(Tensor._wrap(a, out_device) for a in out_arrays)
        if cls.is_view:
            for o in outs:
                o._version = args[0]._version
        if track and cls.differentiable and is_grad_enabled() and \
                "_non_diff" not in ctx.__dict__:
            ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a._requires_grad
                                         for a in args)
            ctx.next_functions = tuple(_edge(a) if isinstance(a, Tensor) else (None, 0)
                                       for a in args)
            if ctx._saved:
                ctx._resolve_saved(args, arrays, out_arrays, out_device)
            if multi:
                ctx._n_outputs = len(outs)
                ctx._out_meta = tuple((o.shape, o.dtype) for o in outs)
            for nr, o in enumerate(outs):
                if o._data.dtype.kind == "f":  # integer outputs (indices) have no gradient
                    o.grad_fn, o._output_nr, o._requires_grad = ctx, nr, True
        return outs if multi else outs[0]

    def _resolve_saved(self, args, arrays, out_arrays, device) -> None:
        # Remember *how* to rebuild each saved array as a Tensor: an input is kept as the
        # Tensor itself plus its version (to detect in-place changes), the output as its
        # array (turned back into a Tensor pointing at this node), anything else as a constant.
        slots = []
        for s in self._saved:
            nr = next((i for i, o in enumerate(out_arrays) if o is s), None)
            if nr is not None:
                slots.append((_OUTPUT, (s, device, nr)))
                continue
            for a, arr in zip(args, arrays):
                if arr is s and hasattr(a, "_version"):
                    slots.append((_INPUT, (a, a._version.value)))
                    break
            else:
                slots.append((_CONST, (s, device)))
        self._saved_slots = slots
        self._saved = ()

    def _release(self) -> None:
        """Free what was saved for backward (called by the engine unless retain_graph)."""
        self._saved_slots = []
        self._released = True


def _edge(t) -> tuple:
    """Where the gradient for input tensor ``t`` goes: (its grad_fn, which output of it t
    is), (its leaf sink, 0), or (None, 0) when it needs none."""
    if not t._requires_grad:
        return None, 0
    if t.grad_fn is not None:
        return t.grad_fn, t._output_nr
    return AccumulateGrad(t), 0


def once_differentiable(backward):
    """Decorate a ``backward`` that is not itself differentiable (a fused native kernel).

    As in PyTorch: without ``create_graph`` nothing changes. With it, the gradients are
    computed (outside the graph) and returned, but differentiating them again raises,
    naming the op -- instead of silently giving wrong second derivatives. The op's
    ``higher_order_hint`` (a class attribute) ends the message: where to go instead.
    """

    @functools.wraps(backward)
    def wrapper(ctx: Function, *grads):
        if not is_grad_enabled():
            return backward(ctx, *grads)
        with no_grad():
            result = backward(ctx, *grads)
        # what the gradients depend on: the incoming gradients and the saved inputs
        deps = [t for t in grads + ctx.saved_tensors
                if isinstance(t, Tensor) and t.requires_grad]
        if not deps:
            return result
        message = (f"{ctx.name()}: this op's backward is a fused kernel with first derivatives "
                   "only (once_differentiable), so its gradient cannot be differentiated "
                   "again. " + getattr(type(ctx), "higher_order_hint", ""))
        wrap = lambda g: None if g is None else _SecondDerivativeError.apply(g, message, *deps)  # noqa: E731
        return tuple(map(wrap, result)) if isinstance(result, tuple) else wrap(result)

    return wrapper


class _SecondDerivativeError(Function):
    """Passes a first derivative through; its own backward is the error
    ``once_differentiable`` promises."""

    @staticmethod
    def forward(ctx, g, message, *deps):
        ctx.message = message
        return g

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError(ctx.message)
