"""Time-sequence prediction (pytorch/examples ``time_sequence_prediction/train.py``): a
``Sequence`` model of two ``nn.LSTMCell`` layers stepped by hand over sine waves, its hidden and
cell states made with ``torch.zeros(input.size(0), 51, dtype=torch.double)``, ``future``
steps fed back from its own output, ``MSELoss``, and ``optim.LBFGS(lr=0.8)`` driven by a
``closure`` -- here with ``line_search_fn="strong_wolfe"`` too.
"""

from __future__ import annotations

import numpy as np

from ._common import init_from_numpy


def make_data(n: int = 12, length: int = 40, period: int = 20) -> np.ndarray:
    """The example's generate_sine_wave.py, smaller: shifted sine waves."""
    rng = np.random.default_rng(70)
    x = np.arange(length) + rng.integers(-4 * period, 4 * period, size=(n, 1))
    return np.sin(x / period).astype(np.float64)


def run(torch, steps: int = 3, log=print, dtype: str = "float64") -> list[float]:
    nn = torch.nn
    optim = torch.optim
    torch_dtype = getattr(torch, dtype)
    hidden = 12

    class Sequence(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm1 = nn.LSTMCell(1, hidden)
            self.lstm2 = nn.LSTMCell(hidden, hidden)
            self.linear = nn.Linear(hidden, 1)

        def forward(self, input, future=0):
            outputs = []
            h_t = torch.zeros(input.size(0), hidden, dtype=torch_dtype)
            c_t = torch.zeros(input.size(0), hidden, dtype=torch_dtype)
            h_t2 = torch.zeros(input.size(0), hidden, dtype=torch_dtype)
            c_t2 = torch.zeros(input.size(0), hidden, dtype=torch_dtype)

            for input_t in input.split(1, dim=1):
                h_t, c_t = self.lstm1(input_t, (h_t, c_t))
                h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
                output = self.linear(h_t2)
                outputs += [output]
            for _ in range(future):  # if we should predict the future
                h_t, c_t = self.lstm1(output, (h_t, c_t))
                h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
                output = self.linear(h_t2)
                outputs += [output]
            outputs = torch.cat(outputs, dim=1)
            return outputs

    data = make_data()
    input = torch.from_numpy(data[3:, :-1]).to(torch_dtype)
    target = torch.from_numpy(data[3:, 1:]).to(torch_dtype)
    test_input = torch.from_numpy(data[:3, :-1]).to(torch_dtype)
    test_target = torch.from_numpy(data[:3, 1:]).to(torch_dtype)

    losses: list[float] = []

    def train(line_search):
        seq = Sequence().to(torch_dtype)
        init_from_numpy(torch, seq, seed=71)
        criterion = nn.MSELoss()
        # use LBFGS as optimizer since we can load the whole data to train
        optimizer = optim.LBFGS(seq.parameters(), lr=0.8, max_iter=5,
                                line_search_fn=line_search)
        for i in range(steps):
            log(f"STEP: {i}")

            def closure():
                optimizer.zero_grad()
                out = seq(input)
                loss = criterion(out, target)
                log(f"loss: {loss.item()}")
                losses.append(loss.item())
                loss.backward()
                return loss

            optimizer.step(closure)
            # begin to predict, no need to track gradient here
            with torch.no_grad():
                future = 10
                pred = seq(test_input, future=future)
                loss = criterion(pred[:, :-future], test_target)
                log(f"test loss: {loss.item()}")
                losses.append(loss.item())
                y = pred.detach().numpy()
                losses.append(float(np.abs(y[:, -future:]).mean()))

    train(None)
    train("strong_wolfe")
    return losses
