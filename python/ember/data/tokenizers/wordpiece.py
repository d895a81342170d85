"""BERT's WordPiece tokenizer: load a ``vocab.txt`` and get the ids of the reference
(Hugging Face ``tokenizers``' ``BertWordPieceTokenizer``: BertNormalizer, BertPreTokenizer,
WordPiece, and the ``[CLS] a [SEP] b [SEP]`` template), or train a vocabulary on a corpus.

1. **Normalise** (:class:`BasicTokenizer`): drop NUL, U+FFFD and control characters, turn
   every whitespace character into a space; put spaces around CJK ideographs (so each is a
   word); when lower-casing, strip accents (NFD, then drop the non-spacing marks) and lower
   each character.
2. **Pre-tokenise**: split on whitespace, and make each punctuation character (ASCII
   punctuation, or a Unicode ``P*`` category) a word of its own.
3. **WordPiece**: cut each word greedily into the longest vocabulary pieces from the left,
   the pieces after the first carrying the ``##`` prefix; a word with a part no piece covers
   (or over 100 characters) is one ``[UNK]``.
"""

from __future__ import annotations

import os
import unicodedata
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

from .base import WHITESPACE, CharMap, SubwordTokenizer
from .bpe import learn_merges

__all__ = ["BasicTokenizer", "WordPieceTokenizer"]

# CJK Unified Ideographs and their extensions and compatibility blocks, as BERT defines
# "Chinese characters" (Hangul and kana are not among them)
_CJK = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
        (0x2B740, 0x2B81F), (0x2B920, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))
_ASCII_PUNCT = frozenset('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~')


def _is_cjk(c: str) -> bool:
    cp = ord(c)
    return any(lo <= cp <= hi for lo, hi in _CJK)


def _is_control(c: str) -> bool:
    """A C* character other than tab, newline and carriage return (those are whitespace)."""
    return c not in "\t\n\r" and unicodedata.category(c)[0] == "C"


def _is_punctuation(c: str) -> bool:
    return c in _ASCII_PUNCT or unicodedata.category(c)[0] == "P"


# clean_text: drop NUL, U+FFFD and controls; every whitespace character becomes a space
_CLEAN = CharMap(lambda c: None if c in "\x00\ufffd" or _is_control(c)
                  else " " if c in WHITESPACE else c)
_CJK_APART = CharMap(lambda c: f" {c} " if _is_cjk(c) else c)
_DROP_MN = CharMap(lambda c: None if unicodedata.category(c) == "Mn" else c)
_LOWER = CharMap(str.lower)
# the pre-tokenizer: whitespace separates words, a punctuation mark is a word of its own
_SPLIT = CharMap(lambda c: " " if c in WHITESPACE else f" {c} " if _is_punctuation(c)
                  else c)


class BasicTokenizer:
    """BERT's text normalisation and splitting into words (before WordPiece).

    Args:
        lowercase: lower-case every character (BERT-uncased).
        strip_accents: remove accents (NFD + drop non-spacing marks); None follows
            ``lowercase``, as in BERT.
        clean_text: drop control characters, NUL and U+FFFD; whitespace becomes a space.
        handle_chinese_chars: make every CJK ideograph a word of its own.
    """

    def __init__(self, lowercase: bool = True, strip_accents: bool | None = None,
                 clean_text: bool = True, handle_chinese_chars: bool = True) -> None:
        self.lowercase = lowercase
        self.strip_accents = lowercase if strip_accents is None else strip_accents
        self.clean_text, self.handle_chinese_chars = clean_text, handle_chinese_chars

    def normalize(self, text: str) -> str:
        """The normalised text (steps in the reference's order)."""
        if self.clean_text:
            text = text.translate(_CLEAN)
        if self.handle_chinese_chars:
            text = text.translate(_CJK_APART)
        if self.strip_accents:
            text = unicodedata.normalize("NFD", text).translate(_DROP_MN)
        if self.lowercase:
            # character by character, as the reference does (no final-sigma rule)
            text = text.translate(_LOWER)
        return text

    def split(self, text: str) -> list[str]:
        """Words of normalised text: split on whitespace, each punctuation mark alone."""
        return [w for w in text.translate(_SPLIT).split(" ") if w]

    def tokenize(self, text: str) -> list[str]:
        """``split(normalize(text))``."""
        return self.split(self.normalize(text))


class WordPieceTokenizer(SubwordTokenizer):
    """BERT's tokenizer: :class:`BasicTokenizer` + greedy longest-match-first WordPiece.

    Args:
        vocab: token -> id (``vocab.txt``: one token a line, the id is the line number).
        lowercase, strip_accents, clean_text, handle_chinese_chars: see
            :class:`BasicTokenizer`.
        unk_token, cls_token, sep_token, pad_token, mask_token: BERT's special tokens (those in
            the vocabulary are kept whole in the input; ``[UNK]``, ``[CLS]`` and ``[SEP]``
            must be there).
        wordpieces_prefix: the mark of a piece that continues a word.
        max_input_chars_per_word: longer words become one ``[UNK]``.
        padding_side: ``"right"`` or ``"left"``.

    Example::

        tok = WordPieceTokenizer.from_file("bert-base-uncased/vocab.txt")
        batch = tok.encode_batch([("How old are you?", "I'm 6.")], return_tensors="ember")
        batch["input_ids"], batch["token_type_ids"], batch["attention_mask"]
    """

    _has_segments = True

    def __init__(self, vocab: dict[str, int], lowercase: bool = True,
                 strip_accents: bool | None = None, clean_text: bool = True,
                 handle_chinese_chars: bool = True, unk_token: str = "[UNK]",
                 cls_token: str = "[CLS]", sep_token: str = "[SEP]", pad_token: str = "[PAD]",
                 mask_token: str = "[MASK]", wordpieces_prefix: str = "##",
                 max_input_chars_per_word: int = 100, padding_side: str = "right") -> None:
        for role, tok in (("unk_token", unk_token), ("cls_token", cls_token),
                          ("sep_token", sep_token)):
            if tok not in vocab:
                raise ValueError(f"WordPieceTokenizer: {role} {tok!r} is not in the vocabulary")
        specials = [t for t in (pad_token, unk_token, cls_token, sep_token, mask_token)
                    if t in vocab]
        super().__init__(vocab, specials, pad_token if pad_token in vocab else None,
                         padding_side)
        self.basic = BasicTokenizer(lowercase, strip_accents, clean_text, handle_chinese_chars)
        self.unk_token, self.cls_token, self.sep_token = unk_token, cls_token, sep_token
        self.mask_token = mask_token
        self.prefix, self.max_chars = wordpieces_prefix, max_input_chars_per_word
        self._cache: dict[str, list[int]] = {}  # word -> its pieces' ids

    @classmethod
    def from_file(cls, vocab_file: str | os.PathLike, **kwargs) -> WordPieceTokenizer:
        """Load a BERT ``vocab.txt`` (token i on line i, counting from 0)."""
        try:
            with open(vocab_file, encoding="utf-8", newline="") as f:
                lines = f.read().split("\n")
        except FileNotFoundError:
            raise FileNotFoundError(f"WordPieceTokenizer: no vocab file "
                                    f"{os.fspath(vocab_file)!r}") from None
        if lines and lines[-1] == "":
            lines.pop()
        # a token listed twice keeps its last line, as the reference reads it
        vocab = {line.rstrip(): n for n, line in enumerate(lines)}
        return cls(vocab, **kwargs)

    def save(self, folder: str | os.PathLike) -> str:
        """Write ``vocab.txt`` into ``folder`` (made if missing); returns its path."""
        ids = sorted(self.id_to_token_map)
        if ids != list(range(len(ids))):
            raise ValueError("WordPieceTokenizer.save: vocab.txt needs ids 0..n-1 without gaps")
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, "vocab.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(self.id_to_token_map[i] + "\n" for i in ids)
        return path

    @classmethod
    def train(cls, corpus: Iterable[str], vocab_size: int = 30000, min_frequency: int = 2,
              limit_alphabet: int = 1000,
              special_tokens: Iterable[str] = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"),
              lowercase: bool = True, strip_accents: bool | None = None,
              clean_text: bool = True, handle_chinese_chars: bool = True,
              wordpieces_prefix: str = "##", **kwargs) -> WordPieceTokenizer:
        """Learn a WordPiece vocabulary from ``corpus`` (an iterable of texts), as the
        reference's ``BertWordPieceTokenizer.train`` does: BPE over the words of
        :class:`BasicTokenizer`, every symbol after a word's first carrying ``##``, from an
        alphabet of the ``limit_alphabet`` most frequent characters.

        The vocabulary holds the special tokens, the alphabet (code point order), each
        ``##`` character in order of first appearance, then the merges. The reference
        numbers the ``##`` characters in hash order, which changes from run to run (and so
        can its choice among equally frequent pairs); ember's order is fixed.
        """
        if isinstance(corpus, (str, bytes)):
            raise TypeError("WordPieceTokenizer.train: corpus must be an iterable of texts, "
                            "got one string (wrap it in a list)")
        for name, v in (("vocab_size", vocab_size), ("limit_alphabet", limit_alphabet)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"WordPieceTokenizer.train: {name} must be a positive int, "
                                 f"got {v!r}")
        basic = BasicTokenizer(lowercase, strip_accents, clean_text, handle_chinese_chars)
        words: Counter[str] = Counter()
        for n, text in enumerate(corpus):
            if not isinstance(text, str):
                raise TypeError(f"WordPieceTokenizer.train: corpus item {n} is a "
                                f"{type(text).__name__}, expected str")
            words.update(basic.tokenize(text))
        chars: Counter[str] = Counter()
        for w, c in words.items():
            for ch in w:
                chars[ch] += c
        # the limit drops the rarest characters (ties: the higher code point first)
        kept = sorted(chars, key=lambda ch: (-chars[ch], ord(ch)))[:limit_alphabet]
        specials = list(dict.fromkeys(special_tokens))
        vocab, _ = learn_merges(words, vocab_size, specials, sorted(kept), min_frequency,
                          wordpieces_prefix)
        kwargs.update(lowercase=lowercase, strip_accents=strip_accents, clean_text=clean_text,
                      handle_chinese_chars=handle_chinese_chars,
                      wordpieces_prefix=wordpieces_prefix)
        return cls(vocab, **kwargs)

    @property
    def unk_token_id(self) -> int:
        return self.vocab[self.unk_token]

    @property
    def cls_token_id(self) -> int:
        return self.vocab[self.cls_token]

    @property
    def sep_token_id(self) -> int:
        return self.vocab[self.sep_token]

    @property
    def mask_token_id(self) -> int | None:
        return self.vocab.get(self.mask_token)

    def _encode_text(self, text: str) -> list[int]:
        ids: list[int] = []
        cache = self._cache
        for word in self.basic.tokenize(text):
            pieces = cache.get(word)
            if pieces is None:
                if len(cache) >= 100_000:  # bounded: a stream of new words
                    cache.clear()
                pieces = cache[word] = self._wordpiece(word)
            ids.extend(pieces)
        return ids

    def _wordpiece(self, word: str) -> list[int]:
        """Greedy longest-match-first: at each position the longest piece in the vocabulary
        (``##``-prefixed after the first); none -> the whole word is ``[UNK]``."""
        if len(word) > self.max_chars:
            return [self.unk_token_id]
        out, start = [], 0
        while start < len(word):
            for end in range(len(word), start, -1):
                piece = word[start:end] if start == 0 else self.prefix + word[start:end]
                i = self.vocab.get(piece)
                if i is not None:
                    out.append(i)
                    start = end
                    break
            else:
                return [self.unk_token_id]
        return out

    def _wrap(self, a: list[int], b: list[int] | None) -> tuple[list[int], list[int]]:
        """``[CLS] a [SEP]`` (type ids 0), then ``b [SEP]`` (type ids 1) for a pair."""
        cls, sep = self.cls_token_id, self.sep_token_id
        ids, types = [cls, *a, sep], [0] * (len(a) + 2)
        if b is not None:
            ids += [*b, sep]
            types += [1] * (len(b) + 1)
        return ids, types

    def _decode_tokens(self, tokens: list[str]) -> str:
        """Join with spaces, glue ``##`` pieces to what precedes them, and tidy the spaces
        before punctuation and in contractions (the reference decoder's ``cleanup``)."""
        parts = []
        for i, tok in enumerate(tokens):
            if i and tok.startswith(self.prefix):
                tok = tok[len(self.prefix):]
            elif i:
                tok = " " + tok
            parts.append(_cleanup(tok))
        return "".join(parts)


@lru_cache(maxsize=65536)
def _cleanup(s: str) -> str:
    for a, b in ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"),
                 (" n't", "n't"), (" 'm", "'m"), (" do not", " don't"), (" 's", "'s"),
                 (" 've", "'ve"), (" 're", "'re")):
        s = s.replace(a, b)
    return s

