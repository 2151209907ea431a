"""The computations behind L2.2 (the gradient, its Stein form and its gradient-EM leading term).

Canonical coordinates (PAPER.md sec. 1): x ~ N(0, I_d), w_k(x) = softmax_k(x.m_k - |m_k|^2/2),
v = sum_j w_j m_j. Two expectations are computed here with their own integrand (not the engine's):

- the leading term       A_k = 2 E[w_k v]
- the gradient-EM step    G_k = E[w_k (x - m_k)]  (gradient EM updates m_k <- m_k + eta G_k;
                                                    G_k is the gradient of E log p_m(x))

Stein's lemma, E[w_k x] = E[grad_x w_k] = E[w_k (m_k - v)], gives the exact identity (derived)

    E[w_k v] = -E[w_k (x - m_k)],   i.e.   A_k = -2 G_k,

so the leading term is twice the gradient of the population *negative* log-likelihood: a GD step on
L with step eta is, to leading order, a gradient-EM step with step 2 eta. The reduction to the span
of the mean differences (verifiers.geometry) is used for the cubature; the part of x orthogonal to
it drops out of G_k exactly (E[w_k x_perp] = 0), so the identity is non-trivial only in the span.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from scoreclaims.verifiers.formulation import score_integrands, softmax_weights, stein_integrands
from scoreclaims.verifiers.geometry import reduce_means
from scoreclaims.verifiers.quadrature import Y_MAX, ErrorGroup, GaussianCubature


def em_terms(m: np.ndarray, tol: float = 1e-12) -> tuple[np.ndarray, np.ndarray, float, float]:
    """(A = 2 E[w_k v] (n, d), G = E[w_k (x - m_k)] (n, d), error of A, error of G) in norm."""
    m = np.asarray(m, dtype=float)
    n, d = m.shape
    red = reduce_means(m)
    k = red.k
    if k == 0:  # all means equal: w_k = 1/n, v = c_perp, E[x] = 0
        lead = np.tile(2.0 * red.perp / n, (n, 1))
        return lead, np.tile(-red.perp / n, (n, 1)), 0.0, 0.0
    coords = red.coords

    def integrand(y: np.ndarray) -> np.ndarray:
        w = softmax_weights(y, coords)
        u = w @ coords
        lead = w[:, :, None] * u[:, None, :]  # w_k u
        step = w[:, :, None] * (y[:, None, :] - coords[None])  # w_k (y - p_k)
        return np.concatenate([lead.reshape(len(y), -1), step.reshape(len(y), -1), w], axis=1)

    nk = n * k
    groups = [ErrorGroup(np.arange(nk), np.ones(nk)),
              ErrorGroup(np.arange(nk, 2 * nk), np.ones(nk)),
              ErrorGroup(np.arange(2 * nk, 2 * nk + n), np.ones(n))]
    big = float(np.max(np.linalg.norm(coords, axis=1)))
    bound = np.concatenate([np.full(nk, big), np.full(nk, np.sqrt(k) * Y_MAX + big), np.ones(n)])
    res = GaussianCubature(coords, integrand, 2 * nk + n, groups, bound, tol=tol).run()
    span_lead = res.value[:nk].reshape(n, k)
    span_step = res.value[nk : 2 * nk].reshape(n, k)
    wk = res.value[2 * nk :]
    lead = 2 * (span_lead @ red.basis.T + np.outer(wk, red.perp))
    step = span_step @ red.basis.T - np.outer(wk, red.perp)
    err = res.error + 64 * np.finfo(float).eps * res.abs_value
    perp = float(np.linalg.norm(red.perp))
    e_w = float(np.linalg.norm(err[2 * nk :])) * perp
    return (lead, step, 2 * (float(np.linalg.norm(err[:nk])) + e_w),
            float(np.linalg.norm(err[nk : 2 * nk])) + e_w)


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
