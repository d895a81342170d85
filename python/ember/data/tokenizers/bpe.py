"""Byte-level BPE, as GPT-2 tokenises: train it on a corpus or load ``vocab.json`` +
``merges.txt``, with the same ids as the reference (Hugging Face ``tokenizers``).

The pipeline, for each piece of text between special tokens:

1. **Pre-tokenise** with GPT-2's pattern
   ``'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+``:
   contractions, then runs of letters, of digits, of other symbols (each taking one leading
   space), then whitespace (a run before a word leaves its last space to the word). Python's
   ``re`` has no ``\\p{..}``, so :func:`pre_tokenize` runs the pattern over a string of
   character classes (from ``unicodedata``) instead.
2. **Map bytes to characters**: each word's UTF-8 bytes become printable characters
   (:func:`bytes_to_unicode`: bytes that are printable keep their character, the other 68
   take U+0100 onwards), so every byte string is a string of "visible" characters and no byte
   is ever unknown (``Ġ`` is the space).
3. **Merge**: start from single characters and repeatedly join the adjacent pair with the
   lowest merge rank (leftmost first) until no pair has a rank; each word's result is cached.

Training (:meth:`ByteLevelBPETokenizer.train`) is the reference's algorithm: count the words
of the pre-tokenised corpus, start from the special tokens and the 256 byte characters (in
code point order), then repeatedly merge the most frequent adjacent pair (ties: the pair of
smaller ids) until the vocabulary is full or the best pair is rarer than ``min_frequency``;
only the words holding the merged pair are revisited, and a heap with lazily corrected counts
keeps finding the best pair cheap.
"""

from __future__ import annotations

import heapq
import json
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

from .base import WHITESPACE, CharMap, SubwordTokenizer

__all__ = ["ByteLevelBPETokenizer", "bytes_to_unicode", "pre_tokenize"]


@lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> character table: printable Latin-1 bytes (``!``..``~``, ``¡``..``¬``,
    ``®``..``ÿ``) map to themselves, the other 68 bytes to U+0100, U+0101, ... in order."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
            *range(ord("®"), ord("ÿ") + 1)]
    table, n = {b: chr(b) for b in keep}, 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + n)
            n += 1
    return dict(sorted(table.items()))


def _byte_chars(word: str) -> str:
    """``word``'s UTF-8 bytes, each as its character of :func:`bytes_to_unicode`."""
    return word.encode("utf-8").decode("latin-1").translate(_BYTE_CHARS)


_CACHE_SIZE = 100_000  # words whose merges are remembered


def _char_class(c: str) -> str:
    """The one-character class that stands for ``c`` in the class string: the space
    itself; TAB for any other whitespace; the letters the contractions spell stay
    themselves, any other letter is L; N a number; the apostrophe itself; o the rest."""
    if c == " " or c == "'":
        return c
    if c in WHITESPACE:
        return "\t"
    cat = unicodedata.category(c)[0]
    if cat == "L":
        return c if c in "strevmld" else "L"
    return "N" if cat == "N" else "o"


_CLASSES = CharMap(_char_class)
_BYTE_CHARS = bytes_to_unicode()  # str.translate maps code points 0..255 (the bytes here)
# GPT-2's pattern written over the class string, one alternative for one:
#   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
_PATTERN = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d| ?[Lstrevmld]+| ?N+| ?[o']+"
                      r"|[ \t]+(?![^ \t])|[ \t]+")


def pre_tokenize(text: str) -> list[str]:
    r"""Split ``text`` as GPT-2's pattern does; the pieces concatenate back to ``text``.

    Python's ``re`` has no ``\p{L}``, so each character is first replaced by its class
    (:func:`_char_class`, one ``str.translate``: a letter becomes ``L``, a digit ``N``,
    ...) and the pattern runs over that string of classes, whose matches have the same
    positions as in ``text``.
    """
    return [text[m.start():m.end()] for m in _PATTERN.finditer(text.translate(_CLASSES))]


class ByteLevelBPETokenizer(SubwordTokenizer):
    """GPT-2's byte-level BPE tokenizer.

    Args:
        vocab: token -> id (tokens in the byte-character alphabet, as ``vocab.json``).
        merges: the merge rules in rank order, as ``(left, right)`` pairs (``merges.txt``).
        special_tokens: kept whole in the input (e.g. ``"<|endoftext|>"``); each must be in
            ``vocab``.
        pad_token: the padding token for ``encode_batch`` (GPT-2 has none; its end-of-text
            token is the usual choice).
        add_prefix_space: put a space before text that does not start with one (so the first
            word is encoded as the others are); off by default, as in GPT-2.
        padding_side: ``"right"`` or ``"left"`` (left for batched generation).

    Example::

        tok = ByteLevelBPETokenizer.train(lines, vocab_size=2000,
                                          special_tokens=["<|endoftext|>"])
        ids = tok.encode("Hello world<|endoftext|>")
        assert tok.decode(ids) == "Hello world<|endoftext|>"
        tok.save("my-bpe")            # vocab.json + merges.txt
    """

    def __init__(self, vocab: dict[str, int], merges: Iterable[tuple[str, str]],
                 special_tokens: Iterable[str] = (), pad_token: str | None = None,
                 add_prefix_space: bool = False, padding_side: str = "right") -> None:
        super().__init__(vocab, special_tokens, pad_token, padding_side)
        self.merges: list[tuple[str, str]] = [tuple(m) for m in merges]
        for r, (a, b) in enumerate(self.merges):
            if a + b not in self.vocab:
                raise ValueError(f"ByteLevelBPETokenizer: merge {r + 1} ({a} {b}) makes "
                                 f"{a + b!r}, which is not in the vocabulary")
        # a pair listed twice keeps its last rank, as the reference's map does
        self.ranks: dict[tuple[str, str], int] = {m: r for r, m in enumerate(self.merges)}
        self.add_prefix_space = add_prefix_space
        self.byte_encoder = bytes_to_unicode()
        self.byte_decoder = {c: b for b, c in self.byte_encoder.items()}
        self._cache: dict[str, list[int]] = {}
        self._bytes_of: dict[str, bytes] = {}  # token -> its bytes, filled as met

    # -- files -------------------------------------------------------------------------------
    @classmethod
    def from_files(cls, vocab_file: str | os.PathLike, merges_file: str | os.PathLike,
                   special_tokens: Iterable[str] | None = None,
                   **kwargs) -> ByteLevelBPETokenizer:
        """Load GPT-2-style ``vocab.json`` and ``merges.txt``. ``special_tokens`` defaults to
        ``"<|endoftext|>"`` when the vocabulary has it."""
        vocab = _read_vocab_json(vocab_file)
        merges = _read_merges(merges_file)
        if special_tokens is None:
            special_tokens = [t for t in ("<|endoftext|>",) if t in vocab]
        return cls(vocab, merges, special_tokens, **kwargs)

    def save(self, folder: str | os.PathLike) -> tuple[str, str]:
        """Write ``vocab.json`` and ``merges.txt`` into ``folder`` (made if missing), in the
        formats ``from_files`` (and the reference) read; returns their paths."""
        os.makedirs(folder, exist_ok=True)
        vpath, mpath = os.path.join(folder, "vocab.json"), os.path.join(folder, "merges.txt")
        ordered = dict(sorted(self.vocab.items(), key=lambda kv: kv[1]))
        with open(vpath, "w", encoding="utf-8") as f:
            json.dump(ordered, f, ensure_ascii=False)
        with open(mpath, "w", encoding="utf-8") as f:
            f.write("#version: 0.2\n")
            f.writelines(f"{a} {b}\n" for a, b in self.merges)
        return vpath, mpath

    # -- encoding ----------------------------------------------------------------------------
    def _encode_text(self, text: str) -> list[int]:
        if self.add_prefix_space and text and not text.startswith(" "):
            text = " " + text
        ids: list[int] = []
        cache = self._cache
        for word in pre_tokenize(text):
            cached = cache.get(word)
            if cached is None:
                if len(cache) >= _CACHE_SIZE:  # bounded: a stream of new words
                    cache.clear()
                cached = cache[word] = self._merge_word(_byte_chars(word))
            ids.extend(cached)
        return ids

    def _merge_word(self, word: str) -> list[int]:
        """Apply the merges to one byte-mapped word: the lowest-ranked adjacent pair first,
        the leftmost of equals, until no adjacent pair has a rank.

        The symbols form a linked list and the candidate pairs a heap of (rank, position), so
        a long word costs O(n log n), not a rescan per merge. A heap entry goes stale when
        either symbol has since been merged into another; it is then skipped.
        """
        parts = list(word)
        n, ranks = len(parts), self.ranks
        nxt, prv = list(range(1, n + 1)), list(range(-1, n - 1))
        heap = [(r, i) for i in range(n - 1)
                if (r := ranks.get((parts[i], parts[i + 1]))) is not None]
        heapq.heapify(heap)
        while heap:
            r, i = heapq.heappop(heap)
            j = nxt[i]
            if parts[i] is None or j >= n or ranks.get((parts[i], parts[j])) != r:
                continue  # stale: the pair at i is no longer the one this rank was for
            parts[i], parts[j] = parts[i] + parts[j], None
            nxt[i] = nxt[j]
            if nxt[i] < n:
                prv[nxt[i]] = i
                if (rr := ranks.get((parts[i], parts[nxt[i]]))) is not None:
                    heapq.heappush(heap, (rr, i))
            if prv[i] >= 0 and (rr := ranks.get((parts[prv[i]], parts[i]))) is not None:
                heapq.heappush(heap, (rr, prv[i]))
        try:
            return [self.vocab[p] for p in parts if p is not None]
        except KeyError as e:
            raise ValueError(f"ByteLevelBPETokenizer: {e.args[0]!r} (from {word!r}) is not in "
                             "the vocabulary; a byte-level vocabulary holds all 256 byte "
                             "characters") from None

    # -- decoding ----------------------------------------------------------------------------
    def decode_bytes(self, ids: Iterable[int], skip_special_tokens: bool = False) -> bytes:
        """The exact bytes ``ids`` stand for (``decode`` is this, read as UTF-8)."""
        return self._token_bytes(self._tokens_of(ids, skip_special_tokens, "decode_bytes"))

    def _token_bytes(self, tokens: list[str]) -> bytes:
        table = self._bytes_of
        out = []
        for tok in tokens:
            b = table.get(tok)
            if b is None:
                if tok not in self.special_tokens and all(c in self.byte_decoder for c in tok):
                    b = bytes(self.byte_decoder[c] for c in tok)
                else:  # a special or non-byte-level token is its own text (as the reference)
                    b = tok.encode("utf-8")
                table[tok] = b
            out.append(b)
        return b"".join(out)

    def _decode_tokens(self, tokens: list[str]) -> str:
        # an id sequence may end inside a character (generation); show U+FFFD there
        return self._token_bytes(tokens).decode("utf-8", errors="replace")

    # -- training ----------------------------------------------------------------------------
    @classmethod
    def train(cls, corpus: Iterable[str], vocab_size: int,
              special_tokens: Iterable[str] = (), min_frequency: int = 2,
              **kwargs) -> ByteLevelBPETokenizer:
        """Learn a vocabulary of ``vocab_size`` tokens (special tokens and the 256 byte
        characters included) from ``corpus``, an iterable of texts; pairs seen fewer than
        ``min_frequency`` times are never merged. Keyword arguments go to the constructor."""
        if isinstance(corpus, (str, bytes)):
            raise TypeError("ByteLevelBPETokenizer.train: corpus must be an iterable of texts, "
                            "got one string (wrap it in a list)")
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 1:
            raise ValueError(f"ByteLevelBPETokenizer.train: vocab_size must be a positive int, "
                             f"got {vocab_size!r}")
        counts: Counter[str] = Counter()
        for n, text in enumerate(corpus):
            if not isinstance(text, str):
                raise TypeError(f"ByteLevelBPETokenizer.train: corpus item {n} is a "
                                f"{type(text).__name__}, expected str")
            counts.update(pre_tokenize(text))
        words: Counter[str] = Counter()
        for w, c in counts.items():
            words[_byte_chars(w)] += c
        specials = list(dict.fromkeys(special_tokens))
        alphabet = sorted(bytes_to_unicode().values())
        vocab, merges = learn_merges(words, vocab_size, specials, alphabet, min_frequency)
        return cls(vocab, merges, specials, **kwargs)


def learn_merges(words: Counter[str], vocab_size: int, specials: list[str],
                 alphabet: list[str], min_frequency: int,
                 prefix: str = "") -> tuple[dict[str, int], list[tuple[str, str]]]:
    """The BPE training loop over word counts; returns (vocab, merges in rank order).

    ``prefix`` (WordPiece's ``##``) marks every symbol after a word's first; characters
    outside ``alphabet`` are left out of the words, as the reference does.
    """
    id_to_word: list[str] = []
    word_to_id: dict[str, int] = {}

    def add(t: str) -> int:
        if t not in word_to_id:
            word_to_id[t] = len(id_to_word)
            id_to_word.append(t)
        return word_to_id[t]

    for t in [*specials, *alphabet]:
        add(t)
    known = set(alphabet)
    seqs = [[add(c if k == 0 or not prefix else prefix + c)
             for k, c in enumerate(w) if c in known] for w in words]
    counts = list(words.values())
    pair_counts: Counter[tuple[int, int]] = Counter()
    where: dict[tuple[int, int], set[int]] = {}
    for w, seq in enumerate(seqs):
        for p in zip(seq, seq[1:]):
            pair_counts[p] += counts[w]
            where.setdefault(p, set()).add(w)
    # a max-heap on (count, then the smaller pair); entries go stale as counts change and
    # are corrected when popped. `tick` only keeps equal entries comparable.
    heap, tick = [], 0
    for p, pos in where.items():
        heap.append((-pair_counts[p], p, tick, pos))
        tick += 1
    heapq.heapify(heap)
    merges: list[tuple[str, str]] = []
    while len(word_to_id) < vocab_size and heap:
        neg, pair, _, pos = heapq.heappop(heap)
        if -neg != pair_counts[pair]:
            heapq.heappush(heap, (-pair_counts[pair], pair, tick, pos))
            tick += 1
            continue
        if -neg < 1 or min_frequency > -neg:
            break
        a, b = pair
        right = id_to_word[b]
        token = id_to_word[a] + (right[len(prefix):] if prefix and right.startswith(prefix)
                                 else right)
        new = word_to_id.get(token)
        if new is None:
            new = word_to_id[token] = len(id_to_word)
            id_to_word.append(token)
        merges.append((id_to_word[a], id_to_word[b]))
        fresh: dict[tuple[int, int], set[int]] = {}
        for w in pos:
            for p, delta in _merge_in_word(seqs[w], a, b, new):
                pair_counts[p] += delta * counts[w]
                if delta > 0:
                    fresh.setdefault(p, set()).add(w)
        for p, ws in fresh.items():
            if pair_counts[p] > 0:
                heapq.heappush(heap, (-pair_counts[p], p, tick, ws))
                tick += 1
    return word_to_id, merges


def _merge_in_word(seq: list[int], a: int, b: int, new: int) -> list[tuple[tuple, int]]:
    """Replace each ``a b`` in ``seq`` (left to right, not overlapping) by ``new``, in
    place; the changes to the pair counts as (pair, +1/-1)."""
    changes: list[tuple[tuple, int]] = []
    i = 0
    while i < len(seq) - 1:
        if seq[i] == a and seq[i + 1] == b:
            if i > 0:
                changes += [((seq[i - 1], a), -1), ((seq[i - 1], new), 1)]
            seq[i:i + 2] = [new]
            if i < len(seq) - 1:
                changes += [((b, seq[i + 1]), -1), ((new, seq[i + 1]), 1)]
        i += 1
    return changes


def _read_vocab_json(path: str | os.PathLike) -> dict[str, int]:
    try:
        with open(path, encoding="utf-8") as f:
            vocab = json.load(f)
    except FileNotFoundError:
        raise FileNotFoundError(f"ByteLevelBPETokenizer: no vocab file {os.fspath(path)!r}") \
            from None
    except json.JSONDecodeError as e:
        raise ValueError(f"ByteLevelBPETokenizer: {os.fspath(path)!r} is not JSON: {e}") \
            from None
    if not isinstance(vocab, dict) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
            for k, v in vocab.items()):
        raise ValueError(f"ByteLevelBPETokenizer: {os.fspath(path)!r} must hold a JSON object "
                         "mapping tokens to int ids")
    return vocab


def _read_merges(path: str | os.PathLike) -> list[tuple[str, str]]:
    try:
        with open(path, encoding="utf-8", newline="") as f:
            text = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"ByteLevelBPETokenizer: no merges file {os.fspath(path)!r}") \
            from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    merges = []
    for n, line in enumerate(lines, 1):
        line = line.removesuffix("\r")
        if line.startswith("#version"):
            continue
        parts = line.split(" ")
        if len(parts) != 2 or not all(parts):
            raise ValueError(f"ByteLevelBPETokenizer: {os.fspath(path)!r} line {n}: expected "
                             f"two tokens separated by one space, got {line!r}")
        merges.append((parts[0], parts[1]))
    return merges
