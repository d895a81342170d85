import ember
import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts from the same random state."""
    ember.manual_seed(0)
    np.random.seed(0)
    yield
