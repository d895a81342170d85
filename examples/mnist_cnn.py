"""Handwritten digits with a small convolutional network, written the PyTorch way.

The same workflow as ``mnist_mlp.py`` (read that one first), with what changes for images:

1. a CNN: two blocks of Conv2d -> BatchNorm2d -> ReLU -> MaxPool2d, then a small
   classifier. A convolution slides one small filter over the whole image, so the network
   knows from the start that a stroke is a stroke wherever it is (the two convolutions hold
   under 5,000 weights between them) and it makes clearly fewer mistakes than the MLP;
2. data augmentation: each training image is shifted by up to 2 pixels in a random
   direction every time it is seen (``RandomCrop`` with padding), so 7,000 digits look like
   many more and the network learns not to care about exact position;
3. a checkpoint that records more than the weights (the epoch, the scores, the settings),
   with ``ember.save`` / ``ember.load``.

Data: the 10,000 digits of the MNIST *test* set (the files ``t10k-images-idx3-ubyte.gz``
and ``t10k-labels-idx1-ubyte.gz``), split 8,000 for training (7,000 train + 1,000
validation) and 2,000 held out for the final test, stratified by digit and seeded.

    python examples/mnist_cnn.py                      # defaults: about 98.5% in under a minute
    python examples/mnist_cnn.py --epochs 4 --no-augment --out /tmp/mnist
    python examples/mnist_cnn.py --download           # fetch MNIST into ember's cache first
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
from ember.data import MNIST, DataLoader, Dataset, Subset, train_val_test_split
from ember.data import transforms as T
from ember.progress import ProgressBar


# ----------------------------------------------------------------------------- command line
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = make_parser(__doc__.split("\n")[0], epochs=10, batch_size=64)
    p.add_argument("--no-augment", dest="augment", action="store_false",
                   help="train on the images as they are (no random shifts)")
    return parse(p, argv)


def load_splits(root: Path, download: bool, seed: int,
                augment: bool) -> tuple[Dataset, Dataset, Dataset]:
    """Train (70%), validation (10%) and held-out test (20%) subsets of the 10,000 digits,
    stratified by digit and seeded (see mnist_mlp.py); only the training part is augmented.
    """
    digits = load_digits(root, download)
    train, val, test = train_val_test_split(digits, ratios=(0.7, 0.1, 0.2),
                                            stratify=digits.targets, seed=seed)
    if augment:
        # A transform belongs to a dataset, and validation/test images must stay untouched
        # (we want to measure the model, not the luck of a shift). So the training subset
        # takes the *same indices* from a second view of the files that has the transform.
        # Pad by 2 pixels with black, then cut a random 28x28 window: a shift of up to +-2.
        shifted = MNIST(root, train=False,
                        transform=T.Compose([T.RandomCrop(28, padding=2), T.ToTensor()]))
        train = Subset(shifted, train.indices)
    return train, val, test


# ----------------------------------------------------------------------------- the model
def conv_block(c_in: int, c_out: int) -> nn.Sequential:
    """3x3 convolution ('same' padding keeps the size) -> batch norm -> ReLU -> 2x2 max pool.

    The convolution has no bias because batch norm subtracts the per-channel mean right
    after it (a bias would be cancelled) and adds its own learned shift. Batch norm keeps
    each channel's activations near mean 0 / variance 1 during training, which lets Adam take
    big steps safely. Max pooling halves height and width, keeping the strongest response in
    each 2x2 window: later layers see a wider area for the same cost.
    """
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2),
    )


def build_model() -> nn.Module:
    """(N, 1, 28, 28) -> 16 x 14 x 14 -> 32 x 7 x 7 -> 128 -> 10 logits."""
    return nn.Sequential(
        conv_block(1, 16),            # (N, 16, 14, 14): edges and stroke pieces
        conv_block(16, 32),           # (N, 32, 7, 7): parts of digits
        nn.Flatten(),                 # (N, 32 * 7 * 7) = (N, 1568)
        nn.Dropout(0.3),              # the big Linear below is where overfitting would live
        nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.3),
        nn.Linear(128, 10),
    )


# ----------------------------------------------------------------------------- train / test
def train_epoch(model: nn.Module, loader: DataLoader, loss_fn: nn.Module,
                optimizer: ember.optim.Optimizer, device: str,
                bar: ProgressBar) -> tuple[float, float]:
    """One pass over the training set; returns the mean loss and the accuracy.

    Both are averages over the epoch, measured while the weights were still changing and
    with dropout and random shifts on: that is why the training curve can sit *below* the
    validation curve in the first epochs without anything being wrong."""
    model.train()  # dropout on; batch norm normalises with this batch's statistics
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
    model.eval()  # dropout off; batch norm uses the running averages it kept in training
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

    train_set, val_set, test_set = load_splits(find_mnist(args.data), args.download, args.seed,
                                               args.augment)
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
    best_acc, best_epoch, best_state = -1.0, 0, None
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
        # so without .clone() they would keep changing as training goes on). The state dict
        # holds batch norm's running mean/variance too: they are part of the model.
        if val_acc > best_acc:
            best_acc, best_epoch = val_acc, epoch
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
    train_time = time.perf_counter() - start

    # The validation set chose the epoch, so its score is optimistic; the test set, never
    # looked at until now, gives the honest estimate.
    model.load_state_dict(best_state)
    _, y_true, y_pred = evaluate(model, test_loader, loss_fn, args.device)
    test_acc = ember.metrics.accuracy(y_true, y_pred)
    print(f"\nbest validation accuracy {best_acc:.2%} (epoch {best_epoch}); "
          f"trained in {train_time:.1f} s")
    print(f"held-out test accuracy: {test_acc:.2%} on {len(y_true)} digits\n")
    print(format_confusion(ember.metrics.confusion_matrix(y_true, y_pred, num_classes=10)))
    print("\n" + ember.metrics.classification_report(y_true, y_pred, digits=3))

    png = ember.viz.plot_history(history, args.out / "mnist_cnn_history.png")
    # Weights alone are hard to trust a month later: store where they came from beside them.
    # ember.save takes any nesting of dicts, lists, numbers, strings and tensors and writes
    # one safetensors file (no pickle, so loading a checkpoint never runs code). To resume
    # training instead, you would save the last epoch's model *and* optimizer.state_dict().
    checkpoint = args.out / "mnist_cnn.safetensors"
    config = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
              "seed": args.seed, "augment": args.augment}
    ember.save({"model": model.state_dict(), "epoch": best_epoch, "val_accuracy": best_acc,
                "test_accuracy": test_acc, "config": config}, checkpoint)
    # A checkpoint is only worth something if it loads back into a fresh model.
    restored = build_model()
    restored.load_state_dict(ember.load(checkpoint)["model"])
    _, _, restored_pred = evaluate(restored.to(args.device), test_loader, loss_fn, args.device)
    assert (restored_pred == y_pred).all(), "the reloaded model predicts differently"
    print(f"training curves: {png}\nmodel: {checkpoint} (reloaded and checked)")
    return test_acc


if __name__ == "__main__":
    main()
