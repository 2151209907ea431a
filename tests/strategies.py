"""Hypothesis strategies for student configurations (canonical coordinates)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

# On a 1e-9 grid: no subnormal-scale coordinates, whose loss (~|m|^2) underflows float64.
finite = st.floats(-1.0, 1.0, allow_nan=False, allow_infinity=False).map(lambda x: round(x, 9))


@st.composite
def unit_vector(draw: st.DrawFn, d: int) -> np.ndarray:
    v = np.array(draw(st.lists(finite, min_size=d, max_size=d)))
    if np.linalg.norm(v) < 1e-3:
        v = np.eye(d)[0]
    return v / np.linalg.norm(v)


@st.composite
def collinear_means(draw: st.DrawFn, max_n: int = 8, max_d: int = 5, max_norm: float = 30.0,
                    clustered: bool | None = None) -> np.ndarray:
    """k = 1 configurations: m_i = c + a_i u with |m_i| <= max_norm. Separated (gaps up to
    2 max_norm) or clustered (spread 1e-9 to 1e-3 around one point)."""
    n = draw(st.integers(2, max_n))
    d = draw(st.integers(1, max_d))
    u = draw(unit_vector(d))
    c = np.array(draw(st.lists(finite, min_size=d, max_size=d))) * draw(st.floats(0, max_norm / 2))
    c -= (c @ u) * u
    if clustered if clustered is not None else draw(st.booleans()):
        centre = draw(st.floats(-max_norm / 2, max_norm / 2))
        spread = 10 ** draw(st.floats(-9, -3))
        jitter = np.array(draw(st.lists(st.floats(-0.4, 0.4), min_size=n, max_size=n)))
        a = centre + spread * (np.linspace(-1, 1, n) + jitter / n)  # spread within [1.2, 2]
    else:
        half = np.sqrt(max(max_norm**2 - c @ c, 0.0)) * 0.999
        # positions on a 1e-6 grid: no subnormal-scale means whose loss underflows float64
        a = np.round(np.array(draw(st.lists(st.floats(-half, half), min_size=n, max_size=n))), 6)
    if np.ptp(a) == 0:
        a[0] += 1.0
    return c + a[:, None] * u


@st.composite
def general_means(draw: st.DrawFn, n: int | None = None, d: int | None = None,
                  scale: float = 3.0) -> np.ndarray:
    """n in 2..4, d in 1..3, three draws in four collinear (k = 1), the rest general with
    k <= 2 (a separated k = 3 evaluation takes seconds, too slow to draw by the dozen)."""
    n = n or draw(st.integers(2, 4))
    d = d or draw(st.integers(1, 3 if n <= 3 else 2))
    if draw(st.integers(0, 3)) > 0:  # mostly k = 1 (collinear), which is cheap
        u = draw(unit_vector(d))
        c = np.array(draw(st.lists(finite, min_size=d, max_size=d))) * scale
        a = np.array(draw(st.lists(finite, min_size=n, max_size=n))) * scale
        return c - (c @ u) * u + a[:, None] * u
    vals = draw(st.lists(finite, min_size=n * d, max_size=n * d))
    return np.array(vals).reshape(n, d) * scale
