"""Every op of the table in tests/op_table.py, four ways (PyTorch's OpInfo idea):

- ``test_forward``: the op on each device ("cpu" always, "cuda" when available, a real GPU
  or the emulator) against its NumPy reference, for every sample and dtype; on an
  accelerator also the outputs and the input gradients (of ``sum(out * w)``) against the
  CPU's -- the device-parity check;
- ``test_gradcheck``: float64 finite differences against the backward, every sample;
- ``test_gradgradcheck``: the same for the backward of the backward, unless the entry says
  why the op has first derivatives only;
- ``test_matches_torch``: forward and gradients against the PyTorch twin.

The op-specific behaviour that is not table-shaped (error messages, special values,
promotion, in-place writes) stays in the per-family files (test_ops_elementwise.py, ...).
"""

from __future__ import annotations

import ember
import numpy as np
import pytest
from ember.autograd import gradcheck, gradgradcheck
from helpers import close_scaled as _close
from op_table import OPS, OPS_BY_NAME, OpEntry, Sample

DEVICES = ["cpu"] + (["cuda"] if ember.cuda.is_available() else [])
NP_DTYPES = {"float32": np.float32, "float64": np.float64}
# device against CPU and ember against PyTorch: |a - b| <= tol * (1 + max |b|)
PARITY_TOL = {"float32": 1e-4, "float64": 1e-10}
TORCH_TOL = {"float32": 1e-4, "float64": 1e-9}


# ------------------------------------------------------------------------------ harness
def _cast(a, dtype: str):
    """A float array in the dtype under test; other values unchanged."""
    if isinstance(a, np.ndarray) and a.dtype.kind == "f" and dtype in NP_DTYPES:
        return a.astype(NP_DTYPES[dtype])
    return a


def _differentiable(entry: OpEntry, i: int, a) -> bool:
    return (entry.differentiable and isinstance(a, np.ndarray) and a.dtype.kind == "f"
            and (entry.grad_args is None or i in entry.grad_args))


def _tensor(a: np.ndarray, device: str, noncontig: bool) -> ember.Tensor:
    """``a`` on ``device``; with ``noncontig`` a float array of more than one element is held
    in transposed (or else every-other-element) memory, detached into a leaf."""
    if not (noncontig and a.dtype.kind == "f" and a.ndim >= 1 and a.size > 1):
        return ember.tensor(a, device=device)
    view = None
    if a.ndim >= 2:
        view = ember.tensor(np.ascontiguousarray(np.swapaxes(a, 0, -1)), device=device)
        view = view.transpose(0, -1)
    if view is None or view.is_contiguous():  # 1-d, or size-1 dimensions: every other element
        view = ember.tensor(np.repeat(a, 2, axis=-1), device=device)[..., ::2]
    assert not view.is_contiguous()
    return view.detach()


def _inputs(entry: OpEntry, sample: Sample, dtype: str, device: str, grad: bool = True):
    """(args for the op, positions of its differentiable leaves, the arrays for the reference)."""
    arrays = [_cast(a, dtype) for a in entry.make(sample)]
    args, leaves = [], []
    for i, a in enumerate(arrays):
        if isinstance(a, np.ndarray):
            t = _tensor(a, device, sample.noncontig)
            if grad and _differentiable(entry, i, a):
                t.requires_grad_(True)
                leaves.append(i)
            args.append(t)
        else:
            args.append(a)
    ref_arrays = [a.astype(np.float64) if isinstance(a, np.ndarray) and a.dtype.kind == "f"
                  else a for a in arrays]
    return args, leaves, ref_arrays


def _flat(out) -> list:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _weights(outs, device, seed=100):
    """A fixed random weight per float output: the backward sees sum(out * w)."""
    return [ember.tensor(np.random.default_rng(seed + i).uniform(-2, 2, o.shape)
                         .astype(o.dtype.np), device=device)
            if o.dtype.is_floating_point else None for i, o in enumerate(outs)]


def _backward(outs, ws):
    total = None
    for o, w in zip(outs, ws):
        if w is not None and o.requires_grad:
            term = (o * w).sum()
            total = term if total is None else total + term
    if total is not None:
        total.backward()


def _check_against_reference(entry: OpEntry, what: str, g: np.ndarray, want,
                             dtype: str) -> None:
    want = np.asarray(want)
    assert g.shape == want.shape, f"{what}: shape {g.shape}, the reference's {want.shape}"
    if want.dtype.kind in "biu":
        assert g.dtype.kind == want.dtype.kind, f"{what}: dtype {g.dtype}, reference {want.dtype}"
        np.testing.assert_array_equal(g, want, err_msg=what)
        return
    if dtype in NP_DTYPES:
        assert g.dtype == NP_DTYPES[dtype], f"{what}: dtype {g.dtype} for {dtype} inputs"
    if dtype == "float32":
        _close(what, g, want, entry.tol32)
    else:
        np.testing.assert_allclose(g.astype(np.float64), want, rtol=entry.rtol, atol=entry.atol,
                                   err_msg=what, equal_nan=True)


def _run(entry: OpEntry, sample: Sample, dtype: str, device: str):
    """Outputs and input gradients (NumPy) of the op on ``device``."""
    args, leaves, _ = _inputs(entry, sample, dtype, device)
    outs = _flat(entry.op(*args, **sample.kwargs))
    for i, o in enumerate(outs):
        assert o.device.type == device, f"{entry.name}: output {i} on {o.device}, not {device}"
    _backward(outs, _weights(outs, device))
    grads = [args[i].grad.cpu().numpy() if args[i].grad is not None else None for i in leaves]
    return [o.detach().cpu().numpy() for o in outs], grads


def _cases(entries, with_dtype=True):
    return [pytest.param(e.name, d, id=f"{d}-{e.name}") for e in entries for d in e.dtypes] \
        if with_dtype else [pytest.param(e.name, id=e.name) for e in entries]


# ------------------------------------------------------------------------------ the tests
def test_the_table_covers_each_op_once_and_every_sample_has_a_name():
    assert len(OPS) >= 100
    for entry in OPS:
        labels = [s.label() for s in entry.samples]
        assert len(set(labels)) == len(labels), (entry.name, labels)
        assert entry.ref is not None or entry.torch is not None, entry.name
        assert any(not s.extra for s in entry.samples), entry.name


@pytest.mark.parametrize("name,dtype", _cases([e for e in OPS if e.ref is not None]))
@pytest.mark.parametrize("device", DEVICES)
def test_forward(device, name, dtype):
    """Forward against NumPy on ``device``; on an accelerator, outputs and gradients against
    the CPU as well."""
    entry = OPS_BY_NAME[name]
    for sample in entry.samples:
        what = f"{name}[{sample.label()}] {dtype} on {device}"
        if device in sample.xfail:
            with pytest.raises(Exception):  # noqa: B017 - a known bug (see the sample's reason)
                _check_sample(entry, sample, dtype, device, what)
            continue
        _check_sample(entry, sample, dtype, device, what)


def _check_sample(entry: OpEntry, sample: Sample, dtype: str, device: str, what: str):
    """One sample of test_forward. On an accelerator the outputs come from the same run as
    the gradients (each kernel runs once: the emulated GPU is slow)."""
    args, _, arrays = _inputs(entry, sample, dtype, device, grad=False)
    if device == "cpu":
        outs = [o.detach().numpy() for o in _flat(entry.op(*args, **sample.kwargs))]
    else:
        outs, got_g = _run(entry, sample, dtype, device)
    wants = _flat(entry.ref(*arrays, **sample.kwargs))
    assert len(outs) == len(wants), f"{what}: {len(outs)} outputs, reference {len(wants)}"
    for i, (o, w) in enumerate(zip(outs, wants)):
        _check_against_reference(entry, f"{what} output {i}", o, w, dtype)
    if device != "cpu":
        tol = PARITY_TOL.get(dtype, 0.0)
        got_v = outs
        want_v, want_g = _run(entry, sample, dtype, "cpu")
        for i, (g, w) in enumerate(zip(got_v, want_v)):
            _close(f"{what}: output {i} vs the CPU", g, w, tol)
        for i, (g, w) in enumerate(zip(got_g, want_g)):
            assert (g is None) == (w is None), f"{what}: input {i}'s gradient on one device"
            if w is not None:
                _close(f"{what}: gradient of input {i} vs the CPU", g, w, tol)


@pytest.mark.parametrize("name", [e.name for e in OPS if e.ref is None])
@pytest.mark.parametrize("device", [d for d in DEVICES if d != "cpu"])
def test_forward_without_reference_matches_cpu(device, name):
    """Ops checked against PyTorch instead of NumPy: on an accelerator, against the CPU."""
    entry = OPS_BY_NAME[name]
    for dtype in entry.dtypes:
        for sample in entry.samples:
            got_v, got_g = _run(entry, sample, dtype, device)
            want_v, want_g = _run(entry, sample, dtype, "cpu")
            for i, (g, w) in enumerate(zip(got_v + got_g, want_v + want_g)):
                _close(f"{name}[{sample.label()}] {dtype} value {i}", g, w, PARITY_TOL[dtype])


def _grad_fn(entry: OpEntry, sample: Sample, args, leaves):
    """The op as a function of its differentiable inputs only, returning its float outputs."""
    def fn(*xs):
        full = list(args)
        for i, x in zip(leaves, xs):
            full[i] = x
        outs = _flat(entry.op(*full, **sample.kwargs))
        return tuple(o for o in outs if o.dtype.is_floating_point)
    return fn


# Finite differences cost one (gradcheck) or two (gradgradcheck) evaluations per input
# element, so each runs on the samples up to a size; every entry has small ones.
GRADCHECK_MAX_ELEMENTS = 200
GRADGRADCHECK_MAX_ELEMENTS = 60


def _grad_samples(entry: OpEntry, max_elements: int):
    checked = 0
    for sample in entry.samples:
        if sample.extra:
            continue
        args, leaves, _ = _inputs(entry, sample, "float64", "cpu")
        if leaves and sum(args[i].numel() for i in leaves) <= max_elements:
            checked += 1
            yield sample, args, leaves
    assert checked, f"{entry.name}: no sample small enough for finite differences"


DIFFERENTIABLE = [e for e in OPS if e.differentiable]


@pytest.mark.parametrize("name", _cases(DIFFERENTIABLE, with_dtype=False))
def test_gradcheck(name):
    entry = OPS_BY_NAME[name]
    for sample, args, leaves in _grad_samples(entry, GRADCHECK_MAX_ELEMENTS):
        fn = _grad_fn(entry, sample, args, leaves)
        assert gradcheck(fn, tuple(args[i] for i in leaves), atol=entry.grad_atol,
                         rtol=entry.grad_rtol), f"{name}[{sample.label()}]"


@pytest.mark.parametrize("name", _cases(DIFFERENTIABLE, with_dtype=False))
def test_gradgradcheck(name):
    entry = OPS_BY_NAME[name]
    if entry.once_differentiable:
        pytest.skip(entry.once_differentiable)
    for sample, args, leaves in _grad_samples(entry, GRADGRADCHECK_MAX_ELEMENTS):
        fn = _grad_fn(entry, sample, args, leaves)
        assert gradgradcheck(fn, tuple(args[i] for i in leaves), atol=entry.grad_atol,
                             rtol=entry.grad_rtol), f"{name}[{sample.label()}]"


# ------------------------------------------------------------------------------ PyTorch
def _torch_inputs(entry: OpEntry, sample: Sample, dtype: str):
    import torch

    arrays = [_cast(a, dtype) for a in entry.make(sample)]
    args, leaves = [], []
    for i, a in enumerate(arrays):
        if isinstance(a, np.ndarray):
            t = torch.from_numpy(a.copy())  # (np.ascontiguousarray would make 0-d 1-d)
            if _differentiable(entry, i, a):
                t.requires_grad_(True)
                leaves.append(i)
            args.append(t)
        else:
            args.append(a)
    return args, leaves


@pytest.mark.parametrize("name,dtype", _cases([e for e in OPS if e.torch is not None]))
def test_matches_torch(name, dtype):
    torch = pytest.importorskip("torch")
    entry = OPS_BY_NAME[name]
    tol = TORCH_TOL.get(dtype, 0.0)
    for sample in entry.samples:
        what = f"{name}[{sample.label()}] {dtype}"
        got_v, got_g = _run(entry, sample, dtype, "cpu")
        args, leaves = _torch_inputs(entry, sample, dtype)
        out = entry.torch(*args, **sample.kwargs)
        if out is NotImplemented:  # a sample PyTorch does not accept (the twin says so)
            continue
        outs = _flat(out)
        assert len(outs) == len(got_v), f"{what}: {len(got_v)} outputs, PyTorch {len(outs)}"
        total = None
        for i, o in enumerate(outs):
            if o.requires_grad:
                w = torch.from_numpy(np.random.default_rng(100 + i).uniform(-2, 2, tuple(o.shape))
                                     .astype(got_v[i].dtype))
                total = (o * w).sum() if total is None else total + (o * w).sum()
        if total is not None:
            total.backward()
        for i, (g, o) in enumerate(zip(got_v, outs)):
            want = o.detach().numpy()
            if want.dtype.kind in "biu":
                np.testing.assert_array_equal(g, want, err_msg=f"{what} output {i}")
            else:
                _close(f"{what} output {i}", g, want, tol)
        for k, i in enumerate(leaves):
            want = args[i].grad
            assert (got_g[k] is None) == (want is None), f"{what}: input {i}'s gradient"
            if want is not None:
                _close(f"{what} gradient of input {i}", got_g[k], want.numpy(), tol)
