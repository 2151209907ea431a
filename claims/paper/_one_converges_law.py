"""The law of the one-converges regime (**(derived)** here; `docs/laws.md` has the derivation,
`_one_converges_reduced` and the tests check it against the engine and GD).

Canonical coordinates, truth at 0, GD step eta. One mean m_1 converges; the others escape. The
law is stated for a *cluster*: k far means at one point R e (k = 1 for n = 2 in any d). With
m_1 = 0 the cluster carries the total weight w_c(x) = sigma(R (x.e - R/2) + ln k), so

    L(R) = R^2 E[w_c^2] = R phi(R/2) A(R),
    A(R) = int sigma(s + ln k)^2 e^{-s/2} e^{-s^2/(2R^2)} ds

(x.e = R/2 + s/R: the Gaussian density varies over the sigmoid's width). Expanding the last factor
in 1/R^2 and using int sigma(s + a)^2 e^{-lam s} ds = e^{lam a} (1 - lam) pi / sin(pi lam):

    A(R) = sum_j a_j R^-2j,  a_j = (-1)^j F^(2j)(1/2) / (2^j j!),
    F(lam) = k^lam (1 - lam) pi / sin(pi lam),
    a_0 = sqrt(k) pi / 2,    a_1 / a_0 = -(ln^2 k - 4 ln k + pi^2) / 2   (k = 1: -pi^2/2).

Each far mean receives 1/k of -dL/dR (the outward force, per mean):

    G(R) = R^2 phi(R/2) / (4k) sum_j b_j R^-2j,   b_0 = a_0,  b_j = a_j + (8j - 12) a_{j-1},

so to leading order G = (pi / (8 sqrt k)) R^2 phi(R/2). The converging mean sits on the slow
manifold grad_{m_1} L = 0 (it relaxes at rate 2 eta per step, the far means on time scales
exp(R^2/8)), at

    |m_1| = (phi(R/2)/2) [R^2 J0 + 2 J1 - 2 I1]
          = (pi sqrt(k) / 16) R^2 phi(R/2) (1 - (4 + pi^2/2) / R^2 + ...)   (k = 1)

(J0, J1, I1: moments of sigma^2 (1 - sigma) and sigma (1 - sigma), same expansion). Its own share
of the loss, m_1^2, and its feedback on G are relative O(R^3 phi(R/2)): beyond all orders in 1/R^2.

Integrating dR/dtau = eta G(R) (Laplace's method, g = h/S' - g'/S' with S' = R/4):

    eta tau = 16 k sqrt(2 pi) e^{R^2/8} R^-3 sum_j gamma_j R^-2j + const,
    beta = the series of 1/B, gamma_0 = beta_0 = 1/b_0, gamma_j = beta_j + 4 (2j + 1) gamma_{j-1},

i.e. e^{R^2/8} = eta tau pi R^3 / (32 sqrt(2 pi) sqrt(k)) (1 - (16 - a_1/a_0)/R^2 ...), and

    L eta tau = 16 k / R^2 (1 + 16 / R^2 + O(R^-4))              (a_1 cancels)
    R^2 = 8 ln(eta tau / sqrt k) + 12 ln R^2 + 8 ln(pi / (32 sqrt(2 pi))) + O(1/R^2)
    L eta tau ln tau -> 2 k,    |m_1| eta tau R -> 2 k.

The limit is 2 per far mean: a cluster of k means and k far means in separate directions give the
same 2k. Which configurations this covers (`docs/laws.md`): n = 2 in any d (R = |m_2|); d = 1 with
the far means on both sides (one cluster per side: each escapes by its own law, the sides interact
through weights ~ exp(-R R'/2), and the constants add); d = 1 on one side once the far means have
merged into a cluster (the inner mean is pushed harder, the outer one is frozen until the inner
arrives: the spread Delta shrinks like dDelta/dR = -2 tanh(Delta R / 4)); d >= 2 far means whose
directions differ by an angle theta with R tan(theta/2) >> 1 (independent) or coincide (a cluster).
Not covered: far means at small non-zero angles (R tan(theta/2) ~ 1), a crossover the derivation
does not resolve.

All the functions below take plain floats (mpmath numbers where the magnitudes leave float64).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import mpmath

LIMIT_PER_FAR_MEAN = 2.0  # lim L eta tau ln tau per escaping mean (derived)
ESCAPE_CONSTANT = math.pi / (32.0 * math.sqrt(2.0 * math.pi))  # C in e^{R^2/8} = C eta tau R^3
DIGITS = 30
MIN_RADIUS = 4.0  # the asymptotic series are used above this radius only (every factor > 0)


def _beta_loss(lam: mpmath.mpf, k: int) -> mpmath.mpf:
    """int sigma(s + ln k)^2 e^{-lam s} ds."""
    return mpmath.mpf(k) ** lam * (1 - lam) * mpmath.pi / mpmath.sin(mpmath.pi * lam)


def _beta_cubic(lam: mpmath.mpf, k: int) -> mpmath.mpf:
    """int sigma(s + ln k)^2 (1 - sigma(s + ln k)) e^{-lam s} ds."""
    return mpmath.mpf(k) ** lam * lam * (1 - lam) * mpmath.pi / (2 * mpmath.sin(mpmath.pi * lam))


def _beta_mixed(lam: mpmath.mpf, k: int) -> mpmath.mpf:
    """int sigma(s + ln k) (1 - sigma(s + ln k)) e^{-lam s} ds."""
    return mpmath.mpf(k) ** lam * mpmath.pi * lam / mpmath.sin(mpmath.pi * lam)


def _series(fun, k: int, order: int, odd: bool = False) -> tuple[float, ...]:
    """(-1)^j F^(2j [+1])(1/2) / (2^j j!) for j = 0..order: the coefficients of R^-2j after
    expanding e^{-s^2/(2R^2)} (each power s^m is (-d/dlam)^m of the Laplace transform)."""
    with mpmath.workdps(DIGITS):
        half = mpmath.mpf(1) / 2
        out = []
        for j in range(order + 1):
            m = 2 * j + (1 if odd else 0)
            der = mpmath.diff(lambda lam: fun(lam, k), half, m)
            out.append(float((-1) ** (j + (1 if odd else 0)) * der
                             / (2**j * mpmath.factorial(j))))
        return tuple(out)


def _polyval(coeffs: tuple[float, ...], inv_r2):
    return sum(c * inv_r2**j for j, c in enumerate(coeffs))


def _phi_half(r):
    """phi(R/2), the N(0, 1) density at R/2 (mpmath for mpmath input)."""
    if isinstance(r, mpmath.mpf):
        return mpmath.exp(-r * r / 8) / mpmath.sqrt(2 * mpmath.pi)
    return math.exp(-r * r / 8.0) / math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class ClusterLaw:
    """The law of k coincident far means (k = 1: one far mean), to `order` terms in 1/R^2 beyond
    the leading one (0: leading order only)."""

    k: int = 1
    order: int = 1

    # -- coefficients ------------------------------------------------------------------------
    @cached_property
    def a(self) -> tuple[float, ...]:
        """A(R) = sum a_j R^-2j (the loss factor)."""
        return _series(_beta_loss, self.k, self.order)

    @cached_property
    def b(self) -> tuple[float, ...]:
        """sum b_j R^-2j: the force's factor, b_j = a_j + (8j - 12) a_{j-1}."""
        a = self.a
        return tuple([a[0]] + [a[j] + (8 * j - 12) * a[j - 1] for j in range(1, len(a))])

    @cached_property
    def c(self) -> tuple[float, ...]:
        """|m_1| = (phi(R/2)/2) R^2 sum c_j R^-2j (the slow manifold)."""
        p = _series(_beta_cubic, self.k, self.order)
        p1 = _series(_beta_cubic, self.k, self.order, odd=True)
        q = _series(_beta_mixed, self.k, self.order)
        return tuple([p[0]] + [p[j] + 2 * p1[j - 1] - 2 * q[j - 1]
                               for j in range(1, self.order + 1)])

    @cached_property
    def gamma(self) -> tuple[float, ...]:
        """eta tau = 16 k sqrt(2 pi) e^{R^2/8} R^-3 sum gamma_j R^-2j (+ const)."""
        b = self.b
        beta = [1.0 / b[0]]  # the series of 1 / sum b_j x^j
        for j in range(1, len(b)):
            beta.append(-sum(b[i] * beta[j - i] for i in range(1, j + 1)) / b[0])
        g = [beta[0]]
        for j in range(1, len(b)):
            g.append(beta[j] + 4 * (2 * j + 1) * g[j - 1])
        return tuple(g)

    # -- the law in R --------------------------------------------------------------------------
    def loss(self, r):
        """L(R) = R phi(R/2) A(R) (m_1 on its slow manifold; relative O(R^3 phi) neglected)."""
        return r * _phi_half(r) * _polyval(self.a, 1 / (r * r))

    def force(self, r):
        """The outward force per far mean, -grad_R L / k (dR/dtau = eta force)."""
        return r * r * _phi_half(r) / (4 * self.k) * _polyval(self.b, 1 / (r * r))

    def converging_distance(self, r):
        """|m_1| on the slow manifold (pointing towards the cluster)."""
        return _phi_half(r) / 2 * r * r * _polyval(self.c, 1 / (r * r))

    def log_clock(self, r) -> float:
        """ln(eta tau) of the law's clock at R (the integral of 1/force up to its constant):
        ln(16 k sqrt(2 pi)) + R^2/8 - 3 ln R + ln(sum gamma_j R^-2j)."""
        r = mpmath.mpf(r)
        return float(mpmath.log(16 * self.k * mpmath.sqrt(2 * mpmath.pi)) + r * r / 8
                     - 3 * mpmath.log(r) + mpmath.log(_polyval(self.gamma, 1 / (r * r))))

    def radius(self, log_eta_tau: float) -> float:
        """R with log_clock(R) = ln(eta tau) (the law's escape R(tau), its constant set to 0).
        The series are asymptotic: R is sought above MIN_RADIUS, where every factor is positive
        (ValueError below the clock there)."""
        lo, hi = MIN_RADIUS, max(2 * MIN_RADIUS, 4.0 * math.sqrt(max(log_eta_tau, 1.0)))
        if self.log_clock(lo) > log_eta_tau:
            raise ValueError(f"ln(eta tau) = {log_eta_tau:.4g} lies below the law's range "
                             f"(R >= {MIN_RADIUS:g})")
        while self.log_clock(hi) < log_eta_tau:
            hi *= 2
        for _ in range(200):
            mid = (lo + hi) / 2
            if self.log_clock(mid) < log_eta_tau:
                lo = mid
            else:
                hi = mid
            if hi - lo <= 1e-15 * hi:
                break
        return (lo + hi) / 2

    # -- the law in tau ------------------------------------------------------------------------
    def log_loss_at(self, log10_tau: float, eta: float) -> float:
        """ln L at tau = 10^log10_tau (the clock's constant set to 0: valid for tau much larger
        than the start's offset)."""
        r = mpmath.mpf(self.radius(log10_tau * math.log(10) + math.log(eta)))
        return float(mpmath.log(self.loss(r)))

    def constant_at_radius(self, r, eta: float) -> float:
        """L eta tau ln tau on the law at radius R: L(R) eta tau(R) = 16 k A Gamma / R^2 (the
        Gaussian factors cancel exactly) times ln tau(R) (computed without exponentials, so it
        holds at any R)."""
        with mpmath.workdps(DIGITS + 2 * max(0, int(math.log10(max(float(r), 1.0))))):
            r = mpmath.mpf(r)
            inv = 1 / (r * r)
            ln_tau = (mpmath.log(16 * self.k * mpmath.sqrt(2 * mpmath.pi)) + r * r / 8
                      - 3 * mpmath.log(r) + mpmath.log(_polyval(self.gamma, inv))
                      - mpmath.log(eta))
            return float(16 * self.k * _polyval(self.a, inv) * _polyval(self.gamma, inv)
                         * inv * ln_tau)

    def constant_at(self, log10_tau: float, eta: float) -> float:
        """L eta tau ln tau on the law at tau = 10^log10_tau; tends to 2k."""
        return self.constant_at_radius(self.radius(log10_tau * math.log(10) + math.log(eta)),
                                       eta)

    def local_exponent_at(self, log10_tau: float, eta: float, h: float = 1e-3) -> float:
        """-d ln L / d ln tau on the law (central difference in log10 tau)."""
        up = self.log_loss_at(log10_tau + h, eta)
        down = self.log_loss_at(log10_tau - h, eta)
        return -(up - down) / (2 * h * math.log(10))

    def turnaround(self, eps: float, eta: float) -> float:
        """log10 tau where the law's local exponent falls to 1 + eps (L tau^(1+eps) has its
        minimum there and grows without bound after it: the local exponent tends to 1 like
        1 + 1/ln tau)."""
        lo = (self.log_clock(2 * MIN_RADIUS) - math.log(eta)) / math.log(10)
        hi = lo + 1
        while self.local_exponent_at(hi, eta) > 1 + eps:
            lo, hi = hi, hi * 2
            if hi > 1e8:
                raise ValueError("no turnaround below 10^1e8")
        for _ in range(60):
            mid = (lo + hi) / 2
            if self.local_exponent_at(mid, eta) > 1 + eps:
                lo = mid
            else:
                hi = mid
        return (lo + hi) / 2

    def flow(self, r0: float, steps: float, eta: float) -> float:
        """R after `steps` GD steps of the law's own dynamics dR/dtau = eta force(R) from r0
        (the truncated series integrated exactly: the law as a dynamics, no clock constant)."""
        target = mpmath.mpf(steps) * eta

        def elapsed(r1: float) -> mpmath.mpf:
            return mpmath.quad(lambda r: 1 / self.force(r), [mpmath.mpf(r0), mpmath.mpf(r1)])

        lo, hi = r0, r0 + 1.0
        with mpmath.workdps(20):
            while elapsed(hi) < target:
                lo, hi = hi, hi + (hi - r0)
            for _ in range(60):
                mid = (lo + hi) / 2
                if elapsed(mid) < target:
                    lo = mid
                else:
                    hi = mid
                if hi - lo <= 1e-13 * hi:
                    break
        return (lo + hi) / 2


def law_constant(far_means: int) -> float:
    """lim L eta tau ln tau with `far_means` escaping means (any covered configuration)."""
    return LIMIT_PER_FAR_MEAN * far_means


def leading_expansion(log_eta_tau: float, k: int = 1) -> dict[str, float]:
    """The explicit leading terms at ln(eta tau): R^2 from the fixed point of
    R^2 = 8 ln(eta tau / sqrt k) + 12 ln R^2 + 8 ln C, and L eta tau = 16 k / R^2 (1 + 16/R^2)."""
    base = 8 * (log_eta_tau - 0.5 * math.log(k)) + 8 * math.log(ESCAPE_CONSTANT)
    r2 = max(8 * log_eta_tau, 1.0)
    for _ in range(100):
        r2 = base + 12 * math.log(r2)
    return {"R2": r2, "L_eta_tau": 16 * k / r2 * (1 + 16 / r2)}
