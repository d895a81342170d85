"""generate(): the same tokens as transformers' greedy search (left-padded batches, end
tokens, repetition penalty), its logits processors against transformers' on the same
scores, seeded sampling, the KV cache against the re-run, and the argument errors."""

import ember
import numpy as np
import pytest
from ember.models import GPT2Config, GPT2LMHeadModel
from ember.models.generation import apply_repetition_penalty, top_k_filter, top_p_filter

VOCAB = 50
SMALL = dict(n_layer=2, n_head=2, n_embd=32, vocab_size=VOCAB, n_positions=40,
             bos_token_id=VOCAB - 1, eos_token_id=VOCAB - 1)


def E(t):
    return ember.tensor(t.detach().numpy())


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """(transformers' model in float64, ember's from its folder in float64). The weights
    get a wider init (std 0.3) so that the greedy choices are far from ties."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    ref = transformers.GPT2LMHeadModel(
        transformers.GPT2Config(**SMALL, initializer_range=0.3)).eval().double()
    folder = tmp_path_factory.mktemp("gpt2gen")
    ref.save_pretrained(folder)
    return ref, GPT2LMHeadModel.from_pretrained(folder, dtype="float64")


def _prompts(torch):
    g = torch.Generator().manual_seed(3)
    ids = torch.randint(0, VOCAB - 1, (3, 7), generator=g)
    mask = torch.ones_like(ids)
    mask[1, :2] = 0
    mask[2, :5] = 0
    ids[mask == 0] = 0  # the padding token's id must not matter
    return ids, mask


@pytest.mark.parametrize("use_cache", [True, False])
def test_greedy_matches_transformers_on_a_left_padded_batch(pair, use_cache):
    torch = pytest.importorskip("torch")
    ref, model = pair
    ids, mask = _prompts(torch)
    want = ref.generate(ids, attention_mask=mask, max_new_tokens=12, do_sample=False,
                        eos_token_id=None, pad_token_id=0)
    got = model.generate(E(ids), E(mask), max_new_tokens=12, eos_token_id=[],
                         use_cache=use_cache)
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_a_padded_prompt_generates_what_it_generates_alone(pair):
    torch = pytest.importorskip("torch")
    _, model = pair
    ids, mask = _prompts(torch)
    batch = model.generate(E(ids), E(mask), max_new_tokens=6, eos_token_id=[]).numpy()
    for r in range(3):
        alone = model.generate(E(ids[r:r + 1, mask[r].bool()]), max_new_tokens=6,
                               eos_token_id=[]).numpy()
        np.testing.assert_array_equal(batch[r, -6:], alone[0, -6:])


def test_end_token_and_repetition_penalty_match_transformers(pair):
    torch = pytest.importorskip("torch")
    ref, model = pair
    ids, mask = _prompts(torch)
    free = model.generate(E(ids), E(mask), max_new_tokens=10, eos_token_id=[]).numpy()
    eos = int(free[0, 9])  # row 0's third new token: row 0 ends there, others go on
    kw = dict(max_new_tokens=10, repetition_penalty=1.3)
    want = ref.generate(ids, attention_mask=mask, do_sample=False, eos_token_id=eos,
                        pad_token_id=VOCAB - 2, **kw)
    got = model.generate(E(ids), E(mask), eos_token_id=eos, pad_token_id=VOCAB - 2, **kw)
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    row = got.numpy()[0, 7:]
    end = list(row).index(eos) if eos in row else None
    if end is not None:  # after its end token a row holds only padding
        assert (row[end + 1:] == VOCAB - 2).all()


def test_generation_stops_when_every_row_has_ended(pair):
    _, model = pair
    ids = ember.tensor([[1, 2, 3]])
    first = int(model.generate(ids, max_new_tokens=1, eos_token_id=[]).numpy()[0, -1])
    out = model.generate(ids, max_new_tokens=10, eos_token_id=first)
    assert out.shape == (1, 4) and int(out[0, -1].item()) == first


def test_logits_processors_match_transformers():
    torch = pytest.importorskip("torch")
    lp = pytest.importorskip("transformers.generation.logits_process")
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(4, 30, generator=g, dtype=torch.float64) * 3
    scores[0, :5] = scores[0, 5]  # ties at the top-k boundary
    seqs = torch.randint(0, 30, (4, 9), generator=g)

    def same(ours, theirs):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-12)

    same(apply_repetition_penalty(E(seqs), E(scores), 1.7),
         lp.RepetitionPenaltyLogitsProcessor(1.7)(seqs, scores.clone()))
    same(apply_repetition_penalty(E(seqs), E(scores), 0.6),
         lp.RepetitionPenaltyLogitsProcessor(0.6)(seqs, scores.clone()))
    for k in (1, 5, 30, 40):
        same(top_k_filter(E(scores), k), lp.TopKLogitsWarper(k)(seqs, scores.clone()))
    for p in (0.05, 0.5, 0.9, 0.999):
        same(top_p_filter(E(scores), p), lp.TopPLogitsWarper(p)(seqs, scores.clone()))


def test_seeded_sampling_is_reproducible_and_filters_restrict_it():
    ember.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(**SMALL, initializer_range=0.3)).eval()
    ids = ember.tensor([[5, 6, 7], [8, 9, 10]])
    kw = dict(max_new_tokens=15, do_sample=True, top_k=0, eos_token_id=[])
    ember.manual_seed(7)
    a = model.generate(ids, **kw)
    ember.manual_seed(7)
    b = model.generate(ids, **kw)
    c = model.generate(ids, **kw, generator=ember.Generator().manual_seed(7))
    d = model.generate(ids, **kw, generator=ember.Generator().manual_seed(8))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(
        c.numpy(), model.generate(ids, **kw, generator=ember.Generator().manual_seed(7)).numpy())
    assert not np.array_equal(c.numpy(), d.numpy())
    greedy = model.generate(ids, max_new_tokens=15, eos_token_id=[]).numpy()
    assert not np.array_equal(a.numpy(), greedy)  # sampling at temperature 1 wanders
    for narrow in (dict(top_k=1), dict(top_k=0, top_p=1e-6), dict(top_k=0, temperature=1e-4)):
        kw1 = {**kw, **narrow}
        np.testing.assert_array_equal(model.generate(ids, **kw1).numpy(), greedy)


def test_sampled_tokens_follow_the_filtered_distribution():
    ember.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(**SMALL, initializer_range=0.3)).eval()
    ids = ember.tensor([[5, 6, 7]] * 400)
    logits = model(ids[:1]).logits[0, -1]
    allowed = set(ember.topk(logits, 3).indices.numpy().tolist())
    out = model.generate(ids, max_new_tokens=1, do_sample=True, top_k=3, eos_token_id=[])
    tokens = out.numpy()[:, -1]
    assert set(tokens.tolist()) <= allowed
    probs = ember.softmax(ember.topk(logits, 3).values, -1).detach().numpy()
    freq = np.array([(tokens == t).mean() for t in ember.topk(logits, 3).indices.numpy()])
    assert np.abs(freq - probs).max() < 0.1, (freq, probs)


def test_argument_errors_name_the_argument():
    model = GPT2LMHeadModel(GPT2Config(**SMALL)).eval()
    ids = ember.tensor([[1, 2, 3]])
    cases = [
        (dict(top_p=0.0), ValueError, r"top_p must be in \(0, 1\], got 0.0"),
        (dict(top_p=1.5), ValueError, r"top_p must be in \(0, 1\], got 1.5"),
        (dict(top_k=-1), ValueError, "top_k must be an int >= 0"),
        (dict(temperature=0.0), ValueError, "temperature must be > 0"),
        (dict(repetition_penalty=0.0), ValueError, "repetition_penalty must be > 0"),
        (dict(max_new_tokens=38), ValueError,
         r"prompt \(3 tokens\) plus max_new_tokens \(38\) is 41 positions, past the model's "
         r"context length n_positions=40"),
        (dict(max_new_tokens=-1), ValueError, "max_new_tokens must be an int >= 0"),
        (dict(eos_token_id=3, pad_token_id=None), None, None),
    ]
    for kwargs, exc, msg in cases:
        if exc is None:
            model.generate(ids, max_new_tokens=2, **kwargs)  # pad falls back to the end token
            continue
        with pytest.raises(exc, match=msg):
            model.generate(ids, **kwargs)
    with pytest.raises(ValueError, match="empty prompt"):
        model.generate(ember.zeros(1, 0, dtype=ember.int64))
    with pytest.raises(ValueError, match=r"row\(s\) \[1\] of attention_mask hold no token"):
        model.generate(ember.tensor([[1, 2], [3, 4]]), ember.tensor([[1, 1], [0, 0]]))
    with pytest.raises(TypeError, match=r"int64 Tensor \(batch, seq\) \(one prompt"):
        model.generate(ember.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match=r"input_ids must be in \[0, vocab_size=50\)"):
        model.generate(ember.tensor([[1, 50]]))


def test_with_the_cache_each_new_token_costs_one_position_of_work():
    model = GPT2LMHeadModel(GPT2Config(**SMALL)).eval()
    seen = []
    model.transformer.wte.register_forward_hook(lambda m, inputs, out: seen.append(
        tuple(inputs[0].shape)))
    ids = ember.tensor([[1, 2, 3, 4], [5, 6, 7, 8]])
    model.generate(ids, max_new_tokens=5, eos_token_id=[])
    assert seen == [(2, 4)] + [(2, 1)] * 4  # the prefill, then one token per step
    seen.clear()
    model.generate(ids, max_new_tokens=3, eos_token_id=[], use_cache=False)
    assert seen == [(2, 4), (2, 5), (2, 6)]  # without it, the whole sequence every step
