"""ember.optim.lr_scheduler: lr sequences against their closed forms and against
torch.optim.lr_scheduler, ReduceLROnPlateau's patience/cooldown/threshold, OneCycleLR's
momentum cycling, state dicts, and errors."""

from __future__ import annotations

import math
import warnings

import ember
import ember.optim as optim
import numpy as np
import pytest
from ember.optim import lr_scheduler

BASE_LRS = (0.1, 0.05)
N_STEPS = 20


def make_opt(cls=optim.SGD, lrs=BASE_LRS, **kw):
    groups = [{"params": [ember.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs]
    return cls(groups, **kw)


def make_torch_opt(torch, name="SGD", lrs=BASE_LRS, **kw):
    groups = [{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs]
    return getattr(torch.optim, name)(groups, **kw)


def run(opt, sched, n=N_STEPS):
    """The lrs at epochs 0..n (epoch 0 is set by the constructor)."""
    out = [list(sched.get_last_lr())]
    for _ in range(n):
        opt.step()
        sched.step()
        out.append(list(sched.get_last_lr()))
    return np.array(out)


# ---------------------------------------------------------------------------- closed forms
def _one_cycle(base_max, t, total=20, pct_start=0.3):
    initial = base_max / 25.0
    min_lr = initial / 1e4
    up_end = pct_start * total - 1

    def cos_anneal(a, b, pct):
        return b + (a - b) * (1 + math.cos(math.pi * pct)) / 2

    if t <= up_end:
        return cos_anneal(initial, base_max, t / up_end)
    return cos_anneal(base_max, min_lr, (t - up_end) / (total - 1 - up_end))


# name, kwargs, closed form lr(base, t)
SCHEDULES = [
    ("StepLR", dict(step_size=3, gamma=0.5), lambda b, t: b * 0.5 ** (t // 3)),
    ("MultiStepLR", dict(milestones=[2, 5, 5, 9], gamma=0.3),
     lambda b, t: b * 0.3 ** sum(m <= t for m in [2, 5, 5, 9])),
    ("ExponentialLR", dict(gamma=0.9), lambda b, t: b * 0.9 ** t),
    ("CosineAnnealingLR", dict(T_max=8, eta_min=0.001),
     lambda b, t: 0.001 + (b - 0.001) * (1 + math.cos(math.pi * t / 8)) / 2),
    ("LinearLR", dict(start_factor=0.25, end_factor=0.9, total_iters=6),
     lambda b, t: b * (0.25 + 0.65 * min(t, 6) / 6)),
    ("LinearLR", dict(), lambda b, t: b * (1 / 3 + (2 / 3) * min(t, 5) / 5)),
    ("LambdaLR", dict(lr_lambda=lambda e: 1.0 / (1 + e)), lambda b, t: b / (1 + t)),
    ("OneCycleLR", dict(max_lr=0.2, total_steps=N_STEPS),
     lambda b, t: _one_cycle(0.2, t)),
]
SCHEDULE_IDS = [f"{name}-{i}" for i, (name, _, _) in enumerate(SCHEDULES)]


@pytest.mark.parametrize("name,kwargs,closed_form", SCHEDULES, ids=SCHEDULE_IDS)
def test_lr_sequence_matches_closed_form(name, kwargs, closed_form):
    opt = make_opt()
    sched = getattr(lr_scheduler, name)(opt, **kwargs)
    n = N_STEPS - 1 if name == "OneCycleLR" else N_STEPS
    got = run(opt, sched, n)
    want = np.array([[closed_form(b, t) for b in BASE_LRS] for t in range(n + 1)])
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert sched.last_epoch == n
    assert [g["lr"] for g in opt.param_groups] == list(got[-1])


@pytest.mark.parametrize("name,kwargs,closed_form", SCHEDULES, ids=SCHEDULE_IDS)
def test_lr_sequence_matches_torch(name, kwargs, closed_form):
    torch = pytest.importorskip("torch")
    n = N_STEPS - 1 if name == "OneCycleLR" else N_STEPS
    opt = make_opt()
    topt = make_torch_opt(torch)
    ours = run(opt, getattr(lr_scheduler, name)(opt, **kwargs), n)
    theirs = run(topt, getattr(torch.optim.lr_scheduler, name)(topt, **kwargs), n)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


@pytest.mark.parametrize("kwargs", [
    dict(max_lr=[0.1, 0.3], total_steps=15, anneal_strategy="linear"),
    dict(max_lr=0.1, epochs=3, steps_per_epoch=5, three_phase=True),
    dict(max_lr=0.1, total_steps=15, pct_start=0.5, div_factor=10.0, final_div_factor=100.0),
])
@pytest.mark.parametrize("opt_name,opt_kw", [("SGD", dict(momentum=0.9)), ("Adam", {})])
def test_one_cycle_lr_and_momentum_match_torch(kwargs, opt_name, opt_kw):
    torch = pytest.importorskip("torch")
    opt = make_opt(getattr(optim, opt_name), **opt_kw)
    topt = make_torch_opt(torch, opt_name, **opt_kw)
    sched = lr_scheduler.OneCycleLR(opt, **kwargs)
    tsched = torch.optim.lr_scheduler.OneCycleLR(topt, **kwargs)
    key = "momentum" if opt_name == "SGD" else "betas"
    for _ in range(14):
        assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-12)
        for g, tg in zip(opt.param_groups, topt.param_groups):
            assert g[key] == pytest.approx(tg[key], rel=1e-12)
        opt.step()
        topt.step()
        sched.step()
        tsched.step()


def test_multiplicative_schedules_print_exactly_torchs_values():
    torch = pytest.importorskip("torch")
    for name, kw in [("StepLR", dict(step_size=2, gamma=0.1)), ("ExponentialLR", dict(gamma=0.7)),
                     ("MultiStepLR", dict(milestones=[1, 3, 4], gamma=0.1))]:
        opt, topt = make_opt(), make_torch_opt(torch)
        ours = run(opt, getattr(lr_scheduler, name)(opt, **kw), 8)
        theirs = run(topt, getattr(torch.optim.lr_scheduler, name)(topt, **kw), 8)
        assert [str(x) for x in ours.ravel()] == [str(x) for x in theirs.ravel()], name


def test_multiplicative_schedules_chain_like_torch():
    # PyTorch's documented example: two schedulers stepping the same optimizer
    torch = pytest.importorskip("torch")
    opt, topt = make_opt(), make_torch_opt(torch)
    ours = [lr_scheduler.ExponentialLR(opt, gamma=0.9),
            lr_scheduler.MultiStepLR(opt, milestones=[3, 6], gamma=0.1)]
    theirs = [torch.optim.lr_scheduler.ExponentialLR(topt, gamma=0.9),
              torch.optim.lr_scheduler.MultiStepLR(topt, milestones=[3, 6], gamma=0.1)]
    for _ in range(10):
        opt.step()
        topt.step()
        for s, ts in zip(ours, theirs):
            s.step()
            ts.step()
        assert [g["lr"] for g in opt.param_groups] == pytest.approx(
            [g["lr"] for g in topt.param_groups], rel=1e-12)


# ---------------------------------------------------------------------------- base semantics
def test_construction_performs_the_initial_step():
    opt = make_opt()
    sched = lr_scheduler.LinearLR(opt, start_factor=0.5, total_iters=4)
    assert sched.last_epoch == 0
    assert [g["initial_lr"] for g in opt.param_groups] == list(BASE_LRS)
    assert sched.base_lrs == list(BASE_LRS)
    assert sched.get_last_lr() == [0.05, 0.025]  # already the epoch-0 value
    assert [g["lr"] for g in opt.param_groups] == [0.05, 0.025]
    assert "LinearLR" in repr(sched)


def test_resuming_needs_initial_lr():
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(make_opt(), step_size=2, last_epoch=3)
    opt = make_opt()
    for g in opt.param_groups:
        g["initial_lr"] = g["lr"]
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=10, last_epoch=4)
    assert sched.last_epoch == 5
    # as PyTorch: resuming keeps the lr the (loaded) optimizer has, and the next step goes
    # on along the curve from it
    assert sched.get_last_lr() == list(BASE_LRS)
    sched.step()
    ratio = (1 + math.cos(math.pi * 6 / 10)) / (1 + math.cos(math.pi * 5 / 10))
    assert sched.get_last_lr()[0] == pytest.approx(BASE_LRS[0] * ratio, rel=1e-15)


def test_step_with_epoch_is_deprecated_and_uses_the_closed_form():
    opt = make_opt()
    sched = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    with pytest.warns(UserWarning, match="deprecated"):
        sched.step(5)
    assert sched.last_epoch == 5
    assert sched.get_last_lr() == pytest.approx([0.1 * 0.25, 0.05 * 0.25])


def test_stepping_warns_about_nothing():
    opt = make_opt(optim.Adam)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched = lr_scheduler.CosineAnnealingLR(opt, T_max=5)
        run(opt, sched, 5)


# ---------------------------------------------------------------------------- ReduceLROnPlateau
def _plateau_lrs(metrics, **kw):
    opt = make_opt(lrs=(0.1,))
    sched = lr_scheduler.ReduceLROnPlateau(opt, **kw)
    out = []
    for m in metrics:
        sched.step(m)
        out.append(sched.get_last_lr()[0])
    return out


def test_plateau_patience():
    lrs = _plateau_lrs([5, 4, 4, 4, 4, 4, 4, 4], patience=2, threshold=0)
    # bad epochs at 3, 4, 5 -> more than 2 -> reduce at epoch 5; again at epoch 8
    assert lrs == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.001])


def test_plateau_cooldown():
    lrs = _plateau_lrs([5, 4] + [4] * 9, patience=2, cooldown=2, threshold=0)
    # reduce at epoch 5; epochs 6-7 are cooldown (not counted); 8, 9, 10 bad -> reduce at 10
    assert lrs == pytest.approx([0.1] * 4 + [0.01] * 5 + [0.001] * 2)


def test_plateau_relative_and_absolute_threshold():
    # rel: an improvement must be below best·0.9
    assert _plateau_lrs([10, 9.5, 9.2, 8.5], patience=1, threshold=0.1) == \
        pytest.approx([0.1, 0.1, 0.01, 0.01])
    assert _plateau_lrs([10, 9.5, 8.9, 8.5], patience=1, threshold=0.1) == \
        pytest.approx([0.1] * 4)
    # abs, max mode: an improvement must exceed best + 0.5
    assert _plateau_lrs([1.0, 1.4, 1.45, 2.0, 2.1], mode="max", patience=1,
                        threshold=0.5, threshold_mode="abs") == \
        pytest.approx([0.1, 0.1, 0.01, 0.01, 0.01])


def test_plateau_min_lr_eps_and_tensor_metric():
    opt = make_opt()
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5, min_lr=[0.04, 0.0],
                                           eps=0.01)
    for m in [1.0, 2.0, 3.0, 4.0]:
        sched.step(ember.tensor(m))  # a 0-d tensor works as the metric
    # group 0: 0.1 -> 0.05 -> 0.04 (min_lr) ; group 1: 0.05 -> 0.025 -> 0.0125, then the
    # change 0.0125 -> 0.00625 is below eps and skipped
    assert sched.get_last_lr() == pytest.approx([0.04, 0.0125])


@pytest.mark.parametrize("kw", [
    dict(patience=2, cooldown=1),
    dict(mode="max", factor=0.5, patience=1, threshold=0.05, threshold_mode="abs"),
    dict(patience=0, min_lr=0.01, eps=1e-3),
])
def test_plateau_matches_torch(kw):
    torch = pytest.importorskip("torch")
    metrics = np.random.default_rng(0).normal(size=40).cumsum() * 0.1 + 5
    opt, topt = make_opt(), make_torch_opt(torch)
    sched = lr_scheduler.ReduceLROnPlateau(opt, **kw)
    tsched = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kw)
    changes = 0
    for m in metrics:
        before = sched.get_last_lr()
        sched.step(float(m))
        tsched.step(float(m))
        changes += before != sched.get_last_lr()
        assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-12)
        assert sched.num_bad_epochs == tsched.num_bad_epochs
    assert changes > 0


# ---------------------------------------------------------------------------- OneCycle momentum
def test_one_cycle_cycles_adam_beta1_inversely_to_lr():
    opt = make_opt(optim.Adam, lrs=(0.01,), betas=(0.9, 0.99))
    sched = lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=12, pct_start=0.5)
    beta1, lrs = [], []
    for t in range(12):
        beta1.append(opt.param_groups[0]["betas"][0])
        lrs.append(opt.param_groups[0]["lr"])
        assert opt.param_groups[0]["betas"][1] == 0.99
        if t < 11:
            opt.step()
            sched.step()
    peak = int(np.argmax(lrs))
    assert peak == 5 and lrs[peak] == pytest.approx(0.1)
    assert beta1[0] == pytest.approx(0.95) and beta1[peak] == pytest.approx(0.85)
    assert beta1[-1] == pytest.approx(0.95)
    assert lrs[0] == pytest.approx(0.1 / 25) and lrs[-1] == pytest.approx(0.1 / 25 / 1e4)
    assert np.all(np.diff(beta1[:peak + 1]) < 0) and np.all(np.diff(beta1[peak:]) > 0)


def test_one_cycle_sets_sgd_momentum_and_can_leave_it_alone():
    opt = make_opt(momentum=0.5)
    lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10)
    assert opt.param_groups[0]["momentum"] == pytest.approx(0.95)
    opt = make_opt(momentum=0.5)
    lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10, cycle_momentum=False)
    assert opt.param_groups[0]["momentum"] == 0.5


# ---------------------------------------------------------------------------- state dicts
class Halving:
    """A callable object: its attributes travel in LambdaLR's state dict."""

    def __init__(self, every: int) -> None:
        self.every = every

    def __call__(self, epoch: int) -> float:
        return 0.5 ** (epoch // self.every)


ROUND_TRIP = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[4, 9], gamma=0.2)),
    ("CosineAnnealingLR", dict(T_max=10)),
    ("LinearLR", dict(total_iters=10)),
    ("OneCycleLR", dict(max_lr=0.3, total_steps=16)),
    ("LambdaLR", dict(lr_lambda=Halving(3))),
]


@pytest.mark.parametrize("name,kwargs", ROUND_TRIP, ids=[n for n, _ in ROUND_TRIP])
def test_scheduler_state_dict_round_trip(name, kwargs):
    cls = getattr(lr_scheduler, name)
    opt = make_opt(optim.Adam)
    ref = run(opt, cls(opt, **kwargs), 15)

    opt = make_opt(optim.Adam)
    sched = cls(opt, **kwargs)
    first = run(opt, sched, 7)
    sched_state, opt_state = sched.state_dict(), opt.state_dict()
    assert "optimizer" not in sched_state and sched_state["last_epoch"] == 7

    kw2 = dict(kwargs, lr_lambda=Halving(100)) if name == "LambdaLR" else kwargs
    opt2 = make_opt(optim.Adam)
    sched2 = cls(opt2, **kw2)  # construct first, then load both states (as in PyTorch)
    sched2.load_state_dict(sched_state)
    opt2.load_state_dict(opt_state)
    rest = run(opt2, sched2, 8)
    np.testing.assert_array_equal(np.concatenate([first, rest[1:]]), ref)


def test_plateau_state_dict_round_trip():
    metrics = [5, 4, 4, 4, 4, 3, 3, 3, 3, 3]
    opt = make_opt()
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=1, cooldown=1)
    for m in metrics[:4]:
        sched.step(m)
    saved, opt_saved = sched.state_dict(), opt.state_dict()
    opt2 = make_opt()
    sched2 = lr_scheduler.ReduceLROnPlateau(opt2)
    sched2.load_state_dict(saved)
    opt2.load_state_dict(opt_saved)
    for m in metrics[4:]:
        sched.step(m)
        sched2.step(m)
        assert sched2.get_last_lr() == sched.get_last_lr()
        assert sched2.best == sched.best and sched2.patience == 1


# ---------------------------------------------------------------------------- errors
def test_scheduler_errors():
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.StepLR("sgd", step_size=1)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.ReduceLROnPlateau(None)
    with pytest.raises(ValueError, match="total_steps OR"):
        lr_scheduler.OneCycleLR(make_opt(), max_lr=0.1)
    with pytest.raises(ValueError, match="one value per param group"):
        lr_scheduler.OneCycleLR(make_opt(), max_lr=[0.1, 0.2, 0.3], total_steps=5)
    with pytest.raises(ValueError, match="momentum or beta1"):
        lr_scheduler.OneCycleLR(make_opt(optim.Adagrad), max_lr=0.1, total_steps=5)
    opt = make_opt()
    sched = lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=3)
    for _ in range(3):
        sched.step()
    with pytest.raises(ValueError, match="total_steps=3"):
        sched.step()
    with pytest.raises(ValueError, match="start_factor"):
        lr_scheduler.LinearLR(make_opt(), start_factor=0)
    with pytest.raises(ValueError, match="factor should be < 1.0"):
        lr_scheduler.ReduceLROnPlateau(make_opt(), factor=1.5)
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        lr_scheduler.ReduceLROnPlateau(make_opt(), mode="lowest")
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas|one value per param group"):
        lr_scheduler.LambdaLR(make_opt(), lr_lambda=[lambda e: 1.0])
