"""Char-RNN name classification (the "NLP From Scratch: Classifying Names" tutorial): names as
one-hot letter tensors (``lineToTensor``), an ``nn.RNN`` classifier with ``nn.LogSoftmax`` and
``nn.NLLLoss``, and the tutorial's first version too -- a hand-written hidden-state loop over an
``nn.RNNCell`` (and an ``nn.GRU`` variant). Training samples are drawn from a NumPy generator,
so both libraries see the same order.
"""

from __future__ import annotations

import string

import numpy as np

from ._common import init_from_numpy

ALL_LETTERS = string.ascii_letters + " .,;'"
N_LETTERS = len(ALL_LETTERS)
CATEGORY_LINES = {
    "English": ["Smith", "Jones", "Taylor", "Brown", "Wilson", "Evans"],
    "Italian": ["Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano"],
    "Japanese": ["Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito"],
}
ALL_CATEGORIES = list(CATEGORY_LINES)


def run(torch, steps: int = 30, log=print, dtype: str = "float64") -> list[float]:
    nn = torch.nn
    torch_dtype = getattr(torch, dtype)

    def letterToIndex(letter):
        return ALL_LETTERS.find(letter)

    def lineToTensor(line):
        tensor = torch.zeros(len(line), 1, N_LETTERS, dtype=torch_dtype)
        for li, letter in enumerate(line):
            tensor[li][0][letterToIndex(letter)] = 1
        return tensor

    class CharRNN(nn.Module):
        def __init__(self, input_size, hidden_size, output_size, cell="rnn"):
            super().__init__()
            rnn = nn.GRU if cell == "gru" else nn.RNN
            self.rnn = rnn(input_size, hidden_size)
            self.h2o = nn.Linear(hidden_size, output_size)
            self.softmax = nn.LogSoftmax(dim=1)

        def forward(self, line_tensor):
            rnn_out, hidden = self.rnn(line_tensor)
            output = self.h2o(hidden[0])
            output = self.softmax(output)
            return output

    class CellRNN(nn.Module):
        """The tutorial's original RNN: one step at a time, the hidden state carried by hand."""

        def __init__(self, input_size, hidden_size, output_size):
            super().__init__()
            self.hidden_size = hidden_size
            self.cell = nn.RNNCell(input_size, hidden_size, nonlinearity="tanh")
            self.h2o = nn.Linear(hidden_size, output_size)
            self.softmax = nn.LogSoftmax(dim=1)

        def forward(self, line_tensor):
            hidden = self.initHidden()
            for i in range(line_tensor.size()[0]):
                hidden = self.cell(line_tensor[i], hidden)
            return self.softmax(self.h2o(hidden))

        def initHidden(self):
            return torch.zeros(1, self.hidden_size, dtype=torch_dtype)

    def categoryFromOutput(output):
        top_n, top_i = output.topk(1)
        category_i = top_i[0].item()
        return ALL_CATEGORIES[category_i], category_i

    losses: list[float] = []
    rng = np.random.default_rng(31)
    for kind, seed in (("rnn", 32), ("gru", 33), ("cell", 34)):
        if kind == "cell":
            rnn = CellRNN(N_LETTERS, 16, len(ALL_CATEGORIES))
        else:
            rnn = CharRNN(N_LETTERS, 16, len(ALL_CATEGORIES), cell=kind)
        rnn = rnn.to(torch_dtype)
        init_from_numpy(torch, rnn, seed=seed)
        criterion = nn.NLLLoss()
        optimizer = torch.optim.SGD(rnn.parameters(), lr=0.05, momentum=0.5)
        rnn.train()
        for it in range(steps):
            category = ALL_CATEGORIES[rng.integers(len(ALL_CATEGORIES))]
            names = CATEGORY_LINES[category]
            line = names[rng.integers(len(names))]
            category_tensor = torch.tensor([ALL_CATEGORIES.index(category)], dtype=torch.long)
            line_tensor = lineToTensor(line)
            output = rnn(line_tensor)
            loss = criterion(output, category_tensor)
            loss.backward()
            nn.utils.clip_grad_norm_(rnn.parameters(), 3)
            optimizer.step()
            optimizer.zero_grad()
            losses.append(loss.item())
            if it % 10 == 0:
                guess, _ = categoryFromOutput(output)
                correct = "✓" if guess == category else f"✗ ({category})"
                log(f"{kind} {it} {loss:.4f} {line} / {guess} {correct}")
        rnn.eval()
        with torch.no_grad():
            for names in CATEGORY_LINES.values():
                for name in names:
                    losses.append(categoryFromOutput(rnn(lineToTensor(name)))[1])
    return losses
