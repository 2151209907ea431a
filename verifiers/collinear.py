"""The k = 1 path: frozen one-dimensional rules compiled into node weights, for GD speed.

When the means are collinear (every n = 2 or d = 1 configuration) each expectation is one Gaussian
integral along the line. The adaptive cubature (`verifiers.quadrature`) chooses the panels once;
a `LineRule` keeps their nodes with the density and panel half-widths folded into the weights,
so a nearby configuration costs one call of the shared integrand and a handful of array
operations, with the same calibrated Gauss-Kronrod error estimate re-checked at every use.

Safety of reuse: the panels were fitted to softmax transitions at the crossings of neighbouring
means, c_i = (p_i + p_{i+1}) / 2, of width h_i = 1 / (p_{i+1} - p_i) (in one dimension only
neighbours ever lead together). A rule is reused only while every c_i has moved by at most a
quarter of h_i and every gap p_{i+1} - p_i by at most a quarter of max(gap, 1/8) (a gap below 1/8
is a transition wider than the Gaussian bulk) since the panels were built, and only while its
error estimate meets the tolerance. Clustered means get two Gauss-Hermite orders instead, whose
difference is the estimate (global rules: nothing can drift, the estimate alone decides).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scoreclaims.verifiers.gauss_kronrod import calibrated
from scoreclaims.verifiers.gauss_kronrod import rule as gk_rule
from scoreclaims.verifiers.quadrature import (
    HERMITE_MAX_SPREAD,
    HERMITE_ORDERS,
    Y_MAX,
    CubatureResult,
    FrozenRule,
    group_matrix,
    within_tol,
)

_DRIFT = 0.25  # fraction of a transition width (or gap) a rule tolerates
_WIDE_GAP = 1.0 / 8.0  # gaps below this are transitions wider than the Gaussian bulk
_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


@dataclass(frozen=True, eq=False)
class LineRule:
    """Nodes (N, 1) of a one-dimensional rule and how to reduce integrand values there.
    Panels (`kind` "panels"): `scaled` (N,) = half-width * density per node; `kg` (2, 21) the
    Kronrod and Gauss weights.
    Gauss-Hermite (`kind` "hermite"): `pair` (2, N), the two orders' weights on the stacked nodes.
    `coords` (n,) and `basis` (d, 1): the configuration and frame the rule was built for;
    `check` (m, n) maps coordinates to crossings and gaps, `limit` (m,) their allowed drift."""

    kind: str
    points: np.ndarray
    coords: np.ndarray
    basis: np.ndarray | None
    check: np.ndarray
    limit: np.ndarray
    scaled: np.ndarray | None = None
    kg: np.ndarray | None = None
    pair: np.ndarray | None = None
    ones: np.ndarray | None = None  # (panels,): sums over panels as products (faster)
    edges: np.ndarray | None = None  # (2, panels): the panels [a, b]

    @property
    def n_nodes(self) -> int:
        return len(self.points)


def drift_check(coords: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(check (2(n-1), n), limit): rows give the crossings and gaps of neighbouring means."""
    n = len(coords)
    order = np.argsort(coords, kind="stable")
    check = np.zeros((2 * (n - 1), n))
    rows = np.arange(n - 1)
    check[rows, order[:-1]] = 0.5
    check[rows, order[1:]] = 0.5
    check[n - 1 + rows, order[1:]] = 1.0
    check[n - 1 + rows, order[:-1]] = -1.0
    gaps = check[n - 1 :] @ coords
    with np.errstate(divide="ignore"):
        width = 1.0 / gaps
    limit = _DRIFT * np.concatenate([width, np.maximum(gaps, _WIDE_GAP)])
    return check, limit


def fits(rule: LineRule, coords: np.ndarray, spread: float | None = None) -> bool:
    """May `rule` be tried for the reduced means `coords` (n,)? (Gauss-Hermite: while the
    means stay within `HERMITE_MAX_SPREAD`, where the adaptive cubature would try it too;
    `spread`: max - min of `coords`, when the caller has it.)"""
    if len(coords) != len(rule.coords):
        return False
    if rule.kind == "hermite":
        if spread is None:
            spread = float(coords.max() - coords.min())
        return spread <= HERMITE_MAX_SPREAD
    return bool(np.all(np.abs(rule.check @ (coords - rule.coords)) <= rule.limit))


def from_panels(frozen: FrozenRule, basis: np.ndarray | None) -> LineRule:
    """A LineRule from the panels of an adaptive one-dimensional run."""
    return _panel_rule(frozen.tree.a, frozen.tree.b, frozen.coords[:, 0].copy(), basis)


def _panel_rule(a: np.ndarray, b: np.ndarray, coords: np.ndarray, basis: np.ndarray | None
                ) -> LineRule:
    x, wk, wg = gk_rule()
    half = 0.5 * (b - a)
    t = ((0.5 * (a + b))[:, None] + half[:, None] * x).reshape(-1)
    scaled = np.repeat(half, len(x)) * np.exp(-0.5 * t * t) * _INV_SQRT_2PI
    check, limit = drift_check(coords)
    return LineRule("panels", t[:, None], coords, basis, check, limit, scaled=scaled,
                    kg=np.stack([wk, wg]), ones=np.ones(len(half)), edges=np.stack([a, b]))


def transport(rule: LineRule, coords: np.ndarray) -> LineRule | None:
    """The panels of `rule` carried along with the crossings (a piecewise-linear, monotone map
    of the line taking each old crossing to the new one; the domain ends stay), for a
    configuration whose crossings have drifted but whose gaps have not (beyond the drift
    limit): each transition keeps its place among the panels fitted to it. None when the gaps
    changed too much or the order of the means did. The caller re-checks the estimate."""
    if rule.kind != "panels" or len(coords) != len(rule.coords) or len(coords) < 2:
        return None
    n = len(coords)
    moved = rule.check @ (coords - rule.coords)
    if np.any(np.abs(moved[n - 1 :]) > rule.limit[n - 1 :]):
        return None
    old = rule.check[: n - 1] @ rule.coords
    new = old + moved[: n - 1]
    if np.any(np.diff(new) <= 0) or not np.all(np.isfinite(new)):
        return None
    a, b = rule.edges
    shift_a = np.interp(a, old, new - old)
    shift_b = np.interp(b, old, new - old)
    a2 = np.where(np.abs(a) == Y_MAX, a, np.clip(a + shift_a, -Y_MAX, Y_MAX))
    b2 = np.where(np.abs(b) == Y_MAX, b, np.clip(b + shift_b, -Y_MAX, Y_MAX))
    if np.any(b2 <= a2):
        return None
    return _panel_rule(a2, b2, coords.copy(), rule.basis)


def hermite(coords: np.ndarray, basis: np.ndarray | None,
            orders: tuple[int, int] = HERMITE_ORDERS) -> LineRule:
    """Two Gauss-Hermite orders on stacked nodes (weights zero on the other order's nodes)."""
    xs, ws = zip(*(np.polynomial.hermite_e.hermegauss(q) for q in orders), strict=True)
    pair = np.zeros((2, sum(map(len, xs))))
    pair[0, : len(xs[0])] = ws[0] * _INV_SQRT_2PI
    pair[1, len(xs[0]) :] = ws[1] * _INV_SQRT_2PI
    check, limit = drift_check(coords)
    return LineRule("hermite", np.concatenate(xs)[:, None], coords.copy(), basis, check, limit,
                    pair=pair)


def panel_estimates(fd3: np.ndarray, kg: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per panel (P, C): the Kronrod value, the Kronrod integral of |f| and the calibrated
    error, from node values already weighted by density and half-width, fd3 (P, 21, C), and the
    Kronrod and Gauss weights kg (2, 21)."""
    sums = kg @ fd3  # (P, 2, C)
    kron = sums[:, 0]
    raw = np.abs(kron - sums[:, 1])
    resasc = kg[0] @ np.abs(fd3 - 0.5 * kron[:, None, :])
    return kron, kg[0] @ np.abs(fd3), calibrated(raw, resasc)


def apply(rule: LineRule, f: np.ndarray, gmat: np.ndarray, tol: float) -> CubatureResult | None:
    """Integrals of the node values f (N, C) by `rule`, or None when the error estimate misses
    `tol` relative to the integral of |f| in any error group (columns of `gmat`, squared
    weights, see `quadrature.group_matrix`)."""
    if rule.kind == "hermite":
        two = rule.pair @ f
        value, error = two[1], np.abs(two[1] - two[0])
        abs_value = rule.pair[1] @ np.abs(f)
    else:
        fd3 = (f * rule.scaled[:, None]).reshape(-1, rule.kg.shape[1], f.shape[1])
        value, abs_value, error = (rule.ones @ x for x in panel_estimates(fd3, rule.kg))
    if not within_tol(error, abs_value, gmat, tol):  # NaN too: the adaptive cubature decides
        return None
    return CubatureResult(value, abs_value, error, len(f), True, rule)


__all__ = ["LineRule", "apply", "drift_check", "fits", "from_panels",
           "group_matrix", "hermite", "panel_estimates", "transport"]
