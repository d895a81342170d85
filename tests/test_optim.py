"""ember.optim: each optimizer against an independent NumPy transcription of PyTorch's
documented pseudo-code and against torch.optim itself, plus the Optimizer API (groups,
zero_grad, state dicts, errors), a learning test and the regularisation helpers."""

from __future__ import annotations

import copy

import ember
import ember.optim as optim
import numpy as np
import pytest
from ember.autograd import gradcheck

# ---------------------------------------------------------------------------- the problem
# Two parameters (a vector and a matrix). Per parameter, with θ flattened:
#   f(θ) = ½ θᵀAθ - bᵀθ + 0.1 Σθ⁴ + n_tᵀθ       (n_t: fresh random noise every step)
#   ∇f(θ) = Aθ - b + 0.4 θ³ + n_t
SHAPES = [(5,), (2, 3)]
STEPS = 6


class Problem:
    def __init__(self, seed: int = 0, steps: int = STEPS) -> None:
        rng = np.random.default_rng(seed)
        self.theta0 = [rng.uniform(-1, 1, s) for s in SHAPES]
        self.A, self.b = [], []
        for s in SHAPES:
            n = int(np.prod(s))
            m = rng.normal(size=(n, n))
            self.A.append(m @ m.T / n + np.eye(n))
            self.b.append(rng.normal(size=n))
        self.noise = [[rng.normal(scale=0.5, size=int(np.prod(s))) for s in SHAPES]
                      for _ in range(steps)]

    def np_grad(self, i: int, theta: np.ndarray, t: int) -> np.ndarray:
        x = theta.reshape(-1)
        g = self.A[i] @ x - self.b[i] + 0.4 * x ** 3 + self.noise[t][i]
        return g.reshape(theta.shape)

    def ember_loss(self, params, t: int) -> ember.Tensor:
        total = None
        for i, p in enumerate(params):
            x = p.reshape(-1)
            a = ember.tensor(self.A[i])
            b = ember.tensor(self.b[i])
            n = ember.tensor(self.noise[t][i])
            f = 0.5 * (x * (a @ x)).sum() - (b * x).sum() + 0.1 * (x ** 4).sum() + (n * x).sum()
            total = f if total is None else total + f
        return total


def run_ember(cls, opts, prob: Problem, steps: int = STEPS):
    params = [ember.tensor(t0, requires_grad=True) for t0 in prob.theta0]
    opt = cls(params, **opts)
    for t in range(steps):
        opt.zero_grad()
        prob.ember_loss(params, t).backward()
        opt.step()
    return [p.detach().numpy().copy() for p in params]


def run_reference(update, opts, prob: Problem, steps: int = STEPS):
    thetas = [t0.copy() for t0 in prob.theta0]
    states = [{} for _ in thetas]
    for t in range(steps):
        for i, theta in enumerate(thetas):
            update(theta, prob.np_grad(i, theta, t), states[i], t + 1, **opts)
    return thetas


# ---------------------------------------------------------------------------- references
# Written from the pseudo-code in PyTorch's documentation, in plain NumPy (θ in place).
def sgd_ref(theta, g, st, t, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
            nesterov=False, maximize=False):
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * theta
    if momentum != 0:
        if t > 1:
            st["b"] = momentum * st["b"] + (1 - dampening) * g
        else:
            st["b"] = g
        g = g + momentum * st["b"] if nesterov else st["b"]
    theta -= lr * g


def adam_ref(theta, g, st, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
             amsgrad=False, maximize=False, decoupled=False):
    b1, b2 = betas
    if t == 1:
        st["m"], st["v"], st["vmax"] = (np.zeros_like(theta) for _ in range(3))
    if maximize:
        g = -g
    if decoupled:
        theta *= 1 - lr * weight_decay
    elif weight_decay != 0:
        g = g + weight_decay * theta
    st["m"] = b1 * st["m"] + (1 - b1) * g
    st["v"] = b2 * st["v"] + (1 - b2) * g * g
    m_hat = st["m"] / (1 - b1 ** t)
    if amsgrad:
        st["vmax"] = np.maximum(st["vmax"], st["v"])
        v_hat = st["vmax"] / (1 - b2 ** t)
    else:
        v_hat = st["v"] / (1 - b2 ** t)
    theta -= lr * m_hat / (np.sqrt(v_hat) + eps)


def adamw_ref(theta, g, st, t, weight_decay=1e-2, **kw):
    adam_ref(theta, g, st, t, weight_decay=weight_decay, decoupled=True, **kw)


def rmsprop_ref(theta, g, st, t, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0,
                momentum=0.0, centered=False, maximize=False):
    if t == 1:
        st["v"], st["gavg"], st["b"] = (np.zeros_like(theta) for _ in range(3))
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * theta
    st["v"] = alpha * st["v"] + (1 - alpha) * g * g
    v_tilde = st["v"]
    if centered:
        st["gavg"] = alpha * st["gavg"] + (1 - alpha) * g
        v_tilde = v_tilde - st["gavg"] ** 2
    if momentum > 0:
        st["b"] = momentum * st["b"] + g / (np.sqrt(v_tilde) + eps)
        theta -= lr * st["b"]
    else:
        theta -= lr * g / (np.sqrt(v_tilde) + eps)


def adagrad_ref(theta, g, st, t, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                initial_accumulator_value=0.0, eps=1e-10, maximize=False):
    if t == 1:
        st["sum"] = np.full_like(theta, initial_accumulator_value)
    if maximize:
        g = -g
    lr_t = lr / (1 + (t - 1) * lr_decay)
    if weight_decay != 0:
        g = g + weight_decay * theta
    st["sum"] = st["sum"] + g * g
    theta -= lr_t * g / (np.sqrt(st["sum"]) + eps)


# (ember class, torch class name, reference, options)
CASES = [
    *[(optim.SGD, "SGD", sgd_ref, o) for o in [
        dict(lr=0.05),
        dict(lr=0.05, momentum=0.9),
        dict(lr=0.05, momentum=0.9, dampening=0.3),
        dict(lr=0.05, momentum=0.9, nesterov=True),
        dict(lr=0.05, momentum=0.5, weight_decay=0.1),
        dict(lr=0.05, weight_decay=0.1, maximize=True),
        dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1, maximize=True),
        dict(),  # PyTorch 2.x default lr=1e-3
    ]],
    *[(optim.Adam, "Adam", adam_ref, o) for o in [
        dict(),
        dict(lr=0.05),
        dict(lr=0.05, amsgrad=True),
        dict(lr=0.05, weight_decay=0.1),
        dict(lr=0.05, maximize=True),
        dict(lr=0.05, betas=(0.5, 0.9), eps=1e-3, amsgrad=True, weight_decay=0.1,
             maximize=True),
    ]],
    *[(optim.AdamW, "AdamW", adamw_ref, o) for o in [
        dict(lr=0.05),
        dict(lr=0.05, weight_decay=0.3, amsgrad=True),
        dict(lr=0.05, weight_decay=0.3, maximize=True),
        dict(lr=0.05, weight_decay=0.0),
    ]],
    *[(optim.RMSprop, "RMSprop", rmsprop_ref, o) for o in [
        dict(),
        dict(centered=True),
        dict(momentum=0.9),
        dict(lr=0.02, alpha=0.9, eps=1e-3, centered=True, momentum=0.5, weight_decay=0.1),
        dict(weight_decay=0.1, maximize=True),
    ]],
    *[(optim.Adagrad, "Adagrad", adagrad_ref, o) for o in [
        dict(),
        dict(lr=0.1, lr_decay=0.1),
        dict(lr=0.1, weight_decay=0.1),
        dict(lr=0.1, initial_accumulator_value=0.5, eps=1e-3),
        dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, maximize=True),
    ]],
]
CASE_IDS = [f"{cls.__name__}-{'-'.join(f'{k}={v}' for k, v in o.items()) or 'defaults'}"
            for cls, _, _, o in CASES]


@pytest.mark.parametrize("cls,torch_name,ref,opts", CASES, ids=CASE_IDS)
def test_matches_documented_update_rule(cls, torch_name, ref, opts):
    prob = Problem(seed=1)
    got = run_ember(cls, opts, prob)
    want = run_reference(ref, opts, prob)
    for g, w, t0 in zip(got, want, prob.theta0):
        assert np.all(np.isfinite(g))
        assert not np.allclose(g, t0)  # it moved
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cls,torch_name,ref,opts", CASES, ids=CASE_IDS)
def test_matches_torch_optim(cls, torch_name, ref, opts):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    steps = 10
    theta0 = [rng.normal(size=s) for s in SHAPES]
    grads = [[rng.normal(size=s) for s in SHAPES] for _ in range(steps)]
    ours = [ember.tensor(t0, requires_grad=True) for t0 in theta0]
    theirs = [torch.tensor(t0, requires_grad=True) for t0 in theta0]
    opt = cls(ours, **opts)
    topt = getattr(torch.optim, torch_name)(theirs, **opts)
    for t in range(steps):
        for p, tp, g in zip(ours, theirs, grads[t]):
            p.grad = ember.tensor(g)
            tp.grad = torch.tensor(g)
        opt.step()
        topt.step()
    for p, tp in zip(ours, theirs):
        np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=1e-6,
                                   atol=1e-12)
    # the state holds the same buffers under the same names
    for p, tp in zip(ours, theirs):
        for key, value in opt.state[p].items():
            tvalue = topt.state[tp][key]
            if isinstance(value, ember.Tensor):
                np.testing.assert_allclose(value.numpy(), tvalue.numpy(), rtol=1e-6,
                                           atol=1e-12)
            else:
                assert value == float(tvalue)


@pytest.mark.parametrize("cls,opts", [(optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
                                      (optim.Adam, dict(lr=0.01, amsgrad=True)),
                                      (optim.AdamW, dict(lr=0.01)),
                                      (optim.RMSprop, dict(centered=True)),
                                      (optim.Adagrad, dict(lr_decay=0.1))])
def test_float32_matches_torch(cls, opts):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    theta0 = rng.normal(size=(4, 3)).astype(np.float32)
    p = ember.tensor(theta0, requires_grad=True)
    tp = torch.tensor(theta0, requires_grad=True)
    opt, topt = cls([p], **opts), getattr(torch.optim, cls.__name__)([tp], **opts)
    for _ in range(8):
        g = rng.normal(size=(4, 3)).astype(np.float32)
        p.grad, tp.grad = ember.tensor(g), torch.tensor(g)
        opt.step()
        topt.step()
    assert p.dtype is ember.float32
    np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop,
                                 optim.Adagrad])
def test_defaults_match_torch(cls):
    torch = pytest.importorskip("torch")
    ours = cls([ember.zeros(2, requires_grad=True)]).defaults
    theirs = getattr(torch.optim, cls.__name__)([torch.zeros(2, requires_grad=True)]).defaults
    shared = set(ours) & set(theirs)
    assert {"lr", "weight_decay", "maximize"} <= shared
    for key in shared - {"fused"}:
        assert ours[key] == theirs[key], key


# ---------------------------------------------------------------------------- update details
def test_sgd_momentum_buffer_starts_as_a_copy_of_the_first_gradient():
    p = ember.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9, dampening=0.5)
    p.grad = ember.tensor([0.5, -1.0])
    opt.step()
    buf = opt.state[p]["momentum_buffer"]
    np.testing.assert_array_equal(buf.numpy(), [0.5, -1.0])  # not (1 - dampening)·g
    p.grad.mul_(0)  # the buffer is not an alias of the gradient
    np.testing.assert_array_equal(buf.numpy(), [0.5, -1.0])
    np.testing.assert_allclose(p.detach().numpy(), [0.95, 2.1])


def test_adam_first_step_is_lr_times_sign_of_gradient():
    # with bias correction m̂ = g and v̂ = g², so the first step is -lr·g/(|g| + eps)
    p = ember.tensor([1.0, -2.0, 3.0], dtype=ember.float64, requires_grad=True)
    opt = optim.Adam([p], lr=0.01)
    g = np.array([3.0, -0.5, 1e-3])
    p.grad = ember.tensor(g)
    opt.step()
    np.testing.assert_allclose(p.detach().numpy(),
                               [1.0, -2.0, 3.0] - 0.01 * g / (np.abs(g) + 1e-8), rtol=1e-13)
    assert opt.state[p]["step"] == 1


def test_adamw_decay_is_decoupled_from_the_gradient():
    # zero gradient: Adam's L2 term goes through m/(√v+ε) (a full-size step), AdamW just
    # shrinks the weights by (1 - lr·wd)
    p = ember.tensor([2.0], dtype=ember.float64, requires_grad=True)
    opt = optim.AdamW([p], lr=0.1, weight_decay=0.5)
    p.grad = ember.zeros(1, dtype=ember.float64)
    opt.step()
    np.testing.assert_allclose(p.detach().numpy(), [2.0 * (1 - 0.05)], rtol=1e-12)
    q = ember.tensor([2.0], dtype=ember.float64, requires_grad=True)
    opt = optim.Adam([q], lr=0.1, weight_decay=0.5)
    q.grad = ember.zeros(1, dtype=ember.float64)
    opt.step()
    np.testing.assert_allclose(q.detach().numpy(), [1.9], rtol=1e-6)


def test_state_lives_on_the_parameter_dtype_and_step_stays_outside_the_graph():
    p = ember.randn(3, 2, requires_grad=True)  # float32
    for cls in (optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop, optim.Adagrad):
        opts = {"momentum": 0.9} if cls in (optim.SGD, optim.RMSprop) else {}
        opt = cls([p], **opts)
        p.grad = ember.ones(3, 2)
        opt.step()
        assert p.dtype is ember.float32 and p.is_leaf and p.requires_grad
        assert p.grad_fn is None
        tensors = [v for v in opt.state[p].values() if isinstance(v, ember.Tensor)]
        assert tensors
        for v in tensors:
            assert v.dtype is ember.float32 and v.device == p.device and v.shape == p.shape
            assert not v.requires_grad


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop,
                                 optim.Adagrad])
def test_each_optimizer_has_a_swappable_per_parameter_update(cls):
    assert "_update_param" in vars(cls) or "_update_param" in vars(cls.__mro__[1])


def test_adam_stores_fused_option():
    p = ember.zeros(2, requires_grad=True)
    assert optim.Adam([p], fused=True).param_groups[0]["fused"] is True
    assert optim.AdamW([p]).param_groups[0]["fused"] is None
    assert optim.AdamW([p]).param_groups[0]["decoupled_weight_decay"] is True


def test_adagrad_creates_state_eagerly_like_torch():
    p = ember.zeros(2, requires_grad=True)
    opt = optim.Adagrad([p], initial_accumulator_value=0.25)
    assert opt.state[p]["step"] == 0
    np.testing.assert_array_equal(opt.state[p]["sum"].numpy(), [0.25, 0.25])


# ---------------------------------------------------------------------------- groups, grads
def test_param_groups_with_their_own_options():
    a = ember.tensor([1.0, 1.0], requires_grad=True)
    b = ember.tensor([1.0, 1.0], requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5, "momentum": 0.9}], lr=0.1)
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[0]["momentum"] == 0
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[1]["momentum"] == 0.9
    for _ in range(2):
        a.grad = ember.ones(2)
        b.grad = ember.ones(2)
        opt.step()
    np.testing.assert_allclose(a.detach().numpy(), [0.8, 0.8])
    # b: buf = 1 then 1.9; b = 1 - 0.5·1 - 0.5·1.9
    np.testing.assert_allclose(b.detach().numpy(), [1 - 0.5 - 0.95] * 2)
    assert "momentum_buffer" not in opt.state[a] and "momentum_buffer" in opt.state[b]


def test_add_param_group_fills_defaults():
    a = ember.zeros(2, requires_grad=True)
    c = ember.zeros(3, requires_grad=True)
    opt = optim.Adam([a], lr=0.01)
    opt.add_param_group({"params": [c], "betas": (0.5, 0.6)})
    g = opt.param_groups[1]
    assert g["lr"] == 0.01 and g["betas"] == (0.5, 0.6) and g["eps"] == 1e-8
    c.grad = ember.ones(3)
    opt.step()
    assert opt.state[c]["step"] == 1 and a not in opt.state


def test_parameters_without_grad_are_untouched():
    a = ember.tensor([1.0, 2.0], requires_grad=True)
    frozen = ember.tensor([3.0, 4.0], requires_grad=True)
    for cls in (optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop):
        opt = cls([a, frozen], lr=0.1, weight_decay=0.1)
        a.grad = ember.ones(2)
        opt.step()
        np.testing.assert_array_equal(frozen.detach().numpy(), [3.0, 4.0])
        assert frozen not in opt.state  # no state made for it either
        assert a in opt.state


def test_zero_grad_set_to_none_and_zeros():
    w = ember.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert w.grad is not None
    np.testing.assert_array_equal(w.grad.numpy(), [0.0, 0.0])
    (w * w).sum().backward()
    opt.zero_grad()
    assert w.grad is None


def test_gradients_accumulate_until_zero_grad():
    w = ember.tensor([1.0, -1.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    (3 * w).sum().backward()
    (3 * w).sum().backward()  # a second micro-batch: the gradients add up
    np.testing.assert_array_equal(w.grad.numpy(), [6.0, 6.0])
    opt.step()
    np.testing.assert_allclose(w.detach().numpy(), [0.4, -1.6])
    opt.zero_grad()
    (3 * w).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [3.0, 3.0])


def test_zero_grad_false_with_a_zero_gradient_still_moves_with_momentum():
    w = ember.tensor([1.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1, momentum=0.9)
    w.grad = ember.tensor([1.0])
    opt.step()
    opt.zero_grad(set_to_none=False)
    before = w.item()
    opt.step()  # grad is 0 (not None): the momentum keeps moving the weight
    assert w.item() < before
    opt.zero_grad()
    before = w.item()
    opt.step()  # grad None: skipped
    assert w.item() == before


def test_step_with_closure_returns_the_loss():
    w = ember.tensor([3.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with ember.no_grad():  # the closure re-enables grad mode itself
        loss = opt.step(closure)
    assert float(loss) == 9.0
    np.testing.assert_allclose(w.detach().numpy(), [1.5])
    assert opt.step() is None


def test_repr_lists_groups_and_options():
    opt = optim.SGD([ember.zeros(2, requires_grad=True)], lr=0.5, momentum=0.9)
    text = repr(opt)
    assert text.startswith("SGD (") and "Parameter Group 0" in text
    assert "lr: 0.5" in text and "momentum: 0.9" in text and "params" not in text


# ---------------------------------------------------------------------------- state dicts
ROUND_TRIP = [
    (optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    (optim.Adam, dict(lr=0.05, amsgrad=True)),
    (optim.AdamW, dict(lr=0.05)),
    (optim.RMSprop, dict(centered=True, momentum=0.5)),
    (optim.Adagrad, dict(lr=0.1, lr_decay=0.01)),
]


@pytest.mark.parametrize("cls,opts", ROUND_TRIP, ids=[c.__name__ for c, _ in ROUND_TRIP])
def test_state_dict_round_trip_continues_exactly(cls, opts):
    prob = Problem(seed=3, steps=6)

    def make():
        params = [ember.tensor(t0, requires_grad=True) for t0 in prob.theta0]
        return params, cls([{"params": params[:1]}, {"params": params[1:], "lr": 0.02}],
                           **opts)

    def train(params, opt, steps):
        for t in steps:
            opt.zero_grad()
            prob.ember_loss(params, t).backward()
            opt.step()

    ref_params, ref_opt = make()
    train(ref_params, ref_opt, range(6))

    params, opt = make()
    train(params, opt, range(3))
    saved = opt.state_dict()
    assert set(saved) == {"state", "param_groups"}
    assert [g["params"] for g in saved["param_groups"]] == [[0], [1]]
    assert set(saved["state"]) == {0, 1}

    new_params = [ember.tensor(p.detach().numpy(), requires_grad=True) for p in params]
    # a fresh optimizer with other options: they come from the state dict
    new_opt = cls([{"params": new_params[:1]}, {"params": new_params[1:]}], lr=123.0)
    new_opt.load_state_dict(saved)
    assert new_opt.param_groups[1]["lr"] == 0.02
    train(new_params, new_opt, range(3, 6))
    for p, q in zip(new_params, ref_params):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


def test_load_state_dict_copies_state_tensors():
    p = ember.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.Adam([p], lr=0.1)
    p.grad = ember.ones(2)
    opt.step()
    saved = opt.state_dict()
    q = ember.tensor([1.0, 2.0], requires_grad=True)
    opt2 = optim.Adam([q], lr=0.1)
    opt2.load_state_dict(saved)
    assert opt2.state[q]["exp_avg"] is not saved["state"][0]["exp_avg"]
    before = saved["state"][0]["exp_avg"].numpy().copy()
    q.grad = ember.ones(2)
    opt2.step()
    np.testing.assert_array_equal(saved["state"][0]["exp_avg"].numpy(), before)
    # a deep copy is a snapshot that later steps don't change
    snap = copy.deepcopy(opt.state_dict())
    opt.step()
    assert snap["state"][0]["step"] == 1 and opt.state[p]["step"] == 2


def test_load_state_dict_casts_to_the_parameter_dtype():
    p = ember.tensor([1.0, 2.0], dtype=ember.float64, requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = ember.ones(2, dtype=ember.float64)
    opt.step()
    q = ember.tensor([1.0, 2.0], dtype=ember.float32, requires_grad=True)
    opt2 = optim.SGD([q], lr=0.1, momentum=0.9)
    opt2.load_state_dict(opt.state_dict())
    assert opt2.state[q]["momentum_buffer"].dtype is ember.float32


def test_load_state_dict_mismatches_raise_clear_errors():
    a, b = ember.zeros(2, requires_grad=True), ember.zeros(3, requires_grad=True)
    opt = optim.Adam([a, b])
    a.grad, b.grad = ember.ones(2), ember.ones(3)
    opt.step()
    saved = opt.state_dict()

    two_groups = optim.Adam([{"params": [ember.zeros(2, requires_grad=True)]},
                             {"params": [ember.zeros(3, requires_grad=True)]}])
    with pytest.raises(ValueError, match=r"2 parameter group\(s\) but this optimizer has 1"):
        optim.Adam([ember.zeros(2, requires_grad=True)]).load_state_dict(two_groups.state_dict())
    with pytest.raises(ValueError, match=r"1 parameter group\(s\) but this optimizer has 2"):
        two_groups.load_state_dict(saved)
    with pytest.raises(ValueError, match=r"group 0 has 2 parameter\(s\) .* but 1 in this"):
        optim.Adam([ember.zeros(2, requires_grad=True)]).load_state_dict(saved)
    swapped = optim.Adam([ember.zeros(3, requires_grad=True), ember.zeros(2, requires_grad=True)])
    with pytest.raises(ValueError, match=r"'exp_avg' of parameter 0 in group 0 has shape "
                                         r"\(2,\) but the parameter has shape \(3,\)"):
        swapped.load_state_dict(saved)
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        opt.load_state_dict({"state": {}})
    # a failed load leaves the optimizer as it was
    assert swapped.state == {} and swapped.param_groups[0]["params"][0].shape == (3,)


# ---------------------------------------------------------------------------- bad input
def test_invalid_options_raise():
    p = [ember.zeros(2, requires_grad=True)]
    with pytest.raises(ValueError, match="Invalid learning rate: -0.1"):
        optim.SGD(p, lr=-0.1)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optim.Adam(p, lr=-1)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 0: 1.0"):
        optim.Adam(p, betas=(1.0, 0.999))
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1: -0.5"):
        optim.AdamW(p, betas=(0.9, -0.5))
    with pytest.raises(ValueError, match="Invalid eps"):
        optim.Adam(p, eps=-1e-8)
    with pytest.raises(ValueError, match="Invalid momentum"):
        optim.RMSprop(p, momentum=-0.1)
    with pytest.raises(ValueError, match="Invalid weight_decay"):
        optim.Adagrad(p, weight_decay=-1)
    with pytest.raises(ValueError, match="Invalid lr_decay"):
        optim.Adagrad(p, lr_decay=-1)
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum and zero "
                                         "dampening"):
        optim.SGD(p, nesterov=True)
    # a bad per-group override is caught too
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        optim.SGD([{"params": p, "lr": -1}], lr=0.1)


def test_invalid_params_raise():
    w = ember.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([])
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([{"params": []}])
    with pytest.raises(TypeError, match="iterable of Tensors or dicts, but got a Tensor"):
        optim.SGD(w)
    with pytest.raises(TypeError, match="not a set"):
        optim.SGD({w})
    with pytest.raises(TypeError, match="can only optimize Tensors, but parameter 1 .* list"):
        optim.SGD([w, [1.0]])
    with pytest.raises(TypeError, match="floating-point.*int64"):
        optim.SGD([ember.tensor([1, 2])])
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([w * 2])
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [w]}, {"params": [w]}])
    with pytest.raises(ValueError, match="appears more than once"):
        optim.SGD([w, w])
    opt = optim.SGD([w])
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [w]})
    with pytest.raises(TypeError, match="param_group must be a dict"):
        opt.add_param_group([w])
    w.grad = ember.ones(3)
    with pytest.raises(RuntimeError, match=r"shape \(2,\) but its .grad has shape \(3,\)"):
        opt.step()


# ---------------------------------------------------------------------------- learning
def _least_squares(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(64, 4))
    w_true = np.array([1.5, -2.0, 0.5, 3.0])
    y = x @ w_true + 0.7 + 0.01 * rng.normal(size=64)
    return ember.tensor(x, dtype=ember.float32), ember.tensor(y, dtype=ember.float32)


@pytest.mark.parametrize("make_opt,steps", [
    (lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9), 150),
    (lambda ps: optim.Adam(ps, lr=0.1), 300),
])
def test_optimizers_fit_least_squares(make_opt, steps):
    x, y = _least_squares()
    w = ember.zeros(4, requires_grad=True)
    b = ember.zeros(1, requires_grad=True)
    opt = make_opt([w, b])

    def loss_fn():
        return ((x @ w + b - y) ** 2).mean()

    first = loss_fn().item()
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
    final = loss_fn().item()
    assert first > 10.0
    assert final < 1e-3, final  # the noise floor is 1e-4
    np.testing.assert_allclose(w.detach().numpy(), [1.5, -2.0, 0.5, 3.0], atol=0.02)


# ---------------------------------------------------------------------------- regularisation
def test_penalty_values_and_gradients():
    a = ember.tensor([[1.0, -2.0], [0.5, 0.0]], dtype=ember.float64, requires_grad=True)
    b = ember.tensor([-3.0], dtype=ember.float64, requires_grad=True)
    l1 = optim.l1_penalty([a, b], 0.1)
    l2 = optim.l2_penalty([a, b], 0.1)
    assert l1.shape == () and l2.shape == ()
    np.testing.assert_allclose(l1.item(), 0.1 * 6.5)
    np.testing.assert_allclose(l2.item(), 0.1 * (1 + 4 + 0.25 + 9))
    (l1 + l2).backward()
    np.testing.assert_allclose(a.grad.numpy(), 0.1 * np.sign(a.detach().numpy()) +
                               0.2 * a.detach().numpy())
    np.testing.assert_allclose(b.grad.numpy(), [-0.1 - 0.6])
    assert optim.l2_penalty(b, 2.0).item() == 18.0  # a single tensor is fine too


def test_penalties_gradcheck():
    rng = np.random.default_rng(0)

    def away_from_zero(shape):  # |x| is not differentiable at 0: keep the values away
        return rng.uniform(0.2, 1.0, size=shape) * rng.choice([-1, 1], size=shape)

    a = ember.tensor(away_from_zero((3, 2)), requires_grad=True)
    b = ember.tensor(away_from_zero((4,)), requires_grad=True)
    assert a.dtype is ember.float64
    assert gradcheck(lambda x, y: optim.l1_penalty([x, y], 0.3), (a, b))
    assert gradcheck(lambda x, y: optim.l2_penalty([x, y], 0.7), (a, b))


def test_l2_penalty_equals_sgd_weight_decay():
    prob = Problem(seed=4)
    lam = 0.3
    with_decay = run_ember(optim.SGD, dict(lr=0.05, momentum=0.9, weight_decay=lam), prob)
    params = [ember.tensor(t0, requires_grad=True) for t0 in prob.theta0]
    opt = optim.SGD(params, lr=0.05, momentum=0.9)
    for t in range(STEPS):
        opt.zero_grad()
        (prob.ember_loss(params, t) + optim.l2_penalty(params, lam / 2)).backward()
        opt.step()
    for p, q in zip(params, with_decay):
        np.testing.assert_allclose(p.detach().numpy(), q, rtol=1e-12)


def test_penalty_bad_input():
    with pytest.raises(ValueError, match="empty"):
        optim.l1_penalty([], 0.1)
    with pytest.raises(TypeError, match="parameter 0 is a list"):
        optim.l2_penalty([[1.0]], 0.1)
