"""T3.1's symmetric family m = (s, -s, 0, ..., 0) at t = 0 in canonical coordinates: the scan of
dL/ds, the stationary point s* polished at 40+ digits, its certified sign change, the full
gradient in d = 1 and d = 3, the Hessian spectrum and what gradient descent does next to it.

Symmetry (**derived**): L is invariant under permutations of the means and under any orthogonal
map R applied to all of them, so grad_{m_i}(R m) = R grad_{m_i}(m) and a permutation permutes
the gradients. At m = (s e_1, -s e_1, 0, ..., 0):

* the reflection x_1 -> -x_1 maps m to itself with m_1 and m_2 swapped, hence
  grad_{m_2} = R grad_{m_1} (the e_1 components opposite, the others equal) and, for i >= 3,
  grad_{m_i} = R grad_{m_i}: their e_1 components vanish;
* the reflection x_j -> -x_j of a transverse coordinate (j >= 2) fixes every mean, so every
  transverse component of every gradient vanishes.

The only component not killed by symmetry is g(s) = d L / d m_{1,1} = -d L / d m_{2,1}, and
d L / d s = 2 g(s) along the family: a zero of dL/ds is a stationary point of L in every d.
L(s) = s^2 E[(w_1 - w_2)^2] > 0 for every s > 0 (w_1 - w_2 has the sign of x_1), so the loss
there is positive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import mpmath
import numpy as np
from mpmath.libmp import mpf_neg
from scipy.optimize import brentq

from scoreclaims.claims import task_map
from scoreclaims.highprec.certified import certify_sign_change, enclose
from scoreclaims.highprec.hessian import collinear_gradient, line_derivatives
from scoreclaims.highprec.spectrum import Spectrum, spectrum
from scoreclaims.verifiers import evaluate, mean_error_bounds, run_gd

TRANSVERSE_DIRECTION = ("2/3", "-1/3", "2/3")  # a generic unit vector of R^3 (exact rationals)


def family(n: int, s: Any) -> list:
    """The coordinates a = (s, -s, 0, ..., 0) of the family on the line; for an mpf, -s is
    exact (mpmath's negation rounds to the current precision, which may be lower than s's)."""
    if isinstance(s, mpmath.mpf):
        return [s, mpmath.mp.make_mpf(mpf_neg(s._mpf_))] + [mpmath.mpf(0)] * (n - 2)
    return [s, -s] + [0 * s] * (n - 2)


# ------------------------------------------------------------------------ scan (float64 engine)


@dataclass(frozen=True)
class ScanPoint:
    s: float
    slope: float  # dL/ds = g_1 - g_2
    slope_error: float
    loss: float
    loss_error: float

    @property
    def sign(self) -> int:
        """+1 / -1 when the slope's sign is resolved by its error estimate, else 0."""
        if abs(self.slope) <= self.slope_error:
            return 0
        return 1 if self.slope > 0 else -1


def scan_point(item: tuple[int, float]) -> ScanPoint:
    n, s = item
    ev = evaluate(np.array(family(n, float(s)))[:, None])
    err = mean_error_bounds(ev)
    return ScanPoint(float(s), float(ev.grad[0, 0] - ev.grad[1, 0]), float(err[0] + err[1]),
                     ev.loss, ev.loss_error)


def scan(n: int, s_grid: list[float]) -> list[ScanPoint]:
    return task_map(scan_point, [(n, s) for s in s_grid], label=f"T3.1 scan n={n}")


def sign_changes(points: list[ScanPoint]) -> list[tuple[float, float]]:
    """Brackets [s_a, s_b] of consecutive resolved points with opposite signs."""
    resolved = [p for p in points if p.sign != 0]
    return [(p.s, q.s) for p, q in zip(resolved, resolved[1:], strict=False) if p.sign != q.sign]


def slope64(n: int, s: float) -> float:
    ev = evaluate(np.array(family(n, s))[:, None])
    return float(ev.grad[0, 0] - ev.grad[1, 0])


def float_root(n: int, bracket: tuple[float, float]) -> float:
    """The zero of dL/ds in a resolved bracket, to float64's resolution (Brent)."""
    return float(brentq(lambda s: slope64(n, s), *bracket, xtol=1e-15, rtol=1e-15))


# ---------------------------------------------------------------- polishing at high precision


@dataclass(frozen=True)
class Polished:
    s_star: mpmath.mpf
    dps: int
    steps: list[float]  # |Newton step| per iteration
    slope: mpmath.mpf  # dL/ds at s*
    slope_error: mpmath.mpf


def polish(n: int, s0: float, digits: int, max_iter: int = 10) -> Polished:
    """Newton on dL/ds = g_1 - g_2 at `digits` digits from the float64 root s0; the derivative is
    d^2 L / ds^2 from the float64 Hessian at s0 (its 1e-12 relative error only slows Newton to
    twelve digits per step)."""
    h = line_derivatives(family(n, s0)).hess
    curvature = float(h[0, 0] - h[0, 1] - h[1, 0] + h[1, 1])
    s = mpmath.mpf(s0)
    steps: list[float] = []
    tol = mpmath.mpf(10) ** -(digits + 5)
    for _ in range(max_iter):
        ld = line_derivatives(family(n, s), digits, hessian=False)
        with mpmath.workdps(ld.dps):
            f = ld.grad[0] - ld.grad[1]
            step = f / curvature
            s = mpmath.mpf(s) - step
            steps.append(float(abs(step)))
            if abs(step) <= tol * abs(s):
                break
    ld = line_derivatives(family(n, s), digits, hessian=False)
    with mpmath.workdps(ld.dps):
        return Polished(+s, ld.dps, steps, ld.grad[0] - ld.grad[1],
                        ld.grad_error[0] + ld.grad_error[1])


# ------------------------------------------------------------------------------ certification


@dataclass(frozen=True)
class Certificate:
    s_lo: str
    s_hi: str
    slope_lo: str  # arb balls as strings
    slope_hi: str
    certified: bool
    loss_lo: str


def certify(n: int, s_star: mpmath.mpf, half_width: float, digits: int) -> Certificate:
    """Arb enclosures of dL/ds at s* -+ half_width (decimal strings of 45 digits, read exactly
    by `enclose` at its input precision): a certified sign change means a zero in between."""
    with mpmath.workdps(60):
        lo = mpmath.nstr(s_star - mpmath.mpf(half_width), 45, strip_zeros=False)
        hi = mpmath.nstr(s_star + mpmath.mpf(half_width), 45, strip_zeros=False)

    def config(s: str) -> list[list[str]]:
        return [[s], [s[1:] if s.startswith("-") else "-" + s]] + [["0"]] * (n - 2)

    encl: dict[str, Any] = {}

    def slope(s: str) -> Any:
        encl[s] = enclose(config(s), digits=digits)
        return encl[s].grad[0, 0] - encl[s].grad[1, 0]

    change = certify_sign_change(slope, lo, hi)
    return Certificate(lo, hi, change.fa.str(20, radius=True), change.fb.str(20, radius=True),
                       bool(change.certified), encl[lo].loss.str(25, radius=True))


# ------------------------------------------------------------------------- gradient at s*


def full_gradient_check(n: int, s_star: mpmath.mpf, digits: int) -> dict[str, Any]:
    """Largest |component| of the full gradient at s*, plus its error estimate, in d = 1 and in
    d = 3 with the line along a generic unit vector (so that no coordinate is zero by
    construction: the reduction and the lift run in the working precision)."""
    out: dict[str, Any] = {}
    ld = line_derivatives(family(n, s_star), digits, hessian=False)
    with mpmath.workdps(ld.dps):
        out["d1_max_abs"] = float(max(abs(x) for x in ld.grad))
        out["d1_error"] = float(max(ld.grad_error))
        out["d1_dps"] = ld.dps
    with mpmath.workdps(ld.dps + 10):
        u = [mpmath.mpf(int(c.split("/")[0])) / int(c.split("/")[1]) for c in TRANSVERSE_DIRECTION]
        means = [[x * ui for ui in u] for x in family(n, s_star)]
    cg = collinear_gradient(means, digits)
    with mpmath.workdps(cg.dps):
        out["d3_max_abs"] = float(max(abs(x) for x in cg.grad.ravel()))
        out["d3_error"] = float(cg.grad_error)
        out["d3_dps"] = cg.dps
        out["d3_transverse_max_abs"] = float(max(
            abs(x - (sum(xx * uu for xx, uu in zip(row, u, strict=True))) * ui)
            for row in cg.grad for x, ui in zip(row, u, strict=True)))
    return out


# ------------------------------------------------------------------------------------ Hessian


def hessian_at(n: int, s_star: mpmath.mpf, digits: int) -> tuple[Any, Spectrum]:
    ld = line_derivatives(family(n, s_star), digits)
    with mpmath.workdps(ld.dps):
        spec = spectrum(ld.a, ld.hess, ld.hess_error, ld.hess_perp, ld.hess_perp_error)
    return ld, spec


def fd_column(item: tuple[str, list[float], int, float]) -> list[float]:
    """Column j of the along-line ("par") or transverse ("perp") Hessian by central differences
    of the float64 engine (d = 1, or d = 2 with mean j moved off the line: k = 2)."""
    block, a, j, h = item
    n = len(a)
    if block == "par":
        plus, minus = np.array(a)[:, None].copy(), np.array(a)[:, None].copy()
        plus[j, 0] += h
        minus[j, 0] -= h
        col = 0
    else:
        plus = np.stack([np.array(a), np.zeros(n)], axis=1)
        minus = plus.copy()
        plus[j, 1], minus[j, 1] = h, -h
        col = 1
    gp, gm = evaluate(plus).grad[:, col], evaluate(minus).grad[:, col]
    return list((gp - gm) / (2 * h))


def fd_check(a: list[float], hess: np.ndarray, hess_perp: np.ndarray, h: float
             ) -> dict[str, float]:
    """Largest entrywise difference between the derived Hessian blocks and central differences
    of the float64 engine's gradient (independent quadrature and formula)."""
    n = len(a)
    items = [(b, a, j, h) for b in ("par", "perp") for j in range(n)]
    cols = task_map(fd_column, items, label="T3.1 Hessian by finite differences")
    par = np.array(cols[:n]).T
    perp = np.array(cols[n:]).T
    hf = np.array([[float(x) for x in row] for row in np.asarray(hess)])
    hpf = np.array([[float(x) for x in row] for row in np.asarray(hess_perp)])
    return {"par": float(np.max(np.abs(par - hf))), "perp": float(np.max(np.abs(perp - hpf))),
            "scale": float(max(np.max(np.abs(hf)), np.max(np.abs(hpf))))}


# ------------------------------------------------------------------------- GD near s*


@dataclass(frozen=True)
class Escape:
    label: str
    start: list[list[float]]
    frame: Any  # pandas DataFrame of the run
    destination: str
    detail: str


def destination(frame: Any, n: int, d: int, s_star: float, loss_star: float,
                drop: float) -> tuple[str, str]:
    """Where a run from next to s* went, judged over its last half (a priori rules):
    'truth' = loss below drop * L(s*) and every mean converging (|m_i| decreasing, or already
    within the truth radius e^-2/n: T2.1's region, where GD converges to the truth (reported);
    near the truth the cubic spread law moves means too slowly, and a pair straddling the
    origin too erratically, for a monotone |m_i|); 'loss -> 0, k means escaping' = the same
    loss drop with k means farther than s* and moving away, the others converging; 'stays' =
    loss within 1e-6 relative of L(s*) (never left); else 'undecided'."""
    dist = frame[[f"dist_{i}" for i in range(n)]].to_numpy()
    tau = frame["tau"].to_numpy()
    half = np.searchsorted(tau, tau[-1] / 2)
    final, mid = dist[-1], dist[half]
    loss = float(frame["loss"].iloc[-1])
    detail = (f"tau = {int(tau[-1])}: loss {loss:.3g} (L(s*) = {loss_star:.4g}), |m_i| "
              f"{np.array2string(final, precision=3)}")
    if abs(loss - loss_star) <= 1e-6 * loss_star:
        return "stays at s*", detail
    if loss > drop * loss_star:
        return "undecided", detail
    escaping = (final > mid) & (final > s_star)
    converging = (final < mid) | (final <= math.exp(-2) / n)
    if np.all(converging):
        return "truth (every mean converges)", detail
    if np.all(escaping | converging):
        return f"loss -> 0, {int(escaping.sum())} mean(s) escaping", detail
    return "undecided", detail


def gd_item(item: tuple[str, list[list[float]], float, int, int]) -> tuple[str, Any, str]:
    label, start, eta, steps, stride = item
    traj = run_gd(np.array(start), eta, steps, stride=stride)
    return label, traj.frame, traj.status


def escapes(n: int, a_star: list[float], spec: Spectrum, eps: float, eta: float, steps: int,
            seed: int, loss_star: float, drop: float, d3: bool) -> list[Escape]:
    """GD from s* moved by eps along every unstable along-line eigenvector (both signs), along a
    seeded random direction, and (d3) in d = 3 along the unstable transverse directions and a
    random 3-D direction."""
    base = np.array(a_star)
    rng = np.random.default_rng(seed)
    items: list[tuple[str, list[list[float]], float, int, int]] = []
    stride = max(1, steps // 64)
    for k, lam in enumerate(spec.along):
        if lam < 0:
            v = np.array([float(x) for x in spec.along_vectors[k]])
            for sign in (1, -1):
                start = base + sign * eps * v / np.linalg.norm(v)
                items.append((f"d=1, {'+' if sign > 0 else '-'}unstable #{k + 1} "
                              f"(lambda = {float(lam):.4g})", start[:, None].tolist(), eta,
                              steps, stride))
    r = rng.standard_normal(n)
    items.append(("d=1, random", (base + eps * r / np.linalg.norm(r))[:, None].tolist(), eta,
                  steps, stride))
    if d3:
        line = np.stack([base, np.zeros(n), np.zeros(n)], axis=1)
        for k, lam in enumerate(spec.transverse):
            if lam < 0:
                v = np.array([float(x) for x in spec.transverse_vectors[k]])
                start = line.copy()
                start[:, 1] = eps * v / np.linalg.norm(v)
                items.append((f"d=3, transverse unstable #{k + 1} (lambda = {float(lam):.4g})",
                              start.tolist(), eta, steps, stride))
        r3 = rng.standard_normal((n, 3))
        items.append(("d=3, random", (line + eps * r3 / np.linalg.norm(r3)).tolist(), eta, steps,
                      stride))
    out = []
    for label, frame, status in task_map(gd_item, items, label=f"T3.1 GD near s* n={n}"):
        start = next(i[1] for i in items if i[0] == label)
        dest, detail = destination(frame, n, len(start[0]), float(a_star[0]), loss_star, drop)
        if status != "ok":
            dest, detail = "undecided", f"run status {status}; " + detail
        out.append(Escape(label, start, frame, dest, detail))
    return out
