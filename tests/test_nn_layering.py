"""ember.nn stays below the workflow layer: Module.save/load/summary without nn importing it.

The workflow modules (ember.io, ember.summary) register their functions with
``ember.nn.module.register_workflow``; nn itself never imports them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import ember
import pytest
from ember import nn
from ember.nn import module as module_mod

NN = Path(ember.__file__).parent / "nn"
WORKFLOW = ("ember.io", "ember.summary")


def _package_of(path: Path) -> str:
    """The package a file's relative imports start from (``nn/layers/rnn.py`` ->
    ``ember.nn.layers``)."""
    parts = path.relative_to(NN.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1])


def _imported_modules(source: str, package: str) -> set[str]:
    """Every module ``source`` imports, relative imports resolved against ``package``
    (``from .. import io`` in ember.nn -> ``ember.io``), imports inside functions included."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - node.level + 1] \
                if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            found.add(mod)
            found.update(f"{mod}.{alias.name}" for alias in node.names)
    return found


def test_the_import_scanner_resolves_relative_imports():
    assert _package_of(NN / "layers" / "rnn.py") == "ember.nn.layers"
    assert _package_of(NN / "__init__.py") == "ember.nn"
    assert "ember.io" in _imported_modules("from ..io import save\n", "ember.nn")
    assert "ember.summary" in _imported_modules("def f():\n    from .. import summary\n",
                                                "ember.nn")
    assert "ember.summary" in _imported_modules("from ...summary import x\n",
                                                "ember.nn.layers")
    assert "ember.io" in _imported_modules("import ember.io\n", "ember.nn")
    assert not _imported_modules("from . import init\n", "ember.nn") & {"ember.io"}


def test_nn_does_not_import_the_workflow_layer():
    files = sorted(NN.rglob("*.py"))
    assert NN / "module.py" in files
    offenders = {str(f.relative_to(NN)): sorted(
        m for m in _imported_modules(f.read_text(), _package_of(f)) if m.startswith(WORKFLOW))
        for f in files}
    assert {f: m for f, m in offenders.items() if m} == {}


def test_the_workflow_layer_installs_save_load_and_summary():
    from ember import io, summary

    assert module_mod._WORKFLOW == {"save": io.save, "load": io.load,
                                    "summary": summary.summary}


def test_module_methods_still_work(tmp_path):
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU())
    model.save(tmp_path / "m.safetensors")
    other = nn.Sequential(nn.Linear(3, 2), nn.ReLU())
    assert other.load(tmp_path / "m.safetensors") == ([], [])
    assert (other[0].weight.detach().numpy() == model[0].weight.detach().numpy()).all()
    assert "Linear" in model.summary(input_size=(4, 3))


def test_a_missing_implementation_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(module_mod, "_WORKFLOW", {})
    model = nn.Linear(2, 2)
    with pytest.raises(RuntimeError, match=r"Module.summary: ember.summary.summary is not "
                                           r"loaded; `import ember` loads it"):
        model.summary()
    with pytest.raises(RuntimeError, match="Module.save: ember.io.save is not loaded"):
        model.save("never-written.safetensors")
    with pytest.raises(ValueError, match="register_workflow: unknown method 'fit'"):
        module_mod.register_workflow("fit", print)
