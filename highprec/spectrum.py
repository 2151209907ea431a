"""Eigenvalues of the Hessian at collinear means through the origin, with error bars, its exact
zero modes named, and the index, in any dimension d.

At m_i = a_i e_1 the Hessian of L (n d x n d) is block diagonal (`highprec.hessian`): the
along-line block H once and the transverse block Hperp once per transverse direction (d - 1
copies). Hperp has exact null vectors (**derived**):

* rotation: a itself, at a stationary point (Hperp a = grad, so only there); rotating every mean
  about the origin is a symmetry of L, one zero mode per transverse direction;
* splitting: e_k - e_j for two coincident means (a_k = a_j): their rows of Hperp coincide
  (equal weights and c_k = c_j), so pulling them apart off the line costs nothing at second
  order. Not a symmetry: a degenerate direction, where the Hessian decides nothing.

Hperp is diagonalised on the orthogonal complement of these vectors; their residuals
|Hperp v| / |v| are reported. Eigenvalue error bars are Weyl's bound |delta lambda| <= |E|_F,
E the entrywise error estimates of the Hessian (plus the working precision's rounding).
"""

from __future__ import annotations

from dataclasses import dataclass

import mpmath
import numpy as np

RESOLVE_MARGIN = 10.0  # an eigenvalue counts as resolved when |lambda| > this times its error bar


@dataclass(frozen=True)
class NullMode:
    kind: str  # "rotation" or "splitting"
    vector: list[float]
    residual: mpmath.mpf  # |Hperp v| / |v|


@dataclass(frozen=True)
class Spectrum:
    """`along`: eigenvalues of H (ascending); `transverse`: of Hperp on the complement of the
    null modes; error bars `along_error`, `transverse_error`."""

    along: list[mpmath.mpf]
    along_vectors: list[list[mpmath.mpf]]
    along_error: mpmath.mpf
    transverse: list[mpmath.mpf]
    transverse_vectors: list[list[mpmath.mpf]]  # in the n mean coordinates
    transverse_error: mpmath.mpf
    null_modes: list[NullMode]

    def resolved(self) -> bool:
        """Every eigenvalue away from zero by more than RESOLVE_MARGIN error bars."""
        return (all(abs(x) > RESOLVE_MARGIN * self.along_error for x in self.along)
                and all(abs(x) > RESOLVE_MARGIN * self.transverse_error
                        for x in self.transverse))

    def index(self, d: int) -> int:
        """Negative eigenvalues of the full n d x n d Hessian."""
        neg_t = sum(1 for x in self.transverse if x < 0)
        return sum(1 for x in self.along if x < 0) + (d - 1) * neg_t

    def zero_modes(self, d: int) -> dict[str, int]:
        """Exact zero modes of the full Hessian by kind."""
        out = {"rotation": 0, "splitting": 0}
        for mode in self.null_modes:
            out[mode.kind] += d - 1
        return out

    def eigenvalues(self, d: int) -> list[mpmath.mpf]:
        """All n d eigenvalues (the null modes as exact zeros), ascending."""
        zeros = [mpmath.mpf(0)] * ((d - 1) * len(self.null_modes))
        return sorted(list(self.along) + list(self.transverse) * (d - 1) + zeros)


def _frobenius(err: np.ndarray) -> mpmath.mpf:
    return mpmath.sqrt(mpmath.fsum(mpmath.mpf(x) ** 2 for x in np.ravel(err)))


def null_vectors(a: np.ndarray) -> list[tuple[str, list]]:
    """The derived null vectors of Hperp at a stationary point with coordinates a."""
    n = len(a)
    out: list[tuple[str, list]] = []
    if any(x != 0 for x in a):
        out.append(("rotation", [mpmath.mpf(x) for x in a]))
    groups: dict[object, list[int]] = {}
    for i, x in enumerate(a):
        groups.setdefault(x, []).append(i)
    for members in groups.values():
        for j in members[1:]:
            v = [mpmath.mpf(0)] * n
            v[members[0]], v[j] = mpmath.mpf(1), mpmath.mpf(-1)
            out.append(("splitting", v))
    return out


def _complement(vectors: list[list], n: int) -> mpmath.matrix:
    """Orthonormal basis (n x (n - r)) of the orthogonal complement of `vectors` (independent)."""
    basis: list[mpmath.matrix] = []
    for v in [mpmath.matrix(v) for v in vectors] + [mpmath.eye(n)[:, i] for i in range(n)]:
        w = v.copy()
        for _ in range(2):
            for b in basis:
                w -= (b.T * w)[0] * b
        if mpmath.norm(w) > mpmath.mpf(10) ** (-mpmath.mp.dps // 2):
            basis.append(w / mpmath.norm(w))
    rest = basis[len(vectors):]
    out = mpmath.matrix(n, len(rest))
    for j, b in enumerate(rest):
        for i in range(n):
            out[i, j] = b[i]
    return out


def spectrum(a: np.ndarray, hess: np.ndarray, hess_error: np.ndarray, hess_perp: np.ndarray,
             hess_perp_error: np.ndarray) -> Spectrum:
    """Eigen-analysis at the current mpmath precision (set it to the Hessian's)."""
    n = len(a)
    rounding = mpmath.mpf(10) ** (5 - mpmath.mp.dps)
    h = mpmath.matrix([[mpmath.mpf(x) for x in row] for row in hess])
    lam, vec = mpmath.eigsy(h)
    along = [lam[i] for i in range(n)]
    along_vectors = [[vec[r, i] for r in range(n)] for i in range(n)]
    along_err = _frobenius(hess_error) + rounding * max(1, mpmath.mnorm(h, "F"))
    hp = mpmath.matrix([[mpmath.mpf(x) for x in row] for row in hess_perp])
    nulls = null_vectors(a)
    modes = []
    for kind, v in nulls:
        mv = mpmath.matrix(v)
        modes.append(NullMode(kind, [float(x) for x in v], mpmath.norm(hp * mv) / mpmath.norm(mv)))
    q = _complement([v for _, v in nulls], n)
    trans_err = _frobenius(hess_perp_error) + rounding * max(1, mpmath.mnorm(hp, "F"))
    if q.cols:
        lt, vt = mpmath.eigsy(q.T * hp * q)
        full = q * vt
        transverse = [lt[i] for i in range(q.cols)]
        transverse_vectors = [[full[r, i] for r in range(n)] for i in range(q.cols)]
    else:
        transverse, transverse_vectors = [], []
    order = sorted(range(len(along)), key=lambda i: along[i])
    t_order = sorted(range(len(transverse)), key=lambda i: transverse[i])
    return Spectrum([along[i] for i in order], [along_vectors[i] for i in order], along_err,
                    [transverse[i] for i in t_order], [transverse_vectors[i] for i in t_order],
                    trans_err, modes)
