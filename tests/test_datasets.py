"""ember.data.datasets on small synthetic files written into tmp_path (no network)."""

from __future__ import annotations

import gzip
import hashlib
import struct
from pathlib import Path

import ember
import numpy as np
import pytest
from ember.data import MNIST, DataLoader, Digits, TinyShakespeare, default_collate
from ember.data import datasets as D
from ember.data import transforms as T


def write_idx(path: Path, array: np.ndarray, type_code: int = 0x08, compress: bool = True,
              magic: bytes | None = None) -> Path:
    """An IDX file: 0x00 0x00 <type> <ndim>, one big-endian uint32 per dim, the data."""
    header = magic if magic is not None else bytes([0, 0, type_code, array.ndim])
    body = header + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
    path.write_bytes(gzip.compress(body) if compress else body)
    return path


def make_mnist(root: Path, prefix: str = "t10k", n: int = 5, compress: bool = True):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) * 3 % 10).astype(np.uint8)
    suffix = ".gz" if compress else ""
    write_idx(root / f"{prefix}-images-idx3-ubyte{suffix}", images, compress=compress)
    write_idx(root / f"{prefix}-labels-idx1-ubyte{suffix}", labels, compress=compress)
    return images, labels


# ----------------------------------------------------------------------------- MNIST
def test_mnist_loads_shapes_dtypes_labels(tmp_path):
    images, labels = make_mnist(tmp_path, "t10k")
    ds = MNIST(root=tmp_path, train=False)
    assert len(ds) == 5
    assert ds.data.dtype == np.uint8 and ds.data.shape == (5, 28, 28)
    assert ds.targets.dtype == np.int64 and ds.targets.tolist() == [0, 3, 6, 9, 2]
    img, label = ds[1]
    assert isinstance(img, ember.Tensor) and img.shape == (1, 28, 28)
    assert img.dtype == ember.float32 and label == 3 and isinstance(label, int)
    np.testing.assert_allclose(img.numpy()[0], images[1] / 255.0, rtol=1e-6)


def test_mnist_train_split_and_uncompressed_files(tmp_path):
    make_mnist(tmp_path, "train", n=3, compress=False)
    ds = MNIST(root=tmp_path, train=True)
    assert len(ds) == 3 and ds.targets.tolist() == [0, 3, 6]


def test_mnist_transform_gets_the_uint8_image(tmp_path):
    make_mnist(tmp_path)
    seen = []
    tf = T.Compose([T.Lambda(lambda a: seen.append((a.dtype, a.shape)) or a), T.ToTensor(),
                    T.Normalize((0.1307,), (0.3081,))])
    img, _ = MNIST(root=tmp_path, train=False, transform=tf,
                   target_transform=lambda y: y + 100)[0]
    assert seen == [(np.uint8, (28, 28))] and img.shape == (1, 28, 28)
    assert MNIST(root=tmp_path, train=False, target_transform=lambda y: -y)[1][1] == -3


def test_mnist_loader_fast_path_equals_slow_path(tmp_path):
    make_mnist(tmp_path, n=7)
    ds = MNIST(root=tmp_path, train=False)
    fast = list(DataLoader(ds, batch_size=3))
    slow = list(DataLoader(ds, batch_size=3, collate_fn=default_collate))
    for (xf, yf), (xs, ys) in zip(fast, slow):
        assert xf.shape == xs.shape and xf.dtype == xs.dtype == ember.float32
        assert yf.dtype == ys.dtype == ember.int64
        np.testing.assert_array_equal(xf.numpy(), xs.numpy())
        np.testing.assert_array_equal(yf.numpy(), ys.numpy())


def test_mnist_missing_files_message(tmp_path):
    make_mnist(tmp_path, "train")  # only the training files exist
    with pytest.raises(FileNotFoundError) as info:
        MNIST(root=tmp_path, train=False)
    msg = str(info.value)
    assert "t10k-images-idx3-ubyte.gz" in msg and "t10k-labels-idx1-ubyte.gz" in msg
    assert str(tmp_path) in msg and "download=True" in msg and "root=" in msg


def test_mnist_default_root_is_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBER_DATA", str(tmp_path / "cache"))
    assert D.data_home() == tmp_path / "cache"
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "cache" / "mnist")):
        MNIST(train=False)


def test_truncated_gzip_names_the_file(tmp_path):
    make_mnist(tmp_path)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz.*(truncated|corrupt)"):
        MNIST(root=tmp_path, train=False)


def test_truncated_idx_data(tmp_path):
    make_mnist(tmp_path)
    raw = gzip.decompress((tmp_path / "t10k-images-idx3-ubyte.gz").read_bytes())
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(raw[:-10]))
    with pytest.raises(ValueError, match="images-idx3-ubyte.gz is truncated"):
        MNIST(root=tmp_path, train=False)


def test_bad_magic_and_wrong_contents(tmp_path):
    make_mnist(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(5, np.uint8),
              magic=b"\x1f\x8b\x08\x01")
    with pytest.raises(ValueError, match="labels-idx1-ubyte.gz is not an IDX file"):
        MNIST(root=tmp_path, train=False)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(4, np.uint8))
    with pytest.raises(ValueError, match="has 5 images"):
        MNIST(root=tmp_path, train=False)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.full(5, 12, np.uint8))
    with pytest.raises(ValueError, match="outside 0..9"):
        MNIST(root=tmp_path, train=False)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros((5, 8, 8), np.uint8))
    with pytest.raises(ValueError, match=r"expected uint8 \(N, 28, 28\)"):
        MNIST(root=tmp_path, train=False)


def test_read_idx_other_types(tmp_path):
    a = np.arange(6, dtype=">i4").reshape(2, 3)
    out = D.read_idx(write_idx(tmp_path / "a.idx", a, type_code=0x0C, compress=False))
    assert out.dtype == np.int32 and out.tolist() == [[0, 1, 2], [3, 4, 5]]
    f = np.array([1.5, -2.0], dtype=">f4")
    assert D.read_idx(write_idx(tmp_path / "f.gz", f, type_code=0x0D)).tolist() == [1.5, -2.0]
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(ValueError, match="empty file"):
        D.read_idx(tmp_path / "empty")


# ----------------------------------------------------------------------------- checksums
def test_checksum_verification_rejects_a_wrong_file(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"ember")
    md5, sha = hashlib.md5(b"ember").hexdigest(), hashlib.sha256(b"ember").hexdigest()
    D.verify_checksum(path, md5)
    D.verify_checksum(path, sha, "sha256")
    assert D.check_integrity(path, md5=md5, sha256=sha)
    with pytest.raises(ValueError, match="checksum mismatch for .*x.bin"):
        D.verify_checksum(path, "0" * 32)
    assert not D.check_integrity(path, md5="0" * 32)
    assert not D.check_integrity(tmp_path / "absent", md5=md5)


def test_download_tries_mirrors_and_checks(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "data.txt").write_bytes(b"payload")
    good = hashlib.md5(b"payload").hexdigest()
    mirrors = [(tmp_path / "nowhere" / "data.txt").as_uri(), (src / "data.txt").as_uri()]
    out = D.download_url(mirrors, tmp_path / "cache" / "data.txt", md5=good)
    assert out.read_bytes() == b"payload"
    dest = tmp_path / "cache" / "bad.txt"
    with pytest.raises(RuntimeError, match="checksum mismatch"):
        D.download_url(mirrors[1], dest, md5="0" * 32)
    assert not dest.exists() and not dest.with_name("bad.txt.part").exists()


def test_mnist_download_from_a_mirror(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    make_mnist(mirror)
    md5 = {p.name: D.file_hash(p) for p in mirror.iterdir()}
    monkeypatch.setattr(MNIST, "mirrors", [mirror.as_uri() + "/"])
    monkeypatch.setattr(MNIST, "md5", md5)
    ds = MNIST(root=tmp_path / "cache", train=False, download=True)
    assert len(ds) == 5 and (tmp_path / "cache" / "t10k-labels-idx1-ubyte.gz").is_file()
    monkeypatch.setattr(MNIST, "md5", dict.fromkeys(md5, "0" * 32))
    with pytest.raises(RuntimeError, match="checksum mismatch"):
        MNIST(root=tmp_path / "other", train=False, download=True)


# ----------------------------------------------------------------------------- Shakespeare
TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n" * 3


def test_tiny_shakespeare_items(tmp_path):
    (tmp_path / "input.txt").write_text(TEXT)
    ds = TinyShakespeare(root=tmp_path, block_size=8)
    n_train = int(len(TEXT) * 0.9)
    assert len(ds) == n_train - 8 and len(ds.vocab) == len(set(TEXT))
    x, y = ds[0]
    assert x.dtype == y.dtype == ember.int64 and x.shape == y.shape == (8,)
    assert ds.vocab.decode(x) == TEXT[:8] and ds.vocab.decode(y) == TEXT[1:9]
    val = TinyShakespeare(root=tmp_path, block_size=8, split="val")
    assert len(val) == len(TEXT) - n_train - 8
    assert val.vocab.chars == ds.vocab.chars  # one vocabulary for both splits
    assert val.vocab.decode(val[0][0]) == TEXT[n_train:n_train + 8]


def test_tiny_shakespeare_loader_fast_path(tmp_path):
    (tmp_path / "input.txt").write_text(TEXT)
    ds = TinyShakespeare(root=tmp_path, block_size=5)
    fast = list(DataLoader(ds, batch_size=16, shuffle=True, generator=ember.Generator(2)))
    slow = list(DataLoader(ds, batch_size=16, shuffle=True, generator=ember.Generator(2),
                           collate_fn=default_collate))
    for (xf, yf), (xs, ys) in zip(fast, slow):
        np.testing.assert_array_equal(xf.numpy(), xs.numpy())
        np.testing.assert_array_equal(yf.numpy(), ys.numpy())
    assert fast[0][0].shape == (16, 5)


def test_tiny_shakespeare_errors_and_download(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="input.txt.*download=True"):
        TinyShakespeare(root=tmp_path)
    (tmp_path / "input.txt").write_text("abc")
    with pytest.raises(ValueError, match="too few for block_size=64"):
        TinyShakespeare(root=tmp_path)
    with pytest.raises(ValueError, match="split"):
        TinyShakespeare(root=tmp_path, split="test")
    src = tmp_path / "remote.txt"
    src.write_text(TEXT)
    monkeypatch.setattr(TinyShakespeare, "url", src.as_uri())
    monkeypatch.setattr(TinyShakespeare, "md5", D.file_hash(src))
    ds = TinyShakespeare(root=tmp_path / "cache", block_size=4, download=True)
    assert (tmp_path / "cache" / "input.txt").read_text() == TEXT and len(ds) > 0


# ----------------------------------------------------------------------------- Digits
def test_digits():
    pytest.importorskip("sklearn")
    ds = Digits()
    assert len(ds) == 1797 and ds.data.shape == (1797, 8, 8)
    img, label = ds[0]
    assert img.shape == (1, 8, 8) and img.dtype == ember.float32 and label == 0
    assert 0.0 <= img.min().item() and img.max().item() <= 1.0
    x, y = next(iter(DataLoader(ds, batch_size=10)))
    assert x.shape == (10, 1, 8, 8) and y.tolist() == list(range(10))


def test_digits_without_sklearn_says_how_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # import now fails
    with pytest.raises(ImportError, match="pip install scikit-learn"):
        Digits()
