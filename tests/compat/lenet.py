"""LeNet on small images (the "Neural Networks" tutorial's ``Net`` and the MNIST example's
training loop): ``nn.Conv2d``, ``F.max_pool2d`` with an int and a tuple window, ``F.relu``,
``torch.flatten(x, 1)``, ``nn.Dropout`` (p=0, so both libraries agree), ``F.log_softmax`` +
``F.nll_loss``, ``optim.SGD(momentum)`` with ``lr_scheduler.StepLR``, and the test loop's
``pred.eq(target.view_as(pred)).sum().item()``.
"""

from __future__ import annotations

import numpy as np

from ._common import init_from_numpy


def run(torch, steps: int = 2, log=print, dtype: str = "float64") -> list[float]:
    nn = torch.nn
    F = torch.nn.functional
    optim = torch.optim
    torch_dtype = getattr(torch, dtype)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 4, 3)
            self.conv2 = nn.Conv2d(4, 8, 3, padding=1)
            self.dropout1 = nn.Dropout(0.0)
            self.fc1 = nn.Linear(8 * 3 * 3, 32)
            self.fc2 = nn.Linear(32, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            x = torch.flatten(x, 1)
            x = self.dropout1(F.relu(self.fc1(x)))
            x = self.fc2(x)
            return F.log_softmax(x, dim=1)

    rng = np.random.default_rng(80)
    patterns = rng.normal(size=(10, 1, 14, 14))
    labels = rng.integers(0, 10, size=96)
    images = patterns[labels] + 0.5 * rng.normal(size=(96, 1, 14, 14))
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(images).to(torch_dtype),
                                             torch.from_numpy(labels))
    train_loader = torch.utils.data.DataLoader(dataset, batch_size=32)

    model = Net().to(torch_dtype)
    init_from_numpy(torch, model, seed=81, scale=0.25)
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
    losses: list[float] = []

    def train(epoch):
        model.train()
        for batch_idx, (data, target) in enumerate(train_loader):
            optimizer.zero_grad()
            output = model(data)
            loss = F.nll_loss(output, target)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            if batch_idx % 2 == 0:
                log(f"Train Epoch: {epoch} [{batch_idx * len(data)}/{len(train_loader.dataset)}]"
                    f"\tLoss: {loss.item():.6f}")

    def test():
        model.eval()
        test_loss, correct = 0, 0
        with torch.no_grad():
            for data, target in train_loader:
                output = model(data)
                test_loss += F.nll_loss(output, target, reduction="sum").item()
                pred = output.argmax(dim=1, keepdim=True)
                correct += pred.eq(target.view_as(pred)).sum().item()
        test_loss /= len(train_loader.dataset)
        log(f"Test set: Average loss: {test_loss:.4f}, Accuracy: {correct}/"
            f"{len(train_loader.dataset)}")
        return test_loss, correct

    for epoch in range(1, steps + 1):
        train(epoch)
        losses.extend(test())
        scheduler.step()
    return losses
