"""The compiled evaluation of a frozen rule and the gradient-descent loop around it (JAX).

`evaluate_plan` mirrors what the numpy engine does when it reuses a rule (`population.evaluate`
with the rule of the previous step): the drift checks (`collinear.fits`; `quadrature.reuse_rule`'s
thin-block and `_drifted` checks), the integrand `formulation.score_integrands_t` at the rule's
nodes, the rule's reductions (Kronrod panels with QUADPACK's calibrated estimate, level by
level; Gauss-Hermite pairs), the group-norm tolerance test, and `population._assemble`'s loss,
gradient and error estimates (the 64-eps ROUNDING term included).

Every check is made strictly safer than the engine's, so that rounding can only refuse a step
the engine would accept, never accept one it would refuse:
- comparisons of positions and drifts get a relative margin MARGIN plus an absolute allowance of
  a few units of roundoff of the coordinates they are computed from;
- the error test compares an upper bound of the engine's estimate: each panel's |K - G| and its
  integral of |f - mean| may differ from the engine's by other summation orders and a few ulps
  of the integrand, at most SLACK times the panel's integral of |f|; `calibrated_above` bounds
  the calibrated estimate over that range, and the Gauss-Hermite pairs add SLACK times both
  orders' integrals of |f|; the sum must then meet (1 - MARGIN) tol. SLACK is 1024 units of
  roundoff: 2.3 % of the 1e-11 tolerance, 0.02 % of 1e-9 (`tests/test_compiled.py` measures the
  actual differences: below 1 % of it);
- the test is scaled before squaring (the engine's squares underflow for integrals below
  1e-154, where it accepts anything), and non-finite values are refused;
- the reduced frame is the engine's only where that is certain (`frames`).
"""

from __future__ import annotations

from functools import cache, partial
from typing import Any, NamedTuple

import numpy as np

from scoreclaims.verifiers.compiled.frames import EPS, Frame, frame
from scoreclaims.verifiers.compiled.plans import NK
from scoreclaims.verifiers.compiled.runtime import jax_modules
from scoreclaims.verifiers.formulation import score_integrands_t
from scoreclaims.verifiers.gauss_kronrod import calibrated, calibrated_above
from scoreclaims.verifiers.population import ROUNDING
from scoreclaims.verifiers.quadrature import HERMITE_MAX_SPREAD, Y_MAX

MARGIN = 1e-6  # relative: what the compiled comparisons give away
SLACK = 1024 * EPS  # per panel, times its integral of |f|: another summation order's |K - G|


class Evaluated(NamedTuple):
    """One evaluation on the frozen rule: `ok` when every check passed."""

    ok: Any
    loss: Any
    grad: Any
    loss_error: Any
    grad_error: Any


def _within(value: Any, limit: Any, allowance: Any = 0.0) -> Any:
    """value <= limit, with the margin given away (limit may be inf)."""
    return value * (1 + MARGIN) + allowance <= limit


def _accept(error_hi: Any, absval: Any, tol: Any, n: int, k: int, fr: Frame, jnp: Any) -> Any:
    """The group-norm test on the upper bound of the estimate, scaled before squaring: the
    loss; the gradient, g with weight 1 and gamma with |c_perp|^2 (absent when k = d)."""
    budget = tol * absval
    scale = jnp.maximum(jnp.max(error_hi), jnp.max(budget))
    scale = jnp.where(scale > 0, scale, 1.0)
    e, b = (error_hi / scale) ** 2, (budget / scale) ** 2
    g, gamma = slice(1, 1 + n * k), slice(1 + n * k, None)
    shrink = (1 - MARGIN) ** 2
    loss_ok = e[0] <= shrink * b[0]
    grad_e = jnp.sum(e[g]) + fr.perp_sq * jnp.sum(e[gamma])
    grad_b = jnp.sum(b[g]) + fr.perp_sq * jnp.sum(b[gamma])
    return (loss_ok & (grad_e <= shrink * grad_b) & jnp.all(jnp.isfinite(error_hi))
            & jnp.all(jnp.isfinite(absval)))


def _assemble(value: Any, absval: Any, error: Any, n: int, k: int, fr: Frame, jnp: Any
              ) -> tuple[Any, Any, Any, Any]:
    """`population._assemble`: loss, grad (n, d), loss and grad errors."""
    err = error + ROUNDING * absval
    g = value[1 : 1 + n * k].reshape(n, k)
    g_err = err[1 : 1 + n * k]
    if fr.perp is None:  # the means span R^d (or d = 1): no offset, gamma unused
        grad = g if fr.basis is None else g @ fr.basis.T
        return value[0], grad, err[0], jnp.sqrt(g_err @ g_err)
    gamma, gamma_err = value[1 + n * k :], err[1 + n * k :]
    grad = g @ fr.basis.T + gamma[:, None] * fr.perp[None, :]
    gamma_abs = jnp.abs(gamma) + gamma_err
    grad_error = (jnp.sqrt(g_err @ g_err + (gamma_err @ gamma_err) * fr.perp_sq)
                  + jnp.sqrt(gamma_abs @ gamma_abs) * fr.perp_rounding)
    return value[0] + fr.perp_sq, grad, err[0], grad_error


def _finite(*xs: Any, jnp: Any) -> Any:
    ok = True
    for x in xs:
        ok = ok & jnp.all(jnp.isfinite(x))
    return ok


def _integrand(points: Any, fr: Frame, jnp: Any) -> Any:
    """`score_integrands_t` at the frame's coordinates; without the gamma rows when there is
    no offset (they enter neither the test, where their weight is |c_perp| = 0, nor the
    gradient; XLA drops their arithmetic)."""
    n, k = fr.coords.shape
    f = score_integrands_t(points, fr.coords, xp=jnp)
    return f if fr.perp is not None else f[: 1 + n * k]


def _pair_sums(f: Any, weights: Any, jnp: Any) -> tuple[Any, Any, Any, Any]:
    """Both orders of a Gauss-Hermite pair, weights (2, N) low then high, on f (C, N) and |f|:
    (high, low, |f| high, |f| low), one product."""
    c = f.shape[0]
    sums = jnp.concatenate([f, jnp.abs(f)]) @ weights.T  # (2C, 2)
    return sums[:c, 1], sums[:c, 0], sums[c:, 1], sums[c:, 0]


def _hermite(a: dict, m: Any, tol: Any, static: tuple, jnp: Any) -> Evaluated:
    """Line rule, two Gauss-Hermite orders: the engine reuses it while the spread stays within
    HERMITE_MAX_SPREAD."""
    n = m.shape[0]
    fr = frame(static[0], m, a.get("basis"), jnp)
    p = fr.coords[:, 0]
    spread = jnp.max(p) - jnp.min(p)
    fits = fr.ok & _within(spread, HERMITE_MAX_SPREAD, 4 * EPS * jnp.max(jnp.abs(m)))
    high, low, absval, abs_low = _pair_sums(_integrand(a["points"], fr, jnp), a["pair"], jnp)
    error = jnp.abs(high - low)
    error_hi = error + SLACK * (absval + abs_low)
    ok = fits & _accept(error_hi, absval, tol, n, 1, fr, jnp) & _finite(high, jnp=jnp)
    return Evaluated(ok, *_assemble(high, absval, error, n, 1, fr, jnp))


def _panels(a: dict, m: Any, tol: Any, static: tuple, jnp: Any) -> Evaluated:
    """Line rule of Kronrod panels: `collinear.fits` (crossings and gaps within their drift
    limits), then `collinear.apply`."""
    n = m.shape[0]
    fr = frame(static[0], m, a.get("basis"), jnp)
    p = fr.coords[:, 0]
    moved = a["check"] @ (p - a["built"])
    rounding = 8 * EPS * (jnp.max(jnp.abs(m)) + jnp.max(jnp.abs(a["built"])))
    fits = fr.ok & jnp.all(_within(jnp.abs(moved), a["limit"], rounding))
    f = _integrand(a["points"].reshape(-1, 1), fr, jnp)  # (C, P * 21)
    c = f.shape[0]
    fd3 = (f * a["scaled"].reshape(-1)).reshape(c, -1, NK)
    sums = fd3 @ a["kg"].T  # (C, P, 2)
    kron = sums[..., 0]
    raw = jnp.abs(kron - sums[..., 1])
    wk = a["kg"][0]
    resasc = jnp.abs(fd3 - 0.5 * kron[..., None]) @ wk
    kabs = jnp.abs(fd3) @ wk
    error = calibrated(raw, resasc, xp=jnp).sum(axis=1)
    error_hi = calibrated_above(raw, resasc, SLACK * kabs, xp=jnp).sum(axis=1)
    value, absval = kron.sum(axis=1), kabs.sum(axis=1)
    ok = fits & _accept(error_hi, absval, tol, n, 1, fr, jnp) & _finite(value, jnp=jnp)
    return Evaluated(ok, *_assemble(value, absval, error, n, 1, fr, jnp))


def _not_drifted(built: Any, coords: Any, jnp: Any) -> Any:
    """Not `quadrature._drifted(built, coords)`, with the margin (every crossing's shift
    compared to a quarter of a logit unit)."""
    n = coords.shape[0]
    j, other = np.triu_indices(n, 1)
    half_now = 0.5 * jnp.sum(coords**2, axis=1)
    half_sq = 0.5 * jnp.sum(built**2, axis=1)
    delta = built[j] - built[other]
    offset = half_sq[j] - half_sq[other]
    norm = jnp.maximum(jnp.sqrt(jnp.sum(delta * delta, axis=1)), 1e-300)
    reach = jnp.minimum(jnp.abs(offset) / norm + 4.0, Y_MAX)
    moved = (coords[j] - coords[other]) - delta
    shift = (jnp.abs((half_now[j] - half_now[other]) - offset)
             + reach * jnp.sqrt(jnp.sum(moved * moved, axis=1)))
    big = jnp.maximum(jnp.max(jnp.abs(coords)), jnp.max(jnp.abs(built)))
    rounding = 64 * coords.shape[1] * EPS * (big * big + big) * (1 + reach)
    return jnp.all(_within(shift, 0.25, rounding))


def _bound(coords: Any, n: int, k: int, jnp: Any) -> Any:
    """`population.integrand_bound` of the coordinates."""
    big = jnp.max(jnp.sqrt(jnp.sum(coords * coords, axis=1)))
    s_max = 2 * big**2
    g_max = 2 * (big + s_max * (np.sqrt(k) * Y_MAX + big))
    parts = [big[None] ** 2, jnp.full(n * k, g_max), jnp.full(n, 2 * (1 + s_max))]
    return jnp.concatenate(parts)


def _kronrod(f: Any, fabs: Any, ferr: Any, ferr_hi: Any, half: Any, dens: Any, kg: Any,
             jnp: Any) -> tuple[Any, Any, Any, Any]:
    """`quadrature._kronrod_reduce` per panel, (C, P) each, with the upper bound of the
    estimate beside it."""
    c = f.shape[0]
    p = half.shape[0]
    weighted = f.reshape(c, p, NK) * dens
    sums = weighted @ kg.T  # (C, P, 2)
    kval = half * sums[..., 0]
    perr = jnp.abs(kval - half * sums[..., 1])
    wk = kg[0]
    kabs = half * ((fabs.reshape(c, p, NK) * dens) @ wk)
    mean = kval / jnp.maximum(2 * half, 1e-300)
    resasc = half * (jnp.abs(weighted - mean[..., None]) @ wk)
    inner = half * ((ferr.reshape(c, p, NK) * dens) @ wk)
    inner_hi = half * ((ferr_hi.reshape(c, p, NK) * dens) @ wk)
    err = calibrated(perr, resasc, xp=jnp) + inner
    err_hi = calibrated_above(perr, resasc, SLACK * kabs, xp=jnp) + inner_hi
    return kval, kabs, err, err_hi


def _frozen(a: dict, m: Any, tol: Any, static: tuple, jnp: Any) -> Evaluated:
    """`quadrature.reuse_rule` in the frame aligned to the rule's."""
    jax, _ = jax_modules()
    levels, width, block, kind = static
    n = m.shape[0]
    fr = frame(kind, m, a["basis"], jnp)
    coords = fr.coords
    k = coords.shape[1]
    ok = fr.ok
    big = jnp.max(jnp.abs(coords))
    if width:
        spread = jnp.max(coords[:, k - width :], axis=0) - jnp.min(coords[:, k - width :], axis=0)
        ok = ok & jnp.all(_within(spread, HERMITE_MAX_SPREAD, 8 * k * EPS * big))
    if levels:
        ok = ok & _not_drifted(a["built"], coords, jnp)
    f = _integrand(a["points"].reshape(-1, k), fr, jnp)
    c = f.shape[0]
    bound = _bound(coords, n, k, jnp)[:c]
    bound_hi = bound * (1 + 1e-12)
    if block:
        live = f.shape[1] // block
        high, low, fabs, fabs_low = (
            x.reshape(c, live) for x in _pair_sums(f.reshape(c * live, block), a["pair"], jnp))
        ferr = jnp.abs(high - low)
        ferr_hi = ferr + SLACK * (fabs + fabs_low)
        f = high
        if levels:
            nodes = NK * a[f"half{levels - 1}"].shape[0]
            where = a["live"]

            def spread_out(x: Any) -> Any:  # onto the last level's nodes (a slot for padding)
                return jnp.zeros((c, nodes + 1), dtype=x.dtype).at[:, where].set(x)[:, :nodes]

            f, fabs, ferr, ferr_hi = map(spread_out, (f, fabs, ferr, ferr_hi))
            skipped = a[f"skipped{levels - 1}"].reshape(-1)
            ferr = jnp.where(skipped, bound[:, None], ferr)
            ferr_hi = jnp.where(skipped, bound_hi[:, None], ferr_hi)
    else:
        fabs = jnp.abs(f)
        ferr = ferr_hi = jnp.zeros_like(f)
    for lev in range(levels - 1, -1, -1):
        parts = _kronrod(f, fabs, ferr, ferr_hi, a[f"half{lev}"], a[f"dens{lev}"], a["kg"], jnp)
        if lev == 0:
            f, fabs, ferr, ferr_hi = (x.sum(axis=1, keepdims=True) for x in parts)
            break
        above = NK * a[f"half{lev - 1}"].shape[0]
        owner = a[f"owner{lev}"]
        f, fabs, ferr, ferr_hi = (jax.ops.segment_sum(x.T, owner, above).T for x in parts)
        skipped = a[f"skipped{lev - 1}"].reshape(-1)
        tail = a[f"tail{lev - 1}"].reshape(-1)
        ferr = jnp.where(skipped, bound[:, None], ferr) + tail * bound[:, None]
        ferr_hi = jnp.where(skipped, bound_hi[:, None], ferr_hi) + tail * bound_hi[:, None]
    value, absval, error, error_hi = f[:, 0], fabs[:, 0], ferr[:, 0], ferr_hi[:, 0]
    ok = ok & _accept(error_hi, absval, tol, n, k, fr, jnp) & _finite(value, jnp=jnp)
    return Evaluated(ok, *_assemble(value, absval, error, n, k, fr, jnp))


EVALUATORS = {"hermite": _hermite, "panels": _panels, "frozen": _frozen}


def evaluate_plan(kind: str, static: tuple, arrays: dict, m: Any, tol: Any) -> Evaluated:
    """One evaluation (traceable; call under `runtime.float64()`)."""
    _, jnp = jax_modules()
    return EVALUATORS[kind](arrays, m, tol, static, jnp)


def _descend(kind: str, static: tuple, arrays: dict, m0: Any, step: Any, tol: Any,
             max_steps: Any) -> tuple[Any, Any, Evaluated]:
    """Up to `max_steps` steps m <- m - step grad on the frozen rule; stops before accepting
    the first evaluation that fails a check. (steps taken, final m, its evaluation). Each pass
    evaluates at the current m and steps only if that passed (one copy of the evaluation in the
    compiled code: XLA's compile time grows with it)."""
    jax, jnp = jax_modules()
    n, d = m0.shape
    zero = jnp.zeros((), dtype=m0.dtype)
    blank = Evaluated(jnp.zeros((), dtype=bool), zero, jnp.zeros_like(m0), zero, zero)

    def more(state: tuple) -> Any:
        return state[3]

    def one(state: tuple) -> tuple:
        i, m, _, _ = state
        ev = evaluate_plan(kind, static, arrays, m, tol)
        ev = ev._replace(ok=ev.ok & jnp.all(jnp.isfinite(m)))
        take = ev.ok & (i < max_steps)
        return i + take, jnp.where(take, m - step * ev.grad, m), ev, take

    start = (jnp.zeros((), dtype=jnp.int64), m0, blank, jnp.ones((), dtype=bool))
    steps, m, ev, _ = jax.lax.while_loop(more, one, start)
    return steps, m, ev


@cache
def compiled(kind: str, static: tuple, batched: bool) -> Any:
    """The jit-compiled loop for one rule kind and structure (shapes compile on first use and
    are cached by JAX): (arrays, m0, step, tol, max_steps) -> (steps, m, Evaluated); batched:
    arrays, m0 and max_steps with a leading run axis, the runs one after the other inside the
    compiled call (`lax.map`): each run's loop takes as many passes as it needs and works on
    arrays of one rule, which stay in cache (a `vmap` advances every run at every pass, on
    arrays as many times larger, measured two to three times slower per run-step)."""
    jax, _ = jax_modules()
    run = partial(_descend, kind, static)
    if not batched:
        return jax.jit(run)

    def runs(arrays: dict, m0: Any, step: Any, tol: Any, max_steps: Any) -> Any:
        return jax.lax.map(lambda one: run(one[0], one[1], step, tol, one[2]),
                           (arrays, m0, max_steps))

    return jax.jit(runs)
