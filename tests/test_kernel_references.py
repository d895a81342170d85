"""Every fast native kernel against its plain reference (llm.c style: a slow, obviously-correct
loop beside each fast kernel, exposed as ``ember._C.*_reference``).

The fast kernels run on the CPU (``ember._C``) and, when a CUDA module is present (a GPU, or
the emulator via EMBER_EMULATED_CUDA), on the GPU (``ember._cuda``); both are held to the
CPU references. Shapes are non-trivial (odd sizes, batch and head dimensions, strides,
padding, dilation, groups, masks), and float32 tolerances come from the arithmetic: a sum of
n products is off by at most about n * eps * (the same sum of absolute values) (Higham's
gamma_n), so each check scales eps by the reduction length and by the magnitudes involved.
The backward pooling kernels are linear maps; they are checked as the adjoints of the
reference forwards, <P x, g> = <x, P^T g>. The recurrent backward kernels are checked against
central differences of the reference forward in float64.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from ember import _C

EPS = {np.float32: np.finfo(np.float32).eps, np.float64: np.finfo(np.float64).eps}
DTYPES = [np.float32, np.float64]


def _cuda_module():
    import ember

    if not ember.cuda.is_available():
        return None
    return importlib.import_module("ember._cuda")


_CUDA = _cuda_module()
DEVICES = ["cpu"] + (["cuda"] if _CUDA is not None else [])


def _fast(device: str, name: str, *args, **kwargs):
    """Runs the fast kernel `name` of `device` on NumPy inputs; NumPy outputs."""
    if device == "cpu":
        return getattr(_C, name)(*args, **kwargs)

    def to_dev(a):
        return _CUDA.from_numpy(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else a

    out = getattr(_CUDA, name)(*[to_dev(a) for a in args],
                               **{k: to_dev(v) for k, v in kwargs.items()})
    if isinstance(out, tuple):
        return tuple(_CUDA.to_numpy(o) for o in out)
    return _CUDA.to_numpy(out)


def _rng(seed: int = 0):
    return np.random.default_rng(seed)


def _assert_within(got, want, bound, what: str):
    """|got - want| <= bound elementwise (bound from the error analysis of the op)."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, (what, got.shape, want.shape)
    excess = np.abs(got - want) - bound
    worst = np.unravel_index(np.argmax(excess), excess.shape) if excess.size else ()
    assert excess.size == 0 or excess[worst] <= 0, (
        f"{what}: |got - want| = {abs(got[worst] - want[worst]):.3g} exceeds the bound "
        f"{np.broadcast_to(bound, got.shape)[worst]:.3g} at {worst}")


# ---------------------------------------------------------------------------- GEMM
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1, 1), (7, 33, 5), (65, 129, 47), (3, 130, 257, 31)])
def test_matmul_matches_reference(device, dtype, shape):
    *batch, m, k, n = shape
    rng = _rng(1)
    a = rng.standard_normal((*batch, m, k)).astype(dtype)
    b = rng.standard_normal((*batch, k, n)).astype(dtype)
    want = _C.matmul_reference(a, b)
    got = _fast(device, "matmul", a, b)
    # gamma_K |A| |B|, K products per output (the reference sums in double)
    bound = 2 * k * EPS[dtype] * _C.matmul_reference(np.abs(a), np.abs(b))
    _assert_within(got, want, bound, f"matmul {shape}")


def test_matmul_every_cpu_kernel_matches_reference():
    rng = _rng(2)
    a = rng.standard_normal((37, 91)).astype(np.float32)
    b = rng.standard_normal((91, 53)).astype(np.float32)
    bound = 2 * 91 * EPS[np.float32] * _C.matmul_reference(np.abs(a), np.abs(b))
    for kernel in _C.gemm_kernels():
        _assert_within(_C.matmul(a, b, kernel=kernel), _C.matmul_reference(a, b), bound, kernel)


# ---------------------------------------------------------------------------- conv2d
CONV_CASES = [
    # x shape, w shape, stride, padding, dilation, groups
    ((1, 1, 5, 5), (1, 1, 3, 3), (1, 1), (0, 0), (1, 1), 1),
    ((2, 3, 9, 7), (4, 3, 3, 2), (2, 1), (1, 0), (1, 2), 1),
    ((3, 6, 11, 10), (9, 2, 3, 3), (1, 2), (2, 1), (2, 1), 3),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", range(len(CONV_CASES)))
def test_conv2d_matches_reference(device, dtype, case):
    xs, ws, stride, padding, dilation, groups = CONV_CASES[case]
    rng = _rng(3)
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    args = (stride, padding, dilation, groups)
    k = ws[1] * ws[2] * ws[3]  # products per output
    y = _C.conv2d_reference(x, w, *args)
    bound = 2 * k * EPS[dtype] * _C.conv2d_reference(np.abs(x), np.abs(w), *args)
    _assert_within(_fast(device, "conv2d_forward", x, w, *args), y, bound, "conv2d")
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx = _C.conv2d_backward_data_reference(dy, w, xs, *args)
    k_data = ws[0] // groups * ws[2] * ws[3]
    bound = 2 * k_data * EPS[dtype] * _C.conv2d_backward_data_reference(np.abs(dy), np.abs(w),
                                                                         xs, *args)
    _assert_within(_fast(device, "conv2d_backward_data", dy, w, list(xs), *args), dx, bound,
                   "conv2d_backward_data")
    dw = _C.conv2d_backward_weight_reference(dy, x, ws, *args)
    k_weight = xs[0] * y.shape[2] * y.shape[3]
    bound = 2 * k_weight * EPS[dtype] * _C.conv2d_backward_weight_reference(
        np.abs(dy), np.abs(x), ws, *args)
    _assert_within(_fast(device, "conv2d_backward_weight", dy, x, list(ws), *args), dw, bound,
                   "conv2d_backward_weight")


# ---------------------------------------------------------------------------- attention
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("causal,masked", [(False, False), (True, False), (False, True)])
def test_attention_matches_reference(device, dtype, causal, masked):
    rng = _rng(4)
    b, h, lq, lk, d, dv = 2, 3, 37, 45, 24, 17
    q = rng.standard_normal((b, h, lq, d)).astype(dtype)
    k = rng.standard_normal((b, h, lk, d)).astype(dtype)
    v = rng.standard_normal((b, h, lk, dv)).astype(dtype)
    mask = (rng.random((1, h, lq, lk)) > 0.3) if masked else None
    want, _ = _C.attention_reference(q, k, v, mask, causal)
    got, _ = _fast(device, "attention_forward", q, k, v, mask, causal)
    # The scores q.k * scale are off by ~ D eps |q||k| scale; exp turns that into a relative
    # error of the weights; the weighted sums of Lk values add Lk eps. |out| <= max |v|.
    scale = 1 / np.sqrt(d)
    score_err = d * EPS[dtype] * np.abs(q).max() * np.abs(k).max() * scale
    bound = 4 * (score_err + lk * EPS[dtype]) * np.abs(v).max()
    _assert_within(got, want, bound, "attention")


# ---------------------------------------------------------------------------- layer norm
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,affine", [((1, 1), False), ((3, 5, 77), True),
                                          ((64, 1030), True), ((4, 2, 3), False)])
def test_layer_norm_matches_reference(device, dtype, shape, affine):
    rng = _rng(5)
    x = (3 + 2 * rng.standard_normal(shape)).astype(dtype)
    d = shape[-1]
    w = rng.standard_normal(d).astype(dtype) if affine else None
    b = rng.standard_normal(d).astype(dtype) if affine else None
    y_ref, mean, rstd = _C.layer_norm_reference(x, w, b, 1e-5)
    y, mean_f, rstd_f = _fast(device, "layer_norm_forward", x, w, b, 1e-5)
    eps = EPS[dtype]
    absw = np.abs(w) if affine else 1.0
    absb = np.abs(b) if affine else 0.0
    m, s = mean[..., None].astype(np.float64), rstd[..., None].astype(np.float64)
    # the statistics are summed in double by both (in different orders: d * eps64), then
    # stored in dtype; y rounds in storing mean, x - mean, * rstd, * w and + b
    eps64 = EPS[np.float64]
    _assert_within(mean_f, mean, 2 * eps * np.abs(mean) + 2 * d * eps64 * np.abs(x).max(axis=-1),
                   "mean")
    _assert_within(rstd_f, rstd, (4 * eps + 4 * d * eps64) * rstd, "rstd")
    xmax = np.abs(x).max(axis=-1, keepdims=True)
    bound = 8 * eps * ((np.abs(x) + np.abs(m)) * s * absw + absb) \
        + 4 * d * eps64 * (xmax + np.abs(m)) * s * absw  # the statistics' own differences
    _assert_within(y, y_ref, bound, "layer_norm y")

    g = rng.standard_normal(shape).astype(dtype)
    dx_ref, dw_ref, db_ref = _C.layer_norm_backward_reference(g, x, w, mean, rstd)
    dx, dw, db = _fast(device, "layer_norm_backward", g, x, w, mean, rstd)
    xhat = (x.astype(np.float64) - m) * s
    gh = np.abs(g) * absw
    rows = int(np.prod(shape[:-1]))
    # dx = rstd (gh - mean(gh) - xhat mean(gh xhat)): row means of d terms
    row_scale = (gh.max(axis=-1, keepdims=True) * (1 + np.abs(xhat).max(axis=-1, keepdims=True))
                 ** 2)
    _assert_within(dx, dx_ref, 4 * d * eps * s * row_scale, "layer_norm dx")
    # dweight, dbias: sums over the rows
    lead = tuple(range(len(shape) - 1))
    _assert_within(dw, dw_ref, 4 * rows * eps * np.abs(g * xhat).sum(axis=lead), "dweight")
    _assert_within(db, db_ref, 4 * rows * eps * np.abs(g).sum(axis=lead), "dbias")


# ---------------------------------------------------------------------------- Adam
ADAM_CONFIGS = [
    dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, step=1, amsgrad=False,
         maximize=False, decoupled=False),
    dict(lr=3e-2, beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=0.1, step=7, amsgrad=True,
         maximize=False, decoupled=False),
    dict(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.05, step=3, amsgrad=False,
         maximize=True, decoupled=True),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("config", range(len(ADAM_CONFIGS)))
@pytest.mark.parametrize("n", [1, 13, 4099])
def test_adam_matches_reference(device, dtype, config, n):
    cfg = ADAM_CONFIGS[config]
    rng = _rng(6)
    state = [rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype),
             0.1 * rng.standard_normal(n).astype(dtype),
             np.abs(rng.standard_normal(n)).astype(dtype)]
    vmax = np.abs(rng.standard_normal(n)).astype(dtype) + state[3]
    args = list(cfg.values())
    ref = [a.copy() for a in state] + [vmax.copy()]
    _C.adam_step_reference(ref[0], ref[1], ref[2], ref[3], ref[4], *args)
    if device == "cpu":
        got = [a.copy() for a in state] + [vmax.copy()]
        _C.adam_step(got[0], got[1], got[2], got[3], got[4], *args)
    else:
        dev = [_CUDA.from_numpy(a) for a in state + [vmax]]
        _CUDA.adam_step(*dev, *args)
        got = [_CUDA.to_numpy(a) for a in dev]
    eps = EPS[dtype]
    p0, p1 = state[0].astype(np.float64), ref[0].astype(np.float64)
    # a dozen roundings per element: of p itself, and of the step's size |p1 - p0|
    _assert_within(got[0], ref[0], 4 * eps * np.abs(p1) + 32 * eps * np.abs(p1 - p0), "param")
    _assert_within(got[2], ref[2], 4 * eps * np.abs(ref[2]) + 4 * eps * np.abs(state[1]),
                   "exp_avg")
    _assert_within(got[3], ref[3], 8 * eps * np.abs(ref[3]), "exp_avg_sq")
    if cfg["amsgrad"]:
        _assert_within(got[4], ref[4], 8 * eps * np.abs(ref[4]), "max_exp_avg_sq")


# ---------------------------------------------------------------------------- pooling
POOL_CASES = [
    # x shape, kernel, stride, padding, dilation, ceil_mode
    ((1, 1, 4, 4), (2, 2), (2, 2), (0, 0), (1, 1), False),
    ((2, 3, 11, 9), (3, 2), (2, 1), (1, 1), (1, 1), True),
    ((2, 2, 13, 12), (3, 3), (2, 3), (1, 0), (2, 1), False),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", range(len(POOL_CASES)))
def test_max_pool_matches_reference(device, dtype, case):
    xs, k, s, p, d, ceil = POOL_CASES[case]
    x = _rng(7).standard_normal(xs).astype(dtype)
    y_ref, idx_ref = _C.max_pool2d_reference(x, k, s, p, d, ceil)
    y, idx = _fast(device, "max_pool2d", x, k, s, p, d, ceil)
    np.testing.assert_array_equal(y, y_ref)  # a max is exact
    np.testing.assert_array_equal(idx, idx_ref)
    # backward: dx[plane].flat[idx] += dy (the adjoint of the gather y = x.flat[idx])
    g = _rng(8).standard_normal(y.shape).astype(dtype)
    want = np.zeros((xs[0] * xs[1], xs[2] * xs[3]))
    np.add.at(want, (np.arange(want.shape[0])[:, None], idx_ref.reshape(want.shape[0], -1)),
              g.reshape(want.shape[0], -1))
    got = _fast(device, "max_pool2d_backward", g, idx_ref, list(xs))
    _assert_within(got, want.reshape(xs), 4 * EPS[dtype] * np.abs(g).max() * k[0] * k[1],
                   "max_pool2d_backward")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", range(len(POOL_CASES)))
@pytest.mark.parametrize("count_include_pad,divisor", [(True, 0), (False, 0), (True, 5)])
def test_avg_pool_matches_reference(device, dtype, case, count_include_pad, divisor):
    xs, k, s, p, _, ceil = POOL_CASES[case]
    rng = _rng(9)
    x = rng.standard_normal(xs).astype(dtype)
    args = (k, s, p, ceil, count_include_pad, divisor)
    y_ref = _C.avg_pool2d_reference(x, *args)
    y = _fast(device, "avg_pool2d", x, *args)
    bound = 2 * k[0] * k[1] * EPS[dtype] * _C.avg_pool2d_reference(np.abs(x), *args)
    _assert_within(y, y_ref, bound, "avg_pool2d")
    # backward = the adjoint: <P x, g> == <x, P^T g> (float64: the map itself, not rounding)
    x64, g = x.astype(np.float64), rng.standard_normal(y.shape)
    back = _fast(device, "avg_pool2d_backward", g, list(xs), *args) if dtype == np.float64 \
        else None
    if back is not None:
        lhs = np.vdot(_C.avg_pool2d_reference(x64, *args), g)
        assert abs(lhs - np.vdot(x64, back)) <= 1e-12 * np.abs(x64).sum() * np.abs(g).max()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xs,out", [((1, 1, 1, 1), (1, 1)), ((2, 3, 10, 7), (3, 4)),
                                    ((1, 2, 5, 9), (7, 9))])
def test_adaptive_avg_pool_matches_reference(device, dtype, xs, out):
    rng = _rng(10)
    x = rng.standard_normal(xs).astype(dtype)
    y_ref = _C.adaptive_avg_pool2d_reference(x, out)
    window = (-(-xs[2] // out[0]) + 1) * (-(-xs[3] // out[1]) + 1)
    bound = 2 * window * EPS[dtype] * _C.adaptive_avg_pool2d_reference(np.abs(x), out)
    _assert_within(_fast(device, "adaptive_avg_pool2d", x, out), y_ref, bound,
                   "adaptive_avg_pool2d")
    if dtype == np.float64:
        g = rng.standard_normal(y_ref.shape)
        back = _fast(device, "adaptive_avg_pool2d_backward", g, list(xs))
        lhs = np.vdot(y_ref, g)
        assert abs(lhs - np.vdot(x, back)) <= 1e-12 * np.abs(x).sum() * np.abs(g).max()


# ---------------------------------------------------------------------------- recurrent
def _rnn_inputs(kind: str, dtype, steps=5, batch=3, hidden=7, seed=11):
    gates = {"lstm": 4, "gru": 3, "rnn": 1}[kind]
    rng = _rng(seed)
    x = rng.standard_normal((steps, batch, gates * hidden)).astype(dtype)
    w = (rng.standard_normal((gates * hidden, hidden)) / np.sqrt(hidden)).astype(dtype)
    b = rng.standard_normal(gates * hidden).astype(dtype)
    h0 = rng.standard_normal((batch, hidden)).astype(dtype)
    c0 = rng.standard_normal((batch, hidden)).astype(dtype)
    return x, w, b, h0, c0


def _rnn_forward(kind, x, w, b, h0, c0, reverse, relu=False, reference=True):
    suffix = "_reference" if reference else ""
    if kind == "lstm":
        return getattr(_C, "lstm_forward" + suffix)(x, w, b, h0, c0, reverse)
    if kind == "gru":
        return getattr(_C, "gru_forward" + suffix)(x, w, b, h0, reverse)
    return (getattr(_C, "rnn_forward" + suffix)(x, w, b, h0, reverse, relu),)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn", "rnn_relu"])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_recurrent_forward_matches_reference(dtype, kind, reverse, bias):
    relu = kind == "rnn_relu"
    kind = "rnn" if relu else kind
    x, w, b, h0, c0 = _rnn_inputs(kind, dtype, steps=6, batch=4, hidden=33)
    b = b if bias else None
    want = _rnn_forward(kind, x, w, b, h0, c0, reverse, relu)
    got = _rnn_forward(kind, x, w, b, h0, c0, reverse, relu, reference=False)
    # per step a sum of H products and a few pointwise ops (gamma_(H+8)); the error carried
    # from earlier steps is not amplified: |tanh'|, |sigmoid'| <= 1 and W is scaled by
    # 1/sqrt(H) (measured: about 5 eps, against this bound's 4 (H + 8) eps)
    bound = 4 * (w.shape[1] + 8) * EPS[dtype]
    for name, g, r in zip(["hs", "cs or gates", "gates"], got, want):
        _assert_within(g, r, bound * np.maximum(1, np.abs(r)), f"{kind} {name}")


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("reverse", [False, True])
def test_recurrent_backward_matches_differences_of_reference(kind, reverse):
    """<grad, direction> of the fast backward vs central differences of the reference
    forward of the loss sum(hs * dhs) + sum(h_n * dh_n) (+ sum(c_n * dc_n)), in float64."""
    x, w, b, h0, c0 = _rnn_inputs(kind, np.float64, steps=4, batch=2, hidden=5)
    rng = _rng(12)
    last = 0 if reverse else -1  # the final state is the last step processed
    outs = _rnn_forward(kind, x, w, b, h0, c0, reverse, reference=False)
    dhs = rng.standard_normal(outs[0].shape)
    dh_n = rng.standard_normal(h0.shape)
    dc_n = rng.standard_normal(c0.shape)

    def loss(x, w, b, h0, c0):
        o = _rnn_forward(kind, x, w, b, h0, c0, reverse)
        val = np.vdot(o[0], dhs) + np.vdot(o[0][last], dh_n)
        return val + (np.vdot(o[1][last], dc_n) if kind == "lstm" else 0.0)

    if kind == "lstm":
        hs, cs, gates = outs
        dx, dw, db, dh0, dc0 = _C.lstm_backward(dhs, dh_n, dc_n, hs, cs, gates, h0, c0, w,
                                                reverse)
        grads = [dx, dw, db, dh0, dc0]
    elif kind == "gru":
        hs, gates = outs
        dx, dw, db, dh0 = _C.gru_backward(dhs, dh_n, hs, gates, h0, w, reverse)
        grads = [dx, dw, db, dh0, np.zeros_like(c0)]
    else:
        (hs,) = outs
        dx, dw, db, dh0 = _C.rnn_backward(dhs, dh_n, hs, h0, w, reverse)
        grads = [dx, dw, db, dh0, np.zeros_like(c0)]
    params = [x, w, b, h0, c0]
    directions = [rng.standard_normal(p.shape) for p in params]
    step = 1e-6
    plus = loss(*[p + step * d for p, d in zip(params, directions)])
    minus = loss(*[p - step * d for p, d in zip(params, directions)])
    numeric = (plus - minus) / (2 * step)
    analytic = sum(np.vdot(g, d) for g, d in zip(grads, directions))
    assert abs(numeric - analytic) <= 1e-6 * max(1.0, abs(analytic)), (numeric, analytic)
