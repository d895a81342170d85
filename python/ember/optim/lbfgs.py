"""L-BFGS: a quasi-Newton method with a limited history, as ``torch.optim.LBFGS``.

L-BFGS treats all parameters as one flat vector x (their elements concatenated in order)
and looks for a minimum of the loss f(x). Each iteration:

1. builds a search direction d ≈ -H⁻¹∇f, where H⁻¹ is an approximation of the inverse
   Hessian made from the last ``history_size`` pairs (s, y) of steps s = x_{k+1} - x_k and
   gradient changes y = ∇f_{k+1} - ∇f_k (the *two-loop recursion*, which never forms a
   matrix);
2. chooses a step length t: ``lr`` (and a smaller first one), or, with
   ``line_search_fn="strong_wolfe"``, a t found by a line search satisfying the strong
   Wolfe conditions (sufficient decrease and small |slope|);
3. moves x ← x + t d and re-evaluates f and ∇f through the user's closure.

The algorithm, its stopping rules and its numbers follow PyTorch's implementation step
for step (which is itself a port of minFunc and of Torch7's ``optim`` package), so the
same problem from the same start gives the same iterates. The scalars of the algorithm
(dot products, step lengths, curvature ratios) are Python floats, computed in double
precision; the vectors are ember tensors on the parameters' device.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from numbers import Integral
from typing import Any

from ..autograd.grad_mode import enable_grad, no_grad
from ..ops import cat
from ..tensor import Tensor
from .optimizer import Optimizer, ParamsT

# (loss, flat gradient) at x + t·d, the parameters restored to x afterwards
ObjFunc = Callable[[list[Tensor], float, Tensor], tuple[float, Tensor]]


def _div(a: float, b: float) -> float:
    """a / b with IEEE semantics (±inf or nan for b = 0), as PyTorch's 0-dim tensors divide:
    a degenerate interpolation must give the same fallback as PyTorch's, not a
    ZeroDivisionError."""
    try:
        return a / b
    except ZeroDivisionError:
        if a == 0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)


def _cubic_interpolate(x1: float, f1: float, g1: float, x2: float, f2: float, g2: float,
                       bounds: tuple[float, float] | None = None) -> float:
    """The minimizer of the cubic through (x1, f1) and (x2, f2) with slopes g1 and g2,
    clamped to ``bounds`` (default: the interval between x1 and x2); the midpoint of the
    bounds when the cubic has no minimizer."""
    if bounds is not None:
        xmin_bound, xmax_bound = bounds
    else:
        xmin_bound, xmax_bound = (x1, x2) if x1 <= x2 else (x2, x1)
    # With x2 the farthest point (minFunc's polyinterp):
    #   d1 = g1 + g2 - 3 (f1 - f2) / (x1 - x2)
    #   d2 = √(d1² - g1 g2)
    #   x* = x2 - (x2 - x1) (g2 + d2 - d1) / (g2 - g1 + 2 d2)
    d1 = g1 + g2 - _div(3 * (f1 - f2), x1 - x2)
    d2_square = d1 * d1 - g1 * g2  # not d1 ** 2: a float power raises on overflow
    if d2_square >= 0:
        d2 = math.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * _div(g2 + d2 - d1, g2 - g1 + 2 * d2)
        else:
            min_pos = x1 - (x1 - x2) * _div(g1 + d2 - d1, g1 - g2 + 2 * d2)
        return min(max(min_pos, xmin_bound), xmax_bound)
    return (xmin_bound + xmax_bound) / 2.0


def _strong_wolfe(obj_func: ObjFunc, x: list[Tensor], t: float, d: Tensor, f: float,
                  g: Tensor, gtd: float, c1: float = 1e-4, c2: float = 0.9,
                  tolerance_change: float = 1e-9,
                  max_ls: int = 25) -> tuple[float, Tensor, float, int]:
    """Line search along d from x for a step t satisfying the strong Wolfe conditions

        f(x + t d) <= f(x) + c1 t ∇f(x)ᵀd        (sufficient decrease, Armijo)
        |∇f(x + t d)ᵀd| <= c2 |∇f(x)ᵀd|          (curvature: the slope has flattened)

    in two phases: *bracketing* grows t (by cubic extrapolation) until an interval
    [t_lo, t_hi] must contain such a point; *zoom* shrinks that interval by cubic
    interpolation until one is found. At most ``max_ls`` evaluations.

    Returns:
        (loss, flat gradient, t, number of evaluations) at the chosen step.
    """
    d_norm = float(d.abs().max())
    g = g.clone()
    # evaluate the objective and its gradient at the initial step
    f_new, g_new = obj_func(x, t, d)
    ls_func_evals = 1
    gtd_new = float(g_new.dot(d))

    # ---- bracketing: find an interval containing a point satisfying the conditions
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    ls_iter = 0
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            # no sufficient decrease (or worse than the previous trial): the minimum is
            # between the previous trial and this one
            bracket = [t_prev, t]
            bracket_f = [f_prev, f_new]
            bracket_g = [g_prev, g_new.clone()]
            bracket_gtd = [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            # both conditions hold: t is the answer
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            # the slope turned positive: we stepped over a minimum
            bracket = [t_prev, t]
            bracket_f = [f_prev, f_new]
            bracket_g = [g_prev, g_new.clone()]
            bracket_gtd = [gtd_prev, gtd_new]
            break

        # still going down: extrapolate to a longer step, between 1.01 t and 10 t
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        tmp = t
        t = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                               bounds=(min_step, max_step))
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new.clone(), gtd_new
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = float(g_new.dot(d))
        ls_iter += 1

    if ls_iter == max_ls:
        # out of evaluations: zoom (which then does nothing) picks the better end of [0, t]
        bracket = [0.0, t]
        bracket_f = [f, f_new]
        bracket_g = [g, g_new]

    # ---- zoom: shrink the bracket around a point satisfying the conditions
    insuf_progress = False
    # the low end has the smaller loss
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        # the bracket is too small to move the parameters
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break

        # the minimizer of the cubic through both ends
        t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0],
                               bracket[1], bracket_f[1], bracket_gtd[1])

        # Make sure the interval shrinks: a trial within 10% of the bracket's length from an
        # end is moved to that 10% mark if it is on (or past) an end, or if the previous
        # trial was also that close.
        lo, hi = min(bracket), max(bracket)
        eps = 0.1 * (hi - lo)
        if min(hi - t, t - lo) < eps:
            if insuf_progress or t >= hi or t <= lo:
                t = hi - eps if abs(t - hi) < abs(t - lo) else lo + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False

        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = float(g_new.dot(d))
        ls_iter += 1

        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            # not a sufficient decrease, or no better than the low end: t is the new high end
            bracket[high_pos], bracket_f[high_pos] = t, f_new
            bracket_g[high_pos], bracket_gtd[high_pos] = g_new.clone(), gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True  # both conditions hold
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                # the slope at t points away from the high end: the old low end becomes
                # the high end, keeping a minimum inside the bracket
                bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
                bracket_g[high_pos] = bracket_g[low_pos]
                bracket_gtd[high_pos] = bracket_gtd[low_pos]
            # t is the new low end
            bracket[low_pos], bracket_f[low_pos] = t, f_new
            bracket_g[low_pos], bracket_gtd[low_pos] = g_new.clone(), gtd_new

    return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], ls_func_evals


class LBFGS(Optimizer):
    r"""L-BFGS (Liu & Nocedal, 1989), as ``torch.optim.LBFGS``.

    ``step(closure)`` runs up to ``max_iter`` iterations (PyTorch's pseudo-code, x all
    parameters as one flat vector, g = ∇f(x))::

        f, g ← closure()
        repeat up to max_iter times, stopping early on the tolerances below:
            if first iteration ever:  d ← -g,  H₀ ← 1
            else:
                y ← g - g_prev,  s ← t d
                if yᵀs > 1e-10: push (y, s, ρ = 1/yᵀs) to the history (oldest out when
                                full);  H₀ ← yᵀs / yᵀy
                d ← -H g by the two-loop recursion over the history, H₀ as H's scale
            t ← min(1, 1/‖g‖₁)·lr on the first iteration ever, lr afterwards
            if gᵀd > -tolerance_change: stop (not a descent direction any more)
            t ← strong-Wolfe line search from t along d   (if line_search_fn)
            x ← x + t d;  f, g ← closure()
        stop when max_eval evaluations are used, max|g| <= tolerance_grad,
        max|t d| <= tolerance_change or |f - f_prev| < tolerance_change

    The closure must clear the gradients, compute the loss, call ``backward()`` and return
    the loss; it is called several times per step (with grad mode on)::

        def closure():
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            return loss
        opt.step(closure)

    As in PyTorch there is only one parameter group (the history is one set of vectors
    over all parameters, so per-parameter options have no meaning), all parameters must be
    on one device, and the whole state (``func_evals``, ``n_iter``, ``d``, ``t``,
    ``old_dirs``, ``old_stps``, ``ro``, ``H_diag``, ``prev_flat_grad``, ``prev_loss``,
    ``al``) is kept as the state of the first parameter. It costs about
    ``(2 · history_size + 3)`` copies of the parameters in memory.

    Args:
        params: the tensors to optimize (one group).
        lr: learning rate: the step length tried first (default 1).
        max_iter: most iterations per ``step()`` (default 20).
        max_eval: most closure evaluations per ``step()`` (default ``max_iter * 5 // 4``).
        tolerance_grad: stop when the largest gradient element is at most this (1e-7).
        tolerance_change: stop when the step or the change of loss is smaller (1e-9).
        history_size: number of (s, y) pairs kept (default 100).
        line_search_fn: ``None`` (fixed steps of ``lr``) or ``"strong_wolfe"``.
    """

    def __init__(self, params: ParamsT, lr: float = 1, max_iter: int = 20,
                 max_eval: int | None = None, tolerance_grad: float = 1e-7,
                 tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None) -> None:
        if max_eval is None and isinstance(max_iter, Integral):
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                        tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                        history_size=history_size, line_search_fn=line_search_fn)
        self._check_options(defaults)
        super().__init__(params, defaults)
        devices = {str(p.device) for p in self._params}
        if len(devices) > 1:
            raise ValueError("LBFGS: all parameters must be on one device (they form one flat "
                             f"vector), got parameters on {sorted(devices)}")

    def _check_options(self, options: dict[str, Any]) -> None:
        self._check_non_negative(options, "lr", "tolerance_grad", "tolerance_change")
        for name in ("max_iter", "max_eval", "history_size"):
            value = options.get(name)
            if name in options and (not isinstance(value, Integral) or isinstance(value, bool)
                                    or value < 1):
                raise ValueError(f"LBFGS: {name} must be an integer >= 1, got {value!r}")
        line_search_fn = options.get("line_search_fn")
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: line_search_fn must be None or 'strong_wolfe', got "
                             f"{line_search_fn!r} (only 'strong_wolfe' is supported)")

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Refused after the first group: L-BFGS has one history over all parameters."""
        if self.param_groups:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups): "
                             "it takes a single group of parameters, as in PyTorch")
        super().add_param_group(param_group)

    @property
    def _params(self) -> list[Tensor]:
        return self.param_groups[0]["params"]

    # ------------------------------------------------------------------ flat views
    def _gather_flat_grad(self) -> Tensor:
        """All gradients as one new flat vector (zeros for a parameter without .grad)."""
        views = [p.new_zeros(p.numel()) if p.grad is None else p.grad.reshape(-1)
                 for p in self._params]
        return cat(views, 0)

    def _add_grad(self, step_size: float, update: Tensor) -> None:
        """x ← x + step_size · update, for the flat vector ``update`` over all parameters."""
        offset = 0
        for p in self._params:
            numel = p.numel()
            p.add_(update[offset:offset + numel].view_as(p), alpha=step_size)
            offset += numel

    def _clone_param(self) -> list[Tensor]:
        return [p.clone() for p in self._params]

    def _set_param(self, params_data: Sequence[Tensor]) -> None:
        for p, pdata in zip(self._params, params_data):
            p.copy_(pdata)

    def _evaluate(self, closure: Callable[[], Any]) -> tuple[Any, float]:
        """Run the closure with grad mode on: (its return value, the loss as a float)."""
        with enable_grad():
            loss = closure()
        try:
            return loss, float(loss)
        except (TypeError, ValueError, RuntimeError) as e:
            raise TypeError("LBFGS.step: the closure must return the loss (a number or a "
                            f"one-element tensor), but it returned {loss!r}") from e

    def _directional_evaluate(self, closure: Callable[[], Any], x: list[Tensor], t: float,
                              d: Tensor) -> tuple[float, Tensor]:
        """(f, ∇f) at x + t·d; the parameters are put back to x afterwards."""
        self._add_grad(t, d)
        _, loss = self._evaluate(closure)
        flat_grad = self._gather_flat_grad()
        self._set_param(x)
        return loss, flat_grad

    # ------------------------------------------------------------------ the step
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one L-BFGS step (up to ``max_iter`` iterations).

        Args:
            closure: a function that clears the gradients, re-evaluates the model, calls
                ``backward()`` and returns the loss. Required.

        Returns:
            the closure's loss at the starting point (its first evaluation), as PyTorch.
        """
        if closure is None or not callable(closure):
            raise TypeError("LBFGS.step requires a closure: a function that clears the "
                            "gradients, computes the loss, calls loss.backward() and returns "
                            f"the loss (opt.step(closure)); got {closure!r}")
        with no_grad():
            return self._step(closure)

    def _step(self, closure: Callable[[], Any]) -> Any:
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn, history_size = group["line_search_fn"], group["history_size"]

        # L-BFGS has one global state; like PyTorch, keep it as the first parameter's (so
        # state_dict/load_state_dict carry it unchanged)
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        # evaluate f(x) and ∇f(x) at the start
        orig_loss, loss = self._evaluate(closure)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._gather_flat_grad()
        opt_cond = float(flat_grad.abs().max()) <= tolerance_grad
        if opt_cond:
            return orig_loss  # already at a stationary point

        # the state carried from the previous step()
        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        H_diag = state.get("H_diag")
        prev_flat_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1

            # ---- 1. the search direction d ≈ -H⁻¹ g
            if state["n_iter"] == 1:
                # no curvature information yet: steepest descent
                d = flat_grad.neg()
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1.0
            else:
                # update the history with the last step s and gradient change y
                y = flat_grad.sub(prev_flat_grad)
                s = d.mul(t)
                ys = float(y.dot(s))
                if ys > 1e-10:  # keep only pairs with positive curvature (H stays positive)
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)  # limited memory: forget the oldest pair
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    # H₀ = sᵀy / yᵀy, the scale of the initial inverse Hessian
                    H_diag = ys / float(y.dot(y))

                # two-loop recursion: d = -H g without forming H
                num_old = len(old_dirs)
                if "al" not in state:
                    state["al"] = [None] * history_size
                al = state["al"]
                # first loop, newest to oldest: αᵢ = ρᵢ sᵢᵀq;  q ← q - αᵢ yᵢ
                q = flat_grad.neg()
                for i in range(num_old - 1, -1, -1):
                    al[i] = float(old_stps[i].dot(q)) * ro[i]
                    q.add_(old_dirs[i], alpha=-al[i])
                # r = H₀ q; second loop, oldest to newest: βᵢ = ρᵢ yᵢᵀr;  r ← r + (αᵢ - βᵢ) sᵢ
                d = r = q.mul(H_diag)
                for i in range(num_old):
                    be_i = float(old_dirs[i].dot(r)) * ro[i]
                    r.add_(old_stps[i], alpha=al[i] - be_i)

            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.clone()
            else:
                prev_flat_grad.copy_(flat_grad)
            prev_loss = loss

            # ---- 2. the step length t
            # first iteration ever: at most lr/‖g‖₁, as the scale of d is still unknown
            if state["n_iter"] == 1:
                t = min(1.0, _div(1.0, float(flat_grad.abs().sum()))) * lr
            else:
                t = lr

            gtd = float(flat_grad.dot(d))  # directional derivative gᵀd
            if gtd > -tolerance_change:
                break  # d is not (or hardly) a descent direction

            ls_func_evals = 0
            if line_search_fn is not None:
                x_init = self._clone_param()

                def obj_func(x: list[Tensor], t: float, d: Tensor) -> tuple[float, Tensor]:
                    return self._directional_evaluate(closure, x, t, d)

                # PyTorch gives the line search its own default tolerance_change (1e-9),
                # not the group's: so do we, for the same iterates
                loss, flat_grad, t, ls_func_evals = _strong_wolfe(
                    obj_func, x_init, t, d, loss, flat_grad, gtd,
                    max_ls=max_eval - current_evals)
                # ---- 3. move to the point the line search chose (f and g known there)
                self._add_grad(t, d)
                opt_cond = float(flat_grad.abs().max()) <= tolerance_grad
            else:
                # ---- 3. a fixed step, then f and g at the new point
                self._add_grad(t, d)
                if n_iter != max_iter:
                    # not after the last iteration: in a stochastic setting the next step()
                    # evaluates anyway, on fresh data
                    _, loss = self._evaluate(closure)
                    flat_grad = self._gather_flat_grad()
                    opt_cond = float(flat_grad.abs().max()) <= tolerance_grad
                    ls_func_evals = 1

            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            # ---- 4. stopping rules
            if n_iter == max_iter or current_evals >= max_eval:
                break
            if opt_cond:
                break  # the gradient vanished
            if float(d.mul(t).abs().max()) <= tolerance_change:
                break  # the parameters stopped moving
            if abs(loss - prev_loss) < tolerance_change:
                break  # the loss stopped changing

        state["d"], state["t"] = d, t
        state["old_dirs"], state["old_stps"], state["ro"] = old_dirs, old_stps, ro
        state["H_diag"] = H_diag
        state["prev_flat_grad"], state["prev_loss"] = prev_flat_grad, prev_loss
        return orig_loss

    # ------------------------------------------------------------------ state dicts
    @staticmethod
    def _load_value(p: Tensor, value: Any, where: str) -> Any:
        """A copy of one saved state value: tensors (flat vectors over all parameters, so
        not of ``p``'s shape), alone or in lists, moved onto ``p``'s device and dtype."""
        if isinstance(value, Tensor):
            dtype = p.dtype if value.is_floating_point() else value.dtype
            return value.detach().to(p.device, dtype, copy=True)
        if isinstance(value, list):
            return [LBFGS._load_value(p, v, where) for v in value]
        return Optimizer._load_value(p, value, where)
