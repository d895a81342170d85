"""Fused Adam throughput: ember's one-pass native kernel vs PyTorch's Adam (fused=True and
its default foreach path), on the same parameter count, in the same run.

    python benchmarks/bench_adam.py [--numel 10000000] [--repeat 20]
    python benchmarks/bench_adam.py --device cuda [--numel 100000000]

Bandwidth counts the bytes an ideal fused step must move: read param, grad, m, v and
write param, m, v (7 arrays x 4 bytes per element in float32).
"""

from __future__ import annotations

import argparse
import time

import ember
import numpy as np
from ember import optim


def best_time(fn, repeat: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def cuda_main(args) -> None:
    """ember's fused CUDA Adam against torch's fused CUDA Adam on the same GPU."""
    import os
    import sys

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _gpu import gpu_times, require_cuda, torch_cuda

    require_cuda()
    torch = torch_cuda()
    n = args.numel if args.numel_given else 100_000_000
    moved = 7 * 4 * n
    rng = np.random.default_rng(0)
    p0, g0 = rng.standard_normal(n, dtype=np.float32), rng.standard_normal(n, dtype=np.float32)
    p = ember.nn.Parameter(ember.tensor(p0, device="cuda"))
    p.grad = ember.tensor(g0, device="cuda")
    opt = optim.Adam([p], lr=1e-3, fused=True)
    fns, names = [opt.step], ["ember Adam (fused=True, cuda)"]
    if torch is not None:
        tp = torch.nn.Parameter(torch.tensor(p0, device="cuda"))
        tp.grad = torch.tensor(g0, device="cuda")
        topt = torch.optim.Adam([tp], lr=1e-3, fused=True)
        fns.append(topt.step)
        names.append("torch Adam (fused=True, cuda)")
    times = gpu_times(fns, args.repeat)
    print(f"Adam step on {n:,} float32 parameters on the GPU, median of {args.repeat}")
    print(f"{'implementation':32s} {'ms':>8s} {'GB/s':>8s}")
    for name, t in zip(names, times):
        print(f"{name:32s} {t * 1e3:8.2f} {moved / t / 1e9:8.1f}")
    if len(times) > 1:
        print(f"ratio ember / torch fused: {times[1] / times[0]:.2f}x (>1 means ember is faster)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--numel", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                    help="cuda: ember's fused GPU Adam against torch's fused GPU Adam")
    args = ap.parse_args()
    args.numel_given = args.numel is not None
    if args.numel is None:
        args.numel = 10_000_000
    if args.device == "cuda":
        cuda_main(args)
        return
    n = args.numel
    moved = 7 * 4 * n  # bytes

    rng = np.random.default_rng(0)
    p0, g0 = rng.standard_normal(n, dtype=np.float32), rng.standard_normal(n, dtype=np.float32)
    rows = []

    for fused in (True, False):
        p = ember.nn.Parameter(ember.tensor(p0))
        p.grad = ember.tensor(g0)
        opt = optim.Adam([p], lr=1e-3, fused=fused)
        t = best_time(opt.step, args.repeat)
        rows.append((f"ember Adam (fused={fused})", t))

    try:
        import torch

        torch.set_num_threads(ember._C.num_threads())
        for kw in ({"fused": True}, {"foreach": True}):
            tp = torch.nn.Parameter(torch.tensor(p0))
            tp.grad = torch.tensor(g0)
            topt = torch.optim.Adam([tp], lr=1e-3, **kw)
            t = best_time(topt.step, args.repeat)
            rows.append((f"torch Adam ({next(iter(kw))}=True)", t))
    except ImportError:
        print("(PyTorch not installed: no reference figures)")

    print(f"Adam step on {n:,} float32 parameters, {ember._C.num_threads()} threads")
    print(f"{'implementation':32s} {'ms':>8s} {'GB/s':>8s}")
    for name, t in rows:
        print(f"{name:32s} {t * 1e3:8.2f} {moved / t / 1e9:8.1f}")
    ref = {name: t for name, t in rows}
    ours = ref["ember Adam (fused=True)"]
    for name in ("torch Adam (fused=True)", "torch Adam (foreach=True)"):
        if name in ref:
            print(f"ratio ember fused / {name}: {ref[name] / ours:.2f}x (>1 means ember is faster)")


if __name__ == "__main__":
    main()
