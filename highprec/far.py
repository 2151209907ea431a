"""Certified enclosures (arb balls) of the loss and gradient for means on a line (d = 1) that are
far apart: softmax weights and gradients far below any floating-point range (exp(-1e12),
exp(-1e23)), where `highprec.certified.enclose` (one integral over [-Y, Y] with tails bounded by
w_j <= 1) cannot resolve them.

Each component is a sum of terms  T = int G(y) h(y) dy  with a log-concave weight G and a factor h
of polynomial size (PAPER.md sec. 1, formulation of `scoreclaims.verifiers.formulation`, d = k = 1):

    grad_j L = int w_j phi * 2 (u + s_j (y - p_j)),    L = sum_l int w_l phi * p_l u,

with u = sum_m w_m p_m, s_j = sum_m w_m (p_j - p_m) u, phi the N(0, 1) density. For the term of
mean l, G = w_l phi = phi / S_l with S_l(y) = sum_m exp((p_m - p_l)(y - (p_l + p_m)/2)).
(derived) log S_l is a log-sum-exp of affine functions, hence convex, so log G'' <= -1: for ANY
point y0 and a = (log G)'(y0) = p_l - u(y0) - y0,

    G(y) <= G(y0) exp(a t - t^2/2),   t = y - y0,

a rigorous Gaussian envelope. y0 is put at the mode (bisection of y + u(y) = p_l, increasing in
y), where the mass of the term sits: at y ~ p_l - p_1 (weight ~ exp(-(p_l - p_1) p_1)) while the
closest mean p_1 is still far, at the softmax crossing y ~ (p_1 + p_l)/2 (weight
~ exp(-(p_l - p_1)^2/8), width ~ 2/|p_l - p_1|) once it is near the truth. The term is
G(y0) (J + E) with

    J = int_{y0-Z}^{y0+Z} [S_l(y0)/S_l(y)] exp(-(y - y0)(y + y0)/2) h(y) dy

enclosed by `acb.integral` on pieces graded geometrically around y0 (scale sigma = (1 +
Var_w(p)(y0))^-1/2, the width of the peak), and the tails |t| > Z bounded through the envelope
and |h| <= A + B|y| (|u| <= P, |s_j| <= 2P^2, P = max|p_m|):

    |E| <= 2 [(A + B|y0|) I0 + B I1],  I0 = e^{a^2/2} sqrt(pi/2) erfc((Z - a)/sqrt 2),
                                       I1 = e^{aZ - Z^2/2} + a I0      (a -> |a|).

Every exponential is formed around the term's centre: with C[m][k] = logit_m(y0) - logit_k(y0)
(points), logit_m(y0 + t) - logit_k(y0 + t) = (p_m - p_k) t + C[m][k], normalised by the mean k
leading at the ball's centre, and the Gaussian's variation is folded into the same linear
coefficient: a ball t of radius r costs a relative radius ~ r |p_m - p_k| (the true variation),
never r |p_m| (the raw logits y p_m - p_m^2/2 of `formulation.softmax_weights` would lose
e^{r |p|} at |p| ~ 1e12, and a complex exp ball of large modulus and wide phase would put 0 in
the softmax denominator). For that reason the integrand is written here rather than taken from
`verifiers.formulation`; the tests check it against `formulation.score_integrands` point by point
and the enclosures against `scoreclaims.highprec.certified.enclose` where both apply.

Limitation: a term whose factor h nearly vanishes at the mode of G while its mass sits elsewhere
(a mean exactly at the truth, whose u is 0 there, next to far means) is enclosed only to an
absolute radius ~ G(y0) A e^{-Z^2/2}; `Enclosure.certified` then says False.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import flint
import mpmath
import numpy as np
from flint import acb, arb

from scoreclaims.highprec.certified import Enclosure
from scoreclaims.highprec.policy import as_mp_means, input_dps, reading_error
from scoreclaims.verifiers.errors import UsageError

DEFAULT_DIGITS = 25
MAX_PASSES = 4
Z_MIN = 8.0


@dataclass(frozen=True)
class Term:
    """One term int G h: its mode y0, peak width sigma, log10 of G(y0) and the enclosure."""

    mean: int
    y0: mpmath.mpf
    sigma: mpmath.mpf
    log10_weight: float
    value: arb


def _exact_arb(x: mpmath.mpf) -> arb:
    out = arb(x)
    if not out.rad() == 0:
        raise ValueError("the working precision cannot hold the means exactly")
    return out


class _Line:
    """Means p (n,) on a line: weights, u and s_j on arb/acb balls and on mpf points."""

    def __init__(self, p: list[mpmath.mpf]) -> None:
        self.p_mp = p
        self.n = len(p)
        self.p = [_exact_arb(x) for x in p]
        self.big = max(abs(x) for x in p)

    # ball arithmetic (acb) around a centre y0 ------------------------------------------------
    def centred(self, y0: arb) -> _Centred:
        return _Centred(self, y0)

    def factor(self, component: str, j: int, y: acb, w: list, u: object) -> object:
        """h of the term: 2 (u + s_j (y - p_j)) for the gradient of mean j, p_j u for its
        share of the loss."""
        if component == "loss":
            return self.p[j] * u
        gap = sum((wm * (self.p[j] - pm) for wm, pm in zip(w, self.p, strict=True)), acb(0))
        return 2 * (u + gap * u * (y - self.p[j]))

    def bounds(self, component: str) -> tuple[arb, arb]:
        """(A, B) with |h(y)| <= A + B |y| on the real line."""
        big = arb(self.big)
        if component == "loss":
            return big * big, arb(0)
        return 2 * big + 4 * big**3, 4 * big * big

    # point arithmetic (mpf) for the mode ----------------------------------------------------
    def weights_mp(self, y: mpmath.mpf) -> list[mpmath.mpf]:
        out = []
        for i in range(self.n):
            s = mpmath.mpf(1)
            for m in range(self.n):
                if m != i:
                    s += mpmath.exp((self.p_mp[m] - self.p_mp[i])
                                    * (y - (self.p_mp[i] + self.p_mp[m]) / 2))
            out.append(1 / s)
        return out

    def mode(self, j: int) -> tuple[mpmath.mpf, mpmath.mpf]:
        """The maximiser y0 of w_j phi (root of y + u(y) = p_j) and the peak width sigma."""
        lo = self.p_mp[j] - max(self.p_mp)
        hi = self.p_mp[j] - min(self.p_mp)
        if hi - lo == 0:
            hi = lo + 1
        span = hi - lo
        for _ in range(mpmath.mp.prec + int(mpmath.log(span + 1, 2)) + 8):  # F is increasing
            mid = (lo + hi) / 2
            if mid in (lo, hi):  # the working precision is exhausted
                break
            w = self.weights_mp(mid)
            u = mpmath.fsum(a * b for a, b in zip(w, self.p_mp, strict=True))
            if mid + u - self.p_mp[j] > 0:
                hi = mid
            else:
                lo = mid
        y0 = (lo + hi) / 2
        w = self.weights_mp(y0)
        u = mpmath.fsum(a * b for a, b in zip(w, self.p_mp, strict=True))
        var = mpmath.fsum(a * (b - u) ** 2 for a, b in zip(w, self.p_mp, strict=True))
        return y0, 1 / mpmath.sqrt(1 + var)


class _Centred:
    """Weights at y = y0 + t for balls t, from constants computed once at the point y0.

    With C[m][k] = logit_m(y0) - logit_k(y0) = (p_m - p_k)(y0 - (p_m + p_k)/2) (points),
    logit_m(y) - logit_k(y) = (p_m - p_k) t + C[m][k]: a ball t of radius r gives the exponent a
    radius r |p_m - p_k|, the true variation, and no large constant is ever exponentiated with
    a radius. k is the leading mean at the ball's centre (every exponent <= 0 there), so the
    normaliser D_k = sum_m exp(...) stays away from 0 except across a crossing (a complex exp
    ball with a wide phase and a large modulus would contain 0 and make every weight NaN).
    """

    def __init__(self, line: _Line, y0: arb) -> None:
        self.line = line
        self.y0 = y0
        n, p = line.n, line.p
        self.c = [[(p[m] - p[k]) * (y0 - (p[m] + p[k]) / 2) for k in range(n)] for m in range(n)]
        self.k0, self.d0, _, self.w0, self.u0 = self.parts(acb(0))

    def leader(self, t: acb) -> int:
        tm = t.real.mid()
        p = self.line.p
        return max(range(self.line.n),
                   key=lambda m: float(((p[m] - p[0]) * tm + self.c[m][0]).mid()))

    def parts(self, t: acb) -> tuple[int, acb, list, list, acb]:
        """(k, D_k, e, w, u) at y0 + t: e_m = exp(logit_m - logit_k), w_m = e_m / D_k,
        u = sum_m w_m p_m."""
        line = self.line
        k = self.leader(t)
        e = [acb(1) if m == k else ((line.p[m] - line.p[k]) * t + self.c[m][k]).exp()
             for m in range(line.n)]
        den = sum(e, acb(0))
        w = [x / den for x in e]
        u = sum((wm * pm for wm, pm in zip(w, line.p, strict=True)), acb(0))
        return k, den, e, w, u

    def ratio(self, j: int, t: acb) -> tuple[acb, list, acb]:
        """(G_j(y0 + t) / G_j(y0), w, u) with G_j = w_j phi: the exponent
        (p_j - p_k - y0) t - t^2/2 + C[k0][k] is formed with its linear coefficient first, so
        the weight's and the Gaussian's variations cancel in the coefficient, not in balls."""
        line = self.line
        k, den, _, w, u = self.parts(t)
        x = (line.p[j] - line.p[k] - self.y0) * t - t * t / 2 + self.c[self.k0][k]
        return x.exp() * self.d0 / den, w, u


def _tail(a: arb, z: arb, big_a: arb, big_b: arb, y0: arb) -> arb:
    """Bound of int_{|t| > Z} exp(|a||t| - t^2/2) (A + B(|y0| + |t|)) dt."""
    a = abs(a)
    a = arb(a.upper())
    i0 = (a * a / 2).exp() * (arb.pi() / 2).sqrt() * ((z - a) / arb(2).sqrt()).erfc()
    i1 = (a * z - z * z / 2).exp() + a * i0
    return 2 * ((big_a + big_b * abs(y0)) * i0 + big_b * i1)


def _pieces(sigma: float, z: float) -> list[float]:
    """Offsets from y0: 0, +-sigma 4^k below z, and +-z."""
    steps = []
    s = sigma
    while s < z:
        steps.append(s)
        s *= 4
    steps.append(z)
    return [-x for x in reversed(steps)] + [0.0] + steps


def _term(line: _Line, component: str, j: int, bits: int) -> Term:
    y0_mp, sigma_mp = line.mode(j)
    y0 = _exact_arb(y0_mp)
    frame = line.centred(y0)
    w0, u0 = frame.w0, frame.u0
    wj0 = w0[j].real
    g0 = wj0 * (-(y0 * y0) / 2).exp() / (2 * arb.pi()).sqrt()  # G(y0) = w_j(y0) phi(y0)
    a = line.p[j] - u0.real - y0  # (log G)'(y0)
    big_a, big_b = line.bounds(component)
    h0 = abs(line.factor(component, j, acb(y0), w0, u0).real)
    sigma = float(sigma_mp)
    scale = max(float(h0.mid()), 1e-300) * sigma
    # Z from a first estimate: tail (A + B|y0|) e^{-Z^2/2} below 2^-bits of the expected J.
    size = (float(((big_a + big_b * abs(y0) + 1).log()).mid()) - math.log(scale)
            + bits * math.log(2))
    z = max(Z_MIN, math.sqrt(2 * max(size, 1.0)) + 2 * abs(float(a.mid())) + 1.0)
    tol = arb(2) ** (-bits) * arb(scale)
    ay0 = acb(y0)

    def integrand(t: acb, _analytic: bool) -> acb:
        ratio, w, u = frame.ratio(j, t)
        return ratio * line.factor(component, j, ay0 + t, w, u)

    best = None
    for _ in range(MAX_PASSES):
        pts = _pieces(sigma, z)
        total = arb(0)
        for lo, hi in zip(pts[:-1], pts[1:], strict=True):
            part = acb.integral(integrand, arb(lo), arb(hi), abs_tol=tol / len(pts),
                                rel_tol=arb(2) ** (-bits), eval_limit=10**6)
            total += part.real
        total += arb(0, _tail(a, arb(z), big_a, big_b, y0).upper())
        if best is None or total.rad() < best.rad():
            best = total
        mid = abs(total.mid())
        if total.rad() <= mid * arb(2) ** (-bits):
            break
        if mid > total.rad():
            tol = mid * arb(2) ** (-bits - 4)
        else:  # no magnitude yet (cancellation inside the term): ask for far more
            tol = total.rad() * arb(2) ** (-bits)
        z = z + 4.0
    value = g0 * best
    log10_weight = float((g0.log() / arb(10).log()).mid())
    return Term(j, y0_mp, sigma_mp, log10_weight, value)


@dataclass(frozen=True)
class FarEnclosure:
    """`enclosure` as in `highprec.certified`, plus every term (modes, widths, log10 of the
    weight G(y0), which is where the tiny magnitudes live). The balls are built on exact means:
    a decimal string that is no binary number is read at the working precision (60 + 3 log2
    of the scale bits beyond the target, which covers the cubic sensitivity of the terms), and
    `rounding` records that distance, which the balls do not include (0 for floats, mpf,
    binary decimals: give those to certify the numbers themselves)."""

    enclosure: Enclosure
    terms: tuple[Term, ...]
    rounding: mpmath.mpf = mpmath.mpf(0)  # how far the means enclosed are from those given

    def radial_sign(self, i: int, means: np.ndarray) -> int:
        """+1 when the gradient of mean i certainly points away from the truth (GD then moves
        the mean toward the truth: it contracts), -1 when it certainly points toward it (GD
        moves the mean away), 0 when undecided."""
        g = self.enclosure.grad[i, 0]
        p = mpmath.mpf(means[i][0]) if not isinstance(means[i][0], mpmath.mpf) else means[i][0]
        if p == 0 or not (g > 0 or g < 0):
            return 0
        return 1 if (g > 0) == (p > 0) else -1


def enclose_far(means: object, digits: int = DEFAULT_DIGITS) -> FarEnclosure:
    """Balls for the loss and the gradient (n x 1) of canonical means on a line (d = 1; numbers,
    decimal strings or mpf), each aiming at relative radius 10^-digits, whatever the magnitude."""
    with mpmath.workdps(max(mpmath.mp.dps, input_dps(means))):
        m = as_mp_means(means)
        if m.shape[1] != 1:
            raise UsageError("far enclosures need means on a line given as d = 1 coordinates")
        p = [mpmath.mpf(x) for x in m[:, 0]]
    scale = max(1.0, *(abs(float(x)) for x in p))
    bits = int(digits * 3.33) + 8
    prec = bits + 60 + int(3 * math.log2(scale))
    prec = max(prec, max(int(x._mpf_[3]) for x in p) + 64)  # bit counts: the means fit exactly
    with mpmath.workprec(prec):  # decimal strings read at the working precision, not at 30 digits
        read = as_mp_means(means)
        p = [mpmath.mpf(x) for x in read[:, 0]]
        rounding = reading_error(means, read)
    old = flint.ctx.prec
    flint.ctx.prec = prec
    try:
        with mpmath.workprec(prec):
            line = _Line([+x for x in p])
            n = line.n
            grad_terms = [_term(line, "grad", j, bits) for j in range(n)]
            loss_terms = [_term(line, "loss", j, bits) for j in range(n)]
            loss = sum((t.value for t in loss_terms), arb(0))
            grad = np.array([[t.value] for t in grad_terms], dtype=object)
            target = arb(10) ** (-digits)
            ok = all(x.rad() <= abs(x.mid()) * target for x in [loss, *grad.reshape(-1)])
            return FarEnclosure(Enclosure(loss, grad, prec, digits, bool(ok)),
                                tuple(grad_terms + loss_terms), rounding)
    finally:
        flint.ctx.prec = old
