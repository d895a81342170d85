"""ember's fused attention against PyTorch's CPU ``scaled_dot_product_attention``, same run.

    python benchmarks/bench_attention.py [--repeats 5] [--dtype float32] [--no-memory]
                                         [--memory-only]
    python benchmarks/bench_attention.py --device cuda   (B=8, H=16, L=2048, D=64 on the GPU)

Speed: for each case (B, H, L, D), causal or not, times the forward and the
forward + backward of ``ember.nn.functional.scaled_dot_product_attention`` and of
``torch.nn.functional.scaled_dot_product_attention`` (both through their autograd, both
with the machine's threads), alternating the two libraries so background load hits both
alike, and prints the median time, GFLOP/s and the ratio torch_time / ember_time (> 1:
ember is faster). FLOPs follow the FlashAttention papers: forward 4 B H L^2 D (two
matmuls), backward 2.5x that; halved under a causal mask.

Memory: native allocations are invisible to tracemalloc, so each (library, L) runs in a
fresh subprocess that resets its peak RSS (VmHWM, via /proc/self/clear_refs) after
creating the inputs and reads it after one forward + backward; the growth is what the op
allocated at its peak. The fused kernel keeps O(block) scratch per thread, so the growth is
linear in L (outputs and gradients,
~6 B H L D floats) -- the last column shows the size one B x H x L x L score matrix would
have had.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CASES = [(8, 8, 256, 64), (4, 8, 1024, 64)]
MEMORY_LENGTHS = [512, 1024, 2048, 4096]


def flops(b, h, length, d, causal, backward):
    f = 4.0 * b * h * length * length * d * (0.5 if causal else 1.0)
    return f * (3.5 if backward else 1.0)


def make_runners(b, h, length, d, causal, dtype):
    import ember
    import numpy as np
    import torch

    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((b, h, length, d)).astype(dtype) for _ in range(3)]
    grad = rng.standard_normal((b, h, length, d)).astype(dtype)
    F = ember.nn.functional
    et = [ember.tensor(a, requires_grad=True) for a in arrays]
    tt = [torch.tensor(a, requires_grad=True) for a in arrays]
    eg, tg = ember.tensor(grad), torch.tensor(grad)

    def ember_fwd():
        with ember.no_grad():
            F.scaled_dot_product_attention(*et, is_causal=causal)

    def ember_fwd_bwd():
        F.scaled_dot_product_attention(*et, is_causal=causal).backward(eg)
        for t in et:
            t.grad = None

    def torch_fwd():
        with torch.no_grad():
            torch.nn.functional.scaled_dot_product_attention(*tt, is_causal=causal)

    def torch_fwd_bwd():
        torch.nn.functional.scaled_dot_product_attention(*tt, is_causal=causal).backward(tg)
        for t in tt:
            t.grad = None

    return (ember_fwd, torch_fwd), (ember_fwd_bwd, torch_fwd_bwd)


def time_pair(pair, repeats):
    for f in pair:  # warm-up
        f()
    times = ([], [])
    for _ in range(repeats):
        for i, f in enumerate(pair):
            t0 = time.perf_counter()
            f()
            times[i].append(time.perf_counter() - t0)
    return statistics.median(times[0]), statistics.median(times[1])


def speed(args):
    import torch

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; dtype {args.dtype}; "
          f"median of {args.repeats}")
    header = (f"{'B':>3} {'H':>3} {'L':>5} {'D':>3} {'causal':>6} {'pass':>8} | "
              f"{'ember ms':>9} {'GFLOP/s':>8} | {'torch ms':>9} {'GFLOP/s':>8} | "
              f"{'ratio':>5}")
    print(header)
    print("-" * len(header))
    for b, h, length, d in CASES:
        for causal in (False, True):
            runners = make_runners(b, h, length, d, causal, args.dtype)
            for name, pair, bwd in (("fwd", runners[0], False),
                                    ("fwd+bwd", runners[1], True)):
                te, tt = time_pair(pair, args.repeats)
                fl = flops(b, h, length, d, causal, bwd) / 1e9
                print(f"{b:>3} {h:>3} {length:>5} {d:>3} {str(causal):>6} {name:>8} | "
                      f"{te * 1e3:>9.2f} {fl / te:>8.1f} | {tt * 1e3:>9.2f} {fl / tt:>8.1f} | "
                      f"{tt / te:>5.2f}")


def cuda_speed(args):
    """ember's CUDA flash attention against torch's SDPA on the same GPU."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import ember
    import numpy as np
    from _gpu import gpu_times, require_cuda, torch_cuda

    require_cuda()
    torch = torch_cuda()
    F = ember.nn.functional
    print(f"GPU attention, dtype {args.dtype}, median of {args.repeats}; reference: "
          f"{'torch ' + torch.__version__ + ' SDPA' if torch else 'none'}")
    header = (f"{'B':>3} {'H':>3} {'L':>5} {'D':>3} {'causal':>6} {'pass':>8} | "
              f"{'ember ms':>9} {'GFLOP/s':>8} | {'torch ms':>9} {'GFLOP/s':>8} | {'ratio':>5}")
    print(header)
    print("-" * len(header))
    rng = np.random.default_rng(0)
    for b, h, length, d in [tuple(args.shape)]:
        arrays = [rng.standard_normal((b, h, length, d)).astype(args.dtype) for _ in range(4)]
        et = [ember.tensor(a, device="cuda", requires_grad=True) for a in arrays[:3]]
        eg = ember.tensor(arrays[3], device="cuda")
        tt, tg = None, None  # PyTorch's copies, when it has a GPU
        if torch is not None:
            tt = [torch.tensor(a, device="cuda", requires_grad=True) for a in arrays[:3]]
            tg = torch.tensor(arrays[3], device="cuda")
        for causal in (True, False):
            def e_fwd(et=et, causal=causal):
                with ember.no_grad():
                    F.scaled_dot_product_attention(*et, is_causal=causal)

            def e_bwd(et=et, causal=causal, eg=eg):
                F.scaled_dot_product_attention(*et, is_causal=causal).backward(eg)
                for t in et:
                    t.grad = None

            def t_fwd(tt=tt, causal=causal):
                with torch.no_grad():
                    torch.nn.functional.scaled_dot_product_attention(*tt, is_causal=causal)

            def t_bwd(tt=tt, causal=causal, tg=tg):
                torch.nn.functional.scaled_dot_product_attention(*tt, is_causal=causal).backward(tg)
                for t in tt:
                    t.grad = None

            for name, pair, bwd in (("fwd", (e_fwd, t_fwd), False),
                                    ("fwd+bwd", (e_bwd, t_bwd), True)):
                fns = pair if torch is not None else pair[:1]
                times = gpu_times(fns, args.repeats)
                fl = flops(b, h, length, d, causal, bwd) / 1e9
                ref = (f"{times[1] * 1e3:>9.2f} {fl / times[1]:>8.1f} | "
                       f"{times[1] / times[0]:>5.2f}") if len(times) > 1 else "-"
                print(f"{b:>3} {h:>3} {length:>5} {d:>3} {str(causal):>6} {name:>8} | "
                      f"{times[0] * 1e3:>9.2f} {fl / times[0]:>8.1f} | {ref}")


# ---------------------------------------------------------------------------- memory
def _child(lib, b, h, length, d):
    """Runs in a subprocess: peak-RSS growth (bytes) of one forward + backward."""
    import numpy as np

    def status(field):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024  # kB
        raise RuntimeError(f"no {field} in /proc/self/status")

    def start():
        # Linux: writing 5 to clear_refs resets the peak (VmHWM) to the current RSS, so the
        # imports' transient peak does not hide the growth we measure.
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return status("VmRSS")

    def peak():
        return status("VmHWM")

    rng = np.random.default_rng(0)
    # float32 straight away: a freed float64 temporary would hide the growth we measure
    arrays = [rng.standard_normal((b, h, length, d), dtype=np.float32) for _ in range(4)]
    if lib == "ember":
        import ember

        ts = [ember.tensor(a, requires_grad=True) for a in arrays[:3]]
        g = ember.tensor(arrays[3])
        ember.nn.functional.scaled_dot_product_attention(  # warm: import-time allocations
            *[ember.tensor(a[:1, :1, :8]) for a in arrays[:3]])
        before = start()
        ember.nn.functional.scaled_dot_product_attention(*ts).backward(g)
    else:
        import torch

        ts = [torch.tensor(a, requires_grad=True) for a in arrays[:3]]
        g = torch.tensor(arrays[3])
        torch.nn.functional.scaled_dot_product_attention(
            *[torch.tensor(a[:1, :1, :8]) for a in arrays[:3]])
        before = start()
        torch.nn.functional.scaled_dot_product_attention(*ts).backward(g)
    print(json.dumps(peak() - before))


def memory():
    b, h, d = 1, 8, 64
    print(f"\npeak RSS growth of one forward + backward (B={b}, H={h}, D={d}, float32, "
          "no causal mask), fresh subprocess each")
    header = (f"{'L':>5} | {'ember MiB':>9} {'/ (B H L D 4B)':>14} | {'torch MiB':>9} | "
              f"{'one BxHxLxL matrix MiB':>22}")
    print(header)
    print("-" * len(header))
    for length in MEMORY_LENGTHS:
        res = {}
        for lib in ("ember", "torch"):
            out = subprocess.run([sys.executable, __file__, "--child", lib, str(b), str(h),
                                  str(length), str(d)], capture_output=True, text=True,
                                 check=True, env=os.environ)
            res[lib] = json.loads(out.stdout.strip().splitlines()[-1]) / 2**20
        unit = b * h * length * d * 4 / 2**20
        print(f"{length:>5} | {res['ember']:>9.1f} {res['ember'] / unit:>14.1f} | "
              f"{res['torch']:>9.1f} | {b * h * length * length * 4 / 2**20:>22.1f}")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        lib, b, h, length, d = sys.argv[2], *map(int, sys.argv[3:7])
        _child(lib, b, h, length, d)
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--no-memory", action="store_true")
    p.add_argument("--memory-only", action="store_true")
    p.add_argument("--shape", type=int, nargs=4, default=[8, 16, 2048, 64],
                   metavar=("B", "H", "L", "D"), help="(--device cuda) the problem size")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                   help="cuda: ember's GPU kernels against torch SDPA on the GPU (speed only)")
    args = p.parse_args()
    if args.device == "cuda":
        cuda_speed(args)
        return
    if not args.memory_only:
        speed(args)
    if not args.no_memory:
        memory()


if __name__ == "__main__":
    main()
