"""The key/value cache of a decoder: what makes each generated token cost one step.

Self-attention at position t needs the keys and values of positions 0..t. They do not
change once computed (a causal model never looks ahead), so instead of re-running the whole
prefix for every new token, each layer keeps its keys and values and appends the new
position's: the model then runs on one token per step, attending to the cache.
(transformers' ``DynamicCache``, with the same growth by concatenation.)
"""

from __future__ import annotations

from ..ops import cat
from ..tensor import Tensor


class KVCache:
    """Per layer, the keys and values seen so far: two (batch, heads, seq, head_dim) tensors.

    ``update(layer, k, v)`` appends the new positions and returns the whole keys/values to
    attend to; ``get_seq_length()`` is how many positions are cached (the position the next
    token is at). ``reorder(index)`` keeps the batch rows ``index`` (beam search)."""

    def __init__(self) -> None:
        self.keys: list[Tensor] = []
        self.values: list[Tensor] = []

    def __len__(self) -> int:
        return len(self.keys)

    def get_seq_length(self, layer: int = 0) -> int:
        return self.keys[layer].shape[-2] if layer < len(self.keys) else 0

    def update(self, layer: int, key: Tensor, value: Tensor) -> tuple[Tensor, Tensor]:
        if layer == len(self.keys):
            self.keys.append(key)
            self.values.append(value)
        elif layer < len(self.keys):
            if key.shape[:2] != self.keys[layer].shape[:2]:
                raise ValueError(f"KVCache.update: layer {layer} holds (batch, heads) "
                                 f"{tuple(self.keys[layer].shape[:2])}, the new keys have "
                                 f"{tuple(key.shape[:2])}")
            self.keys[layer] = cat([self.keys[layer], key], dim=-2)
            self.values[layer] = cat([self.values[layer], value], dim=-2)
        else:
            raise ValueError(f"KVCache.update: layer {layer} updated before layer "
                             f"{len(self.keys)} (the layers fill in order)")
        return self.keys[layer], self.values[layer]

    def reorder(self, index: Tensor) -> None:
        self.keys = [k[index] for k in self.keys]
        self.values = [v[index] for v in self.values]

    def __repr__(self) -> str:
        return f"KVCache(layers={len(self)}, seq_length={self.get_seq_length()})"
