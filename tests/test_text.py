"""Tokenizer / pad_sequences / CharVocab, checked against Keras' documented behaviour.

Expected values are derived by hand in the comments (Keras itself is not installed).
"""

from __future__ import annotations

import math

import ember
import numpy as np
import pytest
from ember.data import CharVocab, Tokenizer, pad_sequences, text_to_word_sequence

TEXTS = ["The cat sat on the mat.", "The dog ate my homework!", "the cat"]
# Counting words after lower-casing and filtering punctuation:
#   doc 1: the the cat sat on mat   doc 2: the dog ate my homework   doc 3: the cat
#   the: 4, cat: 2, every other word: 1.
# Indices by count (descending), ties in first-seen order, starting at 1:
#   the 1, cat 2, sat 3, on 4, mat 5, dog 6, ate 7, my 8, homework 9
WORD_INDEX = {"the": 1, "cat": 2, "sat": 3, "on": 4, "mat": 5, "dog": 6, "ate": 7, "my": 8,
              "homework": 9}


def _fitted(**kw) -> Tokenizer:
    tok = Tokenizer(**kw)
    tok.fit_on_texts(TEXTS)
    return tok


def test_text_to_word_sequence_filters_and_lowercases():
    assert text_to_word_sequence("Hello, World!!  it's\tme") == ["hello", "world", "it's", "me"]
    assert text_to_word_sequence("a,b,,c", filters="", split=",") == ["a", "b", "c"]


def test_word_index_order_counts_and_documents():
    tok = _fitted()
    assert tok.word_index == WORD_INDEX
    assert tok.index_word[1] == "the" and tok.index_word[9] == "homework"
    assert tok.word_counts["the"] == 4 and tok.word_counts["cat"] == 2
    assert list(tok.word_counts) == ["the", "cat", "sat", "on", "mat", "dog", "ate", "my",
                                     "homework"]  # first-seen order
    assert tok.document_count == 3
    assert tok.word_docs["cat"] == 2 and tok.index_docs[1] == 3  # 'the' is in all 3 docs


def test_texts_to_sequences_drops_unknown_words():
    # the 1, cat 2, ate 7, the 1; 'fish' is unknown and (without oov_token) dropped
    assert _fitted().texts_to_sequences(["the cat ate the fish"]) == [[1, 2, 7, 1]]


def test_num_words_cuts_sequences_but_not_word_index():
    tok = _fitted(num_words=4)
    # only indices < 4 survive: the 1, cat 2, sat 3; ate (7), on (4), mat (5) are dropped
    assert tok.texts_to_sequences(["the cat ate the fish on mat sat"]) == [[1, 2, 1, 3]]
    assert tok.word_index == WORD_INDEX  # still every word
    assert tok.sequences_to_texts([[1, 2, 7, 3]]) == ["the cat sat"]


def test_oov_token_is_index_one():
    tok = _fitted(oov_token="<OOV>")
    # everything shifts up by one behind the oov token
    assert tok.word_index == {"<OOV>": 1, **{w: i + 1 for w, i in WORD_INDEX.items()}}
    # the 2, cat 3, ate 8, fish -> oov 1
    assert tok.texts_to_sequences(["the cat ate fish"]) == [[2, 3, 8, 1]]
    assert tok.sequences_to_texts([[2, 3, 8, 1]]) == ["the cat ate <OOV>"]


def test_oov_with_num_words_replaces_cut_words():
    tok = _fitted(num_words=4, oov_token="<OOV>")
    # kept: indices < 4 = <OOV> 1, the 2, cat 3. ate (8) and sat (4) are cut -> 1; fish -> 1
    assert tok.texts_to_sequences(["the cat ate fish sat"]) == [[2, 3, 1, 1, 1]]
    assert tok.sequences_to_texts([[2, 3, 8]]) == ["the cat <OOV>"]


def test_sequences_to_texts_drops_unknown_indices():
    assert _fitted().sequences_to_texts([[1, 2, 7, 99]]) == ["the cat ate"]


def test_char_level_and_case():
    tok = Tokenizer(char_level=True)
    tok.fit_on_texts(["abca"])  # a: 2, b: 1, c: 1 -> a 1, b 2, c 3
    assert tok.word_index == {"a": 1, "b": 2, "c": 3}
    assert tok.texts_to_sequences(["cab!"]) == [[3, 1, 2]]  # no filters at char level
    cased = Tokenizer(lower=False)
    cased.fit_on_texts(["Cat cat"])
    assert cased.word_index == {"Cat": 1, "cat": 2}


def test_refit_accumulates_counts():
    tok = Tokenizer()
    tok.fit_on_texts(["b a"])
    tok.fit_on_texts(["a"])  # a: 2, b: 1 -> a moves ahead of b
    assert tok.word_index == {"a": 1, "b": 2} and tok.document_count == 2


def test_texts_to_matrix_modes():
    tok = _fitted()
    # 'the cat the': index 1 twice, index 2 once; width len(word_index) + 1 = 10
    assert tok.texts_to_matrix(["the cat the"], mode="count")[0, :3].tolist() == [0, 2, 1]
    assert tok.texts_to_matrix(["the cat the"]).shape == (1, 10)
    assert tok.texts_to_matrix(["the cat the"], mode="binary")[0, :3].tolist() == [0, 1, 1]
    np.testing.assert_allclose(tok.texts_to_matrix(["the cat the"], mode="freq")[0, 1:3],
                               [2 / 3, 1 / 3])
    # tfidf of 'the': (1 + ln 2) * ln(1 + 3 docs / (1 + 3 docs with 'the'))
    tfidf = tok.texts_to_matrix(["the cat the"], mode="tfidf")[0, 1]
    assert tfidf == pytest.approx((1 + math.log(2)) * math.log(1 + 3 / 4))
    with pytest.raises(ValueError, match="unknown mode"):
        tok.texts_to_matrix(["x"], mode="bogus")


def test_tokenizer_rejects_a_bare_string():
    with pytest.raises(TypeError, match="list of texts"):
        Tokenizer().fit_on_texts("one string")


# ----------------------------------------------------------------------------- padding
SEQS = [[1, 2, 3], [4, 5], [6]]


def test_pad_sequences_default_is_pre():
    out = pad_sequences(SEQS)
    assert isinstance(out, np.ndarray) and out.dtype == np.int32
    assert out.tolist() == [[1, 2, 3], [0, 4, 5], [0, 0, 6]]


def test_pad_sequences_truncates_at_the_front_by_default():
    # maxlen 2: [1, 2, 3] loses its *first* value
    assert pad_sequences(SEQS, maxlen=2).tolist() == [[2, 3], [4, 5], [0, 6]]


def test_pad_sequences_post_and_value():
    out = pad_sequences(SEQS, maxlen=2, padding="post", truncating="post", value=-1)
    assert out.tolist() == [[1, 2], [4, 5], [6, -1]]
    assert pad_sequences(SEQS, maxlen=4, dtype="float32", value=0.5)[2].tolist() == \
        [0.5, 0.5, 0.5, 6.0]


def test_pad_sequences_empty_and_multidim():
    assert pad_sequences([[], [1]]).tolist() == [[0], [1]]
    steps = pad_sequences([[[1, 2]], [[3, 4], [5, 6]]])
    assert steps.shape == (2, 2, 2) and steps[0].tolist() == [[0, 0], [1, 2]]
    assert pad_sequences([]).shape == (0, 0)


def test_pad_sequences_errors():
    with pytest.raises(ValueError, match="not understood"):
        pad_sequences(SEQS, padding="middle")
    with pytest.raises(ValueError, match="not understood"):
        pad_sequences(SEQS, truncating="both")
    with pytest.raises(ValueError, match="non-iterable"):
        pad_sequences([1, 2])


def test_tokenizer_plus_padding_pipeline():
    tok = _fitted(num_words=10)
    batch = pad_sequences(tok.texts_to_sequences(["the cat", "my dog ate the homework"]),
                          maxlen=4)
    # [1, 2] -> [0, 0, 1, 2]; [8, 6, 7, 1, 9] -> the last 4: [6, 7, 1, 9]
    assert batch.tolist() == [[0, 0, 1, 2], [6, 7, 1, 9]]


# ----------------------------------------------------------------------------- chars
def test_char_vocab_round_trip():
    vocab = CharVocab.from_text("hello world")
    assert vocab.chars == [" ", "d", "e", "h", "l", "o", "r", "w"]  # sorted
    assert len(vocab) == 8 and "h" in vocab
    ids = vocab.encode("hold")
    assert ids == [3, 5, 4, 1]
    assert vocab.decode(ids) == "hold"
    assert vocab.decode(ember.tensor(ids)) == "hold"
    assert vocab.decode(vocab.encode("hello world")) == "hello world"


def test_char_vocab_errors():
    vocab = CharVocab.from_text("ab")
    with pytest.raises(ValueError, match="'z'"):
        vocab.encode("az")
    with pytest.raises(ValueError, match="out of range"):
        vocab.decode([5])
