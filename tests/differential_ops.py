"""The case generators of tests/test_differential.py, one per op (or family of ops).

Each draws, from the generator it is given, the arguments of one case (``Arg``s built in both
libraries from one NumPy array) and the call to make through ``lib`` (ember or torch); it is
registered with ``@gen(name, ...)`` in ``differential.GENERATORS``. What is drawn is said in
tests/differential.py and test_differential.py; calls PyTorch refuses only by its argument
parser (a Python scalar in ``maximum``, ``keepdim`` without ``dim``) are not drawn.
"""

from __future__ import annotations

import math

import numpy as np
from differential import SIZES, Arg, Case, dtype, gen, rand_shape, tensor

# ------------------------------------------------------------------------------ operands
FLOATS = ("float32", "float64")
ALL = ("float32", "float64", "int64", "bool")
MOSTLY_FLOAT = [0.35, 0.35, 0.2, 0.1]


def scalar(rng):
    """A Python scalar: an int, a float (0.0 and inf among them) or a bool."""
    k = rng.integers(4)
    if k == 0:
        return int(rng.integers(-3, 4))
    if k == 1:
        return bool(rng.integers(2))
    if k == 2:
        return float(rng.choice([0.0, 0.5, -1.5, 2.0, math.inf]))
    return float(np.round(rng.uniform(-3, 3), 2))


def broadcast_shapes(rng, n: int = 2):
    """``n`` shapes that broadcast together (1s and missing leading dims), now and then
    one that does not."""
    out = rand_shape(rng)
    shapes = []
    for _ in range(n):
        r = int(rng.integers(len(out) + 1))
        s = [1 if rng.random() < 0.3 else d for d in out[len(out) - r:]]
        shapes.append(tuple(s))
    if rng.random() < 0.07 and shapes[0]:
        s = list(shapes[0])
        s[0] = {0: 2, 1: 2, 2: 3, 3: 5, 5: 2}[s[0]]
        shapes[0] = tuple(s)
    return shapes


def operand(rng, shape, dt=None, allow_scalar=True):
    """A tensor of ``shape`` (sometimes 0-dim) or a Python scalar: (Arg or None, scalar)."""
    r = rng.random()
    if allow_scalar and r < 0.15:
        return None, scalar(rng)
    if r < 0.27:
        shape = ()
    return tensor(rng, shape, dt or dtype(rng, ALL, MOSTLY_FLOAT), special=True), None


def _binary_case(rng, fn, scalar_first: bool, n: int = 2, dts=None, scalars: bool = True):
    shapes = broadcast_shapes(rng, n)
    args, consts, kinds = [], [], []
    for k, s in enumerate(shapes):
        may_scalar = scalars and (k > 0 or scalar_first) and "s" not in kinds
        a, c = operand(rng, s, dts[k] if dts else None, allow_scalar=may_scalar)
        kinds.append("s" if a is None else "t")
        if a is not None:
            args.append(a)
        consts.append(c)

    def call(lib, *ts):
        it = iter(ts)
        vals = [next(it) if k == "t" else c for k, c in zip(kinds, consts)]
        return fn(lib, *vals)

    return Case(args, call, f"scalars={consts}", tags={"scalars": consts})


BINARY = {
    "add": lambda L, a, b: L.add(a, b), "add_alpha": lambda L, a, b: L.add(a, b, alpha=2),
    "sub": lambda L, a, b: L.sub(a, b), "mul": lambda L, a, b: L.mul(a, b),
    "div": lambda L, a, b: L.div(a, b), "true_divide": lambda L, a, b: L.true_divide(a, b),
    "div_floor": lambda L, a, b: L.div(a, b, rounding_mode="floor"),
    "div_trunc": lambda L, a, b: L.div(a, b, rounding_mode="trunc"),
    "floor_divide": lambda L, a, b: L.floor_divide(a, b), "pow": lambda L, a, b: L.pow(a, b),
    "maximum": lambda L, a, b: L.maximum(a, b), "minimum": lambda L, a, b: L.minimum(a, b),
    "eq": lambda L, a, b: L.eq(a, b), "ne": lambda L, a, b: L.ne(a, b),
    "lt": lambda L, a, b: L.lt(a, b), "le": lambda L, a, b: L.le(a, b),
    "gt": lambda L, a, b: L.gt(a, b), "ge": lambda L, a, b: L.ge(a, b),
    "logical_and": lambda L, a, b: L.logical_and(a, b),
    "logical_or": lambda L, a, b: L.logical_or(a, b),
    "logical_xor": lambda L, a, b: L.logical_xor(a, b),
    "remainder": lambda L, a, b: L.remainder(a, b),
    "logaddexp": lambda L, a, b: L.logaddexp(a, b),
}
OPERATORS = {
    "+": lambda L, a, b: a + b, "-": lambda L, a, b: a - b, "*": lambda L, a, b: a * b,
    "/": lambda L, a, b: a / b, "//": lambda L, a, b: a // b, "**": lambda L, a, b: a ** b,
    "%": lambda L, a, b: a % b,
    "==": lambda L, a, b: a == b, "!=": lambda L, a, b: a != b, "<": lambda L, a, b: a < b,
    "<=": lambda L, a, b: a <= b, ">": lambda L, a, b: a > b, ">=": lambda L, a, b: a >= b,
    "&": lambda L, a, b: a & b, "|": lambda L, a, b: a | b, "^": lambda L, a, b: a ^ b,
}
# PyTorch takes only tensors here (ember also takes a Python scalar: an extension)
TENSORS_ONLY = {"maximum", "minimum", "logaddexp", "logical_and", "logical_or", "logical_xor"}
for _name, _fn in BINARY.items():
    gen(_name)(lambda rng, name, _fn=_fn: _binary_case(rng, _fn, False,
                                                        scalars=name not in TENSORS_ONLY))
for _name, _fn in OPERATORS.items():
    gen(f"op{_name}")(lambda rng, name, _fn=_fn: _binary_case(rng, _fn, True))


@gen("where")
def _where(rng, name):
    return _binary_case(rng, lambda L, c, a, b: L.where(c, a, b), False, 3,
                        dts=["bool", None, None])


@gen("clamp")
def _clamp(rng, name):
    x = tensor(rng, rand_shape(rng), dtype(rng, ALL, MOSTLY_FLOAT), special=True)
    lo, hi = [None if rng.random() < 0.3 else scalar(rng) for _ in range(2)]
    return Case([x], lambda L, a: L.clamp(a, lo, hi), f"min={lo} max={hi}")


@gen("clamp_tensor")
def _clamp_tensor(rng, name):
    return _binary_case(rng, lambda L, x, lo, hi: L.clamp(x, lo, hi), False, 3,
                        scalars=False)


UNARY = ["abs", "neg", "exp", "log", "log1p", "sqrt", "rsqrt", "sin", "cos", "tanh",
         "sigmoid", "relu", "sign", "floor", "ceil", "round", "trunc", "reciprocal", "square",
         "erf", "tan", "log2", "log10", "logical_not", "isnan", "isinf", "isfinite"]
ACTIVATIONS = ["gelu", "softplus", "silu", "elu", "leaky_relu"]


@gen(*UNARY)
def _unary(rng, name):
    x = tensor(rng, rand_shape(rng), dtype(rng, ALL, MOSTLY_FLOAT), special=True)
    return Case([x], lambda L, a: getattr(a, name)())


@gen(*ACTIVATIONS)
def _activation(rng, name):
    x = tensor(rng, rand_shape(rng), dtype(rng, ALL, [0.4, 0.4, 0.1, 0.1]), special=True)
    return Case([x], lambda L, a: getattr(L.nn.functional, name)(a))


# ------------------------------------------------------------------------------ reductions
def dims_arg(rng, n: int, tuples: bool = True, none: bool = True):
    """A dim argument: None, an int (negative too), a tuple of distinct dims; rarely out of
    range or a duplicate."""
    r = rng.random()
    if none and r < 0.2:
        return None
    if r < 0.04 + (0.2 if none else 0):
        return int(rng.choice([n, -n - 1, n + 1]))
    if not tuples or r < 0.65 or n == 0:
        return int(rng.integers(-n, n)) if n else int(rng.choice([0, -1]))
    k = int(rng.integers(1, n + 1))
    dims = [int(d) - (n if rng.random() < 0.4 else 0) for d in rng.permutation(n)[:k]]
    if rng.random() < 0.05:
        dims.append(dims[0])
    return tuple(dims)


def _reduction(rng, fn, dts=ALL, tuples=True, none=True, keepdim=True, p=None):
    x = tensor(rng, rand_shape(rng), dtype(rng, dts, p), special=True)
    dim = dims_arg(rng, len(x.shape()), tuples, none)
    kw = {} if dim is None else {"dim": dim}
    if keepdim and dim is not None and rng.random() < 0.5:  # torch takes keepdim with dim
        kw["keepdim"] = bool(rng.integers(2))
    return Case([x], lambda L, a: fn(L, a, kw), f"kwargs={kw}", tags={"dim": dim})


@gen("sum", "mean", "amax", "amin", "all", "any", "logsumexp")
def _reduce(rng, name):
    return _reduction(rng, lambda L, a, kw: getattr(a, name)(**kw), p=MOSTLY_FLOAT,
                      none=name != "logsumexp")  # torch's logsumexp needs a dim


@gen("prod", "argmax", "argmin")
def _reduce_int_dim(rng, name):
    return _reduction(rng, lambda L, a, kw: getattr(a, name)(**kw), tuples=False,
                      p=MOSTLY_FLOAT)


@gen("max_dim", "min_dim")
def _max_dim(rng, name):
    op = name[:3]
    return _reduction(rng, lambda L, a, kw: getattr(a, op)(**kw), tuples=False, none=False,
                      p=MOSTLY_FLOAT)


@gen("var", "std")
def _var(rng, name):
    c = int(rng.choice([0, 1, 2]))
    case = _reduction(rng, lambda L, a, kw: getattr(a, name)(correction=c, **kw), FLOATS)
    case.info += f" correction={c}"
    shape, dim = case.args[0].shape(), case.tags["dim"]
    dims = range(len(shape)) if dim is None else [dim] if isinstance(dim, int) else dim
    case.tags["dof"] = int(np.prod([shape[d] for d in dims if -len(shape) <= d < len(shape)]
                                   )) - c
    return case


@gen("norm")
def _norm(rng, name):
    p = float(rng.choice([1, 2, 3, math.inf]))
    case = _reduction(rng, lambda L, a, kw: L.norm(a, p=p, **kw), FLOATS)
    case.info += f" p={p}"
    case.tags["p"] = p
    return case


@gen("softmax", "log_softmax", "cumsum", "cumprod")
def _along(rng, name):
    return _reduction(rng, lambda L, a, kw: getattr(a, name)(**kw), FLOATS, tuples=False,
                      none=False, keepdim=False)


@gen("max_all", "min_all")
def _max_all(rng, name):
    x = tensor(rng, rand_shape(rng), dtype(rng, ALL, MOSTLY_FLOAT), special=True)
    return Case([x], lambda L, a: getattr(a, name[:3])())


# ------------------------------------------------------------------------------ shape ops
def _factor_shape(rng, n: int) -> list:
    """A random shape with ``n`` elements (0: one dim is 0)."""
    if n == 0:
        return [int(rng.choice(SIZES)) for _ in range(int(rng.integers(0, 3)))] + [0]
    primes, m = [], n
    for p in (2, 3, 5, 7):
        while m % p == 0:
            primes.append(p)
            m //= p
    primes += [m] if m > 1 else []
    dims = [1] * int(rng.integers(1, 5))
    for p in primes:
        dims[int(rng.integers(len(dims)))] *= p
    return [int(d) for d in rng.permutation(dims)]


def _any_tensor(rng, dts=ALL, p=MOSTLY_FLOAT, **kw):
    return tensor(rng, rand_shape(rng), dtype(rng, dts, p), **kw)


@gen("reshape", "view")
def _reshape(rng, name):
    x = _any_tensor(rng, contiguous=name == "view")  # view only where it is legal
    n = int(np.prod(x.shape()))
    shape = _factor_shape(rng, n) if rng.random() < 0.9 else _factor_shape(rng, n + 1)
    if rng.random() < 0.4:
        shape[int(rng.integers(len(shape)))] = -1
    return Case([x], lambda L, a: getattr(a, name)(*shape), f"shape={shape}")


def _dim(rng, n: int, extra: int = 0) -> int:
    """A dim of an n-d tensor (negative too; ``extra`` more at the end, as unsqueeze's);
    now and then one out of range."""
    m = max(n + extra, 1)
    if rng.random() < 0.06:
        return int(rng.choice([m, -m - 1]))
    return int(rng.integers(-m, m))


@gen("flatten")
def _flatten(rng, name):
    x = _any_tensor(rng)
    n = len(x.shape())
    s, e = _dim(rng, n), _dim(rng, n)
    return Case([x], lambda L, a: a.flatten(s, e), f"start={s} end={e}")


@gen("squeeze")
def _squeeze(rng, name):
    x = tensor(rng, rand_shape(rng, sizes=(0, 1, 1, 2, 3)), dtype(rng, ALL, MOSTLY_FLOAT))
    n = len(x.shape())
    d = None if rng.random() < 0.3 else _dim(rng, n) if rng.random() < 0.6 else tuple(
        {_dim(rng, n) for _ in range(int(rng.integers(1, 3)))})
    return Case([x], lambda L, a: a.squeeze() if d is None else a.squeeze(d), f"dim={d}")


@gen("unsqueeze")
def _unsqueeze(rng, name):
    x = _any_tensor(rng)
    d = _dim(rng, len(x.shape()), 1)
    return Case([x], lambda L, a: a.unsqueeze(d), f"dim={d}")


@gen("permute")
def _permute(rng, name):
    x = _any_tensor(rng)
    n = len(x.shape())
    perm = [int(p) - (n if rng.random() < 0.3 else 0) for p in rng.permutation(n)]
    if rng.random() < 0.08:
        perm = perm[1:] if rng.random() < 0.5 or not perm else perm + [perm[0]]
    return Case([x], lambda L, a: a.permute(perm), f"dims={perm}")


@gen("transpose")
def _transpose(rng, name):
    x = _any_tensor(rng)
    n = len(x.shape())
    d0, d1 = _dim(rng, n), _dim(rng, n)
    return Case([x], lambda L, a: a.transpose(d0, d1), f"dims=({d0}, {d1})")


@gen("t", "mT")
def _t(rng, name):
    x = _any_tensor(rng)
    return Case([x], (lambda L, a: a.t()) if name == "t" else (lambda L, a: a.mT))


@gen("expand")
def _expand(rng, name):
    x = _any_tensor(rng, expand=False)
    shape = [int(rng.choice(SIZES)) if s == 1 and rng.random() < 0.6 else
             -1 if rng.random() < 0.3 else s for s in x.shape()]
    shape = [int(rng.choice(SIZES)) for _ in range(int(rng.integers(0, 2)))] + shape
    if rng.random() < 0.08 and shape:
        shape[-1] = {0: 2, 1: 3, 2: 3, 3: 5, 5: 2, -1: 7}[shape[-1]]
    return Case([x], lambda L, a: a.expand(shape), f"sizes={shape}")


def _same_but(rng, base: tuple, d: int, k: int) -> list:
    """``k`` shapes equal to ``base`` but for dim ``d`` (now and then one differs more)."""
    shapes = [list(base) for _ in range(k)]
    for s in shapes:
        if base:
            s[d] = int(rng.choice(SIZES))
    if rng.random() < 0.08 and base and len(base) > 1:
        shapes[-1][(d + 1) % len(base)] += 1
    return shapes


@gen("cat", "stack")
def _cat(rng, name):
    base = rand_shape(rng, 0 if name == "stack" else 1)
    k = int(rng.integers(1, 4))
    d = _dim(rng, len(base), 1 if name == "stack" else 0)
    shapes = ([list(base)] * k if name == "stack" and rng.random() < 0.9
              else _same_but(rng, base, d % max(len(base), 1), k))
    dt = dtype(rng, ALL, MOSTLY_FLOAT)
    xs = [tensor(rng, s, dt if rng.random() < 0.8 else dtype(rng, ALL, MOSTLY_FLOAT))
          for s in shapes]
    return Case(xs, lambda L, *ts: getattr(L, name)(list(ts), d), f"dim={d}", tags={"dim": d})


@gen("split", "split_sections", "chunk", "unbind")
def _split(rng, name):
    x = tensor(rng, rand_shape(rng, 1), dtype(rng, ALL, MOSTLY_FLOAT))
    shape = x.shape()
    d = _dim(rng, len(shape))
    size = shape[d] if -len(shape) <= d < len(shape) else 3
    if name == "split":
        k = int(rng.integers(0 if rng.random() < 0.05 else 1, 4))
        return Case([x], lambda L, a: a.split(k, d), f"size={k} dim={d}")
    if name == "split_sections":
        cuts = sorted(int(c) for c in rng.integers(0, size + 1, size=int(rng.integers(0, 3))))
        secs = [b - a for a, b in zip([0] + cuts, cuts + [size + int(rng.random() < 0.08)])]
        return Case([x], lambda L, a: a.split(secs, d), f"sections={secs} dim={d}")
    if name == "chunk":
        k = int(rng.integers(0 if rng.random() < 0.05 else 1, 5))
        return Case([x], lambda L, a: a.chunk(k, d), f"chunks={k} dim={d}")
    return Case([x], lambda L, a: a.unbind(d), f"dim={d}")


@gen("flip", "roll", "movedim")
def _flip_roll(rng, name):
    x = _any_tensor(rng)
    n = len(x.shape())
    dims = tuple({_dim(rng, n) for _ in range(int(rng.integers(1, 3)))})
    if name == "flip":
        return Case([x], lambda L, a: a.flip(dims), f"dims={dims}")
    if name == "movedim":
        dst = tuple(_dim(rng, n) for _ in dims)
        return Case([x], lambda L, a: a.movedim(dims, dst), f"source={dims} dest={dst}")
    if 0 in x.shape():  # torch skips its dim checks on empty tensors: no case there
        dims = tuple(d % max(n, 1) for d in dims if -max(n, 1) <= d < max(n, 1)) or (0,)
    shifts = tuple(int(s) for s in rng.integers(-7, 8, size=len(dims)))
    if rng.random() < 0.3:
        sh = shifts[0]
        return Case([x], lambda L, a: a.roll(sh), f"shifts={sh} dims=None")
    return Case([x], lambda L, a: a.roll(shifts, dims), f"shifts={shifts} dims={dims}")


@gen("repeat", "tile")
def _repeat(rng, name):
    x = _any_tensor(rng)
    n = len(x.shape())
    k = n + int(rng.integers(0, 2)) - (1 if name == "tile" or rng.random() < 0.05 else 0)
    reps = [int(r) for r in rng.integers(0, 4, size=max(k, 0))]
    if name == "tile":
        return Case([x], lambda L, a: a.tile(reps), f"dims={reps}")
    return Case([x], lambda L, a: a.repeat(reps), f"sizes={reps}")


# ------------------------------------------------------------------------------ indexing
def _basic_index(rng, shape):
    """A basic index: ints (negative, now and then out of range), slices (steps, bounds
    beyond the size), None and an Ellipsis."""
    parts, n = [], len(shape)
    k = int(rng.integers(0, n + 1))
    for d in range(k):
        r = rng.random()
        if r < 0.3 and shape[d] > 0:
            parts.append(int(rng.integers(-shape[d], shape[d])))
        elif r < 0.34:
            parts.append(int(rng.choice([shape[d], -shape[d] - 1])))
        elif r < 0.45:
            parts.append(None)
        else:
            lo, hi = (None if rng.random() < 0.3 else int(rng.integers(-7, 8)) for _ in "ab")
            parts.append(slice(lo, hi, [None, 1, 2, 3][int(rng.integers(4))]))
    if rng.random() < 0.25:
        parts.insert(int(rng.integers(len(parts) + 1)), Ellipsis)
    if len(parts) == 1 and rng.random() < 0.5:
        return parts[0]
    return tuple(parts)


def _int_index(rng, size: int, shape=None, wrong: bool = True) -> np.ndarray:
    shape = rand_shape(rng, 0, 2) if shape is None else shape
    lo, hi = (-size, size) if size else (0, 1)
    if wrong and rng.random() < 0.06:
        hi += 1  # out of range (torch checks no index of an empty tensor: nor do we here)
    return rng.integers(lo, max(hi, lo + 1), size=shape).astype(np.int64)


def _index_kind(rng, x_shape):
    """(description, index builder, index Args): a basic, an integer-array or a mask index."""
    r = rng.random()
    n = len(x_shape)
    if r < 0.45 or n == 0:
        idx = _basic_index(rng, x_shape)
        return f"index={idx!r}", [], (lambda ts: idx)
    if r < 0.75:
        d = int(rng.integers(n))
        ii = _int_index(rng, x_shape[d], wrong=0 not in x_shape)
        arr = Arg(ii)
        lead = (slice(None),) * d
        return f"index={lead}+[int{list(ii.shape)}]", [arr], (lambda ts: lead + (ts[0],))
    k = int(rng.integers(1, n + 1))
    mask = tensor(rng, x_shape[:k], "bool")
    return f"index=mask{list(x_shape[:k])}", [mask], (lambda ts: ts[0])


@gen("getitem")
def _getitem(rng, name):
    x = _any_tensor(rng)
    desc, extra, build = _index_kind(rng, x.shape())
    return Case([x, *extra], lambda L, a, *ts: a[build(ts)], desc)


@gen("setitem", "setitem_view")
def _setitem(rng, name):
    x = _any_tensor(rng, grad=False, expand=name == "setitem")
    desc, extra, build = _index_kind(rng, x.shape())
    r = rng.random()
    val = scalar(rng) if r < 0.4 else None
    sel = _np_select(x, extra, build)
    vshape = sel.shape[int(rng.integers(len(sel.shape) + 1)):] if sel is not None else ()
    if val is None:
        vshape = tuple(1 if rng.random() < 0.3 else s for s in vshape)
        extra = [*extra, tensor(rng, vshape, dtype(rng, ALL, MOSTLY_FLOAT), grad=False)]
    k = len(extra) - (val is None)

    def fn(L, a, *ts, leaves):
        a = a if name == "setitem_view" else a.clone()
        a[build(ts[:k])] = val if val is None and False else (ts[k] if val is None else val)
        return leaves[0] if name == "setitem_view" else a

    return Case([x, *extra], fn, f"{desc} value={val if val is not None else vshape}",
                leaves=True)


def _np_select(x, extra, build):
    try:
        return np.asarray(x.build(np)[1][build([e.base for e in extra])])
    except (IndexError, ValueError, TypeError):
        return None


@gen("index_select", "gather", "take")
def _gather(rng, name):
    x = _any_tensor(rng)
    shape = x.shape()
    n = len(shape)
    d = _dim(rng, n)
    size = shape[d] if -max(n, 1) <= d < max(n, 1) and n else 1
    if name == "index_select":
        idx = Arg(_int_index(rng, size, (int(rng.choice(SIZES)),), wrong=0 not in shape))
        if rng.random() < 0.5:
            idx.base = np.abs(idx.base) % max(size, 1)  # torch takes no negative index here
        return Case([x, idx], lambda L, a, i: a.index_select(d, i), f"dim={d}")
    if name == "take":
        numel = int(np.prod(shape))
        idx = Arg(_int_index(rng, numel, wrong=numel > 0))
        return Case([x, idx], lambda L, a, i: L.take(a, i))
    ishape = tuple(int(rng.integers(0, s + 1)) if k != d % max(n, 1) else int(rng.choice(SIZES))
                   for k, s in enumerate(shape))
    base = np.abs(_int_index(rng, size, ishape)) % max(size, 1)
    if size == 0 or rng.random() < 0.05:
        base = base + size  # out of range
    return Case([x, Arg(base)], lambda L, a, i: a.gather(d, i), f"dim={d}")


@gen("scatter", "scatter_add", "index_add")
def _scatter(rng, name):
    x = _any_tensor(rng, expand=False)
    shape = x.shape()
    n = len(shape)
    d = _dim(rng, n)
    size = shape[d] if -max(n, 1) <= d < max(n, 1) and n else 1
    if name == "index_add":
        k = int(rng.choice(SIZES)) if size else 0  # (no index fits an empty dim)
        idx = np.abs(_int_index(rng, size, (k,), wrong=False)) % max(size, 1)
        if 0 not in shape and rng.random() < 0.05:  # (torch checks no index of an empty x)
            idx = idx + size  # out of range
        src_shape = tuple(k if i == d % max(n, 1) else s for i, s in enumerate(shape))
        src = tensor(rng, src_shape, x.dtype if rng.random() < 0.9 else dtype(rng))
        return Case([x, Arg(idx), src], lambda L, a, i, v: a.index_add(d, i, v, alpha=2),
                    f"dim={d} alpha=2")
    ishape = tuple(int(rng.integers(0, s + 1)) for s in shape)
    idx = np.abs(_int_index(rng, size, ishape, wrong=False)) % max(size, 1)
    if size == 0 or rng.random() < 0.05:
        idx = idx + size
    src = tensor(rng, tuple(s + int(rng.integers(0, 2)) for s in ishape),
                 x.dtype if rng.random() < 0.9 else dtype(rng))
    return Case([x, Arg(idx), src], lambda L, a, i, v: getattr(a, name)(d, i, v), f"dim={d}")


@gen("sum_dtype")
def _sum_dtype(rng, name):
    x = _any_tensor(rng)
    dt = dtype(rng, ("float32", "float64", "int64"))
    dim = dims_arg(rng, len(x.shape()), none=False)
    return Case([x], lambda L, a: a.sum(dim, dtype=getattr(L, dt)), f"dim={dim} dtype={dt}")


@gen("masked_fill")
def _masked_fill(rng, name):
    x = _any_tensor(rng)
    (ms,) = broadcast_shapes(rng, 1) if not x.shape() else [
        tuple(1 if rng.random() < 0.3 else s for s in x.shape()[int(rng.integers(
            len(x.shape()) + 1)):])]
    mask = tensor(rng, ms, "bool")
    v = scalar(rng)
    return Case([x, mask], lambda L, a, m: a.masked_fill(m, v), f"value={v}")


@gen("narrow")
def _narrow(rng, name):
    x = tensor(rng, rand_shape(rng, 1), dtype(rng, ALL, MOSTLY_FLOAT))
    shape = x.shape()
    d = _dim(rng, len(shape))
    size = shape[d] if -len(shape) <= d < len(shape) else 2
    start = int(rng.integers(-size - 1, size + 2))
    length = int(rng.integers(0, size + 2))
    return Case([x], lambda L, a: a.narrow(d, start, length), f"dim={d} start={start} "
                f"length={length}")


# ------------------------------------------------------------------------------ linalg
def _mat_shapes(rng):
    k, n, m = (int(rng.choice(SIZES)) for _ in range(3))
    ra, rb = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    batch = rand_shape(rng, 0, 2)
    def side(r, rows, cols):
        if r == 1:
            return (cols,) if rows is None else (rows,)
        b = [1 if rng.random() < 0.3 else s for s in batch[len(batch) - (r - 2):]] \
            if r > 2 else []
        return (*b, *([0] * (r - 2 - len(b))), rows, cols)[-r:]
    a = (k,) if ra == 1 else side(ra, n, k)
    b = (k,) if rb == 1 else side(rb, k, m)
    if rng.random() < 0.07:
        b = (*b[:-2], k + 1, b[-1]) if len(b) >= 2 else (k + 1,)
    return a, b


@gen("matmul", "mm", "bmm", "dot", "outer")
def _matmul(rng, name):
    if name in ("mm", "bmm"):
        bt = (int(rng.choice(SIZES)),) if name == "bmm" else ()
        k, n, m = (int(rng.choice(SIZES)) for _ in range(3))
        a, b = (*bt, n, k), (*bt, k if rng.random() < 0.93 else k + 1, m)
    elif name in ("dot", "outer"):
        a = (int(rng.choice(SIZES)),)
        b = a if name == "dot" and rng.random() < 0.93 else (int(rng.choice(SIZES)),)
    else:
        a, b = _mat_shapes(rng)
    dt = dtype(rng, ("float32", "float64", "int64"), [0.4, 0.5, 0.1])
    # mixed dtypes (torch raises) only where the product is not empty (torch checks none)
    mixed = rng.random() < 0.1 and 0 not in (*a, *b)
    dtb = dtype(rng, ("float32", "float64", "int64")) if mixed else dt
    xa, xb = tensor(rng, a, dt), tensor(rng, b, dtb)
    return Case([xa, xb], lambda L, p, q: getattr(L, name)(p, q), tol={"float32": (1e-4, 1e-4)})


# ------------------------------------------------------------------------------ others
@gen("sort", "argsort", "topk")
def _sort(rng, name):
    x = tensor(rng, rand_shape(rng), dtype(rng, ("float32", "float64", "int64")))
    n = len(x.shape())
    d = _dim(rng, n)
    desc = bool(rng.integers(2))
    if name == "sort":  # stable, so that ties give the same indices in both
        return Case([x], lambda L, a: a.sort(dim=d, descending=desc, stable=True),
                    f"dim={d} descending={desc}")
    if name == "argsort":
        return Case([x], lambda L, a: a.argsort(dim=d, descending=desc, stable=True),
                    f"dim={d} descending={desc}")
    size = x.shape()[d] if n and -n <= d < n else 1
    k = int(rng.integers(0, size + 1 + (rng.random() < 0.07)))
    # distinct values: with ties either index is right, and so either gradient
    x.base = (rng.permutation(x.base.size).reshape(x.base.shape) / 3).astype(x.base.dtype)
    # ties may pick either index: compare the values and what the indices point at
    return Case([x], lambda L, a: (lambda v, i: (v, a.gather(d, i) if a.ndim else a))(
        *a.topk(k, dim=d, largest=desc)), f"k={k} dim={d} largest={desc}")


@gen("tril", "triu")
def _tril(rng, name):
    x = _any_tensor(rng)
    k = int(rng.integers(-4, 5))
    return Case([x], lambda L, a: getattr(a, name)(k), f"diagonal={k}")
