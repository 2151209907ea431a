"""Coordinates: data space (means, truth, noise level t) <-> canonical m, and the reduction of m
to the span of the mean differences, where every population expectation actually lives.

Canonical coordinates (PAPER.md sec. 1): m_i = e^{-t} (mu_tilde_i - mu_tilde_star), x ~ N(0, I_d).
Reduction: with S = span{m_i - m_j} (dimension k <= min(d, n-1)), orthonormal basis Q (d x k),
every m_i = Q p_i + c_perp with one common c_perp orthogonal to S. The softmax weights depend on x
only through y = Q^T x ~ N(0, I_k), so the d-dimensional problem is the k-dimensional problem with
means p_i plus the constant offset c_perp.
"""

from __future__ import annotations

from dataclasses import dataclass

import mpmath
import numpy as np

from scoreclaims.verifiers.errors import UsageError

# The float64 engine's range: the gradient integrands grow like |m|^3 (s_j <= 2 |m|^2 times
# |y - m_j|), about 4e300 at |m| = 1e100, and |c_perp|^2 enters the loss. Inputs beyond are
# refused (the arbitrary-precision engine, highprec, has no such limit); canonical means
# e^{-t} (mu - truth) then stay within 2 * FLOAT64_RANGE.
FLOAT64_RANGE = 1e100


def _check_range(arr: np.ndarray, name: str) -> None:
    big = float(np.max(np.abs(arr))) if arr.size else 0.0
    if big > FLOAT64_RANGE:
        raise UsageError(f"{name}: |{big:g}| is outside the float64 engine's range (at most "
                         f"{FLOAT64_RANGE:g}: its integrands grow like |m|^3); use the "
                         f"arbitrary-precision engine (--dps)")


def reject_booleans(values: object, name: str) -> None:
    """A usage error if `values` (nested lists) holds a boolean: JSON's true and false are
    numbers to numpy, never to a user who typed them."""
    stack = [values]
    while stack:
        v = stack.pop()
        if isinstance(v, bool | np.bool_):
            raise UsageError(f"{name} must hold numbers, not booleans (got {v!r})")
        if isinstance(v, list | tuple):
            stack.extend(v)


def as_means(means: object, *, name: str = "means") -> np.ndarray:
    """Validate user means: a rectangular (n, d) array of finite floats with n >= 2, d >= 1,
    within FLOAT64_RANGE."""
    reject_booleans(means, name)
    try:
        arr = np.asarray(means, dtype=float)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{name} must be a list of n lists of d numbers") from exc
    if arr.ndim != 2 or arr.shape[1] < 1:
        raise UsageError(f"{name} must be a list of n lists of d numbers, got shape {arr.shape}")
    if arr.shape[0] < 2:
        raise UsageError(f"{name}: the student needs n >= 2 means, got n = {arr.shape[0]}")
    if not np.all(np.isfinite(arr)):
        raise UsageError(f"{name} contain NaN or infinite values")
    _check_range(arr, name)
    return arr


def as_truth(truth: object | None, d: int) -> np.ndarray:
    """Validate the truth mean (defaults to the origin) against the dimension d of the means."""
    if truth is None:
        return np.zeros(d)
    reject_booleans(truth, "truth")
    try:
        arr = np.asarray(truth, dtype=float)
    except (TypeError, ValueError) as exc:
        raise UsageError("truth must be a list of d numbers") from exc
    if arr.ndim != 1 or arr.shape[0] != d:
        raise UsageError(f"truth must be a list of d = {d} numbers, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise UsageError("truth contains NaN or infinite values")
    _check_range(arr, "truth")
    return arr


def as_noise_level(t: float) -> float:
    t = float(t)
    if not np.isfinite(t) or t < 0:
        raise UsageError(f"noise level t must be a finite number >= 0, got {t}")
    return t


def to_canonical(means: np.ndarray, truth: np.ndarray, t: float) -> np.ndarray:
    return np.exp(-t) * (means - truth)


def from_canonical(m: np.ndarray, truth: np.ndarray, t: float) -> np.ndarray:
    return truth + np.exp(t) * m


@dataclass(frozen=True)
class Reduction:
    basis: np.ndarray  # Q, (d, k), orthonormal columns spanning the mean differences
    coords: np.ndarray  # P, (n, k), coordinates of the means in that basis
    perp: np.ndarray  # c_perp, (d,), the component every mean shares outside the span
    perp_rounding: float = 0.0  # bound on the float64 error of perp (0 when k = d: perp is 0)

    @property
    def k(self) -> int:
        return self.coords.shape[1]

    def lift(self, grad_span: np.ndarray, grad_perp: np.ndarray) -> np.ndarray:
        """Gradient in R^d from its span part (n, k) and the coefficient (n,) of c_perp."""
        return grad_span @ self.basis.T + np.outer(grad_perp, self.perp)


_EPS = float(np.finfo(float).eps)
_ONE = np.ones((1, 1))
_ZERO = np.zeros(1)
_EMPTY_1D = np.zeros((1, 0))
for _a in (_ONE, _ZERO, _EMPTY_1D):
    _a.flags.writeable = False


def _gram_schmidt(diffs: np.ndarray, tol: object) -> np.ndarray:
    """Orthonormal basis (d, k) of the rows of an object array of mpmath numbers: Gram-Schmidt
    with pivoting on the largest remaining row (projected twice); rows below `tol` are dropped."""
    import mpmath

    rest = [row.copy() for row in diffs]
    basis: list[np.ndarray] = []
    while rest:
        norms = [mpmath.sqrt(mpmath.fsum(x * x for x in row)) for row in rest]
        top = max(range(len(rest)), key=lambda i: norms[i])
        if norms[top] <= tol:
            break
        q = rest.pop(top) / norms[top]
        basis.append(q)
        for _ in range(2):
            rest = [row - mpmath.fsum(a * b for a, b in zip(row, q, strict=True)) * q
                    for row in rest]
    return np.array(basis, dtype=object).T.reshape(diffs.shape[1], len(basis))


def reduce_means(m: np.ndarray, rank_tol: float | None = None) -> Reduction:
    """Orthonormal basis of span{m_i - m_0} by SVD; singular values below rank_tol * max|m_i|
    (differences the float64 coordinates cannot resolve) are dropped. An object array of
    mpmath numbers (`highprec`) is reduced in its own precision, by Gram-Schmidt; `rank_tol`
    defaults to 64 units of roundoff of the number type."""
    n, d = m.shape
    exact = m.dtype == object
    if d == 1 and not exact:  # the GD hot path: the line itself, or one point
        if m.max() == m.min():
            return Reduction(basis=_EMPTY_1D, coords=m[:, :0], perp=m[0].copy())
        return Reduction(basis=_ONE, coords=m, perp=_ZERO)
    diffs = m[1:] - m[0]
    unit = mpmath.mp.eps if exact else _EPS
    if rank_tol is None:
        rank_tol = 64 * unit
    scale = np.max(np.abs(m)) if exact else max(float(np.max(np.abs(m))), 1e-300)
    spread = 1.0  # float64: 1 + sigma_1 / sigma_k of the kept span
    if not np.any(diffs):
        basis = np.zeros((d, 0))
    elif d == 1:
        basis = np.ones((1, 1))
    elif exact:
        basis = _gram_schmidt(diffs, rank_tol * scale)
    else:
        _, sing, vt = np.linalg.svd(diffs, full_matrices=False)
        k = int(np.sum(sing > rank_tol * scale))
        basis = vt[:k].T.copy()
        spread = 1.0 + (float(sing[0] / sing[k - 1]) if k else 0.0)
    coords = m @ basis
    if basis.shape[1] == d:  # the span is all of R^d: no offset (not rounding noise posing as one)
        return Reduction(basis=basis, coords=coords, perp=np.zeros(d))
    # c_perp is every mean's residual off the span: take the one nearest the origin, which
    # carries the least rounding (none for a mean at the origin, where a far-tail gradient of
    # 1e-100 would otherwise drown in eps * max|m_i|).
    if exact:
        j = min(range(n), key=lambda i: mpmath.fsum(x * x for x in m[i]))
        return Reduction(basis=basis, coords=coords, perp=m[j] - coords[j] @ basis.T,
                         perp_rounding=float(16 * d * unit * scale))
    size = np.max(np.abs(m), axis=1)
    j = int(np.argmin(size))
    # rounding of the residual and of the span's direction (angle <~ eps sigma_1 / sigma_k);
    # spreads off the span below the rank cut are the inputs' own rounding, as for k
    rounding = 16 * d * unit * np.sqrt(d) * float(size[j]) * spread
    return Reduction(basis=basis, coords=coords, perp=m[j] - coords[j] @ basis.T,
                     perp_rounding=float(rounding))
