"""Handwritten digits with a multi-layer perceptron, written the PyTorch way.

The whole workflow a real project needs, top to bottom:

1. load MNIST and split it into train / validation / held-out test sets;
2. build an MLP (784 -> 256 -> 128 -> 10) with ``ember.nn``;
3. train it with ``ember.optim.Adam`` in a hand-written loop, with a progress bar;
4. check it on the validation set after every epoch and keep the best epoch's weights;
5. measure it once on the held-out test set: accuracy, confusion matrix, per-class report;
6. save the training curves (a PNG) and the model (a safetensors checkpoint), and check
   that the checkpoint loads back.

Data: the 10,000 digits of the MNIST *test* set (the files ``t10k-images-idx3-ubyte.gz``
and ``t10k-labels-idx1-ubyte.gz``), split 8,000 for training (7,000 train + 1,000
validation) and 2,000 held out for the final test, stratified by digit and seeded.

    python examples/mnist_mlp.py                      # defaults: about 95.5% in seconds
    python examples/mnist_mlp.py --epochs 5 --lr 3e-3 --out /tmp/mnist
    python examples/mnist_mlp.py --download           # fetch MNIST into ember's cache first
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import ember
import numpy as np
from _mnist_common import find_mnist, load_digits, make_parser, parse
from ember import nn
from ember.data import DataLoader, Dataset, train_val_test_split
from ember.progress import ProgressBar


# ----------------------------------------------------------------------------- command line
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = make_parser(__doc__.split("\n")[0], epochs=15, batch_size=64)
    return parse(p, argv)


def load_splits(root: Path, download: bool, seed: int) -> tuple[Dataset, Dataset, Dataset]:
    """Train (70%), validation (10%) and held-out test (20%) subsets of the 10,000 digits.

    Stratifying keeps every digit's share the same in each part, so a 2,000-digit test set
    is not accidentally light on, say, 5s. The split has its own seed, so changing how the
    model trains never moves a digit between the parts.
    """
    digits = load_digits(root, download)
    train, val, test = train_val_test_split(digits, ratios=(0.7, 0.1, 0.2),
                                            stratify=digits.targets, seed=seed)
    return train, val, test


# ----------------------------------------------------------------------------- the model
def build_model() -> nn.Module:
    """784 -> 256 -> 128 -> 10. Dropout zeroes a random 20% of the hidden units at each
    training step, so no unit can rely on another one always being there: with only 7,000
    training digits that noticeably reduces overfitting. The last layer gives *logits*;
    ``CrossEntropyLoss`` applies the (log-)softmax itself, which is numerically safer."""
    return nn.Sequential(
        nn.Flatten(),                 # (N, 1, 28, 28) -> (N, 784)
        nn.Linear(784, 256), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(256, 128), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(128, 10),
    )


# ----------------------------------------------------------------------------- train / test
def train_epoch(model: nn.Module, loader: DataLoader, loss_fn: nn.Module,
                optimizer: ember.optim.Optimizer, device: str,
                bar: ProgressBar) -> tuple[float, float]:
    """One pass over the training set; returns the mean loss and the accuracy.

    Both are averages over the epoch, measured while the weights were still changing and
    with dropout on: that is why the training curve can sit *below* the
    validation curve in the first epochs without anything being wrong."""
    model.train()  # dropout on
    total_loss, correct, seen = 0.0, 0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        logits = model(x)
        loss = loss_fn(logits, y)
        # Gradients *accumulate* into .grad: clear last step's before computing this one's.
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

        total_loss += loss.item() * len(y)
        correct += int((logits.argmax(1) == y).sum().item())
        seen += len(y)
        bar.update(1, loss=total_loss / seen, acc=correct / seen)
    return total_loss / seen, correct / seen


def evaluate(model: nn.Module, loader: DataLoader, loss_fn: nn.Module,
             device: str) -> tuple[float, np.ndarray, np.ndarray]:
    """Mean loss, true labels and predicted labels over a whole dataset."""
    model.eval()  # dropout off: every unit takes part, as it will after training
    total_loss, labels, predictions = 0.0, [], []
    with ember.no_grad():  # no graph to build: faster, and less memory
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            logits = model(x)
            total_loss += loss_fn(logits, y).item() * len(y)
            labels.append(y.cpu().numpy())
            predictions.append(logits.argmax(1).cpu().numpy())
    y_true, y_pred = np.concatenate(labels), np.concatenate(predictions)
    return total_loss / len(y_true), y_true, y_pred


def format_confusion(cm: np.ndarray) -> str:
    """The confusion matrix as a table: row = true digit, column = predicted digit."""
    lines = ["true\\pred " + " ".join(f"{j:>4d}" for j in range(len(cm)))]
    lines += [f"{i:>9d} " + " ".join(f"{v:>4d}" for v in row) for i, row in enumerate(cm)]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- main
def main(argv: Sequence[str] | None = None) -> float:
    """Train, test, save; return the accuracy on the held-out test set."""
    args = parse_args(argv)
    ember.manual_seed(args.seed)  # weights, dropout masks and shuffling all draw from this
    args.out.mkdir(parents=True, exist_ok=True)

    train_set, val_set, test_set = load_splits(find_mnist(args.data), args.download, args.seed)
    print(f"MNIST: {len(train_set)} train, {len(val_set)} validation, "
          f"{len(test_set)} held-out test digits")
    # shuffle=True: a new order every epoch, so successive batches are not correlated.
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    val_loader = DataLoader(val_set, batch_size=500)    # evaluation: any size fits memory
    test_loader = DataLoader(test_set, batch_size=500)

    model = build_model()
    print(model.summary(input_size=(1, 1, 28, 28)))
    model.to(args.device)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = ember.optim.Adam(model.parameters(), lr=args.lr)
    # Cosine decay: big steps early to learn fast, small steps late to settle into a minimum
    # instead of bouncing around it.
    scheduler = ember.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)

    history: dict[str, list[float]] = {"loss": [], "accuracy": [], "val_loss": [],
                                       "val_accuracy": []}
    best_acc, best_state = -1.0, None
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        # A live bar on a terminal; in a log file, one line per epoch (written at close).
        bar = ProgressBar(total=len(train_loader), desc=f"epoch {epoch}/{args.epochs}",
                          unit="batches")
        loss, acc = train_epoch(model, train_loader, loss_fn, optimizer, args.device, bar)
        val_loss, y_true, y_pred = evaluate(model, val_loader, loss_fn, args.device)
        val_acc = ember.metrics.accuracy(y_true, y_pred)
        # (short names: a live bar is cut at the terminal's width)
        bar.close(loss=loss, acc=acc, val_loss=val_loss, val_acc=val_acc)
        scheduler.step()
        for key, value in zip(history, (loss, acc, val_loss, val_acc)):
            history[key].append(value)
        # Keep a *copy* of the best weights (state_dict tensors share memory with the model,
        # so without .clone() they would keep changing as training goes on).
        if val_acc > best_acc:
            best_acc = val_acc
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
    train_time = time.perf_counter() - start

    # The validation set chose the epoch, so its score is optimistic; the test set, never
    # looked at until now, gives the honest estimate.
    model.load_state_dict(best_state)
    _, y_true, y_pred = evaluate(model, test_loader, loss_fn, args.device)
    test_acc = ember.metrics.accuracy(y_true, y_pred)
    print(f"\nbest validation accuracy {best_acc:.2%} (epoch "
          f"{history['val_accuracy'].index(best_acc) + 1}); trained in {train_time:.1f} s")
    print(f"held-out test accuracy: {test_acc:.2%} on {len(y_true)} digits\n")
    print(format_confusion(ember.metrics.confusion_matrix(y_true, y_pred, num_classes=10)))
    print("\n" + ember.metrics.classification_report(y_true, y_pred, digits=3))

    png = ember.viz.plot_history(history, args.out / "mnist_mlp_history.png")
    checkpoint = args.out / "mnist_mlp.safetensors"
    model.save(checkpoint)  # the state dict, in the safetensors format
    # A checkpoint is only worth something if it loads back into a fresh model.
    restored = build_model()
    restored.load(checkpoint)
    _, _, restored_pred = evaluate(restored.to(args.device), test_loader, loss_fn, args.device)
    assert (restored_pred == y_pred).all(), "the reloaded model predicts differently"
    print(f"training curves: {png}\nmodel: {checkpoint} (reloaded and checked)")
    return test_acc


if __name__ == "__main__":
    main()
