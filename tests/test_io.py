"""ember.save / ember.load: exact round trips in the safetensors format, resuming training
from a checkpoint, and clear errors (that change nothing) for bad files and bad models."""

from __future__ import annotations

import math
import threading
from collections import Counter, OrderedDict

import ember
import ember.nn as nn
import ember.optim as optim
import numpy as np
import pytest
from ember.io import CheckpointError, load, save
from ember.optim import lr_scheduler

safetensors = pytest.importorskip("safetensors")
st_numpy = pytest.importorskip("safetensors.numpy")


def same_bits(a: ember.Tensor, b: ember.Tensor) -> bool:
    """Same dtype, shape and bytes (so NaN payloads and -0.0 count)."""
    x, y = a.detach().numpy(), b.detach().numpy()
    return x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()


def snapshot(model: nn.Module) -> dict:
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def unchanged(model: nn.Module, before: dict) -> bool:
    after = snapshot(model)
    return after.keys() == before.keys() and all(
        np.array_equal(after[k], before[k]) for k in before)


# ---------------------------------------------------------------------------- round trips
SPECIAL = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, 3.4e38, -1.5])


@pytest.mark.parametrize("arr", [
    SPECIAL.astype(np.float32),
    SPECIAL.reshape(2, 4),                                # float64
    np.array(2.5, dtype=np.float32),                      # 0-d
    np.array(7, dtype=np.int64),                          # 0-d int
    np.zeros((0, 3), dtype=np.float32),                   # empty
    np.zeros((2, 0, 4), dtype=np.int64),
    np.array([-(2**63), 2**63 - 1, 0], dtype=np.int64),
    np.array([[True, False], [False, True]]),
    np.arange(24, dtype=np.float64).reshape(2, 3, 4).transpose(2, 0, 1),  # non-contiguous
], ids=["f32-special", "f64", "0d-f32", "0d-i64", "empty", "empty-3d", "i64-extremes", "bool",
        "non-contiguous"])
def test_tensor_round_trip_is_bit_exact(tmp_path, arr):
    t = ember.from_numpy(arr)
    save(t, tmp_path / "t.safetensors")
    back = load(tmp_path / "t.safetensors")
    assert isinstance(back, ember.Tensor) and back.device == ember.device("cpu")
    assert same_bits(back, t)
    back.add_(1) if back.dtype is not ember.bool else back.fill_(False)  # own, writable memory
    assert t.numpy().tobytes() == arr.tobytes()


def test_requires_grad_is_kept_but_not_the_graph(tmp_path):
    # as torch.save: requires_grad is part of a saved tensor; the graph and .grad are not
    w = ember.randn(3, 2, requires_grad=True)
    (w * 3).sum().backward()
    save({"y": w * 2, "w": w, "c": ember.ones(2)}, tmp_path / "w.safetensors")
    back = load(tmp_path / "w.safetensors")
    for key in ("y", "w"):
        assert back[key].requires_grad and back[key].is_leaf and back[key].grad_fn is None
        assert back[key].grad is None
    assert not back["c"].requires_grad
    np.testing.assert_array_equal(back["y"].detach().numpy(), (w * 2).detach().numpy())


def test_plain_values_and_containers_keep_their_types(tmp_path):
    obj = {
        "ints": [0, -3, 2**70], "floats": (1.5, -0.0, math.inf, -math.inf, 0.1),
        "misc": [None, True, False, "text ✓", [], {}, ()],
        3: "an int key", (1, "a"): "a tuple key", None: "a None key", 2.5: "a float key",
        "od": OrderedDict([("z", 1), ("a", 2)]), "counter": Counter([5, 5, 7]),
        "nested": {"deeper": {"t": ember.arange(3), "l": [ember.ones(2), (ember.zeros(1),)]}},
    }
    save(obj, tmp_path / "c.safetensors")
    back = load(tmp_path / "c.safetensors")
    assert list(back) == list(obj)
    for k in ("ints", "floats", "misc", 3, (1, "a"), None, 2.5):
        assert back[k] == obj[k] and type(back[k]) is type(obj[k])
    assert math.copysign(1.0, back["floats"][1]) == -1.0
    assert type(back["od"]) is OrderedDict and list(back["od"].items()) == [("z", 1), ("a", 2)]
    assert type(back["counter"]) is Counter and back["counter"] == Counter({5: 2, 7: 1})
    deeper = back["nested"]["deeper"]
    assert same_bits(deeper["t"], obj["nested"]["deeper"]["t"])
    assert isinstance(deeper["l"][1], tuple) and same_bits(deeper["l"][1][0], ember.zeros(1))


def test_nan_float_value(tmp_path):
    save({"x": math.nan}, tmp_path / "n.safetensors")
    assert math.isnan(load(tmp_path / "n.safetensors")["x"])


def test_shared_tensor_is_stored_once_and_stays_shared(tmp_path):
    t = ember.randn(4)
    save({"a": t, "b": [t]}, tmp_path / "s.safetensors")
    back = load(tmp_path / "s.safetensors")
    assert back["a"] is back["b"][0]
    with safetensors.safe_open(str(tmp_path / "s.safetensors"), framework="numpy") as f:
        assert list(f.keys()) == ["a"]


def test_colliding_dotted_keys_are_kept_apart(tmp_path):
    obj = {"a.b": ember.zeros(1), "a": {"b": ember.ones(1)}}
    save(obj, tmp_path / "k.safetensors")
    back = load(tmp_path / "k.safetensors")
    assert back["a.b"].item() == 0 and back["a"]["b"].item() == 1


def make_model() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 3))


def test_state_dict_round_trip_and_plain_safetensors_interop(tmp_path):
    model = make_model()
    sd = model.state_dict()
    save(sd, tmp_path / "m.safetensors")
    back = load(tmp_path / "m.safetensors")
    assert type(back) is OrderedDict and list(back) == list(sd)
    assert all(same_bits(back[k], sd[k]) for k in sd)
    assert back["1.num_batches_tracked"].dtype is ember.int64
    # any safetensors reader sees the same tensors under the same dotted names
    plain = st_numpy.load_file(str(tmp_path / "m.safetensors"))
    assert set(plain) == set(sd)
    np.testing.assert_array_equal(plain["0.weight"], sd["0.weight"].numpy())


def test_module_save_and_load(tmp_path):
    model, other = make_model(), make_model()
    model.save(tmp_path / "m.safetensors")
    result = other.load(tmp_path / "m.safetensors")
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert all(same_bits(a, b) for a, b in zip(model.state_dict().values(),
                                               other.state_dict().values()))


def test_foreign_safetensors_file_loads_as_flat_dict(tmp_path):
    path = str(tmp_path / "hf.safetensors")
    st_numpy.save_file({"emb.weight": np.ones((2, 3), np.float16),
                                 "ids": np.arange(3, dtype=np.int32),
                                 "w": np.full((2,), 0.5, np.float32)}, path)
    back = load(path)
    assert set(back) == {"emb.weight", "ids", "w"}
    assert back["emb.weight"].dtype is ember.float32 and back["ids"].dtype is ember.int64
    assert back["w"].dtype is ember.float32 and back["ids"].tolist() == [0, 1, 2]


def test_unpicklable_values_are_refused_when_saving_naming_where(tmp_path):
    with pytest.raises(TypeError, match="function at 'fn'.*cannot be"):
        save({"fn": lambda: 0}, tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match="lock at 'a.1'"):
        save({"a": [1, threading.Lock()], "b": nn.Linear(2, 2)}, tmp_path / "x.safetensors")
    assert list(tmp_path.iterdir()) == []  # no file, no temporary file


def test_map_location(tmp_path):
    save({"w": ember.ones(2)}, tmp_path / "d.safetensors")
    assert load(tmp_path / "d.safetensors", map_location="cpu")["w"].device == ember.device("cpu")
    if not ember.cuda.is_available():
        pytest.skip("no GPU: map_location='cuda' not exercised")
    w = load(tmp_path / "d.safetensors", map_location="cuda")["w"]
    assert w.device.type == "cuda" and w.cpu().tolist() == [1.0, 1.0]


# ---------------------------------------------------------------------------- resuming training
def data(step: int) -> tuple[ember.Tensor, ember.Tensor]:
    rng = np.random.default_rng(100 + step)
    return (ember.tensor(rng.normal(size=(16, 4)), dtype=ember.float32),
            ember.tensor(rng.integers(0, 3, size=16)))


def train_steps(model, opt, sched, steps: range) -> None:
    for step in steps:
        x, y = data(step)
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        sched.step()


TRAINERS = {
    "adam+onecycle": (lambda p: optim.Adam(p, lr=0.01, amsgrad=True),
                      lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.05, total_steps=10)),
    "sgd+multistep": (lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
                      lambda o: lr_scheduler.MultiStepLR(o, milestones=[2, 4, 4], gamma=0.5)),
    "adamw+cosine": (lambda p: optim.AdamW(p, lr=0.01, weight_decay=0.1),
                     lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=5)),
}


@pytest.mark.parametrize("name", list(TRAINERS))
def test_resume_from_checkpoint_equals_uninterrupted_training(tmp_path, name):
    make_opt, make_sched = TRAINERS[name]

    def fresh():
        ember.manual_seed(0)
        model = make_model()
        opt = make_opt(model.parameters())
        return model, opt, make_sched(opt)

    model, opt, sched = fresh()
    train_steps(model, opt, sched, range(6))

    model2, opt2, sched2 = fresh()
    train_steps(model2, opt2, sched2, range(3))
    save({"model": model2.state_dict(), "optimizer": opt2.state_dict(),
          "scheduler": sched2.state_dict(), "epoch": 3}, tmp_path / "ckpt.safetensors")
    del model2, opt2, sched2

    model3, opt3, sched3 = fresh()
    ckpt = load(tmp_path / "ckpt.safetensors")
    assert ckpt["epoch"] == 3
    assert all(isinstance(k, int) for k in ckpt["optimizer"]["state"])
    assert all(isinstance(g.get("betas", ()), tuple) for g in ckpt["optimizer"]["param_groups"])
    model3.load_state_dict(ckpt["model"])
    opt3.load_state_dict(ckpt["optimizer"])
    sched3.load_state_dict(ckpt["scheduler"])
    train_steps(model3, opt3, sched3, range(3, 6))

    for (k, a), b in zip(model.state_dict().items(), model3.state_dict().values()):
        assert same_bits(a, b), k
    assert sched3.get_last_lr() == sched.get_last_lr()
    assert opt3.param_groups[0].keys() == opt.param_groups[0].keys()
    for key, value in opt.param_groups[0].items():
        if key != "params":
            assert opt3.param_groups[0][key] == value and \
                type(opt3.param_groups[0][key]) is type(value), key


# ---------------------------------------------------------------------------- errors
@pytest.fixture
def checkpoint(tmp_path):
    """A model's checkpoint file and a different model to load it into."""
    ember.manual_seed(1)
    path = tmp_path / "good.safetensors"
    make_model().save(path)
    ember.manual_seed(2)
    return path, make_model()


def corrupt(path, new_path, edit) -> str:
    data = bytearray(path.read_bytes())
    new_path.write_bytes(bytes(edit(data)))
    return str(new_path)


def flip_last_byte(data: bytearray) -> bytearray:
    data[-1] ^= 0x40  # inside the last tensor's data: only the CRC can notice
    return data


def damage_structure(data: bytearray) -> bytearray:
    i = data.index(b'{\\"$dict')  # the JSON structure, escaped inside the header's JSON
    data[i + 3] = ord("X")
    return data


@pytest.mark.parametrize("edit,match", [
    (lambda d: d[: len(d) // 2], "not a readable safetensors"),       # truncated
    (lambda d: d[:6], "not a readable safetensors"),                  # header cut
    (lambda d: b"", "not a readable safetensors"),                    # empty file
    (lambda d: b"PK\x03\x04 this is a zip, not a checkpoint " * 20, "not a readable"),
    (flip_last_byte, "damaged"),
    (damage_structure, "damaged|unknown entry"),
], ids=["truncated", "header-cut", "empty", "garbage", "payload-bit-flip", "bad-structure"])
def test_bad_files_raise_naming_the_file_and_change_nothing(tmp_path, checkpoint, edit, match):
    path, model = checkpoint
    bad = corrupt(path, tmp_path / "bad.safetensors", edit)
    before = snapshot(model)
    with pytest.raises(CheckpointError, match=match) as info:
        load(bad)
    assert "bad.safetensors" in str(info.value)
    with pytest.raises(CheckpointError):
        model.load(bad)
    assert unchanged(model, before)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        load(tmp_path / "nope.safetensors")


def test_mismatched_shapes_raise_naming_the_keys_and_change_nothing(tmp_path):
    path = tmp_path / "small.safetensors"
    nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3)).save(path)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    before = snapshot(model)
    with pytest.raises(RuntimeError, match="small.safetensors") as info:
        model.load(path)
    msg = str(info.value)
    assert "0.weight" in msg and "0.bias" in msg and "2.weight" in msg and "2.bias" not in msg
    assert unchanged(model, before)
    with pytest.raises(RuntimeError, match="size mismatch"):  # even with strict=False
        model.load(path, strict=False)
    assert unchanged(model, before)


def test_mismatched_keys_raise_unless_not_strict(tmp_path):
    path = tmp_path / "one.safetensors"
    nn.Sequential(nn.Linear(4, 8)).save(path)
    model = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 3))
    before = snapshot(model)
    with pytest.raises(RuntimeError, match=r'Missing key\(s\).*"1\.weight"'):
        model.load(path)
    assert unchanged(model, before)
    result = model.load(path, strict=False)
    assert result.missing_keys == ["1.weight", "1.bias"]
    np.testing.assert_array_equal(model[0].weight.detach().numpy(),
                                  load(path)["0.weight"].numpy())


def test_loading_a_non_state_dict_into_a_module(tmp_path):
    save(ember.ones(3), tmp_path / "t.safetensors")
    with pytest.raises(TypeError, match="not a state dict"):
        make_model().load(tmp_path / "t.safetensors")
