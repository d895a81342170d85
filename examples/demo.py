"""ember's first demo: a neural network that learns to separate two interleaved spirals.

Nothing here but ember tensors and autograd: the parameters are plain tensors with
requires_grad=True, the loss is cross-entropy written with log_softmax, and the update
is gradient descent with momentum done by hand. The data is generated on the fly.

    python examples/demo.py
"""

from __future__ import annotations

import math
import time

import ember
import numpy as np


def two_spirals(n_per_class: int, noise: float, rng: np.random.Generator):
    """Points on two interleaved spirals, labelled 0 and 1."""
    t = np.sqrt(rng.random(n_per_class)) * 4 * math.pi
    arm = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / (4 * math.pi)
    x = np.concatenate([arm, -arm]) + noise * rng.standard_normal((2 * n_per_class, 2))
    y = np.concatenate([np.zeros(n_per_class), np.ones(n_per_class)]).astype(np.int64)
    return x.astype(np.float32), y


def init_layer(n_in: int, n_out: int):
    """He-uniform weights (good for relu) and zero biases, as leaf tensors."""
    bound = math.sqrt(6.0 / n_in)
    w = (ember.rand(n_in, n_out) * 2 - 1) * bound
    return w.requires_grad_(), ember.zeros(n_out, requires_grad=True)


def forward(params, x):
    h = x
    for i, (w, b) in enumerate(params):
        h = h @ w + b
        if i < len(params) - 1:
            h = h.relu()
    return h  # logits


def cross_entropy(logits, y):
    """Mean of -log softmax(logits)[y]: log_softmax keeps it finite for any logits."""
    logp = logits.log_softmax(dim=1)
    return -logp.gather(1, y.reshape(-1, 1)).mean()


def main(epochs: int = 30) -> float:
    """Train, print progress, and return the final test accuracy."""
    ember.manual_seed(0)
    rng = np.random.default_rng(0)
    x_np, y_np = two_spirals(1000, 0.03, rng)
    perm = rng.permutation(len(x_np))
    split = int(0.8 * len(perm))
    train, test = perm[:split], perm[split:]
    x_train, y_train = ember.tensor(x_np[train]), ember.tensor(y_np[train])
    x_test, y_test = ember.tensor(x_np[test]), ember.tensor(y_np[test])

    params = [init_layer(2, 64), init_layer(64, 64), init_layer(64, 2)]
    flat = [p for layer in params for p in layer]
    velocity = [ember.zeros_like(p) for p in flat]
    lr, momentum, batch = 0.1, 0.9, 64

    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(train))
        for i in range(0, len(order), batch):
            idx = ember.tensor(order[i:i + batch])
            loss = cross_entropy(forward(params, x_train[idx]), y_train[idx])
            for p in flat:
                p.grad = None
            loss.backward()
            with ember.no_grad():  # v = momentum * v + g;  p = p - lr * v
                for p, v in zip(flat, velocity):
                    v.mul_(momentum).add_(p.grad)
                    p.sub_(v * lr)
        if epoch % 5 == 0 or epoch == epochs:
            with ember.no_grad():
                acc = (forward(params, x_test).argmax(1) == y_test).float().mean().item()
            print(f"epoch {epoch:3d}  loss {loss.item():.4f}  test accuracy {acc:.3f}")
    print(f"trained in {time.perf_counter() - start:.1f} s; final test accuracy {acc:.1%}")
    return acc


if __name__ == "__main__":
    main()
