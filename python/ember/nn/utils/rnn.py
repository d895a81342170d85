"""``torch.nn.utils.rnn``: batching variable-length sequences (``pad_sequence``)."""

from __future__ import annotations

from collections.abc import Sequence

from ...ops import pad, stack
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


__all__ = ["pad_sequence"]
