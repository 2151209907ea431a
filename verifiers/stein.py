"""Lemma 2.2's terms (PAPER.md), each with the engine's cubature from its own integrand.

- `stein_gradient`: the Stein form of the gradient (as reported), to hold against the direct form;
- `em_terms`: the leading term A_k = 2 E[w_k v] and the gradient-EM step G_k = E[w_k (x - m_k)]
  (gradient EM updates m_k <- m_k + eta G_k; G_k is the gradient of E log p_m(x)).

Canonical coordinates: x ~ N(0, I_d), w_k(x) = softmax_k(x.m_k - |m_k|^2/2), v = sum_j w_j m_j.
Stein's lemma, E[w_k x] = E[grad_x w_k] = E[w_k (m_k - v)], gives the exact identity (derived)

    E[w_k v] = -E[w_k (x - m_k)],   i.e.   A_k = -2 G_k,

so the leading term is twice the gradient of the population *negative* log-likelihood: a GD step on
L with step eta is, to leading order, a gradient-EM step with step 2 eta. The reduction to the span
of the mean differences is used for the cubature; the part of x orthogonal to it drops out of G_k
exactly (E[w_k x_perp] = 0), so the identity is non-trivial only in the span.
"""

from __future__ import annotations

import numpy as np

from scoreclaims.verifiers.formulation import softmax_weights, stein_integrands
from scoreclaims.verifiers.geometry import reduce_means
from scoreclaims.verifiers.population import DEFAULT_TOL
from scoreclaims.verifiers.quadrature import Y_MAX, ErrorGroup, GaussianCubature


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
