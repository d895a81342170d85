"""ember's CPU GEMM (``ember._C.matmul``) against NumPy, for every kernel this CPU runs.

The oracle is ``np.matmul`` in float64. A float32 result may differ from it by rounding in
each of the K multiply-adds, so it is compared against the standard error bound
|C - C_exact| <= gamma_K * (|A| @ |B|), gamma_K ~ K * eps: loose enough for any summation
order, yet far tighter than the effect of a single wrong or missing term.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from ember import _C

KERNELS = _C.gemm_kernels()  # e.g. ['avx512', 'avx2', 'generic'], best first
DTYPES = [np.float32, np.float64]


def rand(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


def assert_matmul_close(c, a, b):
    """c must equal a @ b up to the rounding error of a K-term dot product in c's dtype."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    exact = np.matmul(a64, b64)
    assert c.shape == exact.shape
    k = a.shape[-1]
    eps = np.finfo(c.dtype).eps
    bound = (k + 2) * eps * np.matmul(np.abs(a64), np.abs(b64)) + np.finfo(c.dtype).tiny
    err = np.abs(c.astype(np.float64) - exact)
    worst = np.unravel_index(np.argmax(err - bound), err.shape) if err.size else None
    assert np.all(err <= bound), (
        f"matmul {a.shape} x {b.shape} {c.dtype}: error {err[worst]:.3g} > bound "
        f"{bound[worst]:.3g} at {worst}")


def check(a, b, kernel="auto"):
    c = _C.matmul(a, b, kernel=kernel)
    assert c.dtype == a.dtype
    assert c.flags.c_contiguous
    assert_matmul_close(c, a, b)
    return c


# ---- sizes and shapes ----------------------------------------------------------------------

SHAPES = [  # (M, K, N)
    (1, 1, 1), (7, 7, 7), (33, 33, 33), (257, 257, 257),
    (1, 300, 5), (65, 1, 129), (300, 17, 2),
    (15, 31, 33),     # one past the AVX-512 14 x 32 tile, one short of it
    (100, 600, 70),   # K longer than a KC block: later blocks accumulate into C
    (800, 20, 50),    # M longer than an MC block per thread
    (3, 5, 4200),     # N wider than an NC panel
]


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("mkn", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_sizes(mkn, dtype, kernel):
    m, k, n = mkn
    rng = np.random.default_rng(m * 1000 + k * 10 + n)
    check(rand(rng, (m, k), dtype), rand(rng, (k, n), dtype), kernel)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("kn", [(1, 1), (300, 5), (7, 2500), (2048, 4100)],
                         ids=lambda s: "x".join(map(str, s)))
def test_one_row_streams_b_in_the_layout_it_has(kn, dtype):
    """m == 1 (a decoder step, a batch-1 Linear) takes the GEMV loops: B with contiguous rows
    (axpy over slices of c wider than 1024), B with contiguous columns (dot products; a
    Linear's W^T), a strided row a, a batch of rows, and a B strided both ways (the packed
    GEMM); 2048 x 4100 splits the columns over the threads."""
    k, n = kn
    rng = np.random.default_rng(k + n)
    a, b = rand(rng, (1, k), dtype), rand(rng, (k, n), dtype)
    check(a, b)                                            # rows of B contiguous
    check(a, np.ascontiguousarray(b.T).T)                  # columns of B contiguous
    check(np.ascontiguousarray(np.repeat(a, 3, 0).T).T[:1], b)  # a strided
    check(rand(rng, (3, 1, k), dtype), rand(rng, (3, k, n), dtype))  # a batch of rows
    check(a, np.repeat(np.repeat(b, 2, 0), 2, 1)[::2, ::2])  # B strided both ways


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_square_sizes_around_blocks(dtype):
    rng = np.random.default_rng(1)
    for n in (13, 14, 16, 31, 32, 63, 64, 95, 129):
        check(rand(rng, (n, n), dtype), rand(rng, (n, n), dtype))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_empty_k_gives_zeros(dtype):
    c = _C.matmul(np.ones((4, 0), dtype), np.ones((0, 3), dtype))
    assert c.shape == (4, 3) and c.dtype == dtype
    np.testing.assert_array_equal(c, np.zeros((4, 3), dtype))
    c = _C.matmul(np.ones((2, 5, 0), dtype), np.ones((2, 0, 6), dtype))
    np.testing.assert_array_equal(c, np.zeros((2, 5, 6), dtype))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("a_shape,b_shape,c_shape", [
    ((0, 3), (3, 4), (0, 4)),
    ((4, 3), (3, 0), (4, 0)),
    ((0, 0), (0, 0), (0, 0)),
    ((0, 2, 3), (0, 3, 4), (0, 2, 4)),
])
def test_empty_outputs(dtype, a_shape, b_shape, c_shape):
    c = _C.matmul(np.ones(a_shape, dtype), np.ones(b_shape, dtype))
    assert c.shape == c_shape and c.dtype == dtype


# ---- strides: transposed, sliced, reversed, broadcast ----------------------------------------

def strided_variants(rng, m, k, dtype):
    """Views of an m x k matrix with every kind of stride, each paired with a label."""
    base = rand(rng, (2 * m + 3, 3 * k + 2), dtype)
    return {
        "contiguous": np.ascontiguousarray(base[:m, :k]),
        "transposed": np.ascontiguousarray(base[:k, :m]).T,
        "fortran": np.asfortranarray(base[:m, :k]),
        "sliced": base[::2, 1::3][:m, :k],
        "reversed_rows": base[:m, :k][::-1],
        "reversed_both": base[::-2, ::-3][:m, :k],
        "transposed_reversed": base[:k, :m].T[::-1, ::-1],
        "row_broadcast": np.broadcast_to(base[0, :k], (m, k)),   # row stride 0
        "col_broadcast": np.broadcast_to(base[:m, :1], (m, k)),  # column stride 0
    }


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_strided_operands(dtype, kernel):
    rng = np.random.default_rng(2)
    m, k, n = 37, 45, 41
    a_views = strided_variants(rng, m, k, dtype)
    b_views = strided_variants(rng, k, n, dtype)
    for a_name, a in a_views.items():
        for b_name in ("contiguous", "transposed", a_name):
            b = b_views[b_name]
            c = _C.matmul(a, b, kernel=kernel)
            try:
                assert_matmul_close(c, a, b)
            except AssertionError as e:
                raise AssertionError(f"a {a_name}, b {b_name}: {e}") from None


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_large_transposed_operands(dtype):
    rng = np.random.default_rng(3)
    a = rand(rng, (300, 200), dtype)
    b = rand(rng, (280, 300), dtype)
    check(a.T, b.T)           # (200 x 300) @ (300 x 280)
    check(a.T[::-1], b.T[:, ::2])


def test_misaligned_and_odd_stride_buffers():
    # Data that starts one byte into a buffer, and a record field whose byte strides are not
    # whole elements: unusual views of raw memory, handled with one aligned copy.
    rng = np.random.default_rng(4)
    a = rand(rng, (9, 11), np.float32)
    raw = np.zeros(a.nbytes + 1, np.uint8)
    misaligned = raw[1:].view(np.float32).reshape(a.shape)
    misaligned[...] = a
    assert not misaligned.flags.aligned
    check(misaligned, rand(rng, (11, 5), np.float32))
    records = np.zeros((6, 4), dtype=[("x", "<f4"), ("tag", "u1")])
    records["x"] = rand(rng, (6, 4), np.float32)
    field = records["x"]  # strides (20, 5) bytes
    check(field, rand(rng, (4, 3), np.float32))
    check(rand(rng, (2, 6), np.float32), field)


# ---- batches ----------------------------------------------------------------------------------

@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_batched_3d_and_4d(dtype, kernel):
    rng = np.random.default_rng(5)
    check(rand(rng, (5, 17, 9), dtype), rand(rng, (5, 9, 23), dtype), kernel)
    check(rand(rng, (2, 3, 17, 9), dtype), rand(rng, (2, 3, 9, 23), dtype), kernel)
    # Many small products (threads take whole products) and a few big ones (threads split
    # each product).
    check(rand(rng, (16, 64, 32), dtype), rand(rng, (16, 32, 48), dtype), kernel)
    check(rand(rng, (3, 150, 70), dtype), rand(rng, (3, 70, 160), dtype), kernel)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_batched_strided(dtype):
    rng = np.random.default_rng(6)
    a = rand(rng, (6, 20, 30), dtype)
    b = rand(rng, (6, 40, 30), dtype)
    check(a[::2], np.swapaxes(b, 1, 2)[::-2])  # sliced, reversed and transposed batches
    a_batch_inside = np.transpose(rand(rng, (20, 5, 30), dtype), (1, 0, 2))
    check(a_batch_inside, rand(rng, (5, 30, 7), dtype))  # batch axis not outermost in memory
    check(np.moveaxis(rand(rng, (7, 3, 8, 2), dtype), 3, 0), rand(rng, (2, 7, 8, 5), dtype))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_batch_stride_zero(dtype):
    # The Python caller broadcasts batch dims with np.broadcast_to: strides of 0.
    rng = np.random.default_rng(7)
    a = np.broadcast_to(rand(rng, (1, 12, 10), dtype), (4, 12, 10))
    b = rand(rng, (4, 10, 8), dtype)
    c = check(a, b)
    np.testing.assert_array_equal(c[0], _C.matmul(a[0], b[0]))
    w = np.broadcast_to(rand(rng, (10, 8), dtype), (2, 3, 10, 8))
    check(rand(rng, (2, 3, 12, 10), dtype), w)
    check(np.broadcast_to(rand(rng, (12, 10), dtype), (64, 12, 10)),
          np.broadcast_to(rand(rng, (10, 8), dtype), (64, 10, 8)))


# ---- special values, concurrency, result ownership ---------------------------------------------

def test_nan_and_inf_propagate_like_numpy():
    a = np.ones((20, 20), np.float32)
    b = np.ones((20, 20), np.float32)
    a[3, 5] = np.nan
    b[2, 7] = np.inf
    c = _C.matmul(a, b)
    expected = np.matmul(a, b)
    np.testing.assert_array_equal(np.isnan(c), np.isnan(expected))
    np.testing.assert_array_equal(np.isinf(c), np.isinf(expected))


def test_result_is_a_new_array():
    a = np.eye(3, dtype=np.float32)
    c = _C.matmul(a, a)
    assert not np.shares_memory(c, a)
    c[0, 0] = 5
    assert a[0, 0] == 1


def test_concurrent_callers():
    # The GIL is released during compute; each calling thread has its own scratch memory.
    rng = np.random.default_rng(8)
    pairs = [(rand(rng, (90, 70), np.float32), rand(rng, (70, 110), np.float32))
             for _ in range(4)]
    results = [None] * len(pairs)

    def work(i):
        for _ in range(5):
            results[i] = _C.matmul(*pairs[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(pairs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for (a, b), c in zip(pairs, results):
        assert_matmul_close(c, a, b)


# ---- the reference ------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("mkn", [(1, 1, 1), (3, 4, 5), (17, 9, 6), (0, 3, 2), (2, 0, 3)])
def test_reference_matches_numpy(mkn, dtype):
    m, k, n = mkn
    rng = np.random.default_rng(9)
    a, b = rand(rng, (m, k), dtype), rand(rng, (k, n), dtype)
    c = _C.matmul_reference(a, b)
    assert c.dtype == dtype
    assert_matmul_close(c, a, b)
    assert_matmul_close(_C.matmul_reference(a.T.copy().T, b[::-1][::-1]), a, b)
    batched = _C.matmul_reference(np.stack([a, 2 * a]), np.stack([b, b]))
    assert_matmul_close(batched, np.stack([a, 2 * a]), np.stack([b, b]))


# ---- errors at the boundary ---------------------------------------------------------------------

def test_mixed_dtypes_raise_type_error():
    with pytest.raises(TypeError, match=r"matmul.*float32.*float64"):
        _C.matmul(np.ones((2, 3), np.float32), np.ones((3, 4), np.float64))


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_, np.complex64, np.float16])
def test_non_float_dtypes_raise_type_error(dtype):
    with pytest.raises(TypeError, match="matmul"):
        _C.matmul(np.ones((2, 3), dtype), np.ones((3, 4), dtype))
    with pytest.raises(TypeError, match="matmul"):
        _C.matmul_reference(np.ones((2, 3), dtype), np.ones((3, 4), dtype))


def test_non_native_byte_order_raises_type_error():
    with pytest.raises(TypeError, match="matmul"):
        _C.matmul(np.ones((2, 3), ">f8" if np.little_endian else "<f8"), np.ones((3, 4)))


def test_mismatched_inner_dimension_raises_value_error():
    with pytest.raises(ValueError, match=r"matmul.*\(2, 3\).*\(4, 5\)") as info:
        _C.matmul(np.ones((2, 3), np.float32), np.ones((4, 5), np.float32))
    assert "not aligned" in str(info.value)
    with pytest.raises(ValueError, match=r"matmul.*\(2, 3\).*\(4, 5\)"):
        _C.matmul_reference(np.ones((2, 3)), np.ones((4, 5)))


@pytest.mark.parametrize("a_shape,b_shape", [((3,), (3, 4)), ((2, 3), (3,)), ((), ()),
                                             ((3,), (3,))])
def test_fewer_than_two_dims_raise_value_error(a_shape, b_shape):
    with pytest.raises(ValueError, match="matmul.*at least 2 dimensions"):
        _C.matmul(np.ones(a_shape), np.ones(b_shape))


def test_batch_mismatch_raises_value_error():
    with pytest.raises(ValueError, match=r"matmul.*batch.*\(2, 3, 4\).*\(3, 4, 5\)"):
        _C.matmul(np.ones((2, 3, 4)), np.ones((3, 4, 5)))
    with pytest.raises(ValueError, match=r"matmul.*same number of dimensions"):
        _C.matmul(np.ones((2, 3, 4)), np.ones((4, 5)))


def test_unknown_kernel_raises_value_error():
    with pytest.raises(ValueError, match="matmul.*kernel"):
        _C.matmul(np.ones((2, 2)), np.ones((2, 2)), kernel="sse9")


def test_non_arrays_raise_type_error():
    with pytest.raises(TypeError):
        _C.matmul("not an array", np.ones((2, 2)))
