"""Certified enclosures (python-flint arb balls) of the loss and gradient for collinear means.

For k <= 1 the expectation is one-dimensional: each component of
`scoreclaims.verifiers.formulation.score_integrands` (evaluated on complex balls, acb, so that
`acb.integral` can bound the Gauss-Legendre error rigorously; the integrand is meromorphic and its
poles, where the softmax denominator vanishes off the real axis, give non-finite balls that force
subdivision) times the Gaussian density is integrated over [-Y, Y], and the tails beyond Y are
bounded by the explicit bounds (w_j <= 1, |u|, |p_j| <= P, |s_j| <= 2 P^2):

    |u|^2 <= P^2,   |g_j| <= 2P + 4P^3 + 4P^2 |y|,   |gamma_j| <= 2 + 4P^2,
    int_{|y|>Y} phi = erfc(Y / sqrt 2),   int_{|y|>Y} |y| phi = 2 phi(Y),

computed in arb and added as a ball [0 +/- tail]. The cut-off Y and the absolute tolerance are set
per component from its magnitude (a first pass finds it), so components far below float64's range
(exp(-1e6)) get enclosures narrow relative to themselves, and their sign is certified.

Rigour covers the integral for the reduced means; the reduction must be exact in arb: d = 1, or
means along a coordinate axis (otherwise a UsageError: rotate the problem to d = 1 first). Means
given as decimal strings (or Fractions) are in general not binary numbers: they are read at the
arb precision and every coordinate becomes a ball of radius its reading error (`radius` adds a
caller's own bound), so the enclosures hold for the numbers as given.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import flint
import mpmath
import numpy as np
from flint import acb, arb

from scoreclaims.highprec.policy import as_mp_means, exact_value, input_dps, reading_error
from scoreclaims.verifiers.errors import UsageError
from scoreclaims.verifiers.formulation import n_components, score_integrands, split_components
from scoreclaims.verifiers.geometry import Reduction, reduce_means

ACB_EXP = np.frompyfunc(lambda z: z.exp(), 1, 1)
DEFAULT_DIGITS = 25
SIGN_DIGITS = 2  # relative radius 1e-2 settles a sign with room to spare
MAX_PASSES = 12  # a component near exp(-1e6) needs ~8 passes (its tolerance squares)


def _to_mpf(x: arb) -> mpmath.mpf:
    man, exp = x.mid().man_exp()
    return mpmath.mpf((int(man), int(exp)))


@dataclass(frozen=True)
class Enclosure:
    """Balls containing the loss and each gradient component (n, d object array of arb), for
    the canonical means given; `certified`: every ball has relative radius <= 10^-digits."""

    loss: arb
    grad: np.ndarray
    prec: int
    digits: int
    certified: bool

    def midpoints(self) -> tuple[mpmath.mpf, np.ndarray]:
        grad = np.array([[_to_mpf(x) for x in row] for row in self.grad], dtype=object)
        return _to_mpf(self.loss), grad

    def radii(self) -> tuple[mpmath.mpf, mpmath.mpf, mpmath.mpf]:
        """(loss, gradient norm, gradient differences norm) upper bounds of the radii."""
        rad = [_to_mpf(x.rad()) for x in self.grad.reshape(-1)]
        norm = mpmath.sqrt(mpmath.fsum(r * r for r in rad))
        return _to_mpf(self.loss.rad()), norm, 2 * norm

    def sign(self, i: int, j: int) -> int:
        """+1 / -1 if the gradient component (i, j) is certified positive / negative, else 0."""
        return _sign(self.grad[i, j])


def _sign(x: arb) -> int:
    if x > 0:
        return 1
    if x < 0:
        return -1
    return 0


def _exact_reduction(m: np.ndarray) -> Reduction:
    """The mpmath reduction, checked to reproduce every mean exactly in arb (k <= 1)."""
    red = reduce_means(m)
    if red.k > 1:
        raise UsageError(f"certified enclosures need collinear means (k <= 1), got k = {red.k}")
    to_arb = np.frompyfunc(lambda x: arb(x), 1, 1)
    basis = to_arb(np.asarray(red.basis, dtype=object))
    coords = to_arb(red.coords)
    perp = to_arb(red.perp)
    rebuilt = coords @ basis.T + perp if red.k else np.tile(perp, (m.shape[0], 1))
    gram = basis.T @ basis
    exact = all((a - arb(x)).is_zero() for a, x in zip(rebuilt.reshape(-1), m.reshape(-1),
                                                        strict=True))
    exact = exact and all((gram[i, i] - 1).is_zero() for i in range(red.k))
    exact = exact and all((p @ basis[:, 0]).is_zero() for p in [perp]) if red.k else exact
    if not exact:
        raise UsageError("certified enclosures need d = 1 or means along a coordinate axis "
                         "(the reduction must be exact); rotate the problem to d = 1 first")
    return Reduction(basis=basis, coords=coords, perp=perp)


def _unknown(n: int, d: int, only: int | None, red: Reduction
             ) -> tuple[arb | None, np.ndarray, int, bool, np.ndarray]:
    """`_enclose`'s answer when the means are known too roughly for any integral: balls of
    infinite radius, not certified."""
    whole = arb(0, math.inf)
    grad = np.array([[whole if only is None or r == only else None for _ in range(d)]
                     for r in range(n)], dtype=object)
    means = (red.coords @ red.basis.T + red.perp if red.k else np.tile(red.perp, (n, 1)))
    return (None if only is not None else whole), grad, flint.ctx.prec, False, means


def _check_columns(means: object, m: np.ndarray) -> None:
    """A coordinate that reads the same for every mean must be the same number for every mean
    (else the rounding made distinct means look collinear along an axis)."""
    given = np.asarray(means, dtype=object).reshape(m.shape)
    for col in range(m.shape[1]):
        if all(x == m[0, col] for x in m[:, col]):
            exact = {exact_value(x) for x in given[:, col]}
            if len(exact) > 1 and None not in exact:
                raise UsageError("certified enclosures need collinear means: coordinate "
                                 f"{col} differs between means below the working precision")


def _widened(red: Reduction, rad: arb) -> Reduction:
    """The exact reduction with every coordinate and offset a ball of radius `rad` more: with
    an axis for basis (d = 1 or axis-aligned means), a coordinate of a mean off by rad moves
    its p_i or c_perp by rad at most."""
    def widen(x: arb) -> arb:
        return x + arb(0, rad)

    grow = np.frompyfunc(widen, 1, 1)
    return Reduction(basis=red.basis, coords=grow(red.coords), perp=grow(red.perp))


def _tail_coefficients(red: Reduction) -> list[tuple[arb, arb]]:
    """(A_c, B_c) with |f_c(y)| <= A_c + B_c |y| for every component c."""
    n, k = red.coords.shape
    big = max((abs(x) for x in red.coords.reshape(-1)), key=lambda b: b.upper().mid())
    big = arb(big.upper())
    zero = arb(0)
    loss = [(big * big, zero)]
    g = [(2 * big + 4 * big**3, 4 * big * big)] * (n * k)
    gamma = [(2 + 4 * big * big, zero)] * n
    return loss + g + gamma


def _cutoff(a: arb, b: arb, abs_tol: arb) -> arb:
    """Y with A erfc(Y/sqrt2) + 2 B phi(Y) roughly below abs_tol / 4 (the bound itself is
    computed rigorously afterwards)."""
    size = float((a + b + 1).log().mid()) - float((abs_tol / 4).log().mid())
    y = math.sqrt(2 * max(size, 1.0)) + 1.0
    return arb(max(8.0, math.ceil(y)))


def _tail(a: arb, b: arb, y: arb) -> arb:
    phi = (-(y * y) / 2).exp() / (2 * arb.pi()).sqrt()
    bound = a * (y / arb(2).sqrt()).erfc() + 2 * b * phi
    return arb(0, bound.upper())


def _components(func: Callable, tails: list[tuple[arb, arb]], bits: int,
                which: Sequence[int] | None = None) -> list[arb | None]:
    """The Gaussian expectations of the components `which` (default: all; the others stay None),
    each with relative radius 2^-bits when the passes allow it. Components still open in a pass
    share its cut-off, so their subdivisions (and `func`'s cached values) coincide."""
    ncomp = len(tails)
    abs_tol = [arb(2) ** (-bits)] * ncomp
    best: list[arb | None] = [None] * ncomp
    todo = list(range(ncomp)) if which is None else sorted(set(which))
    for _ in range(MAX_PASSES):
        if not todo:
            break
        y = max((_cutoff(*tails[c], abs_tol[c]) for c in todo), key=lambda v: v.mid())
        still = []
        for c in todo:
            val = acb.integral(lambda z, _an, c=c: func(z)[c], -y, y, abs_tol=abs_tol[c],
                               rel_tol=arb(2) ** (-bits)).real
            val = val + _tail(*tails[c], y)
            if best[c] is None or val.rad() < best[c].rad():
                best[c] = val
            mid = abs(val.mid())
            if val.rad() <= mid * arb(2) ** (-bits) or val.is_zero():
                continue
            still.append(c)
            if mid > val.rad():
                abs_tol[c] = mid * arb(2) ** (-bits - 4)
            else:  # no magnitude yet: square the tolerance (exp(-1e6) in ~8 passes)
                rad = val.rad()
                abs_tol[c] = min(rad * arb(2) ** (-2 * bits), rad * rad, key=lambda v: v.mid())
        todo = still
    return best


class _Cached:
    """The integrand vector at a ball, remembered for the other components."""

    def __init__(self, func: Callable) -> None:
        self.func = func
        self.memo: dict = {}

    def __call__(self, z: acb) -> np.ndarray:
        key = (z.real.mid().man_exp(), z.imag.mid().man_exp(), z.real.rad().man_exp(),
               z.imag.rad().man_exp())
        hit = self.memo.get(key)
        if hit is None:
            hit = self.memo[key] = self.func(z)
        return hit


def enclose(means: object, digits: int = DEFAULT_DIGITS, radius: object = 0) -> Enclosure:
    """Balls for the loss and gradient of canonical collinear means (numbers, decimal strings,
    Fractions or mpf), aiming at relative radius 10^-digits (an absolute radius below 1e-20 for
    O(1) values). `radius`: the balls hold for every configuration whose coordinates lie
    within it of the means given (their rounding, for means computed elsewhere)."""
    loss, grad, prec, ok, _ = _enclose(means, digits, None, radius)
    return Enclosure(loss, grad, prec, digits, ok)


def enclose_mean_gradient(means: object, i: int, digits: int = SIGN_DIGITS
                          ) -> tuple[np.ndarray, arb, bool]:
    """(grad_{m_i} L as a (d,) array of balls, the ball of the radial component m_i . grad_{m_i} L,
    certified) for canonical collinear means: only the components of mean i are integrated, to
    relative radius 10^-digits (a sign needs little), which is much cheaper than `enclose` when
    the other means' components are large and mean i's is exponentially small. `certified`: every
    ball of the row has relative radius <= 10^-digits (or is exactly zero)."""
    _, grad, prec, ok, balls = _enclose(means, digits, i)
    old = flint.ctx.prec
    flint.ctx.prec = prec
    try:
        radial = sum((x * g for x, g in zip(balls[i], grad[i], strict=True)), arb(0))
    finally:
        flint.ctx.prec = old
    return grad[i], radial, ok


def _enclose(means: object, digits: int, only: int | None, radius: object = 0
             ) -> tuple[arb | None, np.ndarray, int, bool, np.ndarray]:
    """(loss or None, gradient (n, d) of balls, arb precision, certified, the means as balls).
    `only`: integrate just the components of mean `only` (the other rows are left as None, the
    loss too). `radius`: see `enclose`."""
    with mpmath.workdps(max(mpmath.mp.dps, input_dps(means))):
        m = as_mp_means(means)
        n, d = m.shape
        if only is not None and not 0 <= only < n:
            raise UsageError(f"mean index {only} out of range for n = {n}")
        scale = max(1.0, *(abs(float(x)) for x in m.reshape(-1)))
        bits = int(digits * 3.33) + 8
        prec = bits + 40 + int(3 * math.log2(scale))
        old = flint.ctx.prec
        flint.ctx.prec = max(prec, mpmath.mp.prec + 20)
        try:
            mpmath.mp.prec = flint.ctx.prec  # read again, and reduce, at the arb precision
            m = as_mp_means(means)             # (the enclosing workdps restores it)
            rad = arb(reading_error(means, m)) + arb(mpmath.mpf(radius))
            _check_columns(means, m)
            red = _exact_reduction(m)
            if rad > 0:  # every coordinate within rad of the means given
                red = _widened(red, rad.upper())
                big = arb(max(abs(x) for x in m.reshape(-1)))
                if rad * (2 * big + 64) * (big + 64) > 1:  # logits unknown to O(1): no integral
                    return _unknown(n, d, only, red)
            balls = (red.coords @ red.basis.T + red.perp if red.k
                     else np.tile(red.perp, (n, 1)))
            k = red.k
            if k == 0:
                grad = np.tile(red.perp * arb(2) / n, (n, 1))
                return red.perp @ red.perp, grad, flint.ctx.prec, True, balls
            coords = red.coords
            inv = 1 / (2 * arb.pi()).sqrt()

            def func(z: acb) -> np.ndarray:
                vals = score_integrands(np.array([[z]], dtype=object), coords, exp=ACB_EXP)[0]
                return vals * ((-(z * z) / 2).exp() * inv)

            tails = _tail_coefficients(red)
            assert len(tails) == n_components(n, k)
            which = None
            if only is not None:
                which = [1 + only * k + a for a in range(k)]
                if not all(x.is_zero() for x in red.perp):
                    which.append(1 + n * k + only)
            values = _components(_Cached(func), tails, bits, which)
            zero = arb(0)
            filled = np.array([zero if v is None else v for v in values], dtype=object)
            loss_u, g, gamma = split_components(filled, n, k)
            grad = red.lift(g, gamma)
            if only is None:
                loss = loss_u + red.perp @ red.perp
                results = [loss, *grad.reshape(-1)]
            else:
                loss = None
                grad = np.array([[x if r == only else None for x in row]
                                 for r, row in enumerate(grad)], dtype=object)
                results = list(grad[only])
            ok = all(x.rad() <= abs(x.mid()) * arb(10) ** (-digits) or x.is_zero()
                     for x in results)
            return loss, grad, flint.ctx.prec, bool(ok), balls
        finally:
            flint.ctx.prec = old


def certify_sign(means: object, i: int, j: int, digits: int = DEFAULT_DIGITS) -> int:
    """The certified sign (+1 / -1) of the gradient component d L / d m_{i, j}, or 0 when the
    enclosure still contains zero (only mean i's components are integrated)."""
    row, _, _ = enclose_mean_gradient(means, i, digits)
    return _sign(row[j])


def certify_radial_sign(means: object, i: int, digits: int = SIGN_DIGITS) -> int:
    """The certified sign of m_i . grad_{m_i} L (canonical means, truth at the origin): -1 means
    a GD step moves mean i away from the truth, +1 towards it; 0 when undecided."""
    _, radial, _ = enclose_mean_gradient(means, i, digits)
    return _sign(radial)


@dataclass(frozen=True)
class SignChange:
    """Enclosures of f at the ends of [a, b]; `certified`: they have opposite certified signs,
    so a continuous f has a zero strictly inside."""

    a: object
    b: object
    fa: arb
    fb: arb
    certified: bool


def certify_sign_change(f: Callable[[object], arb], a: object, b: object) -> SignChange:
    """Certify that the continuous function f changes sign on [a, b]: f(x) must return a ball
    (arb) containing the true value, e.g. `lambda s: enclose(config(s)).grad[0, 0]`."""
    fa, fb = f(a), f(b)
    sa, sb = _sign(fa), _sign(fb)
    return SignChange(a, b, fa, fb, sa * sb == -1)
