"""Gauss-Kronrod rules on [-1, 1], derived in arbitrary precision (no transcribed constants).

`derive_rule(n)` computes the (2n+1)-point Kronrod extension of the n-point Gauss-Legendre rule
with mpmath: the Gauss nodes, the roots of the Stieltjes polynomial E_{n+1} (orthogonal to
P_n x^k for k <= n), and the weights from the moment equations. `rule(n)` caches the float64
rule (0.15 s to derive); tests check exactness on polynomials of degree <= 3n+1.
`calibrated` turns a panel's |K - G| into QUADPACK's error estimate (the adaptive cubature and
the frozen line rules share it).
"""

from __future__ import annotations

from fractions import Fraction
from functools import cache
from types import ModuleType
from typing import Any

import mpmath
import numpy as np


def _monomial_integral(j: int) -> mpmath.mpf:
    return mpmath.mpf(2) / (j + 1) if j % 2 == 0 else mpmath.mpf(0)


def _legendre_coefficients(n: int) -> list[Fraction]:
    """Exact coefficients of P_n, lowest degree first (Bonnet's recurrence)."""
    prev, cur = [Fraction(1)], [Fraction(0), Fraction(1)]
    if n == 0:
        return prev
    for k in range(1, n):
        nxt = [Fraction(0)] * (k + 2)
        for i, c in enumerate(cur):
            nxt[i + 1] += Fraction(2 * k + 1, k + 1) * c
        for i, c in enumerate(prev):
            nxt[i] -= Fraction(k, k + 1) * c
        prev, cur = cur, nxt
    return cur


def derive_rule(n: int, dps: int = 60) -> tuple[list, list, list]:
    """(nodes, kronrod_weights, gauss_weights) as mpf lists, nodes ascending; gauss weight 0 at
    Kronrod-only nodes."""
    with mpmath.workdps(dps):
        legendre = [mpmath.mpf(c.numerator) / c.denominator for c in _legendre_coefficients(n)]

        def moment(j: int) -> mpmath.mpf:  # integral of P_n(x) x^j over [-1, 1]
            return mpmath.fsum(c * _monomial_integral(i + j) for i, c in enumerate(legendre))

        mat = mpmath.matrix(n + 1, n + 1)
        rhs = mpmath.matrix(n + 1, 1)
        for k in range(n + 1):
            for i in range(n + 1):
                mat[k, i] = moment(k + i)
            rhs[k] = -moment(k + n + 1)
        coeffs = mpmath.lu_solve(mat, rhs)
        stieltjes = [mpmath.mpf(1)] + [coeffs[i] for i in range(n, -1, -1)]  # highest degree first
        roots = mpmath.polyroots(stieltjes[::-1], maxsteps=400, extraprec=4 * dps, asc=True)
        new_nodes = [mpmath.re(r) for r in roots]
        roots = mpmath.polyroots(legendre, maxsteps=400, extraprec=4 * dps, asc=True)
        gauss_nodes = [mpmath.re(r) for r in roots]
        nodes = sorted(gauss_nodes + new_nodes)
        m = len(nodes)
        vander = mpmath.matrix(m, m)
        moments = mpmath.matrix(m, 1)
        for j in range(m):
            for i, x in enumerate(nodes):
                vander[j, i] = x**j
            moments[j] = _monomial_integral(j)
        kweights = mpmath.lu_solve(vander, moments)
        dlegendre = [i * c for i, c in enumerate(legendre)][1:]
        dp = lambda x: mpmath.polyval(dlegendre, x, asc=True)  # noqa: E731
        gweights = []
        for x in nodes:
            if any(abs(x - g) < mpmath.mpf(10) ** (-dps // 2) for g in gauss_nodes):
                gweights.append(2 / ((1 - x**2) * dp(x) ** 2))
            else:
                gweights.append(mpmath.mpf(0))
        return nodes, [kweights[i] for i in range(m)], gweights


@cache
def rule(n: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Float64 (nodes, kronrod_weights, gauss_weights) of the (2n+1)-point rule, derived once."""
    nodes, kw, gw = derive_rule(n)
    return tuple(np.array([float(x) for x in xs]) for xs in (nodes, kw, gw))  # type: ignore[return-value]


_SMALLEST = 2.0**-1074
_TINY = float(np.finfo(float).tiny)
_CALIBRATION = 200.0**1.5  # QUADPACK: error ~ resasc * min(1, (200 |K - G| / resasc)^1.5)


def calibrated(raw: Any, resasc: Any, xp: ModuleType = np) -> Any:
    """QUADPACK's estimate of a Kronrod panel's error from |K - G| and resasc (the integral of
    |f - mean| over the panel): resasc min(1, (200 |K - G| / resasc)^1.5), and never below
    |K - G| when resasc is smaller (or zero). resasc is floored at float64's smallest number
    only (a floor of 1e-300 shrank the estimates of far-tail panels below it by orders of
    magnitude; a zero resasc comes with a zero |K - G|). `xp`: the array namespace (numpy or
    jax.numpy; compiled code may flush subnormal numbers to zero, so there the floor is the
    smallest normal number, which changes nothing above 2e-308)."""
    floor = _SMALLEST if xp is np else _TINY
    return xp.minimum(xp.maximum(resasc, raw),
                      _CALIBRATION * raw * xp.sqrt(raw / xp.maximum(resasc, floor)))


def calibrated_above(raw: Any, resasc: Any, slack: Any, xp: ModuleType = np) -> Any:
    """An upper bound of `calibrated(r, a)` over every r within `slack` of `raw` and a within
    `slack` of `resasc` (the estimate as another summation order could have rounded it): the
    first term grows with both arguments, the second with r and falls with a. Where resasc -
    slack is below the smallest normal number the first term alone bounds it (the minimum of
    the two never exceeds it), so no subnormal division decides a compiled check."""
    high = raw + slack
    first = xp.maximum(resasc + slack, high)
    low = resasc - slack
    second = _CALIBRATION * high * xp.sqrt(high / xp.maximum(low, _TINY))
    return xp.where(low > _TINY, xp.minimum(first, second), first)
