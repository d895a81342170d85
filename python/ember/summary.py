"""``model.summary()``: a table of the layers, their output shapes and parameter counts.

As torchinfo / Keras show it: one row per *leaf* module (a module without children, plus
any module that owns parameters directly, such as MultiheadAttention's input projection),
named by its dotted path and type. Given an input (or just its size), one forward pass
runs under ``no_grad`` in eval mode with a forward hook on each row's module, recording
the shape of what it returns; modules the forward never calls show ``--``::

    >>> print(model.summary(input_size=(32, 784)))
    Model: MLP
    Layer (type)      Output shape    Param #
    ==========================================
    fc1 (Linear)      [32, 128]       100,480
    ...
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .autograd.grad_mode import no_grad
from .creation import zeros
from .nn.module import Module, register_workflow
from .tensor import Tensor

__all__ = ["summary", "ModelSummary"]

_NOT_CALLED = "--"


class ModelSummary(str):
    """The summary table: a ``str`` that also displays as the table in a REPL or notebook."""
    def __repr__(self) -> str:
        return str(self)


def summary(model: Module, input_size: Sequence | None = None, input: Any = None,  # noqa: A002
            dtype: Any = None) -> ModelSummary:
    """Describe ``model`` layer by layer: output shapes and parameter counts, with totals.

    Args:
        model: the module to describe.
        input_size: the shape of one input *including the batch dimension*, e.g.
            ``(32, 1, 28, 28)``, or a list of shapes for a model taking several inputs. The
            forward pass runs on zeros of that size.
        input: the input(s) themselves instead (a tensor or a tuple of tensors), e.g. token
            ids for a model starting with an Embedding.
        dtype: the dtype of the zeros made from ``input_size`` (default: the default float
            dtype; ``ember.int64`` for token ids).

    Returns:
        the table as a str (print it; in a REPL or notebook it shows as the table).

    Without an input only the parameter counts are shown. The model's train/eval mode is
    restored afterwards and nothing in it changes (the forward runs in eval mode, so batch
    norm statistics are not updated).
    """
    if input is not None and input_size is not None:
        raise ValueError("summary: pass either input_size or input, not both")
    rows = _rows(model)
    inputs = _make_inputs(model, input_size, input, dtype)
    outputs = _record_outputs(model, rows, inputs) if inputs is not None else {}
    return ModelSummary(_table(model, rows, outputs, inputs))


def _rows(model: Module) -> list[tuple[str, Module]]:
    """(dotted name, module) of every module that is a leaf or owns parameters itself."""
    def is_row(m: Module) -> bool:
        is_leaf = next(m.children(), None) is None
        return is_leaf or any(p is not None for p in m._parameters.values())

    return [(name, m) for name, m in model.named_modules() if is_row(m)]


def _make_inputs(model: Module, input_size, input, dtype) -> tuple | None:  # noqa: A002
    """The positional inputs of the forward pass, or None when none was asked for."""
    if input is not None:
        return tuple(input) if isinstance(input, (tuple, list)) else (input,)
    if input_size is None:
        return None

    sizes = list(input_size)
    several = len(sizes) > 0 and all(isinstance(s, (tuple, list)) for s in sizes)
    sizes = [tuple(s) for s in sizes] if several else [tuple(sizes)]
    dtypes = list(dtype) if isinstance(dtype, (tuple, list)) else [dtype] * len(sizes)
    if len(dtypes) != len(sizes):
        raise ValueError(f"summary: got {len(dtypes)} dtypes for {len(sizes)} inputs")
    device = next((p.device for p in model.parameters()), None)
    return tuple(zeros(*s, dtype=dt, device=device) for s, dt in zip(sizes, dtypes))


def _record_outputs(model: Module, rows: list, inputs: tuple) -> dict[int, Any]:
    """Run ``model(*inputs)`` in eval mode under no_grad; return id(module) -> first output."""
    outputs: dict[int, Any] = {}

    def hook(module: Module, args: tuple, out: Any) -> None:
        outputs.setdefault(id(module), out)

    modes = [(m, m.training) for m in model.modules()]
    removers = [m.register_forward_hook(hook) for _, m in rows]
    try:
        model.eval()
        with no_grad():
            model(*inputs)
    except Exception as e:
        shapes = ", ".join(_format_output(x) for x in inputs)
        raise RuntimeError(f"summary: the forward pass of {type(model).__name__} on inputs "
                           f"{shapes} failed: {e}") from e
    finally:
        for remove in removers:
            remove()
        for m, mode in modes:
            object.__setattr__(m, "training", mode)
    return outputs


def _format_output(out: Any) -> str:
    """``[2, 5, 20]`` for a tensor; nested brackets for tuples (an LSTM's (out, (h, c)))."""
    if isinstance(out, Tensor):
        return "[" + ", ".join(str(s) for s in out.shape) + "]"
    if isinstance(out, (tuple, list)):
        return "(" + ", ".join(_format_output(o) for o in out) + ")"
    if isinstance(out, dict):
        return "{" + ", ".join(f"{k}: {_format_output(v)}" for k, v in out.items()) + "}"
    return _NOT_CALLED if out is None else type(out).__name__


def _table(model: Module, rows: list, outputs: dict, inputs: tuple | None) -> str:
    seen: set[int] = set()  # a shared parameter counts once, at its first owner
    body = []
    for name, m in rows:
        own = [p for p in m._parameters.values() if p is not None and id(p) not in seen]
        seen.update(id(p) for p in own)
        label = f"{name} ({type(m).__name__})" if name else type(m).__name__
        shape = _format_output(outputs[id(m)]) if id(m) in outputs else _NOT_CALLED
        body.append((label, shape, f"{sum(p.numel() for p in own):,}"))

    params = list(model.parameters())
    total = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    size_mb = sum(p.numel() * p.element_size() for p in params) / 2**20

    header = ("Layer (type)", "Output shape", "Param #")
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(3)]
    rule_len = sum(widths) + 4

    def line(label: str, shape: str, count: str) -> str:
        return f"{label:<{widths[0]}}  {shape:<{widths[1]}}  {count:>{widths[2]}}"

    lines = [f"Model: {type(model).__name__}"]
    if inputs is not None:
        lines.append("Input: " + ", ".join(_format_output(x) for x in inputs))
    lines += ["=" * rule_len, line(*header), "=" * rule_len]
    lines += [line(*r) for r in body]
    lines += ["=" * rule_len,
              f"Total params: {total:,}",
              f"Trainable params: {trainable:,}",
              f"Non-trainable params: {total - trainable:,}",
              f"Params size (MB): {size_mb:.2f}",
              "=" * rule_len]
    return "\n".join(lines)


register_workflow("summary", summary)  # Module.summary (see register_workflow)
