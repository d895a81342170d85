"""ember.data's subword tokenizers give exactly the reference's ids (Hugging Face
``tokenizers``, pinned in the test extra; these tests skip without it): byte-level BPE trained
on the same corpus (same vocabulary and merges) or loaded from the same files, WordPiece
loaded from the same vocab.txt; round trips, special tokens, batches, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import ember
import numpy as np
import pytest
from ember.data import BasicTokenizer, ByteLevelBPETokenizer, WordPieceTokenizer
from ember.data.tokenizers import bytes_to_unicode, pre_tokenize

tk = pytest.importorskip("tokenizers")

HERE = Path(__file__).resolve().parent

# unicode, accents (composed and combining), CJK, Hangul, whitespace runs of every kind,
# punctuation, numbers in several scripts, emoji (with ZWJ and skin tones), contractions,
# control characters and special tokens inside text
VARIED = [
    "Hello world! It's a test, isn't it? We'll see: they'd say I'm fine & you've done it.",
    "Café naïve résumé ÉCOLE Straße İstanbul Σοφία ΟΔΥΣΣΕΥΣ",
    "東京は日本の首都です。你好，世界！ 한국어 테스트",
    "emoji: \U0001F600\U0001F44D\U0001F3FD \U0001F468\u200d\U0001F469\u200d\U0001F467 ❤️!!",
    "   leading spaces,\ttabs\t\tand\nnewlines\n\n  trailing   ",
    "numbers 12345 3.14159 1,000,000 2nd 3rd ٣٤٥ ½ Ⅷ",
    "punctuation... ?!?! \"quotes\" 'single' (parens) [brackets] {braces} <tags> @#$%^&*_+=~`|\\/",
    "don't DON'T O'Neil rock'n'roll 's 't 're 've 'm 'll 'd ''s",
    "mixed\u00a0nbsp\u3000ideographic\u2003em\u2009thin \x0bvt\x0cff\x1cfs\x85nel",
    "accents: àáâãäå ç ñ \u0301combining e\u0301 ẛ\u0323",
    "URLs https://example.com/path?q=1&r=2 emails a.b@c.org code: x += 1; y = f(x) ** 2",
    "The quick brown fox jumps over the lazy dog. The quick brown fox jumps again.",
    "control\x00chars\x07and\ufffdreplacement \u200bzero-width \u00adsoft-hyphen",
    "Arabic مرحبا Hebrew שלום Thai สวัสดี Hindi नमस्ते",
    "aaaa aaaaaaa abababab  ",  # overlapping pairs
    "", " ", "a", "\n", "  x", "x  ", "\t\t y", "?'s",
]
SPECIAL = ["<|endoftext|>", "<pad>"]


def corpus() -> list[str]:
    """The repository's own prose and the varied lines: a corpus with real word frequencies
    that needs nothing outside the repo. The prose is a frozen copy (tests/data/
    tokenizer_corpus.txt: README and docs/*.md as they were on 2026-12-07), not the live
    docs: where two pairs are equally frequent the reference picks in hash order, which
    changes from run to run, and a docs edit could put such a tie at the vocabulary's edge."""
    text = (HERE / "data" / "tokenizer_corpus.txt").read_text(encoding="utf-8")
    return text.splitlines() + VARIED * 3


def hf_byte_level(vocab_size, min_frequency, lines):
    ref = tk.ByteLevelBPETokenizer()
    ref.train_from_iterator(lines, vocab_size=vocab_size, min_frequency=min_frequency,
                            special_tokens=SPECIAL, show_progress=False)
    return ref


def hf_merges(ref, tmp_path) -> tuple[dict, list]:
    ref.save_model(str(tmp_path))
    vocab = json.loads((tmp_path / "vocab.json").read_text(encoding="utf-8"))
    lines = (tmp_path / "merges.txt").read_text(encoding="utf-8").split("\n")
    return vocab, [tuple(line.split(" ")) for line in lines[1:] if line]


# ----------------------------------------------------------------------- byte-level BPE
def test_byte_table_is_gpt2s():
    table = bytes_to_unicode()
    assert sorted(table) == list(range(256)) and len(set(table.values())) == 256
    assert table[ord(" ")] == "Ġ" and table[ord("\n")] == "Ċ" and table[ord("A")] == "A"
    assert set(table.values()) == set(tk.pre_tokenizers.ByteLevel.alphabet())


def test_pre_tokenize_matches_the_reference_pattern():
    ref = tk.pre_tokenizers.ByteLevel(add_prefix_space=False)
    table = bytes_to_unicode()
    for s in VARIED + corpus()[:200]:
        got = pre_tokenize(s)
        assert "".join(got) == s
        assert ["".join(table[b] for b in w.encode()) for w in got] == \
            [w for w, _ in ref.pre_tokenize_str(s)], repr(s)


@pytest.mark.parametrize("vocab_size,min_frequency", [(300, 2), (700, 2), (1200, 0), (5000, 3)])
def test_training_learns_the_reference_merges_and_ids(tmp_path, vocab_size, min_frequency):
    lines = corpus()
    ref = hf_byte_level(vocab_size, min_frequency, lines)
    ours = ByteLevelBPETokenizer.train(lines, vocab_size, SPECIAL, min_frequency)
    ref_vocab, ref_merges = hf_merges(ref, tmp_path)
    assert ours.merges == ref_merges
    assert ours.vocab == ref_vocab
    assert len(ours) == ref.get_vocab_size()
    for s in VARIED + lines[:150]:
        assert ours.encode(s) == ref.encode(s).ids, repr(s)


def test_loading_vocab_and_merges_gives_the_reference_ids(tmp_path):
    ref = hf_byte_level(800, 2, corpus())
    ref.save_model(str(tmp_path))
    ours = ByteLevelBPETokenizer.from_files(tmp_path / "vocab.json", tmp_path / "merges.txt",
                                            special_tokens=SPECIAL)
    loaded = tk.ByteLevelBPETokenizer(str(tmp_path / "vocab.json"), str(tmp_path / "merges.txt"))
    loaded.add_special_tokens(SPECIAL)
    for s in VARIED + ["a<|endoftext|>b <pad><pad> <|endoftext|"]:
        assert ours.encode(s) == loaded.encode(s).ids == ref.encode(s).ids, repr(s)
    # a long word (no spaces), and long runs of repeated characters
    long_word = "".join(corpus()[:400]).replace(" ", "")[:20000]
    for s in (long_word, "a" * 5001, "ab" * 3000):
        assert ours.encode(s) == ref.encode(s).ids
    # and with a prefix space
    spaced = tk.ByteLevelBPETokenizer(str(tmp_path / "vocab.json"),
                                      str(tmp_path / "merges.txt"), add_prefix_space=True)
    ours_spaced = ByteLevelBPETokenizer.from_files(tmp_path / "vocab.json",
                                                   tmp_path / "merges.txt",
                                                   add_prefix_space=True)
    for s in VARIED:
        assert ours_spaced.encode(s) == spaced.encode(s).ids, repr(s)


def test_save_writes_files_the_reference_reads(tmp_path):
    ours = ByteLevelBPETokenizer.train(corpus(), 600, SPECIAL)
    vocab_path, merges_path = ours.save(tmp_path / "bpe")
    ref = tk.ByteLevelBPETokenizer(vocab_path, merges_path)
    again = ByteLevelBPETokenizer.from_files(vocab_path, merges_path, special_tokens=SPECIAL)
    assert again.vocab == ours.vocab and again.merges == ours.merges
    for s in VARIED:
        assert again.encode(s) == ours.encode(s) == ref.encode(s).ids


def test_round_trip_keeps_every_byte_and_special_tokens_whole():
    tok = ByteLevelBPETokenizer.train(corpus(), 500, SPECIAL)
    eot = tok.token_to_id("<|endoftext|>")
    for s in VARIED:
        ids = tok.encode(s)
        assert tok.decode(ids) == s
        assert tok.decode_bytes(ids) == s.encode("utf-8")
    ids = tok.encode("one<|endoftext|>two<|endoftext|>")
    assert ids.count(eot) == 2 and ids[-1] == eot
    assert tok.decode(ids, skip_special_tokens=True) == "onetwo"
    assert tok.tokenize("<|endoftext|>") == ["<|endoftext|>"]
    # ids that end inside a character: the bytes are exact, the text shows U+FFFD
    emoji = tok.encode("\U0001F600")
    assert len(emoji) > 1 and tok.decode(emoji[:-1]).endswith("\ufffd")
    assert tok.decode_bytes(emoji[:-1]) == "\U0001F600".encode()[:len(tok.decode_bytes(
        emoji[:-1]))]
    assert tok.decode(ember.tensor(ids)) == tok.decode(ids)


def test_bpe_batches_match_the_reference_padding_and_truncation(tmp_path):
    ref = hf_byte_level(600, 2, corpus())
    ours = ByteLevelBPETokenizer.train(corpus(), 600, SPECIAL, pad_token="<pad>")
    pad = ours.pad_token_id
    texts = VARIED[:10]
    for side in ("right", "left"):
        ref.enable_padding(pad_id=pad, pad_token="<pad>", direction=side)
        ref.enable_truncation(16)
        got = ours.encode_batch(texts, truncation=True, max_length=16, padding_side=side)
        want = ref.encode_batch(texts)
        assert got["input_ids"] == [e.ids for e in want]
        assert got["attention_mask"] == [e.attention_mask for e in want]
        assert "token_type_ids" not in got
    t = ours.encode_batch(texts[:3], padding="max_length", max_length=64, truncation=True,
                          return_tensors="ember")
    assert t["input_ids"].shape == (3, 64) and t["input_ids"].dtype == ember.int64
    mask = t["attention_mask"].numpy()
    assert mask.sum(1).tolist() == [len(ours.encode(s)[:64]) for s in texts[:3]]
    assert ours.decode_batch(t["input_ids"], skip_special_tokens=True) == \
        [ours.decode(ours.encode(s)[:64]) for s in texts[:3]]
    unpadded = ours.encode_batch(texts[:3], padding=False)
    assert [len(r) for r in unpadded["input_ids"]] == [len(ours.encode(s)) for s in texts[:3]]


def test_bpe_bad_input_is_named(tmp_path):
    tok = ByteLevelBPETokenizer.train(VARIED, 300, SPECIAL)
    with pytest.raises(ValueError, match=r"id 300 is not in the vocabulary \(ids run 0..299\)"):
        tok.decode([1, 300])
    with pytest.raises(ValueError, match="id -1"):
        tok.decode([-1])
    with pytest.raises(TypeError, match=r"decode: ids must be ints, got float \(1.5\)"):
        tok.decode([1.5])
    with pytest.raises(TypeError, match="decode_bytes: ids must be ints, got bool"):
        tok.decode_bytes([True])
    with pytest.raises(TypeError, match="must be a str"):
        tok.encode(b"bytes")
    with pytest.raises(TypeError, match="got one string"):
        ByteLevelBPETokenizer.train("a corpus", 300)
    with pytest.raises(TypeError, match="corpus item 1 is a int"):
        ByteLevelBPETokenizer.train(["a", 5], 300)
    with pytest.raises(ValueError, match="vocab_size must be a positive int"):
        ByteLevelBPETokenizer.train(["a"], 0)
    with pytest.raises(ValueError, match="padding needs a pad_token"):
        tok.encode_batch(["a", "a b c"])
    with pytest.raises(ValueError, match="need max_length"):
        tok.encode_batch(["a"], truncation=True)
    with pytest.raises(ValueError, match="padding_side must be 'right' or 'left'"):
        tok.encode_batch(["a"], padding_side="middle")
    with pytest.raises(ValueError, match="longer than max_length=1"):
        tok.encode_batch(["a b c"], padding="max_length", max_length=1)
    vocab_path, merges_path = tok.save(tmp_path)
    with pytest.raises(FileNotFoundError, match="no vocab file"):
        ByteLevelBPETokenizer.from_files(tmp_path / "nope.json", merges_path)
    with pytest.raises(FileNotFoundError, match="no merges file"):
        ByteLevelBPETokenizer.from_files(vocab_path, tmp_path / "nope.txt")
    lines = Path(merges_path).read_text(encoding="utf-8").split("\n")
    lines[3] = "Ġ t h"
    (tmp_path / "bad.txt").write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.txt' line 4: expected two tokens"):
        ByteLevelBPETokenizer.from_files(vocab_path, tmp_path / "bad.txt")
    (tmp_path / "unk.txt").write_text("#version: 0.2\nq z\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"merge 1 \(q z\) makes 'qz', which is not in"):
        ByteLevelBPETokenizer.from_files(vocab_path, tmp_path / "unk.txt")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="must hold a JSON object"):
        ByteLevelBPETokenizer.from_files(tmp_path / "list.json", merges_path)
    with pytest.raises(ValueError, match="special token '<mask>' is not in the vocabulary"):
        ByteLevelBPETokenizer(tok.vocab, tok.merges, ["<mask>"])
    with pytest.raises(ValueError, match="pad_token '<mask>' is not in the vocabulary"):
        tok.pad_token = "<mask>"
    with pytest.raises(TypeError, match="ids must be ints, got float"):
        tok.id_to_token(2.0)


def test_special_tokens_added_later_are_kept_whole():
    tok = ByteLevelBPETokenizer.train(VARIED, 300, ["<|endoftext|>"])
    n = len(tok)
    before = tok.encode("a<mask>b")
    assert tok.add_special_tokens(["<mask>", "<|endoftext|>"]) == 1
    assert len(tok) == n + 1 and tok.token_to_id("<mask>") == n
    assert tok.encode("a<mask>b") == [tok.encode("a")[0], n, tok.encode("b")[0]] != before
    assert tok.decode(tok.encode("a<mask>b")) == "a<mask>b"
    tok.pad_token = "<mask>"
    assert tok.encode_batch(["a", "a b"])["input_ids"][0][-1] == n


# ------------------------------------------------------------------------------ WordPiece
EXTRA_PIECES = ["caf", "##e", "東", "hello", "##é", "é", "ς", "σ", "i̇"]


@pytest.fixture(scope="module")
def vocab_txt(tmp_path_factory) -> dict[bool, Path]:
    """A vocab.txt trained by the reference on the corpus, per lower-casing, plus a few
    pieces that exercise accents, CJK and casing."""
    out = {}
    for lower in (True, False):
        folder = tmp_path_factory.mktemp(f"wp-{lower}")
        ref = tk.BertWordPieceTokenizer(lowercase=lower)
        ref.train_from_iterator(corpus(), vocab_size=900, show_progress=False)
        ref.save_model(str(folder))
        path = folder / "vocab.txt"
        have = set(path.read_text(encoding="utf-8").splitlines())
        with open(path, "a", encoding="utf-8") as f:
            f.writelines(t + "\n" for t in EXTRA_PIECES if t not in have)
        out[lower] = path
    return out


@pytest.mark.parametrize("lower", [True, False])
def test_basic_tokenizer_matches_bert_normalizer_and_pre_tokenizer(lower):
    norm = tk.normalizers.BertNormalizer(lowercase=lower)
    pre = tk.pre_tokenizers.BertPreTokenizer()
    ours = BasicTokenizer(lowercase=lower)
    for s in VARIED:
        assert ours.normalize(s) == norm.normalize_str(s), repr(s)
        assert ours.split(ours.normalize(s)) == \
            [w for w, _ in pre.pre_tokenize_str(norm.normalize_str(s))], repr(s)


@pytest.mark.parametrize("lower", [True, False])
def test_wordpiece_gives_the_reference_ids(vocab_txt, lower):
    ref = tk.BertWordPieceTokenizer(str(vocab_txt[lower]), lowercase=lower)
    ours = WordPieceTokenizer.from_file(vocab_txt[lower], lowercase=lower)
    texts = VARIED + corpus()[:200] + ["[CLS] hello [MASK] world[SEP]x", "x" * 101, "é" * 100]
    for s in texts:
        want = ref.encode(s)
        assert ours.encode(s) == want.ids, repr(s)
        assert ours.decode(want.ids) == ref.decode(want.ids, skip_special_tokens=False)
        assert ours.decode(want.ids, skip_special_tokens=True) == ref.decode(want.ids)
    for a, b in zip(texts, texts[1:]):
        want = ref.encode(a, b)
        got = ours.encode_batch([(a, b)], padding=False)
        assert got["input_ids"][0] == want.ids and got["token_type_ids"][0] == want.type_ids


def test_wordpiece_unknown_words_and_long_words(vocab_txt):
    tok = WordPieceTokenizer.from_file(vocab_txt[True])
    unk, cls, sep = tok.unk_token_id, tok.cls_token_id, tok.sep_token_id
    assert tok.encode("\u2603") == [cls, unk, sep]  # a snowman: no piece covers it
    assert tok.encode("e" * 101) == [cls, unk, sep]  # over max_input_chars_per_word
    assert tok.encode("Hello", add_special_tokens=False) == [tok.token_to_id("hello")]
    assert tok.tokenize("Café") == ["caf", "##e"]  # accents stripped when lower-casing


@pytest.mark.parametrize("side", ["right", "left"])
def test_wordpiece_batches_match_the_reference(vocab_txt, side):
    ref = tk.BertWordPieceTokenizer(str(vocab_txt[True]))
    ours = WordPieceTokenizer.from_file(vocab_txt[True])
    pairs = list(zip(VARIED, VARIED[5:] + VARIED[:5]))
    for max_length in (5, 12, 40):
        ref.enable_truncation(max_length)
        ref.enable_padding(pad_id=ours.pad_token_id, pad_token="[PAD]", direction=side)
        for batch in (VARIED, pairs):
            want = ref.encode_batch(batch)
            got = ours.encode_batch(batch, truncation=True, max_length=max_length,
                                    padding_side=side)
            assert got["input_ids"] == [e.ids for e in want]
            assert got["token_type_ids"] == [e.type_ids for e in want]
            assert got["attention_mask"] == [e.attention_mask for e in want]
            assert ours.decode_batch(got["input_ids"], skip_special_tokens=True) == \
                ref.decode_batch([e.ids for e in want])
    t = ours.encode_batch(pairs[:4], return_tensors="ember")
    assert set(t) == {"input_ids", "attention_mask", "token_type_ids"}
    assert all(v.dtype == ember.int64 and v.shape == t["input_ids"].shape for v in t.values())
    np.testing.assert_array_equal(t["attention_mask"].numpy(),
                                  (t["input_ids"].numpy() != ours.pad_token_id))


def test_wordpiece_bad_input_is_named(vocab_txt, tmp_path):
    with pytest.raises(FileNotFoundError, match="no vocab file"):
        WordPieceTokenizer.from_file(tmp_path / "vocab.txt")
    (tmp_path / "v.txt").write_text("[PAD]\n[UNK]\nhello\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"cls_token '\[CLS\]' is not in the vocabulary"):
        WordPieceTokenizer.from_file(tmp_path / "v.txt")
    tok = WordPieceTokenizer.from_file(vocab_txt[True])
    with pytest.raises(ValueError, match="max_length=1 leaves no room"):
        tok.encode_batch(["hello"], truncation=True, max_length=1)
    with pytest.raises(ValueError, match=f"id {len(tok)} is not in the vocabulary"):
        tok.decode([len(tok)])
    with pytest.raises(TypeError, match="expected a list of texts"):
        tok.encode_batch("hello")
    path = tok.save(tmp_path / "saved")
    assert WordPieceTokenizer.from_file(path).vocab == tok.vocab


def test_wordpiece_training_learns_the_reference_vocabulary():
    """The reference numbers the ``##`` characters in hash order, so its choice among
    equally frequent pairs (and its vocabulary past the first merges) changes from run to
    run; ember's order is fixed. Where the reference is stable (the first ~100 merges here)
    the vocabularies are the same set, hence the same tokens for every text; further on
    they overlap as much as two runs of the reference do with each other."""
    lines = corpus()
    ref = tk.BertWordPieceTokenizer()
    ref.train_from_iterator(lines, vocab_size=300, show_progress=False)
    ours = WordPieceTokenizer.train(lines, vocab_size=300)
    assert set(ours.vocab) == set(ref.get_vocab())
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    order = list(ours.vocab)
    assert order[:5] == specials and ours.pad_token == "[PAD]"
    alphabet = order[5:order.index(next(t for t in order if t.startswith("##")))]
    assert alphabet == sorted(alphabet) and all(len(t) == 1 for t in alphabet)
    for s in VARIED + lines[:100]:
        assert ours.tokenize(s) == ref.encode(s, add_special_tokens=False).tokens, repr(s)
    big_ref = tk.BertWordPieceTokenizer()
    big_ref.train_from_iterator(lines, vocab_size=600, show_progress=False)
    big = WordPieceTokenizer.train(lines, vocab_size=600)
    assert len(big) == 600
    assert len(set(big.vocab) & set(big_ref.get_vocab())) >= 0.95 * 600
    with pytest.raises(TypeError, match="got one string"):
        WordPieceTokenizer.train("text", 300)
    with pytest.raises(ValueError, match="limit_alphabet must be a positive int"):
        WordPieceTokenizer.train(["text"], 300, limit_alphabet=0)


def test_call_is_the_transformers_spelling(vocab_txt):
    tok = WordPieceTokenizer.from_file(vocab_txt[True])
    one = tok("Hello world!", "Second text.")
    assert one["input_ids"] == tok.encode("Hello world!", "Second text.")
    assert one["token_type_ids"] == tok.encode_batch(
        [("Hello world!", "Second text.")])["token_type_ids"][0]
    batch = tok(["a b c", "d"], padding=True, return_tensors="ember")
    assert batch["input_ids"].shape == (2, 5)
    assert batch["attention_mask"].numpy().tolist() == [[1] * 5, [1, 1, 1, 0, 0]]
    assert tok("hello", return_tensors="ember")["input_ids"].shape == (1, 3)
    with pytest.raises(ValueError, match="2 texts but 1 text_pair entries"):
        tok(["a", "b"], ["c"])
