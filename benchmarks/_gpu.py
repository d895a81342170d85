"""Shared helpers of the benchmarks' ``--device cuda`` mode.

GPU work is asynchronous, so every timing brackets the call with a device synchronisation
(ember's own when the CUDA backend offers one, and PyTorch's, which waits for the whole
device). Without CUDA the benchmarks print why and exit with status 0.
"""

from __future__ import annotations

import statistics
import sys
import time


def require_cuda() -> None:
    """Exit(0) with a clear message when ember has no usable CUDA device."""
    import ember

    if not ember.cuda.is_available():
        try:
            from ember import _cuda  # noqa: F401
            reason = "no CUDA GPU is visible"
        except ImportError:
            reason = "ember was built without its CUDA backend"
        print(f"--device cuda: CUDA is not available ({reason}); nothing to benchmark.")
        sys.exit(0)


def torch_cuda():
    """The torch module when PyTorch with a visible GPU is installed, else None."""
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


def synchronize() -> None:
    """Wait until all queued GPU work (ember's and torch's) has finished."""
    import ember

    synced = False
    for owner in (ember.cuda, getattr(ember, "_cuda", None)):
        fn = getattr(owner, "synchronize", None) if owner is not None else None
        if fn is not None:
            fn()
            synced = True
            break
    torch = torch_cuda()
    if torch is not None:
        torch.cuda.synchronize()  # cudaDeviceSynchronize: covers ember's streams too
        synced = True
    if not synced:
        raise SystemExit("--device cuda: cannot synchronise the GPU (neither "
                         "ember.cuda.synchronize nor PyTorch is available)")


def gpu_times(fns, repeats: int, warmup: int = 2) -> list[float]:
    """Median seconds per call of each function, the functions timed alternately."""
    for fn in fns:
        for _ in range(warmup):
            fn()
    synchronize()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            synchronize()
            t0 = time.perf_counter()
            fn()
            synchronize()
            times[i].append(time.perf_counter() - t0)
    return [statistics.median(t) for t in times]
