"""Text preprocessing: Keras' ``Tokenizer`` and ``pad_sequences`` (behaving exactly as
Keras does, quirks included) and a character vocabulary for character-level models.

The Keras behaviours people trip on, kept on purpose:

- word indices start at 1 (0 is reserved for padding), most frequent word first, ties
  in order of first appearance; the ``oov_token``, when given, is index 1;
- ``Tokenizer(num_words=n)`` keeps only indices ``< n`` (the n-1 most frequent words)
  in *sequences*, while ``word_index`` still holds every word seen;
- ``pad_sequences`` pads *and* truncates at the front (``'pre'``) by default.
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

__all__ = ["CharVocab", "Tokenizer", "pad_sequences", "text_to_word_sequence"]

DEFAULT_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'


def text_to_word_sequence(text: str, filters: str = DEFAULT_FILTERS, lower: bool = True,
                          split: str = " ") -> list[str]:
    """Lower-case, replace every ``filters`` character by ``split``, split, drop empties."""
    if lower:
        text = text.lower()
    text = text.translate(str.maketrans({c: split for c in filters}))
    return [w for w in text.split(split) if w]


class Tokenizer:
    """Keras' ``Tokenizer``: maps words (or characters) to integer indices.

    Args:
        num_words: if set, sequences keep only words with index < num_words (the
            ``num_words - 1`` most frequent); ``word_index`` is not truncated.
        filters: characters removed from the texts (replaced by ``split``).
        lower: lower-case the texts.
        split: the word separator.
        char_level: every character is a token.
        oov_token: if set, it gets index 1 and stands in for unknown (or cut off) words.
    """

    def __init__(self, num_words: int | None = None, filters: str = DEFAULT_FILTERS,
                 lower: bool = True, split: str = " ", char_level: bool = False,
                 oov_token: str | None = None) -> None:
        self.num_words = num_words
        self.filters, self.lower, self.split = filters, lower, split
        self.char_level, self.oov_token = char_level, oov_token
        self.word_counts: OrderedDict[str, int] = OrderedDict()
        self.word_docs: defaultdict[str, int] = defaultdict(int)
        self.index_docs: defaultdict[int, int] = defaultdict(int)
        self.word_index: dict[str, int] = {}
        self.index_word: dict[int, str] = {}
        self.document_count = 0

    def _tokens(self, text: str | list[str]) -> list[str]:
        """A text's tokens: characters, a given list of words, or the split words."""
        if self.char_level or isinstance(text, list):
            if self.lower:
                text = [t.lower() for t in text] if isinstance(text, list) else text.lower()
            return list(text)
        return text_to_word_sequence(text, self.filters, self.lower, self.split)

    def fit_on_texts(self, texts: Iterable[str | list[str]]) -> None:
        """Count the words of ``texts`` and (re)build ``word_index``/``index_word``."""
        if isinstance(texts, str):
            raise TypeError("Tokenizer.fit_on_texts: expected a list of texts, got one string "
                            "(wrap it in a list)")
        for text in texts:
            self.document_count += 1
            seq = self._tokens(text)
            for w in seq:
                self.word_counts[w] = self.word_counts.get(w, 0) + 1
            for w in set(seq):
                self.word_docs[w] += 1
        # a stable sort by count: equal counts keep their first-seen order
        by_count = sorted(self.word_counts.items(), key=lambda wc: wc[1], reverse=True)
        vocab = ([self.oov_token] if self.oov_token is not None else [])
        vocab += [w for w, _ in by_count]
        self.word_index = dict(zip(vocab, range(1, len(vocab) + 1)))
        self.index_word = {i: w for w, i in self.word_index.items()}
        self.index_docs = defaultdict(int)
        for w, c in self.word_docs.items():
            self.index_docs[self.word_index[w]] = c

    def texts_to_sequences_generator(self, texts: Iterable[str | list[str]]
                                     ) -> Iterator[list[int]]:
        """Yield the index sequence of each text (see ``texts_to_sequences``)."""
        oov = self.word_index.get(self.oov_token) if self.oov_token is not None else None
        for text in texts:
            seq = []
            for w in self._tokens(text):
                i = self.word_index.get(w)
                if i is not None and self.num_words and i >= self.num_words:
                    i = None  # cut off by num_words: dropped, or the oov index
                if i is not None:
                    seq.append(i)
                elif oov is not None:
                    seq.append(oov)
            yield seq

    def texts_to_sequences(self, texts: Iterable[str | list[str]]) -> list[list[int]]:
        """Each text as a list of word indices; unknown words (and, with ``num_words``,
        indices >= num_words) are dropped, or become the oov index if there is one."""
        if isinstance(texts, str):
            raise TypeError("Tokenizer.texts_to_sequences: expected a list of texts, got one "
                            "string (wrap it in a list)")
        return list(self.texts_to_sequences_generator(texts))

    def sequences_to_texts_generator(self, sequences: Iterable[Sequence[int]]
                                     ) -> Iterator[str]:
        """Yield each sequence turned back into space-joined words."""
        oov = self.word_index.get(self.oov_token) if self.oov_token is not None else None
        for seq in sequences:
            words = []
            for num in seq:
                num = int(num)
                word = self.index_word.get(num)
                if word is not None and self.num_words and num >= self.num_words:
                    word = None
                if word is not None:
                    words.append(word)
                elif oov is not None:
                    words.append(self.index_word[oov])
            yield " ".join(words)

    def sequences_to_texts(self, sequences: Iterable[Sequence[int]]) -> list[str]:
        """The inverse of ``texts_to_sequences`` (up to filtering, case and oov)."""
        return list(self.sequences_to_texts_generator(sequences))

    def sequences_to_matrix(self, sequences: Sequence[Sequence[int]],
                            mode: str = "binary") -> np.ndarray:
        """A (len(sequences), num_words) matrix: 'binary' presence, 'count', 'freq' (count /
        length) or 'tfidf' (Keras' weighting: (1 + log c) * log(1 + docs / (1 + df)))."""
        if self.num_words:
            n = self.num_words
        elif self.word_index:
            n = len(self.word_index) + 1
        else:
            raise ValueError("Tokenizer.sequences_to_matrix: set num_words or fit on texts "
                             "first")
        if mode not in ("binary", "count", "freq", "tfidf"):
            raise ValueError(f"Tokenizer.sequences_to_matrix: unknown mode {mode!r}; expected "
                             "'binary', 'count', 'freq' or 'tfidf'")
        if mode == "tfidf" and not self.document_count:
            raise ValueError("Tokenizer: fit on some texts before using tfidf mode")
        x = np.zeros((len(sequences), n))
        for i, seq in enumerate(sequences):
            counts: dict[int, int] = defaultdict(int)
            for j in seq:
                if j < n:
                    counts[int(j)] += 1
            for j, c in counts.items():
                x[i, j] = self._weight(mode, c, len(seq), j)
        return x

    def _weight(self, mode: str, count: int, length: int, index: int) -> float:
        if mode == "count":
            return count
        if mode == "freq":
            return count / length
        if mode == "binary":
            return 1.0
        idf = np.log(1 + self.document_count / (1 + self.index_docs.get(index, 0)))
        return (1 + np.log(count)) * idf

    def texts_to_matrix(self, texts: Sequence[str], mode: str = "binary") -> np.ndarray:
        """``sequences_to_matrix(texts_to_sequences(texts), mode)``."""
        return self.sequences_to_matrix(self.texts_to_sequences(texts), mode=mode)

    def __repr__(self) -> str:
        return (f"Tokenizer(num_words={self.num_words}, words={len(self.word_index)}, "
                f"documents={self.document_count})")


def pad_sequences(sequences: Sequence[Sequence[Any]], maxlen: int | None = None,
                  dtype: Any = "int32", padding: str = "pre", truncating: str = "pre",
                  value: float = 0.0) -> np.ndarray:
    """Make sequences equally long, as Keras' ``pad_sequences``: a numpy array of shape
    ``(len(sequences), maxlen)`` (plus any per-step shape).

    ``maxlen`` defaults to the longest sequence. Longer sequences lose values at the
    front (``truncating='pre'``, the default) or the end ('post'); shorter ones are
    filled with ``value`` at the front (``padding='pre'``, the default) or the end.
    """
    if not hasattr(sequences, "__len__"):
        raise ValueError("pad_sequences: `sequences` must be a list of sequences")
    if padding not in ("pre", "post"):
        raise ValueError(f'pad_sequences: padding type "{padding}" not understood; '
                         "expected 'pre' or 'post'")
    if truncating not in ("pre", "post"):
        raise ValueError(f'pad_sequences: truncating type "{truncating}" not understood; '
                         "expected 'pre' or 'post'")
    lengths, sample_shape, found = [], (), False
    for s in sequences:
        if not hasattr(s, "__len__"):
            raise ValueError(f"pad_sequences: `sequences` must be a list of iterables; found "
                             f"the non-iterable {s!r}")
        lengths.append(len(s))
        if len(s) and not found:  # the step shape of the first non-empty sequence
            sample_shape, found = np.asarray(s).shape[1:], True
    if maxlen is None:
        maxlen = max(lengths, default=0)
    if isinstance(value, str) and dtype is not object \
            and not np.issubdtype(np.dtype(dtype), np.str_):
        raise ValueError(f"pad_sequences: dtype {dtype} can't hold the string value {value!r}; "
                         "use dtype=object")
    x = np.full((len(sequences), maxlen) + tuple(sample_shape), value, dtype=dtype)
    if maxlen == 0:
        return x
    for i, s in enumerate(sequences):
        if not len(s):
            continue
        trunc = np.asarray(s[-maxlen:] if truncating == "pre" else s[:maxlen], dtype=dtype)
        if trunc.shape[1:] != tuple(sample_shape):
            raise ValueError(f"pad_sequences: sequence {i} has steps of shape "
                             f"{trunc.shape[1:]}, expected {tuple(sample_shape)} like the "
                             "first non-empty sequence")
        if padding == "post":
            x[i, :len(trunc)] = trunc
        else:
            x[i, -len(trunc):] = trunc
    return x


class CharVocab:
    """A character-level vocabulary (the Tiny-Shakespeare setup): the sorted distinct
    characters of a text, numbered from 0."""

    def __init__(self, chars: Iterable[str]) -> None:
        self.chars: list[str] = sorted(set(chars))
        self.stoi: dict[str, int] = {c: i for i, c in enumerate(self.chars)}
        self.itos: dict[int, str] = dict(enumerate(self.chars))

    @classmethod
    def from_text(cls, text: str) -> CharVocab:
        """The vocabulary of the characters in ``text``."""
        return cls(text)

    def encode(self, text: str) -> list[int]:
        """Characters -> ids; an unknown character raises ValueError naming it."""
        try:
            return [self.stoi[c] for c in text]
        except KeyError as e:
            raise ValueError(f"CharVocab.encode: character {e.args[0]!r} is not in the "
                             f"vocabulary of {len(self)} characters") from None

    def decode(self, ids: Iterable[int]) -> str:
        """Ids (a list, array or tensor) -> the string."""
        out = []
        for i in np.asarray(ids).reshape(-1).tolist():
            if i not in self.itos:
                raise ValueError(f"CharVocab.decode: id {i} is out of range [0, {len(self)})")
            out.append(self.itos[i])
        return "".join(out)

    def __len__(self) -> int:
        return len(self.chars)

    def __contains__(self, ch: str) -> bool:
        return ch in self.stoi

    def __repr__(self) -> str:
        return f"CharVocab({len(self)} chars: {''.join(self.chars)!r})"
