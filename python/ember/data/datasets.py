"""Ready-made datasets: MNIST (IDX files), scikit-learn's 8x8 Digits, Tiny Shakespeare.

Files live under ``root`` (default: a cache folder, ``$EMBER_DATA/<name>`` or
``~/.cache/ember/<name>``). Nothing is fetched unless ``download=True``; a download
tries each mirror in turn, checks the file's checksum and only then moves it into
place, so the cache never holds a half-written or wrong file.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.request
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..creation import from_numpy
from ..tensor import Tensor
from .dataset import Dataset, _check_index
from .text import CharVocab

__all__ = ["MNIST", "Digits", "TinyShakespeare", "check_integrity", "data_home",
           "download_url", "read_idx", "verify_checksum"]


# ----------------------------------------------------------------------------- files
def data_home() -> Path:
    """The default data folder: ``$EMBER_DATA`` if set, else ``~/.cache/ember``."""
    env = os.environ.get("EMBER_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "ember"


def _root(root: str | os.PathLike | None, name: str) -> Path:
    return Path(root).expanduser() if root is not None else data_home() / name


def file_hash(path: str | os.PathLike, algorithm: str = "md5") -> str:
    """The hex digest of a file (read in 1 MiB chunks)."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_checksum(path: str | os.PathLike, expected: str, algorithm: str = "md5") -> None:
    """Raise ValueError (naming the file, the expected and the actual digest) unless the
    file's ``algorithm`` digest ('md5' or 'sha256') is ``expected``."""
    actual = file_hash(path, algorithm)
    if actual.lower() != expected.lower():
        raise ValueError(f"checksum mismatch for {path}: expected {algorithm} {expected}, got "
                         f"{actual} (the file is corrupt, truncated or not the right file)")


def check_integrity(path: str | os.PathLike, md5: str | None = None,
                    sha256: str | None = None) -> bool:
    """True when the file exists and matches the given checksum(s)."""
    if not Path(path).is_file():
        return False
    try:
        if md5 is not None:
            verify_checksum(path, md5, "md5")
        if sha256 is not None:
            verify_checksum(path, sha256, "sha256")
    except ValueError:
        return False
    return True


def download_url(urls: str | Sequence[str], path: str | os.PathLike, md5: str | None = None,
                 sha256: str | None = None, timeout: float = 60.0) -> Path:
    """Fetch a file from the first mirror in ``urls`` that works and passes the checksum.

    The bytes go to ``<path>.part`` and are renamed to ``path`` only once verified.
    Raises RuntimeError listing what went wrong with each mirror.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    errors = []
    for url in [urls] if isinstance(urls, str) else list(urls):
        try:
            _fetch(url, part, timeout)
            if md5 is not None:
                verify_checksum(part, md5, "md5")
            if sha256 is not None:
                verify_checksum(part, sha256, "sha256")
        except (OSError, ValueError) as e:
            errors.append(f"  {url}: {e}")
            part.unlink(missing_ok=True)
            continue
        os.replace(part, path)
        return path
    raise RuntimeError(f"could not download {path.name}:\n" + "\n".join(errors))


def _fetch(url: str, dest: Path, timeout: float) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "ember"})
    with urllib.request.urlopen(request, timeout=timeout) as response, open(dest, "wb") as f:
        for chunk in iter(lambda: response.read(1 << 20), b""):
            f.write(chunk)


# ----------------------------------------------------------------------------- IDX
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped if it ends in .gz (a damaged gzip raises ValueError)."""
    if path.suffix != ".gz":
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (EOFError, OSError, zlib.error) as e:
        raise ValueError(f"{path} is not a valid gzip file (truncated or corrupt: {e}); "
                         "delete it and download it again") from None


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (MNIST's format), gzipped or not, into a numpy array.

    The header is checked strictly: two zero bytes, a known type code, the number of
    dimensions, then one big-endian uint32 per dimension; the data must be exactly as
    long as the dimensions say. Anything else raises ValueError naming the file.
    """
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{path} is not an IDX file: bad magic number "
                         f"{raw[:4].hex() or '(empty file)'} (expected 0000 <type> <ndim>)")
    dtype, ndim = np.dtype(_IDX_TYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path} is truncated: {len(raw)} bytes, shorter than its "
                         f"{header}-byte header")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "too long"
        raise ValueError(f"{path} is {what}: the header says shape {shape} ({expected} bytes) "
                         f"but the file holds {len(raw)} bytes")
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


# ----------------------------------------------------------------------------- MNIST
def _image_to_tensor(img: np.ndarray) -> Tensor:
    """uint8 (..., H, W) -> float32 (..., 1, H, W) in [0, 1]."""
    return from_numpy(img[..., None, :, :].astype(np.float32) / np.float32(255.0))


class MNIST(Dataset):
    """The MNIST handwritten digits (60,000 train / 10,000 test, 28x28 greyscale).

    Reads ``train-images-idx3-ubyte.gz`` + ``train-labels-idx1-ubyte.gz`` (or the
    ``t10k-`` pair when ``train=False``) from ``root`` (gzipped or not). ``.data`` is the
    uint8 array (N, 28, 28), ``.targets`` the int64 labels. An item is ``(image, label)``:
    the image a float32 tensor (1, 28, 28) in [0, 1], or ``transform(uint8 28x28 array)``
    when a transform is given (start it with ``ToTensor()``, as with torchvision).
    """

    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/",
               "http://yann.lecun.com/exdb/mnist/"]
    md5 = {  # of the .gz files, as torchvision checks them
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }
    classes = [str(d) for d in range(10)]

    def __init__(self, root: str | os.PathLike | None = None, train: bool = True,
                 download: bool = False, transform: Callable[[Any], Any] | None = None,
                 target_transform: Callable[[int], Any] | None = None) -> None:
        self.root, self.train = _root(root, "mnist"), train
        self.transform, self.target_transform = transform, target_transform
        prefix = "train" if train else "t10k"
        names = [f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz"]
        if download:
            self._download(names)
        images_path, labels_path = self._locate(names)
        self.data = read_idx(images_path)
        self.targets = read_idx(labels_path).astype(np.int64)
        self._check(images_path, labels_path)

    def _find(self, name: str) -> Path | None:
        """``root/name``, or its uncompressed twin ``root/name`` minus ``.gz``."""
        for p in (self.root / name, self.root / name[:-3]):
            if p.is_file():
                return p
        return None

    def _locate(self, names: list[str]) -> tuple[Path, Path]:
        found = [self._find(n) for n in names]
        missing = [n for n, p in zip(names, found) if p is None]
        if missing:
            split = "training" if self.train else "test"
            raise FileNotFoundError(
                f"MNIST: the {split} set needs {' and '.join(names)} in {self.root} "
                f"(gzipped or not), but {', '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} missing. Pass download=True to fetch "
                f"them (from {self.mirrors[0]}, MD5-checked, cached in that folder), or "
                "root=<the folder that holds them>.")
        return found[0], found[1]

    def _download(self, names: list[str]) -> None:
        for name in names:
            if self._find(name) is None:
                download_url([m + name for m in self.mirrors], self.root / name,
                             md5=self.md5[name])

    def _check(self, images_path: Path, labels_path: Path) -> None:
        if self.data.ndim != 3 or self.data.shape[1:] != (28, 28) or self.data.dtype != np.uint8:
            raise ValueError(f"MNIST: {images_path} holds a {self.data.dtype} array of shape "
                             f"{self.data.shape}, expected uint8 (N, 28, 28)")
        if self.targets.ndim != 1 or len(self.targets) != len(self.data):
            raise ValueError(f"MNIST: {labels_path} holds labels of shape {self.targets.shape} "
                             f"but {images_path} has {len(self.data)} images")
        if len(self.targets) and not 0 <= self.targets.min() <= self.targets.max() <= 9:
            raise ValueError(f"MNIST: {labels_path} has labels outside 0..9 (min "
                             f"{self.targets.min()}, max {self.targets.max()})")

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        i = _check_index("MNIST", index, len(self))
        img = self.transform(self.data[i]) if self.transform else _image_to_tensor(self.data[i])
        target = int(self.targets[i])
        return img, self.target_transform(target) if self.target_transform else target

    def _get_batch(self, indices: Sequence[int]) -> Any:
        """The DataLoader fast path (untransformed items only)."""
        if self.transform or self.target_transform:
            return NotImplemented

        idx = np.asarray(indices, dtype=np.int64)
        return _image_to_tensor(self.data[idx]), from_numpy(self.targets[idx])

    def __repr__(self) -> str:
        return f"MNIST({'train' if self.train else 'test'}, {len(self)} images, root={self.root})"


# ----------------------------------------------------------------------------- Digits
class Digits(Dataset):
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images, no download).

    ``.data`` is float32 (N, 8, 8) in [0, 1] (the 0..16 counts / 16), ``.targets`` int64.
    An item is ``(image, label)``: a float32 tensor (1, 8, 8), or ``transform(8x8 array)``.
    Needs scikit-learn (``pip install scikit-learn``).
    """

    classes = [str(d) for d in range(10)]

    def __init__(self, transform: Callable[[Any], Any] | None = None,
                 target_transform: Callable[[int], Any] | None = None) -> None:
        try:
            from sklearn.datasets import load_digits
        except ImportError:
            raise ImportError("Digits needs scikit-learn, which ships the 8x8 digits: "
                              "pip install scikit-learn") from None
        bunch = load_digits()
        self.data = (bunch.images / 16.0).astype(np.float32)
        self.targets = bunch.target.astype(np.int64)
        self.transform, self.target_transform = transform, target_transform

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        i = _check_index("Digits", index, len(self))
        img = self.transform(self.data[i]) if self.transform else from_numpy(self.data[i][None])
        target = int(self.targets[i])
        return img, self.target_transform(target) if self.target_transform else target

    def _get_batch(self, indices: Sequence[int]) -> Any:
        if self.transform or self.target_transform:
            return NotImplemented

        idx = np.asarray(indices, dtype=np.int64)
        return from_numpy(self.data[idx][:, None]), from_numpy(self.targets[idx])


# ----------------------------------------------------------------------------- Shakespeare
class TinyShakespeare(Dataset):
    """Character-level language modelling on Tiny Shakespeare (char-rnn's ``input.txt``).

    The text's first ``train_fraction`` of characters is the 'train' split, the rest
    'val'; both share ``vocab`` (a ``CharVocab`` over the whole text). Item i is
    ``(x, y)``: int64 tensors of ``block_size`` character ids, ``y`` shifted one ahead.
    """

    url = ("https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/"
           "input.txt")
    md5 = "6fb458f1232090904fb40fe944165e91"
    filename = "input.txt"

    def __init__(self, root: str | os.PathLike | None = None, block_size: int = 64,
                 download: bool = False, split: str = "train",
                 train_fraction: float = 0.9) -> None:
        if split not in ("train", "val"):
            raise ValueError(f"TinyShakespeare: split must be 'train' or 'val', got {split!r}")
        if not 0.0 < train_fraction < 1.0:
            raise ValueError(f"TinyShakespeare: train_fraction must be in (0, 1), got "
                             f"{train_fraction}")
        if block_size < 1:
            raise ValueError(f"TinyShakespeare: block_size must be >= 1, got {block_size}")
        self.root, self.block_size, self.split = _root(root, "tinyshakespeare"), block_size, split
        path = self.root / self.filename
        if download and not path.is_file():
            download_url(self.url, path, md5=self.md5)
        if not path.is_file():
            raise FileNotFoundError(
                f"TinyShakespeare: expected {self.filename} in {self.root}, but it is missing. "
                f"Pass download=True to fetch it (from {self.url}, MD5-checked, cached in that "
                "folder), or root=<the folder that holds input.txt>.")
        self.text = path.read_text(encoding="utf-8")
        self.vocab = CharVocab.from_text(self.text)
        ids = np.fromiter(map(self.vocab.stoi.__getitem__, self.text), dtype=np.int64,
                          count=len(self.text))
        n_train = int(len(ids) * train_fraction)
        self.data = ids[:n_train] if split == "train" else ids[n_train:]
        if len(self.data) <= block_size:
            raise ValueError(f"TinyShakespeare: the {split} split has {len(self.data)} "
                             f"characters, too few for block_size={block_size} (needs at "
                             "least block_size + 1)")

    def __len__(self) -> int:
        return len(self.data) - self.block_size

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        i = _check_index("TinyShakespeare", index, len(self))
        chunk = self.data[i:i + self.block_size + 1]
        return from_numpy(chunk[:-1].copy()), from_numpy(chunk[1:].copy())

    def _get_batch(self, indices: Sequence[int]) -> tuple[Tensor, Tensor]:
        """All windows in one gather: rows ``data[i : i + block_size + 1]``."""
        starts = np.asarray(indices, dtype=np.int64)
        windows = self.data[starts[:, None] + np.arange(self.block_size + 1)]
        return (from_numpy(np.ascontiguousarray(windows[:, :-1])),
                from_numpy(np.ascontiguousarray(windows[:, 1:])))

    def __repr__(self) -> str:
        return (f"TinyShakespeare({self.split}, {len(self.data)} chars, vocab {len(self.vocab)}"
                f", block_size={self.block_size})")
