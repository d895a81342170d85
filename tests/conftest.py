import os
import sys

import ember
import numpy as np
import pytest

if os.environ.get("EMBER_SIMULATED_CUDA") == "1":
    # Run the CUDA suites against tests/fake_cuda.py, a NumPy stand-in for ember._cuda
    # (see that file): installed before any test module asks ember.cuda.is_available().
    sys.path.insert(0, os.path.dirname(__file__))
    import ember.backend.cuda as _cuda_backend
    import fake_cuda

    sys.modules["ember._cuda"] = fake_cuda
    ember._cuda = fake_cuda
    _cuda_backend._cuda = fake_cuda


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts from the same random state."""
    ember.manual_seed(0)
    np.random.seed(0)
    yield
