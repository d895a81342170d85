"""``ember.load_torch``: read a file written by ``torch.save`` without PyTorch.

``torch.save`` (since PyTorch 1.6) writes a zip archive whose records all sit under one
top-level folder (the file's stem, e.g. ``model/``)::

    model/data.pkl         the object, pickled (protocol 2); tensors appear as calls to
                           torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)
    model/data/0, data/1   one record per storage: its raw bytes, in the byte order of
    model/byteorder        ("little" or "big"; absent in old files, which are little-endian)
    model/version          the format version

A storage enters the pickle as a *persistent id*, ``('storage', FloatStorage, key, location,
numel)``: ``key`` names the record ``data/<key>``, ``location`` the device it was saved from.
Several tensors may share one storage (a view, tied weights), each with its own offset,
size and stride (in elements).

**Safety.** Unpickling can run any code a file names (``os.system`` is two opcodes away).
This loader uses a restricted unpickler whose ``find_class`` admits only the few globals a
state dict needs (the tensor/parameter rebuild functions, the storage types, ``OrderedDict``,
``set``/``frozenset``, bytes' ``_codecs.encode``, ``torch.device`` and the dtypes) and raises
:class:`pickle.UnpicklingError` naming any other global *before* it is looked up, so a
malicious file runs nothing; and whose ``BUILD`` (set an object's attributes) accepts only an
``OrderedDict``'s, so a file cannot rewrite the admitted objects either. None of PyTorch is
imported: the admitted names are mapped to ember's own functions.

**Tensors** come back as ember tensors of the same dtype (float32, float64, int64, bool;
other dtypes are refused with an error naming the dtype). A tensor whose elements are
contiguous in its storage is a view of the storage's memory, so tensors that shared a storage
in PyTorch share memory here too; a non-contiguous saved view is copied into a contiguous
tensor with the same values (ember's tensors are contiguous).
"""

from __future__ import annotations

import io as _pyio
import os
import pickle
import zipfile
from collections import OrderedDict
from typing import IO, Any

import numpy as np

from . import cuda as _cuda
from .creation import from_numpy
from .device import device
from .dtypes import bool_, float32, float64, int64
from .nn.parameter import Parameter
from .tensor import Tensor

__all__ = ["load_torch"]

# torch's storage class names -> (the dtype's name, numpy dtype), for every dtype torch saves.
# Only those ember has are loadable; the others are named in the error.
_STORAGES: dict[str, tuple[str, str | None]] = {
    "FloatStorage": ("float32", "f4"), "DoubleStorage": ("float64", "f8"),
    "LongStorage": ("int64", "i8"), "BoolStorage": ("bool", "?"),
    "HalfStorage": ("float16", None), "BFloat16Storage": ("bfloat16", None),
    "IntStorage": ("int32", None), "ShortStorage": ("int16", None),
    "CharStorage": ("int8", None), "ByteStorage": ("uint8", None),
    "ComplexFloatStorage": ("complex64", None), "ComplexDoubleStorage": ("complex128", None),
    "QInt8Storage": ("qint8", None), "QUInt8Storage": ("quint8", None),
    "QInt32Storage": ("qint32", None), "UntypedStorage": ("an untyped byte storage", None),
}
_OTHER_DTYPES = {"float16", "half", "bfloat16", "int32", "int", "int16", "short", "int8",
                 "uint8", "uint16", "uint32", "uint64", "complex64", "cfloat", "complex128",
                 "cdouble", "qint8", "quint8", "qint32", "float8_e4m3fn", "float8_e5m2"}
_DTYPES = {"float32": float32, "float": float32, "float64": float64, "double": float64,
           "int64": int64, "long": int64, "bool": bool_}


class _StorageType:
    """What ``torch.FloatStorage`` (etc.) stands for in the pickle: a dtype tag."""

    def __init__(self, torch_name: str) -> None:
        self.torch_name = torch_name
        self.dtype_name, self.code = _STORAGES[torch_name]


class _Storage:
    """One storage record: a flat, writable numpy array of its elements."""

    def __init__(self, array: np.ndarray, location: str) -> None:
        self.array, self.location = array, location


def _codecs_encode(obj: str, encoding: str = "utf-8") -> bytes:
    """Protocol 2 pickles ``bytes`` as ``_codecs.encode(text, "latin1")``; nothing else."""
    if not isinstance(obj, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(
            f"load_torch: _codecs.encode is admitted only to rebuild bytes (str, 'latin1'), "
            f"got ({type(obj).__name__}, {encoding!r})")
    return obj.encode("latin1")


class _Loader:
    """The state of one ``load_torch`` call: the archive, its storages, the target devices."""

    def __init__(self, zf: zipfile.ZipFile, prefix: str, name: str,
                 map_location: Any) -> None:
        self.zf, self.prefix, self.name = zf, prefix, name
        self.map_location = map_location
        self.storages: dict[str, _Storage] = {}
        order = prefix + "byteorder"
        self.byteorder = (zf.read(order).decode().strip()
                          if order in zf.namelist() else "little")
        if self.byteorder not in ("little", "big"):
            raise pickle.UnpicklingError(
                f"load_torch: {name}: unknown byteorder {self.byteorder!r} "
                "(expected 'little' or 'big')")

    # -- storages ------------------------------------------------------------------------
    def storage(self, pid: Any) -> _Storage:
        """``persistent_load``: ``('storage', type, key, location, numel)`` -> the record."""
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(
                f"load_torch: {self.name}: unsupported persistent id {pid!r} "
                "(expected ('storage', type, key, location, numel))")
        _, stype, key, location, numel = pid
        if type(numel) is not int or numel < 0:
            raise pickle.UnpicklingError(
                f"load_torch: {self.name}: storage {key!r} has a bad element count {numel!r}")
        if not isinstance(stype, _StorageType):
            raise pickle.UnpicklingError(
                f"load_torch: {self.name}: storage {key!r} has type {stype!r}, not a storage")
        if stype.code is None:
            raise TypeError(
                f"load_torch: {self.name}: storage {key!r} holds {stype.dtype_name} "
                f"(torch.{stype.torch_name}), which ember does not support; supported: "
                "float32, float64, int64, bool (convert it in PyTorch first, e.g. .float())")
        key = str(key)
        if key not in self.storages:
            record = f"{self.prefix}data/{key}"
            try:
                info = self.zf.getinfo(record)
            except KeyError:
                raise pickle.UnpicklingError(
                    f"load_torch: {self.name}: the pickle names storage {key!r} but the "
                    f"archive has no record {record!r}") from None
            dt = np.dtype(("<" if self.byteorder == "little" else ">") + stype.code)
            if info.file_size != numel * dt.itemsize:
                raise pickle.UnpicklingError(
                    f"load_torch: {self.name}: record {record!r} has {info.file_size} bytes, "
                    f"expected {numel} x {dt.itemsize} for {stype.dtype_name}")
            # read straight into a writable array (one copy, no intermediate bytes object)
            flat = np.empty(numel, dtype=dt)
            with self.zf.open(info) as f:
                got = f.readinto(memoryview(flat.view(np.uint8)))
            if got != info.file_size:
                raise pickle.UnpicklingError(
                    f"load_torch: {self.name}: record {record!r} ended after {got} of "
                    f"{info.file_size} bytes")
            if not dt.isnative:
                flat = flat.byteswap().view(dt.newbyteorder("="))
            self.storages[key] = _Storage(flat, str(location))
        return self.storages[key]

    # -- tensors -------------------------------------------------------------------------
    def rebuild_tensor(self, storage: _Storage, offset: int, size: tuple, stride: tuple,
                       requires_grad: bool = False, backward_hooks: Any = None,
                       metadata: Any = None) -> Tensor:
        """``torch._utils._rebuild_tensor_v2``: the view (offset, size, stride) of a storage."""
        if not isinstance(storage, _Storage):
            raise pickle.UnpicklingError(
                f"load_torch: {self.name}: _rebuild_tensor_v2 got {type(storage).__name__}, "
                "not a storage")
        if backward_hooks:
            raise pickle.UnpicklingError(
                f"load_torch: {self.name}: a tensor with backward hooks (hooks are code)")
        if not (isinstance(size, tuple) and isinstance(stride, tuple)
                and len(size) == len(stride)
                and all(type(v) is int and v >= 0 for v in (offset, *size, *stride))):
            raise pickle.UnpicklingError(
                f"load_torch: {self.name}: bad tensor view (offset {offset!r}, size {size!r}, "
                f"stride {stride!r}): expected non-negative ints, one stride per dimension")
        flat = storage.array
        numel = int(np.prod(size, dtype=np.int64))
        if numel:
            last = offset + sum((n - 1) * s for n, s in zip(size, stride))
            if last >= flat.size:
                raise pickle.UnpicklingError(
                    f"load_torch: {self.name}: tensor (offset {offset}, size {size}, "
                    f"stride {stride}) reaches past its storage of {flat.size} elements")
        contiguous = all(st == int(np.prod(size[i + 1:], dtype=np.int64))
                         for i, st in enumerate(stride) if size[i] > 1)
        if numel == 0:
            arr = np.empty(size, dtype=flat.dtype)
        elif contiguous:  # a view of the storage: tensors sharing it share memory
            arr = flat[offset:offset + numel].reshape(size)
        else:
            it = flat.itemsize
            arr = np.lib.stride_tricks.as_strided(
                flat[offset:], size, tuple(s * it for s in stride)).copy()
        t = from_numpy(arr)
        t = self.place(t, storage.location)
        if requires_grad:
            t.requires_grad_(True)
        return t

    def rebuild_parameter(self, data: Tensor, requires_grad: bool,
                          backward_hooks: Any = None) -> Parameter:
        """``torch._utils._rebuild_parameter``: a Parameter around the rebuilt tensor."""
        if not isinstance(data, Tensor):
            raise pickle.UnpicklingError(
                f"load_torch: {self.name}: _rebuild_parameter got {type(data).__name__}, "
                "not a tensor")
        if backward_hooks:
            raise pickle.UnpicklingError(
                f"load_torch: {self.name}: a parameter with backward hooks (hooks are code)")
        return Parameter(data, requires_grad=bool(requires_grad))

    def place(self, t: Tensor, location: str) -> Tensor:
        """Move a tensor saved on ``location`` where ``map_location`` says (torch's rules)."""
        ml = self.map_location
        if callable(ml) and not isinstance(ml, (str, device)):
            out = ml(t, location)
            return t if out is None else out
        if isinstance(ml, dict):
            target = ml.get(location, location)
        elif ml is None:
            target = location
        else:
            target = ml
        dev = device(target) if isinstance(target, str) else target
        if not isinstance(dev, device):
            raise TypeError(f"load_torch: map_location must be None, a str, an ember.device, "
                            f"a dict or a callable, got {type(ml).__name__}")
        if dev.type == "cuda" and not _cuda.is_available():
            raise RuntimeError(
                f"load_torch: {self.name}: a tensor was saved on {location!r} but CUDA is not "
                "available; pass map_location='cpu' to load it on the CPU")
        return t if dev == t.device else t.to(dev)

    # -- the restricted unpickler ---------------------------------------------------------
    def globals(self) -> dict[tuple[str, str], Any]:
        """The only globals a file may name, each mapped to something of ember's."""
        admitted: dict[tuple[str, str], Any] = {
            ("torch._utils", "_rebuild_tensor_v2"): self.rebuild_tensor,
            ("torch._utils", "_rebuild_parameter"): self.rebuild_parameter,
            ("collections", "OrderedDict"): OrderedDict,
            ("builtins", "set"): set, ("builtins", "frozenset"): frozenset,
            ("__builtin__", "set"): set, ("__builtin__", "frozenset"): frozenset,
            ("_codecs", "encode"): _codecs_encode,
            ("torch", "device"): device,
        }
        admitted.update({("torch", n): _StorageType(n) for n in _STORAGES})
        admitted.update({("torch", n): d for n, d in _DTYPES.items()})
        return admitted

    def load(self, pkl: bytes) -> Any:
        up = _Restricted(_pyio.BytesIO(pkl))
        up.admitted, up.name = self.globals(), self.name
        up.persistent_load = self.storage
        return up.load()


class _Restricted(pickle._Unpickler):
    """An unpickler that looks up only admitted globals and builds only state dicts.

    It is Python's own pure-Python unpickler (``pickle._Unpickler``) because the C one
    cannot restrict ``BUILD``, the opcode that sets an object's attributes: left open, a file
    could rewrite the admitted classes and objects themselves (``ember.float32``'s fields,
    ``ember.device``'s methods) for the rest of the process. ``data.pkl`` is small (the tensor
    bytes are in their own records), so the pure-Python speed does not matter.
    """

    admitted: dict[tuple[str, str], Any]
    name: str
    dispatch = dict(pickle._Unpickler.dispatch)

    def find_class(self, module: str, qualname: str) -> Any:
        try:
            return self.admitted[(module, qualname)]
        except KeyError:
            if module == "torch" and qualname in _OTHER_DTYPES:
                raise TypeError(
                    f"load_torch: {self.name}: the file names the dtype torch.{qualname}, "
                    "which ember does not have (ember has float32, float64, int64, bool)"
                ) from None
            raise pickle.UnpicklingError(
                f"load_torch: {self.name}: refusing to load global {module}.{qualname}: only "
                "tensors, storages and plain containers are admitted (the file may hold code; "
                "nothing was run)") from None

    def load_build(self) -> None:
        # torch.save's only BUILD: an OrderedDict's attributes (a state dict's `_metadata`)
        state = self.stack.pop()
        inst = self.stack[-1]
        if type(inst) is not OrderedDict or not isinstance(state, dict) or \
                not all(isinstance(k, str) for k in state):
            raise pickle.UnpicklingError(
                f"load_torch: {self.name}: refusing to set the state of a "
                f"{type(inst).__name__} (only an OrderedDict's attributes may be set)")
        inst.__dict__.update(state)

    dispatch[pickle.BUILD[0]] = load_build


def _prefix(zf: zipfile.ZipFile, name: str) -> str:
    """The archive's top-level folder (``model/``), found from its ``data.pkl``."""
    names = zf.namelist()
    if any(n.endswith("/constants.pkl") or "/code/" in n for n in names):
        raise pickle.UnpicklingError(
            f"load_torch: {name} is a TorchScript archive (torch.jit.save), which holds "
            "code; load it with torch.jit.load, or save its state_dict() with torch.save")
    pkls = [n for n in names if n.endswith("data.pkl") and n.count("/") == 1]
    if not pkls:
        raise pickle.UnpicklingError(
            f"load_torch: {name} is a zip archive without <folder>/data.pkl, so not a "
            "torch.save file")
    return pkls[0][: -len("data.pkl")]


def load_torch(f: str | os.PathLike | IO[bytes], map_location: Any = None) -> Any:
    """Load an object saved with ``torch.save`` (the zip format) without importing PyTorch.

    Args:
        f: a path or a binary file object (seekable) holding a ``torch.save`` archive.
        map_location: where tensors go, as ``torch.load``'s: None (the device each was
            saved from), a device or string (``"cpu"``), a dict mapping saved locations to
            devices (``{"cuda:0": "cpu"}``), or a callable ``(tensor, location) -> tensor``.

    Returns:
        The saved object, with every tensor an ember :class:`~ember.Tensor` (parameters as
        :class:`~ember.nn.Parameter`) and containers as saved (dict, OrderedDict, list,
        tuple, set).

    Raises:
        pickle.UnpicklingError: the file names a global other than the admitted ones (it may
            hold code; nothing is run), or it is not a zip-format ``torch.save`` file.
        TypeError: a tensor has a dtype ember does not have (float16, int32, ...).
        FileNotFoundError: no such file.

    Example::

        sd = ember.load_torch("resnet18.pth", map_location="cpu")
        model.load_state_dict(sd)
    """
    name = os.fspath(f) if isinstance(f, (str, os.PathLike)) else getattr(f, "name", "<file>")
    if isinstance(f, (str, os.PathLike)) and not os.path.exists(f):
        raise FileNotFoundError(f"load_torch: no such file: {name!r}")
    if not zipfile.is_zipfile(f):
        if not isinstance(f, (str, os.PathLike)):
            f.seek(0)
        raise pickle.UnpicklingError(
            f"load_torch: {name} is not a zip-format torch.save file. Files written with "
            "torch.save(..., _use_new_zipfile_serialization=False) or before PyTorch 1.6 (the "
            "legacy format) are not supported: load and re-save them with a current torch.save")
    if not isinstance(f, (str, os.PathLike)):
        f.seek(0)
    with zipfile.ZipFile(f) as zf:
        prefix = _prefix(zf, name)
        loader = _Loader(zf, prefix, name, map_location)
        return loader.load(zf.read(prefix + "data.pkl"))

