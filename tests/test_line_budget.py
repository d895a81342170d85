"""tools/line_budget.py: what it counts, how it sorts files into areas, and when it fails."""

from __future__ import annotations

import importlib.util
import io
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "line_budget.py"

_spec = importlib.util.spec_from_file_location("line_budget", SCRIPT)
lb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lb)


def test_the_repository_keeps_its_budget_and_prints_the_figures():
    run = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    for area in ("core", "nn", "optim", "data", "keras", "workflow", "csrc/cpu", "csrc/cuda",
                 "bindings"):
        assert f"\n{area} " in run.stdout, area
    assert "largest files" in run.stdout and f"of {lb.CORE_BUDGET} lines" in run.stdout


def test_python_counts_code_only():
    source = '''"""Module docstring,
over two lines."""

import os  # a comment after code counts


# a comment line
def f(x):
    """Docstring."""
    return (x +
            1)


class A:
    """Doc."""

    s = """not a docstring:
    an assigned string is code"""
'''
    # import, def, return (2 lines), class, s = (2 lines)
    assert lb.python_code_lines(source) == 7


def test_native_counts_code_only():
    source = """// a comment
#include <cstdio>  // trailing comment: the line still counts

/* a block
   comment */ int x = 1;
/*
 * a doc block
 */
const char* url = "http://not/a/comment";  /* x */
char c = '/';

"""
    assert lb.native_code_lines(source) == 4


@pytest.mark.parametrize("rel, area", [
    ("python/ember/tensor.py", "core"),
    ("python/ember/autograd/engine.py", "core"),
    ("python/ember/ops/shape.py", "core"),
    ("python/ember/backend/indexing.py", "core"),
    ("python/ember/__init__.py", "core"),
    ("python/ember/io.py", "workflow"),
    ("python/ember/summary.py", "workflow"),
    ("python/ember/nn/layers/rnn.py", "nn"),
    ("python/ember/optim/adam.py", "optim"),
    ("python/ember/data/text.py", "data"),
    ("python/ember/keras/layers/core.py", "keras"),
    ("csrc/cpu/gemm.cpp", "csrc/cpu"),
    ("csrc/cuda/gemm.cu", "csrc/cuda"),
    ("csrc/bindings_conv.cpp", "bindings"),
    ("csrc/binding_utils.h", "bindings"),
    ("csrc/cuda/bindings_cuda.cu", "bindings"),
])
def test_areas(rel, area):
    assert lb.area_of(rel) == area


def _tree(tmp_path: Path, files: dict[str, int]) -> Path:
    """A repository with the given files, each of that many lines of code."""
    for rel, n in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        line = "x = 1\n" if rel.endswith(".py") else "int x = 1;\n"
        path.write_text('"""A docstring\nover lines."""\n' + "# comment\n\n" * 5 + line * n
                        if rel.endswith(".py") else "// comment\n\n/* block */\n" * 5 + line * n)
    return tmp_path


def test_a_file_over_its_limit_fails(tmp_path):
    root = _tree(tmp_path, {"python/ember/tensor.py": lb.PY_FILE_LIMIT,
                            "python/ember/nn/big.py": lb.PY_FILE_LIMIT + 1,
                            "csrc/cpu/ok.cpp": lb.NATIVE_FILE_LIMIT,
                            "csrc/cuda/big.cu": lb.NATIVE_FILE_LIMIT + 1})
    out = io.StringIO()
    assert lb.check(root, out=out) == 2
    text = out.getvalue()
    assert f"FAIL: python/ember/nn/big.py has {lb.PY_FILE_LIMIT + 1} lines of code" in text
    assert f"FAIL: csrc/cuda/big.cu has {lb.NATIVE_FILE_LIMIT + 1} lines of code" in text
    assert "tensor.py has" not in text and "ok.cpp has" not in text
    assert subprocess.run([sys.executable, str(SCRIPT), "--root", str(root)],
                          capture_output=True, timeout=120).returncode == 1


def test_an_exception_raises_one_files_limit(tmp_path, monkeypatch):
    root = _tree(tmp_path, {"csrc/cuda/attention.cu": lb.NATIVE_FILE_LIMIT + 5})
    monkeypatch.setattr(lb, "EXCEPTIONS", {"csrc/cuda/attention.cu": (
        lb.NATIVE_FILE_LIMIT + 10, "being split")})
    out = io.StringIO()
    assert lb.check(root, out=out) == 0
    assert "exception: csrc/cuda/attention.cu (being split)" in out.getvalue()


def test_the_core_over_its_budget_fails(tmp_path, monkeypatch):
    root = _tree(tmp_path, {"python/ember/tensor.py": 30, "python/ember/ops/a.py": 30,
                            "python/ember/nn/b.py": 100})
    monkeypatch.setattr(lb, "CORE_BUDGET", 59)
    out = io.StringIO()
    assert lb.check(root, out=out) == 1
    assert "FAIL: the core has 60 lines of code, over its budget of 59" in out.getvalue()
    monkeypatch.setattr(lb, "CORE_BUDGET", 60)
    assert lb.check(root, out=io.StringIO()) == 0
