"""Fused Adam throughput: ember's one-pass native kernel vs PyTorch's Adam (fused=True and
its default foreach path), on the same parameter count, in the same run.

    python benchmarks/bench_adam.py [--numel 10000000] [--repeat 20]

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--numel", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
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
