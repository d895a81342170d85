"""ember.optim.Adadelta and ember.optim.LBFGS against torch.optim, step by step.

Each problem is written once and run by both libraries through the same source (``lib`` is
``ember`` or ``torch``): a least-squares fit, a small MLP, a tiny recurrent sequence model
and the Rosenbrock function with its two coordinates as separate 0-dim parameters. In
float64, from the same start, the parameters must agree after every step. They agree to
rounding, not bit for bit: PyTorch's ``add_(..., alpha=a)`` is a fused multiply-add (one
rounding instead of two), so L-BFGS's two-loop recursion differs in the last bit, and a
problem's conditioning amplifies that over the iterations. The decisions (how many
evaluations, iterations, line-search trials) must be identical.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from types import ModuleType

import ember
import ember.optim as optim
import numpy as np
import pytest
from ember.optim.lbfgs import _cubic_interpolate, _strong_wolfe

torch = pytest.importorskip("torch")


# ---------------------------------------------------------------------------- problems
# problem(rng) -> (initial parameter arrays, loss(lib, params) -> scalar tensor)
def least_squares(rng: np.random.Generator):
    x = rng.normal(size=(30, 4))
    y = x @ rng.normal(size=(4, 1)) + 0.5 + 0.1 * rng.normal(size=(30, 1))
    init = [rng.normal(size=(4, 1)), np.zeros(1)]

    def loss(lib: ModuleType, params):
        w, b = params
        return ((lib.tensor(x) @ w + b - lib.tensor(y)) ** 2).mean()
    return init, loss


def mlp(rng: np.random.Generator):
    x = rng.normal(size=(16, 3))
    y = np.sin(x.sum(1, keepdims=True))
    init = [rng.normal(size=(3, 8)) / 2, np.zeros(8), rng.normal(size=(8, 1)) / 3, np.zeros(1),
            rng.normal(size=(2, 2))]  # the last one is unused: it never gets a gradient

    def loss(lib: ModuleType, params):
        w1, b1, w2, b2, _ = params
        h = (lib.tensor(x) @ w1 + b1).tanh()
        return ((h @ w2 + b2 - lib.tensor(y)) ** 2).mean()
    return init, loss


def sequence(rng: np.random.Generator):
    # an Elman RNN reading 5 steps of 2 features, predicting one number per sequence
    xs = rng.normal(size=(5, 6, 2))
    y = xs.sum(axis=(0, 2))[:, None] / 5
    init = [rng.normal(size=(2, 4)) / 2, rng.normal(size=(4, 4)) / 3, np.zeros(4),
            rng.normal(size=(4, 1)) / 2]

    def loss(lib: ModuleType, params):
        wx, wh, b, wo = params
        h = lib.tensor(np.zeros((6, 4)))
        for t in range(xs.shape[0]):
            h = (lib.tensor(xs[t]) @ wx + h @ wh + b).tanh()
        return ((h @ wo - lib.tensor(y)) ** 2).mean()
    return init, loss


def rosenbrock(rng: np.random.Generator):
    init = [np.array(-1.5), np.array(2.0)]  # two 0-dim parameters

    def loss(lib: ModuleType, params):
        a, b = params
        return (1 - a) ** 2 + 100 * (b - a ** 2) ** 2
    return init, loss


def nearly_flat(rng: np.random.Generator):
    init = [rng.normal(size=3)]

    def loss(lib: ModuleType, params):
        x, = params
        return (x * (0.5e-11 * x + 1)).sum()  # a slope of 1, curvature 1e-11
    return init, loss


PROBLEMS = {"least_squares": least_squares, "mlp": mlp, "sequence": sequence,
            "rosenbrock": rosenbrock, "nearly_flat": nearly_flat}


class Pair:
    """The same problem and optimizer in ember and in torch, stepped together."""

    def __init__(self, problem: str, opt_name: str, opts: dict, seed: int = 0,
                 params=None) -> None:
        init, self.loss = PROBLEMS[problem](np.random.default_rng(seed))
        self.ours = [ember.tensor(a, requires_grad=True) for a in init] if params is None \
            else params
        self.theirs = [torch.tensor(a, requires_grad=True) for a in init]
        self.opt = getattr(optim, opt_name)(self.ours, **opts)
        self.topt = getattr(torch.optim, opt_name)(self.theirs, **opts)

    def closure(self, lib: ModuleType) -> Callable:
        opt, params = (self.opt, self.ours) if lib is ember else (self.topt, self.theirs)

        def closure():
            opt.zero_grad()
            loss = self.loss(lib, params)
            loss.backward()
            return loss
        return closure

    def step(self):
        return self.opt.step(self.closure(ember)), self.topt.step(self.closure(torch))

    def assert_params_close(self, rtol: float, where: str = "") -> None:
        for i, (p, tp) in enumerate(zip(self.ours, self.theirs)):
            got, want = p.detach().numpy(), tp.detach().numpy()
            scale = max(1.0, float(np.abs(want).max()))
            assert np.abs(got - want).max() <= rtol * scale, \
                f"{where} parameter {i}: {got} != {want}"


def _float(x) -> float:
    return float(x.detach()) if hasattr(x, "detach") else float(x)


# ---------------------------------------------------------------------------- Adadelta
ADADELTA_OPTS = [dict(), dict(lr=0.5, rho=0.8), dict(lr=0.3, eps=1e-4, weight_decay=0.1),
                 dict(lr=0.2, maximize=True), dict(lr=0.7, rho=0.95, weight_decay=0.05,
                                                   maximize=True), dict(rho=0.0),
                 dict(rho=1.0)]


@pytest.mark.parametrize("problem", ["least_squares", "mlp", "sequence"])
@pytest.mark.parametrize("opts", ADADELTA_OPTS,
                         ids=[",".join(f"{k}={v}" for k, v in o.items()) or "defaults"
                              for o in ADADELTA_OPTS])
def test_adadelta_matches_torch_every_step(problem, opts):
    pair = Pair(problem, "Adadelta", opts)
    start = [p.detach().numpy().copy() for p in pair.ours]
    for step in range(12):
        loss, tloss = pair.step()
        assert _float(loss) == pytest.approx(_float(tloss), rel=1e-10)
        pair.assert_params_close(1e-10, f"step {step}")
    assert any(not np.allclose(p.detach().numpy(), s) for p, s in zip(pair.ours, start))
    # the same buffers under the same names
    for p, tp in zip(pair.ours, pair.theirs):
        ours, theirs = pair.opt.state[p], pair.topt.state[tp]
        if tp.grad is None:
            continue
        assert set(ours) == set(theirs) == {"step", "square_avg", "acc_delta"}
        assert ours["step"] == float(theirs["step"]) == 12
        for key in ("square_avg", "acc_delta"):
            np.testing.assert_allclose(ours[key].numpy(), theirs[key].numpy(), rtol=1e-9,
                                       atol=1e-14)


def test_adadelta_float32_matches_torch():
    rng = np.random.default_rng(3)
    theta0 = rng.normal(size=(4, 3)).astype(np.float32)
    p, tp = ember.tensor(theta0, requires_grad=True), torch.tensor(theta0, requires_grad=True)
    opt = optim.Adadelta([p], lr=0.5, weight_decay=0.1)
    topt = torch.optim.Adadelta([tp], lr=0.5, weight_decay=0.1)
    for _ in range(10):
        g = rng.normal(size=(4, 3)).astype(np.float32)
        p.grad, tp.grad = ember.tensor(g), torch.tensor(g)
        opt.step()
        topt.step()
    assert p.dtype is ember.float32
    np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_adadelta_first_step_by_hand():
    # u = 0, v = (1-ρ) g²: Δθ = √ε / √((1-ρ) g² + ε) · g
    g = np.array([0.5, -2.0, 1e-3])
    p = ember.tensor([1.0, 2.0, 3.0], dtype=ember.float64, requires_grad=True)
    opt = optim.Adadelta([p], lr=2.0, rho=0.9, eps=1e-6)
    p.grad = ember.tensor(g)
    opt.step()
    delta = np.sqrt(1e-6) / np.sqrt(0.1 * g * g + 1e-6) * g
    np.testing.assert_allclose(p.detach().numpy(), [1.0, 2.0, 3.0] - 2.0 * delta, rtol=1e-14)
    np.testing.assert_allclose(opt.state[p]["acc_delta"].numpy(), 0.1 * delta ** 2,
                               rtol=1e-14)


def test_adadelta_defaults_match_torch():
    ours = optim.Adadelta([ember.zeros(2, requires_grad=True)])
    theirs = torch.optim.Adadelta([torch.zeros(2, requires_grad=True)])
    shared = set(ours.defaults) & set(theirs.defaults)
    assert shared == {"lr", "rho", "eps", "weight_decay", "maximize"}
    for key in shared:
        assert ours.defaults[key] == theirs.defaults[key], key


def test_adadelta_state_dict_round_trip_continues_identically():
    pair = Pair("mlp", "Adadelta", dict(lr=0.5, weight_decay=0.01))
    for _ in range(3):
        pair.step()
    saved = copy.deepcopy(pair.opt.state_dict())
    twins = [p.detach().clone().requires_grad_() for p in pair.ours]
    twin = optim.Adadelta(twins)
    twin.load_state_dict(saved)
    assert twin.param_groups[0]["lr"] == 0.5
    closure = pair.closure(ember)
    _, loss = PROBLEMS["mlp"](np.random.default_rng(0))

    def twin_closure():
        twin.zero_grad()
        out = loss(ember, twins)
        out.backward()
        return out
    for _ in range(3):
        pair.opt.step(closure)
        twin.step(twin_closure)
    for p, q in zip(pair.ours, twins):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


@pytest.mark.parametrize("opts,match", [
    (dict(lr=-0.1), "learning rate"), (dict(rho=1.5), "rho"), (dict(rho=-0.1), "rho"),
    (dict(eps=-1e-6), "eps"), (dict(weight_decay=-0.1), "weight_decay"),
])
def test_adadelta_bad_arguments(opts, match):
    with pytest.raises(ValueError, match=match):
        optim.Adadelta([ember.zeros(2, requires_grad=True)], **opts)
    # a bad override in a parameter group is caught too
    with pytest.raises(ValueError, match=match):
        optim.Adadelta([{"params": [ember.zeros(2, requires_grad=True)], **opts}])


# ---------------------------------------------------------------------------- LBFGS vs torch
LBFGS_CASES = [
    ("least_squares", dict(), 4),
    ("least_squares", dict(line_search_fn="strong_wolfe"), 3),
    ("least_squares", dict(lr=0.1, max_iter=3, history_size=2), 6),
    ("mlp", dict(lr=0.2, max_iter=5), 5),
    ("mlp", dict(line_search_fn="strong_wolfe", max_iter=5, history_size=3), 6),
    ("mlp", dict(line_search_fn="strong_wolfe", max_eval=7), 4),
    ("sequence", dict(line_search_fn="strong_wolfe", max_iter=4, history_size=5), 5),
    ("sequence", dict(lr=0.5, max_iter=4, max_eval=3), 4),
    ("rosenbrock", dict(line_search_fn="strong_wolfe", max_iter=5), 4),
    ("rosenbrock", dict(lr=1e-3, max_iter=8, history_size=3), 4),
    # large tolerances: the loss-change and step-size stopping rules end the steps early
    ("least_squares", dict(max_iter=10, tolerance_change=1e-3), 3),
    ("mlp", dict(lr=0.05, max_iter=10, tolerance_change=5e-3), 3),
    ("sequence", dict(lr=0.1, max_iter=20, tolerance_change=1e-4), 2),
    ("rosenbrock", dict(line_search_fn="strong_wolfe", max_iter=50, tolerance_grad=1e-3,
                        tolerance_change=1e-12), 2),
    # curvature yᵀs below 1e-10: the pairs are skipped (kept, they would make H huge)
    ("nearly_flat", dict(max_iter=5), 2),
]


@pytest.mark.parametrize("problem,opts,steps", LBFGS_CASES,
                         ids=[f"{p}-{','.join(f'{k}={v}' for k, v in o.items()) or 'defaults'}"
                              for p, o, _ in LBFGS_CASES])
def test_lbfgs_matches_torch_every_step(problem, opts, steps):
    pair = Pair(problem, "LBFGS", opts)
    max_eval = opts.get("max_eval", opts.get("max_iter", 20) * 5 // 4)
    evals = 0
    for step in range(steps):
        loss, tloss = pair.step()
        assert _float(loss) == pytest.approx(_float(tloss), rel=1e-10, abs=1e-14)
        pair.assert_params_close(1e-10, f"step {step}")
        ours, theirs = pair.opt.state[pair.ours[0]], pair.topt.state[pair.theirs[0]]
        # the same decisions: evaluations, iterations, history length
        assert ours["func_evals"] == theirs["func_evals"], f"step {step}"
        assert ours["n_iter"] == theirs["n_iter"], f"step {step}"
        assert len(ours["old_dirs"]) == len(theirs["old_dirs"]) <= pair.opt.defaults[
            "history_size"]
        assert ours["func_evals"] - evals <= max_eval + 1  # (+1: a line search may end past)
        evals = ours["func_evals"]
        assert set(ours) == set(theirs)
        assert _float(ours["t"]) == pytest.approx(_float(theirs["t"]), rel=1e-6)
        np.testing.assert_allclose(ours["d"].numpy(), theirs["d"].numpy(), rtol=1e-6,
                                   atol=1e-9)
    assert set(pair.opt.state_dict()["param_groups"][0]) == \
        set(pair.topt.state_dict()["param_groups"][0])
    assert not np.allclose(pair.ours[0].detach().numpy(), PROBLEMS[problem](
        np.random.default_rng(0))[0][0])  # it moved


def test_lbfgs_history_is_limited_to_history_size():
    pair = Pair("mlp", "LBFGS", dict(line_search_fn="strong_wolfe", history_size=3,
                                     max_iter=10))
    pair.step()
    state = pair.opt.state[pair.ours[0]]
    assert state["n_iter"] > 3 and len(state["old_dirs"]) == len(state["old_stps"]) == \
        len(state["ro"]) == 3


def _counting(closure: Callable, calls: list) -> Callable:
    def counted():
        calls.append(1)
        return closure()
    return counted


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_max_eval_bounds_the_evaluations_per_step(line_search_fn):
    for max_eval in (1, 2, 5):
        pair = Pair("sequence", "LBFGS", dict(max_iter=50, max_eval=max_eval,
                                              line_search_fn=line_search_fn))
        calls, tcalls = [], []
        closure = _counting(pair.closure(ember), calls)
        tclosure = _counting(pair.closure(torch), tcalls)
        for _ in range(2):
            pair.opt.step(closure)
            pair.topt.step(tclosure)
            assert pair.opt.state[pair.ours[0]]["func_evals"] == len(calls) == len(tcalls)
        # the budget is checked after each iteration, which evaluates at least once more
        # than the initial evaluation
        assert len(calls) == 2 * max(max_eval, 2)


def test_lbfgs_returns_the_first_loss_object():
    pair = Pair("least_squares", "LBFGS", dict(max_iter=5))
    losses = []
    closure = pair.closure(ember)
    result = pair.opt.step(lambda: losses.append(closure()) or losses[-1])
    assert result is losses[0] and len(losses) == 5
    assert float(losses[-1]) < float(losses[0])


@pytest.mark.parametrize("history_size", [100, 4])
def test_lbfgs_converges_on_rosenbrock(history_size):
    x = [ember.tensor(-1.5, dtype=ember.float64, requires_grad=True),
         ember.tensor(2.0, dtype=ember.float64, requires_grad=True)]
    opt = optim.LBFGS(x, max_iter=200, history_size=history_size,
                      line_search_fn="strong_wolfe", tolerance_grad=1e-10,
                      tolerance_change=1e-14)
    _, loss = rosenbrock(np.random.default_rng(0))

    def closure():
        opt.zero_grad()
        out = loss(ember, x)
        out.backward()
        return out
    first = opt.step(closure)
    assert float(first) == 12.5  # f(-1.5, 2) = 2.5² + 100 (2 - 2.25)²
    np.testing.assert_allclose([float(x[0]), float(x[1])], [1.0, 1.0], atol=1e-7)
    assert float(loss(ember, x)) < 1e-14


def test_lbfgs_fixed_step_converges_on_least_squares():
    # on a quadratic, unit quasi-Newton steps converge to the least-squares solution
    pair = Pair("least_squares", "LBFGS", dict(max_iter=50, tolerance_change=1e-15))
    closure = pair.closure(ember)
    pair.opt.step(closure)
    closure()
    grad = np.concatenate([p.grad.numpy().ravel() for p in pair.ours])
    # it stopped early because the gradient fell below tolerance_grad
    assert np.abs(grad).max() <= 1e-7
    assert pair.opt.state[pair.ours[0]]["n_iter"] < 50


def test_lbfgs_stops_at_once_at_a_stationary_point():
    p = ember.zeros(3, dtype=ember.float64, requires_grad=True)
    opt = optim.LBFGS([p])
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        out = (p * p).sum()
        out.backward()
        return out
    assert float(opt.step(closure)) == 0.0
    assert len(calls) == 1 and opt.state[p]["func_evals"] == 1
    assert "d" not in opt.state[p]


@pytest.mark.parametrize("via", ["deepcopy", "file"])
def test_lbfgs_state_dict_round_trip_continues_identically(via, tmp_path):
    opts = dict(line_search_fn="strong_wolfe", max_iter=4, history_size=3)
    pair = Pair("sequence", "LBFGS", opts)
    for _ in range(2):
        pair.step()
    sd = pair.opt.state_dict()
    tsd = pair.topt.state_dict()
    assert set(sd["state"][0]) == set(tsd["state"][0]) == {
        "func_evals", "n_iter", "d", "t", "old_dirs", "old_stps", "ro", "H_diag",
        "prev_flat_grad", "prev_loss", "al"}
    assert list(sd["state"]) == list(tsd["state"]) == [0]  # kept on the first parameter
    if via == "file":  # through a checkpoint: lists of tensors, floats, None and strings
        ember.save(sd, tmp_path / "lbfgs.pt")
        saved = ember.load(tmp_path / "lbfgs.pt")
    else:
        saved = copy.deepcopy(sd)

    twins = [p.detach().clone().requires_grad_() for p in pair.ours]
    twin = optim.LBFGS(twins)
    twin.load_state_dict(saved)
    assert twin.param_groups[0]["history_size"] == 3
    loaded = twin.state[twins[0]]
    assert loaded["old_dirs"][0] is not saved["state"][0]["old_dirs"][0]  # copied
    _, loss = PROBLEMS["sequence"](np.random.default_rng(0))

    def twin_closure():
        twin.zero_grad()
        out = loss(ember, twins)
        out.backward()
        return out
    closure = pair.closure(ember)
    for _ in range(3):
        a, b = pair.opt.step(closure), twin.step(twin_closure)
        assert float(a) == float(b)
    for p, q in zip(pair.ours, twins):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())
    assert twin.state[twins[0]]["func_evals"] == pair.opt.state[pair.ours[0]]["func_evals"]


def test_lbfgs_load_state_dict_moves_flat_vectors_to_the_parameters_dtype():
    pair = Pair("least_squares", "LBFGS", dict(max_iter=3))
    pair.step()
    p32 = [ember.tensor(p.detach().numpy().astype(np.float32), requires_grad=True)
           for p in pair.ours]
    opt32 = optim.LBFGS(p32)
    opt32.load_state_dict(pair.opt.state_dict())
    state = opt32.state[p32[0]]
    assert state["d"].dtype is ember.float32 and state["d"].shape == (5,)
    assert all(v.dtype is ember.float32 for v in state["old_dirs"])


def test_lbfgs_float32_matches_torch():
    # float32 parameters: the vectors in float32 in both libraries (PyTorch also keeps its
    # scalars in float32 tensors, ours are Python floats), so to float32 rounding
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype(np.float32)
    y = np.sin(x.sum(1, keepdims=True)).astype(np.float32)
    init = [(rng.normal(size=(3, 8)) / 2).astype(np.float32), np.zeros(8, np.float32),
            (rng.normal(size=(8, 1)) / 3).astype(np.float32)]
    results = []
    for lib in (ember, torch):
        params = [lib.tensor(a, requires_grad=True) for a in init]
        opt = lib.optim.LBFGS(params, line_search_fn="strong_wolfe", max_iter=5)

        def closure(lib=lib, params=params, opt=opt):
            opt.zero_grad()
            w1, b1, w2 = params
            out = (((lib.tensor(x) @ w1 + b1).tanh() @ w2 - lib.tensor(y)) ** 2).mean()
            out.backward()
            return out
        for _ in range(2):
            opt.step(closure)
        assert all(str(p.dtype).endswith("float32") for p in params)
        results.append([p.detach().numpy() for p in params])
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_cubic_interpolate_matches_torch():
    from torch.optim.lbfgs import _cubic_interpolate as torch_cubic
    rng = np.random.default_rng(4)
    for _ in range(200):
        x1, x2 = rng.uniform(-2, 2, size=2)
        f1, g1, f2, g2 = rng.normal(size=4)
        bounds = (min(x1, x2) - 0.5, max(x1, x2) + 0.5) if rng.random() < 0.5 else None
        want = torch_cubic(*(torch.tensor(v, dtype=torch.float64)
                             for v in (x1, f1, g1, x2, f2, g2)), bounds=bounds)
        assert _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds) == pytest.approx(
            float(want), rel=1e-12, abs=1e-12)
    # a degenerate bracket (x1 = x2) falls back to the midpoint, as PyTorch's tensors do
    assert _cubic_interpolate(1.0, 2.0, -1.0, 1.0, 2.0, 1.0) == 1.0


def _objective(rng: np.random.Generator, kind: int, n: int = 3):
    """f(x) and ∇f(x) in NumPy for a line search to work on, of three kinds that exercise
    its different paths: 0, Σ a sin(b x) + c |x|² (many local minima along a line: trials
    overshoot, bracket and zoom); 1, a steep quartic bowl; 2, an exponential wall (where
    cubic interpolation lands near the ends of the bracket, and the boundary guard acts)."""
    a, b, c = rng.normal(size=n), rng.uniform(0.5, 5, size=n), rng.uniform(0.01, 1)
    m = rng.normal(size=n)

    def fg(x: np.ndarray) -> tuple[float, np.ndarray]:
        if kind == 0:
            f = np.sum(a * np.sin(b * x)) + c * np.sum(x * x)
            return float(f), a * b * np.cos(b * x) + 2 * c * x
        if kind == 1:
            return float(np.sum(b * (x - m) ** 4) + c * np.sum(x)), 4 * b * (x - m) ** 3 + c
        f = np.sum(np.exp(b * x)) - 3 * c * np.sum(b * x)
        return float(f), b * np.exp(b * x) - 3 * c * b
    return fg


# six blocks of random cases, and one found by search where the zoom's second
# near-the-boundary trial (insufficient progress) decides the trials
@pytest.mark.parametrize("cases", [range(first, first + 100) for first in range(0, 600, 100)]
                         + [[1364]], ids=lambda cases: f"{cases[0]}..{cases[-1]}")
def test_strong_wolfe_line_search_takes_torchs_trials(cases):
    # Both line searches on the same objective, evaluated in NumPy (so both see the same
    # numbers): the same trial steps in the same order, the same result. Random objectives,
    # starts, initial steps over four decades, direction scales, tolerances (up to large
    # ones, which end the zoom on a short bracket) and budgets reach every branch:
    # extrapolation, both ways of bracketing, the zoom's boundary guard and its swap of
    # ends, running out of evaluations.
    from torch.optim.lbfgs import _strong_wolfe as torch_strong_wolfe
    for case in cases:
        rng = np.random.default_rng(case)
        fg = _objective(rng, case % 3)
        x0 = rng.normal(size=3)
        f0, g0 = fg(x0)
        d0 = -g0 * 10 ** rng.uniform(-3, 0.5)
        t0 = 10 ** rng.uniform(-2, 2)
        max_ls = int(rng.integers(1, 30))
        tolerance_change = 10 ** rng.uniform(-9, 1)
        results = []
        for lib, search in ((ember, _strong_wolfe), (torch, torch_strong_wolfe)):
            trials = []

            def obj_func(x, t, d, lib=lib, trials=trials, fg=fg):
                trials.append(float(t))
                f, g = fg(x[0].numpy() + float(t) * d.numpy())
                return f, lib.tensor(g)
            g, d = lib.tensor(g0), lib.tensor(d0)
            gtd = float(g0 @ d0) if lib is ember else g.dot(d)
            with np.errstate(over="ignore"):
                f, g_new, t, evals = search(obj_func, [lib.tensor(x0)], t0, d, f0, g, gtd,
                                            tolerance_change=tolerance_change, max_ls=max_ls)
            results.append((trials, float(t), float(f), g_new.numpy(), evals))
        (trials, t, f, g, evals), (ttrials, tt, tf, tg, tevals) = results
        assert evals == tevals == len(trials), f"case {case}"
        np.testing.assert_allclose(trials, ttrials, rtol=1e-12, err_msg=f"case {case}")
        # (an overflowing trial gives inf or nan in both)
        np.testing.assert_allclose([t, f], [tt, tf], rtol=1e-12, err_msg=f"case {case}")
        np.testing.assert_allclose(g, tg, rtol=1e-12, atol=1e-12 * np.abs(tg).max(),
                                   err_msg=f"case {case}")


def test_lbfgs_line_search_gets_the_same_arguments_as_torchs(monkeypatch):
    # PyTorch's LBFGS leaves the line search's tolerance_change (and c1, c2) at their
    # defaults whatever the group's tolerance_change is: so must ours, for equal iterates
    import ember.optim.lbfgs as ember_lbfgs
    import torch.optim.lbfgs as torch_lbfgs
    calls = {"ember": [], "torch": []}
    for name, module in (("ember", ember_lbfgs), ("torch", torch_lbfgs)):
        def spy(*args, _real=module._strong_wolfe, _calls=calls[name], **kwargs):
            _calls.append(sorted(kwargs))
            return _real(*args, **kwargs)
        monkeypatch.setattr(module, "_strong_wolfe", spy)
    pair = Pair("mlp", "LBFGS", dict(line_search_fn="strong_wolfe", tolerance_change=1e-3,
                                     max_iter=4))
    pair.step()
    assert calls["ember"] == calls["torch"] and len(calls["ember"]) == 4
    pair.assert_params_close(1e-10)


# ---------------------------------------------------------------------------- LBFGS errors
def test_lbfgs_requires_a_closure():
    opt = optim.LBFGS([ember.zeros(2, requires_grad=True)])
    with pytest.raises(TypeError, match="requires a closure"):
        opt.step()
    with pytest.raises(TypeError, match="requires a closure"):
        opt.step(3.0)


def test_lbfgs_closure_must_return_the_loss():
    p = ember.ones(2, requires_grad=True)
    opt = optim.LBFGS([p])

    def closure():
        opt.zero_grad()
        (p * p).sum().backward()
    with pytest.raises(TypeError, match="closure must return the loss"):
        opt.step(closure)


def test_lbfgs_takes_one_parameter_group_only():
    a, b = ember.zeros(2, requires_grad=True), ember.zeros(3, requires_grad=True)
    with pytest.raises(ValueError, match="parameter groups"):
        optim.LBFGS([{"params": [a]}, {"params": [b], "lr": 0.1}])
    opt = optim.LBFGS([a])
    with pytest.raises(ValueError, match="parameter groups"):
        opt.add_param_group({"params": [b]})
    assert len(opt.param_groups) == 1


@pytest.mark.parametrize("opts,match", [
    (dict(lr=-1.0), "learning rate"),
    (dict(max_iter=0), "max_iter"),
    (dict(max_iter=2.5), "max_iter"),
    (dict(max_eval=0), "max_eval"),
    (dict(history_size=0), "history_size"),
    (dict(tolerance_grad=-1e-7), "tolerance_grad"),
    (dict(tolerance_change=-1.0), "tolerance_change"),
    (dict(line_search_fn="backtracking"), "strong_wolfe"),
])
def test_lbfgs_bad_arguments(opts, match):
    with pytest.raises(ValueError, match=match):
        optim.LBFGS([ember.zeros(2, requires_grad=True)], **opts)


# ---------------------------------------------------------------------------- devices
@pytest.mark.skipif(not ember.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("opt_name,opts", [
    ("LBFGS", dict(line_search_fn="strong_wolfe", max_iter=5, history_size=3)),
    ("LBFGS", dict(lr=0.2, max_iter=5)),
    ("Adadelta", dict(lr=0.5, weight_decay=0.01)),
])
def test_runs_on_cuda_as_on_the_cpu(opt_name, opts):
    on_cpu, on_cuda = (_run_on(device, opt_name, opts) for device in ("cpu", "cuda"))
    for got, want in zip(on_cuda, on_cpu):
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-10)


def _run_on(device: str, opt_name: str, opts: dict, steps: int = 4) -> list[np.ndarray]:
    """The MLP problem's parameters after ``steps`` steps on ``device``."""
    init, loss = mlp(np.random.default_rng(0))
    # the problems build their data with lib.tensor: make it create on the device
    lib = ModuleType("ember_on_" + device)
    lib.tensor = lambda data: ember.tensor(data, device=device)
    params = [ember.tensor(a, device=device, requires_grad=True) for a in init]
    opt = getattr(optim, opt_name)(params, **opts)

    def closure():
        opt.zero_grad()
        out = loss(lib, params)
        out.backward()
        return out
    for _ in range(steps):
        opt.step(closure)
    assert all(p.device.type == device for p in params)
    return [p.detach().cpu().numpy() for p in params]
