"""Lemma 2.2 at 50 digits: the Stein form of the gradient against the direct form, both
integrated in mpmath (an independent check of the float64 engine's `verifiers.stein`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from scoreclaims.verifiers.formulation import score_integrands, stein_integrands
from scoreclaims.verifiers.geometry import reduce_means


def _mp_vexp(ctx: Any) -> Callable[[np.ndarray], np.ndarray]:
    return np.vectorize(ctx.exp, otypes=[object])


def stein_vs_direct_mp(m: np.ndarray, dps: int = 50) -> tuple[float, float]:
    """(|Stein - direct| / |direct|, largest quadrature error estimate relative to |direct|) for a
    k = 1 configuration, both integrated in mpmath at `dps` + 15 digits (tanh-sinh, breakpoints at
    every logit crossing). A discrepancy of 0.0 means equal to the working precision."""
    import mpmath

    with mpmath.workdps(dps + 15):
        mm = np.array([[mpmath.mpf(float(a)) for a in row] for row in np.asarray(m)], dtype=object)
        n, d = mm.shape
        red = reduce_means(mm)
        if red.k != 1:
            raise ValueError(f"the 50-digit check handles k = 1 configurations, got k = {red.k}")
        coords, basis, perp = red.coords, red.basis, red.perp
        vexp = _mp_vexp(mpmath.mp)
        memo: dict[Any, tuple[np.ndarray, np.ndarray]] = {}
        norm = 1 / mpmath.sqrt(2 * mpmath.pi)

        def both(y: Any) -> tuple[np.ndarray, np.ndarray]:
            if y not in memo:
                yy = np.array([[y]], dtype=object)
                direct = score_integrands(yy, coords, vexp)[0]
                stein = stein_integrands(yy, basis, coords, perp, vexp)[0]
                dens = norm * mpmath.exp(-y * y / 2)
                memo[y] = (direct * dens, stein * dens)
            return memo[y]

        p = [c[0] for c in coords]
        cuts = sorted({(p[i] + p[j]) / 2 for i in range(n) for j in range(i + 1, n)})
        pts = [-mpmath.inf, *cuts, mpmath.inf]
        ncomp = 1 + 2 * n

        errors: list[Any] = []

        def quad(f: Callable[[Any], Any]) -> Any:
            value, error = mpmath.quad(f, pts, error=True)
            errors.append(error)
            return value

        direct = [quad(lambda y, i=i: both(y)[0][i]) for i in range(ncomp)]
        stein = np.array([quad(lambda y, i=i: both(y)[1][i]) for i in range(n * d)],
                         dtype=object).reshape(n, d)
        g = np.array(direct[1 : 1 + n], dtype=object).reshape(n, 1)
        gamma = np.array(direct[1 + n :], dtype=object)
        grad = red.lift(g, gamma)
        diff = mpmath.sqrt(mpmath.fsum(x * x for x in (stein - grad).reshape(-1)))
        size = mpmath.sqrt(mpmath.fsum(x * x for x in grad.reshape(-1)))
        return float(diff / size), float(max(errors) / size)
