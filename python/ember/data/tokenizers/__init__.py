"""Subword tokenizers, with the reference implementations' ids and no third-party code at run
time: GPT-2's byte-level BPE (train it, or load ``vocab.json`` + ``merges.txt``) and BERT's
WordPiece (load ``vocab.txt``, or train one). Both keep special tokens whole, decode back to
text, and encode batches with truncation, padding and attention masks."""

from .base import SubwordTokenizer
from .bpe import ByteLevelBPETokenizer, bytes_to_unicode, pre_tokenize
from .wordpiece import BasicTokenizer, WordPieceTokenizer

__all__ = ["BasicTokenizer", "ByteLevelBPETokenizer", "SubwordTokenizer", "WordPieceTokenizer",
           "bytes_to_unicode", "pre_tokenize"]
