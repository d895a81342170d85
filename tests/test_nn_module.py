"""The Module system: registration, traversal, modes, state dicts, repr."""

from collections import OrderedDict

import ember
import ember.nn as nn
import numpy as np
import pytest


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.scale = nn.Parameter(ember.ones(4))
        self.register_buffer("count", ember.zeros(1, dtype=ember.int64))
        self.register_buffer("scratch", ember.zeros(2), persistent=False)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.fc(x)) * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([Block(), Block()])
        self.head = nn.Sequential(OrderedDict(drop=nn.Dropout(0.5), out=nn.Linear(4, 2)))

    def forward(self, x):
        x = self.blocks[1](self.blocks[0].fc(x).relu()[:, :3])
        return self.head(x)


def test_named_parameters_and_buffers():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["blocks.0.scale", "blocks.0.fc.weight", "blocks.0.fc.bias",
                     "blocks.1.scale", "blocks.1.fc.weight", "blocks.1.fc.bias",
                     "head.out.weight", "head.out.bias"]
    assert [n for n, _ in net.named_buffers()] == ["blocks.0.count", "blocks.0.scratch",
                                                   "blocks.1.count", "blocks.1.scratch"]
    assert net.num_parameters() == 2 * (12 + 4 + 4) + 8 + 2
    assert len(list(net.children())) == 2 and len(list(net.modules())) == 11


def test_shared_parameter_is_listed_once():
    a = nn.Linear(2, 2)
    seq = nn.Sequential(a, a)
    assert len(list(seq.parameters())) == 2


def test_state_dict_excludes_non_persistent_buffers_and_round_trips():
    net, other = Net(), Net()
    sd = net.state_dict()
    assert "blocks.0.count" in sd and "blocks.0.scratch" not in sd
    other.load_state_dict(sd)
    for (n1, p1), (n2, p2) in zip(net.state_dict().items(), other.state_dict().items()):
        assert n1 == n2
        np.testing.assert_array_equal(p1.numpy(), p2.numpy())
    x = ember.randn(5, 3)
    net.eval(), other.eval()
    np.testing.assert_array_equal(net(x).detach().numpy(), other(x).detach().numpy())


def test_load_state_dict_reports_missing_unexpected_and_shape_errors_by_name():
    net = Net()
    sd = net.state_dict()
    del sd["head.out.bias"]
    sd["head.extra"] = ember.zeros(1)
    sd["blocks.0.fc.weight"] = ember.zeros(5, 3)
    before = net.blocks[1].fc.weight.detach().numpy().copy()
    with pytest.raises(RuntimeError) as err:
        net.load_state_dict(sd)
    msg = str(err.value)
    assert '"head.out.bias"' in msg and '"head.extra"' in msg
    assert "size mismatch for blocks.0.fc.weight" in msg and "(5, 3)" in msg
    np.testing.assert_array_equal(net.blocks[1].fc.weight.detach().numpy(), before)  # untouched
    del sd["blocks.0.fc.weight"]
    result = net.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["blocks.0.fc.weight", "head.out.bias"]
    assert result.unexpected_keys == ["head.extra"]


def test_train_eval_propagates_and_changes_dropout():
    net = Net()
    net.eval()
    assert not any(m.training for m in net.modules())
    x = ember.ones(1000)
    drop = nn.Dropout(0.5)
    y = drop(x).numpy()  # training: about half zeroed, survivors scaled by 1/(1-p) = 2
    assert set(np.unique(y)) == {0.0, 2.0} and 0.4 < (y == 0).mean() < 0.6
    drop.eval()
    np.testing.assert_array_equal(drop(x).numpy(), x.numpy())
    net.train()
    assert all(m.training for m in net.modules())


def test_zero_grad_and_requires_grad_():
    lin = nn.Linear(3, 2)
    lin(ember.randn(4, 3)).sum().backward()
    assert lin.weight.grad is not None
    lin.zero_grad(set_to_none=False)
    assert (lin.weight.grad.numpy() == 0).all()
    lin.zero_grad()
    assert lin.weight.grad is None
    lin.requires_grad_(False)
    assert not lin.weight.requires_grad


def test_to_dtype_keeps_parameter_objects_and_int_buffers():
    net = Block()
    w = net.fc.weight
    net.to(ember.float64)
    assert net.fc.weight is w and w.dtype is ember.float64
    assert net.count.dtype is ember.int64
    assert net(ember.randn(2, 3, dtype=ember.float64)).dtype is ember.float64


def test_apply_visits_every_module():
    seen = []
    Net().apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Net" and seen.count("Linear") == 3


def test_repr_is_nested_and_readable():
    text = repr(Net())
    assert "(blocks): ModuleList(" in text
    assert "(fc): Linear(in_features=3, out_features=4, bias=True)" in text
    assert "(drop): Dropout(p=0.5)" in text


def test_assigning_a_plain_tensor_over_a_parameter_is_an_error():
    lin = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="parameter 'weight'"):
        lin.weight = ember.zeros(2, 2)


def test_forgetting_super_init_is_a_clear_error():
    class Bad(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match="super\\(\\).__init__"):
        Bad()


def test_forward_hook():
    lin = nn.Linear(2, 2)
    outputs = []
    remove = lin.register_forward_hook(lambda m, inp, out: outputs.append(out.shape))
    lin(ember.randn(3, 2))
    remove()
    lin(ember.randn(3, 2))
    assert outputs == [(3, 2)]


def test_containers():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    seq.append(nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[-1], nn.Linear) and len(seq[:2]) == 2
    ml = nn.ModuleList([nn.ReLU()])
    ml.append(nn.Tanh())
    assert [type(m).__name__ for m in ml] == ["ReLU", "Tanh"]
    md = nn.ModuleDict({"a": nn.Linear(1, 1)})
    assert "a" in md and list(md.keys()) == ["a"]
    assert len(list(md.parameters())) == 2
    with pytest.raises(TypeError, match="not a Module"):
        nn.Sequential(nn.ReLU(), 3)
