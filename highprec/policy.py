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
import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from fractions import Fraction

import mpmath
import numpy as np
from mpmath.libmp import from_rational

from scoreclaims.verifiers.errors import UsageError
from scoreclaims.verifiers.geometry import reject_booleans

TARGET_DIGITS = 20  # correct digits required of loss, gradient and gradient differences
GUARD_DIGITS = 10
VERIFY_EXTRA = 10  # the repeat runs this many digits higher (at least; dps // 4 for large dps)
HANDOVER_SPREAD = 1e-6  # relative spread at which float64 resolves the means to ten digits
MIN_DPS = 30


MAX_EXACT_EXPONENT = 100_000  # decimal exponents beyond are not expanded into rationals
MAX_EXACT_BITS = 1_000_000  # binary exponents beyond are not expanded into rationals
_RATIO = re.compile(r"[+-]?\d+/\d+")  # the only strings that exact_value reads as Fraction


def to_mpf(x: object, name: str = "value") -> mpmath.mpf:
    """A finite mpf at the current precision (rounded to nearest) from a decimal string, int,
    float, Fraction or mpf; `reading_error` says how far it is from the number given."""
    try:
        v = mpmath.mpf(x.strip() if isinstance(x, str) else x)
    except (TypeError, ValueError):
        raise UsageError(f"{name}: not a number: {x!r}") from None
    if not mpmath.isfinite(v):
        raise UsageError(f"{name} contains NaN or infinite values")
    return v


def exact_value(x: object, name: str = "value") -> Fraction | None:
    """The exact rational value of a decimal string, int, float, Fraction or mpf (floats and
    mpf are binary fractions, decimals p / 10^e); None for a string whose decimal exponent
    exceeds MAX_EXACT_EXPONENT or that only mpmath reads (hexadecimal), and for an mpf whose
    binary exponent exceeds MAX_EXACT_BITS: `reading_error` then bounds its rounding instead.
    UsageError for what is not a finite number."""
    if isinstance(x, Fraction):
        return x
    if isinstance(x, int | np.integer) and not isinstance(x, bool):
        return Fraction(int(x))
    if isinstance(x, float | np.floating | mpmath.mpf):
        v = x if isinstance(x, mpmath.mpf) else to_mpf(x, name)  # floats: exact (dps >= 16)
        if not mpmath.isfinite(v):
            raise UsageError(f"{name} contains NaN or infinite values")
        if v and abs(int(v._mpf_[2])) > MAX_EXACT_BITS:
            return None  # 2^(7.6e23) for m_1 at R ~ 1e12 would not fit in memory
        return _binary_fraction(v)
    if isinstance(x, str):
        text = x.strip()
        try:
            dec = Decimal(text)
        except InvalidOperation:
            dec = None
        if dec is not None:
            if not dec.is_finite():
                raise UsageError(f"{name} contains NaN or infinite values")
            exponent = dec.as_tuple().exponent
            return None if abs(exponent) > MAX_EXACT_EXPONENT else Fraction(dec)
        if _RATIO.fullmatch(text):
            try:
                return Fraction(text)
            except ZeroDivisionError:
                pass
        # Decimal refuses exponents beyond about 1e18, and Fraction would expand them into a
        # power of ten that does not fit in memory: such a number is bounded, not expanded
        to_mpf(text, name)  # a number mpmath reads (or the UsageError)
        return None
    to_mpf(x, name)
    return None


def _binary_fraction(v: mpmath.mpf) -> Fraction:
    """The exact value of a finite mpf."""
    sign, man, exp, _ = v._mpf_
    value = Fraction(int(man)) * Fraction(2) ** int(exp)
    return -value if sign else value


def reading_error(values: object, m: np.ndarray) -> mpmath.mpf:
    """An upper bound (in fact the exact value, rounded up, where the inputs are rationals) of
    max |v - m| over the entries: how far the mpf array `m` read from `values` (numbers,
    decimal strings, Fractions) lies from the numbers given. Zero when every input is a binary
    number that fits the precision it was read at."""
    given = np.asarray(values, dtype=object).reshape(-1)
    worst = Fraction(0)
    loose = mpmath.mpf(0)
    for v, got in zip(given, m.reshape(-1), strict=True):
        exact = exact_value(v)
        if exact is None:  # rounded to nearest by mpmath: half an ulp, doubled for safety
            loose = max(loose, abs(got) * mpmath.ldexp(1, 1 - mpmath.mp.prec))
        else:
            worst = max(worst, abs(exact - _binary_fraction(got)))
    if worst == 0:
        return loose
    up = mpmath.mpf(from_rational(worst.numerator, worst.denominator, mpmath.mp.prec, "u"))
    return max(up, loose)


def as_mp_means(means: object, name: str = "means") -> np.ndarray:
    """Validate means (n >= 2 rows of d >= 1 numbers or decimal strings) as an object array of
    mpf at the current precision (decimal strings rounded: see `reading_error`)."""
    if isinstance(means, np.ndarray):
        rows = means.tolist()
    else:
        rows = means
    reject_booleans(rows, name)
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


def as_exact_means(means: object, name: str = "means") -> np.ndarray:
    """Validated means (as `as_mp_means`) as exact rationals (Fraction), which every finite
    decimal string, float, int and mpf is; mpf read at `input_dps` for the rare string that
    `exact_value` does not expand (the reader's `reading_error` then bounds it)."""
    with mpmath.workdps(input_dps(means)):
        approx = as_mp_means(means, name)
    given = np.asarray(means, dtype=object).reshape(approx.shape)
    out = np.empty(approx.shape, dtype=object)
    for idx, x in np.ndenumerate(given):
        exact = exact_value(x, name)
        out[idx] = approx[idx] if exact is None else exact
    return out


def as_mp_vector(values: object, d: int, name: str) -> np.ndarray:
    rows = as_mp_means([values, values], name)
    if rows.shape[1] != d:
        raise UsageError(f"{name} must be a list of d = {d} numbers")
    return rows[0]


def input_dps(values: object) -> int:
    """Digits at which to read `values` (at least MIN_DPS). A decimal string is in general not
    a binary number, so it is rounded wherever it is read: here GUARD_DIGITS below what
    `required_dps` resolves for the inputs at TARGET_DIGITS, i.e. their decimal span (from the
    largest magnitude to the finest digit of any string or rational) plus the target, twice the
    guard and the cubic size. An evaluation re-reads its inputs at its own precision and counts
    the rounding (`reading_error`). mpf values keep all their mantissa bits."""
    top = 0  # decimal exponents: 10^top above every magnitude, 10^low the finest digit
    low = 0
    longest = 0
    stack = [values]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            try:
                dec = Decimal(v.strip())
            except InvalidOperation:
                longest = max(longest, len(v) + 10)  # a form only mpmath reads
                continue
            if dec.is_finite() and dec != 0:
                exponent = max(dec.as_tuple().exponent, -MAX_EXACT_EXPONENT)
                top, low = max(top, dec.adjusted() + 1), min(low, exponent)
        elif isinstance(v, Fraction):
            if v != 0:
                top = max(top, math.ceil(math.log10(abs(v))) + 1)
                low = min(low, -math.ceil(math.log10(v.denominator)))
        elif isinstance(v, list | tuple | np.ndarray):
            stack.extend(list(v))
        elif isinstance(v, mpmath.mpf):
            longest = max(longest, int(v._mpf_[3] / 3.32) + 1)  # mantissa bits
            if v != 0 and mpmath.isfinite(v):
                top = max(top, int(mpmath.floor(mpmath.log10(abs(v)))) + 2)
    span = (top - low + TARGET_DIGITS + 2 * GUARD_DIGITS + 3 * top) if low < 0 else 0
    return max(MIN_DPS, longest + 10, span)


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
