"""Adamax, NAdam, RAdam, ASGD and Rprop against torch.optim, step by step, in float64.

Both libraries train the same small MLP (two parameter groups with their own learning rates,
and one parameter that never gets a gradient) from the same start; after every one of 20
steps the parameters and the optimizer's state must agree to 1e-12. PyTorch keeps a few
scalar states (NAdam's ``mu_product``, ASGD's ``eta`` and ``mu``) as 0-dim tensors of the
*default* dtype, so its side runs with float64 as the default; ember keeps them as Python
floats.
"""

from __future__ import annotations

import copy

import ember
import ember.optim as optim
import numpy as np
import pytest

torch = pytest.importorskip("torch")

CASES = [
    ("Adamax", dict()),
    ("Adamax", dict(lr=0.05, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.1)),
    ("Adamax", dict(lr=0.02, maximize=True)),
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.05, betas=(0.85, 0.99), weight_decay=0.1, momentum_decay=0.01)),
    ("NAdam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RAdam", dict()),  # rho_t <= 5 for the first steps: the un-rectified branch, then not
    ("RAdam", dict(lr=0.05, betas=(0.8, 0.9), weight_decay=0.1)),
    ("RAdam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True, eps=1e-4)),
    ("ASGD", dict()),
    ("ASGD", dict(lr=0.05, lambd=0.01, alpha=0.5, t0=5, weight_decay=0.1)),
    ("ASGD", dict(lr=0.03, t0=0, maximize=True)),
    ("Rprop", dict()),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.08))),
    ("Rprop", dict(lr=0.02, maximize=True)),
]
IDS = [f"{n}-{','.join(f'{k}={v}' for k, v in o.items()) or 'defaults'}" for n, o in CASES]
STATE = {"Adamax": ["exp_avg", "exp_inf"], "NAdam": ["exp_avg", "exp_avg_sq", "mu_product"],
         "RAdam": ["exp_avg", "exp_avg_sq"], "ASGD": ["ax", "eta", "mu"],
         "Rprop": ["prev", "step_size"]}


def problem(seed: int = 0):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(16, 3)), rng.normal(size=(16, 1))
    init = [rng.normal(size=(3, 6)) / 2, np.zeros(6), rng.normal(size=(6, 1)) / 2, np.zeros(1),
            rng.normal(size=(2, 2))]  # the last one never gets a gradient

    def loss(lib, params):
        w1, b1, w2, b2, _ = params
        return ((((lib.tensor(x) @ w1 + b1).tanh() @ w2 + b2) - lib.tensor(y)) ** 2).mean()
    return init, loss


def make(lib, name, opts, init):
    params = [lib.tensor(a, requires_grad=True) for a in init]
    groups = [{"params": params[:2]}, {"params": params[2:], "lr": 0.01}]
    return params, getattr(lib.optim, name)(groups, **opts)


def train(lib, params, opt, loss, steps):
    for _ in range(steps):
        opt.zero_grad()
        loss(lib, params).backward()
        opt.step()


def as_numpy(v):
    return np.asarray(v.detach().numpy() if hasattr(v, "detach") else v, dtype=np.float64)


@pytest.fixture
def torch_float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


@pytest.mark.parametrize("name, opts", CASES, ids=IDS)
def test_matches_torch_every_step(name, opts, torch_float64):
    init, loss = problem()
    ours, opt = make(ember, name, opts, init)
    theirs, topt = make(torch, name, opts, init)
    for step in range(20):
        train(ember, ours, opt, loss, 1)
        train(torch, theirs, topt, loss, 1)
        for i, (p, tp) in enumerate(zip(ours, theirs)):
            np.testing.assert_allclose(as_numpy(p), as_numpy(tp), rtol=1e-12, atol=1e-14,
                                       err_msg=f"step {step}, parameter {i}")
    assert not np.allclose(as_numpy(ours[0]), init[0])
    np.testing.assert_array_equal(as_numpy(ours[4]), init[4])  # no gradient: untouched
    for p, tp in zip(ours[:4], theirs[:4]):  # the same state under the same names
        state, tstate = opt.state[p], topt.state[tp]
        assert set(state) == set(tstate) == {"step", *STATE[name]}
        assert state["step"] == float(tstate["step"]) == 20
        for key in STATE[name]:
            np.testing.assert_allclose(as_numpy(state[key]), as_numpy(tstate[key]),
                                       rtol=1e-12, atol=1e-14, err_msg=key)


@pytest.mark.parametrize("name", list(STATE))
def test_defaults_match_torch(name):
    ours = getattr(optim, name)([ember.zeros(2, requires_grad=True)]).defaults
    theirs = getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)]).defaults
    internal = {"foreach", "differentiable", "capturable"}  # PyTorch's execution switches
    assert set(ours) == set(theirs) - internal
    for key in ours:
        assert ours[key] == (tuple(theirs[key]) if isinstance(theirs[key], list)
                             else theirs[key]), key


@pytest.mark.parametrize("name, opts", CASES[1::3], ids=IDS[1::3])
def test_state_dict_round_trip_continues_exactly(name, opts):
    init, loss = problem(1)
    ref, ref_opt = make(ember, name, opts, init)
    train(ember, ref, ref_opt, loss, 20)

    params, opt = make(ember, name, opts, init)
    train(ember, params, opt, loss, 10)
    saved = copy.deepcopy(opt.state_dict())
    assert sorted(saved["state"]) == [0, 1, 2, 3]
    resumed = [ember.tensor(p.detach().numpy(), requires_grad=True) for p in params]
    new_opt = getattr(optim, name)([{"params": resumed[:2]}, {"params": resumed[2:]}], lr=7.0)
    new_opt.load_state_dict(saved)
    assert [g["lr"] for g in new_opt.param_groups] == [g["lr"] for g in opt.param_groups]
    train(ember, resumed, new_opt, loss, 10)
    for p, q in zip(resumed, ref):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


def test_rprop_step_sizes_follow_the_gradient_sign_by_hand():
    p = ember.tensor([1.0, 1.0, 1.0], dtype=ember.float64, requires_grad=True)
    opt = optim.Rprop([p], lr=0.1, etas=(0.5, 2.0), step_sizes=(0.01, 0.3))
    for g in ([1.0, 1.0, 1.0], [2.0, -3.0, 0.0], [1.0, 5.0, 1.0], [1.0, 1.0, 1.0]):
        p.grad = ember.tensor(g, dtype=ember.float64)
        opt.step()
    # coordinate 0: the same sign each time, so the step doubles, up to the cap 0.3;
    # 1: the flip halves the step and skips it; its g_prev is then 0 (no change), then
    #    the step doubles again;  2: a zero gradient moves nothing and, remembered as
    #    g_prev, leaves the next step size as it is
    np.testing.assert_allclose(opt.state[p]["step_size"].numpy(), [0.3, 0.1, 0.2])
    np.testing.assert_allclose(p.detach().numpy(),
                               [1 - 0.1 - 0.2 - 0.3 - 0.3, 1 - 0.1 - 0.05 - 0.1,
                                1 - 0.1 - 0.1 - 0.2], rtol=1e-14)


@pytest.mark.parametrize("make_opt, match", [
    (lambda p: optim.Adamax(p, lr=-1.0), "learning rate"),
    (lambda p: optim.Adamax(p, betas=(0.9, 1.0)), "beta parameter at index 1"),
    (lambda p: optim.NAdam(p, momentum_decay=-0.1), "momentum_decay"),
    (lambda p: optim.NAdam(p, eps=-1e-8), "eps"),
    (lambda p: optim.RAdam(p, weight_decay=-0.1), "weight_decay"),
    (lambda p: optim.RAdam(p, betas=(1.5, 0.9)), "beta parameter at index 0"),
    (lambda p: optim.ASGD(p, lr=-0.1), "learning rate"),
    (lambda p: optim.Rprop(p, etas=(1.2, 0.5)), "eta values"),
    (lambda p: optim.Rprop(p, step_sizes=(1.0, 0.1)), "step_sizes"),
    (lambda p: optim.Rprop([{"params": p, "etas": (0.5, 1.0)}]), "eta values"),
])
def test_invalid_options_raise(make_opt, match):
    with pytest.raises(ValueError, match=match):
        make_opt([ember.zeros(2, requires_grad=True)])
