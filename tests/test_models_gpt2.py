"""ember.models' GPT-2 against transformers' (same weights, same logits, loss and gradients),
its KV cache against the full re-run, and checkpoint folders both ways.

The reference is a small randomly initialised ``transformers.GPT2LMHeadModel`` saved with
``save_pretrained`` (safetensors); those tests skip when transformers is absent.
"""

import copy
import json
import os
import struct
import warnings

import ember
import numpy as np
import pytest
from ember._safetensors import read_safetensors, write_safetensors
from ember.models import GPT2Config, GPT2LMHeadModel, GPT2Model, KVCache

VOCAB, CTX = 100, 32
SMALL = dict(n_layer=2, n_head=4, n_embd=64, vocab_size=VOCAB, n_positions=CTX,
             bos_token_id=VOCAB - 1, eos_token_id=VOCAB - 1)


def E(t):
    """A torch tensor as an ember tensor (the same values and dtype)."""
    return ember.tensor(t.detach().numpy())


def N(t):
    return t.detach().numpy()


@pytest.fixture(scope="module")
def hf(tmp_path_factory):
    """(transformers' model in eval mode, its checkpoint folder)."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    ref = transformers.GPT2LMHeadModel(transformers.GPT2Config(**SMALL)).eval()
    folder = tmp_path_factory.mktemp("gpt2")
    ref.save_pretrained(folder)
    return ref, str(folder)


def _batch(torch, pad_rows=((1, 3),)):
    """ids (2, 10) and a left-padding mask (row r starts after n pads)."""
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, VOCAB, (2, 10), generator=g)
    mask = torch.ones(2, 10, dtype=torch.long)
    for r, n in pad_rows:
        mask[r, :n] = 0
    return ids, mask


def test_parameter_names_and_shapes_are_transformers(hf):
    ref, folder = hf
    model = GPT2LMHeadModel.from_pretrained(folder)
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    theirs = {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    assert ours == theirs
    assert ours["transformer.h.0.attn.c_attn.weight"] == (64, 192)  # Conv1D: (in, out)
    assert model.lm_head.weight is model.transformer.wte.weight
    assert model.num_parameters() == sum(p.numel() for p in ref.parameters())
    assert not model.training  # from_pretrained returns the model in eval mode


def test_logits_and_loss_match_transformers_float32_with_padding(hf):
    torch = pytest.importorskip("torch")
    ref, folder = hf
    model = GPT2LMHeadModel.from_pretrained(folder)
    ids, mask = _batch(torch)
    labels = ids.clone()
    labels[:, :4] = -100
    with torch.no_grad():
        r = ref(ids, attention_mask=mask, labels=labels)
    o = model(E(ids), attention_mask=E(mask), labels=E(labels))
    keep = N(mask).astype(bool)  # padded positions are garbage in both and used by nothing
    np.testing.assert_allclose(N(o.logits)[keep], N(r.logits)[keep], atol=1e-4, rtol=1e-4)
    assert abs(o.loss.item() - r.loss.item()) < 1e-5


def test_logits_and_gradients_match_transformers_float64(hf):
    torch = pytest.importorskip("torch")
    ref, folder = hf
    ref64 = copy.deepcopy(ref).double()
    model = GPT2LMHeadModel.from_pretrained(folder, dtype="float64")
    ids, _ = _batch(torch)
    r = ref64(ids)
    # the loss in float64 by hand: transformers' own loss casts the logits to float32
    v = r.logits.shape[-1]
    torch.nn.functional.cross_entropy(r.logits[:, :-1].reshape(-1, v),
                                      ids[:, 1:].reshape(-1)).backward()
    o = model(E(ids), labels=E(ids))
    o.loss.backward()
    np.testing.assert_allclose(N(o.logits), N(r.logits), atol=1e-10, rtol=0)
    theirs = dict(ref64.named_parameters())
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), N(theirs[name].grad), atol=1e-10,
                                   err_msg=name)


def test_kv_cache_gives_the_logits_of_the_full_rerun():
    ember.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(**SMALL)).eval()
    ids = ember.randint(0, VOCAB, (2, 12))
    full = model(ids, use_cache=False).logits
    out = model(ids[:, :5], use_cache=True)          # prefill 5 positions
    cache = out.past_key_values
    assert isinstance(cache, KVCache) and cache.get_seq_length() == 5 and len(cache) == 2
    steps = [out.logits]
    out = model(ids[:, 5:8], past_key_values=cache)  # a chunk of 3 (a causal mask inside it)
    steps.append(out.logits)
    for t in range(8, 12):                            # then one token per step
        steps.append(model(ids[:, t:t + 1], past_key_values=cache).logits)
    assert cache.get_seq_length() == 12
    np.testing.assert_allclose(ember.cat(steps, 1).detach().numpy(),
                               full.detach().numpy(), atol=1e-5)


def test_kv_cache_with_left_padding_matches_the_full_rerun():
    ember.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(**SMALL)).eval()
    ids = ember.randint(0, VOCAB, (2, 9))
    mask = ember.ones(2, 9, dtype=ember.int64)
    mask[0, :4] = 0
    pos = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 0)
    full = model(ids, attention_mask=mask, position_ids=pos).logits
    cache = KVCache()
    first = model(ids[:, :6], attention_mask=mask[:, :6], position_ids=pos[:, :6],
                  past_key_values=cache).logits
    rest = [model(ids[:, t:t + 1], attention_mask=mask[:, :t + 1], position_ids=pos[:, t:t + 1],
                  past_key_values=cache).logits for t in range(6, 9)]
    got = ember.cat([first, *rest], 1).detach().numpy()
    keep = mask.numpy().astype(bool)
    np.testing.assert_allclose(got[keep], full.detach().numpy()[keep], atol=1e-5)


def test_dropout_acts_in_train_mode_only():
    model = GPT2LMHeadModel(GPT2Config(**SMALL))
    ids = ember.randint(0, VOCAB, (1, 8))
    a, b = model(ids).logits, model(ids).logits
    assert not np.allclose(a.detach().numpy(), b.detach().numpy())
    model.eval()
    np.testing.assert_array_equal(model(ids).logits.detach().numpy(),
                                  model(ids).logits.detach().numpy())


def test_a_training_step_lowers_the_loss():
    ember.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(**SMALL, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0))
    ids = ember.randint(0, VOCAB, (4, 16))
    opt = ember.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(5):
        loss = model(ids, labels=ids).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.5, losses


def test_save_pretrained_round_trip_and_transformers_reads_it(tmp_path):
    ember.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(**SMALL)).eval()
    model.save_pretrained(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["config.json", "model.safetensors"]
    with open(tmp_path / "model.safetensors", "rb") as f:
        header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
    assert "lm_head.weight" not in header  # tied: stored once, as transformers stores it
    again = GPT2LMHeadModel.from_pretrained(tmp_path)
    assert again.config == model.config
    ids = ember.randint(0, VOCAB, (2, 7))
    np.testing.assert_array_equal(again(ids).logits.detach().numpy(),
                                  model(ids).logits.detach().numpy())
    transformers = pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")
    ref = transformers.GPT2LMHeadModel.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        r = ref(torch.tensor(ids.numpy())).logits
    np.testing.assert_allclose(model(ids).logits.detach().numpy(), N(r), atol=1e-4)


def test_a_base_model_checkpoint_loads_under_the_head_and_back(tmp_path):
    ember.manual_seed(0)
    base = GPT2Model(GPT2Config(**SMALL)).eval()
    base.save_pretrained(tmp_path / "base")            # keys without "transformer."
    lm = GPT2LMHeadModel.from_pretrained(tmp_path / "base")
    ids = ember.randint(0, VOCAB, (1, 6))
    np.testing.assert_array_equal(lm.transformer(ids).last_hidden_state.detach().numpy(),
                                  base(ids).last_hidden_state.detach().numpy())
    lm.save_pretrained(tmp_path / "lm")
    base2 = GPT2Model.from_pretrained(tmp_path / "lm")  # keys with the prefix, head dropped
    np.testing.assert_array_equal(base2(ids).last_hidden_state.detach().numpy(),
                                  base(ids).last_hidden_state.detach().numpy())


def _rewrite(folder, change):
    """Rewrite folder/model.safetensors with change(dict of arrays) applied."""
    path = os.path.join(folder, "model.safetensors")
    with open(path, "rb") as f:
        _, _, arrays = read_safetensors(f, path)
    change(arrays)
    with open(path, "wb") as f:
        write_safetensors(f, arrays, {"format": "pt"})


def test_checkpoint_errors_name_the_keys(tmp_path):
    ember.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(**SMALL)).save_pretrained(tmp_path)
    # the causal-mask buffers old GPT-2 checkpoints carry are skipped, not an error
    _rewrite(tmp_path, lambda a: a.update({"transformer.h.0.attn.bias":
                                           np.ones((1, 1, CTX, CTX), np.float32)}))
    GPT2LMHeadModel.from_pretrained(tmp_path)
    _rewrite(tmp_path, lambda a: (a.pop("transformer.h.1.mlp.c_fc.bias"),
                                  a.update({"transformer.h.0.extra": np.ones(3, np.float32)})))
    with pytest.raises(RuntimeError, match=r"h\.1\.mlp\.c_fc\.bias.*h\.0\.extra"):
        GPT2LMHeadModel.from_pretrained(tmp_path)
    with pytest.warns(UserWarning, match=r"h\.1\.mlp\.c_fc\.bias"):
        GPT2LMHeadModel.from_pretrained(tmp_path, strict=False)
    _rewrite(tmp_path, lambda a: a.update({"transformer.wpe.weight":
                                           np.zeros((CTX + 1, 64), np.float32)}))
    with pytest.raises(RuntimeError, match=r"transformer\.wpe\.weight: shape \(33, 64\)"):
        GPT2LMHeadModel.from_pretrained(tmp_path, strict=False)
    with pytest.raises(FileNotFoundError, match="config.json"):
        GPT2LMHeadModel.from_pretrained(tmp_path / "nowhere")
    os.rename(tmp_path / "model.safetensors", tmp_path / "pytorch_model.bin")
    with pytest.raises(FileNotFoundError, match="no model.safetensors in .*pytorch_model.bin"):
        GPT2LMHeadModel.from_pretrained(tmp_path)
    os.rename(tmp_path / "pytorch_model.bin", tmp_path / "model.safetensors")
    with pytest.raises(TypeError, match="not a field of GPT2Config"):
        GPT2LMHeadModel.from_pretrained(tmp_path, n_layers=3)


def test_bad_input_errors():
    model = GPT2LMHeadModel(GPT2Config(**SMALL)).eval()
    with pytest.raises(ValueError, match="context length n_positions=32"):
        model(ember.zeros(1, CTX + 1, dtype=ember.int64))
    with pytest.raises(TypeError, match="int64 Tensor"):
        model(ember.zeros(1, 4))
    with pytest.raises(ValueError, match=r"attention_mask must be \(batch, past \+ new"):
        model(ember.zeros(1, 4, dtype=ember.int64), attention_mask=ember.ones(1, 3))
    with pytest.raises(ValueError, match="multiple of n_head"):
        GPT2Config(n_embd=10, n_head=4)
    with pytest.raises(ValueError, match="unknown activation 'gelu_newer'"):
        GPT2Config(activation_function="gelu_newer")
    with pytest.raises(ValueError, match="for a 'bert' model"):
        GPT2Config.from_dict({"model_type": "bert"})


def test_config_reads_transformers_json_and_keeps_unknown_keys(hf, tmp_path):
    _, folder = hf
    config = GPT2Config.from_pretrained(folder)
    assert (config.n_layer, config.hidden_size, config.num_attention_heads) == (2, 64, 4)
    assert config.extra["architectures"] == ["GPT2LMHeadModel"]
    config.save_pretrained(tmp_path)
    with open(os.path.join(folder, "config.json")) as f:
        original = json.load(f)
    with open(tmp_path / "config.json") as f:
        written = json.load(f)
    assert {k: v for k, v in original.items() if k in written} == \
        {k: v for k, v in written.items() if k in original}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        GPT2LMHeadModel(config)


def test_non_default_config_matches_transformers(tmp_path):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(1)
    extra = dict(scale_attn_by_inverse_layer_idx=True, n_inner=96, activation_function="gelu",
                 layer_norm_epsilon=1e-3, tie_word_embeddings=False)
    ref = transformers.GPT2LMHeadModel(transformers.GPT2Config(**SMALL, **extra)).eval()
    ref.save_pretrained(tmp_path)
    model = GPT2LMHeadModel.from_pretrained(tmp_path)
    assert model.lm_head.weight is not model.transformer.wte.weight
    ids, mask = _batch(torch)
    with torch.no_grad():
        r = ref(ids, attention_mask=mask).logits
    keep = N(mask).astype(bool)
    np.testing.assert_allclose(N(model(E(ids), attention_mask=E(mask)).logits)[keep],
                               N(r)[keep], atol=1e-4, rtol=1e-4)


def test_kv_cache_reorder_keeps_the_chosen_rows():
    model = GPT2LMHeadModel(GPT2Config(**SMALL)).eval()
    ids = ember.randint(0, VOCAB, (3, 5))
    with ember.no_grad():
        cache = model(ids).past_key_values
    keys = [k.numpy() for k in cache.keys]
    cache.reorder(ember.tensor([2, 2, 0]))
    for before, after in zip(keys, cache.keys):
        np.testing.assert_array_equal(after.numpy(), before[[2, 2, 0]])
    assert "seq_length=5" in repr(cache)


def test_a_float16_checkpoint_loads_widened(hf, tmp_path):
    torch = pytest.importorskip("torch")
    ref, _ = hf
    half = copy.deepcopy(ref).half()
    half.save_pretrained(tmp_path)
    model = GPT2LMHeadModel.from_pretrained(tmp_path)
    assert model.transformer.wte.weight.dtype is ember.float32
    ids, _ = _batch(torch)
    with torch.no_grad():
        r = half.float()(ids).logits  # the same float16 weights, computed in float32
    np.testing.assert_allclose(N(model(E(ids)).logits), N(r), atol=1e-4, rtol=1e-4)


def test_a_whole_model_saves_and_loads_with_ember_save(tmp_path):
    model = GPT2LMHeadModel(GPT2Config(**SMALL)).eval()
    ember.save(model, tmp_path / "m.safetensors")
    again = ember.load(tmp_path / "m.safetensors", weights_only=False)
    assert again.lm_head.weight is again.transformer.wte.weight  # the tie survives
    ids = ember.randint(0, VOCAB, (1, 5))
    np.testing.assert_array_equal(again(ids).logits.detach().numpy(),
                                  model(ids).logits.detach().numpy())
