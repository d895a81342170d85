"""Checkpoints: ``ember.save(obj, path)`` and ``ember.load(path)``, in the safetensors format.

A checkpoint is one `safetensors <https://huggingface.co/docs/safetensors>`_ file, so any
safetensors reader (in any language) can open it, and loading never runs code (unlike a
pickle). ``obj`` may be a tensor or any nesting of dicts, lists and tuples holding tensors
and plain values, e.g. a whole training state::

    ember.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(), "epoch": 3}, "ckpt.safetensors")
    ckpt = ember.load("ckpt.safetensors")
    model.load_state_dict(ckpt["model"]); opt.load_state_dict(ckpt["optimizer"])

The file layout:

- the tensor payload: every tensor under its dotted path in ``obj``
  (``model.fc.weight``, ``optimizer.state.0.exp_avg``); a tensor object that appears twice
  is stored once;
- the safetensors ``metadata`` (a str -> str map):

  - ``format``: ``"ember"``; ``ember.version``: the layout version (``"1"``);
  - ``ember.structure``: ``obj`` as JSON, every tensor replaced by ``{"$tensor": key}``.
    Plain JSON stands for itself (None, bools, ints, finite floats, strings, lists); the
    types JSON lacks are tagged objects, so ``load`` rebuilds exactly the same types:
    ``{"$tuple": [...]}``, ``{"$float": "inf"}``, and every dict as
    ``{"$dict": [[key, value], ...]}`` (keys keep their type: the optimizer's state is
    keyed by ints) with ``"class": "OrderedDict"`` or ``"Counter"`` when it is one;
  - ``ember.crc32``: a CRC-32 of each tensor's bytes, so a damaged payload (which the
    safetensors header cannot notice) is reported instead of loaded.

A safetensors file written by another library (no ``ember.structure``) loads as a flat
dict of tensors, its dtypes widened to ember's (float16 -> float32, int8/int32/... -> int64).
"""

from __future__ import annotations

import json
import math
import os
import zlib
from collections import Counter, OrderedDict
from typing import Any

import numpy as np

from .creation import from_numpy
from .device import as_device, device
from .nn.module import register_workflow
from .tensor import Tensor

__all__ = ["save", "load", "CheckpointError"]

PathLike = str | os.PathLike

_LAYOUT_VERSION = "1"
_STRUCTURE = "ember.structure"
_CRC = "ember.crc32"
_DICT_CLASSES: dict[str, type] = {"OrderedDict": OrderedDict, "Counter": Counter}


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be read: not safetensors, truncated or damaged."""


def _safetensors():
    """The ``safetensors`` package (an optional dependency), or a clear ImportError."""
    try:
        import safetensors
        import safetensors.numpy
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "ember.save/ember.load store checkpoints in the safetensors format and need the "
            "'safetensors' package: pip install safetensors"
        ) from e
    return safetensors


# ---------------------------------------------------------------------------- save
class _Packer:
    """Turns ``obj`` into a JSON-able structure plus a {key: numpy array} payload."""
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.crcs: dict[str, int] = {}
        self._key_of: dict[int, str] = {}  # id(tensor) -> key, so shared tensors are stored once
        self._keep: list[Tensor] = []      # keeps those ids alive while packing

    def pack(self, obj: Any, path: str) -> Any:
        if isinstance(obj, Tensor):
            return {"$tensor": self._add_tensor(obj, path)}
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return int(obj)
        if isinstance(obj, float):
            return float(obj) if math.isfinite(obj) else {"$float": repr(float(obj))}
        if isinstance(obj, np.generic):  # numpy scalars become the Python value
            return self.pack(obj.item(), path)
        if isinstance(obj, tuple):
            return {"$tuple": [self.pack(v, _join(path, i)) for i, v in enumerate(obj)]}
        if isinstance(obj, list):
            return [self.pack(v, _join(path, i)) for i, v in enumerate(obj)]
        if isinstance(obj, dict):
            return self._pack_dict(obj, path)
        hint = " (wrap it with ember.tensor(...))" if isinstance(obj, np.ndarray) else ""
        raise TypeError(
            f"ember.save: can't save a {type(obj).__name__} at {path or 'the top level'!r}: "
            "checkpoints hold tensors, None, bools, ints, floats, strings and "
            f"dicts/lists/tuples of them{hint}"
        )

    def _pack_dict(self, obj: dict, path: str) -> dict:
        items = []
        for k, v in obj.items():
            if k is not None and not isinstance(k, (str, int, float, bool, tuple)):
                raise TypeError(f"ember.save: dict key {k!r} at {path or 'the top level'!r} "
                                "must be a str, int, float, bool, None or tuple")
            items.append([self.pack(k, path), self.pack(v, _join(path, k))])
        out: dict[str, Any] = {"$dict": items}
        for name, cls in _DICT_CLASSES.items():
            if type(obj) is cls:
                out["class"] = name
        return out

    def _add_tensor(self, t: Tensor, path: str) -> str:
        if id(t) in self._key_of:
            return self._key_of[id(t)]
        key = path or "tensor"
        n = 1
        while key in self.arrays:  # {'a.b': t1, 'a': {'b': t2}} would collide
            key, n = f"{path}#{n}", n + 1
        arr = np.asarray(t.detach().cpu().numpy())
        if not arr.flags.c_contiguous:  # (not np.ascontiguousarray: it turns 0-d into 1-d)
            arr = arr.copy(order="C")
        self.arrays[key] = arr
        self.crcs[key] = _crc32(arr)
        self._key_of[id(t)] = key
        self._keep.append(t)
        return key


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _crc32(arr: np.ndarray) -> int:
    return zlib.crc32(np.require(arr, requirements="C").reshape(-1).view(np.uint8))


def save(obj: Any, path: PathLike) -> None:
    """Save a tensor, a state dict or a nested checkpoint to ``path`` (safetensors format).

    Tensors are saved from wherever they live (GPU tensors are copied to the host) with
    their dtype and shape; gradients, ``requires_grad`` and the graph are not saved. The
    file is written to a temporary name first and then renamed, so an interrupted save
    never leaves a half-written checkpoint at ``path``.

    Args:
        obj: a Tensor, or dicts / lists / tuples nesting tensors and plain values (None,
            bool, int, float, str), e.g. ``{"model": model.state_dict(), "epoch": 3}``.
        path: the file to write (``.safetensors`` is the usual extension).
    """
    st = _safetensors()
    packer = _Packer()
    structure = packer.pack(obj, "")
    metadata = {
        "format": "ember",
        "ember.version": _LAYOUT_VERSION,
        _STRUCTURE: json.dumps(structure, allow_nan=False, separators=(",", ":")),
        _CRC: json.dumps(packer.crcs, separators=(",", ":")),
    }
    data = st.numpy.save(packer.arrays, metadata=metadata)
    path = os.fspath(path)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


# ---------------------------------------------------------------------------- load
def load(path: PathLike, map_location: str | device | None = None) -> Any:
    """Load what ``ember.save`` wrote: the same nesting of dicts, lists and tuples, with
    ember tensors (on the CPU, or on ``map_location``).

    Everything is read and checked before anything is returned, so a failed load has no
    effect. A safetensors file from another library loads as a flat dict of tensors.

    Args:
        path: the checkpoint file.
        map_location: the device for the loaded tensors (``"cpu"`` by default, ``"cuda"``).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CheckpointError: the file is not safetensors, is truncated, or its payload or
            structure is damaged (the message names the file and the tensor).
    """
    path = os.fspath(path)
    dev = as_device(map_location)
    metadata, arrays = _read(path)
    if _STRUCTURE not in metadata:  # a plain safetensors file from elsewhere
        return OrderedDict((k, _to_tensor(_widen(a), dev)) for k, a in arrays.items())
    _check_crcs(path, metadata, arrays)
    try:
        structure = json.loads(metadata[_STRUCTURE])
    except json.JSONDecodeError as e:
        raise CheckpointError(f"ember.load: {path!r}: the checkpoint structure in the file's "
                              f"metadata is damaged ({e})") from e
    return _Unpacker(path, arrays, dev).unpack(structure)


def _read(path: str) -> tuple[dict[str, str], dict[str, np.ndarray]]:
    """The metadata and all arrays of a safetensors file (errors name the file)."""
    st = _safetensors()
    if not os.path.isfile(path):
        raise FileNotFoundError(f"ember.load: no such checkpoint file: {path!r}")
    try:
        with st.safe_open(path, framework="numpy") as f:
            metadata = f.metadata() or {}
            arrays = {k: f.get_tensor(k) for k in f.keys()}
    except st.SafetensorError as e:
        raise CheckpointError(
            f"ember.load: {path!r} is not a readable safetensors checkpoint (truncated, "
            f"damaged, or another format): {e}"
        ) from e
    return metadata, arrays


def _check_crcs(path: str, metadata: dict[str, str], arrays: dict[str, np.ndarray]) -> None:
    if _CRC not in metadata:
        return
    try:
        crcs = json.loads(metadata[_CRC])
    except json.JSONDecodeError as e:
        raise CheckpointError(f"ember.load: {path!r}: the checksums in the file's metadata "
                              f"are damaged ({e})") from e
    for key, arr in arrays.items():
        if key in crcs and _crc32(arr) != crcs[key]:
            raise CheckpointError(f"ember.load: {path!r}: the data of tensor {key!r} is "
                                  "damaged (its CRC-32 does not match the one saved)")


def _widen(arr: np.ndarray) -> np.ndarray:
    """An array of a dtype ember has: exact for ember's four, widened for the others."""
    if arr.dtype in (np.float32, np.float64, np.int64, np.bool_):
        return arr
    if arr.dtype.kind == "f":
        return arr.astype(np.float32 if arr.dtype.itemsize < 4 else np.float64)
    if arr.dtype.kind in "iu" and (arr.dtype.kind == "i" or arr.dtype.itemsize < 8):
        return arr.astype(np.int64)
    raise CheckpointError(f"ember.load: tensor dtype {arr.dtype} has no ember equivalent")


def _to_tensor(arr: np.ndarray, dev: device) -> Tensor:
    if not arr.flags.writeable or not arr.flags.owndata:
        arr = arr.copy()  # own, writable memory: the tensor may be updated in place later
    t = from_numpy(arr)
    return t if dev.type == "cpu" else t.to(dev)


class _Unpacker:
    """Rebuilds the saved object from the JSON structure and the payload."""
    def __init__(self, path: str, arrays: dict[str, np.ndarray], dev: device) -> None:
        self.path, self.arrays, self.dev = path, arrays, dev
        self._tensors: dict[str, Tensor] = {}  # one tensor per key: sharing survives

    def unpack(self, node: Any) -> Any:
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.unpack(v) for v in node]
        if isinstance(node, dict):
            if "$tensor" in node:
                return self._tensor(node["$tensor"])
            if "$tuple" in node:
                return tuple(self.unpack(v) for v in node["$tuple"])
            if "$float" in node:
                return float(node["$float"])
            if "$dict" in node:
                out = _DICT_CLASSES.get(node.get("class"), dict)()
                for k, v in node["$dict"]:  # item by item: Counter(pairs) would count them
                    out[_hashable(self.unpack(k))] = self.unpack(v)
                return out
        text = repr(node)
        text = text if len(text) <= 80 else text[:77] + "..."
        raise CheckpointError(f"ember.load: {self.path!r}: unknown entry {text} in the "
                              "checkpoint structure (written by a newer ember, or damaged)")

    def _tensor(self, key: str) -> Tensor:
        if key not in self._tensors:
            if key not in self.arrays:
                raise CheckpointError(f"ember.load: {self.path!r}: the checkpoint structure "
                                      f"names tensor {key!r}, which the file does not hold")
            self._tensors[key] = _to_tensor(self.arrays[key], self.dev)
        return self._tensors[key]


def _hashable(key: Any) -> Any:
    if isinstance(key, list):  # cannot happen for files ember wrote; be robust anyway
        return tuple(key)
    return key


# Module.save / Module.load (ember.nn cannot import this layer; see register_workflow)
register_workflow("save", save)
register_workflow("load", load)
