"""Layers, optimizers and the device-only behaviour (TF32, random numbers, dropout, fused
Adam) on each accelerator device, against the CPU. (Every op, loss function and
kernel-path case is an entry of the op table, tests/op_table.py, whose test_ops.py takes
the device as a parameter.)

Modules are built twice from the same seed, one copy moved with ``Module.to(device)``: the
outputs, the input's gradient, the parameters' gradients and the buffers must agree to
float32 rounding, so this also checks that moving a model moves every parameter and
buffer. Optimizers take several steps on both devices from the same start and must end at
the same parameters. Without a GPU (real or emulated) every test here skips.
"""

from __future__ import annotations

import ember
import ember.nn as nn
import ember.nn.functional as F
import numpy as np
import pytest
from helpers import close_scaled as _close

DEVICES = ["cuda"] if ember.cuda.is_available() else []
if not DEVICES:
    pytest.skip("no accelerator device (ember.cuda.is_available() is False)",
                allow_module_level=True)

DTYPES = {"float32": (np.float32, 1e-4), "float64": (np.float64, 1e-10)}


# ------------------------------------------------------------------------------ harness
def _arr(shape, seed, dtype, low=-2.0, high=2.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape).astype(dtype)


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
