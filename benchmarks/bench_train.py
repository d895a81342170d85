"""Training steps per second: ember next to PyTorch (CPU), same models, same run.

    python benchmarks/bench_train.py [--models mlp,cnn,lstm,gpt] [--seconds 3] [--device cuda]

Models (forward + backward + Adam step on a fixed random batch):
  mlp   784-128-64-10, batch 64            (measures per-op overhead)
  cnn   conv(1->16,k3) pool conv(16->32,k3) pool fc(800->10), MNIST-sized batch 64
  lstm  2-layer LSTM, hidden 128, sequence 32, batch 32, classifier on the last step
  gpt   4-layer GPT-style Transformer, d=128, 4 heads, context 64, batch 16, vocab 65
The two frameworks use the same thread count. Ratio > 1 means ember is faster.
With ``--device cuda`` both run on the GPU (PyTorch only when it has CUDA), and the timed
loop is bracketed by device synchronisations.

Each (framework, model) pair runs in a fresh process, so each library runs as it ships:
importing ember tunes glibc's malloc for the whole process (ember/_memory.py), which would
otherwise speed PyTorch up too (by up to ~2x on the LSTM). ``--same-process`` measures
both in one process instead, PyTorch then with ember's malloc settings.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def build(lib, name: str, device: str = "cpu"):
    """The model, a loss function and one batch, written identically for both libraries."""
    nn, F = lib.nn, lib.nn.functional
    rng = np.random.default_rng(0)

    def data(a):
        return lib.tensor(a, device=device)

    if name == "mlp":
        model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                              nn.Linear(64, 10))
        x = data(rng.standard_normal((64, 784), dtype=np.float32))
        y = data(rng.integers(0, 10, 64))
        return model.to(device), lambda: F.cross_entropy(model(x), y)

    if name == "cnn":
        model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(32 * 7 * 7, 10))
        x = data(rng.standard_normal((64, 1, 28, 28), dtype=np.float32))
        y = data(rng.integers(0, 10, 64))
        return model.to(device), lambda: F.cross_entropy(model(x), y)

    if name == "lstm":
        lstm = nn.LSTM(32, 128, num_layers=2, batch_first=True)
        head = nn.Linear(128, 10)
        model = nn.ModuleList([lstm, head]).to(device)
        x = data(rng.standard_normal((32, 32, 32), dtype=np.float32))
        y = data(rng.integers(0, 10, 32))
        return model, lambda: F.cross_entropy(head(lstm(x)[0][:, -1]), y)

    if name == "gpt":
        d, heads, ctx, vocab = 128, 4, 64, 65
        layer = nn.TransformerEncoderLayer(d, heads, dim_feedforward=4 * d, dropout=0.0,
                                           batch_first=True, norm_first=True,
                                           activation="gelu")
        body = nn.TransformerEncoder(layer, num_layers=4)
        emb, pos, out = nn.Embedding(vocab, d), nn.Embedding(ctx, d), nn.Linear(d, vocab)
        model = nn.ModuleList([emb, pos, body, out]).to(device)
        tokens = data(rng.integers(0, vocab, (16, ctx)))
        target = data(rng.integers(0, vocab, (16, ctx)))
        positions = lib.arange(ctx, device=device)
        mask = nn.Transformer.generate_square_subsequent_mask(ctx, device=device)

        def loss():
            h = body(emb(tokens) + pos(positions), mask=mask, is_causal=True)
            return F.cross_entropy(out(h).reshape(-1, vocab), target.reshape(-1))

        return model, loss

    raise ValueError(f"unknown model {name!r}")


def steps_per_second(lib, name: str, seconds: float, device: str = "cpu") -> float:
    model, loss_fn = build(lib, name, device)
    sync = _sync_for(device)
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad()
        loss_fn().backward()
        opt.step()

    for _ in range(3):
        step()
    sync()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        n += 1
        if device != "cpu" and n % 10 == 0:
            sync()  # keep the host from queueing far ahead of the GPU
    sync()
    return n / (time.perf_counter() - start)


def _sync_for(device: str):
    if device == "cpu":
        return lambda: None
    from _gpu import synchronize

    return synchronize


def _threads() -> int:
    """The thread count both libraries use: OMP_NUM_THREADS, else every core."""
    import os

    return int(os.environ.get("OMP_NUM_THREADS", 0)) or os.cpu_count() or 1


def _load(lib_name: str, device: str):
    """The library module ('ember' or 'torch'), or None when it cannot run here."""
    if lib_name == "ember":
        import ember

        if device == "cuda":
            from _gpu import require_cuda

            require_cuda()
        return ember
    if device == "cuda":
        from _gpu import torch_cuda

        return torch_cuda()
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(_threads())
    return torch


def _measure_in_subprocess(lib_name: str, model: str, args) -> float:
    """steps/s of one library on one model, measured by a fresh Python process."""
    import subprocess
    import sys

    cmd = [sys.executable, __file__, "--worker", lib_name, "--models", model,
           "--seconds", str(args.seconds), "--device", args.device]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{lib_name} {model}: the worker failed:\n{out.stderr[-2000:]}")
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--models", default="mlp,cnn,lstm,gpt")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--same-process", action="store_true",
                    help="both libraries in this process (PyTorch then runs with ember's "
                         "malloc settings)")
    ap.add_argument("--worker", choices=["ember", "torch"], help=argparse.SUPPRESS)
    args = ap.parse_args()

    def measure_here(lib_name: str, model: str) -> float:
        lib = _load(lib_name, args.device)
        return steps_per_second(lib, model, args.seconds, args.device) if lib else float("nan")

    if args.worker:  # one measurement, printed as a bare number for the parent
        print(measure_here(args.worker, args.models))
        return

    measure = measure_here if args.same_process else \
        (lambda lib_name, model: _measure_in_subprocess(lib_name, model, args))
    if args.device == "cuda":
        _load("ember", "cuda")  # exits with a message when there is no GPU
    mode = "one process" if args.same_process else "a fresh process per measurement"
    print(f"{_threads()} threads, {args.device}, {mode}")
    print(f"{'model':6s} {'ember steps/s':>14s} {'torch steps/s':>14s} {'ratio':>7s}")
    for name in args.models.split(","):
        ours, theirs = measure("ember", name), measure("torch", name)
        print(f"{name:6s} {ours:14.1f} {theirs:14.1f} {ours / theirs:7.2f}")
    if theirs != theirs:  # nan: no PyTorch (with CUDA, for --device cuda)
        print("(PyTorch not available here: ember figures only)")


if __name__ == "__main__":
    main()
