"""Packed sequences (nn.utils.rnn) and the recurrent layers over them, against PyTorch."""

import ember
import ember.nn as nn
import numpy as np
import pytest
from ember.autograd import gradcheck
from ember.nn.utils.rnn import (
    PackedSequence,
    invert_permutation,
    pack_padded_sequence,
    pack_sequence,
    pad_packed_sequence,
    pad_sequence,
    unpack_sequence,
    unpad_sequence,
)

torch = pytest.importorskip("torch")
tr = torch.nn.utils.rnn

rng = np.random.default_rng(11)
CASES = [  # (lengths, enforce_sorted): distinct, tied, all equal, unsorted with ties
    ([5, 3, 3, 1], True), ([4, 4, 4], True), ([2, 5, 1, 5], False), ([1, 3, 3, 2, 3], False)]


def both(x, **kw):
    return ember.tensor(x, **kw), torch.tensor(x, requires_grad=kw.get("requires_grad", False))


def same(a, b, rtol=0.0, atol=0.0):
    a = a.detach().numpy() if isinstance(a, ember.Tensor) else a
    np.testing.assert_allclose(a, b.detach().numpy(), rtol=rtol, atol=atol)
    assert a.shape == tuple(b.shape)


def same_packed(pe, pt):
    same(pe.data, pt.data)
    assert pe.batch_sizes.dtype is ember.int64 and pe.batch_sizes.device.type == "cpu"
    assert pe.batch_sizes.tolist() == pt.batch_sizes.tolist()
    for a, b in [(pe.sorted_indices, pt.sorted_indices),
                 (pe.unsorted_indices, pt.unsorted_indices)]:
        assert (a is None and b is None) or a.tolist() == b.tolist()


@pytest.mark.parametrize("lengths, enforce_sorted", CASES)
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("rest", [(), (2,), (2, 3)])
def test_pack_and_pad_match_pytorch(lengths, enforce_sorted, batch_first, rest):
    steps = max(lengths) + 1  # one step of padding more than the longest needs
    shape = (len(lengths), steps, *rest) if batch_first else (steps, len(lengths), *rest)
    xe, xt = both(rng.normal(size=shape))
    for lens_e, lens_t in [(lengths, lengths), (ember.tensor(lengths), torch.tensor(lengths))]:
        pe = pack_padded_sequence(xe, lens_e, batch_first, enforce_sorted)
        pt = tr.pack_padded_sequence(xt, lens_t, batch_first, enforce_sorted)
        same_packed(pe, pt)
    for total, value in [(None, 0.0), (steps + 2, -1.5)]:
        ye, le = pad_packed_sequence(pe, batch_first, value, total)
        yt, lt = tr.pad_packed_sequence(pt, batch_first, value, total)
        same(ye, yt)
        assert le.tolist() == lt.tolist() == lengths and le.dtype is ember.int64
    for a, b in zip(unpack_sequence(pe), tr.unpack_sequence(pt)):
        same(a, b)


def test_pack_sequence_unpad_sequence_and_integer_data_match_pytorch():
    seqs = [rng.integers(0, 9, size=(n, 2)) for n in (2, 4, 1)]
    pe = pack_sequence([ember.tensor(s) for s in seqs], enforce_sorted=False)
    pt = tr.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=False)
    same_packed(pe, pt)
    assert pe.data.dtype is ember.int64
    padded = pad_sequence([ember.tensor(s) for s in seqs])
    out = unpad_sequence(padded, ember.tensor([2, 4, 1]))
    assert padded.shape == (4, 3, 2)  # not transposed in place, unlike PyTorch's
    for a, s in zip(out, seqs):
        np.testing.assert_array_equal(a.numpy(), s)
    out = unpad_sequence(padded.transpose(0, 1), [2, 4, 1], batch_first=True)
    assert [a.shape[0] for a in out] == [2, 4, 1]


@pytest.mark.parametrize("batch_first", [False, True])
def test_pack_and_pad_gradcheck(batch_first):
    x = ember.tensor(rng.normal(size=(3, 4, 2) if batch_first else (4, 3, 2)),
                     requires_grad=True)

    def round_trip(a):  # pack (unsorted: a permuting gather) then pad back: both gathers
        packed = pack_padded_sequence(a, [2, 4, 1], batch_first, enforce_sorted=False)
        return packed.data, pad_packed_sequence(packed, batch_first, 0.5, 6)[0]

    assert gradcheck(round_trip, (x,))
    data = ember.tensor(rng.normal(size=(7, 2)), requires_grad=True)
    sizes, order = ember.tensor([3, 2, 1, 1]), ember.tensor([2, 0, 1])
    assert gradcheck(lambda d: pad_packed_sequence(PackedSequence(d, sizes, order),
                                                   batch_first)[0], (data,))


def test_gradient_reaches_only_the_real_steps():
    x = ember.zeros(3, 2, 1, requires_grad=True)
    pack_padded_sequence(x, [3, 1]).data.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy()[..., 0], [[1, 1], [1, 0], [1, 0]])


def test_packed_sequence_is_a_namedtuple_with_pytorchs_conversions():
    p = pack_sequence([ember.ones(2, 3), ember.ones(3, 3)], enforce_sorted=False)
    data, batch_sizes, sorted_indices, unsorted_indices = p
    assert p._fields == ("data", "batch_sizes", "sorted_indices", "unsorted_indices")
    assert sorted_indices.tolist() == [1, 0] and unsorted_indices.tolist() == [1, 0]
    assert p.to(ember.float32) is p and p.float() is p and not p.is_cuda
    d = p.double()
    assert isinstance(d, PackedSequence) and d.data.dtype is ember.float64
    assert d.batch_sizes is batch_sizes and d.sorted_indices.tolist() == [1, 0]
    assert p.long().data.dtype is ember.int64 and p.cpu() is p
    perm = ember.tensor([2, 0, 3, 1])
    assert invert_permutation(perm).tolist() == tr.invert_permutation(
        torch.tensor([2, 0, 3, 1])).tolist()
    assert invert_permutation(None) is None
    q = PackedSequence((data, batch_sizes))  # PyTorch's pair form
    assert q.sorted_indices is None and q.data is data


@pytest.mark.parametrize("call, kind, match", [
    (lambda x: pack_padded_sequence(x, [2, 3, 1]), RuntimeError, "sorted in decreasing order"),
    (lambda x: pack_padded_sequence(x, [3, 0, 0]), RuntimeError, "greater than 0"),
    (lambda x: pack_padded_sequence(x, [3, -1, 2], enforce_sorted=False), RuntimeError,
     "greater than 0"),
    (lambda x: pack_padded_sequence(x, [5, 3, 1]), RuntimeError, "length 5 does not fit"),
    (lambda x: pack_padded_sequence(x, [3, 2]), RuntimeError, "batch_size=3"),
    (lambda x: pack_padded_sequence(x, [[3, 2, 1]]), RuntimeError, "1-D"),
    (lambda x: pack_padded_sequence(x, [3, 2.5, 1]), RuntimeError, "integers"),
    (lambda x: pack_padded_sequence(x[0, 0], [1]), ValueError, "at least 2 dims"),
    (lambda x: pad_packed_sequence(pack_padded_sequence(x, [3, 2, 1]), total_length=2),
     ValueError, "total_length=2"),
    (lambda x: pad_packed_sequence(x), TypeError, "expected a PackedSequence"),
    (lambda x: pad_packed_sequence(PackedSequence(x[0], ember.tensor([2, 2]))), ValueError,
     "sum to data's 3 rows"),
    (lambda x: unpad_sequence(x, [5, 1, 1]), ValueError, "between 0 and the 4 steps"),
    (lambda x: pack_sequence([]), RuntimeError, "empty list"),
])
def test_bad_arguments_raise_naming_the_function(call, kind, match):
    with pytest.raises(kind, match=match):
        call(ember.zeros(4, 3, 2))


# ---- the recurrent layers over packed sequences ---------------------------------------------
def run_both(kind, layers, bidir, batch_first, lengths, enforce_sorted, with_state, fused):
    kw = dict(num_layers=layers, bidirectional=bidir, batch_first=batch_first)
    theirs = getattr(torch.nn, kind)(3, 4, **kw).double()
    ours = getattr(nn, kind)(3, 4, **kw).double()
    ours.use_fused_cells = fused
    ours.load_state_dict({k: ember.tensor(v.detach().numpy())
                          for k, v in theirs.state_dict().items()})
    batch, steps = len(lengths), max(lengths)
    xe, xt = both(rng.normal(size=(batch, steps, 3) if batch_first else (steps, batch, 3)),
                  requires_grad=True)
    pe = pack_padded_sequence(xe, lengths, batch_first, enforce_sorted)
    pt = tr.pack_padded_sequence(xt, lengths, batch_first, enforce_sorted)
    states = [rng.normal(size=(layers * (2 if bidir else 1), batch, 4))
              for _ in range(2 if kind == "LSTM" else 1)] if with_state else None
    if states is None:
        (oe, he), (ot, ht) = ours(pe), theirs(pt)
    else:  # the initial states in the caller's batch order
        he_, ht_ = [ember.tensor(s) for s in states], [torch.tensor(s) for s in states]
        oe, he = ours(pe, tuple(he_) if kind == "LSTM" else he_[0])
        ot, ht = theirs(pt, tuple(ht_) if kind == "LSTM" else ht_[0])
    assert isinstance(oe, PackedSequence)
    assert oe.batch_sizes.tolist() == ot.batch_sizes.tolist()
    assert (oe.sorted_indices is None) == (ot.sorted_indices is None)
    same(oe.data, ot.data, 1e-12, 1e-13)
    he, ht = (he, ht) if kind == "LSTM" else ((he,), (ht,))
    for a, b in zip(he, ht):  # h_n (and c_n): each sequence's state at its own last step
        same(a, b, 1e-12, 1e-13)
    # a loss on the padded output and on the final states: gradients of input and weights
    ye, _ = pad_packed_sequence(oe, batch_first)
    yt, _ = tr.pad_packed_sequence(ot, batch_first)
    w = rng.normal(size=tuple(yt.shape))
    loss_e = (ye * ember.tensor(w)).sum() + sum((h * h).sum() for h in he)
    loss_t = (yt * torch.tensor(w)).sum() + sum((h * h).sum() for h in ht)
    loss_e.backward()
    loss_t.backward()
    same(xe.grad, xt.grad, 1e-10, 1e-12)
    grads = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), grads[name].grad.numpy(), rtol=1e-10,
                                   atol=1e-12, err_msg=name)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("bidir", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("lengths, enforce_sorted", [([5, 3, 3, 1], True),
                                                     ([2, 5, 1, 4, 5], False)])
def test_layers_over_packed_sequences_match_pytorch(kind, layers, bidir, batch_first,
                                                    lengths, enforce_sorted):
    with_state = (layers + bidir + batch_first) % 2 == 0  # half the cases with h0 (and c0)
    run_both(kind, layers, bidir, batch_first, lengths, enforce_sorted, with_state, True)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("with_state", [False, True])
def test_composite_cells_over_packed_sequences_match_pytorch(kind, with_state):
    run_both(kind, 2, True, False, [3, 1, 4, 4, 2], False, with_state, False)


def test_relu_rnn_and_equal_lengths_match_the_padded_run():
    rnn = nn.RNN(3, 4, nonlinearity="relu", num_layers=2, bidirectional=True).double()
    x = ember.tensor(rng.normal(size=(5, 2, 3)))
    with ember.no_grad():
        out, h = rnn(x)
        packed_out, packed_h = rnn(pack_padded_sequence(x, [5, 5]))
    np.testing.assert_allclose(pad_packed_sequence(packed_out)[0].numpy(), out.numpy(),
                               rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(packed_h.numpy(), h.numpy(), rtol=1e-13, atol=1e-14)


def test_packed_gradcheck_through_the_layer():
    gru = nn.GRU(2, 3, bidirectional=True).double()
    x = ember.tensor(rng.normal(size=(3, 3, 2)), requires_grad=True)
    w = gru.weight_hh_l0_reverse

    def f(a, _w):
        out, h = gru(pack_padded_sequence(a, [1, 3, 2], enforce_sorted=False))
        return out.data, h

    assert gradcheck(f, (x, w))


def test_dropout_between_layers_runs_on_packed_data():
    lstm = nn.LSTM(3, 4, num_layers=2, dropout=0.5).train()
    out, (h, c) = lstm(pack_sequence([ember.randn(4, 3), ember.randn(2, 3)]))
    assert out.data.shape == (6, 4) and h.shape == c.shape == (2, 2, 4)


def test_packed_input_errors_name_the_layer_and_shapes():
    lstm = nn.LSTM(3, 4)
    packed = pack_sequence([ember.randn(4, 3), ember.randn(2, 3)])
    with pytest.raises(ValueError, match=r"LSTM: expected h0 of shape \(1, 2, 4\)"):
        lstm(packed, (ember.zeros(1, 3, 4), ember.zeros(1, 3, 4)))
    with pytest.raises(ValueError, match=r"LSTM: expected a PackedSequence of \(S, 3\) data"):
        lstm(pack_sequence([ember.randn(4, 5), ember.randn(2, 5)]))
    with pytest.raises(ValueError, match=r"LSTM: batch_sizes \[2, 3\] must be positive and "
                                         "non-increasing"):
        lstm(PackedSequence(ember.randn(5, 3), ember.tensor([2, 3])))


@pytest.mark.slow
def test_gru_on_packed_batches_learns_a_task_that_needs_each_sequences_own_last_step():
    # label = the sign of a sequence's last value, lengths 1..8: with packing, h_n is the
    # state at each sequence's own last step; a padded run would read the padding instead
    ember.manual_seed(0)
    data = np.random.default_rng(0)
    gru, head = nn.GRU(1, 8, batch_first=True), nn.Linear(8, 1)
    opt = ember.optim.Adam([*gru.parameters(), *head.parameters()], lr=0.03)
    loss_fn = nn.BCEWithLogitsLoss()

    def batch(n=32):
        lengths = data.integers(1, 9, size=n)
        x = data.normal(size=(n, 8, 1)).astype(np.float32)
        y = (x[np.arange(n), lengths - 1, 0] > 0).astype(np.float32)[:, None]
        return pack_padded_sequence(ember.tensor(x), lengths.tolist(), batch_first=True,
                                    enforce_sorted=False), ember.tensor(y)

    for _ in range(150):
        packed, y = batch()
        _, h = gru(packed)
        loss = loss_fn(head(h[-1]), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    packed, y = batch(500)
    with ember.no_grad():
        correct = ((head(gru(packed)[1][-1]) > 0).float() == y).float().mean().item()
    assert correct > 0.95
