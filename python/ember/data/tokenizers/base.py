"""What every subword tokenizer shares: the vocabulary both ways, special tokens kept whole,
checked decoding, and batch encoding with truncation, padding and attention masks.

A subclass supplies ``_encode_text`` (ordinary text -> ids, no special tokens inside),
``_decode_tokens`` (tokens -> text) and, when the model wraps its inputs (BERT's
``[CLS] a [SEP] b [SEP]``), ``_wrap``.
"""

from __future__ import annotations

import operator
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import Any

__all__ = ["WHITESPACE", "CharMap", "SubwordTokenizer"]

# Whitespace as the references see it (Rust's char::is_whitespace, the regex engine's \s): the
# Unicode White_Space property. Not Python's str.isspace, which also counts U+001C..U+001F.
WHITESPACE = frozenset(map(chr, [*range(0x09, 0x0E), 0x20, 0x85, 0xA0, 0x1680,
                                 *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F,
                                 0x3000]))


class CharMap(dict):
    """A ``str.translate`` table that works out each character's image the first time it
    meets it (so a text costs one C-level pass, not a Python call per character)."""

    def __init__(self, image: Callable[[str], str | None]) -> None:
        super().__init__()
        self.image = image

    def __missing__(self, cp: int) -> str | None:
        out = self[cp] = self.image(chr(cp))
        return out


class SubwordTokenizer(ABC):
    """The shared half of :class:`ByteLevelBPETokenizer` and :class:`WordPieceTokenizer`.

    Args:
        vocab: token -> id.
        special_tokens: tokens matched whole in the input text (before any normalisation or
            splitting) and given their vocabulary id; each must be in ``vocab``.
        pad_token: the token ``encode_batch`` pads with (one of the vocabulary's).
        padding_side: ``"right"`` (default) or ``"left"`` (for generation with a decoder).
    """

    def __init__(self, vocab: dict[str, int], special_tokens: Iterable[str] = (),
                 pad_token: str | None = None, padding_side: str = "right") -> None:
        name = type(self).__name__
        self.vocab: dict[str, int] = dict(vocab)
        self.id_to_token_map: dict[int, str] = {i: t for t, i in self.vocab.items()}
        if len(self.id_to_token_map) != len(self.vocab):
            raise ValueError(f"{name}: the vocabulary gives one id to several tokens")
        self.special_tokens: list[str] = []
        for tok in special_tokens:
            if tok not in self.vocab:
                raise ValueError(f"{name}: special token {tok!r} is not in the vocabulary")
            if tok not in self.special_tokens:
                self.special_tokens.append(tok)
        self._special_re: re.Pattern | None = None
        self.pad_token = pad_token
        self.padding_side = padding_side
        self._check_side(padding_side)

    @property
    def pad_token(self) -> str | None:
        """The token ``encode_batch`` pads with (None: padding is an error)."""
        return self._pad_token

    @pad_token.setter
    def pad_token(self, token: str | None) -> None:
        if token is not None and token not in self.vocab:
            raise ValueError(f"{type(self).__name__}: pad_token {token!r} is not in the "
                             "vocabulary (add it with add_special_tokens first)")
        self._pad_token = token

    def add_special_tokens(self, tokens: Iterable[str]) -> int:
        """Make ``tokens`` special (kept whole in the input); a token not yet in the
        vocabulary gets the next free id (a model's embedding then needs that many more
        rows). Returns how many tokens were new to the vocabulary."""
        added = 0
        for tok in tokens:
            if not isinstance(tok, str) or not tok:
                raise ValueError(f"{type(self).__name__}.add_special_tokens: expected "
                                 f"non-empty strings, got {tok!r}")
            if tok not in self.vocab:
                i = max(self.id_to_token_map, default=-1) + 1
                self.vocab[tok], self.id_to_token_map[i] = i, tok
                added += 1
            if tok not in self.special_tokens:
                self.special_tokens.append(tok)
        self._special_re = None  # rebuilt on the next encode
        return added

    # -- the vocabulary --------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.vocab)

    @property
    def vocab_size(self) -> int:
        """The number of tokens in the vocabulary (special tokens included)."""
        return len(self.vocab)

    def get_vocab(self) -> dict[str, int]:
        """A copy of the token -> id map."""
        return dict(self.vocab)

    def token_to_id(self, token: str) -> int | None:
        """The id of ``token``, or None when it is not in the vocabulary."""
        return self.vocab.get(token)

    def id_to_token(self, i: int) -> str:
        """The token of id ``i`` (an error naming the range when there is none)."""
        try:
            return self.id_to_token_map[operator.index(i)]
        except TypeError:
            raise TypeError(f"{type(self).__name__}: ids must be ints, got "
                            f"{type(i).__name__} ({i!r})") from None
        except KeyError:
            raise ValueError(f"{type(self).__name__}: id {i} is not in the vocabulary "
                             f"(ids run 0..{max(self.id_to_token_map, default=-1)})") from None

    @property
    def pad_token_id(self) -> int | None:
        return None if self.pad_token is None else self.vocab[self.pad_token]

    # -- encoding --------------------------------------------------------------------------
    def _split_special(self, text: str) -> list[tuple[str, bool]]:
        """``text`` cut around the special tokens it holds: (piece, is_special) in order.
        At each position the longest special token wins (as the reference's leftmost-longest
        match does: the alternatives are tried longest first)."""
        if not self.special_tokens:
            return [(text, False)] if text else []
        if self._special_re is None:
            alts = sorted(self.special_tokens, key=len, reverse=True)
            self._special_re = re.compile("(" + "|".join(map(re.escape, alts)) + ")")
        # re.split with one group: ordinary text at even places, special tokens at odd ones
        return [(piece, i % 2 == 1) for i, piece in enumerate(self._special_re.split(text))
                if piece]

    @abstractmethod
    def _encode_text(self, text: str) -> list[int]:
        """The ids of ordinary text (no special tokens in it)."""

    @abstractmethod
    def _decode_tokens(self, tokens: list[str]) -> str:
        """The text of a list of tokens."""

    def _wrap(self, a: list[int], b: list[int] | None) -> tuple[list[int], list[int]]:
        """Add the model's special tokens around one sequence or a pair; the ids and their
        token type ids. Plain concatenation by default (GPT-2 adds nothing)."""
        ids = a + (b or [])
        return ids, [0] * len(a) + [1] * len(b or [])

    def _num_added(self, pair: bool) -> int:
        """How many special tokens ``_wrap`` adds (truncation leaves room for them)."""
        return len(self._wrap([], [] if pair else None)[0])

    def encode(self, text: str, pair: str | None = None,
               add_special_tokens: bool = True) -> list[int]:
        """The ids of ``text`` (and of a second text ``pair``, for pair tasks).

        Special tokens written in the text are kept whole; ``add_special_tokens`` adds the
        model's own (BERT's ``[CLS]``/``[SEP]``; none for byte-level BPE).
        """
        return self._encode_one(text, pair, add_special_tokens, None)["input_ids"]

    def tokenize(self, text: str) -> list[str]:
        """The tokens (strings) of ``text``, without the model's special tokens."""
        return [self.id_to_token_map[i] for i in self.encode(text, add_special_tokens=False)]

    def _ids(self, text: str, what: str) -> list[int]:
        if not isinstance(text, str):
            raise TypeError(f"{type(self).__name__}.encode: {what} must be a str, "
                            f"got {type(text).__name__}")
        ids: list[int] = []
        for piece, special in self._split_special(text):
            ids.extend([self.vocab[piece]] if special else self._encode_text(piece))
        return ids

    def _encode_one(self, text: str, pair: str | None, add_special_tokens: bool,
                    max_length: int | None) -> dict[str, list[int]]:
        a = self._ids(text, "text")
        b = None if pair is None else self._ids(pair, "pair")
        if max_length is not None:
            room = max_length - (self._num_added(b is not None) if add_special_tokens else 0)
            if room < 0:
                raise ValueError(f"{type(self).__name__}: max_length={max_length} leaves no "
                                 "room beside the special tokens")
            a, b = _truncate(a, b, room)
        if add_special_tokens:
            ids, types = self._wrap(a, b)
        else:
            ids = a + (b or [])
            types = [0] * len(a) + [1] * len(b or [])
        return {"input_ids": ids, "token_type_ids": types, "attention_mask": [1] * len(ids)}

    def encode_batch(self, texts: Sequence[str] | Sequence[tuple[str, str]],
                     padding: bool | str = True, truncation: bool = False,
                     max_length: int | None = None, return_tensors: str | None = None,
                     add_special_tokens: bool = True,
                     padding_side: str | None = None) -> dict[str, Any]:
        """Encode several texts (or ``(text, pair)`` tuples) into equal-length rows.

        Args:
            padding: True / ``"longest"``: pad to the longest row; ``"max_length"``: pad to
                ``max_length``; False: no padding (rows keep their lengths).
            truncation: cut each row to ``max_length`` (a pair as the reference's
                ``longest_first``: from the longer text, or both to half when both are long).
            max_length: the row length for truncation and ``padding="max_length"``.
            return_tensors: ``"ember"`` for int64 tensors, None for lists.
            padding_side: ``"right"`` or ``"left"``; default ``self.padding_side``.

        Returns:
            ``{"input_ids", "attention_mask"}`` (1 on real tokens, 0 on padding), plus
            ``"token_type_ids"`` for models with segments (BERT).
        """
        name = f"{type(self).__name__}.encode_batch"
        if isinstance(texts, str):
            raise TypeError(f"{name}: expected a list of texts, got one string (wrap it in a "
                            "list, or use encode)")
        if padding not in (True, False, "longest", "max_length", "do_not_pad"):
            raise ValueError(f"{name}: padding must be True, False, 'longest' or "
                             f"'max_length', got {padding!r}")
        if (truncation or padding == "max_length") and max_length is None:
            raise ValueError(f"{name}: truncation=True and padding='max_length' need "
                             "max_length")
        if max_length is not None and (not isinstance(max_length, int) or max_length < 1):
            raise ValueError(f"{name}: max_length must be a positive int, got {max_length!r}")
        if return_tensors not in (None, "ember"):
            raise ValueError(f"{name}: return_tensors must be 'ember' or None, "
                             f"got {return_tensors!r}")
        side = self.padding_side if padding_side is None else padding_side
        self._check_side(side)
        rows = []
        for t in texts:
            text, pair = (t if isinstance(t, tuple) else (t, None))
            rows.append(self._encode_one(text, pair, add_special_tokens,
                                         max_length if truncation else None))
        if padding in (True, "longest", "max_length"):
            width = max_length if padding == "max_length" else max(
                (len(r["input_ids"]) for r in rows), default=0)
            if self.pad_token is None and any(len(r["input_ids"]) < width for r in rows):
                raise ValueError(f"{name}: padding needs a pad_token; this tokenizer has none "
                                 "(set tokenizer.pad_token, e.g. to the end-of-text token)")
            for r in rows:
                n = width - len(r["input_ids"])
                if n < 0:
                    raise ValueError(f"{name}: a row of {len(r['input_ids'])} tokens is longer "
                                     f"than max_length={max_length} (pass truncation=True)")
                fills = {"input_ids": self.pad_token_id, "attention_mask": 0,
                         "token_type_ids": 0}
                for k, fill in fills.items():
                    r[k] = r[k] + [fill] * n if side == "right" else [fill] * n + r[k]
        keys = ["input_ids", "attention_mask"] + (["token_type_ids"] if self._has_segments
                                                  else [])
        out: dict[str, Any] = {k: [r[k] for r in rows] for k in keys}
        if return_tensors == "ember":
            from ...creation import tensor
            from ...dtypes import int64
            if len({len(r) for r in out["input_ids"]}) > 1:
                raise ValueError(f"{name}: return_tensors='ember' needs equal rows; pass "
                                 "padding=True")
            out = {k: tensor(v, dtype=int64) for k, v in out.items()}
        return out

    _has_segments = False

    def __call__(self, text: str | Sequence[str], text_pair: str | Sequence[str] | None = None,
                 padding: bool | str = False, truncation: bool = False,
                 max_length: int | None = None, return_tensors: str | None = None,
                 add_special_tokens: bool = True,
                 padding_side: str | None = None) -> dict[str, Any]:
        """The ``transformers`` spelling: ``tok(text)`` or ``tok(texts, padding=True,
        truncation=True, max_length=..., return_tensors="ember")``.

        One text gives one row (lists of ints; with ``return_tensors`` a batch of one, as
        in ``transformers``); a list gives ``encode_batch``'s dict. ``text_pair`` is the
        second text (or list of them) of pair tasks.
        """
        single = isinstance(text, str)
        texts = [text] if single else list(text)
        if text_pair is not None:
            pairs = [text_pair] if isinstance(text_pair, str) else list(text_pair)
            if len(pairs) != len(texts):
                raise ValueError(f"{type(self).__name__}: {len(texts)} texts but "
                                 f"{len(pairs)} text_pair entries")
            texts = list(zip(texts, pairs))
        out = self.encode_batch(texts, padding=padding, truncation=truncation,
                                max_length=max_length, return_tensors=return_tensors,
                                add_special_tokens=add_special_tokens,
                                padding_side=padding_side)
        if single and return_tensors is None:
            out = {k: v[0] for k, v in out.items()}
        return out

    def _check_side(self, side: str) -> None:
        if side not in ("right", "left"):
            raise ValueError(f"{type(self).__name__}: padding_side must be 'right' or 'left', "
                             f"got {side!r}")

    # -- decoding --------------------------------------------------------------------------
    def decode(self, ids: Iterable[int] | Any, skip_special_tokens: bool = False) -> str:
        """The text of ``ids`` (a list, or a 1-d tensor); ``skip_special_tokens`` drops the
        special tokens (and padding) from it."""
        return self._decode_tokens(self._tokens_of(ids, skip_special_tokens, "decode"))

    def _tokens_of(self, ids: Iterable[int] | Any, skip_special_tokens: bool,
                   op: str) -> list[str]:
        """The tokens of ``ids``, checked: ints (not bools, not floats) in the vocabulary."""
        if hasattr(ids, "tolist"):
            ids = ids.tolist()
        ids = list(ids)
        bad = next((i for i in ids if type(i) is not int), None)
        if bad is not None:
            raise TypeError(f"{type(self).__name__}.{op}: ids must be ints, got "
                            f"{type(bad).__name__} ({bad!r})")
        table = self.id_to_token_map
        missing = next((i for i in ids if i not in table), None)
        if missing is not None:
            self.id_to_token(missing)  # raises, naming the id and the range
        tokens = [table[i] for i in ids]
        if skip_special_tokens:
            specials = set(self.special_tokens)
            tokens = [t for t in tokens if t not in specials]
        return tokens

    def decode_batch(self, rows: Iterable[Iterable[int]],
                     skip_special_tokens: bool = False) -> list[str]:
        """``decode`` for each row (a list of lists or a 2-d tensor)."""
        if hasattr(rows, "tolist"):
            rows = rows.tolist()
        return [self.decode(r, skip_special_tokens) for r in rows]


def _truncate(a: list[int], b: list[int] | None,
              room: int) -> tuple[list[int], list[int] | None]:
    """Cut ``a`` (and ``b``) to ``room`` tokens in all, as the reference's ``longest_first``:
    the shorter keeps its length when the longer can absorb the whole cut, else both are cut
    to half of ``room`` (the odd token to the longer; to ``b`` when they are equal)."""
    if b is None:
        return a[:room], None
    if len(a) + len(b) <= room:
        return a, b
    short, long_ = sorted((len(a), len(b)))
    long_ = short if short > room else max(short, room - short)
    if short + long_ > room:
        short, long_ = room // 2, room // 2 + room % 2
    na, nb = (long_, short) if len(a) > len(b) else (short, long_)
    return a[:na], b[:nb]
