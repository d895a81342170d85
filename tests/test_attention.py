"""Scaled-dot-product attention: the fused native kernel (every ISA this CPU runs) against
the materialising reference and a NumPy softmax-attention, its backward against autograd
through the composite path and gradcheck, PyTorch parity, and bad inputs."""

import ember
import numpy as np
import pytest
from ember import _C
from ember.autograd import gradcheck
from ember.ops import attention_reference, scaled_dot_product_attention
from op_table import np_attention

F = ember.nn.functional
KERNELS = _C.attention_kernels()


def qkv(shape_q, lk, dv, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    *lead, lq, d = shape_q
    q = rng.standard_normal((*lead, lq, d)).astype(dtype)
    k = rng.standard_normal((*lead, lk, d)).astype(dtype)
    v = rng.standard_normal((*lead, lk, dv)).astype(dtype)
    return q, k, v


def make_mask(kind, b, h, lq, lk, dtype, seed=1):
    rng = np.random.default_rng(seed)
    if kind is None:
        return None
    if kind == "bool":
        return rng.random((b, h, lq, lk)) > 0.3
    if kind == "bool_bcast":  # (Lq, Lk), broadcast over batch and heads
        return rng.random((lq, lk)) > 0.3
    if kind == "float":
        return rng.standard_normal((b, 1, lq, lk)).astype(dtype)
    if kind == "float_row":  # (B, 1, 1, Lk): a key-padding style mask, -inf on padding
        m = np.zeros((b, 1, 1, lk), dtype)
        m[..., lk // 2 + 1:] = -np.inf
        return m
    raise AssertionError(kind)


SHAPES = [  # (B, H, Lq, Lk, D, Dv)
    (1, 1, 1, 1, 4, 4),          # L = 1
    (2, 3, 7, 5, 8, 8),          # Lq > Lk, tiny
    (1, 2, 70, 130, 16, 24),     # Lq != Lk, D != Dv, L not a multiple of the blocks
    (2, 2, 129, 257, 64, 32),    # crosses query- and key-block edges
    (1, 1, 5, 300, 7, 3),        # odd head sizes (edge micro-tiles)
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("mask", [None, "bool", "bool_bcast", "float", "float_row"])
def test_forward_matches_reference_and_numpy(dtype, shape, causal, mask):
    b, h, lq, lk, d, dv = shape
    q, k, v = qkv((b, h, lq, d), lk, dv, dtype)
    m = make_mask(mask, b, h, lq, lk, dtype)
    expected = np_attention(q, k, v, m, causal)
    ref_out, ref_lse = _C.attention_reference(q, k, v, m, causal, None)
    tol = 2e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(ref_out, expected, rtol=tol, atol=tol)
    for kernel in KERNELS:
        out, lse = _C.attention_forward(q, k, v, m, causal, None, kernel=kernel)
        assert out.dtype == dtype and out.shape == (b, h, lq, dv) and lse.shape == (b, h, lq)
        np.testing.assert_allclose(out, expected, rtol=tol, atol=tol, err_msg=kernel)
        np.testing.assert_allclose(lse, ref_lse, rtol=tol, atol=tol, err_msg=kernel)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES[1:4])
@pytest.mark.parametrize("causal,mask", [(False, None), (True, None), (False, "bool"),
                                         (True, "float"), (False, "float_row")])
def test_backward_matches_reference(dtype, shape, causal, mask):
    b, h, lq, lk, d, dv = shape
    q, k, v = qkv((b, h, lq, d), lk, dv, dtype)
    m = make_mask(mask, b, h, lq, lk, dtype)
    dout = np.random.default_rng(3).standard_normal((b, h, lq, dv)).astype(dtype)
    out, lse = _C.attention_reference(q, k, v, m, causal, None)
    expected = _C.attention_reference_backward(dout, q, k, v, out, lse, m, causal, None)
    tol = 1e-4 if dtype == np.float32 else 1e-11
    for kernel in KERNELS:
        out, lse = _C.attention_forward(q, k, v, m, causal, None, kernel=kernel)
        got = _C.attention_backward(dout, q, k, v, out, lse, m, causal, None, kernel=kernel)
        for g, e, name in zip(got, expected, ("dq", "dk", "dv")):
            np.testing.assert_allclose(g, e, rtol=tol, atol=tol, err_msg=f"{kernel} {name}")


def test_backward_with_few_heads_splits_key_blocks():
    # B * H = 1 < 4 * threads: the per-thread dq accumulators path, several key blocks.
    q, k, v = qkv((1, 1, 150, 16), 400, 16)
    dout = np.random.default_rng(5).standard_normal((1, 1, 150, 16))
    for causal in (False, True):
        out, lse = _C.attention_forward(q, k, v, None, causal, None)
        got = _C.attention_backward(dout, q, k, v, out, lse, None, causal, None)
        ref = _C.attention_reference_backward(dout, q, k, v, out, lse, None, causal, None)
        for g, e in zip(got, ref):
            np.testing.assert_allclose(g, e, rtol=1e-11, atol=1e-11)


def leaves(*arrays):
    return [ember.tensor(a, requires_grad=True) for a in arrays]


@pytest.mark.parametrize("causal,mask", [(False, None), (True, None), (False, "bool"),
                                         (True, "float"), (False, "bool_bcast")])
def test_op_gradients_match_composite_autograd(causal, mask):
    q, k, v = qkv((2, 3, 19, 8), 23, 6)
    m = make_mask(mask, 2, 3, 19, 23, np.float64)
    mt = None if m is None else ember.tensor(m)
    w = np.random.default_rng(4).standard_normal((2, 3, 19, 6))
    grads = []
    for fn in (scaled_dot_product_attention, attention_reference):
        ts = leaves(q, k, v)
        out = fn(*ts, attn_mask=mt, is_causal=causal)
        (out * ember.tensor(w)).sum().backward()
        grads.append([t.grad.numpy() for t in ts])
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("causal,mask", [(False, None), (True, None), (False, "bool"),
                                         (True, "float"), (False, "float_row")])
def test_gradcheck(causal, mask):
    q, k, v = qkv((1, 2, 5, 3), 6, 4)
    m = make_mask(mask, 1, 2, 5, 6, np.float64)
    mt = None if m is None else ember.tensor(m)
    assert gradcheck(lambda a, b, c: scaled_dot_product_attention(a, b, c, attn_mask=mt,
                                                                   is_causal=causal),
                     tuple(leaves(q, k, v)))


def test_fully_masked_rows_give_zero_output_and_zero_gradient():
    q, k, v = qkv((1, 2, 6, 4), 5, 3)
    m = np.ones((6, 5), bool)
    m[2] = False  # query row 2 may attend nothing
    fm = np.where(m, 0.0, -np.inf)
    for mask in (ember.tensor(m), ember.tensor(fm)):
        for fn in (scaled_dot_product_attention, attention_reference):
            ts = leaves(q, k, v)
            out = fn(*ts, attn_mask=mask)
            assert np.all(out.detach().numpy()[:, :, 2] == 0)
            assert np.isfinite(out.detach().numpy()).all()
            out.sum().backward()
            assert np.all(ts[0].grad.numpy()[:, :, 2] == 0)
            for t in ts:
                assert np.isfinite(t.grad.numpy()).all()
    # An empty key sequence: every row fully masked.
    out, lse = _C.attention_forward(q, k[:, :, :0], v[:, :, :0], None, False, None)
    assert np.all(out == 0) and np.all(np.isneginf(lse))


def test_leading_dims_3d_and_5d_and_scale():
    q, k, v = qkv((3, 7, 8), 9, 5)  # (N, L, E): one batch dim
    m = np.random.default_rng(2).random((7, 9)) > 0.2
    out = scaled_dot_product_attention(*(ember.tensor(a) for a in (q, k, v)),
                                       attn_mask=ember.tensor(m), scale=0.3)
    np.testing.assert_allclose(out.numpy(), np_attention(q, k, v, m, scale=0.3), atol=1e-12)
    q, k, v = qkv((2, 2, 3, 7, 8), 9, 5)  # three batch dims, a mask over all of them
    m = np.random.default_rng(2).standard_normal((2, 1, 3, 7, 9))
    out = scaled_dot_product_attention(*(ember.tensor(a) for a in (q, k, v)),
                                       attn_mask=ember.tensor(m), is_causal=True)
    np.testing.assert_allclose(out.numpy(), np_attention(q, k, v, m, causal=True), atol=1e-12)
    q2, k2, v2 = q[0, 0, 0], k[0, 0, 0], v[0, 0, 0]  # 2-d: no batch at all
    out = scaled_dot_product_attention(*(ember.tensor(a) for a in (q2, k2, v2)))
    np.testing.assert_allclose(out.numpy(), np_attention(q2, k2, v2), atol=1e-12)


def test_noncontiguous_inputs_and_float32_op():
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((2, 6, 3, 8)).astype(np.float32) for _ in range(3))
    # (B, L, H, E) arrays viewed as (B, H, L, E): non-contiguous inputs
    ts = [ember.tensor(a).transpose(1, 2) for a in (q, k, v)]
    out = F.scaled_dot_product_attention(*ts, is_causal=True)
    assert out.dtype is ember.float32
    expected = np_attention(*(np.swapaxes(a, 1, 2) for a in (q, k, v)), causal=True)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_dropout_uses_composite_path_and_is_unbiased():
    q, k, v = qkv((1, 1, 4, 4), 4, 4)
    t = [ember.tensor(a) for a in (q, k, v)]
    outs = np.stack([scaled_dot_product_attention(*t, dropout_p=0.5).numpy()
                     for _ in range(400)])
    assert not np.allclose(outs[0], outs[1])  # dropout happened
    np.testing.assert_allclose(outs.mean(0), np_attention(q, k, v), atol=0.2)
    zero = scaled_dot_product_attention(*t, dropout_p=1.0).numpy()
    assert np.all(zero == 0)


def test_float_mask_requiring_grad_gets_a_gradient():
    q, k, v = qkv((1, 1, 3, 2), 4, 2)
    m = ember.zeros(3, 4, dtype=ember.float64, requires_grad=True)
    scaled_dot_product_attention(*leaves(q, k, v), attn_mask=m).sum().backward()
    assert m.grad is not None and m.grad.shape == (3, 4)


def test_gqa():
    q, _, _ = qkv((1, 4, 5, 8), 6, 8)
    _, k, v = qkv((1, 2, 5, 8), 6, 8, seed=1)
    out = scaled_dot_product_attention(*(ember.tensor(a) for a in (q, k, v)), enable_gqa=True)
    k4, v4 = np.repeat(k, 2, axis=1), np.repeat(v, 2, axis=1)
    np.testing.assert_allclose(out.numpy(), np_attention(q, k4, v4), atol=1e-12)


def test_double_backward_is_a_clear_error():
    ts = leaves(*qkv((1, 1, 3, 2), 3, 2))
    out = scaled_dot_product_attention(*ts)
    (gq,) = ember.autograd.grad((out * out).sum(), ts[0], create_graph=True)  # first: fine
    with pytest.raises(RuntimeError, match="first derivatives only.*attention_reference"):
        gq.sum().backward()


# ---------------------------------------------------------------------------- bad input
def test_bad_inputs_name_the_op_shapes_and_dtypes():
    t = ember.randn
    q, k, v = t(2, 3, 4, 8), t(2, 3, 5, 8), t(2, 3, 5, 6)
    with pytest.raises(ValueError, match=r"scaled_dot_product_attention.*embedding size"):
        scaled_dot_product_attention(q, t(2, 3, 5, 7), v)
    with pytest.raises(ValueError, match=r"scaled_dot_product_attention.*sequence length"):
        scaled_dot_product_attention(q, k, t(2, 3, 6, 6))
    with pytest.raises(ValueError, match=r"batch dimensions"):
        scaled_dot_product_attention(q, t(2, 2, 5, 8), t(2, 2, 5, 6))
    with pytest.raises(ValueError, match=r"attn_mask of shape \(3, 5\) is not broadcastable"):
        scaled_dot_product_attention(q, k, v, attn_mask=ember.ones(3, 5, dtype=ember.bool))
    with pytest.raises(TypeError, match=r"share one floating dtype.*float64"):
        scaled_dot_product_attention(q, k.double(), v)
    with pytest.raises(TypeError, match=r"attn_mask must be bool"):
        scaled_dot_product_attention(q, k, v, attn_mask=ember.zeros(4, 5, dtype=ember.int64))
    with pytest.raises(TypeError, match="floating"):
        scaled_dot_product_attention(q.long(), k.long(), v.long())
    with pytest.raises(ValueError, match="dropout_p"):
        scaled_dot_product_attention(q, k, v, dropout_p=1.5)


def test_native_binding_checks_its_arguments():
    q, k, v = qkv((1, 2, 4, 8), 5, 6, np.float32)
    with pytest.raises(ValueError, match=r"scaled_dot_product_attention.*\(1, 2, 4, 8\)"):
        _C.attention_forward(q, k[..., :7], v)
    with pytest.raises(ValueError, match="4-d"):
        _C.attention_forward(q[0], k[0], v[0])
    with pytest.raises(TypeError, match="float32"):
        _C.attention_forward(q, k.astype(np.float64), v)
    with pytest.raises(ValueError, match="not broadcastable"):
        _C.attention_forward(q, k, v, np.ones((3, 5), bool))
    with pytest.raises(TypeError, match="attn_mask must be bool"):
        _C.attention_forward(q, k, v, np.ones((4, 5), np.float64))
    out, lse = _C.attention_forward(q, k, v)
    with pytest.raises(ValueError, match="lse must have shape"):
        _C.attention_backward(out, q, k, v, out, lse[..., :2])


# ---------------------------------------------------------------------------- PyTorch
@pytest.mark.parametrize("causal,mask", [(False, None), (True, None), (False, "bool"),
                                         (False, "float"), (False, "bool_bcast")])
def test_matches_pytorch(causal, mask):
    torch = pytest.importorskip("torch")
    q, k, v = qkv((2, 3, 33, 16), 40 if not causal else 33, 12, np.float32)
    lk = k.shape[-2]
    m = make_mask(mask, 2, 3, 33, lk, np.float32)
    if m is not None and m.dtype == bool:
        m[..., 0] = True  # no fully masked rows: PyTorch gives NaN there, ember 0
    dout = np.random.default_rng(7).standard_normal((2, 3, 33, 12)).astype(np.float32)
    tt = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    tout = torch.nn.functional.scaled_dot_product_attention(
        *tt, attn_mask=None if m is None else torch.tensor(m), is_causal=causal)
    tout.backward(torch.tensor(dout))
    et = leaves(q, k, v)
    eout = F.scaled_dot_product_attention(*et, attn_mask=None if m is None else ember.tensor(m),
                                          is_causal=causal)
    eout.backward(ember.tensor(dout))
    np.testing.assert_allclose(eout.detach().numpy(), tout.detach().numpy(), atol=2e-5)
    for a, b in zip(et, tt):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=1e-4)


# ---------------------------------------------------------------------------- NaN
def _nan_cases():
    """(name, q, k, v, mask): NaN where a query row can see it, next to a fully masked row.
    Lk = 150 spans three of the CPU kernel's key blocks (and the GPU's 64-key tiles), so a NaN
    arrives both before and after a row's first finite block."""
    q, k, v = qkv((2, 2, 9, 8), 150, 5)
    mask = np.zeros((9, 150))
    mask[4] = -np.inf                         # row 4: fully masked -> 0, never NaN
    cases = []
    qn = q.copy()
    qn[0, 1, 2, 3] = np.nan                   # one query row: every score of it NaN
    cases.append(("q", qn, k, v, mask))
    kn = k.copy()
    kn[1, 0, 140, 0] = np.nan                 # a key in the last block: every row of (1, 0)
    cases.append(("k", q, kn, v, mask))
    vn = v.copy()
    vn[0, 0, 70, 2] = np.nan                  # a value: column 2 of every row of (0, 0)
    cases.append(("v", q, k, vn, np.zeros_like(mask)))  # (row 4 would get 0 * NaN)
    mn = mask.copy()
    mn[6, 100] = np.nan                       # the additive mask: row 6 everywhere
    mn[7, :64] = -np.inf                      # row 7: its first tile masked, then a NaN
    mn[7, 90] = np.nan
    cases.append(("mask", q, k, v, mn))
    return cases


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("path", ["fused", "reference_kernel", "composite"])
@pytest.mark.parametrize("case", range(4))
def test_nan_propagates_and_fully_masked_rows_stay_zero(dtype, path, case):
    """A NaN score or value makes exactly the outputs it reaches NaN (as in PyTorch and the
    NumPy softmax), never 0; a fully masked row stays 0 where no NaN reaches it, and every
    other value is right."""
    name, q, k, v, mask = _nan_cases()[case]
    q, k, v, mask = (a.astype(dtype) for a in (q, k, v, mask))
    want = np_attention(q, k, v, mask)
    assert np.isnan(want).any(), name
    if name in ("q", "mask"):  # a NaN that row 4 cannot reach (NaN + -inf is NaN for k)
        assert (want[:, :, 4] == 0).all(), name
    if path == "reference_kernel":
        got = _C.attention_reference(q, k, v, mask, False, None)[0]
    else:
        fn = scaled_dot_product_attention if path == "fused" else attention_reference
        got = fn(*(ember.tensor(a) for a in (q, k, v)), attn_mask=ember.tensor(mask)).numpy()
    outs = {path: got}
    if path == "fused":  # and each instruction set's kernel this CPU runs
        outs.update({kernel: _C.attention_forward(q, k, v, mask, False, None, kernel=kernel)[0]
                     for kernel in KERNELS})
    for label, got in outs.items():
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"{name} {label}")
        np.testing.assert_allclose(got, want, rtol=1e-4 if dtype == np.float32 else 1e-10,
                                   atol=1e-5 if dtype == np.float32 else 1e-12, equal_nan=True,
                                   err_msg=f"{name} {label}")


@pytest.mark.parametrize("case", range(4))
def test_nan_pattern_matches_pytorch(case):
    torch = pytest.importorskip("torch")
    name, q, k, v, mask = _nan_cases()[case]
    want = torch.nn.functional.scaled_dot_product_attention(
        *(torch.tensor(a) for a in (q, k, v)), attn_mask=torch.tensor(mask)).numpy()
    got = scaled_dot_product_attention(*(ember.tensor(a) for a in (q, k, v)),
                                       attn_mask=ember.tensor(mask)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, equal_nan=True,
                               err_msg=name)
