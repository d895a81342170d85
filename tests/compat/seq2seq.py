"""Seq2seq translation with attention (the "NLP From Scratch: Translation with a Sequence to
Sequence Network and Attention" tutorial): an ``EncoderRNN`` (Embedding + GRU), a
``BahdanauAttention`` (``Wa``/``Ua``/``Va``, ``torch.bmm``), an ``AttnDecoderRNN`` that feeds
its own ``topk`` prediction back (or the target, with teacher forcing), ``NLLLoss`` over
``log_softmax`` outputs, and two Adam optimisers. Sentence pairs are a tiny made-up
French -> English set; teacher forcing alternates by step instead of ``random.random()``.
"""

from __future__ import annotations

import numpy as np

from ._common import init_from_numpy

SOS_token, EOS_token = 0, 1
PAIRS = [
    ("je suis froid", "i am cold"),
    ("il est grand", "he is tall"),
    ("elle est petite", "she is small"),
    ("nous sommes ici", "we are here"),
    ("je suis grand", "i am tall"),
    ("il est ici", "he is here"),
]
MAX_LENGTH = 5


class Lang:
    def __init__(self, name):
        self.name = name
        self.word2index = {}
        self.index2word = {0: "SOS", 1: "EOS"}
        self.n_words = 2

    def addSentence(self, sentence):
        for word in sentence.split(" "):
            if word not in self.word2index:
                self.word2index[word] = self.n_words
                self.index2word[self.n_words] = word
                self.n_words += 1


def run(torch, steps: int = 20, log=print, dtype: str = "float64") -> list[float]:
    nn = torch.nn
    F = torch.nn.functional
    optim = torch.optim
    torch_dtype = getattr(torch, dtype)

    input_lang, output_lang = Lang("fra"), Lang("eng")
    for src, tgt in PAIRS:
        input_lang.addSentence(src)
        output_lang.addSentence(tgt)

    class EncoderRNN(nn.Module):
        def __init__(self, input_size, hidden_size, dropout_p=0.0):
            super().__init__()
            self.hidden_size = hidden_size
            self.embedding = nn.Embedding(input_size, hidden_size)
            self.gru = nn.GRU(hidden_size, hidden_size, batch_first=True)
            self.dropout = nn.Dropout(dropout_p)

        def forward(self, input):
            embedded = self.dropout(self.embedding(input))
            output, hidden = self.gru(embedded)
            return output, hidden

    class BahdanauAttention(nn.Module):
        def __init__(self, hidden_size):
            super().__init__()
            self.Wa = nn.Linear(hidden_size, hidden_size)
            self.Ua = nn.Linear(hidden_size, hidden_size)
            self.Va = nn.Linear(hidden_size, 1)

        def forward(self, query, keys):
            scores = self.Va(torch.tanh(self.Wa(query) + self.Ua(keys)))
            scores = scores.squeeze(2).unsqueeze(1)
            weights = F.softmax(scores, dim=-1)
            context = torch.bmm(weights, keys)
            return context, weights

    class AttnDecoderRNN(nn.Module):
        def __init__(self, hidden_size, output_size, dropout_p=0.0):
            super().__init__()
            self.embedding = nn.Embedding(output_size, hidden_size)
            self.attention = BahdanauAttention(hidden_size)
            self.gru = nn.GRU(2 * hidden_size, hidden_size, batch_first=True)
            self.out = nn.Linear(hidden_size, output_size)
            self.dropout = nn.Dropout(dropout_p)

        def forward(self, encoder_outputs, encoder_hidden, target_tensor=None):
            batch_size = encoder_outputs.size(0)
            decoder_input = torch.empty(batch_size, 1, dtype=torch.long).fill_(SOS_token)
            decoder_hidden = encoder_hidden
            decoder_outputs = []
            attentions = []

            for i in range(MAX_LENGTH):
                decoder_output, decoder_hidden, attn_weights = self.forward_step(
                    decoder_input, decoder_hidden, encoder_outputs
                )
                decoder_outputs.append(decoder_output)
                attentions.append(attn_weights)

                if target_tensor is not None:
                    # Teacher forcing: Feed the target as the next input
                    decoder_input = target_tensor[:, i].unsqueeze(1)
                else:
                    # Without teacher forcing: use its own predictions as the next input
                    _, topi = decoder_output.topk(1)
                    decoder_input = topi.squeeze(-1).detach()

            decoder_outputs = torch.cat(decoder_outputs, dim=1)
            decoder_outputs = F.log_softmax(decoder_outputs, dim=-1)
            attentions = torch.cat(attentions, dim=1)
            return decoder_outputs, decoder_hidden, attentions

        def forward_step(self, input, hidden, encoder_outputs):
            embedded = self.dropout(self.embedding(input))
            query = hidden.permute(1, 0, 2)
            context, attn_weights = self.attention(query, encoder_outputs)
            input_gru = torch.cat((embedded, context), dim=2)
            output, hidden = self.gru(input_gru, hidden)
            output = self.out(output)
            return output, hidden, attn_weights

    def indexesFromSentence(lang, sentence):
        return [lang.word2index[word] for word in sentence.split(" ")]

    def get_dataloader(batch_size):
        n = len(PAIRS)
        input_ids = np.zeros((n, MAX_LENGTH), dtype=np.int64)
        target_ids = np.zeros((n, MAX_LENGTH), dtype=np.int64)
        for idx, (inp, tgt) in enumerate(PAIRS):
            inp_ids = indexesFromSentence(input_lang, inp) + [EOS_token]
            tgt_ids = indexesFromSentence(output_lang, tgt) + [EOS_token]
            input_ids[idx, :len(inp_ids)] = inp_ids
            target_ids[idx, :len(tgt_ids)] = tgt_ids
        train_data = torch.utils.data.TensorDataset(torch.LongTensor(input_ids),
                                                    torch.LongTensor(target_ids))
        return torch.utils.data.DataLoader(train_data, batch_size=batch_size, shuffle=False)

    hidden_size = 16
    encoder = EncoderRNN(input_lang.n_words, hidden_size).to(torch_dtype)
    decoder = AttnDecoderRNN(hidden_size, output_lang.n_words).to(torch_dtype)
    init_from_numpy(torch, encoder, seed=40)
    init_from_numpy(torch, decoder, seed=41)
    train_dataloader = get_dataloader(batch_size=3)
    encoder_optimizer = optim.Adam(encoder.parameters(), lr=0.01)
    decoder_optimizer = optim.Adam(decoder.parameters(), lr=0.01)
    criterion = nn.NLLLoss()

    losses: list[float] = []
    for epoch in range(steps):
        total_loss = 0
        for data in train_dataloader:
            input_tensor, target_tensor = data
            encoder_optimizer.zero_grad()
            decoder_optimizer.zero_grad()
            encoder_outputs, encoder_hidden = encoder(input_tensor)
            teacher = target_tensor if epoch % 2 == 0 else None
            decoder_outputs, _, _ = decoder(encoder_outputs, encoder_hidden, teacher)
            loss = criterion(
                decoder_outputs.view(-1, decoder_outputs.size(-1)),
                target_tensor.view(-1)
            )
            loss.backward()
            encoder_optimizer.step()
            decoder_optimizer.step()
            total_loss += loss.item()
        losses.append(total_loss / len(train_dataloader))
        if epoch % 5 == 0:
            log(f"epoch {epoch} loss {losses[-1]:.4f}")

    def evaluate(sentence):
        with torch.no_grad():
            input_tensor = torch.tensor(indexesFromSentence(input_lang, sentence) + [EOS_token],
                                        dtype=torch.long).view(1, -1)
            encoder_outputs, encoder_hidden = encoder(input_tensor)
            decoder_outputs, _, attn = decoder(encoder_outputs, encoder_hidden)
            _, topi = decoder_outputs.topk(1)
            decoded_ids = topi.squeeze()
            words = []
            for idx in decoded_ids:
                if idx.item() == EOS_token:
                    words.append("<EOS>")
                    break
                words.append(output_lang.index2word[idx.item()])
        return words, attn

    encoder.eval()
    decoder.eval()
    for src, tgt in PAIRS:
        words, attn = evaluate(src)
        log(f"> {src}\n= {tgt}\n< {' '.join(words)}")
        losses.append(float(attn.sum(-1).mean()))
        losses += [float(len(words)), float(words == tgt.split(" ") + ["<EOS>"])]
    return losses
