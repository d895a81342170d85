"""A variational autoencoder (the pytorch/examples ``vae/main.py``): ``fc1``/``fc21``/``fc22``
encoder, ``reparameterize`` with ``torch.exp(0.5*logvar)``, a sigmoid decoder, the loss
``F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction='sum')`` plus the KL term, Adam,
and ``save_image``-free sampling from a fixed latent. ``torch.randn_like`` is replaced by a
FIXED noise tensor made with NumPy, so both libraries draw the same eps.
"""

from __future__ import annotations

import numpy as np

from ._common import init_from_numpy

D = 8 * 8  # the example's 784 (28x28), here 8x8 images


def run(torch, steps: int = 3, log=print, dtype: str = "float64") -> list[float]:
    nn = torch.nn
    F = torch.nn.functional
    optim = torch.optim
    torch_dtype = getattr(torch, dtype)

    rng = np.random.default_rng(60)
    images = (rng.random((96, 1, 8, 8)) < np.linspace(0.1, 0.9, D).reshape(1, 1, 8, 8))
    train_loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(images.astype(np.float64)).to(torch_dtype),
                                       torch.zeros(96, dtype=torch.long)),
        batch_size=32, shuffle=False)
    noise = np.random.default_rng(61).standard_normal((steps * len(train_loader) + 1, 32, 4))
    draw = iter(range(len(noise)))

    class VAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(D, 40)
            self.fc21 = nn.Linear(40, 4)
            self.fc22 = nn.Linear(40, 4)
            self.fc3 = nn.Linear(4, 40)
            self.fc4 = nn.Linear(40, D)

        def encode(self, x):
            h1 = F.relu(self.fc1(x))
            return self.fc21(h1), self.fc22(h1)

        def reparameterize(self, mu, logvar):
            std = torch.exp(0.5 * logvar)
            eps = torch.from_numpy(noise[next(draw)][:len(std)]).to(std.dtype)  # randn_like(std)
            return mu + eps * std

        def decode(self, z):
            h3 = F.relu(self.fc3(z))
            return torch.sigmoid(self.fc4(h3))

        def forward(self, x):
            mu, logvar = self.encode(x.view(-1, D))
            z = self.reparameterize(mu, logvar)
            return self.decode(z), mu, logvar

    model = VAE().to(torch_dtype)
    init_from_numpy(torch, model, seed=62)
    optimizer = optim.Adam(model.parameters(), lr=1e-2)

    # Reconstruction + KL divergence losses summed over all elements and batch
    def loss_function(recon_x, x, mu, logvar):
        BCE = F.binary_cross_entropy(recon_x, x.view(-1, D), reduction="sum")
        # see Appendix B from VAE paper: Kingma and Welling. Auto-Encoding Variational Bayes.
        # 0.5 * sum(1 + log(sigma^2) - mu^2 - sigma^2)
        KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return BCE + KLD

    losses: list[float] = []

    def train(epoch):
        model.train()
        train_loss = 0
        for batch_idx, (data, _) in enumerate(train_loader):
            optimizer.zero_grad()
            recon_batch, mu, logvar = model(data)
            loss = loss_function(recon_batch, data, mu, logvar)
            loss.backward()
            train_loss += loss.item()
            optimizer.step()
            losses.append(loss.item() / len(data))
            if batch_idx % 2 == 0:
                log(f"Train Epoch: {epoch} [{batch_idx * len(data)}/{len(train_loader.dataset)} "
                    f"({100. * batch_idx / len(train_loader):.0f}%)]\t"
                    f"Loss: {loss.item() / len(data):.6f}")
        log(f"====> Epoch: {epoch} Average loss: {train_loss / len(train_loader.dataset):.4f}")

    def test(epoch):
        model.eval()
        test_loss = 0
        with torch.no_grad():
            for data, _ in train_loader:
                mu, logvar = model.encode(data.view(-1, D))
                recon_batch = model.decode(mu)  # the mean, no sampling at test time
                test_loss += loss_function(recon_batch, data, mu, logvar).item()
        test_loss /= len(train_loader.dataset)
        log(f"====> Test set loss: {test_loss:.4f}")
        losses.append(test_loss)

    for epoch in range(1, steps + 1):
        train(epoch)
        test(epoch)
        with torch.no_grad():
            sample = torch.from_numpy(noise[-1][:8]).to(torch_dtype)
            sample = model.decode(sample).cpu()
            losses.append(sample.view(8, 1, 8, 8).mean().item())
    return losses
