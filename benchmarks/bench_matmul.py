"""ember's CPU GEMM (``ember._C.matmul``) against NumPy's BLAS, in the same run.

    python benchmarks/bench_matmul.py [--sizes 256 512 1024 2048] [--dtype float32 float64]
    python benchmarks/bench_matmul.py --device cuda [--sizes 1024 2048 4096] [--tf32]

Prints GFLOP/s (2*M*N*K / time) for square products and for a batch of small,
attention-sized products, with the ratio ember / numpy. Each timing is the best of
several repeats after a warm-up, and the two libraries are timed alternately so that
frequency changes and background load hit both alike.

NumPy's OpenBLAS honours OPENBLAS_CORETYPE: if it is set (e.g. to Haswell on a CPU that
has AVX-512) NumPy runs slower kernels than this CPU allows. The header prints the kernel
OpenBLAS actually uses (via threadpoolctl, if installed), so you know which baseline the
ratio is against; unset OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE for the fastest one.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from ember import _C


def blas_info() -> str:
    """NumPy's BLAS library, its kernel architecture and thread count (threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "numpy BLAS: unknown (pip install threadpoolctl to see it)"
    infos = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    if not infos:
        return "numpy BLAS: none found by threadpoolctl"
    i = infos[0]
    return (f"numpy BLAS: {i.get('internal_api')} {i.get('version')}, kernel "
            f"{i.get('architecture')}, {i.get('num_threads')} threads")


def best_time(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def settle() -> None:
    """Let the other library's idle worker threads stop spinning before timing the next one.

    After a call, OpenBLAS's threads busy-wait for tens of milliseconds (OpenMP's for a
    shorter while); on a 2-core machine they would steal a core from whoever runs next."""
    time.sleep(0.15)


def compare(ember_fn, numpy_fn, flops: float, min_time: float = 0.25) -> tuple[float, float]:
    """GFLOP/s of both functions: warm up, pick a repeat count, then alternate rounds."""
    ember_fn()
    numpy_fn()
    one = max(best_time(ember_fn, 1), best_time(numpy_fn, 1), 1e-6)
    repeats = max(3, min(50, int(min_time / one / 4)))
    t_ember = t_numpy = float("inf")
    for _ in range(4):  # interleaved rounds
        settle()
        t_ember = min(t_ember, best_time(ember_fn, repeats))
        settle()
        t_numpy = min(t_numpy, best_time(numpy_fn, repeats))
    return flops / t_ember / 1e9, flops / t_numpy / 1e9


def check(ours: np.ndarray, ref: np.ndarray, k: int, tf32: bool = False) -> None:
    rel = 3e-3 if tf32 else 1e-4 if ours.dtype == np.float32 else 1e-12
    tol = rel * np.sqrt(k) * np.abs(ref).max()
    err = np.abs(ours.astype(np.float64) - ref).max()
    if err > tol:
        raise SystemExit(f"ember matmul gives wrong results: max error {err:.3g} > {tol:.3g}")


def row(label: str, dtype: str, g_ember: float, g_numpy: float) -> None:
    print(f"{label:>22}  {dtype:>8}  {g_ember:10.1f}  {g_numpy:10.1f}  {g_ember / g_numpy:6.2f}")


def cuda_main(args) -> None:
    """ember's hand-written CUDA GEMM against cuBLAS (torch) on the same GPU: float32 with
    TF32 off on both sides, or with --tf32 on both (ember's WMMA tensor-core kernel)."""
    import sys

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import ember
    from _gpu import gpu_times, require_cuda, torch_cuda

    require_cuda()
    torch = torch_cuda()
    if torch is not None:  # fp32 against fp32, or TF32 against TF32
        torch.backends.cuda.matmul.allow_tf32 = args.tf32
    ember.set_float32_matmul_precision("high" if args.tf32 else "highest")
    mode = "TF32 on" if args.tf32 else "TF32 off"
    sizes = args.sizes if args.sizes_given else [1024, 2048, 4096]
    rng = np.random.default_rng(0)
    print(f"GPU GEMM ({mode} in both libraries), median of {args.repeats}; reference: "
          f"{'torch ' + torch.__version__ + ' (cuBLAS)' if torch else 'none'}")
    print(f"{'size':>22}  {'dtype':>8}  {'ember GF/s':>10}  {'torch GF/s':>10}  {'ratio':>6}")
    for dtype in args.dtype:
        for n in sizes:
            a = rng.standard_normal((n, n)).astype(dtype)
            b = rng.standard_normal((n, n)).astype(dtype)
            ea, eb = ember.tensor(a, device="cuda"), ember.tensor(b, device="cuda")
            with ember.no_grad():
                if n <= 2048:
                    check((ea @ eb).cpu().numpy(), a.astype(np.float64) @ b.astype(np.float64), n,
                          tf32=args.tf32 and dtype == "float32")
                fns = [lambda ea=ea, eb=eb: ea @ eb]
                if torch is not None:
                    ta, tb = torch.tensor(a, device="cuda"), torch.tensor(b, device="cuda")
                    fns.append(lambda ta=ta, tb=tb: ta @ tb)
                times = gpu_times(fns, args.repeats)
            g = [2.0 * n**3 / t / 1e9 for t in times]
            ref = f"{g[1]:10.1f}  {g[0] / g[1]:6.2f}" if len(g) > 1 else f"{'-':>10}  {'-':>6}"
            print(f"{f'{n}x{n}x{n}':>22}  {dtype:>8}  {g[0]:10.1f}  {ref}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=None)
    parser.add_argument("--dtype", nargs="+", default=["float32", "float64"],
                        choices=["float32", "float64"])
    parser.add_argument("--no-batched", action="store_true",
                        help="skip the batched small-matrix case")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                        help="cuda: ember's GPU GEMM against torch/cuBLAS (fp32, TF32 off)")
    parser.add_argument("--repeats", type=int, default=10, help="(--device cuda) timings")
    parser.add_argument("--tf32", action="store_true",
                        help="(--device cuda) float32 on tensor cores (TF32) in both libraries")
    args = parser.parse_args()
    args.sizes_given = args.sizes is not None
    if args.sizes is None:
        args.sizes = [256, 512, 1024, 2048]
    if args.device == "cuda":
        cuda_main(args)
        return

    rng = np.random.default_rng(0)
    print(f"ember: {_C.num_threads()} OpenMP threads, GEMM kernel {_C.gemm_kernels()[0]}")
    print(blas_info())
    coretype = os.environ.get("OPENBLAS_CORETYPE")
    if coretype:
        print(f"note: OPENBLAS_CORETYPE={coretype} is set, NumPy may not use its best kernel")
    print(f"{'size':>22}  {'dtype':>8}  {'ember GF/s':>10}  {'numpy GF/s':>10}  {'ratio':>6}")

    for dtype in args.dtype:
        for n in args.sizes:
            a = rng.standard_normal((n, n)).astype(dtype)
            b = rng.standard_normal((n, n)).astype(dtype)
            check(_C.matmul(a, b), a.astype(np.float64) @ b.astype(np.float64), n)
            g_ember, g_numpy = compare(lambda a=a, b=b: _C.matmul(a, b),
                                       lambda a=a, b=b: np.matmul(a, b), 2.0 * n**3)
            row(f"{n}x{n}x{n}", dtype, g_ember, g_numpy)

    if not args.no_batched:
        # Attention-style: (batch, L, d) x (batch, d, L) with many small matrices.
        batch, m, k, n = 64, 128, 64, 128
        for dtype in args.dtype:
            a = rng.standard_normal((batch, m, k)).astype(dtype)
            b = rng.standard_normal((batch, k, n)).astype(dtype)
            check(_C.matmul(a, b), a.astype(np.float64) @ b.astype(np.float64), k)
            g_ember, g_numpy = compare(lambda a=a, b=b: _C.matmul(a, b),
                                       lambda a=a, b=b: np.matmul(a, b), 2.0 * batch * m * n * k)
            row(f"{batch}x({m}x{k}x{n})", dtype, g_ember, g_numpy)


if __name__ == "__main__":
    main()
