"""Handwritten digits with a Keras-style model: ``Sequential``, ``compile``, ``fit``.

The classic Keras tutorial, ported by changing only its imports. Where ``mnist_mlp.py``
writes the training loop by hand, here ``fit`` runs it: batching, shuffling, the optimizer
step, the progress bar and the validation numbers after every epoch. Both build on the same
``ember.nn`` layers and ``ember.optim`` optimizers underneath.

Data: the 10,000 digits of the MNIST *test* set, split (stratified, seeded) into 7,000 to
train on, 1,000 to validate on and 2,000 held out for the final ``evaluate``. As in the
Keras tutorials the images are NumPy arrays: flattened to 784 pixels and scaled to [0, 1].

    python examples/mnist_keras_mlp.py                # defaults: about 95.5% in seconds
    python examples/mnist_keras_mlp.py --epochs 3 --out /tmp/mnist
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import ember
import numpy as np
from _mnist_common import find_mnist, load_digits, make_parser, parse
from ember.data import train_val_test_split
from ember.keras.layers import Dense
from ember.keras.models import Sequential
from ember.keras.optimizers import Adam


# ----------------------------------------------------------------------------- command line
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = make_parser(__doc__.split("\n")[0], epochs=10, batch_size=32,
                    lr_help="Adam's learning rate")
    return parse(p, argv)


def load_arrays(root: Path, download: bool, seed: int) -> tuple:
    """``(x_train, y_train), (x_val, y_val), (x_test, y_test)`` as NumPy arrays."""
    digits = load_digits(root, download)
    # Dense layers take flat vectors: (N, 28, 28) uint8 -> (N, 784) float32 in [0, 1].
    # Scaling matters: raw 0..255 inputs would make the first layer's outputs huge at the
    # start and the training unstable.
    x = digits.data.reshape(len(digits.data), 28 * 28).astype(np.float32) / 255.0
    y = digits.targets
    # Splitting a tuple (x, y) gives one (x_part, y_part) tuple per part.
    return train_val_test_split((x, y), ratios=(0.7, 0.1, 0.2), stratify=y, seed=seed)


# ----------------------------------------------------------------------------- main
def main(argv: Sequence[str] | None = None) -> float:
    """Train, evaluate, save; return the accuracy on the held-out test set."""
    args = parse_args(argv)
    ember.manual_seed(args.seed)  # weights and fit's shuffling all draw from this
    args.out.mkdir(parents=True, exist_ok=True)

    (x_train, y_train), (x_val, y_val), (x_test, y_test) = load_arrays(
        find_mnist(args.data), args.download, args.seed)
    print(f"MNIST: {len(x_train)} train, {len(x_val)} validation, {len(x_test)} held-out "
          "test digits")

    # The last layer's softmax turns 10 scores into probabilities, as Keras models do.
    # (Under the hood the loss works from the scores before the softmax, which is exact
    # even when a probability rounds to 0: no log(0).)
    model = Sequential([
        Dense(128, activation="relu", input_shape=(784,)),
        Dense(64, activation="relu"),
        Dense(10, activation="softmax"),
    ])
    model.summary()
    model.to(args.device)
    # 'sparse_categorical_crossentropy': the targets are digit labels 0..9, not one-hot
    # vectors. optimizer="adam" would do the same with Keras's default learning rate
    # (0.001); the Adam object lets --lr change it.
    model.compile(optimizer=Adam(learning_rate=args.lr),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    start = time.perf_counter()
    # verbose="auto": a live bar on a terminal, one line per epoch in a log.
    history = model.fit(x_train, y_train, epochs=args.epochs, batch_size=args.batch_size,
                        validation_data=(x_val, y_val))
    train_time = time.perf_counter() - start

    # evaluate runs in evaluation mode and returns [loss, *metrics] (metrics_names order).
    test_loss, test_acc = model.evaluate(x_test, y_test, verbose=0)
    print(f"\ntrained in {train_time:.1f} s; held-out test: loss {test_loss:.4f}, "
          f"accuracy {test_acc:.2%} on {len(x_test)} digits")
    # predict gives the softmax probabilities; the predicted digit is the most likely one.
    y_pred = model.predict(x_test).argmax(axis=1)
    print("\nconfusion matrix (row = true digit, column = predicted):")
    print(ember.metrics.confusion_matrix(y_test, y_pred, num_classes=10))

    png = history.plot(args.out / "mnist_keras_mlp_history.png")
    checkpoint = args.out / "mnist_keras_mlp.safetensors"
    model.save(checkpoint)  # weights + optimizer state, in the safetensors format
    print(f"training curves: {png}\nmodel: {checkpoint}")
    return test_acc


if __name__ == "__main__":
    main()
