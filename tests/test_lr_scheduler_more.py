"""CosineAnnealingWarmRestarts, ConstantLR, PolynomialLR, CyclicLR, SequentialLR and
ChainedScheduler against torch.optim.lr_scheduler: the same learning rates (and cycled
momenta) at every one of 50 steps, and a state-dict round trip that continues exactly."""

from __future__ import annotations

import copy
import math

import ember
import ember.optim as optim
import numpy as np
import pytest
from ember.optim import lr_scheduler

torch = pytest.importorskip("torch")

LRS = (0.1, 0.04)  # two param groups with their own base lr


def make_opt(lib, name="SGD", **kw):
    groups = [{"params": [lib.zeros(2, requires_grad=True)], "lr": lr} for lr in LRS]
    return getattr(lib.optim, name)(groups, **kw)


# name -> (optimizer name and options, build(sched_module, opt) -> scheduler)
CASES = {
    "warm_restarts": (("SGD", {}), lambda s, o: s.CosineAnnealingWarmRestarts(o, T_0=7)),
    "warm_restarts_mult": (("SGD", {}), lambda s, o: s.CosineAnnealingWarmRestarts(
        o, T_0=3, T_mult=2, eta_min=1e-3)),
    "constant": (("SGD", {}), lambda s, o: s.ConstantLR(o)),
    "constant_half": (("SGD", {}), lambda s, o: s.ConstantLR(o, factor=0.5, total_iters=4)),
    "polynomial": (("SGD", {}), lambda s, o: s.PolynomialLR(o)),
    "polynomial_square": (("SGD", {}), lambda s, o: s.PolynomialLR(o, total_iters=20,
                                                                   power=2.0)),
    "cyclic": (("SGD", {"momentum": 0.9}), lambda s, o: s.CyclicLR(
        o, base_lr=0.01, max_lr=0.1, step_size_up=4)),
    "cyclic_triangular2": (("SGD", {"momentum": 0.9}), lambda s, o: s.CyclicLR(
        o, base_lr=[0.01, 0.02], max_lr=[0.1, 0.3], step_size_up=3, step_size_down=6,
        mode="triangular2", base_momentum=0.7, max_momentum=0.95)),
    "cyclic_exp_range_adam": (("Adam", {}), lambda s, o: s.CyclicLR(
        o, base_lr=1e-3, max_lr=1e-2, step_size_up=5, mode="exp_range", gamma=0.97)),
    "cyclic_scale_fn": (("SGD", {}), lambda s, o: s.CyclicLR(
        o, base_lr=0.01, max_lr=0.2, step_size_up=2, step_size_down=3,
        scale_fn=lambda x: 1 / (1 + 0.1 * x), scale_mode="iterations", cycle_momentum=False)),
    "sequential_warmup_cosine": (("SGD", {}), lambda s, o: s.SequentialLR(
        o, [s.LinearLR(o, start_factor=0.1, total_iters=5), s.CosineAnnealingLR(o, T_max=20)],
        milestones=[5])),
    "sequential_three": (("SGD", {}), lambda s, o: s.SequentialLR(
        o, [s.ConstantLR(o, factor=0.2, total_iters=10), s.ExponentialLR(o, gamma=0.9),
            s.StepLR(o, step_size=4, gamma=0.5)], milestones=[3, 12])),
    "chained_constant_exponential": (("SGD", {}), lambda s, o: s.ChainedScheduler(
        [s.ConstantLR(o, factor=0.1, total_iters=2), s.ExponentialLR(o, gamma=0.9)])),
    "chained_linear_cosine_multistep": (("SGD", {}), lambda s, o: s.ChainedScheduler(
        [s.LinearLR(o, start_factor=0.2, total_iters=6), s.CosineAnnealingLR(o, T_max=15),
         s.MultiStepLR(o, milestones=[10, 30], gamma=0.5)])),
    "chained_polynomial_step": (("SGD", {}), lambda s, o: s.ChainedScheduler(
        [s.PolynomialLR(o, total_iters=40, power=0.5), s.StepLR(o, step_size=7, gamma=0.7)],
        optimizer=o)),
}


def settings(opt):
    """What a scheduler may set: each group's lr and momentum (or beta1)."""
    out = []
    for g in opt.param_groups:
        out.append(g["lr"])
        if "momentum" in g:
            out.append(g["momentum"])
        if "betas" in g:
            out.append(g["betas"][0])
    return out


def run(lib, case, steps, sched=None, opt=None):
    (name, kw), build = CASES[case]
    if opt is None:
        opt = make_opt(lib, name, **kw)
        sched = build(lib.optim.lr_scheduler, opt)
    seen = [settings(opt)]
    for _ in range(steps):
        opt.step()
        sched.step()
        seen.append(settings(opt))
        assert list(sched.get_last_lr()) == [g["lr"] for g in opt.param_groups]
    return np.array(seen, dtype=np.float64), sched, opt


@pytest.mark.parametrize("case", list(CASES))
def test_matches_torch_every_step(case):
    ours, _, _ = run(ember, case, 50)
    theirs, _, _ = run(torch, case, 50)
    np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=1e-16)
    assert np.ptp(ours[:, 0]) > 0  # the schedule did change the lr


@pytest.mark.parametrize("case", list(CASES))
def test_state_dict_round_trip_continues_exactly(case):
    ref, _, _ = run(ember, case, 50)
    first, sched, opt = run(ember, case, 20)
    saved = copy.deepcopy((sched.state_dict(), opt.state_dict()))
    (name, kw), build = CASES[case]
    opt2 = make_opt(ember, name, **kw)
    sched2 = build(lr_scheduler, opt2)
    opt2.load_state_dict(saved[1])
    sched2.load_state_dict(saved[0])
    rest, _, _ = run(ember, case, 30, sched2, opt2)
    np.testing.assert_array_equal(np.concatenate([first, rest[1:]]), ref)


def test_warm_restarts_take_fractional_epochs_as_torch():
    ours, theirs = make_opt(ember), make_opt(torch)
    s = lr_scheduler.CosineAnnealingWarmRestarts(ours, T_0=4, T_mult=2, eta_min=0.01)
    t = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(theirs, T_0=4, T_mult=2,
                                                             eta_min=0.01)
    for epoch in np.arange(0, 20, 0.25):  # scheduler.step(epoch + i / iters) per batch
        s.step(float(epoch))
        t.step(float(epoch))
        assert s.get_last_lr() == pytest.approx(t.get_last_lr(), rel=1e-13)
        assert s.T_i == t.T_i and s.last_epoch == t.last_epoch
    with pytest.raises(ValueError, match="non-negative epoch"):
        s.step(-1)


def test_warm_restarts_values_by_hand():
    opt = make_opt(ember)
    sched = lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(6):
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    # runs of 2 then 4 epochs: cos at 0, 1/2; then 0, 1/4, 2/4, 3/4 of the way; restart
    half = [0.1 * (1 + math.cos(math.pi * f)) / 2 for f in (0, 1 / 2, 0, 1 / 4, 2 / 4, 3 / 4, 0)]
    np.testing.assert_allclose(lrs, half, rtol=1e-15)


def test_cyclic_lr_saves_a_callable_objects_state_only():
    class Scale:
        def __init__(self):
            self.k = 0.5

        def __call__(self, x):
            return self.k ** x

    fn = Scale()
    sched = lr_scheduler.CyclicLR(make_opt(ember), 0.01, 0.1, step_size_up=2, scale_fn=fn,
                                  cycle_momentum=False)
    state = sched.state_dict()
    assert state["_scale_fn_custom"] == {"k": 0.5}
    fn.k = 0.9
    sched.load_state_dict(state)
    assert fn.k == 0.5
    plain = lr_scheduler.CyclicLR(make_opt(ember), 0.01, 0.1, scale_fn=lambda x: 1.0,
                                  cycle_momentum=False)
    assert plain.state_dict()["_scale_fn_custom"] is None


@pytest.mark.parametrize("build, kind, match", [
    (lambda o: lr_scheduler.ConstantLR(o, factor=1.5), ValueError, "factor"),
    (lambda o: lr_scheduler.ConstantLR(o, factor=0.0), ValueError, "factor"),
    (lambda o: lr_scheduler.PolynomialLR(o, total_iters=0), ValueError, "total_iters"),
    (lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=0), ValueError, "T_0"),
    (lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=1.5), ValueError,
     "T_mult"),
    (lambda o: lr_scheduler.CyclicLR(o, 0.01, 0.1, mode="sine"), ValueError, "mode"),
    (lambda o: lr_scheduler.CyclicLR(o, 0.01, 0.1, step_size_up=0), ValueError,
     "step_size_up"),
    (lambda o: lr_scheduler.CyclicLR(o, [0.01], 0.1), ValueError, "one value per param group"),
    (lambda o: lr_scheduler.CyclicLR(optim.Adagrad(o.param_groups[0]["params"]), 0.01, 0.1),
     ValueError, "momentum or betas"),
    (lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.ConstantLR(o)], milestones=[3]),
     ValueError, "one milestone fewer"),
    (lambda o: lr_scheduler.SequentialLR(o, [], milestones=[]), ValueError, "at least one"),
    (lambda o: lr_scheduler.SequentialLR(
        o, [lr_scheduler.ConstantLR(o), lr_scheduler.ReduceLROnPlateau(o)], milestones=[2]),
     ValueError, "ReduceLROnPlateau"),
    (lambda o: lr_scheduler.ChainedScheduler(
        [lr_scheduler.ConstantLR(o), lr_scheduler.ConstantLR(make_opt(ember))]),
     ValueError, "same optimizer"),
    (lambda o: lr_scheduler.ChainedScheduler([o]), TypeError, "not an LRScheduler"),
])
def test_bad_arguments_raise(build, kind, match):
    with pytest.raises(kind, match=match):
        build(make_opt(ember, "SGD", momentum=0.9))
