"""Exact population loss and gradient in float64, with error estimates (the engine's core)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import cache, cached_property

import numpy as np

from scoreclaims.verifiers import collinear
from scoreclaims.verifiers.formulation import n_components, score_integrands, split_components
from scoreclaims.verifiers.geometry import FLOAT64_RANGE, Reduction, reduce_means
from scoreclaims.verifiers.quadrature import (
    HERMITE_MAX_SPREAD,
    SUBNORMAL,
    Y_MAX,
    CubatureResult,
    ErrorGroup,
    FrozenRule,
    GaussianCubature,
    _group_norms,
    group_matrix,
    reuse_rule,
)
from scoreclaims.verifiers.trapezoid import MAX_NODES, GridRule, reuse_grid, trapezoid_cubature

DEFAULT_TOL = 1e-11  # k <= 2: target 1e-10 (issue 2); estimates come out near tol / 10
DEFAULT_TOL_K3 = 1e-9  # k = 3: target 1e-8
TRAPEZOID_K = (2, 3)  # k for which separated means try the trapezoid grid first
# A grid its estimate refuses may be accepted by the aliasing bound (`trapezoid.apply_grid`);
# benchmarks/alias_bound.py turns this off to time the estimate alone beside it.
GRID_ALIASING_BOUND = True


def grid_first(coords: np.ndarray) -> bool:
    """Whether the trapezoid grid is tried before the adaptive cubature: k in TRAPEZOID_K and no
    thin axis (spread at most HERMITE_MAX_SPREAD), or k = 3 with one thin axis beside two
    separated ones. There the adaptive cubature resolves the two separated axes' crossings with
    two-dimensional panels (measured: 0.7 to 2.5 million nodes at 1e-4 and 1e-9, rules too large
    to keep; 3.5 to 4.4 million a step on an n = 5, d = 3 T3.5 sweep seed, spreads 12.1, 2.5 and
    0.26), while a thin axis costs the grid only the Gaussian's own step (`trapezoid.
    a_priori_steps`): on 12 draws a median 0.014 of those nodes at 1e-4 (0.004 to 0.16) and 0.12
    at 1e-9 (0.03 to 1.27; docs/engine.md). With two thin axes the adaptive cubature's
    one-dimensional panels times a small Gauss-Hermite block are as cheap or cheaper (the grid
    took 0.35 to 4.7 times its nodes at 1e-9, and E1's d = 3 runs, spreads near 1e-7, ran ten
    times slower on it), so they keep the adaptive path, as do k = 2 means with a thin axis."""
    k = coords.shape[1]
    spread = np.ptp(coords, axis=0)
    if k not in TRAPEZOID_K:
        return False
    separated = int(np.sum(spread > HERMITE_MAX_SPREAD))
    return separated == k or (k == 3 and separated == 2)


ROUNDING = 64 * np.finfo(float).eps


def default_tol(k: int) -> float:
    return DEFAULT_TOL if k <= 2 else DEFAULT_TOL_K3


def rule_tolerance(rule: object, tol: float | None) -> float:
    """The tolerance a rule of `evaluate` was accepted at: `tol`, else the default for the
    reduced dimension it was built in."""
    if tol is not None:
        return tol
    if isinstance(rule, collinear.LineRule):
        return default_tol(1)
    coords = getattr(rule, "coords", None)
    return default_tol(int(np.shape(coords)[-1]) if coords is not None else 1)


@dataclass(frozen=True)
class Evaluation:
    """Loss and gradient (n, d) in canonical coordinates, with error estimates: `loss_error`
    absolute, `grad_error` in Euclidean norm over all n d components, `mean_errors` (n,) that
    of each mean's gradient (grad[i], d components) alone, from the same per-component
    estimates (None where a source has only the whole bound: `mean_error_bounds`). They are
    computed on first use from `mean_error_parts` (g_err (n, k), and where the means do not span
    R^d gamma_err, gamma (n,), |c_perp| and its rounding), so a GD step that never asks pays
    nothing for them."""

    loss: float
    grad: np.ndarray
    loss_error: float
    grad_error: float
    evaluations: int
    converged: bool
    rule: object = None  # FrozenRule or GridRule (k >= 2), collinear.LineRule (k = 1): pass it back
    mean_error_parts: tuple | None = field(default=None, repr=False, compare=False)

    @cached_property
    def mean_errors(self) -> np.ndarray | None:
        if self.mean_error_parts is None:
            return None
        g_err, *perp = self.mean_error_parts
        if not perp:  # the means span R^d: the basis is orthonormal
            return row_norms(g_err)
        gamma_err, gamma, perp_norm, rounding = perp
        # c_perp is known only to its rounding error: gamma_i c_perp carries it
        return (row_norms(np.concatenate([g_err, (gamma_err * perp_norm)[:, None]], axis=1))
                + (np.abs(gamma) + gamma_err) * rounding)

    @property
    def relative_loss_error(self) -> float:
        return self.loss_error / self.loss if self.loss > 0 else float(self.loss_error > 0) * np.inf

    @property
    def relative_grad_error(self) -> float:
        norm = safe_norm(self.grad)
        return self.grad_error / norm if norm > 0 else float(self.grad_error > 0) * np.inf


def mean_error_bounds(point: object) -> np.ndarray:
    """(n,) a bound of the error of each mean's gradient (Euclidean, canonical coordinates): the
    point's own `mean_errors` where it has them, else its whole gradient's bound for every mean
    (a bound of each). A sign of mean i's radial gradient m_i . grad_i / |m_i| is established
    when its magnitude exceeds entry i."""
    own = getattr(point, "mean_errors", None)
    if own is not None:
        return np.asarray(own, dtype=float)
    n = np.shape(point.grad)[0]  # type: ignore[attr-defined]
    return np.full(n, float(point.grad_error))  # type: ignore[attr-defined]


def row_norms(x: np.ndarray) -> np.ndarray:
    """Euclidean norm of each row of x (r, c) without underflow or overflow of the squares (a
    far mean's gradient error can be 1e-160 and less); inf where a row holds inf, NaN where
    NaN."""
    x = np.abs(np.asarray(x, dtype=float))
    big = x.max(axis=1, initial=0.0)
    safe = np.where((big > 0) & (big < np.inf), big, 1.0)
    out = safe * np.sqrt(np.sum((x / safe[:, None]) ** 2, axis=1))
    return np.where(big == np.inf, np.inf, out)  # a NaN row stays NaN (max propagates it)


def safe_norm(x: np.ndarray) -> float:
    """Euclidean norm of x without underflow or overflow of the squares (far-tail gradients
    of 1e-160 and less have squares below float64's range)."""
    flat = np.ravel(x)
    sq = float(flat @ flat)
    if 1e-280 < sq < 1e280:
        return float(np.sqrt(sq))
    return float(row_norms(flat[None, :])[0])


def error_groups(n: int, k: int, perp_norm: float) -> list[ErrorGroup]:
    """Loss density alone; the gradient as one vector (g through the orthonormal basis, gamma
    scaled by |c_perp|), so the tolerance is relative to the gradient's norm."""
    grad_idx = np.arange(1, 1 + n * k + n)
    grad_w = np.concatenate([np.ones(n * k), np.full(n, perp_norm)])
    return [ErrorGroup(np.array([0]), np.array([1.0])), ErrorGroup(grad_idx, grad_w)]


def integrand_bound(red: Reduction) -> np.ndarray:
    """Componentwise bounds of |score_integrands| on [-Y_MAX, Y_MAX]^k: |u|, |p_j| <= P,
    |s_j| <= 2 P^2, |y| <= sqrt(k) Y_MAX."""
    return coords_bound(red.coords)


def coords_bound(coords: np.ndarray) -> np.ndarray:
    """`integrand_bound` for the reduced means `coords` (n, k)."""
    n, k = coords.shape
    big = float(np.max(np.linalg.norm(coords, axis=1)))
    s_max = 2 * big**2
    g_max = 2 * (big + s_max * (np.sqrt(k) * Y_MAX + big))
    return np.concatenate([[big**2], np.full(n * k, g_max), np.full(n, 2 * (1 + s_max))])


def align(red: Reduction, rule: FrozenRule | GridRule | None) -> Reduction:
    """Express the reduction in a basis as close as possible to the one `rule` was built in
    (orthogonal Procrustes), so that a GD step does not flip or spin the reduced frame."""
    if rule is None or rule.basis is None or rule.basis.shape != red.basis.shape:
        return red
    if red.basis.shape == (1, 1):  # d = 1: the basis is fixed
        return red
    u, _, vt = np.linalg.svd(red.basis.T @ rule.basis)
    rot = u @ vt
    return replace(red, basis=red.basis @ rot, coords=red.coords @ rot)


def cubature(red: Reduction, tol: float = DEFAULT_TOL, rule: FrozenRule | GridRule | None = None,
             hermite: bool = True, shortcuts: bool = True, reuse_only: bool = False,
             max_evaluations: int | None = None, max_grid_nodes: int | None = None
             ) -> CubatureResult | None:
    """The integrals of `score_integrands` for the reduction `red`; a frozen `rule` is tried
    first (with `shortcuts`, without building the adaptive cubature unless it fails). Separated
    means (no thin axis) with k in TRAPEZOID_K get a trapezoid grid (`verifiers.trapezoid`)
    before the adaptive cubature, and so do k = 3 means with one thin axis beside two
    separated ones (`grid_first`). `reuse_only`: None when the grid `rule` is refused.
    `max_evaluations`: a budget of integrand evaluations; a grid is not built or reused beyond
    it, and the adaptive cubature stops at it with an unconverged result (NaN values).
    `max_grid_nodes`: the fresh grid's node cap (default `trapezoid.MAX_NODES[k]`, sized for
    rules kept along a run; a one-off evaluation may afford more)."""
    n, k = red.coords.shape
    perp_norm = float(np.linalg.norm(red.perp))
    coords = red.coords

    def integrand(y: np.ndarray) -> np.ndarray:
        return score_integrands(y, coords)

    quad: GaussianCubature | None = None

    def adaptive() -> GaussianCubature:  # built at most once, only when needed
        nonlocal quad
        if quad is None:
            quad = GaussianCubature(coords, integrand, n_components(n, k),
                                    error_groups(n, k, perp_norm), integrand_bound(red), tol=tol,
                                    hermite=hermite, max_evaluations=max_evaluations)
        return quad

    spent = 0
    base, extra = _group_parts(n, k)
    gmat = base + perp_norm**2 * extra  # = group_matrix(error_groups(n, k, perp_norm))
    if isinstance(rule, GridRule):
        if max_evaluations is None or rule.n_nodes <= max_evaluations:
            res = reuse_grid(rule, coords, integrand, gmat, tol, integrand_bound(red),
                             score=GRID_ALIASING_BOUND)
            if res is not None:
                return res
            spent = rule.n_nodes
        if reuse_only:
            return None
        rule = None
    elif rule is not None and rule.coords.shape == coords.shape:
        if shortcuts:
            res, spent = reuse_rule(rule, coords, integrand, gmat, tol,
                                    lambda: integrand_bound(red))
        else:  # the general path: the adaptive cubature set up, then its reuse of the rule
            general = adaptive()
            res, spent = reuse_rule(rule, coords, integrand, general.gmat, tol,
                                    lambda: general.bound)
        if res is not None:
            return res
    rule = None  # it failed: the adaptive cubature need not try it again
    left = None if max_evaluations is None else max(max_evaluations - spent, 0)
    if grid_first(coords):
        cap = MAX_NODES[k] if max_grid_nodes is None else max_grid_nodes
        res = trapezoid_cubature(coords, red.basis, integrand, gmat, integrand_bound(red), tol,
                                 max_nodes=cap if left is None else min(left, cap),
                                 score=GRID_ALIASING_BOUND)
        if res is not None:
            return replace(res, evaluations=res.evaluations + spent)
    fresh = adaptive()
    fresh.evaluations = spent
    return fresh.run(rule, red.basis)


@cache
def _group_parts(n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """`group_matrix(error_groups(n, k, r))` = base + r^2 * extra, exactly (for the hot path)."""
    base = group_matrix(error_groups(n, k, 0.0), n_components(n, k))
    return base, group_matrix(error_groups(n, k, 1.0), n_components(n, k)) - base


def collinear_cubature(red: Reduction, tol: float, rule: object = None,
                       max_evaluations: int | None = None) -> tuple[Reduction, CubatureResult]:
    """k = 1: the frozen `LineRule` when it fits and its estimate meets `tol`, else the adaptive
    cubature, whose panels (or Gauss-Hermite pair) become the returned rule. The reduction is
    returned in the orientation of the line the rule was built in (d > 1)."""
    n = red.coords.shape[0]
    if isinstance(rule, collinear.LineRule) and red.basis.shape[0] > 1:  # keep the line's sign
        if rule.basis is not None and float(red.basis[:, 0] @ rule.basis[:, 0]) < 0:
            red = replace(red, basis=-red.basis, coords=-red.coords)
    p = red.coords[:, 0]
    if isinstance(rule, collinear.LineRule):
        if not collinear.fits(rule, p):  # drifted: carry the panels along, or start afresh
            rule = collinear.transport(rule, p)
        if rule is not None:
            base, extra = _group_parts(n, 1)
            gmat = base if red.k == red.basis.shape[0] else base + float(red.perp @ red.perp
                                                                          ) * extra
            res = collinear.apply(rule, score_integrands(rule.points, red.coords), gmat, tol)
            if res is not None:
                return red, res
    res = cubature(red, tol, max_evaluations=max_evaluations)
    if res.rule is not None:
        return red, replace(res, rule=collinear.from_panels(res.rule, red.basis))
    if res.converged and float(p.max() - p.min()) <= HERMITE_MAX_SPREAD:
        return red, replace(res, rule=collinear.hermite(p, red.basis))
    return red, res


def evaluate(m: np.ndarray, tol: float | None = None, rule: object = None, *,
             shortcuts: bool = True, max_evaluations: int | None = None,
             max_grid_nodes: int | None = None) -> Evaluation:
    """L(m) and grad_m L for canonical means m (n, d). `rule`: the `Evaluation.rule` of a
    nearby configuration, reused when its own error estimate still meets `tol` (GD speed).
    `tol` defaults to `default_tol(k)`. `shortcuts` False takes the general path alone (no
    d = 1 short cut, the adaptive cubature's set-up before a reuse): the same computation, which
    the tests hold equal. `max_evaluations`: a budget of integrand evaluations for a cubature
    built here; beyond it the result is unconverged with NaN loss and gradient (a cost cap for
    runs that must stay bounded, e.g. sweeps); `max_grid_nodes`: the node cap of a grid built
    here (`cubature`). Means that are not finite or beyond MAX_MEAN
    (outside float64's range for the integrands) give NaN values, not converged, no warnings:
    a GD run that blew up stops as non-finite."""
    m = np.asarray(m, dtype=float)
    big = float(np.abs(m).max())
    if not big <= MAX_MEAN:  # NaN too
        return Evaluation(math.nan, np.full(m.shape, math.nan), math.inf, math.inf, 0, False,
                          mean_error_parts=(np.full((m.shape[0], 1), math.inf),))
    if big > _QUIET_ABOVE:  # squares of integrand values overflow inside the (scaled) norms
        with np.errstate(over="ignore", invalid="ignore"):
            return _evaluate(m, tol, rule, shortcuts, max_evaluations, max_grid_nodes)
    return _evaluate(m, tol, rule, shortcuts, max_evaluations, max_grid_nodes)


MAX_MEAN = 2 * FLOAT64_RANGE  # canonical means from inputs within FLOAT64_RANGE
_QUIET_ABOVE = 1e50  # below, no square of an integrand value (<~ 4 |m|^3) overflows


def _evaluate(m: np.ndarray, tol: float | None, rule: object, shortcuts: bool,
              max_evaluations: int | None, max_grid_nodes: int | None) -> Evaluation:
    n = m.shape[0]
    if shortcuts and m.shape[1] == 1 and isinstance(rule, collinear.LineRule):
        ev = _line_shortcut(m, default_tol(1) if tol is None else tol, rule)
        if ev is not None:
            return ev
    red = reduce_means(m)
    k = red.k
    if k == 0:  # all means equal: w_j = 1/n, u = 0, s_j = 0 exactly
        perp_sq = float(red.perp @ red.perp)
        return Evaluation(perp_sq, np.tile((2.0 / n) * red.perp, (n, 1)), 0.0, 0.0, 0, True,
                          mean_error_parts=(np.zeros((n, 1)),))
    tol = default_tol(k) if tol is None else tol
    if k == 1:
        red, res = collinear_cubature(red, tol, rule, max_evaluations)
    else:
        res = None
        if isinstance(rule, GridRule):  # a refused grid is rebuilt in the principal frame
            aligned = align(red, rule)
            res = cubature(aligned, tol, rule, reuse_only=True, max_evaluations=max_evaluations)
            if res is not None:
                red = aligned
        if res is None:
            frozen = rule if isinstance(rule, FrozenRule) else None
            red = align(red, frozen)
            res = cubature(red, tol, frozen, shortcuts=shortcuts, max_evaluations=max_evaluations,
                           max_grid_nodes=max_grid_nodes)
            if isinstance(rule, GridRule):
                res = replace(res, evaluations=res.evaluations + rule.n_nodes)
    return _assemble(res, n, k, red, red.coords, tol)


def _line_shortcut(m: np.ndarray, tol: float, rule: collinear.LineRule) -> Evaluation | None:
    """d = 1 with a LineRule that fits and meets `tol`: `collinear_cubature` without the
    reduction, which for d = 1 is the line itself (coordinates m, basis 1, no offset); None
    when the general path must decide (k = 0, a drifted rule, a missed estimate)."""
    p = m[:, 0]
    lo, hi = p.min(), p.max()
    if lo == hi or not collinear.fits(rule, p, float(hi - lo)):
        return None
    n = len(m)
    res = collinear.apply(rule, score_integrands(rule.points, m), _group_parts(n, 1)[0], tol)
    return None if res is None else _assemble(res, n, 1, None, m, tol, max(-lo, hi))


def _assemble(res: CubatureResult, n: int, k: int, red: Reduction | None,
              coords: np.ndarray, tol: float, big: float | None = None) -> Evaluation:
    """The Evaluation from the integrals of `score_integrands` for the reduced means `coords`
    (`big`: max |coords|, when the caller has it), asked for to `tol`; `red` None: d = k = 1
    (basis 1, no offset). Converged only when every
    number is finite and neither float64's underflow nor the rounding of the offset c_perp
    (k < d) exceeds the tolerance (far-tail values can be smaller than either)."""
    loss_u, g, gamma = split_components(res.value, n, k)
    full = red is None or k == red.basis.shape[0]  # the means span R^d: no offset, gamma unused
    perp_sq = 0.0 if full else float(red.perp @ red.perp)
    # Floating-point rounding of the node sums (not in the Gauss-Kronrod estimates), with a
    # margin: 64 eps times the integral of |f|; and what float64 cannot see at its underflow.
    allowance, unseen_loss, unseen_grad = _allowance(coords, res.evaluations, perp_sq, big)
    error = res.error + ROUNDING * res.abs_value + allowance
    _, g_err, gamma_err = split_components(error, n, k)
    loss_error = float(error[0])
    if full:
        loss, grad, grad_error = float(loss_u), g if red is None else g @ red.basis.T, \
            safe_norm(g_err)
        parts: tuple = (g_err,)
    else:
        grad = red.lift(g, gamma)
        # c_perp is known only to its rounding error when k < d: |c_perp|^2 in the loss and
        # gamma_j c_perp in the gradient carry it.
        perp_norm, rounding = safe_norm(red.perp), red.perp_rounding
        loss_noise = (2 * perp_norm + rounding) * rounding
        grad_noise = safe_norm(np.abs(gamma) + gamma_err) * rounding
        loss, loss_error = float(loss_u) + perp_sq, loss_error + loss_noise
        grad_error = (safe_norm(np.concatenate([g_err.reshape(-1), gamma_err * perp_norm]))
                      + grad_noise)
        parts = (g_err, gamma_err, gamma, perp_norm, rounding)
        unseen_loss, unseen_grad = unseen_loss + loss_noise, unseen_grad + grad_noise
    # The tolerance's scale per group (loss, gradient) is the norm of the integrals of |f|;
    # its largest weighted entry, a lower bound, decides first (the GD hot path).
    abs_value = res.abs_value
    scale_loss, scale_grad = float(abs_value[0]) + perp_sq, float(abs_value[1 : 1 + n * k].max())
    unresolved = not (unseen_loss <= tol * scale_loss and unseen_grad <= tol * scale_grad)
    if unresolved:
        base, extra = _group_parts(n, k)
        scale_loss, scale_grad = _group_norms(abs_value, base if full else base + perp_sq * extra)
        unresolved = not (unseen_loss <= tol * (scale_loss + perp_sq)
                          and unseen_grad <= tol * scale_grad)
    # A non-finite value or estimate is never converged (NaN fails every comparison).
    converged = bool(res.converged and not unresolved and math.isfinite(loss)
                     and loss_error < math.inf and grad_error < math.inf
                     and np.isfinite(res.value).all())
    return Evaluation(loss, grad, loss_error, grad_error, res.evaluations, converged, res.rule,
                      parts)


_UNDERFLOW_UNIT = 4 * SUBNORMAL  # as in `quadrature.underflow_allowance`


def _allowance(coords: np.ndarray, evaluations: int, perp_sq: float, big: float | None = None
               ) -> tuple[np.ndarray, float, float]:
    """(C,) `quadrature.underflow_allowance` of `coords_bound(coords)` (with max |p| sqrt(k)
    for the largest |p_j|), and upper bounds of its norms in the loss and gradient error
    groups; in scalars, as it runs at every GD step."""
    n, k = coords.shape
    big = (float(np.abs(coords).max()) if big is None else float(big)) * math.sqrt(k)
    s_max = 2 * big * big
    unit = _UNDERFLOW_UNIT * (2 * Y_MAX + 1) ** k  # first: big^3 times the volume overflows
    extra = _UNDERFLOW_UNIT * 4 * evaluations
    a_loss = unit * big * big + extra
    a_g = unit * 2 * (big + s_max * (math.sqrt(k) * Y_MAX + big)) + extra
    a_gamma = unit * 2 * (1 + s_max) + extra
    out = np.array((a_loss, a_g, a_gamma))[_component_kinds(n, k)]
    return out, a_loss, a_g * math.sqrt(n * k) + a_gamma * math.sqrt(perp_sq * n)


@cache
def _component_kinds(n: int, k: int) -> np.ndarray:
    """0 for the loss density, 1 for g, 2 for gamma, per integrand component."""
    return np.repeat([0, 1, 2], [1, n * k, n])
