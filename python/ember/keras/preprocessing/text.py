"""``Tokenizer`` as in ``keras.preprocessing.text`` (it is ``ember.data.text.Tokenizer``)."""

from ...data.text import Tokenizer

__all__ = ["Tokenizer"]
