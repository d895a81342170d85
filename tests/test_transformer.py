"""MultiheadAttention and the Transformer layers: PyTorch parity with a torch state_dict
loaded (forward and input gradients), mask conventions, PositionalEncoding, and a small
Transformer that has to learn to reverse sequences."""

import time

import ember
import numpy as np
import pytest
from ember import nn


def _state_from_torch(module):
    return {k: ember.tensor(v.detach().numpy()) for k, v in module.state_dict().items()}


def _load(ember_module, torch_module):
    result = ember_module.load_state_dict(_state_from_torch(torch_module))
    assert result.missing_keys == [] and result.unexpected_keys == []
    return ember_module


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _compare(torch, ember_fn, torch_fn, inputs, atol=2e-5, grad_atol=2e-4):
    """Run both with the same float32 inputs; compare the outputs and the input grads of
    sum(out * w)."""
    tt = [torch.tensor(a, requires_grad=True) for a in inputs]
    et = [ember.tensor(a, requires_grad=True) for a in inputs]
    tout, eout = torch_fn(*tt), ember_fn(*et)
    w = _rand(*tout.shape, seed=9)
    np.testing.assert_allclose(eout.detach().numpy(), tout.detach().numpy(), atol=atol)
    (tout * torch.tensor(w)).sum().backward()
    (eout * ember.tensor(w)).sum().backward()
    for a, b in zip(et, tt):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=grad_atol)


# ---------------------------------------------------------------------------- MHA
def test_mha_parameters_match_pytorch_names_shapes_and_init():
    m = nn.MultiheadAttention(16, 4)
    shapes = {k: tuple(v.shape) for k, v in m.state_dict().items()}
    assert shapes == {"in_proj_weight": (48, 16), "in_proj_bias": (48,),
                      "out_proj.weight": (16, 16), "out_proj.bias": (16,)}
    assert np.all(m.in_proj_bias.detach().numpy() == 0)
    assert np.all(m.out_proj.bias.detach().numpy() == 0)
    bound = np.sqrt(6 / (48 + 16))  # xavier_uniform_ on (3E, E)
    w = m.in_proj_weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    m2 = nn.MultiheadAttention(16, 4, kdim=6, vdim=10, bias=False)
    shapes = {k: tuple(v.shape) for k, v in m2.state_dict().items()}
    assert shapes == {"q_proj_weight": (16, 16), "k_proj_weight": (16, 6),
                      "v_proj_weight": (16, 10), "out_proj.weight": (16, 16)}
    with pytest.raises(ValueError, match="multiple of num_heads"):
        nn.MultiheadAttention(10, 3)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_self_attention_matches_pytorch(batch_first, need_weights):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tm = torch.nn.MultiheadAttention(16, 4, batch_first=batch_first).eval()
    em = _load(nn.MultiheadAttention(16, 4, batch_first=batch_first), tm).eval()
    x = _rand(3, 7, 16) if batch_first else _rand(7, 3, 16)
    kpm = np.zeros((3, 7), bool)
    kpm[1, 5:] = True  # True = padding, ignored
    am = _rand(7, 7, seed=3)
    for mask_kw in ({}, {"key_padding_mask": kpm}, {"attn_mask": am},
                    {"attn_mask": np.triu(np.ones((7, 7), bool), 1), "key_padding_mask": kpm}):
        def run(lib, mod, t, kw=mask_kw):
            kw = {k: lib.tensor(v) for k, v in kw.items()}
            return mod(t, t, t, need_weights=need_weights, **kw)[0]

        _compare(torch, lambda t: run(ember, em, t), lambda t: run(torch, tm, t), [x])
    if need_weights:
        tw = tm(*(torch.tensor(x),) * 3, average_attn_weights=False)[1]
        ew = em(*(ember.tensor(x),) * 3, average_attn_weights=False)[1]
        np.testing.assert_allclose(ew.detach().numpy(), tw.detach().numpy(), atol=1e-5)


def test_mha_cross_attention_kdim_vdim_unbatched_and_causal():
    torch = pytest.importorskip("torch")
    torch.manual_seed(1)
    tm = torch.nn.MultiheadAttention(16, 2, kdim=6, vdim=10).eval()
    em = _load(nn.MultiheadAttention(16, 2, kdim=6, vdim=10), tm).eval()
    q, k, v = _rand(5, 2, 16), _rand(8, 2, 6, seed=1), _rand(8, 2, 10, seed=2)
    _compare(torch, lambda a, b, c: em(a, b, c)[0], lambda a, b, c: tm(a, b, c)[0], [q, k, v])
    # unbatched (L, E)
    _compare(torch, lambda a, b, c: em(a, b, c, need_weights=False)[0],
             lambda a, b, c: tm(a, b, c, need_weights=False)[0], [q[:, 0], k[:, 0], v[:, 0]])
    # is_causal with its mask (PyTorch needs both; the fused path uses the flag)
    tm2 = torch.nn.MultiheadAttention(16, 4).eval()
    em2 = _load(nn.MultiheadAttention(16, 4), tm2).eval()
    causal = torch.nn.Transformer.generate_square_subsequent_mask(5)
    x = _rand(5, 2, 16)
    _compare(torch,
             lambda t: em2(t, t, t, attn_mask=ember.tensor(causal.numpy()), is_causal=True,
                           need_weights=False)[0],
             lambda t: tm2(t, t, t, attn_mask=causal, is_causal=True, need_weights=False)[0],
             [x])


def test_mha_bad_masks():
    m = nn.MultiheadAttention(8, 2)
    x = ember.randn(4, 3, 8)
    with pytest.raises(ValueError, match="key_padding_mask must be"):
        m(x, x, x, key_padding_mask=ember.zeros(4, 3, dtype=ember.bool))
    with pytest.raises(ValueError, match="attn_mask must be"):
        m(x, x, x, attn_mask=ember.zeros(5, 4, 4))
    with pytest.raises(ValueError, match="features"):
        m(x, ember.randn(4, 3, 7), x)


# ---------------------------------------------------------------------------- layers
@pytest.mark.parametrize("norm_first,activation,batch_first",
                         [(False, "relu", False), (True, "gelu", True)])
def test_encoder_layer_matches_pytorch(norm_first, activation, batch_first):
    torch = pytest.importorskip("torch")
    torch.manual_seed(2)
    kw = dict(dim_feedforward=32, dropout=0.0, activation=activation,
              batch_first=batch_first, norm_first=norm_first)
    tl = torch.nn.TransformerEncoderLayer(16, 4, **kw).eval()
    el = _load(nn.TransformerEncoderLayer(16, 4, **kw), tl).eval()
    x = _rand(2, 6, 16) if batch_first else _rand(6, 2, 16)
    kpm = np.zeros((2, 6), bool)
    kpm[0, 4:] = True
    _compare(torch, lambda t: el(t), lambda t: tl(t), [x])
    _compare(torch, lambda t: el(t, src_key_padding_mask=ember.tensor(kpm)),
             lambda t: tl(t, src_key_padding_mask=torch.tensor(kpm)), [x])


def test_decoder_layer_and_full_transformer_match_pytorch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(3)
    kw = dict(dim_feedforward=32, dropout=0.0)
    tl = torch.nn.TransformerDecoderLayer(16, 4, **kw).eval()
    el = _load(nn.TransformerDecoderLayer(16, 4, **kw), tl).eval()
    tgt, mem = _rand(5, 2, 16), _rand(7, 2, 16, seed=1)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(5)
    emask = nn.Transformer.generate_square_subsequent_mask(5)
    np.testing.assert_array_equal(emask.numpy(), mask.numpy())
    _compare(torch, lambda a, b: el(a, b, tgt_mask=emask, tgt_is_causal=True),
             lambda a, b: tl(a, b, tgt_mask=mask, tgt_is_causal=True), [tgt, mem])

    tt = torch.nn.Transformer(16, 4, 2, 2, 32, dropout=0.0).eval()
    et = _load(nn.Transformer(16, 4, 2, 2, 32, dropout=0.0), tt).eval()
    assert "encoder.layers.1.self_attn.in_proj_weight" in et.state_dict()
    assert "decoder.norm.weight" in et.state_dict()
    _compare(torch, lambda a, b: et(a, b, tgt_mask=emask),
             lambda a, b: tt(a, b, tgt_mask=mask), [mem, tgt], grad_atol=5e-4)


def test_encoder_stack_layers_are_independent_copies():
    layer = nn.TransformerEncoderLayer(8, 2, 16)
    enc = nn.TransformerEncoder(layer, 3, norm=nn.LayerNorm(8))
    w = [enc.layers[i].linear1.weight for i in range(3)]
    assert w[0] is not w[1] and np.array_equal(w[0].detach().numpy(), w[1].detach().numpy())
    assert enc(ember.randn(4, 2, 8)).shape == (4, 2, 8)


def test_positional_encoding():
    pe = nn.PositionalEncoding(6, max_len=10)
    assert "pe" not in pe.state_dict()  # persistent=False
    x = ember.zeros(4, 2, 6)
    out = pe(x).numpy()
    pos, i = 3, 1
    assert np.isclose(out[pos, 0, 2 * i], np.sin(pos / 10000 ** (2 * i / 6)), atol=1e-6)
    assert np.isclose(out[pos, 1, 2 * i + 1], np.cos(pos / 10000 ** (2 * i / 6)), atol=1e-6)
    assert nn.PositionalEncoding(5, 8, batch_first=True)(ember.zeros(2, 8, 5)).shape == (2, 8, 5)
    with pytest.raises(ValueError, match="max_len"):
        pe(ember.zeros(11, 1, 6))


# ---------------------------------------------------------------------------- learning
class Reverser(nn.Module):
    """Token embedding + positions + a 2-layer encoder + a per-position classifier."""

    def __init__(self, vocab, d=32, length=6):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(length, d)
        layer = nn.TransformerEncoderLayer(d, 4, 64, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2)
        self.head = nn.Linear(d, vocab)

    def forward(self, tokens):
        positions = ember.arange(tokens.shape[1])
        return self.head(self.encoder(self.embed(tokens) + self.pos(positions)))


@pytest.mark.slow
def test_transformer_learns_to_reverse_sequences():
    """Reversal needs attention by position (output i reads input L-1-i): a bag of tokens
    cannot do it. Bar: > 95% token accuracy on fresh sequences within ~400 steps."""
    rng = np.random.default_rng(0)
    vocab, length = 8, 6
    model = Reverser(vocab, length=length)
    opt = ember.optim.Adam(model.parameters(), lr=3e-3)
    start = time.perf_counter()
    for _ in range(400):
        x = rng.integers(0, vocab, (64, length))
        logits = model(ember.tensor(x))
        loss = nn.functional.cross_entropy(logits.reshape(-1, vocab),
                                           ember.tensor(x[:, ::-1].copy().reshape(-1)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    x = rng.integers(0, vocab, (256, length))
    with ember.no_grad():
        pred = model(ember.tensor(x)).argmax(-1).numpy()
    accuracy = (pred == x[:, ::-1]).mean()
    assert accuracy > 0.95, (accuracy, time.perf_counter() - start)


@pytest.mark.parametrize("add_bias_kv, add_zero_attn, need_weights",
                         [(True, False, True), (False, True, False), (True, True, True)])
def test_mha_bias_kv_and_zero_attn_match_pytorch(add_bias_kv, add_zero_attn, need_weights):
    torch = pytest.importorskip("torch")
    gen = np.random.default_rng(3)
    tm = torch.nn.MultiheadAttention(8, 2, add_bias_kv=add_bias_kv,
                                     add_zero_attn=add_zero_attn).double()
    em = nn.MultiheadAttention(8, 2, add_bias_kv=add_bias_kv,
                               add_zero_attn=add_zero_attn).double()
    em.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    x = gen.normal(size=(5, 3, 8))
    kpm = np.zeros((3, 5), bool)
    kpm[1, 3:] = True
    causal = np.triu(np.ones((5, 5), bool), 1)
    xt = torch.tensor(x, requires_grad=True)
    xe = ember.tensor(x, requires_grad=True)
    yt, wt = tm(xt, xt, xt, key_padding_mask=torch.tensor(kpm), attn_mask=torch.tensor(causal),
                need_weights=need_weights)
    ye, we = em(xe, xe, xe, key_padding_mask=ember.tensor(kpm), attn_mask=ember.tensor(causal),
                need_weights=need_weights)
    np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), atol=1e-12)
    if need_weights:
        np.testing.assert_allclose(we.detach().numpy(), wt.detach().numpy(), atol=1e-12)
    yt.sum().backward()
    ye.sum().backward()
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), atol=1e-10)
    if add_bias_kv:
        np.testing.assert_allclose(em.bias_k.grad.numpy(), tm.bias_k.grad.numpy(), atol=1e-10)
