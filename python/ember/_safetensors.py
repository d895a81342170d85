"""The safetensors container, read and written by ember itself (so checkpoints can go to and
come from file objects, and ember needs no ``safetensors`` package at run time).

A safetensors file (https://huggingface.co/docs/safetensors) is: an 8-byte little-endian
unsigned header length N; N bytes of JSON header, a map from each tensor's name to
``{"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}`` (offsets into the data
that follows) plus an optional ``"__metadata__"`` map of strings to strings; then the tensors'
raw little-endian bytes, back to back with no holes. ``write_safetensors`` and
``read_safetensors`` are the pair; ember.io builds checkpoints on them.
"""

from __future__ import annotations

import json
import math
import os
from typing import IO, Any

import numpy as np

__all__ = ["CheckpointError", "write_safetensors", "read_safetensors", "layout", "CODE_OF"]


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be read: not safetensors, truncated or damaged.
    (``ember.io.CheckpointError``; defined here, where the container is read.)"""


# safetensors dtype codes <-> NumPy dtypes (little-endian, as the format requires). BF16 is
# read only (widened to float32 exactly: NumPy has no bfloat16); the float8/float4 formats
# have no NumPy equivalent and are refused by name.
CODE_OF: dict[np.dtype, str] = {np.dtype(t).newbyteorder("<"): c for t, c in [
    (np.float64, "F64"), (np.float32, "F32"), (np.float16, "F16"), (np.int64, "I64"),
    (np.int32, "I32"), (np.int16, "I16"), (np.int8, "I8"), (np.uint64, "U64"),
    (np.uint32, "U32"), (np.uint16, "U16"), (np.uint8, "U8"), (np.bool_, "BOOL")]}
DTYPE_OF: dict[str, np.dtype] = {c: t for t, c in CODE_OF.items()} | {"BF16": np.dtype("<u2")}
MAX_HEADER = 100_000_000  # the safetensors reference implementation's limit


def write_safetensors(f: IO[bytes], arrays: dict[str, np.ndarray],
                       metadata: dict[str, str]) -> dict[str, list]:
    """Write ``arrays`` (C-contiguous, of a dtype in ``CODE_OF``) and ``metadata`` to the
    binary file ``f`` as one safetensors file; returns the tensor table (name -> [dtype code,
    shape, data offsets]) that was written.

    Tensors are laid out widest item first, so that every tensor starts at a multiple of its
    item size (the header is padded with spaces to a multiple of 8, as the reference writer
    does), which lets readers that map the file view the data in place.
    """
    table = layout(arrays)
    header: dict[str, Any] = {"__metadata__": metadata}
    header.update({name: {"dtype": code, "shape": shape, "data_offsets": offsets}
                   for name, (code, shape, offsets) in table.items()})
    text = json.dumps(header, separators=(",", ":")).encode("ascii")
    text += b" " * (-len(text) % 8)
    if len(text) > MAX_HEADER:
        raise ValueError(f"ember.save: the checkpoint's header would be {len(text)} bytes, over "
                         f"the safetensors limit of {MAX_HEADER} (a very large pickled object "
                         "or structure)")
    f.write(len(text).to_bytes(8, "little"))
    f.write(text)
    for name in table:
        arr = arrays[name]
        if arr.nbytes:
            f.write(memoryview(arr.reshape(-1).view(np.uint8)))
    return table


def layout(arrays: dict[str, np.ndarray]) -> dict[str, list]:
    """The tensor table ``write_safetensors`` writes for ``arrays``, in file order."""
    table: dict[str, list] = {}
    offset = 0
    for name in sorted(arrays, key=lambda k: -arrays[k].dtype.itemsize):  # stable sort
        arr = arrays[name]
        table[name] = [CODE_OF[arr.dtype.newbyteorder("<")], list(arr.shape),
                       [offset, offset + arr.nbytes]]
        offset += arr.nbytes
    return table


def read_safetensors(f: IO[bytes], name: str, size: int | None = None
                      ) -> tuple[dict[str, str], dict[str, list], dict[str, np.ndarray]]:
    """Read one safetensors file from the binary file ``f``: its metadata, its tensor table
    (name -> [dtype code, shape, data offsets], as ``write_safetensors`` returns) and its
    arrays (own, writable, C-contiguous memory; BF16 widened to float32).

    ``name`` is the file's name for error messages; ``size``, when known, is the number of
    bytes left in ``f``, which must be exactly one safetensors file (a file object may hold
    more after it: ``f`` is left just past it). Every inconsistency is a CheckpointError.
    """
    def bad(why: str) -> CheckpointError:
        return CheckpointError(f"ember.load: {name} is not a readable safetensors checkpoint "
                               f"(truncated, damaged, or another format): {why}")

    head = _read_exact(f, 8)
    if len(head) < 8:
        raise bad(f"{len(head)} bytes, too short for the header length")
    n = int.from_bytes(head, "little")
    if n > MAX_HEADER or (size is not None and 8 + n > size):
        raise bad(f"a header length of {n} bytes")
    raw = _read_exact(f, n)
    if len(raw) < n:
        raise bad(f"the header is cut off ({len(raw)} of {n} bytes)")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise bad(f"the header is not JSON ({e})") from e
    if not isinstance(header, dict):
        raise bad("the header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise bad("the metadata is not a map of strings to strings")

    table: dict[str, list] = {}
    for key, info in header.items():
        try:
            code, shape, (start, end) = info["dtype"], info["shape"], info["data_offsets"]
            ok = (isinstance(code, str) and isinstance(shape, list)
                  and all(type(v) is int and v >= 0 for v in [*shape, start, end]))
        except (TypeError, KeyError, ValueError):
            ok = False
        if not ok:
            raise bad(f"bad entry for tensor {key!r}: {str(info)[:200]}")
        if code not in DTYPE_OF:
            raise CheckpointError(f"ember.load: {name}: tensor {key!r} has dtype {code}, which "
                                  f"ember cannot read (it reads {', '.join(DTYPE_OF)})")
        nbytes = math.prod(shape) * DTYPE_OF[code].itemsize
        if end - start != nbytes:
            raise bad(f"tensor {key!r} ({code}, shape {shape}) needs {nbytes} bytes but its "
                      f"data offsets {[start, end]} span {end - start}")
        table[key] = [code, shape, [start, end]]

    # the data: the tensors back to back from offset 0 (no holes, no overlaps), checked
    # against the bytes there are before anything is allocated
    entries = sorted(table.items(), key=lambda kv: kv[1][2])
    position = 0
    for key, (_, _, (start, end)) in entries:
        if start != position:
            raise bad(f"tensor {key!r} starts at byte {start} of the data, expected {position}")
        position = end
    if size is None:
        left = _bytes_left(f)
        if left is not None and position > left:
            raise bad(f"its header describes {position} bytes of data, but {left} follow it")
    elif size != 8 + n + position:
        raise bad(f"{size} bytes, but its header describes {8 + n + position}")

    arrays: dict[str, np.ndarray] = {}  # read in file order, straight into the arrays
    for key, (code, shape, _) in entries:
        try:
            arr = np.empty(shape, dtype=DTYPE_OF[code])
        except (MemoryError, ValueError) as e:
            raise bad(f"tensor {key!r} of shape {shape} cannot be allocated ({e})") from e
        got = _read_into(f, arr)
        if got < arr.nbytes:
            raise bad(f"the data is cut off in tensor {key!r} ({got} of {arr.nbytes} bytes)")
        if code == "BF16":  # bfloat16 is the top half of a float32
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        arrays[key] = arr
    return metadata, table, {k: arrays[k] for k in table}


def _bytes_left(f: IO[bytes]) -> int | None:
    """How many bytes a seekable stream holds after its position (None if not seekable)."""
    try:
        if not f.seekable():
            return None
        here = f.tell()
        end = f.seek(0, os.SEEK_END)
        f.seek(here)
        return end - here
    except (AttributeError, OSError, ValueError):
        return None


def _read_exact(f: IO[bytes], n: int) -> bytes:
    """Up to ``n`` bytes of ``f``: fewer only at the end of the file."""
    parts, left = [], n
    while left:
        part = f.read(min(left, 1 << 26))  # chunks: a damaged length never allocates wildly
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _read_into(f: IO[bytes], arr: np.ndarray) -> int:
    """Fill ``arr`` from ``f`` (one copy, no intermediate bytes); the bytes read."""
    if not arr.nbytes:
        return 0
    view = memoryview(arr.reshape(-1).view(np.uint8))
    readinto = getattr(f, "readinto", None)
    done = 0
    while done < len(view):
        if readinto is not None:
            got = readinto(view[done:])
        else:
            part = f.read(len(view) - done)
            got = len(part)
            view[done:done + got] = part
        if not got:
            break
        done += got
    return done
