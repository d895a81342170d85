"""The README's demo must actually learn (a shortened run, same code)."""

import importlib.util
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_demo_learns_the_spirals(capsys):
    accuracy = load("demo").main(epochs=20)
    assert accuracy >= 0.95
    assert "test accuracy" in capsys.readouterr().out
