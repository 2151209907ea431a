"""Closed forms of the low-noise regime shared by T3.2, L3.3, T3.4 and the phase boundary.

Canonical coordinates (PAPER.md sec. 1): truth at the origin, x ~ N(0, I_d). Write the means as
m_i = c + f_i with c their centroid (sum_i f_i = 0) and z = x - c. The logits differ from a common
term by z.f_i - |f_i|^2/2, so w_i = 1/n + (1/n) z.f_i + O(f^2) and (derived; checked against the
arbitrary-precision engine in tests/test_low_noise_theory.py)

    L = |c|^2 - (2/n) sum_i (c.f_i)^2 + O(|f|^3),
    grad_{m_i} L = (2/n) c - (4/n)(c.f_i) c + O(|f|^2).

So near a collapsed configuration one GD step (step eta) maps c -> (1 - 2 eta/n) c (PAPER.md's
derived factor; the summary reports 1 - eta/n) and f_i -> f_i + (4 eta/n)(c.f_i) c: the component
of each deviation along c grows by 1 + (4 eta/n)|c|^2, the perpendicular components are neutral.
Along c_tau = M0 (1 - 2 eta/n)^tau the total linear amplification is the product of those factors
(`log10_amplification`), which tends to exp(M0^2) (`log10_flow_amplification`) as eta -> 0.
"""

from __future__ import annotations

import math

import mpmath

# Reported constants of Thm 3.2 and Thm 3.4 (PAPER.md): parameters, not buried literals.
T32_EXPONENT = 106.0  # every |mu_i(0)| <= exp(-106 n d M0^3) / (108 n d)
T32_DIVISOR = 108.0
T34_SCALE = 100.0  # eps_0 = exp(-M0 / 100)


def log_t32_bound(n: int, d: int, big_m: float, exponent: float = T32_EXPONENT,
                  divisor: float = T32_DIVISOR) -> float:
    """Natural log of T3.2's radius exp(-106 n d M0^3) / (108 n d) (reported)."""
    return -exponent * n * d * big_m**3 - math.log(divisor * n * d)


def t32_bound(n: int, d: int, big_m: float, exponent: float = T32_EXPONENT,
              divisor: float = T32_DIVISOR) -> mpmath.mpf:
    """T3.2's radius as an mpf at the current precision (it underflows float64 for M0 >~ 1.4)."""
    return mpmath.exp(-mpmath.mpf(exponent) * n * d * mpmath.mpf(big_m) ** 3) / (divisor * n * d)


def t34_gap(big_m: float, scale: float = T34_SCALE) -> float:
    """T3.4's initial gap eps_0 = exp(-M0 / 100) (reported)."""
    return math.exp(-big_m / scale)


def large_noise_radius(n: int) -> float:
    """T2.1's hypothesis t > log n + log M + 2 in canonical coordinates (derived): every
    |m_i| = e^-t |mu_i - truth| < e^-2 / n."""
    return math.exp(-2.0) / n


def centroid_factor(eta: float, n: int) -> float:
    """The derived contraction of the centroid per GD step near collapse: 1 - 2 eta / n."""
    return 1.0 - 2.0 * eta / n


def reported_factor(eta: float, n: int) -> float:
    """The factor the summary reports for L3.3's reference point: 1 - eta / n."""
    return 1.0 - eta / n


def collapse_steps(big_m: float, radius: float, eta: float, n: int) -> int:
    """Steps for a collapsed configuration at distance M0 to come within `radius` of the truth."""
    if big_m <= radius:
        return 0
    return math.ceil(math.log(big_m / radius) / -math.log(centroid_factor(eta, n)))


def amplification_factors(big_m: float, eta: float, n: int, steps: int) -> list[float]:
    """log10 of the cumulative linear amplification prod_{t < tau} (1 + (4 eta/n) c_t^2) along
    c_t = M0 (1 - 2 eta/n)^t, for tau = 0..steps."""
    a, q2 = 4.0 * eta / n, centroid_factor(eta, n) ** 2
    out, total, x = [0.0], 0.0, a * big_m**2
    for _ in range(steps):
        total += math.log1p(x) / math.log(10.0)
        out.append(total)
        x *= q2
    return out


def log10_amplification(big_m: float, eta: float, n: int, until: float = 0.0) -> float:
    """log10 prod_t (1 + (4 eta/n) c_t^2) over the steps with c_t > `until` (all steps by
    default; the factors fall geometrically, the sum stops once they are below 1e-17)."""
    a, q2 = 4.0 * eta / n, centroid_factor(eta, n) ** 2
    total, c2 = 0.0, big_m**2
    while c2 > until**2 and a * c2 > 1e-17:
        total += math.log1p(a * c2)
        c2 *= q2
    return total / math.log(10.0)


def log10_flow_amplification(big_m: float) -> float:
    """The gradient-flow limit (eta -> 0) of `log10_amplification`: log10 exp(M0^2)."""
    return big_m**2 / math.log(10.0)
