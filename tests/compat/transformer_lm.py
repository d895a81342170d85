"""A Transformer language model (the "Language Modeling with nn.Transformer" tutorial and the
word_language_model example): ``nn.TransformerEncoder`` over ``nn.TransformerEncoderLayer``,
a ``PositionalEncoding`` module with a sin/cos buffer, ``nn.Transformer.
generate_square_subsequent_mask``, ``batchify``/``get_batch`` over a token stream, SGD with
``StepLR`` and ``clip_grad_norm_``, and an ``evaluate`` loop under ``no_grad``.
"""

from __future__ import annotations

import math

import numpy as np

from ._common import init_from_numpy

WORDS = ("the cat sat on the mat and the dog sat on the log while the bird sang in the "
         "tree and the cat watched the bird and the dog slept on the mat").split()


def run(torch, steps: int = 2, log=print, dtype: str = "float64") -> list[float]:
    nn = torch.nn
    Tensor = torch.Tensor
    TransformerEncoder, TransformerEncoderLayer = nn.TransformerEncoder, nn.TransformerEncoderLayer
    torch_dtype = getattr(torch, dtype)

    class PositionalEncoding(nn.Module):
        def __init__(self, d_model: int, dropout: float = 0.0, max_len: int = 5000):
            super().__init__()
            self.dropout = nn.Dropout(p=dropout)
            position = torch.arange(max_len).unsqueeze(1)
            div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
            pe = torch.zeros(max_len, 1, d_model)
            pe[:, 0, 0::2] = torch.sin(position * div_term)
            pe[:, 0, 1::2] = torch.cos(position * div_term)
            self.register_buffer("pe", pe)

        def forward(self, x: Tensor) -> Tensor:
            x = x + self.pe[:x.size(0)]
            return self.dropout(x)

    class TransformerModel(nn.Module):
        def __init__(self, ntoken, d_model, nhead, d_hid, nlayers, dropout=0.0):
            super().__init__()
            self.model_type = "Transformer"
            self.pos_encoder = PositionalEncoding(d_model, dropout, max_len=64)
            encoder_layers = TransformerEncoderLayer(d_model, nhead, d_hid, dropout)
            self.transformer_encoder = TransformerEncoder(encoder_layers, nlayers,
                                                          enable_nested_tensor=False)
            self.embedding = nn.Embedding(ntoken, d_model)
            self.d_model = d_model
            self.linear = nn.Linear(d_model, ntoken)

        def forward(self, src: Tensor, src_mask: Tensor = None) -> Tensor:
            src = self.embedding(src) * math.sqrt(self.d_model)
            src = self.pos_encoder(src)
            if src_mask is None:
                src_mask = nn.Transformer.generate_square_subsequent_mask(len(src)).to(
                    src.dtype)
            output = self.transformer_encoder(src, src_mask)
            output = self.linear(output)
            return output

    vocab = {w: i for i, w in enumerate(sorted(set(WORDS)))}
    stream = torch.tensor([vocab[w] for w in WORDS * 3], dtype=torch.long)

    def batchify(data: Tensor, bsz: int) -> Tensor:
        seq_len = data.size(0) // bsz
        data = data[:seq_len * bsz]
        data = data.view(bsz, seq_len).t().contiguous()
        return data

    bptt = 8

    def get_batch(source: Tensor, i: int):
        seq_len = min(bptt, len(source) - 1 - i)
        data = source[i:i + seq_len]
        target = source[i + 1:i + 1 + seq_len].reshape(-1)
        return data, target

    train_data = batchify(stream[:80], 4)
    val_data = batchify(stream[80:], 2)

    ntokens = len(vocab)
    model = TransformerModel(ntokens, d_model=16, nhead=2, d_hid=32, nlayers=2).to(torch_dtype)
    init_from_numpy(torch, model, seed=50, scale=0.2)
    criterion = nn.CrossEntropyLoss()
    lr = 0.5
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 1.0, gamma=0.95)
    losses: list[float] = []

    def train(model: nn.Module) -> None:
        model.train()
        total_loss = 0.
        src_mask = nn.Transformer.generate_square_subsequent_mask(bptt).to(torch_dtype)
        for batch, i in enumerate(range(0, train_data.size(0) - 1, bptt)):
            data, targets = get_batch(train_data, i)
            seq_len = data.size(0)
            mask = src_mask if seq_len == bptt else src_mask[:seq_len, :seq_len]
            output = model(data, mask)
            output_flat = output.view(-1, ntokens)
            loss = criterion(output_flat, targets)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
            optimizer.step()
            total_loss += loss.item()
            losses.append(loss.item())
            if batch % 2 == 0:
                log(f"| batch {batch:3d} | loss {loss.item():5.2f}")
        cur_loss = total_loss / (batch + 1)
        log(f"| lr {scheduler.get_last_lr()[0]:02.2f} | loss {cur_loss:5.2f} "
            f"| ppl {math.exp(cur_loss):8.2f}")

    def evaluate(model: nn.Module, eval_data: Tensor) -> float:
        model.eval()
        total_loss = 0.
        with torch.no_grad():
            for i in range(0, eval_data.size(0) - 1, bptt):
                data, targets = get_batch(eval_data, i)
                seq_len = data.size(0)
                output = model(data)
                output_flat = output.view(-1, ntokens)
                total_loss += seq_len * criterion(output_flat, targets).item()
        return total_loss / (len(eval_data) - 1)

    for epoch in range(1, steps + 1):
        train(model)
        val_loss = evaluate(model, val_data)
        losses.append(val_loss)
        log(f"| end of epoch {epoch:3d} | valid loss {val_loss:5.2f} "
            f"| valid ppl {math.exp(val_loss):8.2f}")
        scheduler.step()
    losses.append(float(np.float64(scheduler.get_last_lr()[0])))
    return losses
