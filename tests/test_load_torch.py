"""ember.load_torch: files written by the real ``torch.save`` load without PyTorch (checked in
a subprocess that never imports it) with the same values, dtypes, sharing and containers; a
pickle that would run code is refused and runs nothing; unsupported dtypes and formats are
named in clear errors."""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import textwrap
import zipfile
from collections import OrderedDict

import ember
import numpy as np
import pytest

torch = pytest.importorskip("torch")

# Loads each file given on the command line with ember alone and pickles a plain image of
# the result (numpy arrays, type names, flags) for the parent to compare with torch's objects.
LOADER = textwrap.dedent("""
    import pickle, sys
    import numpy as np
    import ember

    def plain(o):
        if isinstance(o, ember.Tensor):
            return ("tensor", o.detach().numpy().copy(), type(o).__name__, o.requires_grad,
                    str(o.dtype).split(".")[-1])
        if isinstance(o, dict):
            return (type(o).__name__, [(k, plain(v)) for k, v in o.items()])
        if isinstance(o, (list, tuple)):
            return (type(o).__name__, [plain(v) for v in o])
        if isinstance(o, (set, frozenset)):
            return (type(o).__name__, sorted(o))
        if isinstance(o, (ember.device, ember.dtype)):
            return (type(o).__name__, str(o))
        return o

    out = {}
    for path in sys.argv[2:]:
        obj = ember.load_torch(path)
        out[path] = plain(obj)
        if path.endswith("shared.pt"):  # tensors of one storage share memory, as in torch
            a, b = obj["a"].numpy(), obj["b"].numpy()
            out["shared_memory"] = bool(np.shares_memory(a, b))
            obj["a"].add_(100.0)
            out["b_after_a_add"] = obj["b"].numpy().copy()
    assert "torch" not in sys.modules, "ember.load_torch imported torch"
    with open(sys.argv[1], "wb") as f:
        pickle.dump(out, f)
""")


def load_in_subprocess(tmp_path, paths: list[str]) -> dict:
    """Run LOADER on ``paths`` in a fresh interpreter whose only ember is this checkout's."""
    script, result = tmp_path / "loader.py", tmp_path / "result.pkl"
    script.write_text(LOADER)
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(ember.__file__)))
    run = subprocess.run([sys.executable, str(script), str(result), *paths], env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    with open(result, "rb") as f:
        return pickle.load(f)


def same(ref, got, where="obj"):
    """``got`` (the plain image of ember's object) matches torch's object ``ref``."""
    if isinstance(ref, torch.Tensor):
        kind, arr, cls, req, dt = got
        assert kind == "tensor", where
        assert cls == ("Parameter" if isinstance(ref, torch.nn.Parameter) else "Tensor"), where
        assert dt == str(ref.dtype).split(".")[-1], where
        assert req == ref.requires_grad, where
        assert arr.shape == tuple(ref.shape), where
        np.testing.assert_array_equal(arr, ref.detach().numpy(), err_msg=where)
    elif isinstance(ref, dict):
        name, items = got
        assert name == type(ref).__name__, where
        assert [k for k, _ in items] == list(ref), where
        for (k, v), rv in zip(items, ref.values()):
            same(rv, v, f"{where}[{k!r}]")
    elif isinstance(ref, (list, tuple)):
        name, items = got
        assert name == type(ref).__name__ and len(items) == len(ref), where
        for i, (r, g) in enumerate(zip(ref, items)):
            same(r, g, f"{where}[{i}]")
    elif isinstance(ref, (set, frozenset)):
        assert got == (type(ref).__name__, sorted(ref)), where
    elif isinstance(ref, (torch.device, torch.dtype)):
        assert got[1].split(".")[-1] == str(ref).split(".")[-1], where
    else:
        assert type(got) is type(ref) and got == ref, where


def model_and_optimizer():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.BatchNorm2d(3),
                                torch.nn.Flatten(), torch.nn.Linear(12, 4))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.8, 0.99))
    for _ in range(2):
        opt.zero_grad()
        model(torch.randn(5, 2, 4, 4)).square().mean().backward()
        opt.step()
    return model, opt


def cases():
    """name -> the object torch.save writes."""
    model, opt = model_and_optimizer()
    base = torch.arange(24, dtype=torch.float64).reshape(4, 6)
    return {
        "state_dict": model.state_dict(),
        "optimizer": opt.state_dict(),
        "nested": {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3,
                   "history": [1.5, 0.75, None], "name": "run-1", "flags": (True, False),
                   "ids": {1, 5, 3}, "blob": b"\x00\xffraw", "device": torch.device("cpu"),
                   "dtype": torch.float32, "big": 2 ** 62, "params": list(model.parameters()),
                   "od": OrderedDict(b=torch.tensor([1, 2]), a=torch.tensor([True, False]))},
        "shared": {"a": base[1], "b": base[1:3]},          # one storage, two offsets
        "views": {"t": base.t(), "step": base[:, ::2], "col": base[:, 3],
                  "neg_free": base.reshape(2, 12)[1, 4:10], "expand": torch.ones(3).expand(2, 3)},
        "scalars": {"f32": torch.tensor(3.25), "i64": torch.tensor(-7),
                    "b": torch.tensor(True), "f64": torch.tensor(1e-300, dtype=torch.float64)},
        "empty": {"e": torch.zeros(0, 3), "e3": torch.zeros(2, 0, 4, dtype=torch.int64)},
        "tensor": torch.randn(3, 4, requires_grad=True),
        "parameter": torch.nn.Parameter(torch.randn(2, 2)),
        "frozen": torch.nn.Parameter(torch.randn(2), requires_grad=False),
        "extremes": torch.tensor([-(2 ** 63), 2 ** 63 - 1, 0]),
    }


def test_torch_save_files_load_without_torch(tmp_path):
    objs = cases()
    paths = {}
    for name, obj in objs.items():
        paths[name] = str(tmp_path / f"{name}.pt")
        torch.save(obj, paths[name])
    got = load_in_subprocess(tmp_path, list(paths.values()))
    for name, obj in objs.items():
        same(obj, got[paths[name]], name)
    # two tensors of one storage share memory after loading, as they did in torch
    assert got["shared_memory"]
    b = objs["shared"]["b"].clone()
    b[0] += 100.0
    np.testing.assert_array_equal(got["b_after_a_add"], b.numpy())


def test_state_dict_loads_into_the_same_ember_model(tmp_path):
    torch.manual_seed(1)
    ref = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 2))
    torch.save(ref.state_dict(), tmp_path / "m.pt")
    model = ember.nn.Sequential(ember.nn.Linear(5, 7), ember.nn.ReLU(), ember.nn.Linear(7, 2))
    model.load_state_dict(ember.load_torch(tmp_path / "m.pt"))
    x = np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32)
    np.testing.assert_allclose(model(ember.tensor(x)).detach().numpy(),
                               ref(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_file_object_and_map_location(tmp_path):
    buf = io.BytesIO()
    torch.save({"w": torch.arange(6.0).reshape(2, 3)}, buf)
    buf.seek(0)
    out = ember.load_torch(buf, map_location="cpu")
    assert out["w"].device == ember.device("cpu")
    np.testing.assert_array_equal(out["w"].numpy(), np.arange(6.0).reshape(2, 3))
    buf.seek(0)
    seen = []
    ember.load_torch(buf, map_location=lambda t, loc: seen.append(loc))
    assert seen == ["cpu"]
    buf.seek(0)
    out = ember.load_torch(buf, map_location={"cuda:0": "cpu"})
    assert out["w"].shape == (2, 3)


class Evil:
    """Unpickling this would create a file (a stand-in for any code)."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


class EvilOpen:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize("evil", [Evil, EvilOpen])
def test_a_pickle_with_code_is_refused_and_runs_nothing(tmp_path, evil):
    marker = tmp_path / "pwned"
    # hidden inside an ordinary state dict, after a tensor
    torch.save({"w": torch.ones(2), "x": [1, evil(marker)]}, tmp_path / "evil.pt")
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to load global "
                                                     r"(posix|io|builtins|os)\.(system|open)"):
        ember.load_torch(tmp_path / "evil.pt")
    assert not marker.exists()


def test_modules_and_other_torch_globals_are_refused(tmp_path):
    torch.save(torch.nn.Linear(2, 2), tmp_path / "module.pt")  # a whole module: code
    with pytest.raises(pickle.UnpicklingError, match="torch.nn.modules.linear.Linear"):
        ember.load_torch(tmp_path / "module.pt")


@pytest.mark.parametrize("dtype,name", [(torch.float16, "float16"), (torch.bfloat16, "bfloat16"),
                                        (torch.int32, "int32"), (torch.uint8, "uint8")])
def test_unsupported_dtypes_are_named(tmp_path, dtype, name):
    torch.save({"w": torch.zeros(3, dtype=dtype)}, tmp_path / "h.pt")
    with pytest.raises(TypeError, match=rf"load_torch: .*holds {name} .*supported: float32"):
        ember.load_torch(tmp_path / "h.pt")


def test_other_dtype_objects_are_named(tmp_path):
    torch.save({"dtype": torch.float16}, tmp_path / "dt.pt")
    with pytest.raises(TypeError, match="names the dtype torch.float16, which ember does not"):
        ember.load_torch(tmp_path / "dt.pt")


def test_legacy_format_missing_file_and_other_zips(tmp_path):
    torch.save({"w": torch.ones(2)}, tmp_path / "old.pt", _use_new_zipfile_serialization=False)
    with pytest.raises(pickle.UnpicklingError, match="legacy format"):
        ember.load_torch(tmp_path / "old.pt")
    with pytest.raises(FileNotFoundError, match="no such file"):
        ember.load_torch(tmp_path / "absent.pt")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(pickle.UnpicklingError, match="not a torch.save file"):
        ember.load_torch(tmp_path / "other.zip")
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), tmp_path / "script.pt")
    with pytest.raises(pickle.UnpicklingError, match="TorchScript archive"):
        ember.load_torch(tmp_path / "script.pt")


def rewrite(src, dst, change):
    """Copy a torch.save zip, passing each (name, bytes) record through ``change``."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            out = change(info.filename, zin.read(info))
            if out is not None:
                zout.writestr(info.filename, out)


def test_big_endian_records(tmp_path):
    ref = {"f": torch.randn(2, 3), "i": torch.tensor([1, -2, 2 ** 40]),
           "d": torch.randn(4, dtype=torch.float64)}
    torch.save(ref, tmp_path / "le.pt")
    dtypes = {}  # record key -> numpy dtype, from the storages' sizes and contents
    with zipfile.ZipFile(tmp_path / "le.pt") as zf:
        for name in zf.namelist():
            if "/data/" in name:
                raw = zf.read(name)
                for v in ref.values():
                    if v.numpy().tobytes() == raw:
                        dtypes[name] = v.numpy().dtype

    def swap(name, data):
        if name.endswith("/byteorder"):
            return b"big"
        if name in dtypes:
            return np.frombuffer(data, dtypes[name]).byteswap().tobytes()
        return data

    rewrite(tmp_path / "le.pt", tmp_path / "be.pt", swap)
    out = ember.load_torch(tmp_path / "be.pt")
    for k, v in ref.items():
        np.testing.assert_array_equal(out[k].numpy(), v.numpy())
        assert out[k].numpy().dtype == v.numpy().dtype


def test_truncated_storage_and_cuda_without_cuda(tmp_path):
    torch.save({"w": torch.ones(4)}, tmp_path / "ok.pt")
    rewrite(tmp_path / "ok.pt", tmp_path / "short.pt",
            lambda n, d: d[:8] if "/data/" in n else d)
    with pytest.raises(pickle.UnpicklingError, match="has 8 bytes, expected 4 x 4"):
        ember.load_torch(tmp_path / "short.pt")
    if ember.cuda.is_available():
        return
    # the same file as if saved from a GPU: the location string in the pickle says cuda:0
    rewrite(tmp_path / "ok.pt", tmp_path / "gpu.pt",
            lambda n, d: d.replace(b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0")
            if n.endswith("data.pkl") else d)
    with pytest.raises(RuntimeError, match="saved on 'cuda:0' but CUDA is not available"):
        ember.load_torch(tmp_path / "gpu.pt")
    out = ember.load_torch(tmp_path / "gpu.pt", map_location="cpu")
    np.testing.assert_array_equal(out["w"].numpy(), np.ones(4, np.float32))


@pytest.mark.parametrize("protocol", [4, 5])
def test_newer_pickle_protocols(tmp_path, protocol):
    ref = {"w": torch.randn(2, 3), "s": {1, 2}, "t": (torch.tensor(True), b"\x01"),
           "od": OrderedDict(a=torch.arange(3))}
    torch.save(ref, tmp_path / "p.pt", pickle_protocol=protocol)
    out = ember.load_torch(tmp_path / "p.pt")
    np.testing.assert_array_equal(out["w"].numpy(), ref["w"].numpy())
    assert out["s"] == {1, 2} and out["t"][1] == b"\x01" and bool(out["t"][0].item())
    assert isinstance(out["od"], OrderedDict)
    np.testing.assert_array_equal(out["od"]["a"].numpy(), [0, 1, 2])


def zip_with_pickle(path, pkl: bytes) -> None:
    """A torch.save-shaped archive around a hand-written pickle."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", pkl)
        zf.writestr("archive/byteorder", "little")
        zf.writestr("archive/version", "3\n")


def text(s: str) -> bytes:
    """Protocol-2 BINUNICODE for ``s``."""
    raw = s.encode()
    return b"X" + len(raw).to_bytes(4, "little") + raw


@pytest.mark.parametrize("target,attr", [(b"torch\nfloat32\n", "np"),
                                         (b"torch\ndevice\n", "__eq__")])
def test_a_pickle_cannot_rewrite_the_admitted_objects(tmp_path, target, attr):
    # GLOBAL target; (None, {attr: 1}); BUILD -> setattr(target, attr, 1) if it were allowed
    pkl = b"\x80\x02c" + target + b"N}" + text(attr) + b"K\x01s\x86b."
    zip_with_pickle(tmp_path / "build.pt", pkl)
    before = (ember.float32.np, ember.device.__eq__)
    with pytest.raises(pickle.UnpicklingError, match="refusing to set the state of a"):
        ember.load_torch(tmp_path / "build.pt")
    assert (ember.float32.np, ember.device.__eq__) == before
    assert ember.zeros(2).dtype is ember.float32 and ember.device("cpu") == "cpu"


def test_state_dict_metadata_survives(tmp_path):
    sd = torch.nn.Linear(2, 3).state_dict()
    assert hasattr(sd, "_metadata")  # torch.save writes it with BUILD
    torch.save(sd, tmp_path / "sd.pt")
    out = ember.load_torch(tmp_path / "sd.pt")
    assert isinstance(out, OrderedDict) and out._metadata == sd._metadata


def test_tensor_views_outside_their_storage_are_refused(tmp_path):
    torch.save({"w": torch.ones(4)}, tmp_path / "ok.pt")
    # the pickle spells the view as the tuple (4,) of size and (1,) of stride
    for old, new, err in [(b"K\x04\x85", b"K\x05\x85", "reaches past its storage of 4"),
                          (b"K\x04\x85", b"J\xff\xff\xff\xff\x85", "bad tensor view")]:
        rewrite(tmp_path / "ok.pt", tmp_path / "bad.pt",
                lambda n, d, old=old, new=new: d.replace(old, new, 1)
                if n.endswith("data.pkl") else d)
        with pytest.raises(pickle.UnpicklingError, match=err):
            ember.load_torch(tmp_path / "bad.pt")
