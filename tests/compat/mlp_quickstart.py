"""The PyTorch quickstart (Build the Neural Network / Optimizing Model Parameters), unchanged in
structure: an ``nn.Module`` with ``nn.Flatten`` and ``nn.Sequential``, ``CrossEntropyLoss``,
``SGD``, a ``train`` loop over a ``DataLoader`` of a ``TensorDataset``, a ``test`` loop under
``model.eval()`` and ``torch.no_grad()``, the tutorial's ``f"{loss:>7f}"`` prints, and
``torch.save(model.state_dict(), path)`` / ``model.load_state_dict(torch.load(path))``.

The images are 8x8 synthetic "digits" made with NumPy (class k lights up a fixed pattern plus
noise), so the program needs no download.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from ._common import init_from_numpy


def make_data(n: int, seed: int):
    rng = np.random.default_rng(seed)
    patterns = np.random.default_rng(0).normal(size=(10, 8, 8))
    y = rng.integers(0, 10, size=n)
    x = patterns[y] + 0.8 * rng.normal(size=(n, 8, 8))
    return x[:, None, :, :], y  # N x 1 x 8 x 8, like MNIST's N x 1 x 28 x 28


def run(torch, steps: int = 3, log=print, dtype: str = "float64") -> list[float]:
    """Train for ``steps`` epochs; return every training batch's loss and each epoch's test loss."""
    nn = torch.nn  # the tutorial's `from torch import nn`, on the library passed in
    DataLoader, TensorDataset = torch.utils.data.DataLoader, torch.utils.data.TensorDataset

    torch_dtype = getattr(torch, dtype)
    x_train, y_train = make_data(256, 1)
    x_test, y_test = make_data(128, 2)
    training_data = TensorDataset(torch.from_numpy(x_train).to(torch_dtype),
                                  torch.from_numpy(y_train))
    test_data = TensorDataset(torch.tensor(x_test, dtype=torch_dtype), torch.LongTensor(y_test))

    batch_size = 64
    train_dataloader = DataLoader(training_data, batch_size=batch_size)
    test_dataloader = DataLoader(test_data, batch_size=batch_size)

    for X, y in test_dataloader:
        log(f"Shape of X [N, C, H, W]: {X.shape}")
        log(f"Shape of y: {y.shape} {y.dtype}")
        break

    device = (
        torch.accelerator.current_accelerator().type
        if torch.accelerator.is_available()
        else "cpu"
    )
    device = "cpu"  # both libraries on the CPU, so the numbers can be compared
    log(f"Using {device} device")

    class NeuralNetwork(nn.Module):
        def __init__(self):
            super().__init__()
            self.flatten = nn.Flatten()
            self.linear_relu_stack = nn.Sequential(
                nn.Linear(8 * 8, 32),
                nn.ReLU(),
                nn.Linear(32, 32),
                nn.ReLU(),
                nn.Linear(32, 10),
            )

        def forward(self, x):
            x = self.flatten(x)
            logits = self.linear_relu_stack(x)
            return logits

    model = NeuralNetwork().to(device).to(torch_dtype)
    init_from_numpy(torch, model, seed=10)
    log(model)

    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-1)
    losses: list[float] = []

    def train(dataloader, model, loss_fn, optimizer):
        size = len(dataloader.dataset)
        model.train()
        for batch, (X, y) in enumerate(dataloader):
            X, y = X.to(device), y.to(device)

            # Compute prediction error
            pred = model(X)
            loss = loss_fn(pred, y)

            # Backpropagation
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()

            losses.append(loss.item())
            if batch % 2 == 0:
                loss, current = loss.item(), (batch + 1) * len(X)
                log(f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]")

    def test(dataloader, model, loss_fn):
        size = len(dataloader.dataset)
        num_batches = len(dataloader)
        model.eval()
        test_loss, correct = 0, 0
        with torch.no_grad():
            for X, y in dataloader:
                X, y = X.to(device), y.to(device)
                pred = model(X)
                test_loss += loss_fn(pred, y).item()
                correct += (pred.argmax(1) == y).type(torch.float).sum().item()
        test_loss /= num_batches
        correct /= size
        log(f"Test Error: \n Accuracy: {(100*correct):>0.1f}%, Avg loss: {test_loss:>8f} \n")
        losses.append(test_loss)
        return correct

    for t in range(steps):
        log(f"Epoch {t+1}\n-------------------------------")
        train(train_dataloader, model, loss_fn, optimizer)
        accuracy = test(test_dataloader, model, loss_fn)
    log("Done!")

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.pth")
        torch.save(model.state_dict(), path)
        log("Saved PyTorch Model State to model.pth")
        model = NeuralNetwork().to(device).to(torch_dtype)
        model.load_state_dict(torch.load(path, weights_only=True))

    classes = [f"digit {k}" for k in range(10)]
    model.eval()
    x, y = test_data[0][0], test_data[0][1]
    with torch.no_grad():
        x = x.to(device)
        pred = model(x.unsqueeze(0))
        predicted, actual = classes[pred[0].argmax(0)], classes[y]
        log(f'Predicted: "{predicted}", Actual: "{actual}"')
        losses.append(model(torch.from_numpy(x_test[:16]).to(torch_dtype)).sum().item())
    losses.append(accuracy)
    return losses
