import os
import sys

import numpy as np
import pytest

if os.environ.get("EMBER_EMULATED_CUDA"):
    # Run the CUDA suites on the real kernels compiled for the CPU against the CUDA emulator
    # (tests/cuda_emulator; the variable holds the built module's path). It must be in place
    # before ember imports its own ember._cuda.
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "cuda_emulator"))
    import emulator

    emulator.install(os.environ["EMBER_EMULATED_CUDA"])

import ember  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts from the same random state."""
    ember.manual_seed(0)
    np.random.seed(0)
    yield
