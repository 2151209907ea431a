"""The Stein form of the gradient (PAPER.md, Lemma 2.2 as reported), computed with the engine's
cubature from its own integrand, so it can be held against the direct form."""

from __future__ import annotations

import numpy as np

from scoreclaims.verifiers.formulation import stein_integrands
from scoreclaims.verifiers.geometry import reduce_means
from scoreclaims.verifiers.population import DEFAULT_TOL
from scoreclaims.verifiers.quadrature import ErrorGroup, GaussianCubature


def stein_gradient(m: np.ndarray, tol: float = DEFAULT_TOL) -> tuple[np.ndarray, float]:
    """(gradient (n, d), error estimate in norm) from the Stein form."""
    m = np.asarray(m, dtype=float)
    n, d = m.shape
    red = reduce_means(m)
    if red.k == 0:
        y = np.zeros((1, 0))
        return stein_integrands(y, red.basis, red.coords, red.perp)[0].reshape(n, d), 0.0
    big = float(np.max(np.linalg.norm(m, axis=1)))
    bound = np.full(n * d, 2 * (11 * big + 9 * big**3))  # crude |integrand| bound
    group = ErrorGroup(np.arange(n * d), np.ones(n * d))
    res = GaussianCubature(
        red.coords, lambda y: stein_integrands(y, red.basis, red.coords, red.perp), n * d,
        [group], bound, tol=tol).run()
    return res.value.reshape(n, d), float(np.linalg.norm(res.error))
