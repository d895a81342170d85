"""A nanoGPT-style language model (Karpathy's model.py, cut down) with its training loop and
``generate``: token and position embeddings, causal self-attention written out with
``masked_fill(-inf)`` + softmax (and, in the second block flavour, with
``F.scaled_dot_product_attention(is_causal=True)``), LayerNorm, a GELU MLP, weight tying,
AdamW with decoupled weight decay on 2-D weights only, gradient clipping, and greedy
generation with top-k filtering (argmax, so both libraries pick the same tokens).
"""

from __future__ import annotations

import math

import numpy as np

from ._common import init_from_numpy

TEXT = ("First Citizen: Before we proceed any further, hear me speak. All: Speak, speak. "
        "First Citizen: You are all resolved rather to die than to famish? All: Resolved. ")


def run(torch, steps: int = 20, log=print, dtype: str = "float64") -> list[float]:
    nn = torch.nn
    F = torch.nn.functional
    torch_dtype = getattr(torch, dtype)

    chars = sorted(set(TEXT))
    stoi = {ch: i for i, ch in enumerate(chars)}
    itos = {i: ch for ch, i in stoi.items()}
    data = torch.tensor([stoi[c] for c in TEXT], dtype=torch.long)
    block_size, n_embd, n_head, vocab_size = 16, 32, 4, len(chars)

    class CausalSelfAttention(nn.Module):
        def __init__(self, flash: bool):
            super().__init__()
            self.c_attn = nn.Linear(n_embd, 3 * n_embd)
            self.c_proj = nn.Linear(n_embd, n_embd)
            self.n_head, self.n_embd, self.flash = n_head, n_embd, flash
            self.register_buffer("bias", torch.tril(torch.ones(block_size, block_size))
                                 .view(1, 1, block_size, block_size))

        def forward(self, x):
            B, T, C = x.size()
            q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
            k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            if self.flash:
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=0.0,
                                                   is_causal=True)
            else:
                att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
                att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
                att = F.softmax(att, dim=-1)
                y = att @ v
            y = y.transpose(1, 2).contiguous().view(B, T, C)
            return self.c_proj(y)

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_fc = nn.Linear(n_embd, 4 * n_embd)
            self.gelu = nn.GELU()
            self.c_proj = nn.Linear(4 * n_embd, n_embd)
            self.dropout = nn.Dropout(0.0)

        def forward(self, x):
            return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))

    class Block(nn.Module):
        def __init__(self, flash: bool):
            super().__init__()
            self.ln_1 = nn.LayerNorm(n_embd)
            self.attn = CausalSelfAttention(flash)
            self.ln_2 = nn.LayerNorm(n_embd)
            self.mlp = MLP()

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            x = x + self.mlp(self.ln_2(x))
            return x

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = nn.ModuleDict(dict(
                wte=nn.Embedding(vocab_size, n_embd),
                wpe=nn.Embedding(block_size, n_embd),
                drop=nn.Dropout(0.0),
                h=nn.ModuleList([Block(flash=False), Block(flash=True)]),
                ln_f=nn.LayerNorm(n_embd),
            ))
            self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
            self.transformer.wte.weight = self.lm_head.weight  # weight tying

        def get_num_params(self):
            return sum(p.numel() for p in self.parameters())

        def forward(self, idx, targets=None):
            b, t = idx.size()
            assert t <= block_size, f"Cannot forward sequence of length {t}"
            pos = torch.arange(0, t, dtype=torch.long, device=idx.device)
            tok_emb = self.transformer.wte(idx)
            pos_emb = self.transformer.wpe(pos)
            x = self.transformer.drop(tok_emb + pos_emb)
            for block in self.transformer.h:
                x = block(x)
            x = self.transformer.ln_f(x)
            if targets is not None:
                logits = self.lm_head(x)
                loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1),
                                       ignore_index=-1)
            else:
                logits = self.lm_head(x[:, [-1], :])
                loss = None
            return logits, loss

        def configure_optimizers(self, weight_decay, learning_rate, betas):
            param_dict = {pn: p for pn, p in self.named_parameters() if p.requires_grad}
            decay_params = [p for n, p in param_dict.items() if p.dim() >= 2]
            nodecay_params = [p for n, p in param_dict.items() if p.dim() < 2]
            optim_groups = [
                {"params": decay_params, "weight_decay": weight_decay},
                {"params": nodecay_params, "weight_decay": 0.0},
            ]
            log(f"num decayed parameter tensors: {len(decay_params)}, with "
                f"{sum(p.numel() for p in decay_params):,} parameters")
            return torch.optim.AdamW(optim_groups, lr=learning_rate, betas=betas)

        @torch.no_grad()
        def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None):
            for _ in range(max_new_tokens):
                idx_cond = idx if idx.size(1) <= block_size else idx[:, -block_size:]
                logits, _ = self(idx_cond)
                logits = logits[:, -1, :] / temperature
                if top_k is not None:
                    v, _ = torch.topk(logits, min(top_k, logits.size(-1)))
                    logits[logits < v[:, [-1]]] = -float("Inf")
                probs = F.softmax(logits, dim=-1)
                idx_next = torch.argmax(probs, dim=-1, keepdim=True)  # greedy: no sampling
                idx = torch.cat((idx, idx_next), dim=1)
            return idx

    model = GPT().to(torch_dtype)
    init_from_numpy(torch, model, seed=20, scale=0.2)
    log(f"number of parameters: {model.get_num_params() / 1e3:.2f}K")
    optimizer = model.configure_optimizers(weight_decay=0.1, learning_rate=1e-2,
                                           betas=(0.9, 0.95))

    batch_rng = np.random.default_rng(21)

    def get_batch(batch_size=4):
        ix = torch.from_numpy(batch_rng.integers(0, len(data) - block_size, size=batch_size))
        x = torch.stack([data[i:i + block_size] for i in ix])
        y = torch.stack([data[i + 1:i + 1 + block_size] for i in ix])
        return x, y

    losses: list[float] = []
    model.train()
    for it in range(steps):
        lr = 1e-2 * min(1.0, (it + 1) / 5)  # warmup, as nanoGPT's get_lr
        for param_group in optimizer.param_groups:
            param_group["lr"] = lr
        X, Y = get_batch()
        logits, loss = model(X, Y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses += [loss.item(), float(norm)]
        if it % 5 == 0:
            log(f"iter {it}: loss {loss.item():.4f}, norm {norm:.4f}")

    model.eval()
    context = torch.tensor([[stoi[c] for c in "First "]], dtype=torch.long)
    out = model.generate(context, max_new_tokens=12, top_k=5)
    text = "".join(itos[i] for i in out[0].tolist())
    log(text)
    losses += [float(i) for i in out[0].tolist()]
    return losses
