"""``ember.testing``: gradient checking -- autograd's Jacobian against central finite
differences.

For f: R^n -> R^m the Jacobian J[j, k] = d f_j / d x_k is computed two ways:

- analytically, one row at a time: backward with the one-hot gradient e_j gives row j;
- numerically, one column at a time: (f(x + eps e_k) - f(x - eps e_k)) / (2 eps),
  whose error is O(eps^2) (in float64 with eps = 1e-6 about 1e-10 relative).

They must agree to ``|analytical - numerical| <= atol + rtol * |numerical|`` everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from . import dtypes as _dt
from .autograd.engine import grad
from .autograd.grad_mode import no_grad
from .creation import tensor, zeros_like
from .random import Generator
from .tensor import Tensor


class GradcheckError(RuntimeError):
    """Raised when an analytical gradient disagrees with the numerical one."""


def _as_tuple(x) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _differentiable_inputs(inputs):
    return [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]


def _numerical_jacobian(fn, inputs, i, eps, outs_ref):
    """Columns d out / d inputs[i][k] by central differences, one per element k.

    Like PyTorch, the input is perturbed *in place* (through a detached alias, restored
    afterwards), so functions that close over it -- a module's own parameters -- see it.
    """
    x = inputs[i]
    alias = x.detach()
    base = np.array(alias.cpu().numpy(), dtype=np.float64, copy=True)
    cols = [np.zeros((o.numel(), base.size)) for o in outs_ref]
    flat = base.reshape(-1)

    def set_value(values):
        with no_grad():
            alias.copy_(tensor(values.reshape(base.shape), dtype=x.dtype, device=x.device))

    try:
        for k in range(flat.size):
            vals = []
            for sign in (+1, -1):
                pert = flat.copy()
                pert[k] += sign * eps
                set_value(pert)
                vals.append([np.asarray(o.detach(), dtype=np.float64).reshape(-1)
                             for o in _as_tuple(fn(*inputs))])
            for j, (plus, minus) in enumerate(zip(*vals)):
                cols[j][:, k] = (plus - minus) / (2 * eps)
    finally:
        set_value(flat)
    return cols


def _analytical_jacobian(outputs, inputs, diff_idx):
    """Rows of d out_j / d inputs via one backward per output element."""
    jac = {}  # (j, i) -> (out numel, in numel)
    for j, o in enumerate(outputs):
        for i in diff_idx:
            jac[(j, i)] = np.zeros((o.numel(), inputs[i].numel()))
        if not o.requires_grad or not o.dtype.is_floating_point:
            continue
        for r in range(o.numel()):
            seed_np = np.zeros(o.numel())
            seed_np[r] = 1.0
            seed = tensor(seed_np.reshape(o.shape), dtype=o.dtype, device=o.device)
            gs = grad([o], [inputs[i] for i in diff_idx], [seed], retain_graph=True,
                      allow_unused=True)
            for i, g in zip(diff_idx, gs):
                if g is not None:
                    jac[(j, i)][r, :] = np.asarray(g, dtype=np.float64).reshape(-1)
    return jac


def gradcheck(fn: Callable, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True) -> bool:
    """Check ``fn``'s gradients at ``inputs`` against central differences.

    ``inputs`` is a tensor or a tuple; every tensor in it with ``requires_grad=True`` is
    checked (they should be float64: float32 rounding swamps the finite differences).
    ``fn`` may return one tensor or several. On a mismatch it raises ``GradcheckError``
    naming the output, the input, the element and both values (or returns False when
    ``raise_exception=False``).
    """
    inputs = _as_tuple(inputs)
    diff_idx = _differentiable_inputs(inputs)
    if not diff_idx:
        raise ValueError("gradcheck: no input has requires_grad=True")
    for i in diff_idx:
        if inputs[i].dtype is not _dt.float64:
            raise ValueError(f"gradcheck: input {i} is {inputs[i].dtype}; use float64 inputs "
                             "(float32 rounding errors are larger than the finite differences)")
    outputs = _as_tuple(fn(*inputs))
    analytical = _analytical_jacobian(outputs, inputs, diff_idx)
    for i in diff_idx:
        numerical = _numerical_jacobian(fn, inputs, i, eps, outputs)
        for j, o in enumerate(outputs):
            a, n = analytical[(j, i)], numerical[j]
            bad = ~(np.abs(a - n) <= atol + rtol * np.abs(n))
            if bad.any():
                r, k = (int(v[0]) for v in np.nonzero(bad))
                out_el = np.unravel_index(r, o.shape) if o.shape else ()
                in_el = np.unravel_index(k, inputs[i].shape) if inputs[i].shape else ()
                msg = (f"gradcheck: Jacobian mismatch for output {j} (shape {o.shape}) with "
                       f"respect to input {i} (shape {inputs[i].shape}): d out{list(out_el)} / "
                       f"d in{list(in_el)} is {a[r, k]:.10g} (analytical) but {n[r, k]:.10g} "
                       f"(numerical); {int(bad.sum())} of {bad.size} entries differ")
                if raise_exception:
                    raise GradcheckError(msg)
                return False
    return True


def gradgradcheck(fn: Callable, inputs, grad_outputs: Sequence | None = None, eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3, raise_exception: bool = True) -> bool:
    """Check second derivatives: gradcheck of the map (inputs, v) -> v^T J(inputs), the
    first-order gradient computed with ``create_graph=True``. ``v`` (``grad_outputs``) is
    random when not given."""
    inputs = _as_tuple(inputs)
    n_in = len(inputs)
    if grad_outputs is None:
        gen = Generator(1234)
        outs = _as_tuple(fn(*inputs))
        grad_outputs = []
        for o in outs:
            v = gen.np.standard_normal(o.shape)
            t = Tensor._wrap(np.asarray(v, dtype=o.dtype.np), o.device)
            t.requires_grad = True
            grad_outputs.append(t)
    grad_outputs = tuple(grad_outputs)

    def first_order(*args):
        ins, vs = args[:n_in], args[n_in:]
        outs = _as_tuple(fn(*ins))
        diff = [x for x in ins if isinstance(x, Tensor) and x.requires_grad]
        gs = grad(outs, diff, vs, create_graph=True, allow_unused=True)
        return tuple(zeros_like(x) if g is None else g for x, g in zip(diff, gs))

    return gradcheck(first_order, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
