"""Models must actually learn: small, seeded, fast training runs with accuracy bars."""

import ember
import ember.nn as nn
import ember.nn.functional as F
import numpy as np
import pytest
from ember import optim


def digits_split():
    datasets = pytest.importorskip("sklearn.datasets")
    d = datasets.load_digits()
    x = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(x))
    cut = int(0.8 * len(x))
    return (x[order[:cut]], y[order[:cut]]), (x[order[cut:]], y[order[cut:]])


def test_mlp_reaches_95_percent_on_digits():
    ember.manual_seed(0)
    (xtr, ytr), (xte, yte) = digits_split()
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                          nn.Linear(64, 10))
    opt = optim.Adam(model.parameters(), lr=1e-3)
    xtr_t, ytr_t = ember.tensor(xtr), ember.tensor(ytr)
    rng = np.random.default_rng(0)
    for _epoch in range(15):
        order = rng.permutation(len(xtr))
        for i in range(0, len(order), 32):
            idx = ember.tensor(order[i:i + 32])
            loss = F.cross_entropy(model(xtr_t[idx]), ytr_t[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with ember.no_grad():
        acc = (model(ember.tensor(xte)).argmax(1).numpy() == yte).mean()
    assert acc >= 0.95, acc


def test_logistic_regression_with_bce_and_sgd_momentum():
    ember.manual_seed(0)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 2)).astype(np.float32)
    y = (x[:, 0] - 2 * x[:, 1] > 0.3).astype(np.float32)
    model = nn.Linear(2, 1)
    opt = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    xt, yt = ember.tensor(x), ember.tensor(y)
    first = None
    for _ in range(100):
        loss = F.binary_cross_entropy_with_logits(model(xt).squeeze(1), yt)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.2 * first
    acc = ((model(xt).squeeze(1) > 0).float() == yt).float().mean().item()
    assert acc > 0.97
