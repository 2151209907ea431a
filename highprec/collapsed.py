"""Near-collapsed configurations evolved by the linearised GD map (derived), for the stretch of a
run where the relative spread is too small for float64 and the span of the mean differences has
dimension k >= 2, where the arbitrary-precision engine (a k-dimensional Gauss-Hermite tensor rule
on mpmath numbers) runs at ~1 step/s (measured 0.6 steps/s for n = 5, d = 3 under load 8).

With m_i = c + f_i, c the centroid, one GD step of step eta is (`claims.paper._low_noise_theory`)

    c   <- (1 - 2 eta/n) c + O(|f|^2),
    f_i <- f_i + (4 eta/n)(c.f_i) c + O(|f|^2),

so while |f| / max(1, |c|) stays below HANDOVER_SPREAD (1e-6) the deviations it produces carry
a relative error of a few times that at the hand-over, where it is largest: far below what
decides which means converge (the phase boundary resolves 12% in delta). Checked against the
arbitrary-precision engine (tests/test_low_noise_theory.py): the hand-over state to 2.5e-5 for
n = 3, M0 = 6 (k = 1), and single steps at a 1e-25 spread to 1e-12 for k = 2, where the
perpendicular deviations do not move. The deviations are kept as float64 numbers apart from the
centroid, so spreads down to 1e-300 stay exact; only at the hand-over are they added to c.
"""

from __future__ import annotations

import mpmath
import numpy as np

from scoreclaims.highprec.policy import HANDOVER_SPREAD, as_mp_means, input_dps


def split(means: object) -> tuple[np.ndarray, np.ndarray]:
    """(c (d,), f (n, d)) as float64, the deviations f_i = m_i - c computed at the precision of
    the input (decimal strings or mpf), so they keep their relative accuracy."""
    with mpmath.workdps(input_dps(means)):
        m = as_mp_means(means)
        c = np.mean(m, axis=0)
        f = m - c
        return (np.array([float(x) for x in c]),
                np.array([[float(x) for x in row] for row in f]))


def relative_spread(c: np.ndarray, f: np.ndarray) -> float:
    """Smallest distance between two means relative to max(1, largest |m_i|)."""
    n = len(f)
    gaps = [np.linalg.norm(f[i] - f[j]) for i in range(n) for j in range(i + 1, n)]
    scale = max(1.0, float(np.max(np.linalg.norm(c + f, axis=1))))
    return min(gaps) / scale


def linear_phase(means: object, eta: float, until: float = HANDOVER_SPREAD,
                 max_steps: int = 1_000_000, stop_radius: float = 0.0
                 ) -> tuple[np.ndarray, np.ndarray, int]:
    """Apply the linearised map from canonical `means` until the relative spread reaches `until`,
    the centroid comes within `stop_radius` of the truth (the spread then stays unresolved: the
    amplification is spent), or `max_steps`; returns (c, f, steps taken)."""
    c, f = split(means)
    n = len(f)
    a, q = 4.0 * eta / n, 1.0 - 2.0 * eta / n
    steps = 0
    while (steps < max_steps and relative_spread(c, f) < until
           and float(np.linalg.norm(c)) > stop_radius):
        f = f + a * np.outer(f @ c, c)
        c = q * c
        steps += 1
    return c, f, steps
