"""The CUDA kernels on the CPU: ember._cuda built against the CUDA emulator (tests/cuda_emulator).

csrc/cuda is compiled with g++ against an emulated CUDA runtime in which every GPU thread is
a fiber, and the device half of the op table (tests/test_ops.py's "cuda" cases: every op
and kernel-path sample against NumPy and the CPU), tests/test_cuda.py and
tests/test_device_parity.py run on that module, in a separate process: the real GEMM,
conv2d, flash-attention, Adam, elementwise, reduction, indexing, random and pooling
kernels, launched by the real bindings through ``ember/backend/cuda.py``, compared with the
CPU backend. So a wrong index, a missing barrier
or a launch-configuration error in a kernel fails CI, which has no GPU. (Timing and
GPU-specific behaviour still need a GPU; where one is present the real suites run there and
this file's suite steps aside.) Everything that builds or runs the emulator is marked
``slow``: ``pytest -m "not slow"`` leaves it out.

The emulator's own checks come first: it must run CUDA's execution model (barriers, warp
shuffles, shared memory, atomics, 3-D indexing) faithfully and report misuse.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE / "cuda_emulator"))
import emulator  # noqa: E402  (tests/cuda_emulator/emulator.py)


def _build_dir() -> Path:
    return Path(os.environ.get("EMBER_CUDA_EMULATOR_BUILD", emulator.DEFAULT_BUILD_DIR))


@pytest.fixture(scope="module")
def emulated_cuda() -> Path:
    """Builds (or brings up to date) the emulated ember._cuda; returns its path."""
    if shutil.which("cmake") is None or shutil.which("c++") is None:
        pytest.skip("the CUDA emulator needs cmake and a C++ compiler")
    pytest.importorskip("pybind11", reason="the CUDA emulator builds with pybind11")
    return emulator.build(_build_dir())


@pytest.fixture(scope="module")
def selftest(emulated_cuda):
    path = next(emulated_cuda.parent.glob("_emulator_selftest*"))
    spec = importlib.util.spec_from_file_location("_emulator_selftest", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------ the emulator itself
def test_translation_rewrites_launches_and_dynamic_shared_memory():
    src = ("  kern<T, 4><<<grid, 256, smem, stream>>>(a, b);\n"
           "  plain<<<n, 32>>>(x);  // comment <<<not a launch>>>\n"
           "  extern __shared__ __align__(16) float smem[];\n")
    out = emulator.translate_source(src, "x.cu", plain={"plain"})
    assert ('::cuda_emu::launch("kern<T, 4>", reinterpret_cast<const void*>(&kern<T, 4>), '
            "[](auto&... emu_args) { kern<T, 4>(emu_args...); }, grid, 256, smem, stream)(a, b);"
            in out)
    assert "reinterpret_cast<const void*>(&plain)" in out
    shared = emulator.translate_source("  __shared__ __align__(16) T As[2][8 * (BM + 4)];\n", "x")
    assert ("T (&As)[2][8 * (BM + 4)] = *static_cast<T (*)[2][8 * (BM + 4)]>("
            "::cuda_emu::static_shared(&As_site_, sizeof(T[2][8 * (BM + 4)]), 16));" in shared)
    assert "float* smem = static_cast<float*>(::cuda_emu::dynamic_shared_memory());" in out
    assert out.count("\n") == src.count("\n")  # line numbers in errors stay the source's
    with pytest.raises(ValueError, match="x.cu:1"):
        emulator.translate_source("if (c) k<<<1, 1>>>\n(x);\n", "x.cu")


def test_deduced_template_kernels_have_no_address():
    out = emulator.translate_source("  unary_kernel<<<n, 256>>>(out, x);\n", "x.cu")
    assert '::cuda_emu::launch("unary_kernel", nullptr,' in out


@pytest.mark.slow
def test_barrier_orders_shared_memory(selftest):
    x = np.arange(512, dtype=np.float32)
    out = selftest.run("reverse", x.tolist(), blocks=2, threads=256)
    expected = np.concatenate([x[:256][::-1], x[256:][::-1]])
    np.testing.assert_array_equal(out, expected)


@pytest.mark.slow
def test_missing_barrier_shows_up_as_wrong_results(selftest):
    # Each fiber runs until it waits, so thread 0 reads the tile before the others wrote it:
    # the race a GPU may or may not expose, the emulator exposes every time.
    x = np.arange(256, dtype=np.float32)
    out = selftest.run("reverse_unsynchronised", x.tolist(), blocks=1, threads=256)
    assert not np.array_equal(out, x[::-1])


@pytest.mark.slow
def test_warp_shuffles_and_shared_partials_sum_a_block(selftest):
    x = np.random.default_rng(0).standard_normal(256).astype(np.float32)
    out = selftest.run("block_sum", x.tolist(), blocks=1, threads=256)
    assert out[0] == pytest.approx(float(x.astype(np.float64).sum()), rel=1e-5)


@pytest.mark.slow
def test_shuffle_width_keeps_segments_apart(selftest):
    x = np.arange(32, dtype=np.float32)
    out = np.array(selftest.run("segment_shuffle", x.tolist(), threads=32))
    np.testing.assert_array_equal(out, x.reshape(-1, 2)[:, ::-1].reshape(-1))


@pytest.mark.slow
def test_atomics_count_every_thread_of_every_block(selftest):
    out = selftest.run("atomic_count", [0.0], blocks=3, threads=100)
    assert out[0] == 300


@pytest.mark.slow
def test_three_dimensional_grids_and_blocks(selftest):
    n = 2 * 2 * 3 * 4 * 2 * 2  # grid (2, 2, 3), block (4, 2, 2)
    out = selftest.run("index_3d", [0.0] * n, blocks=2, threads=4)
    np.testing.assert_array_equal(out, np.arange(n, dtype=np.float32))


@pytest.mark.slow
def test_threads_that_return_early_do_not_block_barriers(selftest):
    x = np.arange(32, dtype=np.float32)
    out = np.array(selftest.run("early_exit", x.tolist(), threads=32))
    np.testing.assert_array_equal(out[:8], x[:8][::-1])
    np.testing.assert_array_equal(out[8:], x[8:])


@pytest.mark.slow
def test_dynamic_shared_memory_and_its_limit(selftest):
    x = np.arange(64, dtype=np.float32)
    out = selftest.run("dynamic_shared", x.tolist(), threads=64, smem=64 * 4)
    np.testing.assert_array_equal(out, np.roll(x, -1))
    # Over 48 KiB needs cudaFuncSetAttribute first, as on the hardware.
    with pytest.raises(RuntimeError, match="cudaErrorInvalidValue"):
        selftest.run("dynamic_shared", x.tolist(), threads=64, smem=100_000)
    out = selftest.run("dynamic_shared_opt_in", x.tolist(), threads=64, smem=100_000)
    np.testing.assert_array_equal(out, np.roll(x, -1))


@pytest.mark.slow
def test_shared_memory_is_fresh_garbage_for_every_block(selftest):
    # the second block must not see what the first one left (a static would keep it)
    x = np.zeros(2 * 64, dtype=np.float32)
    out = np.array(selftest.run("unwritten_shared", x.tolist(), blocks=2, threads=64))
    assert np.isnan(out).all()


@pytest.mark.slow
def test_static_shared_memory_over_48_kib_is_an_error(selftest):
    with pytest.raises(RuntimeError, match="over the 48 KiB limit"):
        selftest.run("too_much_shared", [0.0] * 32, threads=32)


@pytest.mark.slow
def test_launch_bounds_are_enforced(selftest):
    assert selftest.run("bounded", [0.0] * 64, threads=64) == [1.0] * 64
    with pytest.raises(RuntimeError, match=r"128 threads per block, over its __launch_bounds__"):
        selftest.run("bounded", [0.0] * 128, threads=128)


@pytest.mark.slow
def test_invalid_launch_configuration_fails_the_launch(selftest):
    with pytest.raises(RuntimeError, match="cudaErrorInvalidConfiguration"):
        selftest.run("atomic_count", [0.0], threads=2048)
    with pytest.raises(RuntimeError, match="cudaErrorInvalidConfiguration"):
        selftest.run("atomic_count", [0.0], blocks=0)


@pytest.mark.slow
def test_divergent_barriers_are_reported_not_hung(selftest):
    with pytest.raises(RuntimeError, match="divergent_barrier_kernel.*deadlock"):
        selftest.run("divergent_barrier", [0.0] * 32, threads=32)


# ------------------------------------------------------------------ ember's kernels on it
def _libasan() -> str | None:
    """The compiler's AddressSanitizer runtime, to preload into the Python that runs the
    sanitized module; None where the compiler has none."""
    try:
        path = subprocess.run(["c++", "-print-file-name=libasan.so"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return path if os.path.isabs(path) and os.path.exists(path) else None


# The suites the emulated module runs: the op table on the "cuda" device parameter, and
# the CUDA and device-parity files (whose tests all match -k cuda: the module's name, or
# their device parameter).
SUITES = [str(HERE / "test_ops.py"), str(HERE / "test_cuda.py"),
          str(HERE / "test_device_parity.py")]
# Which of their cases each mode runs (pytest -k). plain: every "cuda" case. The sanitized,
# shuffled run checks memory accesses and barriers, not arithmetic: float64 cases index
# memory as their float32 twins do, except where a kernel has float64 tiles of its own
# (GEMM -- matmul, mm, linear, conv --, attention), so the rest of them are left to plain.
SELECT = {"plain": "cuda",
          "asan_shuffled": "cuda and (not float64 or mm or linear or conv or attention)"}


def _start_suites(mode: str, plain_module: Path, out: Path) -> subprocess.Popen | None:
    """Starts the suites on the emulated module in a process of their own (None when this
    compiler cannot sanitize). asan_shuffled: under AddressSanitizer (the allocator's blocks
    poisoned past each array's end and after release), an out-of-bounds or use-after-free
    access in a kernel stops the run with a report; and the threads of each block run in a
    shuffled order, so a missing barrier shows up as wrong results whichever thread writes
    first. (The two checks are independent -- which memory a kernel touches does not depend
    on the order its threads run in -- so one run does both.)"""
    env, module = dict(os.environ), plain_module
    if mode == "asan_shuffled":
        libasan = _libasan()
        if libasan is None:
            return None
        module = emulator.build(_build_dir(), sanitize=True)
        env["CUDA_EMU_SCHEDULE"] = "shuffle"
        libubsan = libasan.replace("libasan", "libubsan")
        env["LD_PRELOAD"] = " ".join(p for p in (libasan, libubsan) if os.path.exists(p))
        # a report goes to a file: pytest's capture would swallow it with the crash
        env["ASAN_OPTIONS"] = f"detect_leaks=0:halt_on_error=1:log_path={out / 'asan'}"
        env["UBSAN_OPTIONS"] = "halt_on_error=1:print_stacktrace=1"
    env["EMBER_EMULATED_CUDA"] = str(module)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SUITES,
           "-k", SELECT[mode]]
    with open(out / f"{mode}.log", "w") as log:  # a file, not a pipe: no full-buffer stall
        return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)


@pytest.fixture(scope="module")
def suite_runs(emulated_cuda, tmp_path_factory):
    """Both modes' runs, started together: each is one single-threaded process (the emulator
    runs one fiber at a time), so on two cores they take the time of the longer one."""
    import ember

    if ember.cuda.is_available():
        pytest.skip("a real GPU runs the real suites")
    out = tmp_path_factory.mktemp("suites")
    runs = {mode: (_start_suites(mode, emulated_cuda, out), out) for mode in SELECT}
    yield runs
    for proc, _ in runs.values():
        if proc is not None and proc.poll() is None:
            proc.kill()


@pytest.mark.slow
@pytest.mark.parametrize("mode", sorted(SELECT, reverse=True))  # plain first
def test_cuda_suites_pass_on_the_emulated_kernels(suite_runs, mode):
    """The op table's "cuda" cases, test_cuda.py and test_device_parity.py on the emulated
    module: plain (threads in thread order), and asan_shuffled (see _start_suites)."""
    proc, out = suite_runs[mode]
    if proc is None:
        pytest.skip("the compiler has no AddressSanitizer runtime")
    # (a guard against a hang: under AddressSanitizer on 2 busy cores the suites took ~20 min)
    proc.wait(timeout=2400)
    tail = "\n".join((out / f"{mode}.log").read_text().splitlines()[-40:])
    reports = "".join(p.read_text()[:6000] for p in out.glob("asan*"))
    assert proc.returncode == 0, tail + "\n" + reports
    assert " passed" in tail and "failed" not in tail, tail


def run_script(emulated_cuda: Path, script: Path, *args: str) -> str:
    """`emulator.py run script args` (the script on the emulated GPU, in a new process) with
    the module the fixture built; returns its stdout after checking it exited with 0."""
    cmd = [sys.executable, str(HERE / "cuda_emulator" / "emulator.py"), "run",
           "--build-dir", str(emulated_cuda.parents[2]), str(script), *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
def test_demo_trains_on_the_emulated_gpu_like_on_the_cpu(emulated_cuda, tmp_path):
    """The README's demo with --device cuda: the model, data and optimizer moved to the
    device, every kernel of a training run -- and the same learning curve as on the CPU."""
    pytest.importorskip("sklearn")

    def run(device: str) -> list[str]:
        out = tmp_path / device
        stdout = run_script(emulated_cuda, HERE.parent / "examples" / "demo.py", "--device",
                            device, "--epochs", "3", "--out", str(out))
        return [line for line in stdout.splitlines()
                if line.startswith(("epoch", "test accuracy"))]

    cpu, gpu = run("cpu"), run("cuda")
    assert len(gpu) == len(cpu) >= 2
    for a, b in zip(gpu, cpu):  # losses and accuracies, as printed (3-4 digits)
        numbers = [np.array(re.findall(r"\d+\.\d+", line), dtype=float) for line in (a, b)]
        np.testing.assert_allclose(numbers[0], numbers[1], atol=0.02, err_msg=f"{a} vs {b}")
    assert float(re.search(r"([\d.]+)%", gpu[-1]).group(1)) > 85


BENCHMARKS = {  # each benchmark's --device cuda mode at a size the emulator runs quickly
    "bench_matmul": ["--sizes", "64", "--repeats", "1"],
    "bench_matmul_tf32": ["--sizes", "70", "--repeats", "1", "--tf32", "--dtype", "float32"],
    "bench_adam": ["--numel", "5000", "--repeat", "1"],
    "bench_attention": ["--shape", "1", "2", "40", "16", "--repeats", "1"],
    "bench_conv2d": ["--batch", "1", "--rounds", "1"],
    "bench_train": ["--models", "mlp", "--seconds", "0.2", "--same-process"],
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_benchmark_cuda_mode_runs_on_the_emulated_gpu(emulated_cuda, name):
    script = HERE.parent / "benchmarks" / (name.removesuffix("_tf32") + ".py")
    stdout = run_script(emulated_cuda, script, "--device", "cuda", *BENCHMARKS[name])
    assert "ember" in stdout and "nothing to benchmark" not in stdout, stdout


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mnist_mlp", "mnist_keras_mlp"])
def test_mnist_examples_train_on_the_emulated_gpu(emulated_cuda, name, tmp_path):
    """The MNIST examples with --device cuda, one epoch on a tiny synthetic MNIST: they run,
    learn something and write their checkpoint. (mnist_cnn moves its model and batches the
    same way; its conv and pooling kernels, forward and backward, are op-table cases of the
    suites above -- a training epoch of it on the emulator took minutes of CI for no more.)"""
    from test_examples_mnist import write_tiny_mnist

    (tmp_path / "data").mkdir()
    data = write_tiny_mnist(tmp_path / "data")
    stdout = run_script(emulated_cuda, HERE.parent / "examples" / f"{name}.py", "--device",
                        "cuda", "--data", str(data), "--epochs", "1", "--batch-size", "32",
                        "--out", str(tmp_path / "out"))
    accuracy = float(re.findall(r"([\d.]+)% on \d+ digits", stdout)[-1])  # held-out test
    assert accuracy > 20  # 10 classes: chance is 10%
    assert (tmp_path / "out" / f"{name}.safetensors").stat().st_size > 0
