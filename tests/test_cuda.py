"""The CUDA backend.

Two kinds of tests:
- everywhere (no GPU needed): ``ember.cuda`` answers "not available" without crashing, moving
  a tensor to 'cuda' is a clear RuntimeError, the ``_cuda`` module imports when it was built,
  and ``CUDABackend`` implements every primitive of the Backend interface;
- with a GPU: what is not an op (every op on 'cuda' against NumPy and the CPU is an entry
  of the op table, tests/op_table.py, run by test_ops.py with the device as a parameter):
  indexing errors and writes, dtype casts, the round trip through .cpu(), creation, devices
  mixing, seeded randomness, TF32, a training step, bad input at the bindings and the
  allocator's counters.
"""

from __future__ import annotations

import importlib

import ember
import numpy as np
import pytest
from ember import nn

HAS_GPU = ember.cuda.is_available()
needs_gpu = pytest.mark.skipif(not HAS_GPU, reason="no CUDA GPU")
no_gpu_only = pytest.mark.skipif(HAS_GPU, reason="a CUDA GPU is present")


def _cuda_module():
    try:
        return importlib.import_module("ember._cuda")
    except ImportError:
        return None


_CUDA = _cuda_module()
needs_built = pytest.mark.skipif(_CUDA is None, reason="ember was built without ember._cuda")


# ---------------------------------------------------------------------------- everywhere
@no_gpu_only
def test_is_available_is_false_without_a_gpu():
    assert ember.cuda.is_available() is False
    assert ember.cuda.device_count() == 0


@no_gpu_only
def test_to_cuda_without_a_gpu_is_a_clear_error():
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        ember.ones(2).to("cuda")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        ember.zeros(2, device="cuda")


@no_gpu_only
def test_device_helpers_are_safe_without_a_gpu():
    ember.cuda.synchronize()
    ember.cuda.empty_cache()
    assert ember.cuda.memory_allocated() == 0
    assert ember.cuda.memory_reserved() == 0
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        ember.cuda.current_device()
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        ember.cuda.get_device_name()
    assert ember.cuda.manual_seed(3) is not None


def test_cuda_backend_implements_every_primitive():
    from ember.backend.base import Backend
    from ember.backend.cuda import CUDABackend

    assert not CUDABackend.__abstractmethods__
    abstract = {n for n in dir(Backend) if getattr(getattr(Backend, n), "__isabstractmethod__",
                                                         False)}
    assert abstract and all(n in CUDABackend.__dict__ for n in abstract)


@needs_built
def test_cuda_module_imports_when_built():
    m = _CUDA
    assert isinstance(m.device_count(), int) and m.device_count() >= 0
    for name in ("DeviceArray", "from_numpy", "to_numpy", "view", "copy_", "unary", "binary",
                 "where", "reduce", "arg_reduce", "index", "rand", "randn", "randint",
                 "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "empty_cache",
                 "memory_allocated", "memory_reserved", "synchronize", "get_device_name",
                 "matmul", "conv2d_forward", "conv2d_backward_data", "conv2d_backward_weight",
                 "attention_forward", "attention_backward", "adam_step"):
        assert hasattr(m, name), name


@needs_built
def test_allocator_size_classes():
    r = _CUDA.round_alloc_size
    assert r(1) == 512 and r(512) == 512
    assert r(513) == 640 and r(1024) == 1024 and r(1025) == 1280
    for n in (3, 1000, 4097, 10**6, 3 * 10**9):
        assert n <= r(n) <= max(512, n * 1.25 + 1)


@needs_built
@no_gpu_only
def test_cuda_module_without_a_gpu_raises_instead_of_crashing():
    assert _CUDA.device_count() == 0
    with pytest.raises(RuntimeError):
        _CUDA.empty([2], np.float32)


# ---------------------------------------------------------------------------- with a GPU
def _close(gpu_tensor, cpu_tensor, rtol=1e-6, atol=1e-8):
    assert gpu_tensor.device.type == "cuda", gpu_tensor.device
    got = gpu_tensor.detach().cpu().numpy()
    want = cpu_tensor.detach().numpy()
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, want.shape,
                                                                  got.dtype, want.dtype)
    if want.dtype.kind in "biu":
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True)


def _rand(*shape, seed=0, low=-2.0, high=2.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape)


@needs_gpu
def test_getitem_out_of_range_is_an_index_error():
    x = ember.zeros(3, 4, device="cuda")
    with pytest.raises(IndexError):
        x[ember.tensor([0, 3], device="cuda")]
    with pytest.raises(IndexError):
        x[5]


@needs_gpu
def test_setitem_matches_cpu():
    for index, value in [((1,), 5.0), ((slice(None), 2), np.arange(3.0)),
                         (([0, 2],), np.ones((2, 4))), (([0, 1], [3, 3]), 7.0),
                         ((Ellipsis, slice(1, 3)), -1.0)]:
        a = _rand(3, 4)
        c, g = ember.tensor(a), ember.tensor(a, device="cuda")
        c[index] = value
        g[index] = value
        _close(g, c)
    a = _rand(3, 4)
    c, g = ember.tensor(a), ember.tensor(a, device="cuda")
    c[c > 0] = 0.0
    g[g > 0] = 0.0
    _close(g, c)
    # overlapping source and destination
    c[1:] = c[:-1].clone()
    g[1:] = g[:-1]
    _close(g, c)


@needs_gpu
@pytest.mark.parametrize("src", [ember.bool_, ember.int64, ember.float32, ember.float64])
@pytest.mark.parametrize("dst", [ember.bool_, ember.int64, ember.float32, ember.float64])
def test_astype_all_dtypes(src, dst):
    a = np.array([[0.0, 1.0, -2.5], [3.75, 0.25, 100.0]])
    c = ember.tensor(a).to(src)
    g = c.to("cuda")
    _close(g.to(dst), c.to(dst))


@needs_gpu
def test_cpu_round_trip_keeps_values_dtype_and_shape():
    for a in (np.arange(12.0).reshape(3, 4).T, np.array(3, dtype=np.int64),
              np.zeros((0, 3), np.float32), np.array([True, False])):
        g = ember.tensor(a, device="cuda")
        back = g.cpu().numpy()
        assert back.dtype == ember.tensor(a).numpy().dtype
        np.testing.assert_array_equal(back, a)
    g = ember.tensor(np.arange(12.0).reshape(3, 4), device="cuda")
    np.testing.assert_array_equal(g.T[::2].cpu().numpy(), np.arange(12.0).reshape(3, 4).T[::2])


@needs_gpu
def test_creation_matches_cpu():
    for make in (lambda d: ember.arange(10, device=d), lambda d: ember.arange(1.0, 2.0, 0.25,
                                                                              device=d),
                 lambda d: ember.linspace(-1, 1, 7, device=d), lambda d: ember.eye(3, 4,
                                                                                   device=d),
                 lambda d: ember.full((2, 3), 7, device=d), lambda d: ember.ones(2, 2, device=d),
                 lambda d: ember.zeros(3, dtype=ember.int64, device=d)):
        _close(make("cuda"), make("cpu"), rtol=1e-6)


@needs_gpu
def test_mixing_devices_names_both_devices():
    a, b = ember.ones(2), ember.ones(2, device="cuda")
    with pytest.raises(RuntimeError, match=r"cpu.*cuda|cuda.*cpu"):
        a + b


@needs_gpu
def test_randomness_is_reproducible_with_manual_seed():
    ember.manual_seed(123)
    a = ember.rand(1000, device="cuda").cpu().numpy()
    b = ember.randn(1001, dtype=ember.float64, device="cuda").cpu().numpy()
    c = ember.randint(-3, 5, (500,), device="cuda").cpu().numpy()
    ember.cuda.manual_seed(123)
    np.testing.assert_array_equal(ember.rand(1000, device="cuda").cpu().numpy(), a)
    np.testing.assert_array_equal(
        ember.randn(1001, dtype=ember.float64, device="cuda").cpu().numpy(), b)
    np.testing.assert_array_equal(ember.randint(-3, 5, (500,), device="cuda").cpu().numpy(), c)
    assert 0.0 <= a.min() and a.max() < 1.0 and abs(a.mean() - 0.5) < 0.05
    assert abs(b.mean()) < 0.15 and abs(b.std() - 1.0) < 0.1
    assert c.min() == -3 and c.max() == 4
    # successive draws differ
    assert not np.array_equal(ember.rand(1000, device="cuda").cpu().numpy(), a)


@needs_gpu
@needs_gpu
def test_tf32_precision_rounds_matmul_inputs_on_the_gpu():
    # 1 + 2^-15 has no TF32 representation (10 mantissa bits): it rounds to 1
    a = ember.tensor([[1 + 2.0**-15, 1.0]], device="cuda")
    b = ember.tensor([[1.0], [0.0]], device="cuda")
    assert ember.get_float32_matmul_precision() == "highest"
    assert (a @ b).item() == np.float32(1 + 2.0**-15)
    ember.set_float32_matmul_precision("high")
    try:
        assert (a @ b).item() == 1.0
        assert (a.double() @ b.double()).item() == 1 + 2.0**-15  # float64 is never TF32
    finally:
        ember.set_float32_matmul_precision("highest")


@needs_gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])  # the flash and the fallback kernels
def test_attention_propagates_nan_as_on_the_cpu(dtype):
    """A NaN score or value reaches exactly the outputs it reaches on the CPU (NaN, never 0),
    next to a fully masked row that stays 0 (tests/test_attention.py's cases)."""
    from test_attention import _nan_cases

    for name, *arrays in _nan_cases():
        q, k, v, mask = (ember.tensor(a.astype(dtype)) for a in arrays)
        want = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask).numpy()
        got = nn.functional.scaled_dot_product_attention(
            q.cuda(), k.cuda(), v.cuda(), attn_mask=mask.cuda()).cpu().numpy()
        assert np.isnan(want).any(), name
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, equal_nan=True,
                                   err_msg=name)


@needs_gpu
def test_tiny_mlp_training_step_matches_cpu():
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    gpu_model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    gpu_model.load_state_dict(model.state_dict())
    gpu_model.to("cuda")
    assert all(p.device.type == "cuda" for p in gpu_model.parameters())
    x, y = _rand(16, 4), np.random.default_rng(0).integers(0, 3, 16)
    losses = []
    for m, dev in ((model, "cpu"), (gpu_model, "cuda")):
        opt = ember.optim.SGD(m.parameters(), lr=0.1)
        xs, ys = ember.tensor(x, dtype=ember.float32, device=dev), ember.tensor(y, device=dev)
        step_losses = []
        for _ in range(5):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(m(xs), ys)
            loss.backward()
            opt.step()
            step_losses.append(loss.item())
        losses.append(step_losses)
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-4)
    assert losses[1][-1] < losses[1][0]
    for pc, pg in zip(model.parameters(), gpu_model.parameters()):
        _close(pg, pc, rtol=1e-4, atol=1e-5)


def _dev(*shape, dtype=np.float32):
    return _CUDA.from_numpy(np.ones(shape, dtype=dtype))


# Bad input straight at the bindings (ember's Python side checks most of it first): every
# kernel entry point validates its arguments and raises a Python exception naming the op --
# never a crash, a hang or a wrong-size launch.
BAD_CALLS = {
    "matmul_dtypes": (lambda m: m.matmul(_dev(2, 3), _dev(3, 2, dtype=np.float64)),
                      TypeError, "matmul: both operands must have the same dtype"),
    "matmul_int": (lambda m: m.matmul(_dev(2, 3, dtype=np.int64), _dev(3, 2, dtype=np.int64)),
                   TypeError, "matmul: expected float32 or float64"),
    "matmul_shapes": (lambda m: m.matmul(_dev(2, 3), _dev(4, 2)), ValueError,
                      r"matmul: shapes \(2, 3\) and \(4, 2\).*not aligned"),
    "conv_ndim": (lambda m: m.conv2d_forward(_dev(1, 4, 4), _dev(1, 1, 3, 3), (1, 1), (0, 0),
                                             (1, 1), 1), ValueError, "conv2d: expected a 4-d"),
    "conv_groups": (lambda m: m.conv2d_forward(_dev(1, 3, 4, 4), _dev(2, 3, 3, 3), (1, 1),
                                               (0, 0), (1, 1), 2),
                    ValueError, "divisible by groups=2"),
    "conv_stride": (lambda m: m.conv2d_forward(_dev(1, 1, 4, 4), _dev(1, 1, 3, 3), (0, 1),
                                               (0, 0), (1, 1), 1),
                    ValueError, "conv2d: stride must be positive"),
    "conv_backward_shape": (lambda m: m.conv2d_backward_data(
        _dev(1, 1, 3, 3), _dev(1, 1, 3, 3), [1, 1, 4, 4], (1, 1), (0, 0), (1, 1), 1),
        ValueError, "conv2d_backward_data: grad_output has shape"),
    "attention_head_dim": (lambda m: m.attention_forward(_dev(1, 1, 4, 8), _dev(1, 1, 4, 7),
                                                         _dev(1, 1, 4, 8)),
                           ValueError, "same embedding dimension D"),
    "attention_too_wide": (lambda m: m.attention_forward(_dev(1, 1, 4, 300), _dev(1, 1, 4, 300),
                                                         _dev(1, 1, 4, 8)),
                           ValueError, "up to 128"),
    "attention_mask_dtype": (lambda m: m.attention_forward(
        _dev(1, 1, 4, 8), _dev(1, 1, 4, 8), _dev(1, 1, 4, 8), _dev(4, 4, dtype=np.int64)),
        TypeError, "attn_mask must be bool"),
    "attention_mask_shape": (lambda m: m.attention_forward(
        _dev(1, 1, 4, 8), _dev(1, 1, 4, 8), _dev(1, 1, 4, 8), _dev(3, 4)),
        ValueError, "not broadcastable"),
    "attention_backward_lse": (lambda m: m.attention_backward(
        *[_dev(1, 1, 4, 8)] * 5, _dev(1, 1, 5)), ValueError, "lse must have shape"),
    "adam_shapes": (lambda m: m.adam_step(_dev(4), _dev(5), _dev(4), _dev(4), None, 0.1, 0.9,
                                          0.99, 1e-8, 0.0, 1, False, False, False),
                    ValueError, "adam_step: grad has shape"),
    "adam_strided": (lambda m: m.adam_step(m.view(_dev(8), 0, [4], [2]), _dev(4), _dev(4),
                                           _dev(4), None, 0.1, 0.9, 0.99, 1e-8, 0.0, 1, False,
                                           False, False),
                     ValueError, "adam_step: param must be a contiguous"),
    "adam_amsgrad_state": (lambda m: m.adam_step(_dev(4), _dev(4), _dev(4), _dev(4), None, 0.1,
                                                 0.9, 0.99, 1e-8, 0.0, 1, True, False, False),
                           ValueError, "needs max_exp_avg_sq"),
    "view_outside_memory": (lambda m: m.view(_dev(4), 2, [4], [1]), IndexError,
                            "reach outside the array's memory"),
    "index_outside_memory": (lambda m: m.index("gather", _dev(4), _dev(2), [1],
                                               [_dev(2, dtype=np.int64)], [1], [9]),
                             IndexError, "outside the target's memory"),
    "copy_shapes": (lambda m: m.copy_(_dev(4), _dev(5)), ValueError, "copy: destination shape"),
    "empty_negative": (lambda m: m.empty([-1], np.float32), ValueError, "negative dimension"),
    # the product of the dimensions wraps around 64 bits: a small block for a huge shape
    "empty_overflowing_size": (lambda m: m.empty([1 << 40, 1 << 30], np.float32), ValueError,
                               "too large"),
    "empty_overflowing_strides": (lambda m: m.empty([0, 1 << 62, 4], np.float32), ValueError,
                                  "too large"),
    "empty_out_of_memory": (lambda m: m.empty([1 << 50], np.float32), RuntimeError,
                            "out of memory"),
    "unsupported_dtype": (lambda m: m.from_numpy(np.ones(2, np.complex64)), TypeError,
                          "CUDA arrays hold bool, int64, float32 or float64"),
}


@needs_gpu
@pytest.mark.parametrize("case", sorted(BAD_CALLS))
def test_bindings_reject_bad_input_with_a_clear_error(case):
    call, exc, message = BAD_CALLS[case]
    with pytest.raises(exc, match=message):
        call(_CUDA)
    _CUDA.synchronize()  # and the device is still usable
    assert _CUDA.to_numpy(_dev(2)).tolist() == [1.0, 1.0]


@needs_gpu
def test_allocator_counters_and_empty_cache():
    ember.cuda.synchronize()
    before = ember.cuda.memory_allocated()
    x = ember.zeros(1 << 20, device="cuda")  # 4 MiB
    assert ember.cuda.memory_allocated() >= before + (1 << 22)
    assert ember.cuda.memory_reserved() >= ember.cuda.memory_allocated()
    del x
    assert ember.cuda.memory_allocated() == before
    ember.cuda.empty_cache()
    assert ember.cuda.memory_reserved() == ember.cuda.memory_allocated()
    assert isinstance(ember.cuda.get_device_name(), str)
    assert ember.cuda.current_device() == 0
