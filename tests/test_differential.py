"""A differential test of the tensor API against PyTorch over random shapes (issue 11, point 6).

For each op (the generators: tests/differential_ops.py), seeded random cases
(the machinery: tests/differential.py; shapes of rank 0..4 with
sizes from {0, 1, 2, 3, 5}, broadcasting pairs with 0-dim tensors and Python scalars,
contiguous/permuted/strided/expanded/narrowed layouts, dtypes float32/float64/int64/bool,
dims negative and out of range) run in ember and in PyTorch; the results must agree in
shape, dtype and values, the float64 gradients must agree, and where PyTorch raises ember
must raise. A failure names the case and how to replay it:
``cd tests && python -c "import test_differential as t; t.replay('add', 17)"``.
"""

from __future__ import annotations

import builtins
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import differential_ops  # noqa: E402,F401 - registers the case generators
from differential import GENERATORS, Arg, Case, draw, run_case  # noqa: E402

CASES = 60  # per op in the fast loop (the whole file: ~30 s of CPU)
LONG_CASES = 400  # per op in the slow run, which goes on from case CASES
# PyTorch warns about some of the edge cases drawn (var with no degrees of freedom, mT of a
# 0-dim tensor), NumPy about inf - inf: both are expected here
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::RuntimeWarning")

# ------------------------------------------------------------------------------ known gaps
# Cases where ember still differs from PyTorch, each with its reason. A case that matches is
# left out of its op's test and run in test_known_gap, a strict xfail: when the gap closes,
# that test fails and the entry must go.
def _all_int64(case: Case) -> bool:
    return all(a.dtype == "int64" for a in case.args)


def _big_float32(case: Case) -> bool:
    return case.args[0].dtype == "float32" and bool((np.abs(case.args[0].base) >= 1e30).any())


_INT_GEMM = ("ember's matrix products (the CPU and CUDA GEMM kernels) take float32/float64 "
             "only, PyTorch also int64: a kernel gap, left for a C++ change")
KNOWN_GAPS: dict[str, tuple[str, object]] = {
    "matmul:int64": (_INT_GEMM, _all_int64),
    "mm:int64": (_INT_GEMM, _all_int64),
    "bmm:int64": (_INT_GEMM, _all_int64),
    "dot:int64": (_INT_GEMM, _all_int64),
    "var:no-dof": (
        "var with correction >= the count reduced: the values agree (inf or nan), but "
        "ember's gradient, taken through the composite mean, is nan where PyTorch's "
        "2 (x - mean) / (N - correction) gives +-inf or 0",
        lambda c: c.tags["dof"] <= 0 and c.args[0].dtype == "float64"),
    "norm:float32-overflow": (
        "norm of float32 values whose p-th power overflows float32 (1e30 here): PyTorch's CPU "
        "kernel sums |x|^p in float64, ember in the input's dtype (inf)",
        lambda c: c.tags["p"] not in (1, math.inf) and _big_float32(c)),
    "std:float32-overflow": (
        "std of float32 values whose square overflows float32 (1e30 here): PyTorch's CPU "
        "kernel accumulates in float64 (std 1e29), ember in float32 (inf)", _big_float32),
    "pow:bool-exponent": (
        "a Python bool exponent: PyTorch keeps a bool base bool and gives x ** False the "
        "gradient 0 * x^-1 (nan at 0); ember takes False as 0 (int64 result, gradient 0)",
        lambda c: builtins.any(isinstance(v, bool) for v in c.tags["scalars"][1:])),
    "op**:bool-exponent": (
        "as pow:bool-exponent",
        lambda c: builtins.any(isinstance(v, bool) for v in c.tags["scalars"][1:])),
    "cat:legacy-empty": (
        "PyTorch's legacy rule lets cat skip 1-d empty tensors whatever the dim; ember checks "
        "the dim against every tensor",
        lambda c: builtins.any(a.shape() == (0,) for a in c.args) and c.tags["dim"] not in (
            0, -1)),
    "index_add:0-dim": (
        "index_add into a 0-dim tensor: PyTorch takes a 0-dim source, ember wants a 1-d one",
        lambda c: c.args[0].shape() == ()),
    "pow:empty-bool": (
        "bool ** bool: PyTorch refuses it but skips the check on an empty tensor; ember "
        "refuses it always",
        lambda c: bool(c.args) and c.args[0].dtype == "bool" and 0 in c.args[0].shape() and (
            len(c.args) == 1 or c.args[1].dtype == "bool")),
}


def _gap(op: str, case: Case):
    for name, (_, match) in KNOWN_GAPS.items():
        if name.split(":")[0] == op and match(case):
            return name
    return None


# ------------------------------------------------------------------------------ run
def _cases(op: str, start: int = 0, stop: int = CASES):
    for i in range(start, stop):
        case = draw(op, i)
        yield i, case, _gap(op, case)


@pytest.mark.parametrize("op", sorted(GENERATORS))
def test_matches_torch(op):
    for i, case, gap in _cases(op):
        if gap is None:
            run_case(op, i, case)


@pytest.mark.slow
@pytest.mark.parametrize("op", sorted(GENERATORS))
def test_matches_torch_long(op):
    for i, case, gap in _cases(op, CASES, LONG_CASES):
        if gap is None:
            run_case(op, i, case)


@pytest.mark.parametrize("gap", [pytest.param(g, marks=pytest.mark.xfail(
    strict=True, reason=KNOWN_GAPS[g][0])) for g in sorted(KNOWN_GAPS)])
def test_known_gap(gap):
    op = gap.split(":")[0]
    hits = [(i, c) for i, c, g in _cases(op, 0, LONG_CASES) if g == gap]
    assert hits, f"no case of {op} matches the known gap {gap}"
    for i, case in hits:
        run_case(op, i, case)


# What the random cases found, written out (each was a silent wrong answer or a value
# where PyTorch raises): readable, and kept whatever the generators draw.
_A = np.array
FOUND = {
    "int & int is bitwise": ([_A([6, 3, -1]), _A([5, 1, 4])], lambda L, a, b: a & b),
    "float & float raises": ([_A([1.0]), _A([0.0])], lambda L, a, b: a | b),
    "cumsum past inf": ([_A([1.0, np.inf, 2.0, -np.inf])], lambda L, a: a.cumsum(0)),
    "softmax of a row with inf": ([_A([[1.0, np.inf], [1.0, 2.0]])],
                                  lambda L, a: a.softmax(-1)),
    "masked_fill keeps int64": ([_A([1, 2]), _A([True, False])],
                                lambda L, a, m: a.masked_fill(m, 2.7)),
    "remainder by inf": ([_A([-2.0, 0.5, 3.0]), _A([np.inf, -np.inf, np.inf])],
                         lambda L, a, b: a % b),
    "floor_divide exact": ([_A([1.0, np.inf, -7.0])], lambda L, a: a // 0.1),
    "sign of nan": ([_A([np.nan, -0.0, 2.0])], lambda L, a: a.sign()),
    "floor keeps the graph": ([_A([1.5, -0.5])], lambda L, a: a.double().floor() * a),
    "int ** negative int tensor": ([_A([1, 2, -1, -1, 0]), _A([-1, -1, -3, -2, 2])],
                                   lambda L, a, b: a ** b),
    "maximum with nan: both get the gradient": (
        [_A([1.0, 2.0, 3.0]), _A([np.nan, 2.0, 0.0])], lambda L, a, b: L.maximum(a, b)),
    "sub with a bool raises": ([_A([1.0]), _A([True])], lambda L, a, b: a - b),
    "matmul of mixed dtypes raises": ([_A([[1.0]]), _A([[1.0]], np.float32)],
                                      lambda L, a, b: a @ b),
    "negative index_select raises": ([_A([1.0, 2.0]), _A([-1])],
                                     lambda L, a, i: a.index_select(0, i)),
    "chunk of an empty dim": ([np.zeros((0, 2))], lambda L, a: a.chunk(3)),
}


@pytest.mark.parametrize("name", sorted(FOUND))
def test_found_by_the_random_cases(name):
    arrays, fn = FOUND[name]
    args = [Arg(a, grad=a.dtype == np.float64 and not np.isnan(a).any() and
                not np.isinf(a).any()) for a in arrays]
    run_case(f"found: {name}", 0, Case(args, fn))


def replay(op: str, i: int) -> None:
    """Run case ``i`` of ``op`` again (what a failure's message suggests)."""
    run_case(op, i, draw(op, i))


