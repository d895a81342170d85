"""What the three MNIST examples share: finding the data, loading it, the common command
line. Each example (mnist_mlp.py, mnist_cnn.py, mnist_keras_mlp.py) reads top to bottom on
its own; only this plumbing lives here.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

import ember
from ember.data import MNIST

REPO = Path(__file__).resolve().parent.parent
MNIST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def make_parser(description: str, *, epochs: int, batch_size: int,
                lr_help: str = "Adam's initial learning rate") -> argparse.ArgumentParser:
    """The options every MNIST example takes; an example adds its own before parsing."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--data", type=Path, default=None,
                   help="folder holding the MNIST t10k files (default: $EMBER_DATA, else "
                        "../shared/data/mnist-t10k beside the repo, else ember's cache)")
    p.add_argument("--download", action="store_true",
                   help="download MNIST (MD5-checked) when the files are not found")
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--batch-size", type=int, default=batch_size)
    p.add_argument("--lr", type=float, default=1e-3, help=lr_help)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=REPO / "examples" / "out",
                   help="where the PNG and the checkpoint go")
    p.add_argument("--device", default="cpu", help="'cpu' or 'cuda' (needs the CUDA backend)")
    return p


def parse(p: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse, and fail now, with a clear message, rather than after loading the data when
    --device names a GPU that is not there."""
    args = p.parse_args(argv)
    try:
        if ember.device(args.device).type == "cuda":
            ember.cuda.check_available(f"--device {args.device}")
    except (ValueError, RuntimeError) as e:
        p.error(f"{e}; run with --device cpu")
    return args


def find_mnist(data: Path | None) -> Path:
    """The folder to read MNIST from: ``--data``, else the first of ``$EMBER_DATA`` (or its
    ``mnist`` subfolder) and ``../shared/data/mnist-t10k`` that holds the files, else
    ember's cache folder (where ``--download`` puts them)."""
    if data is not None:
        return data
    candidates = []
    if os.environ.get("EMBER_DATA"):
        env = Path(os.environ["EMBER_DATA"]).expanduser()
        candidates += [env, env / "mnist"]
    candidates.append(REPO.parent / "shared" / "data" / "mnist-t10k")
    for folder in candidates:
        if all((folder / name).is_file() for name in MNIST_FILES):
            return folder
    return ember.data.datasets.data_home() / "mnist"


def load_digits(root: Path, download: bool) -> MNIST:
    """The 10,000 digits of the MNIST test set; a missing file says how to get it."""
    try:
        return MNIST(root, train=False, download=download)
    except FileNotFoundError as e:
        raise FileNotFoundError(f"{e}\n(from the command line: --data DIR or --download)") \
            from None
