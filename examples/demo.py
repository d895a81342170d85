"""ember's quick-start demo: train a digit classifier, report its test accuracy, save curves.

The data is scikit-learn's bundled 8x8 handwritten digits (1,797 images, no download),
split 8:1:1 into train / validation / test, class proportions kept. The model is a small
MLP trained with Adam; every piece is ember's own: tensors and autograd, ``ember.nn``
layers and loss, ``ember.optim``, ``ember.data`` loaders, ``ember.metrics``, and
``ember.viz`` for the pictures.

    pip install ".[examples]" && python examples/demo.py

Add ``--device cuda`` to train on the GPU (needs the CUDA backend and a GPU).

Outputs (in examples/out/): demo_curves.png (loss and accuracy per epoch),
demo_graph.svg (the autograd graph of one loss), demo_model.safetensors (the weights).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import ember
import ember.nn as nn
import ember.nn.functional as F
import numpy as np
from ember.data import DataLoader, Digits, TensorDataset, train_val_test_split
from ember.metrics import accuracy, classification_report


def make_loaders(batch_size: int, seed: int, device: str = "cpu"):
    """Digits as tensors on ``device``, split 8:1:1 (stratified), wrapped in data loaders."""
    digits = Digits()
    x = ember.tensor(np.asarray(digits.data, dtype=np.float32).reshape(len(digits), -1))
    y = ember.tensor(np.asarray(digits.targets, dtype=np.int64))
    train, val, test = train_val_test_split((x, y), stratify=y.numpy(), seed=seed)
    train, val, test = ([t.to(device) for t in split] for split in (train, val, test))
    gen = ember.Generator(seed)  # the shuffling order, reproducible
    return (DataLoader(TensorDataset(*train), batch_size, shuffle=True, generator=gen),
            TensorDataset(*val), TensorDataset(*test))


def evaluate(model: nn.Module, data: TensorDataset) -> tuple[float, float, np.ndarray]:
    """Loss and accuracy on a whole split (eval mode, no graph), and the predictions."""
    model.eval()
    with ember.no_grad():
        logits = model(data.tensors[0])
        loss = F.cross_entropy(logits, data.tensors[1]).item()
    model.train()
    pred = logits.argmax(1).cpu().numpy()
    return loss, accuracy(data.tensors[1].cpu(), pred), pred


def main(argv: list[str] | None = None) -> float:
    ap = argparse.ArgumentParser(description="Train an MLP on scikit-learn's digits.")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(Path(__file__).parent / "out"))
    ap.add_argument("--device", default="cpu", help="'cpu' or 'cuda' (needs the CUDA backend)")
    args = ap.parse_args(argv)
    try:
        if ember.device(args.device).type == "cuda":
            ember.cuda.check_available(f"--device {args.device}")
    except (RuntimeError, ValueError) as e:
        ap.error(f"{e}; run with --device cpu")
    ember.manual_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    train_loader, val, test = make_loaders(args.batch_size, args.seed, args.device)
    model = nn.Sequential(
        nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.1),
        nn.Linear(128, 64), nn.ReLU(),
        nn.Linear(64, 10),
    )
    print(model.summary(input_size=(1, 64)))
    model.to(args.device)
    opt = ember.optim.Adam(model.parameters(), lr=args.lr)
    sched = ember.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)

    history: dict[str, list[float]] = {"loss": [], "accuracy": [], "val_loss": [],
                                       "val_accuracy": []}
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        total, correct, seen = 0.0, 0, 0
        for xb, yb in train_loader:
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad()  # gradients accumulate across backward() calls: clear them
            loss.backward()
            opt.step()
            total += loss.item() * len(yb)
            correct += int((logits.argmax(1) == yb).sum().item())
            seen += len(yb)
        sched.step()
        val_loss, val_acc, _ = evaluate(model, val)
        for key, value in zip(history, (total / seen, correct / seen, val_loss, val_acc)):
            history[key].append(value)
        if epoch % 5 == 0 or epoch == args.epochs:
            print(f"epoch {epoch:3d}  loss {total / seen:.4f}  train acc {correct / seen:.3f}  "
                  f"val loss {val_loss:.4f}  val acc {val_acc:.3f}")

    _, test_acc, pred = evaluate(model, test)
    print(f"\ntrained {args.epochs} epochs in {time.perf_counter() - start:.1f} s")
    print(classification_report(test.tensors[1].cpu().numpy(), pred))
    print(f"test accuracy: {test_acc:.1%} on {len(test)} held-out digits")

    # pictures and weights: curves (matplotlib), the autograd graph (no Graphviz needed)
    try:
        print("curves:", ember.viz.plot_history(history, out / "demo_curves.png"))
    except ImportError as e:
        print(f"(no curves: {e})")
    xb, yb = test.tensors[0][:4], test.tensors[1][:4]
    ember.viz.draw_graph(F.cross_entropy(model(xb), yb), out / "demo_graph.svg",
                         params=dict(model.named_parameters()))
    print("graph:", out / "demo_graph.svg")
    try:
        model.save(out / "demo_model.safetensors")
        print("weights:", out / "demo_model.safetensors")
    except ImportError as e:
        print(f"(weights not saved: {e})")
    return test_acc


if __name__ == "__main__":
    main()
