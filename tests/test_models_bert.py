"""ember.models' BERT against transformers' (same weights: same logits, losses, gradients),
with padding masks and token types; checkpoint folders both ways; the errors."""

import copy
import json
import os

import ember
import numpy as np
import pytest
from ember._safetensors import read_safetensors, write_safetensors
from ember.models import BertConfig, BertForMaskedLM, BertForSequenceClassification, BertModel

VOCAB = 100
SMALL = dict(num_hidden_layers=2, num_attention_heads=4, hidden_size=64, intermediate_size=128,
             vocab_size=VOCAB, max_position_embeddings=32)


def E(t):
    return ember.tensor(t.detach().numpy())


def N(t):
    return t.detach().numpy()


@pytest.fixture(scope="module")
def hf(tmp_path_factory):
    """{name: (transformers model in eval mode, its folder)} for the MLM and the
    classifiers (2 labels, 3 labels, regression)."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    out = {}
    for name, cls, extra in [
            ("mlm", transformers.BertForMaskedLM, {}),
            ("cls", transformers.BertForSequenceClassification, {}),
            ("cls3", transformers.BertForSequenceClassification, {"num_labels": 3}),
            ("reg", transformers.BertForSequenceClassification, {"num_labels": 1})]:
        ref = cls(transformers.BertConfig(**SMALL, **extra)).eval()
        folder = tmp_path_factory.mktemp(name)
        ref.save_pretrained(folder)
        out[name] = ref, str(folder)
    return out


def _batch(torch):
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1, VOCAB, (3, 11), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 7:] = 0  # right padding, BERT's usual
    mask[2, 4:] = 0
    ids[mask == 0] = 0
    types = (torch.arange(11) >= 5).long().expand(3, 11).clone()
    return ids, mask, types


def test_names_shapes_and_tying_are_transformers(hf):
    ref, folder = hf["mlm"]
    model = BertForMaskedLM.from_pretrained(folder)
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    pred = model.cls.predictions
    assert pred.decoder.weight is model.bert.embeddings.word_embeddings.weight
    assert pred.decoder.bias is pred.bias
    ref_c, folder_c = hf["cls"]
    model_c = BertForSequenceClassification.from_pretrained(folder_c)
    assert {k: tuple(v.shape) for k, v in model_c.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in ref_c.state_dict().items()}


def test_masked_lm_logits_and_loss_match_transformers_float32(hf):
    torch = pytest.importorskip("torch")
    ref, folder = hf["mlm"]
    model = BertForMaskedLM.from_pretrained(folder)
    ids, mask, types = _batch(torch)
    labels = torch.full_like(ids, -100)
    labels[:, 1:4] = ids[:, 1:4]
    with torch.no_grad():
        r = ref(ids, attention_mask=mask, token_type_ids=types, labels=labels)
    o = model(E(ids), E(mask), E(types), labels=E(labels))
    keep = N(mask).astype(bool)
    np.testing.assert_allclose(N(o.logits)[keep], N(r.logits)[keep], atol=1e-4, rtol=1e-4)
    assert abs(o.loss.item() - r.loss.item()) < 1e-5


def test_masked_lm_logits_and_gradients_match_transformers_float64(hf):
    torch = pytest.importorskip("torch")
    ref, folder = hf["mlm"]
    ref64 = copy.deepcopy(ref).double()
    model = BertForMaskedLM.from_pretrained(folder, dtype="float64")
    ids, mask, types = _batch(torch)
    labels = torch.where(mask.bool(), ids, torch.full_like(ids, -100))
    r = ref64(ids, attention_mask=mask, token_type_ids=types, labels=labels)
    r.loss.backward()
    o = model(E(ids), E(mask), E(types), labels=E(labels))
    o.loss.backward()
    keep = N(mask).astype(bool)
    np.testing.assert_allclose(N(o.logits)[keep], N(r.logits)[keep], atol=1e-10, rtol=0)
    theirs = dict(ref64.named_parameters())
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), N(theirs[name].grad), atol=1e-10,
                                   err_msg=name)


@pytest.mark.parametrize("name", ["cls", "cls3", "reg"])
def test_classifier_logits_and_loss_match_transformers(hf, name):
    torch = pytest.importorskip("torch")
    ref, folder = hf[name]
    model = BertForSequenceClassification.from_pretrained(folder)
    ids, mask, types = _batch(torch)
    n = ref.config.num_labels
    assert model.config.num_labels == n
    labels = torch.tensor([0.5, -1.0, 2.0]) if n == 1 else torch.tensor([1, 0, n - 1])
    multi = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    with torch.no_grad():
        r = ref(ids, attention_mask=mask, token_type_ids=types, labels=labels)
    o = model(E(ids), E(mask), E(types), labels=E(labels))
    np.testing.assert_allclose(N(o.logits), N(r.logits), atol=1e-5)
    assert abs(o.loss.item() - r.loss.item()) < 1e-5
    if n == 3:  # float labels: multi-label, binary cross-entropy per label
        ref.config.problem_type = None  # transformers stored its first guess in the config
        with torch.no_grad():
            r = ref(ids, attention_mask=mask, token_type_ids=types, labels=multi)
        ref.config.problem_type = None
        assert abs(model(E(ids), E(mask), E(types), labels=E(multi)).loss.item()
                   - r.loss.item()) < 1e-5


def test_padding_does_not_change_the_unpadded_positions(hf):
    _, folder = hf["mlm"]
    model = BertForMaskedLM.from_pretrained(folder)
    ids = ember.tensor([[5, 6, 7, 8]])
    alone = model(ids).logits.detach().numpy()
    padded = model(ember.tensor([[5, 6, 7, 8, 0, 0]]),
                   ember.tensor([[1, 1, 1, 1, 0, 0]])).logits.detach().numpy()
    np.testing.assert_allclose(padded[:, :4], alone, atol=1e-5)


def test_a_training_step_lowers_the_loss():
    ember.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(**SMALL, hidden_dropout_prob=0.0,
                                                     attention_probs_dropout_prob=0.0))
    ids = ember.randint(1, VOCAB, (8, 10))
    labels = ember.tensor([0, 1] * 4)
    opt = ember.optim.AdamW(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(8):
        loss = model(ids, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0], losses


def test_save_pretrained_round_trip_and_transformers_reads_it(tmp_path):
    ember.manual_seed(0)
    model = BertForMaskedLM(BertConfig(**SMALL)).eval()
    model.save_pretrained(tmp_path)
    again = BertForMaskedLM.from_pretrained(tmp_path)
    ids = ember.randint(1, VOCAB, (2, 6))
    np.testing.assert_array_equal(again(ids).logits.detach().numpy(),
                                  model(ids).logits.detach().numpy())
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    ref = transformers.BertForMaskedLM.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        r = ref(torch.tensor(ids.numpy())).logits
    np.testing.assert_allclose(model(ids).logits.detach().numpy(), N(r), atol=1e-4)

    clf = BertForSequenceClassification(BertConfig(**SMALL, num_labels=4))
    clf.save_pretrained(tmp_path / "clf")
    with open(tmp_path / "clf" / "config.json") as f:
        assert len(json.load(f)["id2label"]) == 4  # num_labels as transformers stores it
    assert BertForSequenceClassification.from_pretrained(tmp_path / "clf").config.num_labels == 4


def test_a_pretrained_body_under_a_new_head(hf):
    ref, folder = hf["mlm"]
    with pytest.raises(RuntimeError, match=r"missing keys \[.*bert\.pooler\.dense\.weight.*"
                                           r"classifier\.weight.*unexpected keys \[.*cls\."):
        BertForSequenceClassification.from_pretrained(folder)
    with pytest.warns(UserWarning, match=r"classifier\.bias"):
        clf = BertForSequenceClassification.from_pretrained(folder, strict=False)
    np.testing.assert_array_equal(
        clf.bert.embeddings.word_embeddings.weight.detach().numpy(),
        N(ref.bert.embeddings.word_embeddings.weight))
    with pytest.warns(UserWarning, match=r"classifier\.bias"):
        clf3 = BertForSequenceClassification.from_pretrained(folder, strict=False, num_labels=3)
    assert clf3.classifier.weight.shape == (3, 64)
    with pytest.warns(UserWarning, match=r"\['pooler\.dense\.weight', 'pooler\.dense\.bias'\]"):
        base = BertModel.from_pretrained(folder, strict=False)  # the MLM head is dropped
    assert base.embeddings.LayerNorm.weight.shape == (64,)


def test_errors():
    model = BertModel(BertConfig(**SMALL)).eval()
    with pytest.raises(ValueError, match="max_position_embeddings=32"):
        model(ember.zeros(1, 33, dtype=ember.int64))
    with pytest.raises(TypeError, match="int64 Tensor"):
        model(ember.zeros(1, 4))
    with pytest.raises(ValueError, match=r"attention_mask must have input_ids' shape \(1, 4\)"):
        model(ember.zeros(1, 4, dtype=ember.int64), ember.ones(1, 5))
    with pytest.raises(ValueError, match="multiple of num_attention_heads"):
        BertConfig(hidden_size=30, num_attention_heads=4)
    with pytest.raises(ValueError, match="problem_type must be None or one of"):
        BertConfig(problem_type="ranking")
    clf = BertForSequenceClassification(BertConfig(**SMALL, num_labels=3))
    with pytest.raises(ValueError, match=r"labels must have shape \(2,\)"):
        clf(ember.ones(2, 4, dtype=ember.int64), labels=ember.tensor([0, 1, 2]))


def test_shape_mismatch_is_named(tmp_path):
    BertForMaskedLM(BertConfig(**SMALL)).save_pretrained(tmp_path)
    with open(tmp_path / "config.json") as f:
        config = json.load(f)
    config["max_position_embeddings"] = 64
    with open(tmp_path / "config.json", "w") as f:
        json.dump(config, f)
    with pytest.raises(RuntimeError, match=r"position_embeddings\.weight: shape \(32, 64\) in "
                                           r"the file, \(64, 64\) in the model"):
        BertForMaskedLM.from_pretrained(tmp_path)
    assert os.path.exists(tmp_path / "model.safetensors")


def test_an_old_style_pretraining_checkpoint_loads(tmp_path):
    """bert-base-uncased's layout: LayerNorm.gamma/beta, a persistent position_ids buffer,
    the pooler and the next-sentence head beside the masked-LM head."""
    ember.manual_seed(0)
    model = BertForMaskedLM(BertConfig(**SMALL)).eval()
    model.save_pretrained(tmp_path)
    path = tmp_path / "model.safetensors"
    with open(path, "rb") as f:
        _, _, arrays = read_safetensors(f, str(path))
    old = {k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias",
                                                                    "LayerNorm.beta"): v
           for k, v in arrays.items()}
    old["bert.embeddings.position_ids"] = np.arange(32)[None]
    old["bert.pooler.dense.weight"] = np.zeros((64, 64), np.float32)
    old["bert.pooler.dense.bias"] = np.zeros(64, np.float32)
    old["cls.seq_relationship.weight"] = np.zeros((2, 64), np.float32)
    old["cls.seq_relationship.bias"] = np.zeros(2, np.float32)
    with open(path, "wb") as f:
        write_safetensors(f, old, {"format": "pt"})
    again = BertForMaskedLM.from_pretrained(tmp_path)
    ids = ember.randint(1, VOCAB, (2, 6))
    np.testing.assert_array_equal(again(ids).logits.detach().numpy(),
                                  model(ids).logits.detach().numpy())
