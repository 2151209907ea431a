"""Numbers and the precision policy of `highprec`.

Means are object arrays of mpmath numbers. The working precision resolves the smallest distance
between two distinct means relative to the scale max(1, max_i |m_i|), plus the target digits,
plus guard digits for the cubic size of the integrands and for rounding accumulated along a run:

    dps = ceil(log10(scale / min_{i<j, m_i != m_j} |m_i - m_j|)) + digits + GUARD_DIGITS
          + ceil(3 log10 scale).

Every evaluation can be repeated at dps + VERIFY_EXTRA (`population.evaluate(verify=True)`); the
agreement in the loss, the gradient and the gradient differences (the part that moves the means
apart) is the verified number of digits, and an evaluation short of `digits` is flagged, never
silently returned. A trajectory hands over to float64 once the relative spread reaches
HANDOVER_SPREAD: float64 then resolves the differences to ten digits.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import mpmath
import numpy as np

from scoreclaims.verifiers.errors import UsageError

TARGET_DIGITS = 20  # correct digits required of loss, gradient and gradient differences
GUARD_DIGITS = 10
VERIFY_EXTRA = 10  # the repeat runs this many digits higher (at least; dps // 4 for large dps)
HANDOVER_SPREAD = 1e-6  # relative spread at which float64 resolves the means to ten digits
MIN_DPS = 30


def to_mpf(x: object, name: str = "value") -> mpmath.mpf:
    """A finite mpf at the current precision from a decimal string, int, float or mpf."""
    try:
        v = mpmath.mpf(x.strip() if isinstance(x, str) else x)
    except (TypeError, ValueError):
        raise UsageError(f"{name}: not a number: {x!r}") from None
    if not mpmath.isfinite(v):
        raise UsageError(f"{name} contains NaN or infinite values")
    return v


def as_mp_means(means: object, name: str = "means") -> np.ndarray:
    """Validate means (n >= 2 rows of d >= 1 numbers or decimal strings) as an object array of
    mpf at the current precision."""
    if isinstance(means, np.ndarray):
        rows = means.tolist()
    else:
        rows = means
    if not isinstance(rows, Iterable) or isinstance(rows, str | bytes):
        raise UsageError(f"{name} must be a list of n lists of d numbers")
    rows = [list(r) if isinstance(r, Iterable) and not isinstance(r, str) else None
            for r in rows]
    if any(r is None for r in rows) or not rows:
        raise UsageError(f"{name} must be a list of n lists of d numbers")
    d = len(rows[0])
    if d < 1 or any(len(r) != d for r in rows):
        raise UsageError(f"{name} must be a list of n lists of d numbers (ragged or empty rows)")
    if len(rows) < 2:
        raise UsageError(f"{name}: the student needs n >= 2 means, got n = {len(rows)}")
    out = np.empty((len(rows), d), dtype=object)
    for i, r in enumerate(rows):
        for j, x in enumerate(r):
            out[i, j] = to_mpf(x, name)
    return out


def as_mp_vector(values: object, d: int, name: str) -> np.ndarray:
    rows = as_mp_means([values, values], name)
    if rows.shape[1] != d:
        raise UsageError(f"{name} must be a list of d = {d} numbers")
    return rows[0]


def input_dps(values: object) -> int:
    """Digits needed to read the decimal strings in `values` without rounding (at least 30)."""
    longest = 0
    stack = [values]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            longest = max(longest, len(v))
        elif isinstance(v, list | tuple | np.ndarray):
            stack.extend(list(v))
        elif isinstance(v, mpmath.mpf):
            longest = max(longest, int(v._mpf_[3] / 3.32) + 1)  # mantissa bits
    return max(MIN_DPS, longest + 10)


def scale_of(m: np.ndarray) -> mpmath.mpf:
    return max(mpmath.mpf(1), *(abs(x) for x in m.reshape(-1)))


def min_distance(m: np.ndarray) -> mpmath.mpf | None:
    """Smallest Euclidean distance between two distinct means (None if all coincide)."""
    best = None
    n = m.shape[0]
    for i in range(n):
        for j in range(i + 1, n):
            dist = mpmath.sqrt(mpmath.fsum((a - b) ** 2 for a, b in zip(m[i], m[j], strict=True)))
            if dist > 0 and (best is None or dist < best):
                best = dist
    return best


def relative_spread(m: np.ndarray) -> mpmath.mpf | None:
    dist = min_distance(m)
    return None if dist is None else dist / scale_of(m)


def required_dps(m: np.ndarray, digits: int = TARGET_DIGITS) -> int:
    """The working precision for canonical means `m` (see the module docstring)."""
    with mpmath.workdps(max(mpmath.mp.dps, 30)):
        rel = relative_spread(m)
        scale = scale_of(m)
        resolve = 0 if rel is None else max(0, math.ceil(-float(mpmath.log10(rel))))
        size = math.ceil(3 * float(mpmath.log10(scale)))
    return max(MIN_DPS, resolve + digits + GUARD_DIGITS + size)


def verify_dps(dps: int) -> int:
    return dps + max(VERIFY_EXTRA, dps // 4)


def resolvable_in_float64(m: np.ndarray, threshold: float = HANDOVER_SPREAD) -> bool:
    """True when every pair of distinct means is at least `threshold` apart relative to the
    scale (and the means are within float64 range): float64 then resolves them."""
    rel = relative_spread(m)
    scale = scale_of(m)
    return rel is not None and rel >= threshold and scale < 1e100


def to_decimal(x: object, digits: int) -> str:
    """A decimal string with `digits` significant digits (floats: repr)."""
    if isinstance(x, float | np.floating | int | np.integer):
        return repr(float(x)) if not isinstance(x, int | np.integer) else str(int(x))
    return mpmath.nstr(x, digits, strip_zeros=False, min_fixed=-5, max_fixed=8)


def to_float_array(a: np.ndarray) -> np.ndarray:
    return np.array([[float(x) for x in row] for row in a], dtype=float)
