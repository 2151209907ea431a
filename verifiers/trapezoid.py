"""Trapezoid (uniform-grid) rules for E_{y ~ N(0, I_k)} f(y), k = 2, 3, for separated means
(and k = 3 means with one thin axis beside two separated ones: `population.grid_first`).

The integrands of `formulation.score_integrands` are entire in y except for the poles of the
softmax. Along axis e (the other coordinates real) the logits' phases y.p_j spread by at most
|Im y_e| D_e, D_e = max_ij |p_ie - p_je|, so the softmax has no pole while |Im y_e| < pi / D_e:
f(y) phi(y) is analytic in that strip and the trapezoid rule of step h converges like
exp(-2 pi a / h), a = pi / D_e (Trefethen & Weideman 2014); the Gaussian alone needs
exp(-2 pi^2 / h^2). In k dimensions (Poisson summation) the rule of steps h_e errs by the sum of
the aliasing terms at the frequencies w = 2 pi nu / h, nu in Z^k, nu != 0, each decaying like
exp(-X(w)), X(w) = max over eta in P of w . eta - |eta|^2 / 2, where P = {eta : |(p_i - p_j)
. eta| < pi for all pairs} is the set of imaginary shifts without a pole.

A rule is the mean T of the 2^k sub-lattice rules T_s of steps h (nodes h (i + o_s), o_s in
{0, 1/2}^k: together the grid of step h / 2), the estimate max_s |T - T_s|; steps are sized a
priori so that one sub-lattice meets the tolerance. The sub-lattices differ by every term with
some nu_e odd; the mean keeps only nu in 2 Z^k, which decay at least twice as fast in the
exponent, so T is accurate to about tol^2 and the estimate (about the error of one sub-lattice)
is conservative; taking all 2^k offsets keeps one offset's accidental agreement from hiding the
error. (A body-centred lattice, offsets 0 and (1/2, ..., 1/2) only, would need 2 / 2^k of the
nodes, but its estimate cannot see the terms with |nu|_1 even, e.g. nu = (1, 1), and these are
not products of the axes' errors: the poles lie on the planes (p_i - p_j) . y = const, so when one
pair of means spans two axes at once they decay no faster than a single axis' term. Measured on
[[-1.724, -3.519], [1.913, 3.952], [1.479, 0.483]] at twice the a-priori step: the lattice's mean
as wrong as either sub-lattice, 280 times its estimate. Bounds on the decay from the vertices of
P admitted it on 2 to 10 % of N(0, 1) starts and never along T3.5's runs, so it is not used.)
The first grid takes the strip-limited steps times FIRST_STRIP_FACTOR (FIRST_STRIP_FACTOR_TIGHT
for k = 3 at tight tolerances, where the aliasing bound below may accept it): the strip bound
ignores where the poles lie, and for far-separated means they lie in the Gaussian tail, whose
weight damps the aliasing they cause. Steps are refined while the error misses the tolerance.

The estimate is about the error of one sub-lattice, while T's own error is about its square: it
makes the engine pay for finer grids than it needs. For the `score_integrands` components
(`score`), a grid the estimate refuses may still be accepted by `lattice_bound`, a bound of T's
own aliasing error from the integrands' analytic continuation (`verifiers.aliasing`); the error
is then the smaller of the two, each covering the error (the estimate by its validation, the
bound by its derivation; benchmarks/alias_bound.py and docs/engine.md measure both).

Truncation: nodes whose weight in the mean (smallest first), times the integrand bound, stays
below a tenth of tol times the integral scale are left out, as is everything outside a box
whose 1-D discrete tails are summed explicitly; the left-out weight times the bound joins the
error. The kept weights sum the Gaussian to within that left-out weight.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from scoreclaims.verifiers.aliasing import (
    MAJORANT_SAFETY,
    Majorants,
    ShiftPlan,
    aliasing_bound,
    majorants,
    strip_polytope,
)
from scoreclaims.verifiers.quadrature import (
    PILOT_ORDER,
    Y_MAX,
    CubatureResult,
    _group_norms,
    pilot_scale,
    within_tol,
)

_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)
STRIP_USE = 0.75  # fraction of the pole-free strip the a-priori step relies on
SPAN_MARGIN = 1.25  # steps are sized for spans this much wider, so GD can reuse the grid
MAX_NODES = {2: 400_000, 3: 4_000_000}  # rules kept along a run; beyond: the adaptive cubature
MAX_BOX = 12_000_000  # box nodes enumerated when the grid is built (memory)
# The first steps are the strip-limited a-priori ones times this (the Gaussian's own step as it
# is): the strip bound ignores where the poles lie, and for far-separated means they lie in the
# Gaussian tail, where their aliasing is weighted down (measured: an n = 5, d = 3 T3.5 run met
# 1e-9 with 0.28 of the nodes). The estimate, validated on grids up to 3 times coarser than the
# a-priori ones (docs/engine.md), decides; where it misses, REFINE takes over.
FIRST_STRIP_FACTOR = 1.5
# Where the aliasing bound may accept a k = 3 grid (`score`) at tolerances this tight, the first
# steps FIRST_STRIP_FACTOR_TIGHT times the strip-limited ones are tried first (`first_steps`):
# there the bound accepts grids with 0.36 to 0.46 of the nodes the estimate needs (median,
# docs/engine.md), while at 1e-4 it accepts no coarser k = 3 grid and a refused try is wasted
# work. k = 2 grids (thousands of nodes) gained nothing: their coarser first grids are outlived
# sooner along GD (measured).
TIGHT_TOL = 1e-8
FIRST_STRIP_FACTOR_TIGHT = 1.9
REFINE = 0.7  # step factor while the estimate misses tol (0.5: 8 times the nodes for k = 3)
MAX_REFINE = 4  # from FIRST_STRIP_FACTOR down to 0.36 of the a-priori steps
DROP_SHARE = 0.1  # share of the tolerance the left-out nodes may use
_CHUNK = 32_768  # integrand points per call (memory)
_BLOCK = 2048  # nodes per partial sum (bounds the rounding of the sums)
_EPS = float(np.finfo(float).eps)

Integrand = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class GridRule:
    """A trapezoid rule made of sub-lattices h (i + o) (o in `offsets`, (S, k), entries 0 or
    1/2), reusable for nearby configurations (GD steps) while the means' `strip_widths` stay
    within `span` (what the steps were sized for) and the estimate meets the tolerance.
    `points` (N, k) are sorted by sub-lattice (`bounds`: the S + 1 slice ends), `weight` (N,)
    = prod h_e * phi(y) / S
    (the mean over sub-lattices; a sub-lattice's own rule is S times its slice); `left_out`:
    the Gaussian weight of that mean not kept. `span`: the `strip_widths` it was sized for."""

    coords: np.ndarray
    basis: np.ndarray | None
    step: np.ndarray
    span: np.ndarray
    points: np.ndarray
    weight: np.ndarray
    bounds: np.ndarray
    left_out: float
    offsets: np.ndarray
    plans: dict = field(default_factory=dict, compare=False, repr=False)  # the aliasing bound's

    @property
    def n_nodes(self) -> int:
        return len(self.points)


def spans(coords: np.ndarray) -> np.ndarray:
    """(k,) max_ij |p_ie - p_je| per axis."""
    return np.ptp(coords, axis=0)


def first_steps(span: np.ndarray, tol: float, k: int, score: bool) -> list[np.ndarray]:
    """The fresh grid's sub-lattice steps in the order tried: the a-priori steps with the
    strip-limited ones times FIRST_STRIP_FACTOR, then times REFINE, MAX_REFINE times. For k = 3
    where the aliasing bound may accept the grid (`score`) and `tol` <= TIGHT_TOL, the steps
    with FIRST_STRIP_FACTOR_TIGHT are tried first (where they are coarser): a refused try costs
    that grid, and the ladder after it is the same."""
    first = a_priori_steps(span, tol, FIRST_STRIP_FACTOR)
    ladder = [first * REFINE**i for i in range(MAX_REFINE + 1)]
    if k == 3 and score and tol <= TIGHT_TOL:
        tight = a_priori_steps(span, tol, FIRST_STRIP_FACTOR_TIGHT)
        if np.any(tight > first * (1 + 1e-12)):
            ladder.insert(0, tight)
    return ladder


def a_priori_steps(span: np.ndarray, tol: float, strip_factor: float = 1.0) -> np.ndarray:
    """Sub-lattice steps h (k,) for which one sub-lattice should meet `tol`:
    exp(-2 pi a' / h) = tol / 10 with a' = STRIP_USE pi / span (that step times `strip_factor`),
    and the Gaussian's own exp(-2 pi^2 / h^2) = tol / 10."""
    log_eps = np.log(10.0 / tol)
    with np.errstate(divide="ignore"):
        strip = STRIP_USE * np.pi / span
    h_strip = 2.0 * np.pi * strip / log_eps
    h_gauss = np.pi * np.sqrt(2.0 / log_eps)
    return np.minimum(strip_factor * h_strip, h_gauss)


def strip_widths(coords: np.ndarray) -> np.ndarray:
    """(k,) pi / max over eta in P of eta_e: the span whose one-axis strip pi / span equals
    P's reach along axis e (at most `spans`: eta = (pi / D_e) e_e is in P). The aliasing term
    of axis e decays like exp(-2 pi a / h) with a this reach, shifting the other coordinates'
    imaginary parts too (the k-dimensional Fourier coefficient); the a-priori steps use it."""
    vert, _ = strip_polytope(coords)
    width = spans(coords)
    if len(vert) == 0:
        return width
    return np.minimum(width, np.pi / np.maximum(np.max(vert, axis=0), 1e-300))


def _axis(h: float, shift: float, drop: float) -> tuple[np.ndarray, float, float]:
    """Nodes h (i + shift) of one axis (shift 0 or 1/2) with |x| <= B, their discrete tail
    weight beyond B, and the whole axis' weight sum (~1); B the smallest with tail <= drop."""
    full = (np.arange(int(np.ceil(Y_MAX / h)) + 1) + shift) * h
    dens = h * _INV_SQRT_2PI * np.exp(-0.5 * full**2)
    tails = np.cumsum(dens[::-1])[::-1]  # tails[i]: weight of x >= full[i] (one side)
    beyond = 2.0 * np.append(tails[1:], 0.0)  # weight of |x| > full[i]
    last = int(np.argmax(beyond <= drop))
    x = full[: last + 1]
    total = 2.0 * tails[0] - (dens[0] if shift == 0 else 0.0)
    mirrored = -x[::-1] if shift else -x[:0:-1]
    return np.concatenate([mirrored, x]), float(beyond[last]), float(total)


def _sublattice(step: np.ndarray, offset: np.ndarray, drop: float, max_box: float
                ) -> tuple[np.ndarray, np.ndarray, float] | None:
    """The box of the sub-lattice h (i + offset): points (M, k), weights prod h * phi(y)
    (M,), and the weight of its discrete tails beyond the box; None when the box is too
    large."""
    k = len(step)
    axes = [_axis(float(h), float(o), drop / (4 * k)) for h, o in zip(step, offset, strict=True)]
    sizes = [len(x) for x, _, _ in axes]
    if np.prod(np.asarray(sizes, dtype=float)) > max_box:
        return None
    sums = [s for _, _, s in axes]
    tail = sum(t * np.prod(sums[:e] + sums[e + 1 :]) for e, (_, t, _) in enumerate(axes))
    grids = np.meshgrid(*[x for x, _, _ in axes], indexing="ij")
    points = np.stack([g.reshape(-1) for g in grids], axis=1)
    weight = (np.prod(step) * _INV_SQRT_2PI**k) * np.exp(-0.5 * np.sum(points**2, axis=1))
    return points, weight, float(tail)


def build_grid(coords: np.ndarray, basis: np.ndarray | None, step: np.ndarray,
               span: np.ndarray, drop: float, max_nodes: int | None = None) -> GridRule | None:
    """The rule of sub-lattice steps `step` (the 2^k offsets in {0, 1/2}^k: the grid of step
    h / 2). Leaves out Gaussian weight at most `drop` (plus the box tails, tiny) of the mean over
    sub-lattices; None when it would exceed `max_nodes` (default MAX_NODES[k])."""
    k = len(step)
    max_nodes = MAX_NODES[k] if max_nodes is None else max_nodes
    step = np.asarray(step, dtype=float)
    offsets = 0.5 * np.array(list(itertools.product((0, 1), repeat=k)), dtype=float)
    n_sub = len(offsets)
    subs = []
    for o in offsets:
        sub = _sublattice(step, o, drop, max(MAX_BOX, 4 * max_nodes) / n_sub)
        if sub is None:
            return None
        subs.append(sub)
    box_tail = sum(t for _, _, t in subs) / n_sub
    points = np.concatenate([p for p, _, _ in subs])
    weight = np.concatenate([w for _, w, _ in subs]) / n_sub  # the mean's weights
    label = np.repeat(np.arange(n_sub), [len(w) for _, w, _ in subs])
    order = np.argsort(weight)
    cum = np.cumsum(weight[order])
    n_drop = int(np.searchsorted(cum, max(drop - box_tail, 0.0), side="right"))
    keep = np.sort(order[n_drop:])  # by sub-lattice, as the labels are sorted
    if len(keep) > max_nodes:
        return None
    left_out = box_tail + (float(cum[n_drop - 1]) if n_drop else 0.0)
    bounds = np.searchsorted(label[keep], np.arange(n_sub + 1))
    return GridRule(coords.copy(), basis, step, np.asarray(span), points[keep], weight[keep],
                    bounds, left_out, offsets)


def apply_grid(rule: GridRule, integrand: Integrand, gmat: np.ndarray, bound: np.ndarray,
               coords: np.ndarray | None = None, tol: float | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(value, |value|, error, estimate) (C,) of the rule: the mean T of the sub-lattice
    rules T_s, its integral of |f|, the error bound, and its part that finer steps reduce: the
    estimate max_s |T - T_s| (about one sub-lattice's error, so T's own is far smaller). With
    `coords` (the integrand must then be `score_integrands` of them) that part is, where the
    estimate misses `tol` (or always, without `tol`), the smaller of the estimate and
    `lattice_bound`, a bound of T's own aliasing error. The error adds the left-out weight
    times `bound` and the rounding bound of the sums. Sums run in blocks of _BLOCK nodes whose
    partial sums are added up: each result is within (_BLOCK + partials + 2) eps * sum |w f| of
    the exact sum of the rounded node values (recursive summation, to first order)."""
    n_sub = len(rule.bounds) - 1
    sub = []
    absval = 0.0
    partials = 0
    for s in range(n_sub):
        acc = 0.0
        for lo in range(rule.bounds[s], rule.bounds[s + 1], _CHUNK):
            hi = min(lo + _CHUNK, rule.bounds[s + 1])
            f = integrand(rule.points[lo:hi])
            fabs = np.abs(f)
            w = rule.weight[lo:hi]
            for b in range(0, hi - lo, _BLOCK):
                acc = acc + w[b : b + _BLOCK] @ f[b : b + _BLOCK]
                absval = absval + w[b : b + _BLOCK] @ fabs[b : b + _BLOCK]
                partials += 1
        sub.append(acc)
    sub = np.array(sub)
    value = sub.sum(axis=0)
    estimate = np.max(np.abs(value - n_sub * sub), axis=0)
    rounding = (_BLOCK + partials + 2) * _EPS * absval
    extra = rule.left_out * bound + rounding
    if coords is not None and (tol is None or not _accepts(estimate + extra, absval, gmat, tol)):
        estimate = np.minimum(estimate, lattice_bound(rule, coords))
    return value, absval, estimate + extra, estimate


def lattice_bound(rule: GridRule, coords: np.ndarray) -> np.ndarray:
    """(C,) `aliasing.aliasing_bound` of the rule's whole lattice (steps h / 2) for
    `score_integrands` of `coords`, with `rule_majorants`; the shifts chosen are kept on the rule
    for its next use."""
    plan: ShiftPlan | None = rule.plans.get("shifts")
    out, rule.plans["shifts"] = aliasing_bound(coords, rule.step / 2,
                                               rule_majorants(rule, coords), plan)
    return out


def rule_majorants(rule: GridRule, coords: np.ndarray) -> Majorants:
    """The majorants' expectations for `lattice_bound`: by the sub-lattices at offsets 0 and
    (1/2, ..., 1/2), the larger plus their difference, times MAJORANT_SAFETY, plus their bounds
    times the Gaussian weight either sub-lattice may leave out (at most 2^k times the rule's)."""
    n_sub = len(rule.bounds) - 1
    parts = []
    for s in (0, n_sub - 1):
        idx = slice(int(rule.bounds[s]), int(rule.bounds[s + 1]))
        parts.append(majorants(rule.points[idx], rule.weight[idx] * n_sub, coords))
    maj = parts[0].covering(parts[1]).scaled(MAJORANT_SAFETY)
    return maj.plus_left_out(n_sub * rule.left_out, coords)  # a sub-lattice may miss it all


def _accepts(err: np.ndarray, absval: np.ndarray, gmat: np.ndarray, tol: float) -> bool:
    return within_tol(err, absval, gmat, tol)


def reuse_grid(rule: GridRule, coords: np.ndarray, integrand: Integrand, gmat: np.ndarray,
               tol: float, bound: np.ndarray, score: bool = False) -> CubatureResult | None:
    """The integrals by a grid built for nearby means, or None when the means' strip width along
    an axis outgrew the grid's or its error misses `tol`. `score`: the integrand is
    `score_integrands` of `coords`, so the aliasing bound may accept the grid (`apply_grid`)."""
    if rule.coords.shape != coords.shape or np.any(strip_widths(coords) > rule.span):
        return None
    value, absval, err, _ = apply_grid(rule, integrand, gmat, bound,
                                       coords if score else None, tol)
    if not _accepts(err, absval, gmat, tol):
        return None
    return CubatureResult(value, absval, err, rule.n_nodes, True, rule)


def drop_weight(scale: np.ndarray, bound_norms: np.ndarray, tol: float) -> float:
    """The Gaussian weight a fresh grid may leave out: DROP_SHARE of `tol` times the integrals'
    `scale` over the integrand bound's norms, per error group, the smallest (0 where no group
    has a bound)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.min(np.where(bound_norms > 0, scale / bound_norms, np.inf))
    return DROP_SHARE * tol * ratio if np.isfinite(ratio) else 0.0


def trapezoid_cubature(coords: np.ndarray, basis: np.ndarray | None, integrand: Integrand,
                       gmat: np.ndarray, bound: np.ndarray, tol: float, *,
                       max_nodes: int | None = None, score: bool = False
                       ) -> CubatureResult | None:
    """The integrals by a fresh grid, steps a priori from the `strip_widths` (`first_steps`: the
    strip-limited ones times FIRST_STRIP_FACTOR, refined by REFINE up to MAX_REFINE times while
    the error misses `tol`, after one try of the tight first steps where they apply); None (fall
    back to the adaptive cubature) when the grid would exceed `max_nodes` (default
    MAX_NODES[k]) or never meets `tol`. `score`: the integrand is `score_integrands` of
    `coords`, so the aliasing bound may accept a grid the estimate refuses (`apply_grid`)."""
    k = coords.shape[1]
    span = SPAN_MARGIN * strip_widths(coords)
    ladder = first_steps(span, tol, k, score)
    bound_norms = _group_norms(bound, gmat)
    scale = pilot_scale(integrand, k, gmat)
    spent = PILOT_ORDER**k
    rung = 0
    for _ in range(len(ladder)):
        for _attempt in range(2):  # redo once if the pilot overestimated the scale
            rule = build_grid(coords, basis, ladder[rung], span,
                              drop_weight(scale, bound_norms, tol), max_nodes)
            if rule is None:
                return None
            value, absval, err, est = apply_grid(rule, integrand, gmat, bound,
                                                 coords if score else None, tol)
            spent += rule.n_nodes
            now = _group_norms(absval, gmat)
            if np.all(now >= 0.5 * scale):
                break
            scale = now
        if _accepts(err, absval, gmat, tol):
            return CubatureResult(value, absval, err, spent, True, rule)
        if _accepts(est, absval, gmat, 0.5 * tol):  # the left-out weight is what misses
            scale = np.minimum(scale, now)
            continue
        rung += 1
        if rung == len(ladder):
            break
    return None
