"""``ember.data``: datasets, ``DataLoader``, splits, transforms and text preprocessing
(PyTorch's ``torch.utils.data`` + torchvision's transforms/datasets + Keras' text tools),
and subword tokenizers (GPT-2's byte-level BPE, BERT's WordPiece: ``ember.data.tokenizers``)."""

from . import datasets, transforms
from .dataloader import DataLoader, RandomSampler, SequentialSampler, default_collate
from .dataset import ConcatDataset, Dataset, Subset, TensorDataset
from .datasets import MNIST, Digits, TinyShakespeare
from .splits import KFold, StratifiedKFold, random_split, train_val_test_split
from .text import CharVocab, Tokenizer, pad_sequences, text_to_word_sequence
from .tokenizers import BasicTokenizer, ByteLevelBPETokenizer, WordPieceTokenizer

__all__ = [
    "MNIST", "CharVocab", "ConcatDataset", "DataLoader", "Dataset", "Digits", "KFold",
    "RandomSampler", "SequentialSampler", "StratifiedKFold", "Subset", "TensorDataset",
    "TinyShakespeare", "Tokenizer", "default_collate", "datasets", "pad_sequences",
    "random_split", "text_to_word_sequence", "train_val_test_split", "transforms",
    # subword tokenizers (ember.data.tokenizers)
    "BasicTokenizer", "ByteLevelBPETokenizer", "WordPieceTokenizer",
]
