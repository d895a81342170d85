"""ember's conv2d (implicit GEMM on its packed GEMM) against PyTorch's CPU conv, in the same run.

    python benchmarks/bench_conv2d.py [--dtype float32] [--rounds 4] [--device cuda]

For each layer shape: forward, and forward + backward (dx and dw) through the public API
(``ember.nn.functional.conv2d`` and ``Tensor.backward``), in GFLOP/s and as the ratio
ember / reference. Forward counts 2 N C_out OH OW C_in/G kH kW flops; forward + backward
counts three times that (dx and dw each cost one forward). Each timing is the best of
several repeats, timed in alternating rounds so background load hits both alike.

The reference is PyTorch (same thread count as ember's OpenMP) when it is installed,
otherwise a NumPy im2col + matmul conv (NumPy's BLAS). With ``--device cuda``: ember's
implicit-GEMM CUDA kernels against PyTorch's GPU conv (cuDNN) when PyTorch has CUDA, medians
of synchronised timings.
"""

from __future__ import annotations

import argparse
import time

import ember
import ember.nn.functional as F
import numpy as np
from ember import _C

# (label, N, C_in, H, W, C_out, k, stride, padding)
SHAPES = [
    ("N32 64->64 16x16 k3", 32, 64, 16, 16, 64, 3, 1, 1),
    ("N8 128->128 28x28 k3", 8, 128, 28, 28, 128, 3, 1, 1),
    ("N32 3->16 32x32 k3", 32, 3, 32, 32, 16, 3, 1, 1),
]


def best_time(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def compare(ours, ref, rounds: int, min_time: float = 0.2) -> tuple[float, float]:
    """Best seconds per call of both, in interleaved rounds after a warm-up."""
    ours()
    ref()
    one = max(best_time(ours, 1), best_time(ref, 1), 1e-6)
    repeats = max(2, min(30, int(min_time / one)))
    t_ours = t_ref = float("inf")
    for _ in range(rounds):
        time.sleep(0.05)  # let the other library's worker threads go idle
        t_ours = min(t_ours, best_time(ours, repeats))
        time.sleep(0.05)
        t_ref = min(t_ref, best_time(ref, repeats))
    return t_ours, t_ref


def ember_fns(x, w, dy, stride, padding, device="cpu"):
    """Forward, and forward + backward, through ember's public API."""
    ex = ember.tensor(x, requires_grad=True, device=device)
    ew = ember.tensor(w, requires_grad=True, device=device)
    edy = ember.tensor(dy, device=device)

    def fwd():
        with ember.no_grad():
            F.conv2d(ex, ew, None, stride, padding)

    def fwd_bwd():
        ex.grad = ew.grad = None
        F.conv2d(ex, ew, None, stride, padding).backward(edy)

    return fwd, fwd_bwd


def layer_data(rng, dtype, n, c, h, wd, co, k, s, p):
    """Input, weight and output gradient of one layer shape, and its forward flops."""
    x = rng.standard_normal((n, c, h, wd)).astype(dtype)
    w = (rng.standard_normal((co, c, k, k)) / np.sqrt(c * k * k)).astype(dtype)
    oh, ow = (h + 2 * p - k) // s + 1, (wd + 2 * p - k) // s + 1
    dy = rng.standard_normal((n, co, oh, ow)).astype(dtype)
    return x, w, dy, 2.0 * n * co * oh * ow * c * k * k


def cuda_main(args) -> None:
    """ember's CUDA conv2d against PyTorch's (cuDNN) on the same GPU."""
    import os
    import sys

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _gpu import gpu_times, require_cuda, torch_cuda

    require_cuda()
    torch = torch_cuda()
    print(f"GPU conv2d, {args.dtype}, GFLOP/s from the median of {args.rounds} synchronised runs; "
          f"reference: {'torch ' + torch.__version__ + ' (cuDNN)' if torch else 'none'}")
    print(f"{'layer':>22}  {'pass':>8}  {'ember':>8}  {'ref':>8}  {'ratio':>6}")
    rng = np.random.default_rng(0)
    for label, *shape in SHAPES:
        if args.batch:  # another batch size than the table's
            shape[0] = args.batch
            label = f"N{args.batch} " + label.split(" ", 1)[1]
        x, w, dy, flops = layer_data(rng, args.dtype, *shape)
        s, p = shape[-2], shape[-1]
        ours = ember_fns(x, w, dy, s, p, device="cuda")
        refs = torch_fns(x, w, dy, s, p, device="cuda") if torch else (None, None)
        for name, e_fn, r_fn, f in (("fwd", ours[0], refs[0], flops),
                                    ("fwd+bwd", ours[1], refs[1], 3 * flops)):
            times = gpu_times([e_fn, r_fn] if r_fn else [e_fn], args.rounds)
            g_ours = f / times[0] / 1e9
            g_ref = f / times[1] / 1e9 if r_fn else float("nan")
            print(f"{label:>22}  {name:>8}  {g_ours:8.1f}  {g_ref:8.1f}  {g_ours / g_ref:6.2f}")


# ---------------------------------------------------------------------------- references
def torch_fns(x, w, dy, stride, padding, device="cpu"):
    import torch

    tx = torch.tensor(x, requires_grad=True, device=device)
    tw = torch.tensor(w, requires_grad=True, device=device)
    tdy = torch.tensor(dy, device=device)

    def fwd():
        with torch.no_grad():
            torch.nn.functional.conv2d(tx, tw, None, stride, padding)

    def fwd_bwd():
        tx.grad = tw.grad = None
        torch.nn.functional.conv2d(tx, tw, None, stride, padding).backward(tdy)

    return fwd, fwd_bwd


def numpy_fns(x, w, dy, stride, padding):
    """conv2d as im2col (sliding_window_view) + one matmul; backward the same way."""
    n, c, h, wd = x.shape
    co, _, kh, kw = w.shape
    w2 = w.reshape(co, -1)

    def cols(a):
        ap = np.pad(a, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
        win = np.lib.stride_tricks.sliding_window_view(ap, (kh, kw), axis=(2, 3))
        win = win[:, :, ::stride, ::stride]  # (n, c, oh, ow, kh, kw)
        return win.transpose(0, 2, 3, 1, 4, 5).reshape(n, win.shape[2] * win.shape[3], -1)

    def fwd():
        return cols(x) @ w2.T  # (n, P, co)

    def fwd_bwd():
        col = cols(x)
        col @ w2.T
        g = dy.reshape(n, co, -1)  # (n, co, P)
        np.einsum("nop,npk->ok", g, col, optimize=True)  # dw
        dcol = g.transpose(0, 2, 1) @ w2  # (n, P, K) then col2im (scatter-add)
        dxp = np.zeros((n, c, h + 2 * padding, wd + 2 * padding), x.dtype)
        oh, ow = dy.shape[2:]
        dcol = dcol.reshape(n, oh, ow, c, kh, kw)
        for i in range(kh):
            for j in range(kw):
                dxp[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride] += \
                    dcol[..., i, j].transpose(0, 3, 1, 2)

    return fwd, fwd_bwd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--numpy", action="store_true", help="compare with NumPy even if "
                        "PyTorch is installed")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--batch", type=int, default=None,
                        help="(--device cuda) batch size N instead of the table's")
    args = parser.parse_args()
    if args.device == "cuda":
        cuda_main(args)
        return

    threads = _C.num_threads()
    try:
        if args.numpy:
            raise ImportError
        import torch

        torch.set_num_threads(threads)
        ref_name, make_ref = f"torch {torch.__version__}", torch_fns
    except ImportError:
        ref_name, make_ref = "numpy im2col+matmul", numpy_fns
    print(f"ember: {threads} OpenMP threads, GEMM kernel {_C.gemm_kernels()[0]}; "
          f"reference: {ref_name} ({threads} threads); {args.dtype}; GFLOP/s, best of N")
    print(f"{'layer':>22}  {'pass':>8}  {'ember':>8}  {'ref':>8}  {'ratio':>6}")

    rng = np.random.default_rng(0)
    for label, n, c, h, wd, co, k, s, p in SHAPES:
        x, w, dy, flops = layer_data(rng, args.dtype, n, c, h, wd, co, k, s, p)

        e_fwd, e_fwd_bwd = ember_fns(x, w, dy, s, p)
        r_fwd, r_fwd_bwd = make_ref(x, w, dy, s, p)
        for name, ours, ref, f in (("fwd", e_fwd, r_fwd, flops),
                                   ("fwd+bwd", e_fwd_bwd, r_fwd_bwd, 3 * flops)):
            t_ours, t_ref = compare(ours, ref, args.rounds)
            g_ours, g_ref = f / t_ours / 1e9, f / t_ref / 1e9
            print(f"{label:>22}  {name:>8}  {g_ours:8.1f}  {g_ref:8.1f}  {g_ours / g_ref:6.2f}")


if __name__ == "__main__":
    main()
