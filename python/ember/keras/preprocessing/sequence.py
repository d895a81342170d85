"""``pad_sequences`` as in ``keras.preprocessing.sequence`` (it is
``ember.data.text.pad_sequences``)."""

from ...data.text import pad_sequences

__all__ = ["pad_sequences"]
