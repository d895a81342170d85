"""The README's demo must actually learn (a shortened run of the same code)."""

import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # an example's smoke run
def test_demo_learns_the_digits(tmp_path, capsys):
    pytest.importorskip("sklearn")
    accuracy = load("demo").main(["--epochs", "10", "--out", str(tmp_path)])
    assert accuracy >= 0.93
    out = capsys.readouterr().out
    assert "test accuracy" in out and "Total params: 17,226" in out
    assert (tmp_path / "demo_graph.svg").read_text().startswith("<?xml")
    assert (tmp_path / "demo_curves.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "demo_model.safetensors").stat().st_size > 17_226 * 4
