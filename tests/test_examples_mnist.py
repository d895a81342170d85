"""The MNIST examples run end to end: on a tiny synthetic MNIST written to tmp_path (no
download, nothing outside the repo), one epoch each, they return an accuracy and write
their training curves and checkpoint to --out. Reaching the accuracy targets on real MNIST
is measured by running the scripts themselves (examples/README.md), not here."""

from __future__ import annotations

import gzip
import importlib.util
import struct
import sys
from pathlib import Path
from types import ModuleType

import ember
import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = ["mnist_mlp", "mnist_cnn", "mnist_keras_mlp"]


def load(name: str) -> ModuleType:
    # as `python examples/<name>.py` would, put the script's folder on the path (the
    # examples share examples/_mnist_common.py)
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_idx(path: Path, array: np.ndarray) -> None:
    """A gzipped IDX file: 0x0000, type 0x08 (uint8), ndim, one big-endian uint32 per dim."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture(scope="module")
def tiny_mnist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_mnist(tmp_path_factory.mktemp("mnist"))


def write_tiny_mnist(root: Path) -> Path:
    """200 noisy 28x28 'digits' in MNIST's test-set files under root: class k is a bright
    6x6 square at spot k of a 4x3 grid."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 20)
    rng.shuffle(labels)
    images = rng.integers(0, 60, size=(len(labels), 28, 28))
    for img, k in zip(images, labels):
        r, c = 1 + 7 * (k // 3), 2 + 9 * (k % 3)
        img[r:r + 6, c:c + 6] = rng.integers(180, 256, size=(6, 6))
    write_idx(root / "t10k-images-idx3-ubyte.gz", images)
    write_idx(root / "t10k-labels-idx1-ubyte.gz", labels)
    return root


@pytest.mark.slow  # an example's smoke run
@pytest.mark.parametrize("name", SCRIPTS)
def test_example_runs_end_to_end(name: str, tiny_mnist: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    accuracy = load(name).main(["--data", str(tiny_mnist), "--epochs", "1",
                                "--batch-size", "32", "--out", str(out)])
    assert isinstance(accuracy, float) and 0.0 <= accuracy <= 1.0
    assert (out / f"{name}_history.png").stat().st_size > 0
    assert (out / f"{name}.safetensors").stat().st_size > 0
    printed = capsys.readouterr().out
    assert "140 train, 20 validation, 40 held-out test" in printed  # the 70/10/20 split
    # not a terminal: the progress bar is one line for the epoch, not a line per batch
    assert sum(line.lower().startswith("epoch 1/1") for line in printed.splitlines()) == 1


@pytest.mark.skipif(ember.cuda.is_available(), reason="CUDA is available here")
@pytest.mark.parametrize("name", SCRIPTS)
def test_device_cuda_without_cuda_is_a_clear_error(name: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # checked before any data is read, so no --data is needed
    with pytest.raises(SystemExit) as exc:
        load(name).main(["--device", "cuda"])
    assert exc.value.code == 2  # argparse's code for a bad command line
    err = capsys.readouterr().err
    assert "--device cuda: CUDA is not available" in err and "--device cpu" in err


def test_missing_data_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="--download"):
        load("mnist_mlp").main(["--data", str(tmp_path), "--out", str(tmp_path / "out")])


def test_data_folder_from_ember_data(tiny_mnist: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBER_DATA", str(tiny_mnist))
    assert load("mnist_cnn").find_mnist(None) == tiny_mnist
    assert load("mnist_cnn").find_mnist(Path("elsewhere")) == Path("elsewhere")  # --data wins
