"""ember.save / ember.load with PyTorch's semantics: file objects, NumPy arrays, whole objects
(pickled, their tensors in the safetensors payload), weights_only, map_location, one checksum
over the whole checkpoint, and the format staying standard safetensors (both ways)."""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
from collections import OrderedDict

import ember
import ember.nn as nn
import ember.optim as optim
import numpy as np
import pytest
from ember import _safetensors as st_format
from ember import io as eio
from ember.io import CheckpointError, load, save

st_numpy = pytest.importorskip("safetensors.numpy")


def same_bits(a: ember.Tensor, b: ember.Tensor) -> bool:
    x, y = a.detach().numpy(), b.detach().numpy()
    return x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()


def make_model() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 3))


def batch(step: int) -> tuple[ember.Tensor, ember.Tensor]:
    rng = np.random.default_rng(step)
    return (ember.tensor(rng.normal(size=(16, 4)), dtype=ember.float32),
            ember.tensor(rng.integers(0, 3, size=16)))


def train(model: nn.Module, opt: optim.Optimizer, steps: range) -> list[float]:
    losses = []
    for step in steps:
        x, y = batch(step)
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def round_trip(obj, target, **load_args):
    """Save ``obj`` to a path (``target`` a tmp dir) or a BytesIO (``target`` None), load it."""
    if target is None:
        buffer = io.BytesIO()
        save(obj, buffer)
        buffer.seek(0)
        return load(buffer, **load_args)
    save(obj, target / "obj.safetensors")
    return load(target / "obj.safetensors", **load_args)


@pytest.fixture(params=["path", "bytesio"])
def target(request, tmp_path):
    return tmp_path if request.param == "path" else None


# ---------------------------------------------------------------------------- file objects
@pytest.mark.parametrize("dtype", [ember.float32, ember.float64, ember.int64, ember.bool])
@pytest.mark.parametrize("shape", [(), (0,), (2, 0, 3), (3, 5)])
def test_tensors_of_every_dtype_round_trip(target, dtype, shape):
    t = (ember.randn(*shape) * 5).to(dtype) if shape else ember.tensor(3.7).to(dtype)
    back = round_trip({"t": t, "again": t}, target)
    assert same_bits(back["t"], t) and back["again"] is back["t"]


def test_open_binary_files_and_several_checkpoints_in_one_stream(tmp_path):
    path = tmp_path / "two.bin"
    with open(path, "wb") as f:
        save({"epoch": 1, "w": ember.ones(2)}, f)
        save([ember.zeros(3), "second"], f)
    with open(path, "rb") as f:
        first, second = load(f), load(f)
        assert f.read() == b""  # each load stops just past its checkpoint
    assert first["epoch"] == 1 and first["w"].tolist() == [1.0, 1.0]
    assert second[0].tolist() == [0.0, 0.0, 0.0] and second[1] == "second"


class NoReadinto(io.RawIOBase):
    """A stream with read() but no readinto(): the reader must not need the latter."""
    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self, n=-1):
        return self._data.read(min(n, 3) if n > 0 else n)  # short reads, too


NoReadinto.readinto = None  # type: ignore[assignment]


def test_streams_without_readinto_and_with_short_reads():
    buffer = io.BytesIO()
    save({"w": ember.arange(10), "a": np.arange(6.0)}, buffer)
    back = load(NoReadinto(buffer.getvalue()))
    assert back["w"].tolist() == list(range(10)) and back["a"].tolist() == list(range(6))


def test_bad_file_arguments(tmp_path):
    with open(tmp_path / "t.txt", "w") as text:
        with pytest.raises(TypeError, match="text mode.*'wb'"):
            save(ember.ones(1), text)
    with pytest.raises(TypeError, match="binary file object with write"):
        save(ember.ones(1), 42)
    with pytest.raises(TypeError, match="binary file object with read"):
        load(object())
    with pytest.raises(TypeError, match="weights_only must be a bool"):
        load(tmp_path / "t.txt", weights_only="no")


# ---------------------------------------------------------------------------- NumPy arrays
@pytest.mark.parametrize("arr", [
    np.arange(6, dtype=np.float16).reshape(2, 3), np.array([-3, 7], dtype=np.int32),
    np.array([0, 255], dtype=np.uint8), np.array([2**64 - 1], dtype=np.uint64),
    np.array(1.5), np.zeros((0, 2), dtype=np.int8), np.array([True, False]),
    np.arange(12.0).reshape(3, 4).T, np.array([1.0, -2.0], dtype=">f4"),
], ids=["f16", "i32", "u8", "u64", "0d", "empty-i8", "bool", "non-contiguous", "big-endian"])
def test_ndarrays_are_plain_data(target, arr):
    back = round_trip({"arr": arr}, target)["arr"]  # weights_only=True, the default
    assert type(back) is np.ndarray and back.shape == arr.shape
    assert back.dtype == arr.dtype.newbyteorder("=") and np.array_equal(back, arr)
    assert back.flags.writeable


def test_shared_arrays_stay_shared_and_odd_arrays_are_pickled(target):
    a = np.arange(4.0)
    back = round_trip({"x": a, "y": [a]}, target)
    assert back["x"] is back["y"][0]
    odd = np.array([1 + 2j, 3j])  # complex: no safetensors dtype, so pickled
    with pytest.raises(pickle.UnpicklingError, match="numpy.ndarray at 'c'"):
        round_trip({"c": odd}, target)
    assert np.array_equal(round_trip({"c": odd}, target, weights_only=False)["c"], odd)


def test_dtypes_devices_and_numpy_scalars_are_plain_data(target):
    obj = {"dtype": ember.int64, "device": ember.device("cpu"), "loss": np.float32(0.25),
           "n": np.int64(3)}
    back = round_trip(obj, target)
    assert back["dtype"] is ember.int64 and back["device"] == ember.device("cpu")
    assert back["loss"] == 0.25 and back["n"] == 3


# ---------------------------------------------------------------------------- whole objects
def test_whole_module_round_trip(target):
    ember.manual_seed(0)
    model = make_model()
    train(model, optim.SGD(model.parameters(), lr=0.1), range(3))  # BatchNorm stats move
    model[3].bias.requires_grad_(False)
    model.eval()
    back = round_trip(model, target, weights_only=False)
    assert type(back) is nn.Sequential and not back.training
    x, _ = batch(99)
    assert same_bits(back(x), model(x))
    for (name, p), q in zip(model.named_parameters(), back.parameters()):
        assert type(q) is nn.Parameter and q.requires_grad == p.requires_grad, name
        assert same_bits(p, q)
    for a, b in zip(model.buffers(), back.buffers()):
        assert same_bits(a, b)
    back.train()
    assert same_bits(back(x), model.train()(x))


def test_whole_module_payload_is_named_and_readable_by_safetensors(tmp_path):
    model = make_model()
    save({"model": model}, tmp_path / "m.safetensors")
    plain = st_numpy.load_file(str(tmp_path / "m.safetensors"))
    assert set(plain) == {f"model.{k}" for k in model.state_dict()}
    np.testing.assert_array_equal(plain["model.0.weight"], model[0].weight.detach().numpy())


@pytest.mark.parametrize("make_opt", [
    lambda p: optim.Adam(p, lr=0.01, amsgrad=True),
    lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
], ids=["adam", "sgd"])
def test_model_and_optimizer_objects_resume_the_same_trajectory(target, make_opt):
    def fresh():
        ember.manual_seed(0)
        model = make_model()
        return model, make_opt(model.parameters())

    model, opt = fresh()
    expected = train(model, opt, range(6))

    model2, opt2 = fresh()
    first = train(model2, opt2, range(3))
    ckpt = round_trip({"model": model2, "optimizer": opt2, "epoch": 3}, target,
                      weights_only=False)
    model3, opt3 = ckpt["model"], ckpt["optimizer"]
    # one object graph: the optimizer steps the loaded model's own parameters
    assert all(p is q for p, q in zip(opt3.param_groups[0]["params"], model3.parameters()))
    assert all(p in opt3.state for p in model3.parameters())
    assert first + train(model3, opt3, range(3, 6)) == expected
    for a, b in zip(model.state_dict().values(), model3.state_dict().values()):
        assert same_bits(a, b)


def test_self_containing_containers_are_pickled_with_their_cycle(target):
    loop = [1, ember.ones(2)]
    loop.append(loop)
    back = round_trip({"loop": loop}, target, weights_only=False)["loop"]
    assert back[2] is back and back[1].tolist() == [1.0, 1.0]


# ---------------------------------------------------------------------------- weights_only
def test_weights_only_refuses_pickled_objects_with_a_clear_error(target):
    obj = {"model": make_model(), "note": "plain", "step": OrderedDict(a=1)}
    with pytest.raises(pickle.UnpicklingError) as info:
        round_trip(obj, target)
    msg = str(info.value)
    assert "ember.nn.containers.Sequential at 'model'" in msg or "Sequential at 'model'" in msg
    assert "weights_only=False" in msg and "trusted" in msg and "runs code" in msg
    back = round_trip(obj, target, weights_only=False)
    assert isinstance(back["model"], nn.Sequential) and back["step"] == OrderedDict(a=1)


def test_state_dicts_load_with_the_default(target):
    model = make_model()
    opt = optim.Adam(model.parameters())
    train(model, opt, range(1))
    back = round_trip({"model": model.state_dict(), "optimizer": opt.state_dict(),
                       "epoch": 3, "arr": np.ones(2)}, target)
    assert back["epoch"] == 3 and set(back["model"]) == set(model.state_dict())
    make_model().load_state_dict(back["model"])


def test_weights_only_default_agrees_with_pytorch(tmp_path):
    torch = pytest.importorskip("torch")
    import inspect

    assert inspect.signature(load).parameters["weights_only"].default is True
    torch.save({"model": torch.nn.Linear(2, 2)}, tmp_path / "t.pt")
    with pytest.raises(pickle.UnpicklingError):  # torch refuses pickled modules by default
        torch.load(tmp_path / "t.pt")
    save({"model": nn.Linear(2, 2)}, tmp_path / "e.safetensors")
    with pytest.raises(pickle.UnpicklingError):  # and so does ember
        load(tmp_path / "e.safetensors")


def test_same_object_graph_as_torch_save(tmp_path):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    w = rng.normal(size=(3, 4)).astype(np.float32)
    idx = rng.integers(0, 9, size=5)

    def graph(lib):
        t = lib.tensor(w)
        return {"w": t, "same": [t, (t,)], "idx": lib.tensor(idx), "mask": lib.tensor([True]),
                "rg": lib.tensor([1.0, 2.0], requires_grad=True),
                "p": lib.nn.Parameter(lib.tensor([0.5]), requires_grad=False),
                "meta": {"epoch": 3, 7: "int key", "lr": 1e-3, "name": "run", "none": None},
                "od": OrderedDict(b=1, a=2), "tup": (1, 2.5, "x")}

    torch.save(graph(torch), tmp_path / "g.pt")
    save(graph(ember), tmp_path / "g.safetensors")
    a, b = torch.load(tmp_path / "g.pt"), load(tmp_path / "g.safetensors")
    assert list(a) == list(b) and a["meta"] == b["meta"] and a["tup"] == b["tup"]
    assert type(a["od"]) is type(b["od"]) and list(a["od"].items()) == list(b["od"].items())
    for key in ("w", "idx", "mask", "rg", "p"):
        np.testing.assert_array_equal(a[key].detach().numpy(), b[key].detach().numpy())
        assert a[key].requires_grad == b[key].requires_grad, key
        assert (type(a[key]).__name__ == "Parameter") == (type(b[key]).__name__ == "Parameter")
    assert (a["same"][0] is a["w"]) and (b["same"][0] is b["w"])
    assert (a["same"][1][0] is a["w"]) and (b["same"][1][0] is b["w"])


# ---------------------------------------------------------------------------- damage
def header_of(data: bytes) -> tuple[dict, int]:
    n = int.from_bytes(data[:8], "little")
    return json.loads(data[8:8 + n]), n


def with_header(data: bytes, edit) -> bytes:
    """The file with its header JSON edited by ``edit`` (a dict -> None), same layout."""
    header, n = header_of(data)
    edit(header)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + data[8 + n:]


def edit_structure(header: dict) -> None:
    meta = header["__metadata__"]
    meta["ember.structure"] = meta["ember.structure"].replace('["epoch",3]', '["epoch",4]')
    assert '["epoch",4]' in meta["ember.structure"]


def set_entry(name: str, field: str, value):
    def edit(header: dict) -> None:
        header[name][field] = value
    return edit


def edit_crc(header: dict) -> None:
    meta = header["__metadata__"]
    crcs = json.loads(meta["ember.crc32"])
    crcs["w"] ^= 1
    meta["ember.crc32"] = json.dumps(crcs)


def drop_checksum(header: dict) -> None:
    del header["__metadata__"]["ember.checksum"]


def rename_tensor(header: dict) -> None:
    header["v"] = header.pop("w")


def edit_pickle(header: dict) -> None:
    meta = header["__metadata__"]
    raw = bytearray(eio.base64.b64decode(meta["ember.pickle"]))
    raw[raw.index(b"SGD") + 1] = ord("H")  # a different optimizer class
    meta["ember.pickle"] = eio.base64.b64encode(bytes(raw)).decode()


def flip_byte(data: bytes) -> bytes:
    out = bytearray(data)
    out[-3] ^= 0x01
    return bytes(out)


DAMAGE = {
    "structure-value": lambda d: with_header(d, edit_structure),
    "dtype": lambda d: with_header(d, set_entry("w", "dtype", "I32")),
    "shape": lambda d: with_header(d, set_entry("w", "shape", [3, 2])),
    "name": lambda d: with_header(d, rename_tensor),
    "crc": lambda d: with_header(d, edit_crc),
    "no-checksum": lambda d: with_header(d, drop_checksum),
    "pickle": lambda d: with_header(d, edit_pickle),
    "payload-byte": flip_byte,
    "truncated": lambda d: d[:-5],
    "trailing-bytes": lambda d: d + b"\0" * 8,
    "header-length": lambda d: (len(d) * 3).to_bytes(8, "little") + d[8:],
}


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_any_damage_is_a_checkpoint_error_naming_the_file(tmp_path, kind):
    ember.manual_seed(0)
    model = nn.Linear(3, 2)
    obj = {"epoch": 3, "w": ember.randn(2, 3), "opt": optim.SGD(model.parameters(), lr=0.1)}
    good = tmp_path / "good.safetensors"
    save(obj, good)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(DAMAGE[kind](good.read_bytes()))
    for weights_only in (True, False):
        with pytest.raises(CheckpointError, match="bad.safetensors") as info:
            load(bad, weights_only=weights_only)
    if kind == "payload-byte":  # the CRC-32s name the tensor
        assert "the data of tensor 'opt.param_groups.0.params" in str(info.value)
    if kind != "trailing-bytes":  # a stream may hold more after a checkpoint
        with pytest.raises(CheckpointError, match="BytesIO"):
            load(io.BytesIO(DAMAGE[kind](good.read_bytes())), weights_only=False)
    assert load(good, weights_only=False)["epoch"] == 3


def test_layout_1_files_still_load_and_are_still_checked(tmp_path):
    """A file as ember wrote it before the checksum (layout "1", via safetensors)."""
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    structure = {"$dict": [["w", {"$tensor": "w"}], ["epoch", 3]]}
    meta = {"format": "ember", "ember.version": "1",
            "ember.structure": json.dumps(structure),
            "ember.crc32": json.dumps({"w": eio._crc32(w)})}
    path = tmp_path / "v1.safetensors"
    path.write_bytes(st_numpy.save({"w": w}, metadata=meta))
    back = load(path)
    assert back["epoch"] == 3 and back["w"].tolist() == w.tolist()
    path.write_bytes(flip_byte(path.read_bytes()))
    with pytest.raises(CheckpointError, match="tensor 'w'"):
        load(path)
    path.write_bytes(st_numpy.save({"w": w}, metadata={**meta, "ember.version": "9"}))
    with pytest.raises(CheckpointError, match="version '9'"):
        load(path)


# ---------------------------------------------------------------------------- map_location
def saved_on(device: str, tmp_path) -> str:
    """A checkpoint whose tensor was saved from ``device`` (rewritten: this machine may have
    no GPU), its checksum recomputed as ember would."""
    path = tmp_path / "dev.safetensors"
    save({"w": ember.ones(2)}, path)
    with open(path, "rb") as f:
        meta, _, arrays = st_format.read_safetensors(f, "x")
    meta["ember.structure"] = meta["ember.structure"].replace(
        '{"$tensor":"w"}', f'{{"$tensor":"w","device":"{device}"}}')
    meta["ember.checksum"] = eio._checksum(meta, st_format.layout(arrays))
    with open(path, "wb") as f:
        st_format.write_safetensors(f, arrays, meta)
    return str(path)


def test_map_location_forms(tmp_path):
    path = saved_on("cuda:0", tmp_path)
    cpu = ember.device("cpu")
    if not ember.cuda.is_available():
        with pytest.raises(RuntimeError, match="saved on 'cuda:0'.*map_location='cpu'"):
            load(path)
    else:
        assert load(path)["w"].device.type == "cuda"
    assert load(path, map_location="cpu")["w"].device == cpu
    assert load(path, map_location=cpu)["w"].device == cpu
    assert load(path, map_location={"cuda:0": "cpu"})["w"].device == cpu
    assert load(path, map_location={"cuda": cpu})["w"].device == cpu  # cuda means cuda:0
    seen = []

    def fn(t, saved):
        seen.append((t.device, saved))
        return t * 2

    assert load(path, map_location=fn)["w"].tolist() == [2.0, 2.0]
    assert seen == [(cpu, "cuda:0")]
    with pytest.raises(TypeError, match="returned a str"):
        load(path, map_location=lambda t, saved: "cpu")
    with pytest.raises(TypeError, match="map_location must be None, a device"):
        load(path, map_location=3)
    with pytest.raises(TypeError, match="map_location dict"):
        load(path, map_location={"cuda:0": 3.5})


def test_map_location_applies_to_pickled_objects(tmp_path):
    save(nn.Linear(2, 2), tmp_path / "m.safetensors")
    calls = []
    back = load(tmp_path / "m.safetensors", weights_only=False,
                map_location=lambda t, saved: calls.append(saved))
    assert calls == ["cpu", "cpu"] and type(back.weight) is nn.Parameter


# ---------------------------------------------------------------------------- interop
def test_safetensors_reads_ember_files_and_ember_reads_theirs(tmp_path):
    arrays = {"f16": np.arange(4, dtype=np.float16), "i8": np.array([-1, 2], np.int8),
              "u8": np.array([200], np.uint8), "f64": np.ones((2, 2))}
    save({**arrays, "t": ember.arange(3)}, tmp_path / "e.safetensors")
    plain = st_numpy.load_file(str(tmp_path / "e.safetensors"))
    assert set(plain) == {*arrays, "t"} and plain["t"].tolist() == [0, 1, 2]
    for key, arr in arrays.items():
        assert plain[key].dtype == arr.dtype and np.array_equal(plain[key], arr)

    st_numpy.save_file(arrays, str(tmp_path / "s.safetensors"), metadata={"format": "np"})
    back = load(tmp_path / "s.safetensors")
    assert back["f16"].dtype is ember.float32 and back["f16"].tolist() == [0, 1, 2, 3]
    assert back["i8"].dtype is ember.int64 and back["i8"].tolist() == [-1, 2]
    assert back["u8"].tolist() == [200] and back["f64"].dtype is ember.float64


def test_bfloat16_files_from_torch_widen_exactly(tmp_path):
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch")
    x = torch.tensor([1.5, -2.0, 3.140625, 1e30], dtype=torch.bfloat16)
    st_torch.save_file({"x": x}, str(tmp_path / "bf16.safetensors"))
    back = load(tmp_path / "bf16.safetensors")["x"]
    assert back.dtype is ember.float32 and back.tolist() == x.float().tolist()


def test_unknown_dtypes_are_named(tmp_path):
    buffer = io.BytesIO()
    save({"w": ember.ones(2)}, buffer)
    data = with_header(buffer.getvalue(), set_entry("w", "dtype", "F8_E4M3"))
    with pytest.raises(CheckpointError, match="F8_E4M3"):
        load(io.BytesIO(data))


@pytest.mark.skipif(not ember.cuda.is_available(), reason="needs a GPU")
def test_gpu_tensors_and_modules_come_back_where_they_were(target):
    model = make_model().to("cuda")
    w = ember.randn(3, device="cuda")
    back = round_trip({"w": w, "model": model, "sd": model.state_dict()}, target,
                      weights_only=False)
    assert back["w"].device.type == "cuda" and back["w"].cpu().tolist() == w.cpu().tolist()
    assert all(p.device.type == "cuda" for p in back["model"].parameters())
    assert all(t.device.type == "cuda" for t in back["sd"].values())
    x = ember.randn(5, 4, device="cuda")
    model.eval()
    back["model"].eval()
    assert same_bits(back["model"](x).cpu(), model(x).cpu())
    on_cpu = round_trip({"w": w, "model": model}, target, weights_only=False,
                        map_location="cpu")
    assert on_cpu["w"].device.type == "cpu"
    assert all(p.device.type == "cpu" for p in on_cpu["model"].parameters())
    mapped = round_trip({"w": w}, target, map_location={"cuda:0": "cpu"})
    assert mapped["w"].device.type == "cpu"


def test_absurd_sizes_in_a_damaged_header_are_checkpoint_errors(tmp_path):
    buffer = io.BytesIO()
    save(ember.ones(2), buffer)

    def huge(header: dict) -> None:
        header["tensor"].update(shape=[10**6, 10**6], data_offsets=[0, 4 * 10**12])

    data = with_header(buffer.getvalue(), huge)
    (tmp_path / "huge.safetensors").write_bytes(data)
    with pytest.raises(CheckpointError, match="huge.safetensors"):
        load(tmp_path / "huge.safetensors")
    with pytest.raises(CheckpointError, match="follow it"):
        load(io.BytesIO(data))
    with pytest.raises(CheckpointError, match="cannot be allocated|cut off"):
        load(NoReadinto(data))  # not seekable: nothing to compare with before allocating


def test_the_safetensors_package_is_not_needed_at_run_time():
    code = ("import sys; sys.modules['safetensors'] = None  # any import of it fails\n"
            "import io, ember\n"
            "b = io.BytesIO(); ember.save({'w': ember.ones(2), 'm': ember.nn.Linear(1, 1)}, b)\n"
            "b.seek(0); assert ember.load(b, weights_only=False)['w'].tolist() == [1.0, 1.0]\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120)
    assert run.returncode == 0, run.stderr
