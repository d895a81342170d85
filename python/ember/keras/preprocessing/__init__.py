"""Keras preprocessing: ``text.Tokenizer`` and ``sequence.pad_sequences``, the very same
objects as ``ember.data.text``'s (one implementation, two import paths)."""

from . import sequence, text

__all__ = ["sequence", "text"]
