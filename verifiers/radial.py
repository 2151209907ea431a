"""Which way does each mean move? The radial component m_i . grad_{m_i} L (canonical coordinates,
truth at the origin) with an error bound per mean, so that the sign of an exponentially small
component is established even when the rest of the gradient is large.

`verifiers.population.evaluate` bounds the error of the whole gradient in norm: a far mean's
component 1e-40 below the others is then unresolved. Here the same integrands
(`verifiers.formulation.score_integrands`) go through the engine's cubature with one error group
per component, so each component gets its own relative tolerance (measured: components down to
~1e-300 resolved). Below float64's range the value is 0 and the sign is unresolved; then, for
collinear means, `scoreclaims.highprec.certified.enclose_mean_gradient` certifies it with arb balls
(`radial_sign(..., certify=True)`).

Sign convention: m_i . grad_i < 0 means a GD step moves mean i away from the truth ("away").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scoreclaims.verifiers.formulation import n_components, score_integrands, split_components
from scoreclaims.verifiers.geometry import reduce_means
from scoreclaims.verifiers.population import ROUNDING, integrand_bound
from scoreclaims.verifiers.quadrature import ErrorGroup, GaussianCubature

AWAY, TOWARD, UNRESOLVED = "away", "toward", "unresolved"
TOL = 1e-10


@dataclass(frozen=True)
class RadialSign:
    """The direction a GD step moves mean i: `sign` is AWAY, TOWARD or UNRESOLVED; `value` the
    float64 radial component (0.0 below float64's range), `error` its bound, `method`
    "float64" (the component exceeds its error bound) or "arb" (certified enclosure)."""

    sign: str
    value: float
    error: float
    method: str


def radial_components(m: np.ndarray, tol: float = TOL) -> tuple[np.ndarray, np.ndarray]:
    """(m_i . grad_i, error bound) per mean, float64, canonical means m (n, d)."""
    m = np.asarray(m, dtype=float)
    n, _ = m.shape
    red = reduce_means(m)
    k = red.k
    if k == 0:  # collapsed: grad_i = (2/n) c exactly
        value = np.full(n, (2.0 / n) * float(red.perp @ red.perp))
        return value, np.zeros(n)
    coords = red.coords
    ncomp = n_components(n, k)
    groups = [ErrorGroup(np.array([c]), np.array([1.0])) for c in range(ncomp)]
    res = GaussianCubature(coords, lambda y: score_integrands(y, coords), ncomp, groups,
                           integrand_bound(red), tol=tol).run()
    err = res.error + ROUNDING * res.abs_value
    _, g, gamma = split_components(res.value, n, k)
    _, g_err, gamma_err = split_components(err, n, k)
    if not res.converged:
        g_err = np.full_like(g_err, np.inf)
    grad = red.lift(g, gamma)
    value = np.sum(m * grad, axis=1)
    along = m @ red.basis  # (n, k): m_i in the reduced basis
    perp_dot = m @ red.perp
    bound = (np.sum(np.abs(along) * g_err, axis=1) + np.abs(perp_dot) * gamma_err
             + np.abs(gamma) * np.linalg.norm(m, axis=1) * red.perp_rounding)
    return value, bound


def radial_signs(m: np.ndarray, tol: float = TOL) -> list[RadialSign]:
    """The radial sign of every mean in float64: AWAY or TOWARD where the component exceeds its
    own error bound, else UNRESOLVED (identical means share their sign exactly)."""
    m = np.asarray(m, dtype=float)
    value, bound = radial_components(m, tol)
    out: list[RadialSign] = []
    for i in range(len(value)):
        twin = next((j for j in range(i) if np.array_equal(m[j], m[i])), None)
        if twin is not None:  # identical means receive identical gradients (exactly)
            out.append(out[twin])
        elif abs(value[i]) > bound[i]:
            out.append(RadialSign(AWAY if value[i] < 0 else TOWARD, float(value[i]),
                                  float(bound[i]), "float64"))
        else:
            out.append(RadialSign(UNRESOLVED, float(value[i]), float(bound[i]), "float64"))
    return out
