"""Every op, layer, loss and optimizer on each accelerator device, against the CPU.

Each case builds seeded inputs, runs forward and backward on the CPU, then runs the same
thing on the device: the outputs, the inputs' gradients and (for layers) the parameters'
gradients must agree to float32 rounding (float64 cases: to ~1e-10). Modules are built
twice from the same seed, one copy moved with ``Module.to(device)``, so this also checks
that moving a model moves every parameter and buffer. Optimizers take several steps on
both devices from the same start and must end at the same parameters.

Without a GPU every test here skips. ``EMBER_PARITY_SELFTEST=1`` runs the whole table with
the CPU standing in for the device: a check of the cases themselves (on one device the
comparisons are trivially equal), for working on this file on a machine with no GPU.
"""

from __future__ import annotations

import os

import ember
import ember.nn as nn
import ember.nn.functional as F
import numpy as np
import pytest

DEVICES = (["cuda"] if ember.cuda.is_available() else []) + \
    (["cpu"] if os.environ.get("EMBER_PARITY_SELFTEST") == "1" else [])
if not DEVICES:
    pytest.skip("no accelerator device (ember.cuda.is_available() is False)",
                allow_module_level=True)

DTYPES = {"float32": (np.float32, 1e-4), "float64": (np.float64, 1e-10)}


# ------------------------------------------------------------------------------ harness
def _arr(shape, seed, dtype, low=-2.0, high=2.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape).astype(dtype)


def _close(name: str, got: np.ndarray, want: np.ndarray, tol: float) -> None:
    """|got - want| <= tol * (1 + max |want|), elementwise; NaN/inf must match too."""
    assert got.shape == want.shape, f"{name}: shape {got.shape} != {want.shape}"
    scale = tol * (1.0 + (float(np.max(np.abs(want[np.isfinite(want)]))) if
                          np.isfinite(want).any() else 0.0))
    np.testing.assert_allclose(got, want, rtol=0, atol=scale, err_msg=name, equal_nan=True)


def _run(fn, arrays, device, dtype):
    """fn on tensors holding ``arrays`` (float ones require grad) on ``device``; backward of
    sum(out * w) with a fixed w per output. Returns the outputs' and inputs' gradients."""
    inputs = [ember.tensor(a, device=device, requires_grad=a.dtype.kind == "f")
              if isinstance(a, np.ndarray) else a for a in arrays]
    out = fn(*inputs)
    outs = [o for o in (out if isinstance(out, (tuple, list)) else (out,))
            if isinstance(o, ember.Tensor)]
    total = None
    for i, o in enumerate(outs):
        if o.requires_grad:
            w = ember.tensor(_arr(o.shape, 100 + i, dtype), device=device)
            term = (o * w).sum()
            total = term if total is None else total + term
    if total is not None:
        total.backward()
    values = [o.detach().cpu().numpy() for o in outs]
    grads = [t.grad.cpu().numpy() if isinstance(t, ember.Tensor) and t.grad is not None
             else None for t in inputs]
    return values, grads


def check_fn(fn, arrays, device, dtype, tol):
    want_v, want_g = _run(fn, arrays, "cpu", dtype)
    got_v, got_g = _run(fn, arrays, device, dtype)
    for i, (g, w) in enumerate(zip(got_v, want_v)):
        _close(f"output {i}", g, w, tol)
    for i, (g, w) in enumerate(zip(got_g, want_g)):
        assert (g is None) == (w is None), f"input {i}: gradient on one device only"
        if w is not None:
            _close(f"grad of input {i}", g, w, tol)


# ------------------------------------------------------------------------------ ops
def _pos(shape, seed):  # strictly positive inputs (log, sqrt, pow bases)
    return lambda dt: _arr(shape, seed, dt, 0.5, 3.0)


def _r(shape, seed, low=-2.0, high=2.0):
    return lambda dt: _arr(shape, seed, dt, low, high)


def _idx(values):
    return lambda dt: np.asarray(values, dtype=np.int64)


OPS = {
    # elementwise
    "neg": (ember.neg, [_r((3, 4), 1)]),
    "exp": (ember.exp, [_r((3, 4), 2)]),
    "log": (ember.log, [_pos((3, 4), 3)]),
    "log1p": (ember.log1p, [_pos((3, 4), 4)]),
    "sqrt": (ember.sqrt, [_pos((3, 4), 5)]),
    "rsqrt": (ember.rsqrt, [_pos((3, 4), 6)]),
    "abs": (ember.abs, [_r((3, 4), 7)]),
    "sin_cos": (lambda x: ember.sin(x) * ember.cos(x), [_r((3, 4), 8)]),
    "tanh": (ember.tanh, [_r((3, 4), 9)]),
    "sigmoid": (ember.sigmoid, [_r((3, 4), 10, -20, 20)]),
    "erf": (ember.erf, [_r((3, 4), 11)]),
    "square_reciprocal": (lambda x: ember.square(x) + ember.reciprocal(x), [_pos((3, 4), 12)]),
    "pow": (ember.pow, [_pos((3, 4), 13), _r((3, 4), 14)]),
    "clamp": (lambda x: ember.clamp(x, -0.5, 0.7), [_r((3, 4), 15)]),
    "add_sub_broadcast": (lambda a, b: a + b - a * 0.5, [_r((3, 1, 4), 16), _r((2, 4), 17)]),
    "mul_div_broadcast": (lambda a, b: a * b / (b * b + 1), [_r((2, 3), 18), _r((3,), 19)]),
    "maximum_minimum": (lambda a, b: ember.maximum(a, b) + ember.minimum(a, b) * 2,
                        [_r((4, 5), 20), _r((4, 5), 21)]),
    "where": (lambda a, b: ember.where(a > b, a, b * 3), [_r((4, 5), 22), _r((5,), 23)]),
    # activations
    "relu": (ember.relu, [_r((4, 5), 24)]),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), [_r((4, 5), 25)]),
    "gelu": (F.gelu, [_r((4, 5), 26, -4, 4)]),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), [_r((4, 5), 27, -4, 4)]),
    "silu": (F.silu, [_r((4, 5), 28)]),
    "elu": (F.elu, [_r((4, 5), 29)]),
    "softplus": (lambda x: F.softplus(x, beta=2.0), [_r((4, 5), 30, -15, 15)]),
    "softmax": (lambda x: F.softmax(x, -1), [_r((3, 7), 31, -30, 30)]),
    "log_softmax": (lambda x: F.log_softmax(x, 0), [_r((3, 7), 32, -30, 30)]),
    # reductions
    "sum_mean": (lambda x: x.sum(1) + x.mean((0, 2), keepdim=True).sum(), [_r((3, 4, 5), 33)]),
    "var_std": (lambda x: x.var(0) + x.std(-1, correction=0).sum(), [_r((4, 6), 34)]),
    "max_min_dim": (lambda x: x.max(1)[0] + x.min(0)[0].sum(), [_r((5, 6), 35)]),
    "amax_amin": (lambda x: ember.amax(x, (0, 1)) - ember.amin(x, 1).sum(), [_r((3, 4, 2), 36)]),
    "logsumexp": (lambda x: ember.logsumexp(x, 1), [_r((3, 8), 37, -50, 50)]),
    "norm": (lambda x: ember.norm(x), [_r((3, 4), 38)]),
    "long_sum": (lambda x: x.sum(), [_r((70_000,), 39)]),  # the GPU's multi-block reduction
    # shape and indexing
    "reshape_permute": (lambda x: x.reshape(4, 6).permute(1, 0) * 2, [_r((2, 3, 4), 40)]),
    "transpose_expand": (lambda x: x.transpose(0, 1).expand(2, 4, 3), [_r((3, 4), 41)]),
    "cat_stack_split": (lambda a, b: ember.cat([a, ember.stack([b, b], 0)[0]], 1).split(2, 1),
                        [_r((3, 2), 42), _r((3, 3), 43)]),
    "pad": (lambda x: F.pad(x, (1, 2, 0, 1), value=0.5), [_r((2, 3, 4), 44)]),
    "getitem_slices": (lambda x: x[1:, ::2, -1], [_r((4, 5, 3), 45)]),
    "getitem_advanced": (lambda x, i: x[i, 1:], [_r((5, 4), 46), _idx([4, 0, 0, 2])]),
    "gather": (lambda x, i: ember.gather(x, 1, i),
               [_r((3, 4), 47), _idx([[0, 3], [1, 1], [2, 0]])]),
    "index_select": (lambda x, i: ember.index_select(x, 0, i), [_r((4, 3), 48), _idx([3, 1, 3])]),
    "scatter_add": (lambda x, i, s: ember.scatter_add(x, 0, i, s),
                    [_r((3, 4), 49), _idx([[0, 1, 2, 0], [2, 2, 1, 0]]), _r((2, 4), 50)]),
    "masked_fill": (lambda x: ember.masked_fill(x, x > 0.5, -1.0), [_r((4, 4), 51)]),
    # linear algebra
    "matmul_2d": (ember.matmul, [_r((33, 17), 52), _r((17, 29), 53)]),
    "matmul_batched_broadcast": (ember.matmul, [_r((2, 3, 5, 4), 54), _r((4, 6), 55)]),
    "matmul_vector": (ember.matmul, [_r((5, 4), 56), _r((4,), 57)]),
    "linear": (F.linear, [_r((2, 3, 8), 58), _r((5, 8), 59), _r((5,), 60)]),
    # convolution and pooling
    "conv1d": (lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1),
               [_r((2, 3, 11), 61), _r((4, 3, 3), 62), _r((4,), 63)]),
    "conv2d": (lambda x, w, b: F.conv2d(x, w, b, stride=1, padding=1),
               [_r((2, 3, 7, 6), 64), _r((5, 3, 3, 3), 65), _r((5,), 66)]),
    "conv2d_strided_dilated_grouped": (
        lambda x, w: F.conv2d(x, w, None, stride=2, padding=2, dilation=2, groups=2),
        [_r((2, 4, 9, 8), 67), _r((6, 2, 3, 3), 68)]),
    "conv2d_same": (lambda x, w: F.conv2d(x, w, padding="same"),
                    [_r((1, 2, 6, 6), 69), _r((3, 2, 4, 4), 70)]),
    "conv_transpose2d": (lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1,
                                                             output_padding=1),
                         [_r((2, 3, 4, 5), 71), _r((3, 2, 3, 3), 72), _r((2,), 73)]),
    "max_pool2d": (lambda x: F.max_pool2d(x, 2), [_r((2, 3, 6, 6), 74)]),
    "max_pool2d_padded_ceil": (lambda x: F.max_pool2d(x, 3, 2, padding=1, ceil_mode=True),
                               [_r((1, 2, 7, 7), 75)]),
    "avg_pool2d": (lambda x: F.avg_pool2d(x, 3, 2, padding=1), [_r((2, 2, 7, 6), 76)]),
    "max_avg_pool1d": (lambda x: F.max_pool1d(x, 2) + F.avg_pool1d(x, 2), [_r((2, 3, 8), 77)]),
    "adaptive_avg_pool2d": (lambda x: F.adaptive_avg_pool2d(x, (3, 2)), [_r((2, 2, 7, 5), 78)]),
    "interpolate_nearest": (lambda x: F.interpolate(x, scale_factor=2, mode="nearest"),
                            [_r((1, 2, 3, 4), 79)]),
    "interpolate_bilinear": (lambda x: F.interpolate(x, size=(5, 7), mode="bilinear",
                                                     align_corners=False),
                             [_r((1, 2, 3, 4), 80)]),
    # attention (the fused kernels on both devices)
    "sdpa": (F.scaled_dot_product_attention,
             [_r((2, 3, 9, 8), 81), _r((2, 3, 11, 8), 82), _r((2, 3, 11, 8), 83)]),
    "sdpa_causal": (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
                    [_r((2, 2, 70, 16), 84), _r((2, 2, 70, 16), 85), _r((2, 2, 70, 16), 86)]),
    "sdpa_bool_mask": (lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
                       [_r((1, 2, 5, 4), 87), _r((1, 2, 6, 4), 88), _r((1, 2, 6, 4), 89),
                        lambda dt: np.random.default_rng(90).random((5, 6)) > 0.3]),
    "sdpa_float_mask": (lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
                        [_r((1, 2, 5, 4), 91), _r((1, 2, 6, 4), 92), _r((1, 2, 6, 4), 93),
                         lambda dt: _arr((5, 6), 94, dt)]),
    # normalisation
    "layer_norm": (lambda x, w, b: F.layer_norm(x, (6,), w, b),
                   [_r((3, 4, 6), 95), _r((6,), 96), _r((6,), 97)]),
    "group_norm": (lambda x, w, b: F.group_norm(x, 2, w, b),
                   [_r((2, 4, 3, 3), 98), _r((4,), 99), _r((4,), 100)]),
    "batch_norm_train": (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                         [_r((4, 3, 2, 2), 101), _r((3,), 102), _r((3,), 103)]),
    "embedding": (lambda w, i: F.embedding(i, w, padding_idx=0),
                  [_r((6, 4), 104), _idx([[0, 2, 5], [5, 1, 0]])]),
}


# ------------------------------------------------------------------------------ kernel paths
# Cases that steer the CUDA backend into each of its kernel variants (found by running the
# suite on the CUDA emulator with coverage): GEMM's 128x128 tiles in all four operand
# layouts (taken once the tiles fill every SM and the operands allow float4 loads), flash
# attention's D <= 128 kernels, a constant additive mask, strided operands (vectorisable or
# not), Lq != Lk with causal masking, and the integer paths of the elementwise, reduction
# and scatter kernels.
def _sdpa_constant_mask(q, k, v):
    mask = ember.tensor(_arr((q.shape[-2], k.shape[-2]), 7, np.float32), device=q.device)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask.to(q.dtype))


def _sdpa_strided(q, k, v):
    # q, v: (B, L, H, D) storage seen as (B, H, L, D), as MHA produces (rows strided, D
    # contiguous); k: (B, H, D, L) storage, so D itself is strided (element-wise loads)
    return F.scaled_dot_product_attention(q.transpose(1, 2), k.mT, v.transpose(1, 2),
                                          is_causal=True)


KERNEL_PATHS = {
    "matmul_big_tiles_nn": (lambda a, b: a @ b, [_r((40, 132, 20), 1), _r((40, 20, 132), 2)]),
    "matmul_big_tiles_nt": (lambda a, b: a @ b.mT, [_r((40, 132, 20), 3), _r((40, 132, 20), 4)]),
    "matmul_big_tiles_tn": (lambda a, b: a.mT @ b, [_r((40, 20, 132), 5), _r((40, 20, 132), 6)]),
    "matmul_big_tiles_tt": (lambda a, b: a.mT @ b.mT,
                            [_r((40, 20, 132), 7), _r((40, 132, 20), 8)]),
    "sdpa_head_dim_96_value_dim_112": (
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
        [_r((1, 2, 37, 96), 9), _r((1, 2, 37, 96), 10), _r((1, 2, 37, 112), 11)]),
    "sdpa_constant_float_mask": (_sdpa_constant_mask,
                                 [_r((2, 2, 19, 24), 12), _r((2, 2, 23, 24), 13),
                                  _r((2, 2, 23, 24), 14)]),
    "sdpa_strided_operands": (_sdpa_strided, [_r((2, 33, 2, 16), 15), _r((2, 2, 16, 33), 16),
                                              _r((2, 33, 2, 16), 17)]),
    "sdpa_causal_lq_ne_lk": (
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
        [_r((1, 2, 20, 16), 18), _r((1, 2, 37, 16), 19), _r((1, 2, 37, 16), 20)]),
    "int_pow_abs_logical": (
        lambda a, b: ember.stack([a ** b.abs(), ember.abs(a),
                                  ember.logical_xor(a > 0, b > 0).to(ember.int64),
                                  ember.logical_or(a > 1, b < 0).to(ember.int64)]),
        [_idx([3, -2, 5, 0, -1, 7]), _idx([2, 3, 0, -4, 5, 1])]),
    "argmax_argmin_with_nan": (
        lambda x: ember.stack([ember.argmax(x, 1), ember.argmin(x, 1), ember.argmax(x, 0)]),
        [lambda dt: np.array([[1, np.nan, 3], [2, 5, np.nan], [4, 0, 1]], dtype=dt)]),
    # the fused LayerNorm: rows longer than a warp, more rows than one column-sum chunk
    # (partials over chunks), no affine parameters, a non-contiguous input, an empty row
    "layer_norm_wide_many_rows": (lambda x, w, b: F.layer_norm(x, (200,), w, b),
                                  [_r((3, 50, 200), 30, -3, 5), _r((200,), 31), _r((200,), 32)]),
    # a large mean and a small spread: float sums over the row would lose the spread
    "layer_norm_large_offset": (lambda x: F.layer_norm(x, (300,)),
                                [_r((4, 300), 35, 1e3, 1e3 + 1)]),
    "layer_norm_no_affine_strided": (lambda x: F.layer_norm(x.mT, (7,)), [_r((4, 7, 9), 33)]),
    "layer_norm_empty_rows": (lambda x: F.layer_norm(x, (0,)), [_r((3, 0), 34)]),
    # the fused GELU deep in the tail, where 1 + erf(x / sqrt 2) would cancel to 0
    "gelu_tail": (F.gelu, [lambda dt: np.linspace(-12, 6, 37).astype(dt)]),
    "gelu_tanh_tail": (lambda x: F.gelu(x, approximate="tanh"),
                       [lambda dt: np.linspace(-12, 6, 37).astype(dt)]),
    "relu_backward_at_zero": (ember.relu, [lambda dt: np.array([-1.0, 0.0, 2.0, -0.0], dt)]),
    "scatter_add_int64": (lambda x, i, s: ember.scatter_add(x, 0, i, s),
                          [_idx([0, 0, 0, 0]), _idx([0, 0, 3, 3, 3]), _idx([5, 6, 7, -1, 2])]),
}


assert not OPS.keys() & KERNEL_PATHS.keys()
OPS.update(KERNEL_PATHS)  # test_op_matches_cpu runs them all


@pytest.mark.parametrize("dtype", sorted(DTYPES))
@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("device", DEVICES)
def test_op_matches_cpu(device, name, dtype):
    np_dtype, tol = DTYPES[dtype]
    fn, makers = OPS[name]
    check_fn(fn, [m(np_dtype) for m in makers], device, np_dtype, tol)


@pytest.fixture
def tf32():
    """float32 matmuls may use TF32 tensor cores during the test."""
    ember.set_float32_matmul_precision("high")
    yield
    ember.set_float32_matmul_precision("highest")


@pytest.mark.parametrize("layout", ["nn", "nt", "tn", "tt", "strided"])
@pytest.mark.parametrize("device", DEVICES)
def test_tf32_matmul_is_close_to_the_float64_product(device, layout, tf32):
    # TF32 keeps 10 mantissa bits per input: relative errors ~1e-3, float32 accumulation.
    # 70 x 150 outputs: ragged 128-tiles; K = 44: five 8-slices, the last one partial.
    a = _arr((3, 70, 44), 1, np.float32)
    b = _arr((3, 44, 150), 2, np.float32)
    ops = {"nn": (a, b, lambda x, y: x @ y),
           "nt": (a, b.swapaxes(1, 2).copy(), lambda x, y: x @ y.mT),
           "tn": (a.swapaxes(1, 2).copy(), b, lambda x, y: x.mT @ y),
           "tt": (a.swapaxes(1, 2).copy(), b.swapaxes(1, 2).copy(), lambda x, y: x.mT @ y.mT),
           "strided": (np.repeat(a, 2, axis=2), b, lambda x, y: x[:, :, ::2] @ y)}
    x, y, fn = ops[layout]
    got = fn(ember.tensor(x, device=device), ember.tensor(y, device=device)).cpu().numpy()
    want = a.astype(np.float64) @ b.astype(np.float64)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=0, atol=4e-3 * np.abs(want).max())


@pytest.mark.parametrize("dtype", [ember.float32, ember.float64])
@pytest.mark.parametrize("device", DEVICES)
def test_random_numbers_on_device_have_their_distributions(device, dtype):
    ember.manual_seed(5)
    u = ember.rand(20_001, dtype=dtype, device=device).cpu().numpy()
    z = ember.randn(20_001, dtype=dtype, device=device).cpu().numpy()
    assert u.dtype == z.dtype == np.dtype(dtype.name)
    assert 0.0 <= u.min() and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.01 and abs(u.var() - 1 / 12) < 0.005
    assert np.isfinite(z).all() and abs(z.mean()) < 0.03 and abs(z.std() - 1.0) < 0.03
    assert abs(np.mean(np.abs(z) < 1.0) - 0.6827) < 0.01  # the normal's shape, not just moments


# ------------------------------------------------------------------------------ losses
def _probs(shape, seed):
    return lambda dt: _arr(shape, seed, dt, 0.02, 0.98)


LOSSES = {
    "mse": (F.mse_loss, [_r((4, 3), 1), _r((4, 3), 2)]),
    "l1": (lambda a, b: F.l1_loss(a, b, reduction="sum"), [_r((4, 3), 3), _r((4, 3), 4)]),
    "huber": (lambda a, b: F.huber_loss(a, b, delta=0.5), [_r((4, 3), 5), _r((4, 3), 6)]),
    "smooth_l1": (lambda a, b: F.smooth_l1_loss(a, b, reduction="none"),
                  [_r((4, 3), 7), _r((4, 3), 8)]),
    "cross_entropy": (F.cross_entropy, [_r((5, 4), 9, -1e4, 1e4), _idx([0, 3, 1, 1, 2])]),
    "cross_entropy_weight_ignore_smooth": (
        lambda x, y, w: F.cross_entropy(x, y, weight=w, ignore_index=2, label_smoothing=0.1),
        [_r((6, 4), 10), _idx([0, 3, 2, 1, 2, 3]), _pos((4,), 11)]),
    "cross_entropy_constant_weight_ignore": (  # the one-node NLL (a weight without grad)
        lambda x, y: F.cross_entropy(x, y, ignore_index=1, weight=ember.tensor(
            [0.5, 2.0, 1.0, 3.0], device=x.device)),
        [_r((6, 4), 24), _idx([0, 1, 3, 2, 1, 3])]),
    "cross_entropy_probabilities": (F.cross_entropy, [_r((3, 5), 12), _probs((3, 5), 13)]),
    "cross_entropy_spatial": (F.cross_entropy,
                              [_r((2, 3, 4, 2), 14), lambda dt: np.random.default_rng(15)
                               .integers(0, 3, (2, 4, 2))]),
    "nll": (lambda x, y: F.nll_loss(F.log_softmax(x, 1), y), [_r((4, 3), 16), _idx([2, 0, 1, 2])]),
    "bce": (F.binary_cross_entropy, [_probs((4, 3), 17), _probs((4, 3), 18)]),
    "bce_with_logits_pos_weight": (
        lambda x, t, pw: F.binary_cross_entropy_with_logits(x, t, pos_weight=pw),
        [_r((4, 3), 19, -1e4, 1e4), _probs((4, 3), 20), _pos((3,), 21)]),
    "kl_div": (lambda x, t: F.kl_div(F.log_softmax(x, 1), t, reduction="batchmean"),
               [_r((3, 4), 22), _probs((3, 4), 23)]),
}


@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("device", DEVICES)
def test_loss_matches_cpu(device, name):
    fn, makers = LOSSES[name]
    check_fn(fn, [m(np.float32) for m in makers], device, np.float32, 1e-4)


# ------------------------------------------------------------------------------ layers
LAYERS = {
    "Linear": (lambda: nn.Linear(8, 5), (3, 8)),
    "MLP": (lambda: nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.GELU(),
                                  nn.Linear(16, 3), nn.LogSoftmax(1)), (4, 6)),
    "Conv1d": (lambda: nn.Conv1d(3, 4, 3, padding=1), (2, 3, 10)),
    "Conv2d_groups": (lambda: nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2), (2, 4, 9, 9)),
    "ConvTranspose2d": (lambda: nn.ConvTranspose2d(3, 2, 3, stride=2), (2, 3, 4, 4)),
    "CNN": (lambda: nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(4, 8, 3), nn.Tanh(), nn.AdaptiveAvgPool2d(1),
                                  nn.Flatten(), nn.Linear(8, 3)), (2, 1, 10, 10)),
    "Pools_Upsample": (lambda: nn.Sequential(nn.AvgPool2d(2), nn.Upsample(scale_factor=2),
                                             nn.MaxPool2d(3, 1, 1)), (1, 2, 6, 6)),
    "BatchNorm1d": (lambda: nn.BatchNorm1d(5), (6, 5)),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(3), (4, 3, 3, 3)),
    "LayerNorm": (lambda: nn.LayerNorm((3, 4)), (2, 3, 4)),
    "GroupNorm": (lambda: nn.GroupNorm(2, 4), (2, 4, 3, 3)),
    "Activations": (lambda: nn.Sequential(nn.LeakyReLU(0.1), nn.ELU(), nn.SiLU(), nn.Softplus(),
                                          nn.Sigmoid(), nn.Softmax(-1)), (3, 5)),
    "RNN_relu_bidirectional": (lambda: nn.RNN(4, 6, num_layers=2, nonlinearity="relu",
                                              bidirectional=True), (5, 2, 4)),
    "LSTM": (lambda: nn.LSTM(4, 6, num_layers=2, batch_first=True), (2, 5, 4)),
    "LSTM_bidirectional": (lambda: nn.LSTM(3, 5, bidirectional=True), (4, 2, 3)),
    "GRU": (lambda: nn.GRU(4, 6, num_layers=2, batch_first=True, bidirectional=True), (2, 5, 4)),
    "MultiheadAttention": (lambda: _SelfAttention(nn.MultiheadAttention(8, 2, batch_first=True)),
                           (2, 5, 8)),
    "TransformerEncoderLayer": (lambda: nn.TransformerEncoderLayer(
        8, 2, 16, dropout=0.0, batch_first=True, norm_first=True, activation="gelu"), (2, 6, 8)),
    "TransformerDecoderLayer": (lambda: _Decoder(nn.TransformerDecoderLayer(
        8, 2, 16, dropout=0.0, batch_first=True)), (2, 6, 8)),
    "Transformer": (lambda: _Seq2Seq(nn.Transformer(8, 2, 1, 1, 16, dropout=0.0,
                                                    batch_first=True)), (2, 5, 8)),
}


class _SelfAttention(nn.Module):
    """MultiheadAttention on (q = k = v = x) with a key padding mask, causal."""

    def __init__(self, mha):
        super().__init__()
        self.mha = mha

    def forward(self, x):
        pad = ember.tensor([[False] * 5, [False] * 3 + [True] * 2], device=x.device)
        mask = nn.Transformer.generate_square_subsequent_mask(5, device=x.device)
        return self.mha(x, x, x, key_padding_mask=pad, attn_mask=mask)[0]


class _Decoder(nn.Module):
    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def forward(self, x):
        return self.layer(x, x[:, :4] * 2, tgt_is_causal=True,
                          tgt_mask=nn.Transformer.generate_square_subsequent_mask(
                              6, device=x.device))


class _Seq2Seq(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x, x[:, :4] * 0.5)


def _module_run(make, shape, device):
    ember.manual_seed(0)
    module = make().to(device)
    x = ember.tensor(_arr(shape, 1, np.float32), device=device, requires_grad=True)
    out = module(x)
    outs = out if isinstance(out, tuple) else (out,)
    outs = [o for o in outs if isinstance(o, ember.Tensor)]
    total = sum((o * ember.tensor(_arr(o.shape, 7 + i, np.float32), device=device)).sum()
                for i, o in enumerate(outs))
    total.backward()
    params = {n: p.grad.cpu().numpy() for n, p in module.named_parameters()}
    buffers = {n: b.cpu().numpy() for n, b in module.named_buffers()}
    return [o.detach().cpu().numpy() for o in outs], x.grad.cpu().numpy(), params, buffers


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("device", DEVICES)
def test_layer_matches_cpu(device, name):
    make, shape = LAYERS[name]
    want = _module_run(make, shape, "cpu")
    got = _module_run(make, shape, device)
    for i, (g, w) in enumerate(zip(got[0], want[0])):
        _close(f"{name} output {i}", g, w, 1e-4)
    _close(f"{name} input grad", got[1], want[1], 1e-4)
    assert got[2].keys() == want[2].keys()
    for key in want[2]:
        _close(f"{name} grad of {key}", got[2][key], want[2][key], 1e-4)
    for key in want[3]:  # running statistics moved with the module and updated on-device
        _close(f"{name} buffer {key}", got[3][key], want[3][key], 1e-4)


@pytest.mark.parametrize("device", DEVICES)
def test_eval_mode_batch_norm_and_dropout_match_cpu(device):
    def run(dev):
        ember.manual_seed(0)
        model = nn.Sequential(nn.BatchNorm1d(4), nn.Dropout(0.5), nn.Linear(4, 2)).to(dev)
        x = ember.tensor(_arr((6, 4), 3, np.float32), device=dev)
        model(x)  # one training step of running statistics
        model.eval()
        return model(x).detach().cpu().numpy()

    _close("eval output", run(device), run("cpu"), 1e-5)


@pytest.mark.parametrize("device", DEVICES)
def test_dropout_on_device_keeps_the_expected_fraction(device):
    ember.manual_seed(0)
    x = ember.ones(200_000, device=device)
    y = F.dropout(x, 0.3, training=True).cpu().numpy()
    kept = np.count_nonzero(y) / y.size
    assert abs(kept - 0.7) < 0.01
    np.testing.assert_allclose(y[y != 0], 1 / 0.7, rtol=1e-6)


# ------------------------------------------------------------------------------ optimizers
OPTIMIZERS = {
    "SGD": lambda p: ember.optim.SGD(p, lr=0.1),
    "SGD_momentum_nesterov_wd": lambda p: ember.optim.SGD(p, lr=0.05, momentum=0.9,
                                                          nesterov=True, weight_decay=1e-2),
    "SGD_dampening": lambda p: ember.optim.SGD(p, lr=0.05, momentum=0.9, dampening=0.3),
    "Adam": lambda p: ember.optim.Adam(p, lr=1e-2),
    "Adam_unfused_wd": lambda p: ember.optim.Adam(p, lr=1e-2, weight_decay=1e-2, fused=False),
    "AdamW_amsgrad": lambda p: ember.optim.AdamW(p, lr=1e-2, amsgrad=True),
    "RMSprop_centered_momentum": lambda p: ember.optim.RMSprop(p, lr=1e-2, momentum=0.9,
                                                               centered=True),
    "Adagrad": lambda p: ember.optim.Adagrad(p, lr=0.1, lr_decay=0.01),
}


def _train(make_opt, device, steps=5):
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3)).to(device)
    opt = make_opt(model.parameters())
    sched = ember.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    x = ember.tensor(_arr((16, 5), 2, np.float32), device=device)
    y = ember.tensor(np.random.default_rng(3).integers(0, 3, 16), device=device)
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        ember.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
    return {n: p.detach().cpu().numpy() for n, p in model.named_parameters()}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("device", DEVICES)
def test_optimizer_steps_match_cpu(device, name):
    want = _train(OPTIMIZERS[name], "cpu")
    got = _train(OPTIMIZERS[name], device)
    for key in want:
        _close(f"{name}: {key}", got[key], want[key], 1e-4)


@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("device", DEVICES)
def test_fused_adam_on_device_matches_cpu(device, dtype, amsgrad):
    # 1001 elements: the kernel's float4/double2 body and its scalar tail
    rng = np.random.default_rng(6)
    p0 = rng.normal(size=1001).astype(dtype)
    grads = rng.normal(size=(4, 1001)).astype(dtype)

    def run(dev):
        p = ember.tensor(p0, device=dev, requires_grad=True)
        opt = ember.optim.AdamW([p], lr=0.01, weight_decay=0.1, amsgrad=amsgrad, fused=True)
        for g in grads:
            p.grad = ember.tensor(g, device=dev)
            opt.step()
        return p.detach().cpu().numpy()

    _close("fused AdamW", run(device), run("cpu"), DTYPES[np.dtype(dtype).name][1])


@pytest.mark.parametrize("device", DEVICES)
def test_fused_adam_on_device_matches_the_update_rule(device):
    # one fused step against the formula, for both Adam (L2) and AdamW (decoupled decay)
    rng = np.random.default_rng(4)
    p0, g = rng.normal(size=1000).astype(np.float32), rng.normal(size=1000).astype(np.float32)
    for cls, decoupled in ((ember.optim.Adam, False), (ember.optim.AdamW, True)):
        p = ember.tensor(p0, device=device, requires_grad=True)
        opt = cls([p], lr=0.01, weight_decay=0.1, fused=True)
        p.grad = ember.tensor(g, device=device)
        opt.step()
        gg = g + (0 if decoupled else 0.1 * p0)
        m, v = 0.1 * gg, 0.001 * gg * gg
        base = p0 * (1 - 0.01 * 0.1) if decoupled else p0
        want = base - 0.01 / 0.1 * m / (np.sqrt(v) / np.sqrt(0.001) + 1e-8)
        _close(cls.__name__, p.detach().cpu().numpy(), want, 1e-5)
