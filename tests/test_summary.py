"""model.summary(): per-layer output shapes and parameter counts, totals, and no side effects."""

from __future__ import annotations

import re

import ember
import ember.nn as nn
import numpy as np
import pytest


def table_rows(text: str) -> dict[str, tuple[str, int]]:
    """{'name (Type)': (output shape, param count)} from the summary's table body."""
    body = text.split("=\n")[2].split("\n=")[0]  # between the 2nd and 3rd rules
    rows = {}
    for line in body.splitlines():
        label, shape, count = re.split(r"\s{2,}", line.strip())
        rows[label] = (shape, int(count.replace(",", "")))
    return rows


def totals(text: str) -> dict[str, int]:
    return {m[0]: int(m[1].replace(",", ""))
            for m in re.findall(r"^(Total|Trainable|Non-trainable) params: ([\d,]+)", text, re.M)}


def numel(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Dropout(0.5))
        self.head = nn.Linear(16, 3)
        self.spare = nn.Linear(4, 4)  # never called in forward

    def forward(self, x):
        return self.head(self.body(x))


def test_mlp_shapes_counts_and_totals():
    model = MLP()
    text = model.summary(input_size=(7, 20))
    rows = table_rows(text)
    assert rows == {
        "body.0 (Linear)": ("[7, 16]", 20 * 16 + 16),
        "body.1 (ReLU)": ("[7, 16]", 0),
        "body.2 (Dropout)": ("[7, 16]", 0),
        "head (Linear)": ("[7, 3]", 16 * 3 + 3),
        "spare (Linear)": ("--", 4 * 4 + 4),
    }
    assert sum(c for _, c in rows.values()) == numel(model)
    assert totals(text) == {"Total": numel(model), "Trainable": numel(model),
                            "Non-trainable": 0}
    assert text.startswith("Model: MLP") and "Input: [7, 20]" in text


def test_frozen_parameters_are_non_trainable():
    model = MLP()
    model.body.requires_grad_(False)
    t = totals(model.summary())
    assert t["Total"] == numel(model) and t["Non-trainable"] == 20 * 16 + 16
    assert t["Trainable"] == numel(model) - t["Non-trainable"]


def test_without_an_input_only_counts():
    rows = table_rows(MLP().summary())
    assert all(shape == "--" for shape, _ in rows.values())


def test_cnn():
    if not hasattr(nn, "Conv2d"):
        pytest.skip("no nn.Conv2d")
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 10))
    text = model.summary(input_size=(2, 1, 8, 8))
    rows = table_rows(text)
    assert [shape for shape, _ in rows.values()] == [
        "[2, 4, 8, 8]", "[2, 4, 8, 8]", "[2, 4, 8, 8]", "[2, 4, 4, 4]", "[2, 64]", "[2, 10]"]
    assert rows["0 (Conv2d)"][1] == 4 * 1 * 3 * 3 + 4 and rows["1 (BatchNorm2d)"][1] == 8
    assert totals(text)["Total"] == numel(model) == sum(c for _, c in rows.values())


def test_summary_changes_nothing_in_the_model():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    model.train()
    model[1].eval()
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    model.summary(input=ember.randn(5, 3) * 10)
    after = model.state_dict()
    assert all(np.array_equal(before[k], after[k].numpy()) for k in before)
    assert model.training and model[0].training and not model[1].training
    assert all(not m._forward_hooks for m in model.modules())


class Tagger(nn.Module):
    """Embedding -> LSTM (returns a tuple) -> Linear: token ids in, tags out."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(50, 8)
        self.lstm = nn.LSTM(8, 12, num_layers=2, batch_first=True)
        self.out = nn.Linear(12, 5)

    def forward(self, ids):
        h, _ = self.lstm(self.emb(ids))
        return self.out(h)


def test_lstm_tuple_output_and_integer_inputs():
    model = Tagger()
    text = model.summary(input_size=(3, 7), dtype=ember.int64)
    rows = table_rows(text)
    assert rows["emb (Embedding)"] == ("[3, 7, 8]", 50 * 8)
    assert rows["lstm (LSTM)"][0] == "([3, 7, 12], ([2, 3, 12], [2, 3, 12]))"
    assert rows["lstm (LSTM)"][1] == numel(model.lstm)
    assert rows["out (Linear)"] == ("[3, 7, 5]", 12 * 5 + 5)
    assert totals(text)["Total"] == numel(model)
    same = model.summary(input=ember.zeros(3, 7, dtype=ember.int64))
    assert table_rows(same) == rows


def test_shared_parameters_count_once():
    lin = nn.Linear(4, 4)
    model = nn.Sequential(lin, nn.Tanh(), lin)
    rows = table_rows(model.summary(input_size=(1, 4)))
    assert sum(c for _, c in rows.values()) == numel(model) == 20


def test_a_leaf_module_on_its_own_and_the_repr():
    s = nn.Linear(3, 2).summary(input_size=(4, 3))
    assert table_rows(s) == {"Linear": ("[4, 2]", 8)}
    assert isinstance(s, str) and repr(s) == str(s)  # a REPL shows the table itself


def test_errors():
    model = MLP()
    with pytest.raises(ValueError, match="either"):
        model.summary(input_size=(1, 20), input=ember.zeros(1, 20))
    with pytest.raises(RuntimeError, match=r"summary: the forward pass of MLP on inputs \[2, 5\]"):
        model.summary(input_size=(2, 5))
    assert all(not m._forward_hooks for m in model.modules())
