"""ember.data: datasets, DataLoader, splits and transforms."""

from __future__ import annotations

from collections import namedtuple

import ember
import numpy as np
import pytest
from ember.data import (
    ConcatDataset,
    DataLoader,
    Dataset,
    KFold,
    StratifiedKFold,
    Subset,
    TensorDataset,
    default_collate,
    random_split,
    train_val_test_split,
)
from ember.data import transforms as T


class Squares(Dataset):
    """A plain (slow-path) dataset: item i = (tensor [i, i*i], label i % 3)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        return ember.tensor([float(i), float(i * i)]), i % 3


def _tensor_ds(n=10):
    X = ember.tensor(np.arange(n * 3, dtype=np.float32).reshape(n, 3))
    y = ember.tensor(np.arange(n) % 2)
    return TensorDataset(X, y)


# ----------------------------------------------------------------------------- datasets
def test_tensor_dataset_items_and_length():
    ds = _tensor_ds(4)
    x, y = ds[2]
    assert len(ds) == 4
    assert x.tolist() == [6.0, 7.0, 8.0] and y.item() == 0
    assert ds[-1][1].item() == 1  # negative index counts from the end
    with pytest.raises(IndexError, match="out of range"):
        ds[4]


def test_tensor_dataset_length_mismatch_names_sizes():
    with pytest.raises(ValueError, match=r"\[5, 4\]"):
        TensorDataset(ember.zeros(5, 2), ember.zeros(4))


def test_subset_and_concat():
    ds = _tensor_ds(6)
    sub = Subset(ds, [5, 0])
    assert len(sub) == 2 and sub[0][0].tolist() == [15.0, 16.0, 17.0]
    cat = ConcatDataset([Squares(2), Squares(3)])
    assert len(cat) == 5
    assert cat[1][1] == 1 and cat[2][1] == 0 and cat[4][0].tolist() == [2.0, 4.0]
    assert len(Squares(2) + Squares(2)) == 4


# ----------------------------------------------------------------------------- loader
def test_batches_len_and_drop_last():
    ds = Squares(10)
    loader = DataLoader(ds, batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and [b[0].shape[0] for b in batches] == [4, 4, 2]
    x, y = batches[0]
    assert x.shape == (4, 2) and x.dtype == ember.float32
    assert y.dtype == ember.int64 and y.tolist() == [0, 1, 2, 0]
    dropped = DataLoader(ds, batch_size=4, drop_last=True)
    assert len(dropped) == 2 and [b[0].shape[0] for b in dropped] == [4, 4]


def test_no_shuffle_is_in_order():
    xs = [b[0] for b in DataLoader(_tensor_ds(10), batch_size=3)]
    assert np.concatenate([x.numpy()[:, 0] for x in xs]).tolist() == list(range(0, 30, 3))


def _order(loader):
    return np.concatenate([x.numpy()[:, 0] for x, _ in loader]).tolist()


def test_shuffle_reproducible_with_manual_seed_and_generator():
    ds = _tensor_ds(20)
    ember.manual_seed(123)
    a = [_order(DataLoader(ds, batch_size=6, shuffle=True)) for _ in range(2)]
    ember.manual_seed(123)
    b = [_order(DataLoader(ds, batch_size=6, shuffle=True)) for _ in range(2)]
    assert a == b  # same seed: same epochs
    assert a[0] != a[1]  # but each epoch is a new order
    assert sorted(a[0]) == list(range(0, 60, 3))  # a permutation: every sample once
    g1, g2 = ember.Generator(7), ember.Generator(7)
    assert _order(DataLoader(ds, 4, shuffle=True, generator=g1)) == \
        _order(DataLoader(ds, 4, shuffle=True, generator=g2))


def test_fast_path_equals_slow_path():
    ds = _tensor_ds(11)
    fast = list(DataLoader(ds, batch_size=4, shuffle=True, generator=ember.Generator(1)))
    slow = list(DataLoader(ds, batch_size=4, shuffle=True, generator=ember.Generator(1),
                           collate_fn=default_collate))
    assert len(fast) == len(slow) == 3
    for (xf, yf), (xs, ys) in zip(fast, slow):
        assert xf.dtype == xs.dtype and yf.dtype == ys.dtype and xf.shape == xs.shape
        np.testing.assert_array_equal(xf.numpy(), xs.numpy())
        np.testing.assert_array_equal(yf.numpy(), ys.numpy())
    # a Subset of a TensorDataset takes the fast path too
    sub = Subset(ds, [3, 1, 4])
    (x, y), = list(DataLoader(sub, batch_size=3))
    assert x.numpy()[:, 0].tolist() == [9.0, 3.0, 12.0] and y.tolist() == [1, 1, 0]


def test_default_collate_structures():
    Point = namedtuple("Point", "x y")
    batch = [{"a": np.ones(2, np.float32), "b": (1.5, "s", True), "p": Point(1, 2)},
             {"a": np.zeros(2, np.float32), "b": (2.5, "t", False), "p": Point(3, 4)}]
    out = default_collate(batch)
    assert out["a"].shape == (2, 2) and out["a"].dtype == ember.float32
    floats, strings, bools = out["b"]
    assert floats.tolist() == [1.5, 2.5] and floats.dtype == ember.float32
    assert strings == ["s", "t"] and bools.dtype == ember.bool
    assert isinstance(out["p"], Point) and out["p"].x.tolist() == [1, 3]
    uint8 = default_collate([np.array([1, 2], np.uint8)] * 3)
    assert uint8.dtype == ember.int64 and uint8.shape == (3, 2)


def test_default_collate_errors():
    with pytest.raises(ValueError, match="different shapes"):
        default_collate([ember.zeros(2), ember.zeros(3)])
    with pytest.raises(TypeError, match="can't batch"):
        default_collate([object(), object()])


def test_custom_collate_fn():
    loader = DataLoader(Squares(5), batch_size=2, collate_fn=lambda b: [y for _, y in b])
    assert list(loader) == [[0, 1], [2, 0], [1]]


def test_loader_argument_errors():
    with pytest.raises(ValueError, match="empty"):
        DataLoader(Squares(0), batch_size=2)
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(Squares(3), batch_size=0)
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(Squares(3), sampler=[0, 1], shuffle=True)
    with pytest.warns(UserWarning, match="no batches"):
        DataLoader(Squares(3), batch_size=4, drop_last=True)


def test_sampler():
    loader = DataLoader(Squares(6), batch_size=2, sampler=[5, 4, 3])
    assert len(loader) == 2
    assert [y.tolist() for _, y in loader] == [[2, 1], [0]]


# ----------------------------------------------------------------------------- splits
def test_random_split_lengths_and_fractions():
    ds = Squares(10)
    a, b = random_split(ds, [7, 3], generator=ember.Generator(0))
    assert len(a) == 7 and len(b) == 3
    assert sorted(a.indices + b.indices) == list(range(10))
    # fractions, PyTorch 2.x: floor(10*0.33)=3, floor(10*0.33)=3, floor(10*0.34)=3 -> 9,
    # the remaining 1 goes round robin to the first part -> [4, 3, 3]
    parts = random_split(ds, [0.33, 0.33, 0.34], generator=ember.Generator(0))
    assert [len(p) for p in parts] == [4, 3, 3]
    with pytest.raises(ValueError, match="sum to 9"):
        random_split(ds, [5, 4])
    c, _ = random_split(ds, [7, 3], generator=ember.Generator(0))
    assert c.indices == a.indices  # same generator seed, same split


def test_train_val_test_split_dataset():
    tr, va, te = train_val_test_split(Squares(100))
    assert (len(tr), len(va), len(te)) == (80, 10, 10)
    assert sorted(tr.indices + va.indices + te.indices) == list(range(100))
    tr2, _, _ = train_val_test_split(Squares(100))
    assert tr.indices == tr2.indices  # seed=0 by default: reproducible
    tr3, _, _ = train_val_test_split(Squares(100), shuffle=False)
    assert tr3.indices == list(range(80))


def test_train_val_test_split_arrays_and_tensors():
    X, y = np.arange(20).reshape(10, 2), np.arange(10)
    (Xtr, ytr), (Xva, yva), (Xte, yte) = train_val_test_split((X, y), seed=3)
    assert Xtr.shape == (8, 2) and len(yva) == 1 and len(yte) == 1
    np.testing.assert_array_equal(Xtr[:, 0] // 2, ytr)  # rows stay paired
    tr, va, te = train_val_test_split(ember.arange(10), ratios=(0.5, 0.3, 0.2))
    assert isinstance(tr, ember.Tensor) and (len(tr), len(va), len(te)) == (5, 3, 2)
    with pytest.raises(ValueError, match="different lengths"):
        train_val_test_split((X, y[:5]))
    with pytest.raises(ValueError, match="summing to 1"):
        train_val_test_split(X, ratios=(0.5, 0.2))


def test_stratified_split_keeps_proportions():
    y = np.array([0] * 60 + [1] * 30 + [2] * 10)
    rng = np.random.default_rng(0)
    y = y[rng.permutation(100)]
    tr, va, te = train_val_test_split(np.arange(100), stratify=y, seed=1)
    assert (len(tr), len(va), len(te)) == (80, 10, 10)
    # 60/30/10 per 100 -> 48/24/8 in train, 6/3/1 in val and test
    assert np.bincount(y[tr]).tolist() == [48, 24, 8]
    assert np.bincount(y[va]).tolist() == [6, 3, 1]
    assert np.bincount(y[te]).tolist() == [6, 3, 1]


def test_stratified_split_small_classes_totals_exact():
    # 10 classes x 15: train 12 each; the 3 left per class must fill val 15 / test 15
    y = np.repeat(np.arange(10), 15)
    tr, va, te = train_val_test_split(np.arange(150), stratify=y)
    assert (len(tr), len(va), len(te)) == (120, 15, 15)
    assert np.bincount(y[tr]).tolist() == [12] * 10
    assert set(np.bincount(y[va], minlength=10).tolist()) <= {1, 2}


def _sk_folds(cv, X, y=None):
    return [(a.tolist(), b.tolist()) for a, b in cv.split(X, y)]


@pytest.mark.parametrize("n, k, shuffle, seed", [(10, 3, False, None), (11, 5, True, 0),
                                                 (7, 7, True, 42)])
def test_kfold_matches_sklearn(n, k, shuffle, seed):
    skms = pytest.importorskip("sklearn.model_selection")
    X = np.zeros((n, 2))
    ours = _sk_folds(KFold(k, shuffle=shuffle, random_state=seed), X)
    theirs = _sk_folds(skms.KFold(k, shuffle=shuffle, random_state=seed), X)
    assert ours == theirs


@pytest.mark.parametrize("shuffle, seed", [(False, None), (True, 0), (True, 5)])
def test_stratified_kfold_matches_sklearn(shuffle, seed):
    skms = pytest.importorskip("sklearn.model_selection")
    y = np.random.default_rng(3).choice(["b", "a", "c"], size=37, p=[0.5, 0.3, 0.2])
    X = np.zeros((37, 1))
    ours = _sk_folds(StratifiedKFold(4, shuffle=shuffle, random_state=seed), X, y)
    theirs = _sk_folds(skms.StratifiedKFold(4, shuffle=shuffle, random_state=seed), X, y)
    assert ours == theirs


def test_kfold_errors():
    with pytest.raises(ValueError, match="n_splits"):
        KFold(1)
    with pytest.raises(ValueError, match="random_state"):
        KFold(3, random_state=0)
    with pytest.raises(ValueError, match="greater than the number of samples"):
        list(KFold(5).split(np.zeros(3)))
    with pytest.raises(ValueError, match="labels"):
        list(StratifiedKFold(2).split(np.zeros(4)))


# ----------------------------------------------------------------------------- transforms
def test_to_tensor_hwc_and_hw():
    img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)  # H=2, W=3, C=3
    t = T.ToTensor()(img)
    assert t.shape == (3, 2, 3) and t.dtype == ember.float32
    # channel 1 of pixel (0, 2) is img[0, 2, 1] = 7 -> 7 / 255
    assert t[1, 0, 2].item() == pytest.approx(7 / 255)
    assert T.ToTensor()(np.zeros((4, 5), np.uint8)).shape == (1, 4, 5)
    floats = T.ToTensor()(np.full((2, 2), 3.0))  # non-uint8 values are kept
    assert floats.dtype == ember.float64 and floats.max().item() == 3.0


def test_normalize_tensor_and_numpy():
    img = np.stack([np.full((2, 2), 0.5), np.full((2, 2), 1.0)]).astype(np.float32)
    norm = T.Normalize(mean=(0.5, 0.0), std=(0.25, 2.0))
    # channel 0: (0.5 - 0.5) / 0.25 = 0; channel 1: (1 - 0) / 2 = 0.5
    out_t = norm(ember.tensor(img))
    out_n = norm(img)
    assert isinstance(out_n, np.ndarray) and out_n.dtype == np.float32
    np.testing.assert_allclose(out_t.numpy()[:, 0, 0], [0.0, 0.5])
    np.testing.assert_allclose(out_n[:, 0, 0], [0.0, 0.5])
    with pytest.raises(ValueError, match="3 values but the image has 2 channels"):
        T.Normalize((0.1, 0.2, 0.3), (1, 1, 1))(img)
    with pytest.raises(ValueError, match="zero"):
        T.Normalize(0.0, 0.0)


def test_random_flip_reproducible_and_correct():
    img = ember.tensor(np.arange(6, dtype=np.float32).reshape(1, 2, 3))
    assert T.RandomHorizontalFlip(p=1.0)(img).tolist() == [[[2, 1, 0], [5, 4, 3]]]
    assert T.RandomHorizontalFlip(p=0.0)(img) is img
    np.testing.assert_array_equal(T.RandomHorizontalFlip(1.0)(img.numpy()),
                                  img.numpy()[..., ::-1])
    flip = T.RandomHorizontalFlip()
    ember.manual_seed(5)
    a = [flip(img).tolist() for _ in range(10)]
    ember.manual_seed(5)
    assert [flip(img).tolist() for _ in range(10)] == a
    assert len({str(x) for x in a}) == 2  # both outcomes occur in 10 draws


def test_random_crop_padding_and_errors():
    img = np.arange(16, dtype=np.float32).reshape(1, 4, 4)
    crop = T.RandomCrop(4, padding=2)
    ember.manual_seed(0)
    outs = [crop(img) for _ in range(20)]
    assert all(o.shape == (1, 4, 4) for o in outs)
    ember.manual_seed(0)
    assert all(np.array_equal(o, crop(img)) for o in outs)
    # every crop of the zero-padded 8x8 image is a window of it
    padded = np.pad(img, ((0, 0), (2, 2), (2, 2)))
    windows = [padded[:, i:i + 4, j:j + 4] for i in range(5) for j in range(5)]
    assert all(any(np.array_equal(o, w) for w in windows) for o in outs)
    t_out = T.RandomCrop(2)(ember.tensor(img))
    assert isinstance(t_out, ember.Tensor) and t_out.shape == (1, 2, 2)
    with pytest.raises(ValueError, match="larger than"):
        T.RandomCrop(5)(img)
    assert T.RandomCrop(6, pad_if_needed=True, fill=-1)(img).shape == (1, 6, 6)
    tensor_pad = T.RandomCrop(8, padding=2)(ember.tensor(img))  # the only window: all of it
    np.testing.assert_array_equal(tensor_pad.numpy(), padded)


def test_compose_and_lambda():
    pipeline = T.Compose([T.ToTensor(), T.Lambda(lambda t: t * 2), T.Normalize(1.0, 1.0)])
    out = pipeline(np.full((2, 2), 255, np.uint8))
    # 255 -> 1.0 -> 2.0 -> (2 - 1) / 1 = 1
    assert out.shape == (1, 2, 2) and out.numpy().tolist() == [[[1.0, 1.0], [1.0, 1.0]]]
    assert "ToTensor" in repr(pipeline)
