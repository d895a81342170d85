"""``torch.nn.utils.rnn``: batching variable-length sequences.

A batch of sequences of different lengths is either *padded* -- one (T, B, *) tensor whose
missing steps hold a filler value (``pad_sequence``) -- or *packed*: a ``PackedSequence``
holding only the real steps, time-major, with the sequences sorted by decreasing length so
that the ones still running at step t are always the first ``batch_sizes[t]``::

    sequences (sorted)   a b c d        data         a e h b f c g d
                         e f g          batch_sizes  3     2   2   1
                         h

The recurrent layers (``nn.RNN``/``LSTM``/``GRU``) take a ``PackedSequence`` and run each
sequence for exactly its own steps. Packing and padding are gathers (one ``index_select``
each), so gradients flow through them back to the padded input.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from ...creation import full, tensor
from ...ops import cat, pad, stack
from ...tensor import Tensor


def pad_sequence(sequences: Sequence[Tensor], batch_first: bool = False,
                 padding_value: float = 0.0, padding_side: str = "right") -> Tensor:
    """Stack tensors of shape (L_i, *) into (L_max, B, *) (or (B, L_max, *) with
    ``batch_first``), filling the missing steps with ``padding_value``; differentiable."""
    if isinstance(sequences, Tensor):
        sequences = list(sequences.unbind(0))
    if not sequences:
        raise RuntimeError("pad_sequence: received an empty list of sequences")
    if padding_side not in ("left", "right"):
        raise ValueError(f"pad_sequence: padding_side must be 'left' or 'right', got "
                         f"{padding_side!r}")
    rest = tuple(sequences[0].shape[1:])
    for i, s in enumerate(sequences):
        if s.ndim == 0 or tuple(s.shape[1:]) != rest:
            raise RuntimeError(f"pad_sequence: sequence {i} has shape {tuple(s.shape)}; every "
                               f"sequence must be (L, {', '.join(map(str, rest))})".replace(
                                   ", )", ")"))
    longest = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:  # pad's sizes run from the last dim back; the step dim is the first
        missing = longest - s.shape[0]
        sizes = [0, 0] * len(rest) + ([0, missing] if padding_side == "right" else [missing, 0])
        padded.append(pad(s, sizes, value=padding_value))
    return stack(padded, 0 if batch_first else 1)


# ---- PackedSequence ---------------------------------------------------------------------------
class _PackedSequenceFields(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None
    unsorted_indices: Tensor | None


class PackedSequence(_PackedSequenceFields):
    """A batch of variable-length sequences, packed (see the module docstring).

    ``data`` (S, *) holds the real steps, time-major; ``batch_sizes`` (an int64 CPU tensor)
    how many sequences run at each step; ``sorted_indices`` the original batch index of each
    sorted position (None when the input was already sorted) and ``unsorted_indices`` its
    inverse. Made by ``pack_padded_sequence``/``pack_sequence`` rather than by hand; the
    indices live on ``data``'s device, ``batch_sizes`` always on the CPU (as in PyTorch).
    """

    def __new__(cls, data, batch_sizes: Tensor | None = None,
                sorted_indices: Tensor | None = None,
                unsorted_indices: Tensor | None = None) -> PackedSequence:
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:  # PyTorch's other form: PackedSequence((data, batch_sizes))
            if not (isinstance(data, (list, tuple)) and len(data) == 2):
                raise TypeError("PackedSequence: expected (data, batch_sizes) or a pair of "
                                f"them, got {type(data).__name__}")
            data, batch_sizes = data
        if not isinstance(batch_sizes, Tensor) or batch_sizes.device.type != "cpu":
            raise ValueError("PackedSequence: batch_sizes must be a CPU tensor; build packed "
                             "sequences with pack_padded_sequence or pack_sequence")
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs) -> PackedSequence:
        """``data.to(...)`` (dtype and/or device); the indices follow ``data``'s device,
        ``batch_sizes`` stays on the CPU. Returns ``self`` when nothing changes."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        move = [None if t is None else t.to(data.device)
                for t in (self.sorted_indices, self.unsorted_indices)]
        return type(self)(data, self.batch_sizes, *move)

    def cpu(self) -> PackedSequence:
        return self.to("cpu")

    def cuda(self, index: int = 0) -> PackedSequence:
        return self.to(f"cuda:{index}")

    def float(self) -> PackedSequence:
        return self.to("float32")

    def double(self) -> PackedSequence:
        return self.to("float64")

    def long(self) -> PackedSequence:
        return self.to("int64")

    @property
    def is_cuda(self) -> bool:
        """Whether ``data`` is on a GPU."""
        return self.data.is_cuda


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """The inverse of a permutation of 0..n-1 (None for None)."""
    if permutation is None:
        return None
    return permutation.argsort()  # inv[perm[i]] = i  <=>  inv = the order that sorts perm


def _lengths_array(lengths, batch: int, name: str) -> np.ndarray:
    """``lengths`` (a list or a CPU tensor) as an int64 NumPy vector of ``batch`` entries."""
    if isinstance(lengths, Tensor):
        if lengths.device.type != "cpu":
            raise RuntimeError(f"{name}: 'lengths' must be a list or a CPU tensor, got a "
                               f"tensor on {lengths.device}")
        lengths = lengths.detach().numpy()
    arr = np.asarray(lengths)
    if arr.ndim != 1 or not (arr.dtype.kind in "iu" or (arr.dtype.kind == "f" and np.all(
            arr == np.round(arr)))):
        raise RuntimeError(f"{name}: 'lengths' must be a 1-D list or tensor of integers, got "
                           f"{arr.dtype} of shape {arr.shape}")
    if len(arr) != batch:
        raise RuntimeError(f"{name}: expected len(lengths) to be equal to "
                           f"batch_size, but got {len(arr)} (batch_size={batch})")
    return arr.astype(np.int64)


def pack_padded_sequence(input: Tensor, lengths, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch (T, B, *) (or (B, T, *) with ``batch_first``) of sequences whose
    lengths are ``lengths`` (a list or a CPU tensor). With ``enforce_sorted`` the lengths must
    be decreasing; otherwise they are sorted (stably) and ``sorted_indices`` records it."""
    if input.ndim < 2:
        raise ValueError(f"pack_padded_sequence: expected an input with at least 2 dims "
                         f"(T, B, *), got shape {tuple(input.shape)}")
    steps, batch = (input.shape[1], input.shape[0]) if batch_first else input.shape[:2]
    lens = _lengths_array(lengths, batch, "pack_padded_sequence")
    if batch == 0:
        raise RuntimeError("pack_padded_sequence: cannot pack an empty batch")
    if enforce_sorted:
        if np.any(lens[1:] > lens[:-1]):
            raise RuntimeError(
                "pack_padded_sequence: `lengths` array must be sorted in decreasing order when "
                f"`enforce_sorted` is True, got {lens.tolist()}. You can pass "
                "`enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to "
                "sidestep this requirement if you do not need ONNX exportability.")
        order = np.arange(batch)
    else:  # a stable descending sort: equal lengths keep their order, as PyTorch's
        order = np.argsort(-lens, kind="stable")
        lens = lens[order]
    if lens[-1] <= 0:
        raise RuntimeError("pack_padded_sequence: length of all samples has to be greater "
                           f"than 0, but found an element in 'lengths' that is <= 0: "
                           f"{lens[-1]}")
    if lens[0] > steps:
        raise RuntimeError(f"pack_padded_sequence: a sequence of length {lens[0]} does not fit "
                           f"an input of {steps} steps (shape {tuple(input.shape)}, "
                           f"batch_first={batch_first})")
    batch_sizes = (lens[None, :] > np.arange(lens[0])[:, None]).sum(1)
    # row of step t of the j-th longest sequence in input.reshape(-1, *): one gather packs
    t = np.concatenate([np.full(b, i) for i, b in enumerate(batch_sizes)])
    j = order[np.concatenate([np.arange(b) for b in batch_sizes])]
    rows = j * steps + t if batch_first else t * batch + j
    flat = input.reshape(steps * batch, *input.shape[2:])
    data = flat.index_select(0, tensor(rows, device=input.device))
    sorted_indices = None if enforce_sorted else tensor(order, device=input.device)
    return PackedSequence(data, tensor(batch_sizes), sorted_indices, None)


def batch_sizes_of(sequence: PackedSequence, name: str) -> np.ndarray:
    """The ``batch_sizes`` of a packed sequence as NumPy, checked (positive, non-increasing,
    summing to the rows of ``data``); errors name the caller ``name``."""
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"{name}: expected a PackedSequence, got {type(sequence).__name__}")
    sizes = sequence.batch_sizes.detach().numpy().astype(np.int64)
    rows = sequence.data.shape[0] if sequence.data.ndim else None
    if (sizes.ndim != 1 or len(sizes) == 0 or sizes[-1] < 1 or np.any(sizes[1:] > sizes[:-1])
            or rows != sizes.sum()):
        raise ValueError(f"{name}: batch_sizes {sizes.tolist()} must be positive and "
                         f"non-increasing and sum to data's {rows} rows (data shape "
                         f"{tuple(sequence.data.shape)})")
    return sizes


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Tensor, Tensor]:
    """Undo ``pack_padded_sequence``: ``(padded, lengths)``, padded (T, B, *) (or (B, T, *))
    in the original batch order, T = the longest length or ``total_length``; ``lengths`` an
    int64 CPU tensor."""
    sizes = batch_sizes_of(sequence, "pad_packed_sequence")
    steps, batch = len(sizes), int(sizes[0])
    if total_length is not None:
        if total_length < steps:
            raise ValueError("pad_packed_sequence: expected total_length to be at least the "
                             "length of the longest sequence in input, but got "
                             f"total_length={total_length} and max sequence length being "
                             f"{steps}")
        steps = total_length
    lens = (sizes[None, :] > np.arange(batch)[:, None]).sum(1)  # sorted order
    # rows[t, j]: data's row of step t of the j-th longest sequence, or the padding row
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rows = np.full((steps, batch), sizes.sum())
    for t, (s, b) in enumerate(zip(starts, sizes)):
        rows[t, :b] = s + np.arange(b)
    if sequence.unsorted_indices is not None:
        unsorted = np.asarray(sequence.unsorted_indices.tolist(), dtype=np.int64)
        rows, lens = rows[:, unsorted], lens[unsorted]
    if batch_first:
        rows = rows.T
    data = sequence.data
    filler = full((1, *data.shape[1:]), padding_value, dtype=data.dtype, device=data.device)
    padded = cat([data, filler], 0).index_select(0, tensor(rows.reshape(-1),
                                                           device=data.device))
    return padded.reshape(*rows.shape, *data.shape[1:]), tensor(lens)


def pack_sequence(sequences: Sequence[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of (L_i, *) tensors (``pad_sequence`` then ``pack_padded_sequence``)."""
    padded = pad_sequence(sequences)  # checks the shapes
    return pack_padded_sequence(padded, [s.shape[0] for s in sequences],
                                enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences: Tensor, lengths, batch_first: bool = False
                   ) -> list[Tensor]:
    """Split a padded (T, B, *) (or (B, T, *)) tensor into B tensors of their own lengths.
    (Unlike PyTorch's, this leaves ``padded_sequences`` as it is: no in-place transpose.)"""
    if padded_sequences.ndim < 2:
        raise ValueError(f"unpad_sequence: expected padded_sequences with at least 2 dims, got "
                         f"shape {tuple(padded_sequences.shape)}")
    padded = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    lens = _lengths_array(lengths, padded.shape[0], "unpad_sequence")
    if np.any(lens < 0) or np.any(lens > padded.shape[1]):
        raise ValueError(f"unpad_sequence: lengths {lens.tolist()} must be between 0 and the "
                         f"{padded.shape[1]} steps of padded_sequences "
                         f"{tuple(padded_sequences.shape)} (batch_first={batch_first})")
    return [padded[i, :int(n)] for i, n in enumerate(lens)]


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """The list of (L_i, *) tensors a ``PackedSequence`` holds, in the original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)


__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence",
           "pad_packed_sequence", "pad_sequence", "unpad_sequence", "pack_sequence",
           "unpack_sequence"]
