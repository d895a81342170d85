"""The CUDA test suites against a simulated ember._cuda, on machines without a GPU.

``tests/fake_cuda.py`` implements the CUDA module's interface in NumPy, contract for
contract. Running tests/test_cuda.py and tests/test_device_parity.py on it (in a separate
process, so the stand-in never leaks into this one) checks everything between the ops and
the kernels -- ``ember/backend/cuda.py``'s translation of NumPy indexing, broadcasting,
dtypes and randomness into kernel calls, device moves, optimizers on the device -- on every
CI run. The kernels themselves are only tested on a real GPU, where this test steps aside
for the real suites.
"""

import os
import subprocess
import sys
from pathlib import Path

import ember
import pytest

HERE = Path(__file__).parent


@pytest.mark.skipif(ember.cuda.is_available(), reason="a real GPU runs the real suites")
def test_cuda_suites_pass_on_the_simulated_module():
    env = dict(os.environ, EMBER_SIMULATED_CUDA="1")
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
           str(HERE / "test_cuda.py"), str(HERE / "test_device_parity.py")]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    tail = "\n".join((run.stdout + run.stderr).splitlines()[-30:])
    assert run.returncode == 0, tail
    assert " passed" in tail and "failed" not in tail, tail
