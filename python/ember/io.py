"""Checkpoints: ``ember.save(obj, f)`` and ``ember.load(f)``, with PyTorch's semantics, in the
safetensors format.

``obj`` may be anything ``torch.save`` takes: a tensor, a state dict, a whole training state,
NumPy arrays, plain Python values, or whole objects (a Module, an Optimizer)::

    ember.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(), "epoch": 3}, "ckpt.safetensors")
    ckpt = ember.load("ckpt.safetensors")
    model.load_state_dict(ckpt["model"]); opt.load_state_dict(ckpt["optimizer"])

    ember.save(model, buffer)                            # a whole Module, to a file object
    model = ember.load(buffer, weights_only=False)       # only for files you trust

``f`` is a path (written atomically: a temporary file, then a rename) or a binary file object.

**Plain data and whole objects.** Tensors, NumPy arrays, None, bools, ints, floats, strings
and dicts / lists / tuples of them are *plain data*: they are described by JSON and load
with the default ``weights_only=True``, which never runs code from the file. Anything else
(a Module, an Optimizer, a dataclass, ...) is pickled, as ``torch.save`` does, with every
tensor and array inside it taken out into the tensor payload (so the pickle holds no tensor
bytes); loading it needs ``weights_only=False``, which runs code from the file: only for
files you trust.

**The file** is one `safetensors <https://huggingface.co/docs/safetensors>`_ file, so any
safetensors reader (in any language) reads its tensors. ember reads and writes the container
itself (``ember._safetensors``: an 8-byte little-endian header length, a JSON header, the raw
bytes), which is what lets it use file objects without the ``safetensors`` package.

- the tensor payload: every tensor and array under its dotted path in ``obj``
  (``model.fc.weight``, ``optimizer.state.0.exp_avg``); an object that appears twice is
  stored once and loads as one object;
- the safetensors ``__metadata__`` (a str -> str map):

  - ``format``: ``"ember"``; ``ember.version``: the layout version (``"2"``);
  - ``ember.structure``: ``obj`` as JSON. Plain JSON stands for itself (None, bools, ints,
    finite floats, strings, lists); the rest are tagged objects, so ``load`` rebuilds
    exactly the same types: ``{"$tensor": key}`` (with ``"parameter"``, ``"requires_grad"``
    and the saved ``"device"`` when they apply), ``{"$ndarray": key}``, ``{"$tuple": [...]}``,
    ``{"$float": "inf"}``, ``{"$dtype": "int64"}``, ``{"$device": "cuda:0"}``, every dict
    as ``{"$dict": [[key, value], ...]}`` (keys keep their type: the optimizer's state is
    keyed by ints) with ``"class": "OrderedDict"`` or ``"Counter"`` when it is one, and
    ``{"$pickle": i, "type": ..., "path": ...}`` for the i-th pickled object;
  - ``ember.pickle`` (only when something is pickled): the base64 pickle of the list of
    pickled objects (one pickle, so objects they share stay shared);
  - ``ember.crc32``: a CRC-32 of each tensor's bytes (it names the damaged tensor);
  - ``ember.checksum``: a SHA-256 over everything else: the metadata above (so the
    structure, the pickle and the CRCs, hence every payload byte) and each tensor's name,
    dtype, shape and position. A changed value anywhere is a ``CheckpointError``, never a
    quietly different checkpoint.

Files of layout ``"1"`` (no pickles, no arrays, no checksum) still load. A safetensors file
written by another library (no ``ember.structure``) loads as a flat dict of tensors, its
dtypes widened to ember's (float16/bfloat16 -> float32, int8/int32/uint8/... -> int64).
"""

from __future__ import annotations

import base64
import hashlib
import io as _pyio
import json
import math
import os
import pickle
import zlib
from collections import Counter, OrderedDict
from collections.abc import Callable
from typing import IO, Any

import numpy as np

from . import cuda as _cuda
from ._safetensors import CODE_OF, CheckpointError, layout, read_safetensors, write_safetensors
from .creation import from_numpy
from .device import as_device, device
from .dtypes import DType, _by_name
from .nn.module import Module, register_workflow
from .nn.parameter import Parameter
from .optim.optimizer import Optimizer
from .tensor import Tensor

__all__ = ["save", "load", "CheckpointError"]

PathLike = str | os.PathLike
FileLike = PathLike | IO[bytes]
MapLocation = (str | device | dict[str | device, str | device]
               | Callable[[Tensor, str], Tensor | None] | None)

_LAYOUT_VERSION = "2"
_KNOWN_VERSIONS = ("1", "2")
_VERSION = "ember.version"
_STRUCTURE = "ember.structure"
_CRC = "ember.crc32"
_PICKLE = "ember.pickle"
_CHECKSUM = "ember.checksum"
_DICT_CLASSES: dict[str, type] = {"OrderedDict": OrderedDict, "Counter": Counter}
_PLAIN_KEYS = (str, int, float, bool, tuple)


def _checksum(metadata: dict[str, str], table: dict[str, list]) -> str:
    """SHA-256 of the metadata (less the checksum itself) and of each tensor's name, dtype,
    shape and position, in a canonical JSON form (so it is the same whoever wrote the JSON).
    The payload bytes are covered through their CRC-32s in the metadata."""
    meta = {k: v for k, v in metadata.items() if k != _CHECKSUM}
    tensors = sorted(([k, *v] for k, v in table.items()), key=lambda e: e[3])
    text = json.dumps([meta, tensors], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _crc32(arr: np.ndarray) -> int:
    return zlib.crc32(np.require(arr, requirements="C").reshape(-1).view(np.uint8))


# ---------------------------------------------------------------------------- save
class _Cycle(Exception):
    """A container that contains itself: JSON cannot say that, a pickle can."""
    def __init__(self, obj_id: int) -> None:
        self.obj_id = obj_id


class _Packer:
    """Turns ``obj`` into a JSON-able structure, a {key: numpy array} payload and the list
    of objects that must be pickled."""
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.pickled: list[Any] = []
        self.pickled_paths: list[str] = []   # where each pickled object is in obj
        self._key_of: dict[int, str] = {}  # id(tensor or array) -> key: shared ones stored once
        self._pickle_of: dict[int, int] = {}  # id(object) -> its index in self.pickled
        self._keep: list[Any] = []         # keeps those ids alive while packing
        self._open: set[int] = set()       # containers being packed (to notice cycles)

    def pack(self, obj: Any, path: str) -> Any:
        if isinstance(obj, Tensor):
            return self._tensor_node(obj, path)
        if type(obj) is np.ndarray and _storable(obj):
            return {"$ndarray": self._add(obj, path)}
        if obj is None or type(obj) in (bool, int, str):
            return obj
        if type(obj) is float:
            return obj if math.isfinite(obj) else {"$float": repr(obj)}
        if type(obj) is DType:
            return {"$dtype": obj.name}
        if type(obj) is device:
            return {"$device": str(obj)}
        if isinstance(obj, np.generic) and obj.dtype.kind in "biuf":
            return self.pack(obj.item(), path)  # NumPy scalars become the Python value
        if type(obj) in (tuple, list) or (type(obj) in (dict, OrderedDict, Counter)
                                          and all(k is None or type(k) in _PLAIN_KEYS
                                                  for k in obj)):
            return self._pack_container(obj, path)
        return self._pickle_node(obj, path)

    def _pack_container(self, obj: Any, path: str) -> Any:
        if id(obj) in self._open:
            raise _Cycle(id(obj))
        self._open.add(id(obj))
        try:
            if isinstance(obj, dict):
                items = [[self.pack(k, path), self.pack(v, _join(path, k))]
                         for k, v in obj.items()]
                out: Any = {"$dict": items}
                for name, cls in _DICT_CLASSES.items():
                    if type(obj) is cls:
                        out["class"] = name
                return out
            items = [self.pack(v, _join(path, i)) for i, v in enumerate(obj)]
            return {"$tuple": items} if isinstance(obj, tuple) else items
        except _Cycle as e:
            if e.obj_id != id(obj):
                raise
            return self._pickle_node(obj, path)  # pickle keeps the cycle
        finally:
            self._open.discard(id(obj))

    def _pickle_node(self, obj: Any, path: str) -> dict:
        if id(obj) not in self._pickle_of:
            self._name_tensors(obj, path)
            self._pickle_of[id(obj)] = len(self.pickled)
            self.pickled.append(obj)
            self.pickled_paths.append(path)
            self._keep.append(obj)
        cls = type(obj)
        return {"$pickle": self._pickle_of[id(obj)], "type": f"{cls.__module__}.{cls.__qualname__}",
                "path": path}

    def _name_tensors(self, obj: Any, path: str) -> None:
        """Give the tensors of a pickled Module / Optimizer their dotted names in the payload
        (``model.0.weight``, ``opt.state.0.exp_avg``) before pickling finds them."""
        if isinstance(obj, Module):
            for name, t in obj.state_dict(keep_vars=True).items():
                self._add(t, _join(path, name))
        elif isinstance(obj, Optimizer):
            i = 0
            for g, group in enumerate(obj.param_groups):
                for j, p in enumerate(group["params"]):
                    self._add(p, _join(path, f"param_groups.{g}.params.{j}"))
                    for name, v in obj.state.get(p, {}).items():
                        if isinstance(v, Tensor):
                            self._add(v, _join(path, f"state.{i}.{name}"))
                    i += 1

    def _tensor_node(self, t: Tensor, path: str) -> dict:
        key, is_param, requires_grad, dev = self._tensor_info(t, path)
        node: dict[str, Any] = {"$tensor": key}
        if is_param:
            node["parameter"] = True
        if requires_grad:
            node["requires_grad"] = True
        if dev != "cpu":
            node["device"] = dev
        return node

    def _tensor_info(self, t: Tensor, path: str) -> tuple[str, bool, bool, str]:
        return (self._add(t, path), isinstance(t, Parameter), t.requires_grad, str(t.device))

    def _add(self, obj: Tensor | np.ndarray, path: str) -> str:
        """The payload key of a tensor or array, adding it on first sight."""
        if id(obj) in self._key_of:
            return self._key_of[id(obj)]
        key = path or "tensor"
        n = 1
        while key in self.arrays:  # {'a.b': t1, 'a': {'b': t2}} would collide
            key, n = f"{path or 'tensor'}#{n}", n + 1
        arr = obj.detach().cpu().numpy() if isinstance(obj, Tensor) else obj
        arr = np.asarray(arr)
        if arr.dtype.byteorder == ">":
            arr = arr.astype(arr.dtype.newbyteorder("<"))
        if not arr.flags.c_contiguous:  # (not np.ascontiguousarray: it turns 0-d into 1-d)
            arr = arr.copy(order="C")
        self.arrays[key] = arr
        self._key_of[id(obj)] = key
        self._keep.append(obj)
        return key

    def _anonymous(self) -> str:
        """A payload key for a tensor met only inside a pickled object."""
        return f"pickled.{len(self.arrays)}"

    def dump_pickle(self) -> bytes:
        """The pickled objects as one pickle, their tensors and arrays taken out into the
        payload (pickle's persistent ids), so shared objects stay shared."""
        packer = self

        class _Pickler(pickle.Pickler):
            def persistent_id(self, obj: Any) -> Any:
                if isinstance(obj, Tensor):
                    return ("ember.tensor", *packer._tensor_info(obj, packer._anonymous()))
                if type(obj) is np.ndarray and _storable(obj):
                    return ("ember.ndarray", packer._add(obj, packer._anonymous()))
                return None

        def dumps(obj: Any) -> bytes:
            buffer = _pyio.BytesIO()
            _Pickler(buffer, protocol=pickle.DEFAULT_PROTOCOL).dump(obj)
            return buffer.getvalue()

        try:
            return dumps(self.pickled)
        except (pickle.PicklingError, TypeError, AttributeError, RecursionError) as err:
            obj, where, cause = self.pickled[0], self.pickled_paths[0], err
            for o, path in zip(self.pickled, self.pickled_paths):  # name the culprit
                try:
                    dumps(o)
                except (pickle.PicklingError, TypeError, AttributeError, RecursionError) as e:
                    obj, where, cause = o, path, e
                    break
            raise TypeError(
                f"ember.save: can't save the {type(obj).__name__} at "
                f"{where or 'the top level'!r}: objects that "
                f"are not tensors, arrays or plain values are pickled, and this one cannot be "
                f"({type(cause).__name__}: {cause})"
            ) from cause


def _storable(arr: np.ndarray) -> bool:
    """An array the safetensors payload can hold exactly (others are pickled)."""
    return arr.dtype.newbyteorder("<") in CODE_OF


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def save(obj: Any, f: FileLike) -> None:
    """Save ``obj`` to ``f``, as ``torch.save`` (the file is a safetensors file).

    Tensors are saved from wherever they live (GPU tensors are copied to the host) with
    their dtype, shape, ``requires_grad``, whether they are a ``Parameter``, and their device
    (``load`` puts them back there unless told otherwise); gradients and the graph are not
    saved. A tensor (or array, or object) that appears several times is saved once and
    loads as one object.

    Args:
        obj: a Tensor, a NumPy array, a plain value (None, bool, int, float, str), any
            nesting of dicts / lists / tuples of those (e.g. ``{"model":
            model.state_dict(), "epoch": 3}``), or any picklable object (a Module, an
            Optimizer, ...), which is pickled with its tensors taken out into the payload.
            NumPy scalars (``np.float32(0.5)``) are saved as the Python number.
        f: a path (``.safetensors`` is the usual extension), written to a temporary name
            and then renamed, so an interrupted save never leaves a half-written checkpoint;
            or a binary file object opened for writing (``io.BytesIO()``, ``open(p, "wb")``).

    Raises:
        TypeError: ``f`` is neither a path nor a binary writable file object, or ``obj``
            holds an object that cannot be pickled (the message says where).
    """
    if isinstance(f, (str, bytes, os.PathLike)):
        path = os.fspath(f)
        tmp = f"{os.fsdecode(path)}.tmp{os.getpid()}"
        data = _pack(obj)  # before opening anything: a bad obj leaves no file behind
        try:
            with open(tmp, "wb") as out:
                write_safetensors(out, *data)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        return
    _check_file_object(f, "save", "write", "wb")
    write_safetensors(f, *_pack(obj))


def _pack(obj: Any) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The payload and metadata (checksum included) of ``obj``'s checkpoint."""
    packer = _Packer()
    structure = packer.pack(obj, "")
    metadata = {"format": "ember", _VERSION: _LAYOUT_VERSION,
                _STRUCTURE: json.dumps(structure, allow_nan=False, separators=(",", ":"))}
    if packer.pickled:
        metadata[_PICKLE] = base64.b64encode(packer.dump_pickle()).decode("ascii")
    metadata[_CRC] = json.dumps({k: _crc32(a) for k, a in packer.arrays.items()},
                                separators=(",", ":"))
    table = layout(packer.arrays)
    metadata[_CHECKSUM] = _checksum(metadata, table)
    return packer.arrays, metadata


# ---------------------------------------------------------------------------- load
def load(f: FileLike, map_location: MapLocation = None, *,
         weights_only: bool | None = True) -> Any:
    """Load what ``ember.save`` wrote, as ``torch.load``: the same object, its tensors
    (with their dtype, shape, ``requires_grad`` and ``Parameter``-ness) on the device they
    were saved from unless ``map_location`` says otherwise, its NumPy arrays as arrays.

    Everything is read and checked before anything is built, so a damaged file is an error
    and never a quietly different value. A safetensors file from another library loads as a
    flat dict of tensors.

    Args:
        f: a path, or a binary file object opened for reading (read from its current
            position; left just past the checkpoint).
        map_location: where the tensors go: None (where they were saved from), a device
            (``"cpu"``, ``"cuda"``, ``ember.device(...)``) for all of them, a dict mapping
            saved devices to devices (``{"cuda:0": "cpu"}``; unlisted devices are kept), or
            a callable ``fn(tensor, saved_device) -> Tensor | None`` given each tensor on
            the CPU and the name of its saved device (None keeps the default).
        weights_only: True (the default): load only plain data (tensors, arrays, None,
            bools, numbers, strings and dicts / lists / tuples of them), which never runs
            code from the file; a file holding pickled objects is refused. False: unpickle
            those too, which runs code from the file: only for files you trust.

    Raises:
        FileNotFoundError: ``f`` is a path that does not exist.
        CheckpointError: the file is not safetensors, is truncated, or any part of it
            (structure, metadata, a tensor's dtype, shape or bytes) is damaged; the message
            names the file (and the tensor, for damaged bytes).
        pickle.UnpicklingError: ``weights_only`` is True and the file holds pickled objects.
        TypeError: ``f``, ``map_location`` or ``weights_only`` is of an unsupported kind.
    """
    if weights_only is None:  # PyTorch's spelling of "the default"
        weights_only = True
    if not isinstance(weights_only, bool):
        raise TypeError(f"ember.load: weights_only must be a bool, got "
                        f"{type(weights_only).__name__}")
    place = _placer(map_location)
    if isinstance(f, (str, bytes, os.PathLike)):
        path = os.fspath(f)
        name = repr(os.fsdecode(path))
        if not os.path.isfile(path):
            raise FileNotFoundError(f"ember.load: no such checkpoint file: {name}")
        with open(path, "rb") as stream:
            metadata, table, arrays = read_safetensors(
                stream, name, os.fstat(stream.fileno()).st_size)
    else:
        _check_file_object(f, "load", "read", "rb")
        name = repr(getattr(f, "name", None) or f"<{type(f).__name__}>")
        metadata, table, arrays = read_safetensors(f, name)

    if not _is_ember(metadata):  # a plain safetensors file from elsewhere
        return OrderedDict((k, place(from_numpy(_widen(a, k, name)), "cpu"))
                           for k, a in arrays.items())
    structure = _check(name, metadata, table, arrays)
    unpacker = _Unpacker(name, arrays, place)
    pickled = _find_pickles(structure)
    if pickled:
        if weights_only:
            raise _weights_only_error(name, pickled)
        unpacker.unpickle(metadata.get(_PICKLE))
    return unpacker.unpack(structure)


def _is_ember(metadata: dict[str, str]) -> bool:
    return metadata.get("format") == "ember" or any(k.startswith("ember.") for k in metadata)


def _check(name: str, metadata: dict[str, str], table: dict[str, list],
           arrays: dict[str, np.ndarray]) -> Any:
    """Verify an ember checkpoint (layout version, checksum, per-tensor CRCs); its structure."""
    def damaged(what: str) -> CheckpointError:
        return CheckpointError(f"ember.load: {name}: {what} is damaged")

    version = metadata.get(_VERSION)
    if version not in _KNOWN_VERSIONS:
        raise CheckpointError(f"ember.load: {name}: checkpoint layout version {version!r} is "
                              f"not one this ember reads ({', '.join(_KNOWN_VERSIONS)}): "
                              "written by a newer ember, or damaged")
    if _CHECKSUM in metadata or version != "1":  # layout 1 had none; from 2 on it is required
        if metadata.get(_CHECKSUM) != _checksum(metadata, table):
            raise damaged("the checkpoint (its checksum over the structure, metadata and "
                          "tensor names, dtypes and shapes does not match)")
    if _CRC in metadata:
        try:
            crcs = json.loads(metadata[_CRC])
        except json.JSONDecodeError as e:
            raise damaged(f"the checksums in the file's metadata ({e})") from e
        for key, arr in arrays.items():
            if key in crcs and _crc32(arr) != crcs[key]:
                raise damaged(f"the data of tensor {key!r} (its CRC-32 does not match the one "
                              "saved)")
    try:
        return json.loads(metadata[_STRUCTURE])
    except (KeyError, json.JSONDecodeError) as e:
        raise damaged(f"the checkpoint structure in the file's metadata ({e!r})") from e


def _find_pickles(node: Any, found: list | None = None) -> list[dict]:
    """The ``$pickle`` nodes of a structure (what ``weights_only=True`` refuses)."""
    found = [] if found is None else found
    if isinstance(node, list):
        for v in node:
            _find_pickles(v, found)
    elif isinstance(node, dict):
        if "$pickle" in node:
            found.append(node)
        else:
            for v in node.values():
                _find_pickles(v, found)
    return found


def _weights_only_error(name: str, pickled: list[dict]) -> pickle.UnpicklingError:
    held = ", ".join(f"a {n.get('type', '?')} at {n.get('path') or 'the top level'!r}"
                     for n in pickled[:5])
    more = f" and {len(pickled) - 5} more" if len(pickled) > 5 else ""
    return pickle.UnpicklingError(
        f"ember.load: weights-only load of {name} failed: it holds pickled objects ({held}"
        f"{more}), and weights_only=True (the default) loads only tensors, arrays and plain "
        "containers. ember.load(..., weights_only=False) loads them, but unpickling runs code "
        "from the file: do it only if you got the file from a trusted source. (Saving "
        "model.state_dict() instead of the model gives a file that needs no pickle.)"
    )


def _placer(map_location: MapLocation) -> Callable[[Tensor, str], Tensor]:
    """``place(cpu_tensor, saved_device) -> tensor`` for ``map_location`` (checked now, so a
    bad one is an error before the file is read)."""
    def restore(t: Tensor, saved: str) -> Tensor:
        return _to(t, as_device(saved), saved)

    if map_location is None:
        return restore
    if isinstance(map_location, (str, device)):
        target = as_device(map_location)
        return lambda t, saved: _to(t, target, saved)
    if isinstance(map_location, dict):
        try:
            mapping = {str(as_device(k)): as_device(v) for k, v in map_location.items()}
        except (TypeError, ValueError) as e:
            raise TypeError(f"ember.load: map_location dict {map_location!r} must map devices "
                            f"(str or ember.device) to devices ({e})") from e
        return lambda t, saved: _to(t, mapping.get(str(as_device(saved)), as_device(saved)),
                                    saved)
    if callable(map_location):
        def call(t: Tensor, saved: str) -> Tensor:
            out = map_location(t, saved)
            if out is None:
                return restore(t, saved)
            if not isinstance(out, Tensor):
                raise TypeError(f"ember.load: map_location returned a {type(out).__name__} "
                                f"for a tensor saved on {saved!r}; expected a Tensor or None")
            return out
        return call
    raise TypeError(
        f"ember.load: map_location must be None, a device (str or ember.device), a dict "
        f"mapping saved devices to devices, or a callable (tensor, saved_device) -> Tensor; "
        f"got {type(map_location).__name__}"
    )


def _to(t: Tensor, target: device, saved: str) -> Tensor:
    if target.type == "cpu":
        return t
    if target.type == "cuda" and not _cuda.is_available():
        raise RuntimeError(
            f"ember.load: a tensor saved on {saved!r} would be loaded onto {target}, but "
            "ember.cuda.is_available() is False. On a CPU-only machine, load with "
            "map_location='cpu' (or ember.device('cpu')) to put the tensors on the CPU."
        )
    return t.to(target)


def _widen(arr: np.ndarray, key: str, name: str) -> np.ndarray:
    """An array of a dtype ember has: exact for ember's four, widened for the others."""
    if arr.dtype in (np.float32, np.float64, np.int64, np.bool_):
        return arr
    if arr.dtype.kind == "f":
        return arr.astype(np.float32 if arr.dtype.itemsize < 4 else np.float64)
    if arr.dtype.kind in "iu" and (arr.dtype.kind == "i" or arr.dtype.itemsize < 8):
        return arr.astype(np.int64)
    raise CheckpointError(f"ember.load: {name}: tensor {key!r} has dtype {arr.dtype}, which has "
                          "no ember equivalent (ember tensors are float32, float64, int64 or "
                          "bool; load it as a NumPy array with safetensors.numpy instead)")


class _Unpacker:
    """Rebuilds the saved object from the JSON structure, the payload and the pickle."""
    def __init__(self, name: str, arrays: dict[str, np.ndarray],
                 place: Callable[[Tensor, str], Tensor]) -> None:
        self.name, self.arrays, self.place = name, arrays, place
        self._objects: dict[tuple, Any] = {}  # one object per payload key: sharing survives
        self._pickled: list[Any] = []

    def unpickle(self, data: str | None) -> None:
        """Unpickle the file's pickled objects (their tensors come from the payload)."""
        if data is None:
            raise CheckpointError(f"ember.load: {self.name}: the checkpoint structure names "
                                  "pickled objects, but the file holds no pickle (damaged)")
        unpacker = self

        class _Unpickler(pickle.Unpickler):
            def persistent_load(self, pid: Any) -> Any:
                if isinstance(pid, tuple) and pid and pid[0] == "ember.tensor":
                    return unpacker._tensor(*pid[1:])
                if isinstance(pid, tuple) and pid and pid[0] == "ember.ndarray":
                    return unpacker._ndarray(pid[1])
                raise CheckpointError(f"ember.load: {unpacker.name}: unknown persistent id "
                                      f"{str(pid)[:80]} in the pickle")

        self._pickled = _Unpickler(_pyio.BytesIO(base64.b64decode(data))).load()

    def unpack(self, node: Any) -> Any:
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.unpack(v) for v in node]
        if isinstance(node, dict):
            if "$tensor" in node:
                return self._tensor(node["$tensor"], node.get("parameter", False),
                                    node.get("requires_grad", False), node.get("device", "cpu"))
            if "$ndarray" in node:
                return self._ndarray(node["$ndarray"])
            if "$tuple" in node:
                return tuple(self.unpack(v) for v in node["$tuple"])
            if "$float" in node:
                return float(node["$float"])
            if "$dtype" in node:
                return _by_name(node["$dtype"])
            if "$device" in node:
                return device(node["$device"])
            if "$pickle" in node:
                return self._pickled[node["$pickle"]]
            if "$dict" in node:
                out = _DICT_CLASSES.get(node.get("class"), dict)()
                for k, v in node["$dict"]:  # item by item: Counter(pairs) would count them
                    out[_hashable(self.unpack(k))] = self.unpack(v)
                return out
        text = repr(node)
        text = text if len(text) <= 80 else text[:77] + "..."
        raise CheckpointError(f"ember.load: {self.name}: unknown entry {text} in the "
                              "checkpoint structure (written by a newer ember, or damaged)")

    def _array(self, key: str) -> np.ndarray:
        if key not in self.arrays:
            raise CheckpointError(f"ember.load: {self.name}: the checkpoint structure names "
                                  f"tensor {key!r}, which the file does not hold")
        return self.arrays[key]

    def _tensor(self, key: str, is_param: bool, requires_grad: bool, saved: str) -> Tensor:
        memo = ("tensor", key)
        if memo not in self._objects:
            t = self.place(from_numpy(_widen(self._array(key), key, self.name)), saved)
            if is_param:
                t = Parameter(t, requires_grad=requires_grad)
            elif requires_grad:
                t.requires_grad_(True)
            self._objects[memo] = t
        return self._objects[memo]

    def _ndarray(self, key: str) -> np.ndarray:
        memo = ("ndarray", key)
        if memo not in self._objects:
            self._objects[memo] = self._array(key)
        return self._objects[memo]


def _hashable(key: Any) -> Any:
    if isinstance(key, list):  # cannot happen for files ember wrote; be robust anyway
        return tuple(key)
    return key


def _check_file_object(f: Any, op: str, method: str, mode: str) -> None:
    """A clear TypeError unless ``f`` is a binary file object with ``method``."""
    if isinstance(f, _pyio.TextIOBase):
        raise TypeError(f"ember.{op}: the file object is in text mode; open it in binary "
                        f"mode ({mode!r})")
    if not callable(getattr(f, method, None)):
        raise TypeError(f"ember.{op}: expected a path (str or os.PathLike) or a binary file "
                        f"object with {method}(), got {type(f).__name__}")


# Module.save / Module.load (ember.nn cannot import this layer; see register_workflow)
register_workflow("save", save)
register_workflow("load", load)
