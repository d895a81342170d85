"""``Module``: the base class of every layer and model.

A module owns parameters (trainable tensors), buffers (state that is saved but not
trained, e.g. BatchNorm's running mean) and sub-modules, registered simply by assigning
them as attributes. From that registry come ``parameters()``, ``state_dict()``,
``to(device)``, ``train()/eval()`` and the nested ``repr``. Subclasses define
``forward``; calling the module runs it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

from .. import dtypes
from ..autograd.grad_mode import no_grad
from ..creation import tensor
from ..tensor import Tensor
from .parameter import Parameter


class IncompatibleKeys(NamedTuple):
    missing_keys: list
    unexpected_keys: list


class Module:
    """Base class for layers and models (PyTorch's ``nn.Module``)."""
    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        out = self.forward(*args, **kwargs)
        for hook in self._forward_hooks.values():
            result = hook(self, args, out)
            if result is not None:
                out = result
        return out

    def register_forward_hook(self, hook: Callable) -> Callable[[], None]:
        """``hook(module, inputs, output)`` runs after forward; returns a remover."""
        key = id(hook)
        self._forward_hooks[key] = hook
        return lambda: self._forward_hooks.pop(key, None)

    # ------------------------------------------------------------------ registration
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__() is called "
                f"(call super().__init__() first in {type(self).__name__}.__init__)"
            )
        params = self.__dict__["_parameters"]
        if name in params and value is not None and not isinstance(value, Parameter):
            raise TypeError(f"cannot assign a {type(value).__name__} as parameter {name!r} of "
                            f"{type(self).__name__} (expected an nn.Parameter or None)")
        for registry in ("_parameters", "_buffers", "_modules"):
            self.__dict__[registry].pop(name, None)
        self.__dict__.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        elif name in self.__dict__.get("_buffer_names", ()) and (
                value is None or isinstance(value, Tensor)):
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry in d and name in d[registry]:
                return d[registry][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for registry in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__[registry]:
                del self.__dict__[registry][name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or None: declared but absent, like ``bias=False``)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be a Parameter or None, got "
                            f"{type(param).__name__}")
        self.__dict__.pop(name, None)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a buffer: state that moves with ``to()`` and (if persistent) is saved in the
        state dict, but is not a parameter (e.g. BatchNorm's running statistics)."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: {name!r} must be a Tensor or None")
        self.__dict__.setdefault("_buffer_names", set()).add(name)
        self.__dict__.pop(name, None)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} is not a Module")
        self._modules[name] = module

    register_module = add_module

    # ------------------------------------------------------------------ traversal
    def named_modules(self, prefix: str = "", memo: set | None = None) -> Iterator:
        """(name, module) for this module and all below it, each module once."""
        memo = set() if memo is None else memo
        stack = [(prefix, self)]
        while stack:  # explicit stack: no recursion limit for deep models
            name, m = stack.pop()
            if id(m) in memo:
                continue
            memo.add(id(m))
            yield name, m
            children = [(f"{name}.{k}" if name else k, c) for k, c in m._modules.items()
                        if c is not None]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator:
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, registry: str, prefix: str, recurse: bool) -> Iterator:
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_name, m in modules:
            for name, value in m.__dict__[registry].items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield (f"{mod_name}.{name}" if mod_name else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator:
        """(dotted name, parameter) pairs, each shared parameter once."""
        return self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator:
        return self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ------------------------------------------------------------------ modes and grads
    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout active, batch norm uses batch statistics)."""
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the parameters' gradients. Gradients *accumulate* across backward calls
        (useful for gradient accumulation), so training loops clear them every step."""
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad = p.grad.detach() * 0

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call ``fn`` on every sub-module (children first) and on self, e.g. for init."""
        for m in reversed(list(self.modules())):
            fn(m)
        return self

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters()
                   if p.requires_grad or not trainable_only)

    # ------------------------------------------------------------------ devices and dtypes
    def _apply_to_tensors(self, fn: Callable[[Tensor], Tensor]) -> Module:
        with no_grad():
            for m in self.modules():
                for p in m._parameters.values():
                    if p is None:
                        continue
                    new = fn(p)
                    if new is not p:
                        p._data, p._device = new._data, new.device  # keep the same object
                        p._shape = None
                        p._version.value += 1
                        if p.grad is not None:
                            p.grad = fn(p.grad)
                for name, b in m._buffers.items():
                    if b is not None:
                        m._buffers[name] = fn(b)
        return self

    def to(self, *args, **kwargs) -> Module:
        """Move/cast parameters and buffers in place: ``to('cuda')``, ``to(ember.float64)``.
        Integer buffers keep their dtype when casting."""

        def convert(t: Tensor) -> Tensor:
            if t.dtype.is_floating_point:
                return t.to(*args, **kwargs)
            kw = {k: v for k, v in kwargs.items() if k != "dtype"}
            dev = [a for a in args if not _is_dtype(a)]
            return t.to(*dev, **kw) if dev or kw else t

        return self._apply_to_tensors(convert)

    def float(self) -> Module:
        return self.to(dtypes.float32)

    def double(self) -> Module:
        return self.to(dtypes.float64)

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self, index: int = 0) -> Module:
        return self.to(f"cuda:{index}")

    # ------------------------------------------------------------------ state dict
    def state_dict(self, prefix: str = "", keep_vars: bool = False) -> OrderedDict:
        """Parameters and persistent buffers by dotted name (detached unless keep_vars)."""
        out: OrderedDict = OrderedDict()
        for mod_name, m in self.named_modules(prefix.rstrip(".")):
            base = f"{mod_name}." if mod_name else ""
            for name, p in m._parameters.items():
                if p is not None:
                    out[base + name] = p if keep_vars else p.detach()
            for name, b in m._buffers.items():
                if b is not None and name not in m._non_persistent:
                    out[base + name] = b if keep_vars else b.detach()
        return out

    def load_state_dict(self, state_dict: dict, strict: bool = True) -> IncompatibleKeys:
        """Copy values from ``state_dict`` into this module's parameters and buffers.

        With ``strict=True`` missing or unexpected keys are an error; a shape mismatch is
        always an error. Errors are checked before anything is copied, so a failed load
        leaves the module unchanged.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict: expected a dict of name -> tensor (what "
                            f"state_dict() returns), got a {type(state_dict).__name__}")
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        problems = []
        staged = {}  # every value converted first: a failure leaves the module unchanged
        for k, v in state_dict.items():
            if k not in own:
                continue
            try:
                src = v.detach() if isinstance(v, Tensor) else tensor(v)
            except (TypeError, ValueError) as e:
                problems.append(f"value for {k} is not a tensor or array ({e})")
                continue
            if src.shape != own[k].shape:
                problems.append(f"size mismatch for {k}: copying a param with shape "
                                f"{src.shape} from the checkpoint, the shape in the current "
                                f"model is {own[k].shape}")
                continue
            staged[k] = src.to(own[k].device).to(own[k].dtype)
        if strict:
            if missing:
                problems.insert(0, "Missing key(s) in state_dict: " +
                                ", ".join(f'"{k}"' for k in missing))
            if unexpected:
                problems.insert(0, "Unexpected key(s) in state_dict: " +
                                ", ".join(f'"{k}"' for k in unexpected))
        if problems:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(problems))

        with no_grad():
            for k, src in staged.items():
                own[k].copy_(src)
        return IncompatibleKeys(missing, unexpected)

    def save(self, path: Any) -> None:
        """Save ``state_dict()`` to ``path`` in the safetensors format (``ember.save``).

        Implemented by ember.io, which sits above nn and registers it (``register_workflow``
        below), so ember.nn never imports the workflow layer; ``import ember`` loads it."""
        _workflow("save")(self.state_dict(), path)

    def load(self, path: Any, strict: bool = True) -> IncompatibleKeys:
        """Load a file written by ``save`` into this module (``load_state_dict`` semantics:
        everything is read and checked first, so a failed load leaves the module unchanged).
        Reads with ``ember.load``, registered by ember.io like ``save``; the tensors are
        read onto the CPU (wherever they were saved) and copied to this module's devices."""
        state = _workflow("load")(path, map_location="cpu")
        if not isinstance(state, dict):
            raise TypeError(f"{path}: holds a {type(state).__name__}, not a state dict")
        try:
            return self.load_state_dict(state, strict=strict)
        except RuntimeError as e:
            raise RuntimeError(f"{path}: {e}") from e

    def summary(self, input_size: Any = None, input: Any = None, dtype: Any = None) -> str:  # noqa: A002
        """A table of the layers with output shapes and parameter counts: ``ember.summary``,
        registered by that module like ``save`` (ember.nn does not import it)."""
        return _workflow("summary")(self, input_size=input_size, input=input, dtype=dtype)

    # ------------------------------------------------------------------ repr
    def extra_repr(self) -> str:
        """The layer's own settings, shown inside its repr (e.g. in/out features)."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        children = [(n, m) for n, m in self._modules.items()]
        if not children:
            return f"{type(self).__name__}({extra})"
        lines = [extra] if extra else []
        for name, m in children:
            body = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {body}")
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"

    def __dir__(self):
        return list(super().__dir__()) + list(self._parameters) + list(self._buffers) + \
            list(self._modules)


# ------------------------------------------------------------------ the workflow layer
# Module.save/load/summary call functions of the workflow layer above nn: ember.io
# (checkpoint files) and ember.summary (a traced forward pass). Layers import downwards
# only, so nn never imports them; instead each of those modules hands its function to
# register_workflow when it is imported. ``import ember`` imports both, so the methods
# always work for a user, while ember.nn depends only on the core.
_WORKFLOW: dict[str, Callable[..., Any]] = {}
_PROVIDERS = {"save": "ember.io.save", "load": "ember.io.load", "summary": "ember.summary.summary"}


def register_workflow(name: str, fn: Callable[..., Any]) -> None:
    """Install ``fn`` as the implementation behind ``Module.<name>``: ``"save"``
    (``fn(state_dict, path)``), ``"load"`` (``fn(path) -> state``) or ``"summary"``
    (``fn(module, input_size=, input=, dtype=)``). Called by ember.io and ember.summary."""
    if name not in _PROVIDERS:
        raise ValueError(f"register_workflow: unknown method {name!r}; expected one of "
                         f"{sorted(_PROVIDERS)}")
    _WORKFLOW[name] = fn


def _workflow(name: str) -> Callable[..., Any]:
    fn = _WORKFLOW.get(name)
    if fn is None:
        raise RuntimeError(f"Module.{name}: {_PROVIDERS[name]} is not loaded; `import ember` "
                           "loads it (ember.nn alone does not import the workflow layer)")
    return fn


def _is_dtype(a) -> bool:
    if isinstance(a, dtypes.DType):
        return True
    return isinstance(a, str) and a in ("float32", "float64", "int64", "bool", "float",
                                        "double", "long")
