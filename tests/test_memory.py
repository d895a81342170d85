"""ember/_memory.py: importing ember tunes glibc's malloc (fewer page faults per training
step), and EMBER_MALLOC_TUNING=0 opts out. Checked in fresh processes: the setting is
process-wide and applied once, at import."""

import os
import platform
import subprocess
import sys

import pytest

# glibc's own malloc: not when a sanitizer's allocator is preloaded in its place
GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc" and \
    "libasan" not in os.environ.get("LD_PRELOAD", "")


def _tuned_in_fresh_process(**env) -> str:
    code = "import ember; print(ember._memory.tuned)"
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, **env),
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


@pytest.mark.skipif(not GLIBC, reason="the tuning applies to glibc's malloc only")
def test_import_tunes_malloc_on_glibc():
    assert _tuned_in_fresh_process(EMBER_MALLOC_TUNING="1") == "True"


def test_malloc_tuning_can_be_turned_off():
    assert _tuned_in_fresh_process(EMBER_MALLOC_TUNING="0") == "False"


# The allocation pattern of a training step: a few activations of a few MiB and smaller
# temporaries, allocated, touched and freed again every step.
_STEPS = """
import resource, sys, numpy as np
import ember
def step():
    keep = [np.ones(n // 8) for n in (3 << 20, 200 << 10, 3 << 20, 800 << 10, 1 << 20, 3 << 20)]
    small = [np.ones(1000) for _ in range(50)]
    del keep, small
    tmp = np.ones((3 << 20) // 8)
    del tmp
for _ in range(3):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(tuning: str) -> int:
    out = subprocess.run([sys.executable, "-c", _STEPS], capture_output=True, text=True,
                         check=True, env=dict(os.environ, EMBER_MALLOC_TUNING=tuning))
    return int(out.stdout.strip())


@pytest.mark.skipif(not GLIBC, reason="the tuning applies to glibc's malloc only")
def test_training_step_allocations_stop_page_faulting():
    untuned = _faults("0")
    if untuned < 10_000:
        pytest.skip(f"this C library does not fault on the pattern ({untuned} faults)")
    # glibc's defaults fault every page in again each step (~2,000 faults per step here);
    # with ember's settings the freed memory is reused
    assert _faults("1") < untuned // 20
