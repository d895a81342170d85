"""The machinery of tests/test_differential.py: random cases run in ember and in PyTorch.

A case is a list of tensor arguments (``Arg``: one NumPy array and a layout -- contiguous,
permuted, sliced with a step, expanded, narrowed -- built the same way in both libraries)
and a function ``fn(lib, *tensors)`` that calls the op through ``lib`` (``ember`` or
``torch``; ember follows PyTorch's names, so one function serves both). ``run_case`` runs
it in both and compares: the exception (when torch raises, ember must raise; when torch
returns, ember must return), the result's structure, shape, dtype (exactly) and values
(NaN positions equal, tolerances by dtype), and for float64 arguments the gradients of
``sum(out * w)`` for a fixed random ``w`` with respect to the arguments' leaves.

Every case is drawn from ``numpy.random.default_rng((SEED, crc32(op), i))``, so
``replay(op, i)`` rebuilds it; a failure's message names the op, the case's arguments and
layouts, and the replay call.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import ember
import numpy as np
import torch

SEED = 20261207
SIZES = (0, 1, 2, 3, 5)
_NP = {"float32": np.float32, "float64": np.float64, "int64": np.int64, "bool": np.bool_}
_SPECIALS = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e30, -1e-30])


# ------------------------------------------------------------------------------ arguments
@dataclass
class Arg:
    """A tensor argument: ``base`` (contiguous) turned into the argument by ``steps``, the
    same view ops in both libraries. ``grad``: the base is a leaf that requires grad."""

    base: np.ndarray
    steps: tuple = ()
    layout: str = "contiguous"
    grad: bool = False

    @property
    def dtype(self) -> str:
        return "bool" if self.base.dtype == np.bool_ else str(self.base.dtype)

    def shape(self) -> tuple:
        return tuple(self.build(np)[1].shape)

    def build(self, lib):
        """(leaf, argument) in ``lib`` (ember, torch, or np for the shape only)."""
        if lib is np:
            x = self.base
        else:
            x = lib.tensor(self.base.copy())
            if self.grad:
                x.requires_grad_()
        leaf = x
        for kind, a in self.steps:
            if kind == "permute":
                x = np.transpose(x, a) if lib is np else x.permute(*a)
            elif kind == "slice":
                x = x[a]
            elif kind == "expand":
                x = np.broadcast_to(x, a) if lib is np else x.expand(*a)
            elif kind == "narrow":
                d, start, length = a
                x = (x[(slice(None),) * d + (slice(start, start + length),)] if lib is np
                     else x.narrow(d, start, length))
        return leaf, x

    def __repr__(self) -> str:
        return f"{self.dtype}{list(self.shape())} {self.layout}"


def values(rng: np.random.Generator, shape, dtype: str, special: bool = False) -> np.ndarray:
    """Random values of ``dtype``: floats uniform in [-3, 3) or, half the time, on the
    integer grid -3..3 (ties and exact zeros); with ``special``, some 0, -0, +-inf, NaN."""
    shape = tuple(shape)
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype == "int64":
        return rng.integers(-4, 5, size=shape).astype(np.int64)
    if rng.random() < 0.5:
        a = rng.integers(-3, 4, size=shape).astype(np.float64)
    else:
        a = rng.uniform(-3.0, 3.0, size=shape)
    if special and a.size and rng.random() < 0.5:
        picks = rng.random(shape) < 0.2
        a[picks] = rng.choice(_SPECIALS, size=int(picks.sum()))
    return a.astype(_NP[dtype])


def layout(rng: np.random.Generator, shape, expand: bool = True):
    """(base shape, view steps, name) that give ``shape`` from a contiguous base."""
    shape = tuple(int(s) for s in shape)
    n = len(shape)
    kinds = ["contiguous", "contiguous"] + (["permuted"] if n >= 2 else []) + (
        ["strided", "narrowed"] if n >= 1 else []) + (["expanded"] if expand else [])
    kind = kinds[rng.integers(len(kinds))]
    base = list(shape)
    if kind == "permuted":
        perm = tuple(int(p) for p in rng.permutation(n))
        for i, p in enumerate(perm):
            base[p] = shape[i]
        return tuple(base), (("permute", perm),), f"permuted{perm}"
    if kind == "strided":
        d, step, start = int(rng.integers(n)), int(rng.integers(2, 4)), int(rng.integers(2))
        base[d] = start + shape[d] * step + int(rng.integers(2))
        idx = (slice(None),) * d + (slice(start, start + shape[d] * step, step),)
        return tuple(base), (("slice", idx),), f"strided(dim {d}, step {step})"
    if kind == "narrowed":
        d, extra = int(rng.integers(n)), int(rng.integers(1, 3))
        start = int(rng.integers(extra + 1))
        base[d] += extra
        return tuple(base), (("narrow", (d, start, shape[d])),), f"narrowed(dim {d})"
    if kind == "expanded" and n:
        lead = int(rng.integers(n + 1))  # leading dims the base lacks
        base = [1 if rng.random() < 0.5 else s for s in shape[lead:]]
        if lead == 0 and tuple(base) == shape:
            base[int(rng.integers(n))] = 1
        return tuple(base), (("expand", shape),), "expanded"
    return shape, (), "contiguous"


def tensor(rng: np.random.Generator, shape, dtype: str = "float64", grad: bool | None = None,
           special: bool = False, expand: bool = True, contiguous: bool = False) -> Arg:
    """An ``Arg`` of ``shape`` and ``dtype`` in a random layout; float64 arguments require
    grad unless ``grad`` says otherwise (and then take no special values)."""
    grad = dtype == "float64" if grad is None else grad
    base_shape, steps, name = ((tuple(shape), (), "contiguous") if contiguous
                               else layout(rng, shape, expand))
    return Arg(values(rng, base_shape, dtype, special and not grad), steps, name, grad)


def rand_shape(rng: np.random.Generator, low: int = 0, high: int = 4, sizes=SIZES) -> tuple:
    return tuple(int(s) for s in rng.choice(sizes, size=int(rng.integers(low, high + 1))))


def dtype(rng: np.random.Generator, choices=("float32", "float64", "int64", "bool"),
          p=None) -> str:
    return str(rng.choice(choices, p=p))


# ------------------------------------------------------------------------------ cases
@dataclass
class Case:
    """One draw: ``fn(lib, *built tensors)`` with ``args`` (Args) and ``info`` (the other
    arguments, for the message). ``rtol``/``atol`` override the dtype's tolerances."""

    args: list
    fn: Callable
    info: str = ""
    tol: dict = field(default_factory=dict)
    leaves: bool = False  # fn also gets ``leaves=[...]`` (the bases, to see writes through views)
    tags: dict = field(default_factory=dict)  # facts the known-gap predicates look at

    def __repr__(self) -> str:
        return f"args={self.args} {self.info}"


_TOL = {"float32": (2e-5, 2e-5), "float64": (1e-10, 1e-10)}


def _dtype_name(t) -> str:
    return str(t.dtype).rsplit(".", 1)[-1]


def _leaves(out) -> list:
    """The tensors of a result (a tensor, or nested tuples/lists of them), in order."""
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _leaves(o)]
    return [out]


def _compare(e, t, where: str, tol: dict) -> None:
    if isinstance(t, (tuple, list)):
        assert isinstance(e, (tuple, list)), f"{where}: ember gave {type(e).__name__}, " \
            f"torch a {type(t).__name__} of {len(t)}"
        assert len(e) == len(t), f"{where}: ember gave {len(e)} results, torch {len(t)}"
        for i, (a, b) in enumerate(zip(e, t)):
            _compare(a, b, f"{where}[{i}]", tol)
        return
    if not isinstance(t, torch.Tensor):
        assert not isinstance(e, ember.Tensor) and e == t, f"{where}: ember {e!r}, torch {t!r}"
        return
    assert isinstance(e, ember.Tensor), f"{where}: ember gave {type(e).__name__}, not a tensor"
    assert tuple(e.shape) == tuple(t.shape), f"{where}: shape {tuple(e.shape)} != torch's " \
        f"{tuple(t.shape)}"
    assert _dtype_name(e) == _dtype_name(t), f"{where}: dtype {e.dtype} != {t.dtype}"
    ev, tv = np.asarray(e.detach().cpu().numpy()), t.detach().numpy()
    if tv.dtype.kind == "f":
        rtol, atol = tol.get(_dtype_name(t), _TOL[_dtype_name(t)])
        np.testing.assert_allclose(ev, tv, rtol=rtol, atol=atol, equal_nan=True,
                                   err_msg=f"{where}: values differ")
    else:
        np.testing.assert_array_equal(ev, tv, err_msg=f"{where}: values differ")


def _grads(lib, leaves, outs, w_rng_seed) -> list:
    rng = np.random.default_rng(w_rng_seed)
    loss = None
    for o in outs:
        if not o.dtype.is_floating_point:
            continue
        w = lib.tensor(rng.standard_normal(tuple(o.shape)))
        term = (o * w).sum()
        loss = term if loss is None else loss + term
    loss.backward()
    return [lf.grad for lf in leaves]


def _call(case: Case, lib, built):
    kw = {"leaves": [lf for lf, _ in built]} if case.leaves else {}
    return case.fn(lib, *[x for _, x in built], **kw)


def run_case(op: str, i: int, case: Case) -> None:
    """Run ``case`` in both libraries and assert that ember agrees with torch."""
    where = f"{op} case {i} ({case}); replay: test_differential.replay({op!r}, {i})"
    built = {lib: [a.build(lib) for a in case.args] for lib in (torch, ember)}
    try:
        t_out = _call(case, torch, built[torch])
    except Exception as exc:  # noqa: BLE001 - any torch error must be an ember error
        t_exc = exc
    else:
        t_exc = None
    try:
        e_out = _call(case, ember, built[ember])
    except Exception as exc:  # noqa: BLE001
        assert t_exc is not None, f"{where}: ember raised {type(exc).__name__}: {exc} " \
            "where torch returns"
        return
    assert t_exc is None, f"{where}: ember returned where torch raises " \
        f"{type(t_exc).__name__}: {t_exc}"
    _compare(e_out, t_out, where, case.tol)
    t_outs = [o for o in _leaves(t_out) if isinstance(o, torch.Tensor)]
    if not any(a.grad for a in case.args) or not any(o.requires_grad for o in t_outs):
        return
    seed = (SEED, zlib.crc32(op.encode()), i, 1)
    e_outs = [o for o in _leaves(e_out) if isinstance(o, ember.Tensor)]
    try:
        t_grads = _grads(torch, [lf for lf, _ in built[torch]], t_outs, seed)
    except Exception:  # noqa: BLE001 - torch has no derivative here (floor_divide, or
        return  # float ** bool): ember may raise or give one
    try:
        e_grads = _grads(ember, [lf for lf, _ in built[ember]], e_outs, seed)
    except Exception as exc:  # noqa: BLE001
        raise AssertionError(f"{where}: ember's backward raised {type(exc).__name__}: {exc} "
                             "where torch's returns") from exc
    # a float32 operand makes the result (and so the gradient's path) float32
    tol = (2e-5, 2e-5) if any(a.dtype == "float32" for a in case.args) else (1e-9, 1e-9)
    for k, (a, eg, tg) in enumerate(zip(case.args, e_grads, t_grads)):
        if not a.grad:
            continue
        tg = torch.zeros(a.base.shape, dtype=torch.float64) if tg is None else tg
        eg = ember.zeros(a.base.shape, dtype=ember.float64) if eg is None else eg
        _compare(eg, tg, f"{where}: grad of argument {k}", {"float64": tol})


# ------------------------------------------------------------------------------ registry
GENERATORS: dict[str, Callable[[np.random.Generator], Case]] = {}


def gen(*names: str):
    """Register a case generator for the ops ``names`` (it gets (rng, name))."""

    def deco(f):
        for n in names:
            GENERATORS[n] = (lambda rng, _n=n: f(rng, _n))
        return f

    return deco


def draw(op: str, i: int) -> Case:
    return GENERATORS[op](np.random.default_rng((SEED, zlib.crc32(op.encode()), i)))


def replay(op: str, i: int) -> None:
    """Run case ``i`` of ``op`` again (for a failure's message)."""
    run_case(op, i, draw(op, i))
