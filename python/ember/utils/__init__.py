"""``ember.utils``: PyTorch's ``torch.utils`` spelling. ``ember.utils.data`` is
``ember.data`` (Dataset, DataLoader, TensorDataset, random_split, ...)."""

from . import data

__all__ = ["data"]
