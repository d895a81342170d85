"""``ember.utils.data``: ``torch.utils.data``'s names, from ``ember.data``."""

from ..data import (
    ConcatDataset,
    DataLoader,
    Dataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    TensorDataset,
    default_collate,
    random_split,
)

__all__ = ["ConcatDataset", "DataLoader", "Dataset", "RandomSampler", "SequentialSampler",
           "Subset", "TensorDataset", "default_collate", "random_split"]
