import importlib.util
import os
import sys

import numpy as np
import pytest

if os.environ.get("EMBER_EMULATED_CUDA"):
    # Run the CUDA suites on the real kernels compiled for the CPU against the CUDA emulator
    # (tests/cuda_emulator; the variable holds the built module's path). It must be in place
    # before ember imports its own ember._cuda.
    _spec = importlib.util.spec_from_file_location("ember_cuda_emulator._cuda",
                                                   os.environ["EMBER_EMULATED_CUDA"])
    _emulated = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_emulated)
    sys.modules["ember._cuda"] = _emulated

import ember  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts from the same random state."""
    ember.manual_seed(0)
    np.random.seed(0)
    yield
