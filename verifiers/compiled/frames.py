"""The reduced frame of the means for a compiled evaluation (JAX): `geometry.reduce_means` and
`population.align` where their outcome is certain.

Three frames, chosen by the plan (`plans`):
- "line" (d = 1): the line itself; k = 1 unless all means coincide (k = 0, the engine's closed
  form: refused).
- "full" (k = d): the rule's basis R, coordinates m @ R: the engine's SVD basis aligned to R
  (orthogonal Procrustes) is R up to rounding whatever the SVD returned. Certified: the
  smallest singular value of the differences clears the engine's rank threshold twice over.
- "span" (k = n - 1 < d, every difference independent: n = 2 in d >= 2, n = 3 in d = 3): an
  orthonormal basis Q of the differences (Gram-Schmidt, twice), aligned to the rule's basis R
  as the engine aligns its own: Q polar(Q^T R) (the polar factor by Newton's iteration; the
  result does not depend on which basis of the span Q is), the sign of a line's basis as
  `population.collinear_cubature` flips it; the common offset c_perp and its rounding bound as
  `reduce_means` computes them. Certified as "full", on the n - 1 differences.
Frames the engine reaches otherwise (collinear or coplanar clouds of more means, rounding-level
singular values) are not compiled.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

EPS = float(np.finfo(float).eps)
RANK_TOL = 64 * EPS  # geometry.reduce_means
QR_ERR = 10 * EPS  # per row and column: backward error of Householder QR (generous)
POLAR_STEPS = 6


class Frame(NamedTuple):
    """Coordinates (n, k), basis (d, k) (None on the line), offset c_perp (d,) with |c_perp|^2
    and its rounding bound (None / 0 unless "span"), and whether the engine surely reduces the
    means to this frame."""

    coords: Any
    basis: Any
    perp: Any
    perp_sq: Any
    perp_rounding: Any
    ok: Any


def frame(kind: str, m: Any, rule_basis: Any, jnp: Any) -> Frame:
    if kind == "line":
        p = m[:, 0]
        return Frame(m, None, None, 0.0, 0.0, jnp.max(p) > jnp.min(p))
    if kind == "full":
        return Frame(m @ rule_basis, rule_basis, None, 0.0, 0.0, _independent(m, jnp))
    n, d = m.shape
    q = _span_basis(m[1:] - m[0], jnp)
    if n == 2:
        basis = q * jnp.where(q[:, 0] @ rule_basis[:, 0] < 0, -1.0, 1.0)
        ok = _independent(m, jnp)
    else:
        rot, orthogonal = _polar(q.T @ rule_basis, jnp)
        basis = q @ rot
        ok = _independent(m, jnp) & orthogonal
    coords = m @ basis
    perp = jnp.mean(m - coords @ basis.T, axis=0)
    scale = jnp.maximum(jnp.max(jnp.abs(m)), 1e-300)
    return Frame(coords, basis, perp, perp @ perp, 16 * d * EPS * scale, ok)


def _span_basis(diffs: Any, jnp: Any) -> Any:
    """Orthonormal basis (d, r) of the rows of diffs (r, d), r <= 2: Gram-Schmidt, twice."""
    first = diffs[0] / jnp.sqrt(diffs[0] @ diffs[0])
    columns = [first]
    if len(diffs) == 2:
        second = diffs[1]
        for _ in range(2):
            second = second - (first @ second) * first
        columns.append(second / jnp.sqrt(second @ second))
    return jnp.stack(columns, axis=1)


def _polar(mat: Any, jnp: Any) -> tuple[Any, Any]:
    """The orthogonal polar factor of a nonsingular 2 x 2 matrix (Newton: X <- (X + X^-T) / 2)
    and whether it came out orthogonal to rounding."""
    x = mat
    for _ in range(POLAR_STEPS):
        det = x[0, 0] * x[1, 1] - x[0, 1] * x[1, 0]
        inv_t = jnp.array([[x[1, 1], -x[1, 0]], [-x[0, 1], x[0, 0]]]) / det
        x = 0.5 * (x + inv_t)
    off = x.T @ x - jnp.eye(2)
    return x, jnp.all(jnp.abs(off) <= 1e-14) & jnp.all(jnp.isfinite(x))


def _independent(m: Any, jnp: Any) -> Any:
    """Does `geometry.reduce_means` surely keep min(d, n - 1) axes: is the smallest singular
    value of A = m[1:] - m[0] (computed as the engine computes it) above the rank threshold
    64 eps max|m| twice over, with room for LAPACK's error in the engine's SVD? A lower bound:
    Householder QR of A (or of A^T when it is wide) gives the exact R of a matrix within
    QR_ERR d n |A|_F, and sigma_min(R) >= 1 / |R^-1|_F, bounded from above entry by entry (no
    cancellation)."""
    n, d = m.shape
    a = m[1:] - m[0]
    if a.shape[0] < a.shape[1]:
        a = a.T
    width = a.shape[1]
    r = _householder_r(a, jnp)
    diag = jnp.abs(jnp.diagonal(r))
    inv_sq = _inverse_frobenius_sq(r, diag, width, jnp) * (1 + 1e-10)
    err = QR_ERR * d * n * jnp.sqrt(jnp.sum(a * a))
    lower = jnp.where(jnp.min(diag) > 0, 1 / jnp.sqrt(jnp.where(inv_sq > 0, inv_sq, 1.0)), 0.0)
    need = 2 * (RANK_TOL * jnp.max(jnp.abs(m)) + err)
    return lower - err > need


def _householder_r(a: Any, jnp: Any) -> Any:
    """The triangular factor (c, c) of the QR factorisation of a (r, c), r >= c."""
    c = a.shape[1]
    for j in range(c):
        x = a[j:, j]
        alpha = -jnp.where(x[0] < 0, -1.0, 1.0) * jnp.sqrt(jnp.sum(x * x))
        v = x.at[0].add(-alpha)
        vtv = jnp.sum(v * v)
        block = a[j:, j:]
        scale = jnp.where(vtv > 0, 2 / jnp.where(vtv > 0, vtv, 1.0), 0.0)
        a = a.at[j:, j:].set(block - scale * v[:, None] * (v @ block)[None, :])
    return a[:c]


def _inverse_frobenius_sq(r: Any, diag: Any, c: int, jnp: Any) -> Any:
    """An upper bound of |R^-1|_F^2 for upper triangular r (c <= 3), |r_ii| = diag > 0: the
    entries of the inverse bounded through absolute values."""
    safe = jnp.where(diag > 0, diag, 1.0)
    total = jnp.sum(1 / safe**2)
    for i in range(c - 1):
        total += (r[i, i + 1] / (safe[i] * safe[i + 1])) ** 2
    if c == 3:
        corner = (jnp.abs(r[0, 1] * r[1, 2]) + jnp.abs(r[0, 2] * r[1, 1])) / (
            safe[0] * safe[1] * safe[2])
        total += corner**2
    return total
