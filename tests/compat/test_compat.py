"""Real PyTorch-style programs run unchanged under ember (issue 11, point 6).

Each program in this folder is written against the name ``torch`` only (``run(torch, steps)``).
The test runs it twice through the same source -- once with ``import ember as torch`` and once
with the real ``import torch`` -- and asserts that both run to the end and reach the same
losses, step by step. Both start from identical parameters (``_common.init_from_numpy``) and
identical NumPy data, without dropout or sampling, so any difference is a difference between
the libraries. Tolerances: float64 programs agree to 1e-9 relative (only summation order
differs); float32 ones to the stated looser bound, which also absorbs the drift of a few
hundred optimiser steps.
"""

from __future__ import annotations

import importlib

import ember
import numpy as np
import pytest

torch = pytest.importorskip("torch")

# program module, steps, dtype, relative tolerance, absolute tolerance
PROGRAMS = [
    ("mlp_quickstart", 3, "float64", 1e-9, 1e-12),
    ("nanogpt", 20, "float64", 1e-9, 1e-12),
    ("nanogpt", 20, "float32", 2e-4, 1e-5),
    ("char_rnn", 30, "float64", 1e-9, 1e-12),
    ("seq2seq", 12, "float64", 1e-9, 1e-12),
    ("transformer_lm", 3, "float64", 1e-9, 1e-12),
    ("vae", 4, "float64", 1e-9, 1e-12),
    ("time_sequence", 3, "float64", 1e-9, 1e-12),
    ("polynomial", 200, "float64", 1e-9, 1e-12),
    ("lenet", 3, "float64", 1e-9, 1e-12),
    ("lenet", 3, "float32", 1e-4, 1e-5),
]
# what each program needs beyond what every ember has (optim.LBFGS comes from another branch)
NEEDS = {"time_sequence": lambda: hasattr(ember.optim, "LBFGS")}


def _run(name: str, lib, steps: int, dtype: str) -> list[float]:
    program = importlib.import_module(f"tests.compat.{name}")
    return [float(v) for v in program.run(lib, steps, log=lambda *a, **k: None, dtype=dtype)]


@pytest.mark.parametrize("name,steps,dtype,rtol,atol", PROGRAMS,
                         ids=[f"{p[0]}-{p[2]}" for p in PROGRAMS])
def test_program_reaches_pytorchs_losses(name, steps, dtype, rtol, atol):
    if not NEEDS.get(name, lambda: True)():
        pytest.skip(f"{name} needs API this ember does not have yet (optim.LBFGS)")
    expected = _run(name, torch, steps, dtype)
    got = _run(name, ember, steps, dtype)
    assert len(got) == len(expected)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, err_msg=name)


def test_the_programs_print_like_the_tutorials(capsys):
    """The tutorial's own prints (format specs on tensors and floats, the model's repr) work."""
    program = importlib.import_module("tests.compat.mlp_quickstart")
    program.run(ember, 1)
    out = capsys.readouterr().out
    assert "loss: " in out and "Accuracy: " in out and "Linear(in_features=64" in out
