"""The Hessian of the population loss at collinear means through the origin (m_i = a_i e_1), as
one-dimensional Gaussian expectations, in float64 or at any precision.

Derivation (**derived**, from the gradient of PAPER.md sec. 1). On the line, with y ~ N(0, 1),
w = softmax(a y - a^2/2), u = sum_i w_i a_i, e_j = y - a_j, c_j = a_j - u and
D_j = 1 + c_j e_j, one has d w_i / d a_j = w_i (delta_ij - w_j) e_j, d u / d a_j = w_j D_j and
G_k = 2 E[u w_k D_k] = d E[u^2] / d a_k, hence the along-line block

    H_kj = 2 E[ w_k D_k w_j D_j + delta_kj u w_k (e_k D_k + e_k - c_k)
                - u w_k w_j (e_j D_k + e_k D_j) ].

Moving the means off the line, m_i = a_i e_1 + b_i e_perp, and differentiating the transverse
gradient 2 E[w_k v_perp + w_k (z - b_k)((m_k - v).v)] in b_j at b = 0 (z ~ N(0, 1) independent of
y there, E z = 0, E z^2 = 1; the delta_kj terms cancel):

    Hperp_kj = 2 E[ w_k w_j (1 + c_k c_j - u (c_k + c_j)) ].

The mixed blocks vanish: the reflection z -> -z maps the configuration to itself. Rotating every
mean about the origin is a symmetry of L, so sum_j Hperp_kj a_j = G_k (exactly; a check used by
the tests), and at a stationary point a is a zero mode of Hperp in every transverse direction.
c_j is formed as sum_l w_l (a_j - a_l) (as in `verifiers.formulation`) to keep its accuracy where
one weight is close to 1.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import flint
import mpmath
import numpy as np
from flint import arb

from scoreclaims.highprec.line import (
    ARB_EXP,
    FLOAT64_DIGITS,
    bits,
    expectation,
    line_rule,
    working_dps,
)
from scoreclaims.verifiers.formulation import (
    Exp,
    score_integrands,
    softmax_weights,
    split_components,
)
from scoreclaims.verifiers.geometry import reduce_means


def hessian_integrands(y: np.ndarray, a: np.ndarray, exp: Exp = np.exp) -> np.ndarray:
    """(N, 2 n^2): the integrands of H (row-major) then of Hperp, at points y (N, 1)."""
    coords = a.reshape(-1, 1)
    w = softmax_weights(y, coords, exp)  # (N, n)
    n = len(a)
    u = w @ a
    pairwise = a[None, :] - a[:, None]  # [l, j] = a_j - a_l
    c = w @ pairwise  # (N, n): a_j - u
    e = y - a[None, :]
    dd = 1 + c * e
    wd, we = w * dd, w * e
    par = wd[:, :, None] * wd[:, None, :]
    par -= u[:, None, None] * (we[:, :, None] * wd[:, None, :] + wd[:, :, None] * we[:, None, :])
    diag = u[:, None] * w * (e * dd + e - c)
    idx = np.arange(n)
    par[:, idx, idx] += diag
    inner = 1 + c[:, :, None] * c[:, None, :] - u[:, None, None] * (c[:, :, None] + c[:, None, :])
    perp = w[:, :, None] * w[:, None, :] * inner
    return 2 * np.concatenate([par.reshape(len(y), -1), perp.reshape(len(y), -1)], axis=1)


@dataclass(frozen=True)
class LineDerivatives:
    """Loss, gradient (n,), along-line Hessian (n, n) and transverse Hessian (n, n) of means
    a_i e_1, with absolute error estimates (quadrature: two orders on the same panels, plus the
    arb radii) and `grad_scale` (n,), the integrals of |gradient integrand|: the size a
    gradient component is small against. Numbers are float (dps None) or mpf at `dps` digits."""

    a: np.ndarray
    loss: object
    grad: np.ndarray
    hess: np.ndarray
    hess_perp: np.ndarray
    loss_error: object
    grad_error: np.ndarray
    hess_error: np.ndarray
    hess_perp_error: np.ndarray
    grad_scale: np.ndarray
    dps: int | None


def line_derivatives(a: object, digits: int = FLOAT64_DIGITS, hessian: bool = True,
                     error: bool = True) -> LineDerivatives:
    """All of the above in one quadrature pass. `digits` <= 16: float64; more: arb balls at
    `working_dps(digits)` digits, results as mpf at that precision (`a` may hold mpf or decimal
    strings, read at that precision). `error=False` (float64: root finding) skips the error
    estimates (NaN)."""
    if digits <= FLOAT64_DIGITS:
        return _derivatives(np.asarray(a, dtype=float).ravel(), digits, None, hessian, error)
    dps = working_dps(digits, np.array([float(mpmath.mpf(x)) for x in np.ravel(a)]))
    with mpmath.workdps(dps), _arb_precision(bits(dps)):
        arr = np.array([arb(mpmath.mpf(x)) for x in np.ravel(a)], dtype=object)
        out = _derivatives(arr, digits, dps, hessian)
        return replace(out, a=np.array([mpmath.mpf(x) for x in np.ravel(a)], dtype=object))


@contextmanager
def _arb_precision(prec: int) -> Iterator[None]:
    old = flint.ctx.prec
    flint.ctx.prec = prec
    try:
        yield
    finally:
        flint.ctx.prec = old


def _derivatives(a: np.ndarray, digits: int, dps: int | None, hessian: bool,
                 error: bool = True) -> LineDerivatives:
    n = len(a)
    exp = np.exp if dps is None else ARB_EXP
    coords = a.reshape(-1, 1)

    def integrand(y: np.ndarray) -> np.ndarray:
        score = score_integrands(y, coords, exp)
        if not hessian:
            return score
        return np.concatenate([score, hessian_integrands(y, a, exp)], axis=1)

    rule = line_rule(a, digits, None if dps is None else bits(dps))
    values, errors, absolute = expectation(integrand, rule, error)
    ns = 1 + 2 * n
    loss, g, _ = split_components(values[:ns], n, 1)
    loss_err, g_err, _ = split_components(errors[:ns], n, 1)
    _, g_abs, _ = split_components(absolute[:ns], n, 1)
    empty = np.zeros((0, 0), dtype=values.dtype)
    if hessian:
        hess, hess_perp = values[ns:ns + n * n].reshape(n, n), values[ns + n * n:].reshape(n, n)
        h_err, hp_err = errors[ns:ns + n * n].reshape(n, n), errors[ns + n * n:].reshape(n, n)
    else:
        hess = hess_perp = h_err = hp_err = empty
    return LineDerivatives(a, loss, g[:, 0], hess, hess_perp, loss_err, g_err[:, 0], h_err,
                           hp_err, g_abs[:, 0], dps)


@dataclass(frozen=True)
class CollinearGradient:
    """Loss and gradient (n, d) of collinear means in R^d (any line, any offset), mpf."""

    loss: mpmath.mpf
    grad: np.ndarray
    loss_error: mpmath.mpf
    grad_error: mpmath.mpf  # Euclidean norm over all n d components
    dps: int


def collinear_gradient(means: object, digits: int) -> CollinearGradient:
    """The loss and full gradient of collinear means (n, d; numbers, mpf or decimal strings) at
    `digits` digits: reduced to the line in the working precision
    (`verifiers.geometry.reduce_means`), integrated on it and lifted back (`Reduction.lift`),
    as `scoreclaims.verifiers.population` does in float64."""
    probe = np.array([[float(mpmath.mpf(x)) for x in row] for row in means])
    dps = working_dps(digits, probe)
    with mpmath.workdps(dps), _arb_precision(bits(dps)):
        m = np.array([[mpmath.mpf(x) for x in row] for row in means], dtype=object)
        red = reduce_means(m)
        if red.k != 1:
            raise ValueError(f"collinear_gradient needs means on one line (k = 1), got k = {red.k}")
        coords = np.vectorize(arb, otypes=[object])(red.coords)
        n = m.shape[0]
        values, errors, _ = expectation(lambda y: score_integrands(y, coords, ARB_EXP),
                                        line_rule(coords[:, 0], digits, bits(dps)))
        loss_u, g, gamma = split_components(values, n, 1)
        loss_e, g_e, gamma_e = split_components(errors, n, 1)
        perp_sq = red.perp @ red.perp
        grad = red.lift(g, gamma)
        err = mpmath.sqrt(mpmath.fsum(x * x for x in g_e.ravel()) + perp_sq
                          * mpmath.fsum(x * x for x in gamma_e))
        return CollinearGradient(loss_u + perp_sq, grad, loss_e, err, dps)
