"""Trapezoid (uniform-grid) rule for E_{y ~ N(0, I_k)} f(y), k = 2, 3, for separated means.

The integrands of `formulation.score_integrands` are entire in y except for the poles of the
softmax. Along axis e (the other coordinates real) the logits' phases y.p_j spread by at most
|Im y_e| D_e, D_e = max_ij |p_ie - p_je|, so the softmax has no pole while |Im y_e| < pi / D_e:
f(y) phi(y) is analytic in that strip and the trapezoid rule of step h converges like
exp(-2 pi a / h), a = pi / D_e (Trefethen & Weideman 2014); the Gaussian alone needs
exp(-2 pi^2 / h^2). The tensor rule is the 1-D rule axis by axis, so its error is the sum of
the axes' errors.

Error estimate: the grid x = h i (i integer) contains 2^k subgrids of step 2h (index parities).
The value is T(h); the estimate is max over the subgrids of |T(h) - T_s(2h)|, which is about the
error of T(2h), the square root of T(h)'s (conservative), and taking all 2^k offsets keeps one
subgrid's accidental agreement from hiding the error. Steps are chosen a priori so that T(2h)
meets the tolerance, and refined while the estimate misses it.

Truncation: nodes whose total weight h^k phi(y) (smallest first), times the integrand bound,
stays below a tenth of tol times the integral scale are left out, as is everything outside a box
whose 1-D discrete tails are summed explicitly; the left-out weight times the bound joins the
error. The kept weights sum the Gaussian to within that left-out weight.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from verifiers.quadrature import Y_MAX, CubatureResult, _group_norms, _hermite_tensor

_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)
STRIP_USE = 0.75  # fraction of the pole-free strip the a-priori step relies on
SPAN_MARGIN = 1.25  # steps are sized for spans this much wider, so GD can reuse the grid
MAX_NODES = {2: 400_000, 3: 4_000_000}  # beyond: the adaptive cubature (fallback)
MAX_BOX = 12_000_000  # box nodes enumerated when the grid is built (memory)
REFINE = 0.7  # step factor while the estimate misses tol (0.5: 8 times the nodes for k = 3)
MAX_REFINE = 3
DROP_SHARE = 0.1  # share of the tolerance the left-out nodes may use
_CHUNK = 32_768  # integrand points per call (memory)
_BLOCK = 2048  # nodes per partial sum (bounds the rounding of the sums)
_EPS = float(np.finfo(float).eps)

Integrand = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class GridRule:
    """A trapezoid grid, reusable for nearby configurations (GD steps) while the means' span
    along every axis stays within `span` (what the steps were sized for) and the estimate
    meets the tolerance. `points` (N, k) are sorted by subgrid (`bounds`: the 2^k + 1 slice
    ends), `weight` (N,) = prod h_e * phi(y); `left_out`: the Gaussian weight not kept."""

    coords: np.ndarray
    basis: np.ndarray | None
    step: np.ndarray
    span: np.ndarray
    points: np.ndarray
    weight: np.ndarray
    bounds: np.ndarray
    left_out: float

    @property
    def n_nodes(self) -> int:
        return len(self.points)


def spans(coords: np.ndarray) -> np.ndarray:
    """(k,) max_ij |p_ie - p_je| per axis."""
    return np.ptp(coords, axis=0)


def a_priori_steps(span: np.ndarray, tol: float) -> np.ndarray:
    """Steps h (k,) for which the 2h rule should meet `tol`: exp(-2 pi a' / (2h)) = tol / 10 with
    a' = STRIP_USE pi / span, and the Gaussian's own exp(-2 pi^2 / (2h)^2) = tol / 10."""
    log_eps = np.log(10.0 / tol)
    with np.errstate(divide="ignore"):
        strip = STRIP_USE * np.pi / span
    h_strip = np.pi * strip / log_eps
    h_gauss = 0.5 * np.pi * np.sqrt(2.0 / log_eps)
    return np.minimum(h_strip, h_gauss)


def _axis(h: float, drop: float) -> tuple[np.ndarray, float, float]:
    """Nodes h i of one axis with |h i| <= B, their discrete tail weight beyond B, and the
    whole axis' weight sum (~1); B the smallest with tail <= drop."""
    full = np.arange(int(np.ceil(Y_MAX / h)) + 1) * h
    dens = h * _INV_SQRT_2PI * np.exp(-0.5 * full**2)
    tails = 2.0 * np.cumsum(dens[::-1])[::-1]  # tails[i]: weight of |x| >= full[i]
    beyond = np.append(tails[1:], 0.0)  # weight of |x| > full[i]
    last = int(np.argmax(beyond <= drop))
    x = full[: last + 1]
    return np.concatenate([-x[:0:-1], x]), float(beyond[last]), float(dens[0] + tails[1])


def build_grid(coords: np.ndarray, basis: np.ndarray | None, step: np.ndarray,
               span: np.ndarray, drop: float, max_nodes: int | None = None) -> GridRule | None:
    """The grid of steps `step`, leaving out Gaussian weight at most `drop` (plus the box
    tails, tiny); None when it would exceed `max_nodes` (default MAX_NODES[k])."""
    k = len(step)
    max_nodes = MAX_NODES[k] if max_nodes is None else max_nodes
    axes = [_axis(float(h), drop / (4 * k)) for h in step]
    sizes = [len(x) for x, _, _ in axes]
    if np.prod(np.asarray(sizes, dtype=float)) > max(MAX_BOX, 4 * max_nodes):
        return None
    sums = [s for _, _, s in axes]
    box_tail = sum(t * np.prod(sums[:e] + sums[e + 1 :]) for e, (_, t, _) in enumerate(axes))
    r2 = np.zeros(sizes)
    for e, (x, _, _) in enumerate(axes):
        shape = [1] * k
        shape[e] = len(x)
        r2 = r2 + (x * x).reshape(shape)
    weight = (np.prod(step) * _INV_SQRT_2PI**k) * np.exp(-0.5 * r2.reshape(-1))
    order = np.argsort(weight)
    cum = np.cumsum(weight[order])
    n_drop = int(np.searchsorted(cum, max(drop - box_tail, 0.0), side="right"))
    keep = np.sort(order[n_drop:])
    if len(keep) > max_nodes:
        return None
    left_out = box_tail + (float(cum[n_drop - 1]) if n_drop else 0.0)
    idx = np.unravel_index(keep, sizes)
    points = np.stack([axes[e][0][idx[e]] for e in range(k)], axis=1)
    # parity of the index h i along each axis (i = 0 at the origin; the axis arrays are odd)
    centre = [(s - 1) // 2 for s in sizes]
    parity = sum(((idx[e] - centre[e]) % 2) << e for e in range(k))
    by = np.argsort(parity, kind="stable")
    bounds = np.searchsorted(parity[by], np.arange(2**k + 1))
    return GridRule(coords.copy(), basis, np.asarray(step, dtype=float), np.asarray(span),
                    points[by], weight[keep][by], bounds, left_out)


def apply_grid(rule: GridRule, integrand: Integrand, gmat: np.ndarray, bound: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(value, |value|, error, estimate) (C,) of the grid rule: T(h), its integral of |f|,
    the estimate max_s |T(h) - T_s(2h)| plus left_out * bound and the rounding bound of the
    sums, and the estimate alone. Sums run in blocks of _BLOCK nodes whose partial sums are
    added up: each result is within (_BLOCK + partials + 2) eps * sum |w f| of the exact sum
    of the rounded node values (recursive summation, to first order)."""
    k = rule.points.shape[1]
    sub = []
    absval = 0.0
    partials = 0
    for s in range(2**k):
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
    estimate = np.max(np.abs(value - 2**k * sub), axis=0)
    rounding = (_BLOCK + partials + 2) * _EPS * absval
    return value, absval, estimate + rule.left_out * bound + rounding, estimate


def _accepts(err: np.ndarray, absval: np.ndarray, gmat: np.ndarray, tol: float) -> bool:
    return bool(np.all(_group_norms(err, gmat) <= tol * _group_norms(absval, gmat)))


def reuse_grid(rule: GridRule, coords: np.ndarray, integrand: Integrand, gmat: np.ndarray,
               tol: float, bound: np.ndarray) -> CubatureResult | None:
    """The integrals by a grid built for nearby means, or None when the means' span along an
    axis outgrew the grid's or its estimate misses `tol`."""
    if rule.coords.shape != coords.shape or np.any(spans(coords) > rule.span):
        return None
    value, absval, err, _ = apply_grid(rule, integrand, gmat, bound)
    if not _accepts(err, absval, gmat, tol):
        return None
    return CubatureResult(value, absval, err, rule.n_nodes, True, rule)


def trapezoid_cubature(coords: np.ndarray, basis: np.ndarray | None, integrand: Integrand,
                       gmat: np.ndarray, bound: np.ndarray, tol: float,
                       max_nodes: int | None = None) -> CubatureResult | None:
    """The integrals by a fresh grid, steps from the spans a priori and refined (times
    REFINE) while the estimate misses `tol`; None (fall back to the adaptive cubature) when
    the grid would be too large or never meets `tol`."""
    k = coords.shape[1]
    span = SPAN_MARGIN * spans(coords)
    step = a_priori_steps(span, tol)
    bound_norms = _group_norms(bound, gmat)
    pts, wts = _hermite_tensor(10, k)  # pilot: the scale of the integrals of |f|
    scale = _group_norms(wts @ np.abs(integrand(pts)), gmat)
    spent = len(pts)
    for _ in range(MAX_REFINE + 1):
        for _attempt in range(2):  # redo once if the pilot overestimated the scale
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.min(np.where(bound_norms > 0, scale / bound_norms, np.inf))
            drop = DROP_SHARE * tol * ratio if np.isfinite(ratio) else 0.0
            rule = build_grid(coords, basis, step, span, drop, max_nodes)
            if rule is None:
                return None
            value, absval, err, est = apply_grid(rule, integrand, gmat, bound)
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
        step = REFINE * step
    return None
