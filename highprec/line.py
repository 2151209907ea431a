"""Gaussian expectations for collinear means (k <= 1) by composite Gauss-Legendre quadrature, in
float64 or at any precision, with an error estimate.

At high precision the arithmetic is python-flint's arb (balls, in C: fifteen times faster than
mpmath object arrays on these integrands, measured); the ball radii, which bound the rounding,
are added to the quadrature error estimate, and results are returned as mpf.

For means on one line the expectation is one-dimensional and every integrand built from the
softmax weights is analytic; its only singularities are the zeros of the softmax denominator.
For two distinct values q < q' (multiplicities mu, mu') they sit at
z = c + i pi (2j + 1) / g, with g = q' - q and c = (q + q')/2 + log(mu / mu') / g the crossing of
the two logits (derived: mu e^{l} + mu' e^{l'} = 0). Panels are graded around every crossing
(widths pi/g, 2 pi/g, 4 pi/g, ... up to BULK_WIDTH), so the nearest pole is always more than a
panel's half-width away (Bernstein ellipse parameter >= 4.3), and at most BULK_WIDTH wide
elsewhere, on [-Y, Y] with Y^2/2 = (digits + 10) log 10 + P^2/2 (P = max |q|): beyond Y the
Gaussian mass times the integrand bounds is below 10^-(digits+10) e^{-P^2/2}, far below a
component of size e^{-P^2/8} (a mean P away from the bulk) times 10^-digits.
The order is chosen from the ellipse parameter for the target digits; the value returned is
the rule of order q + ORDER_STEP, the error estimate the difference with the rule of order q on
the same panels (the lower order's error, a conservative bound on the returned value's).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import mpmath
import numpy as np
from flint import arb

BULK_WIDTH = 2.0
ORDER_STEP = 8
FLOAT64_DIGITS = 16
GUARD_DIGITS = 10  # working digits beyond the target (cancellation in the integrands)
_ELLIPSE_LOG = math.log(4.3)

Integrand = Callable[[np.ndarray], np.ndarray]


@cache
def legendre_rule(order: int, dps: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(nodes, weights) of the Gauss-Legendre rule on [-1, 1]: float64 arrays (dps None) or
    object arrays of mpf at `dps` digits (Newton on P_q from numpy's nodes)."""
    x0, w0 = np.polynomial.legendre.leggauss(order)
    if dps is None:
        return x0, w0
    nodes, weights = [], []
    with mpmath.workdps(dps + 10):
        tol = mpmath.mpf(10) ** (-dps - 5)
        for g in x0:
            x = mpmath.mpf(float(g))
            for _ in range(100):
                p, dp = _legendre_pair(x, order)
                step = p / dp
                x -= step
                if abs(step) <= tol:
                    break
            _, dp = _legendre_pair(x, order)
            nodes.append(x)
            weights.append(2 / ((1 - x * x) * dp * dp))
    with mpmath.workdps(dps):
        return (np.array([+x for x in nodes], dtype=object),
                np.array([+w for w in weights], dtype=object))


def _legendre_pair(x: mpmath.mpf, q: int) -> tuple[mpmath.mpf, mpmath.mpf]:
    """(P_q(x), P_q'(x)) by Bonnet's recurrence."""
    prev, cur = mpmath.mpf(1), x
    for j in range(1, q):
        prev, cur = cur, ((2 * j + 1) * x * cur - j * prev) / (j + 1)
    return cur, q * (x * cur - prev) / (x * x - 1)


def order_for(digits: int) -> int:
    """Lowest order whose ellipse bound (4.3^-2q) is below 10^-(digits+5)."""
    return max(8, math.ceil((digits + 5) * math.log(10) / (2 * _ELLIPSE_LOG)))


def cutoff(values: np.ndarray, digits: int) -> float:
    big = max(float(np.max(np.abs(values.astype(float)))), 1.0) if len(values) else 1.0
    return math.sqrt(2 * (digits + 10) * math.log(10) + big * big)


def breakpoints(values: np.ndarray, y_max: float) -> np.ndarray:
    """Sorted panel ends on [-y_max, y_max] (floats) for means at `values` (1-D, repeats allowed):
    graded around every pairwise crossing, at most BULK_WIDTH apart."""
    vals = [float(v) for v in values]
    uniq = sorted(set(vals))
    mult = {v: vals.count(v) for v in uniq}
    pts = [-y_max, y_max]
    pts += list(np.arange(-math.floor(y_max), math.floor(y_max) + 1, BULK_WIDTH))
    for i, q in enumerate(uniq):
        for q2 in uniq[i + 1:]:
            gap = q2 - q
            centre = 0.5 * (q + q2) + math.log(mult[q] / mult[q2]) / gap
            rho = math.pi / gap
            pts.append(centre)
            offset, width = 0.0, rho
            while width < BULK_WIDTH and offset < 2 * y_max:
                offset += width
                pts += [centre - offset, centre + offset]
                width *= 2
    arr = np.unique(np.clip(np.array(pts), -y_max, y_max))
    return arr[np.concatenate([[True], np.diff(arr) > 1e-12])]


@dataclass(frozen=True)
class LegendrePair:
    """Nodes (N, 1) and weights (N,) (Gaussian density included) of the two composite rules
    (lower order, higher order): float64 arrays, or object arrays of arb at `prec` bits."""

    points: tuple[np.ndarray, np.ndarray]
    weights: tuple[np.ndarray, np.ndarray]
    digits: int
    prec: int | None


ARB_EXP = np.frompyfunc(lambda z: z.exp(), 1, 1)


def line_rule(values: np.ndarray, digits: int = FLOAT64_DIGITS, prec: int | None = None
              ) -> LegendrePair:
    """The two composite Gauss-Legendre rules for means at `values` (1-D); arb nodes at `prec`
    bits (set `flint.ctx.prec` to at least that while using them) or float64 (prec None)."""
    floats = np.array([float(v) for v in np.ravel(values)])
    y_max = cutoff(floats, digits)
    ends = breakpoints(floats, y_max)
    a, b = ends[:-1, None], ends[1:, None]
    low = order_for(digits)
    pts, wts = [], []
    for order in (low, low + ORDER_STEP):
        if prec is None:
            x, w = legendre_rule(order, None)
            y = (0.5 * (a + b) + 0.5 * (b - a) * x[None, :]).reshape(-1)
            ww = (0.5 * (b - a) * w[None, :]).reshape(-1) * np.exp(-0.5 * y * y)
            ww = ww / math.sqrt(2 * math.pi)
        else:
            x, w = _arb_legendre(order, prec)
            ends_arb = np.array([arb(float(v)) for v in ends], dtype=object)  # exact tiling
            half = (ends_arb[1:] - ends_arb[:-1]) / 2
            mid = (ends_arb[1:] + ends_arb[:-1]) / 2
            y = (mid[:, None] + half[:, None] * x[None, :]).reshape(-1)
            inv = 1 / (2 * arb.pi()).sqrt()
            ww = (half[:, None] * w[None, :]).reshape(-1) * ARB_EXP(-(y * y) / 2) * inv
        pts.append(y[:, None])
        wts.append(ww)
    return LegendrePair((pts[0], pts[1]), (wts[0], wts[1]), digits, prec)


@cache
def _arb_legendre(order: int, prec: int) -> tuple[np.ndarray, np.ndarray]:
    x, w = legendre_rule(order, int(prec / 3.32) + 5)
    return (np.array([arb(v) for v in x], dtype=object),
            np.array([arb(v) for v in w], dtype=object))


def expectation(integrand: Integrand, rule: LegendrePair, error: bool = True
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values, error estimates, integrals of |f|) of E f(y), f(y) (N, C) the integrand at the
    rule's nodes: floats, or mpf (the arb midpoints; the errors include the arb radii).
    `error=False` (float64 only) skips the lower-order rule: errors are returned as NaN."""
    f_high = integrand(rule.points[1])
    high = rule.weights[1] @ f_high
    if rule.prec is None and not error:
        return high, np.full_like(high, np.nan), rule.weights[1] @ np.abs(f_high)
    low = rule.weights[0] @ integrand(rule.points[0])
    if rule.prec is None:
        return high, np.abs(high - low), rule.weights[1] @ np.abs(f_high)
    absolute = rule.weights[1] @ np.vectorize(abs, otypes=[object])(f_high)
    values = np.array([arb_to_mpf(v.mid()) for v in high], dtype=object)
    errors = np.array([arb_to_mpf((abs(h - lo) + h.rad()).upper()) for h, lo
                       in zip(high, low, strict=True)], dtype=object)
    return values, errors, np.array([arb_to_mpf(v.mid()) for v in absolute], dtype=object)


def arb_to_mpf(x: arb) -> mpmath.mpf:
    """The midpoint of a ball as an mpf (exact at the current mpmath precision or rounded)."""
    man, exp = x.mid().man_exp()
    return mpmath.mpf((int(man), int(exp)))


def working_dps(digits: int, values: np.ndarray) -> int:
    """Digits to compute with: the target, guard digits and the size of the cubic integrands."""
    big = max([1.0] + [abs(float(v)) for v in np.ravel(values)])
    return digits + GUARD_DIGITS + math.ceil(3 * math.log10(big))


def bits(dps: int) -> int:
    return int(dps * 3.33) + 16
