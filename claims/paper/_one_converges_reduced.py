"""The reduced (slow-manifold) dynamics of the one-converges regime, driven by the exact gradient:
it carries the law of `_one_converges_law` far beyond any GD horizon (tau of 1e100 and beyond).

State (d = 1 line, canonical coordinates, truth at 0): a cluster of k coincident far means at R,
the converging mean m_1 on its slow manifold grad_{m_1} L = 0 (it relaxes at rate ~2 eta per
step; R moves on time scales exp(R^2/8)), and optional frozen spectators (other far means whose
own motion is negligible over the range, e.g. the outer mean of a same-side pair). At each node R
the *exact* loss and the far means' gradient are computed there:

- R <= ENGINE_MAX_RADIUS: the float64 engine (`scoreclaims.verifiers.evaluate`), m_1 found by a
  secant solve of grad_{m_1} L = 0 (its residual is reported); measured against the arb
  enclosures it agrees to ~1e-13 up to R = 50, while at R = 60 its own error bound is ~30%;
- beyond (or with spectators far outside float64): certified arb enclosures
  (`scoreclaims.highprec.far.enclose_far`) of the far means' gradient and loss terms, m_1 put at
  the law's slow-manifold value (its error moves G and L by relative O(R^3 phi(R/2)), below
  1e-100 there; the converging mean's own loss term, m_1^2 + O(m_1 phi), is dropped for the same
  reason).

GD on the slow manifold is the one-dimensional map R <- R + eta G(R), G the outward gradient per
far mean. Its step count between R_a and R_b is (modified equation of the map)

    N = int_{R_a}^{R_b} dR / (eta G(R)) + (1/2) ln(G(R_b) / G(R_a)) + O(eta G'),

and the slow-manifold lag of m_1 changes L by relative O(eta G R) per step: both far below the
node errors after the first steps. The smooth factors psi_G = ln G + R^2/8 - 2 ln R,
psi_L = ln L + R^2/8 - ln R and psi_m = ln m_1 + R^2/8 - 2 ln R are interpolated by Chebyshev
polynomials on segments of R (each checked against fresh evaluations between its nodes: the
measured interpolation error is reported), and the integral is done on the interpolants with the
Gaussian factor exact (composite Gauss-Legendre, truncated where the integrand is e^-80 of its
end value). All large numbers (tau, exp(R^2/8)) are carried as logarithms.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import mpmath
import numpy as np
from numpy.polynomial import chebyshev as cheb

from scoreclaims.claims.paper._one_converges_law import ClusterLaw
from scoreclaims.highprec.far import enclose_far
from scoreclaims.verifiers import evaluate

ENGINE_MAX_RADIUS = 50.0
NODES = 12  # Chebyshev nodes per segment
CHECKS = 2  # fresh evaluations per segment that measure the interpolation error
GROWTH = 1.25  # segment ratio R_hi / R_lo in the engine's range
GROWTH_ARB = 2.0  # and beyond it
TRUNCATION = 80.0  # the integral stops where its integrand is e^-80 of its end value
GAUSS = np.polynomial.legendre.leggauss(10)
SECANT_RTOL = 1e-13


@dataclass(frozen=True)
class SlowPoint:
    """The exact loss and outward force (per far mean) at radius R, m_1 on its slow manifold.
    `rel_error`: the evaluation's error bound relative to the loss and the force (certified
    radius for arb, the engine's bound for float64); `m1_residual`: what the secant solve left
    of the manifold's equation, relative to the force (0 for arb, where m_1 is the law's
    value)."""

    radius: Any
    m1: Any
    loss: Any
    force: Any
    source: str
    rel_error: float
    m1_residual: float


def _solve_manifold(r: float, k: int) -> tuple[float, float, Any]:
    """m_1 with grad_{m_1} L = 0 at radius r (secant on the engine), the slope
    d grad_{m_1} L / d m_1 there, and the evaluation at the root."""
    def at(m1: float) -> Any:
        return evaluate(np.array([[m1]] + [[r]] * k, dtype=float))

    guess = float(ClusterLaw(k, 2).converging_distance(r)) if r >= 6 else 0.1
    a, ea = guess, at(guess)
    b = a - ea.grad[0, 0] / 2.0
    eb = at(b)
    for _ in range(30):
        ga, gb = ea.grad[0, 0], eb.grad[0, 0]
        if abs(gb) <= SECANT_RTOL * abs(eb.grad[1, 0]) or gb == ga:
            break
        a, ea, b = b, eb, b - gb * (b - a) / (gb - ga)
        eb = at(b)
    off = 1e-3 * abs(b)  # the slope from a well-separated second point
    slope = (at(b + off).grad[0, 0] - eb.grad[0, 0]) / off
    return b, float(slope), eb


def _engine_point(r: float, k: int, eta: float | None) -> SlowPoint:
    """The engine's point on the slow manifold of the GD map with step `eta` (None: of the
    flow). GD puts m_1 behind the moving manifold m*(R) by e = -(dm*/dR) G / h, h the slope of
    grad_{m_1} L (e_{tau+1} = (1 - eta h) e_tau - eta G dm*/dR): the map's invariant manifold
    to first order; G and L are evaluated there."""
    m_star, slope, ev = _solve_manifold(r, k)
    m1 = m_star
    if eta is not None:
        h = 1e-5 * r
        m_up = _solve_manifold(r + h, k)[0]
        force0 = -float(ev.grad[1, 0])
        m1 = m_star - (m_up - m_star) / h * force0 / slope
        ev = evaluate(np.array([[m1]] + [[r]] * k, dtype=float))
    force = -float(ev.grad[1, 0])
    rel = max(float(ev.loss_error) / float(ev.loss), float(ev.grad_error) / abs(force))
    residual = abs(float(ev.grad[0, 0]) - (m1 - m_star) * slope) / abs(force)
    return SlowPoint(r, m1, float(ev.loss), force, "float64",
                     rel if ev.converged else math.inf, residual)


def _arb_point(r: mpmath.mpf, k: int, spectators: Sequence[str], digits: int) -> SlowPoint:
    m1 = ClusterLaw(k, 2).converging_distance(r)
    # mpf, not decimal strings: a decimal is read to its finest digit, and m_1 ~ exp(-R^2/8)
    # written as "1.9e-19500" (R = 600) made the enclosure work at 65,000 bits (minutes a point)
    means = [[+m1]] + [[+r]] * k + [[s] for s in spectators]
    far = enclose_far(means, digits)
    g = far.enclosure.grad[1, 0]
    loss_terms = [t.value for t in far.terms[len(means):] if 1 <= t.mean <= k]
    loss = sum(loss_terms[1:], loss_terms[0])
    mid = lambda x: mpmath.mpf(x.mid().str(40, radius=False))  # noqa: E731
    force, total = -mid(g), mid(loss)
    rel = max(float(mid(g.rad()) / abs(force)), float(mid(loss.rad()) / total))
    return SlowPoint(r, m1, total, force, "arb", rel, 0.0)


def slow_point(radius: Any, k: int = 1, spectators: Sequence[str] = (),
               digits: int = 20, eta: float | None = None) -> SlowPoint:
    """The slow-manifold point at `radius` (float or mpf) for a cluster of k far means, with
    frozen `spectators` (decimal strings of their coordinates on the line); `eta`: the GD map's
    manifold (m_1 lagging, see `_engine_point`), None: the flow's."""
    if float(radius) <= ENGINE_MAX_RADIUS and not spectators:
        return _engine_point(float(radius), k, eta)
    with mpmath.workdps(_dps(radius)):
        return _arb_point(mpmath.mpf(radius), k, spectators, digits)


def _dps(radius: Any) -> int:
    return 40 + 2 * max(0, int(math.log10(max(float(radius), 1.0))))


@dataclass
class _Segment:
    lo: float
    hi: float
    coef: dict[str, np.ndarray]
    nodes: list[SlowPoint]
    check_error: dict[str, float]

    def value(self, name: str, x: np.ndarray, der: int = 0) -> np.ndarray:
        t = (2 * np.asarray(x, dtype=float) - (self.lo + self.hi)) / (self.hi - self.lo)
        c = self.coef[name]
        if der:
            c = cheb.chebder(c, der) * (2 / (self.hi - self.lo)) ** der
        return cheb.chebval(t, c)


@dataclass
class ReducedDynamics:
    """GD on the slow manifold from radius `origin` at step `tau0` (a GD record), step `eta`,
    cluster size `k`, up to `origin + span`. Positions are `origin + delta` with delta a float
    (so that an origin of 1e9 keeps its digits); see the module docstring."""

    origin: Any
    tau0: float
    eta: float
    k: int = 1
    span: float = 40.0
    spectators: tuple[str, ...] = ()
    boundaries: Sequence[float] | None = None
    segments: list[_Segment] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.dps = _dps(self.origin)
        with mpmath.workdps(self.dps):
            self.origin = mpmath.mpf(self.origin)
        edges = list(self.boundaries) if self.boundaries is not None else self._edges()
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            self.segments.append(self._segment(lo, hi))
        self.edges = np.array(edges)
        with mpmath.workdps(self.dps):
            self.s0 = self._s_mp(0.0)

    # -- construction --------------------------------------------------------------------------
    def _edges(self) -> list[float]:
        """Segment edges in delta: ratio GROWTH in R up to the engine's range, GROWTH_ARB
        beyond; an origin much larger than the span gets four equal segments."""
        r0 = float(self.origin)
        if self.span < 0.5 * r0:
            return list(np.linspace(0.0, self.span, 5))
        edges, r = [0.0], r0
        while r < r0 + self.span:
            nxt = r * (GROWTH if r < ENGINE_MAX_RADIUS else GROWTH_ARB)
            r = ENGINE_MAX_RADIUS if r < ENGINE_MAX_RADIUS < nxt else nxt
            edges.append(min(r, r0 + self.span) - r0)
        return edges

    def _psi(self, p: SlowPoint) -> dict[str, float]:
        with mpmath.workdps(self.dps):
            r = mpmath.mpf(p.radius)
            quad = r * r / 8
            lr = mpmath.log(r)
            return {"G": float(mpmath.log(p.force) + quad - 2 * lr),
                    "L": float(mpmath.log(p.loss) + quad - lr),
                    "m": float(mpmath.log(abs(mpmath.mpf(p.m1))) + quad - 2 * lr)}

    def _point(self, delta: float) -> SlowPoint:
        with mpmath.workdps(self.dps):
            r = self.origin + mpmath.mpf(delta)
            return slow_point(r if float(r) > ENGINE_MAX_RADIUS or self.spectators
                              else float(r), self.k, self.spectators, eta=self.eta)

    def _segment(self, lo: float, hi: float) -> _Segment:
        t = np.cos(np.pi * (np.arange(NODES) + 0.5) / NODES)
        xs = (lo + hi) / 2 + (hi - lo) / 2 * t
        pts = [self._point(float(x)) for x in xs]
        psis = [self._psi(p) for p in pts]
        coef = {name: cheb.chebfit(t, [q[name] for q in psis], NODES - 1) for name in "GLm"}
        seg = _Segment(lo, hi, coef, pts, {})
        checks = lo + (hi - lo) * (np.arange(1, CHECKS + 1) / (CHECKS + 1) + 0.5 / NODES / 2)
        errs = {name: 0.0 for name in "GLm"}
        for x in checks:
            q = self._psi(self._point(float(x)))
            for name in "GLm":
                errs[name] = max(errs[name], abs(float(seg.value(name, np.array([x]))[0])
                                                 - q[name]))
        seg.check_error = errs
        return seg

    # -- evaluation ----------------------------------------------------------------------------
    def psi(self, name: str, delta: Any, der: int = 0) -> np.ndarray:
        x = np.atleast_1d(np.asarray(delta, dtype=float))
        idx = np.clip(np.searchsorted(self.edges, x, side="right") - 1, 0,
                      len(self.segments) - 1)
        out = np.empty_like(x)
        for i in np.unique(idx):
            sel = idx == i
            out[sel] = self.segments[i].value(name, x[sel], der)
        return out

    def _s_mp(self, delta: float) -> mpmath.mpf:
        """S = -ln G = R^2/8 - 2 ln R - psi_G (mpmath)."""
        r = self.origin + mpmath.mpf(delta)
        return r * r / 8 - 2 * mpmath.log(r) - float(self.psi("G", delta)[0])

    def _integral(self, delta: float, refine: int = 1) -> float:
        """int_0^delta exp(S(d) - S(delta)) dd (composite Gauss-Legendre, truncated; `refine`
        panels per panel, for the error estimate)."""
        if delta <= 0:
            return 0.0
        rt = float(self.origin) + delta
        width = min(delta, 2.0 / max(rt, 1.0)) / refine
        reach = min(delta, 8 * TRUNCATION / rt)  # x (2R - x) / 8 >= R x / 8 there
        panels = max(1, int(math.ceil(reach / width)))
        nodes, weights = GAUSS
        a = np.arange(panels) * (reach / panels)
        h = reach / panels
        x = (a[:, None] + h * (nodes[None, :] + 1) / 2).ravel()
        w = np.tile(weights * h / 2, panels)
        d = delta - x
        f = (-x * (2 * rt - x) / 8 - 2 * np.log1p(-x / rt)
             - self.psi("G", d) + self.psi("G", np.array([delta]))[0])
        return float(np.sum(w * np.exp(f)))

    def log_tau(self, delta: float) -> mpmath.mpf:
        """ln tau at origin + delta: tau0 + int dR / (eta G) + (1/2) ln(G / G_0)."""
        with mpmath.workdps(self.dps):
            s = self._s_mp(delta)
            walk = mpmath.exp(s) * self._integral(delta) / self.eta
            tau = self.tau0 + walk + (self.s0 - s) / 2
            return mpmath.log(tau)

    def delta_at(self, log_tau: Any) -> float:
        """delta with log_tau(delta) = log_tau (bisection; tau increases with delta)."""
        lo, hi = 0.0, float(self.edges[-1])
        with mpmath.workdps(self.dps):
            target = mpmath.mpf(log_tau)
            end = self.log_tau(hi)
            if end < target * (1 - mpmath.mpf(10) ** -12):
                raise ValueError("beyond the reduced dynamics' range")
            if end <= target:
                return hi
            for _ in range(200):
                mid = (lo + hi) / 2
                if self.log_tau(mid) < target:
                    lo = mid
                else:
                    hi = mid
                if hi - lo <= 4e-16 * (float(self.origin) + hi):
                    break
        return (lo + hi) / 2

    def state(self, delta: float) -> dict[str, Any]:
        """Everything at origin + delta: R, ln tau, ln L, L eta tau ln tau, |m_1|, and the local
        exponent -d ln L / d ln tau = -(d ln L / dR) tau eta G (continuous time)."""
        with mpmath.workdps(self.dps):
            r = self.origin + mpmath.mpf(delta)
            lt = self.log_tau(delta)
            ln_l = float(self.psi("L", delta)[0]) - r * r / 8 + mpmath.log(r)
            ln_m = float(self.psi("m", delta)[0]) - r * r / 8 + 2 * mpmath.log(r)
            ln_g = -self._s_mp(delta)
            dlnl = float(1 / r - r / 4) + float(self.psi("L", delta, 1)[0])
            rate = mpmath.exp(lt + mpmath.log(self.eta) + ln_g)
            const = mpmath.exp(ln_l + mpmath.log(self.eta) + lt) * lt
            return {"radius": float(r), "delta": delta, "log10_tau": float(lt / mpmath.log(10)),
                    "log10_loss": float(ln_l / mpmath.log(10)),
                    "log10_m1": float(ln_m / mpmath.log(10)),
                    "L_eta_tau_ln_tau": float(const),
                    "L_tau": float(mpmath.exp(ln_l + lt)),
                    "local_exponent": float(-dlnl * rate)}

    def at_log10_tau(self, log10_tau: float) -> dict[str, Any]:
        with mpmath.workdps(self.dps):
            return self.state(self.delta_at(mpmath.mpf(log10_tau) * mpmath.log(10)))

    @property
    def reach_log10_tau(self) -> float:
        with mpmath.workdps(self.dps):
            return float(self.log_tau(float(self.edges[-1])) / mpmath.log(10))

    def errors(self) -> dict[str, Any]:
        """The measured interpolation errors (absolute in psi = relative in G, L, m_1), the
        largest node error bound, the quadrature's (the integral against one with twice the
        panels, relative, at the segment edges), the sources used and the largest secant
        residual."""
        pts = [p for s in self.segments for p in s.nodes]
        quad = max(abs(self._integral(float(d), 2) / self._integral(float(d)) - 1)
                   for d in self.edges[1:])
        return {"interpolation": {name: max(s.check_error[name] for s in self.segments)
                                  for name in "GLm"},
                "quadrature": float(quad),
                "node_rel_error": max(p.rel_error for p in pts),
                "m1_residual": max(p.m1_residual for p in pts),
                "sources": sorted({p.source for p in pts}),
                "nodes": len(pts) + CHECKS * len(self.segments)}

    def turn(self, eps: float) -> float | None:
        """log10 tau where the local exponent falls to 1 + eps (None: not in the range)."""
        lo, hi = 0.0, float(self.edges[-1])
        if self.state(lo)["local_exponent"] <= 1 + eps:
            return None
        if self.state(hi)["local_exponent"] > 1 + eps:
            return None
        for _ in range(60):
            mid = (lo + hi) / 2
            if self.state(mid)["local_exponent"] > 1 + eps:
                lo = mid
            else:
                hi = mid
        return self.state((lo + hi) / 2)["log10_tau"]


def compare_with_gd(rd: ReducedDynamics, tau: np.ndarray, radius: np.ndarray,
                    loss: np.ndarray, m1: np.ndarray) -> dict[str, Any]:
    """The reduced dynamics' R, L and |m_1| at the GD records after its start, against GD:
    largest relative errors over the overlap and at its end."""
    keep = tau > rd.tau0
    errs = {"radius": [], "loss": [], "m1": []}
    for t, r, lo, m in zip(tau[keep], radius[keep], loss[keep], m1[keep], strict=True):
        s = rd.state(rd.delta_at(math.log(t)))
        errs["radius"].append(s["radius"] / r - 1)
        errs["loss"].append(10 ** s["log10_loss"] / lo - 1)
        errs["m1"].append(10 ** s["log10_m1"] / abs(m) - 1)
    return {"tau_start": float(rd.tau0), "tau_end": float(tau[-1]), "points": int(keep.sum()),
            **{f"max_rel_error_{k}": float(np.max(np.abs(v))) for k, v in errs.items()},
            **{f"rel_error_{k}_at_end": float(v[-1]) for k, v in errs.items()}}
