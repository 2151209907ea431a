"""A multistart census (beyond the paper) of the stationary points of L in d = 1, every
|m_i| <= box, t = 0: it lists the points whose root-finding basin holds one of its starts; it is
not a proof that there are no others (one whose basin holds no start, one with some |m_i| > box,
or one inside the truth ball below would be missed).

Method:

1. Starts: scrambled Sobol samples of [-box, box]^n and of the inner box
   [-inner_box, inner_box]^n (seeded; every stationary point met has |m_i| < 3.5, and most
   starts in the outer box run off to infinity); Sobol samples inside every coincidence pattern
   (some means equal: invariant subspaces, see `pattern_starts`); for n = 2, the centre of every
   cell of a grid on which both gradient components change (resolved) sign.
2. Float64 root finding: scipy's hybr (Powell's dog-leg) on the gradient with the derived
   Hessian as Jacobian (`highprec.hessian.line_derivatives`). A run is stopped as "left the box"
   once an iterate has a mean beyond escape_factor * box: far-apart means sit in the asymptotically
   flat region where the gradient is ~exp(-R^2/8) (a float64 "root" there would only be
   underflow). Ends: "truth" (every |m_i| <= truth_radius), "candidate" (every gradient component
   below candidate_rtol times the integral of its own |integrand|), "left the box", or
   "unresolved".
3. Candidates are deduplicated up to permutation and the reflection m -> -m, then polished by
   Newton at 40+ digits (mpmath/arb: `line_derivatives(digits)`); a point is accepted only when
   the Newton steps fall below accept_step and every gradient component below accept_rtol times
   its own scale: a genuine non-degenerate root, not a flat region. Means closer than
   merge_tol are then made equal (identical means stay identical: the swap maps the root to
   itself, so the unique root nearby has them equal) and the point is re-evaluated there.
4. Each accepted point gets its loss, the Hessian spectrum (d = 1 index, and the index in any d
   from the transverse block), and a GD run from a seeded random perturbation.

The truth (all means at 0) is a degenerate minimum (Hessian (2/n^2) 1 1^T, rank one): Newton
converges to it only linearly, so root finding cannot certify it; runs ending within
truth_radius = e^-2/n of it are counted as "truth". That ball is inside T2.1's hypothesis region
(every |m_i| <= e^-2/n at t = 0 corresponds to t > log n + log M + 2), where GD converges to the
truth from every start (T2.1, **reported**, checked by this suite), so no other stationary point
lies there; this census does not look inside it independently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import mpmath
import numpy as np
from scipy.optimize import root
from scipy.stats import qmc

from scoreclaims.claims import task_map
from scoreclaims.claims.paper._stationary_family import destination, gd_item
from scoreclaims.highprec.certified import certify_sign_change, enclose
from scoreclaims.highprec.hessian import line_derivatives
from scoreclaims.highprec.spectrum import Spectrum, spectrum


class _LeftBox(Exception):
    pass


def canonical(x: np.ndarray) -> np.ndarray:
    """The representative of x up to permutation and reflection: sorted, and of the two sorted
    forms of x and -x the lexicographically larger."""
    a, b = np.sort(x), np.sort(-x)
    for u, v in zip(a, b, strict=True):
        if abs(u - v) > 1e-9:
            return a if u > v else b
    return a


def sobol_starts(n: int, count: int, seed: int, box: float) -> list[list[float]]:
    m = max(0, math.ceil(math.log2(max(count, 1))))
    pts = qmc.Sobol(d=n, scramble=True, seed=seed).random_base2(m)[:count]  # balanced: 2^m
    return ((2 * pts - 1) * box).tolist()


def solve_start(item: tuple[list[float], dict[str, float]]) -> dict[str, Any]:
    """Float64 hybr from one start (see the module docstring for the outcomes)."""
    start, p = item
    limit = p["escape_factor"] * p["box"]

    def fun(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if np.max(np.abs(x)) > limit:
            raise _LeftBox
        ld = line_derivatives(x, error=False)
        return ld.grad, ld.hess

    try:
        res = root(fun, np.array(start), jac=True, method="hybr",
                   options={"maxfev": int(p["maxfev"])})
        x = res.x
    except _LeftBox:
        return {"start": start, "outcome": "left the box", "x": None, "rel": None}
    if np.max(np.abs(x)) <= p["truth_radius"]:
        return {"start": start, "outcome": "truth", "x": x.tolist(), "rel": None}
    if np.max(np.abs(x)) > p["box"]:
        return {"start": start, "outcome": "left the box", "x": x.tolist(), "rel": None}
    ld = line_derivatives(x, hessian=False)
    rel = float(np.max(np.abs(ld.grad) / ld.grad_scale))
    outcome = "candidate" if rel <= p["candidate_rtol"] else "unresolved"
    return {"start": start, "outcome": outcome, "x": x.tolist(), "rel": rel}


def grid_cells(n: int, box: float, spacing: float) -> tuple[list[list[float]], int]:
    """n = 2: centres of the grid cells (a_1 <= a_2 half, by permutation) where both gradient
    components change resolved sign between corners; and the number of grid points."""
    ticks = np.arange(-box, box + 1e-9, spacing)
    pts = [(x, y) for x in ticks for y in ticks if x <= y + 1e-12]
    signs = dict(zip(pts, task_map(_grid_sign, pts, label="census n=2 grid"), strict=True))
    cells = []
    for i in range(len(ticks) - 1):
        for j in range(len(ticks) - 1):
            corners = [(ticks[i + a], ticks[j + b]) for a in (0, 1) for b in (0, 1)]
            if any(c not in signs for c in corners):
                continue
            s = np.array([signs[c] for c in corners])  # (4, 2)
            if all(set(s[:, k]) >= {1, -1} for k in (0, 1)):
                cells.append([ticks[i] + spacing / 2, ticks[j] + spacing / 2])
    return cells, len(pts)


def _grid_sign(p: tuple[float, float]) -> tuple[int, int]:
    from scoreclaims.verifiers import evaluate, mean_error_bounds

    if p[0] == p[1]:  # coincident: grad = (2/n) a for both
        s = int(np.sign(p[0]))
        return s, s
    ev = evaluate(np.array(p)[:, None])
    g, err = ev.grad[:, 0], mean_error_bounds(ev)  # d = 1: each mean's bound is its component's
    return tuple(int(np.sign(v)) if abs(v) > e else 0  # type: ignore[return-value]
                 for v, e in zip(g, err, strict=True))


@dataclass
class Accepted:
    means: list[str]
    loss: str
    loss_error: float
    grad_rel: float
    newton_steps: list[float]
    spec: Spectrum
    index_d1: int
    index_d3: int
    resolved: bool
    basin: int = 0
    gd: dict[str, Any] = field(default_factory=dict)


def polish_item(item: tuple[list[float], int, dict[str, float]]) -> dict[str, Any]:
    """Newton at `digits` from a float64 candidate; accepted or rejected with the reason."""
    x0, digits, p = item
    x = [mpmath.mpf(v) for v in x0]
    steps: list[float] = []
    for _ in range(int(p["newton_max"])):
        ld = line_derivatives(x, digits)
        with mpmath.workdps(ld.dps):
            h = mpmath.matrix([list(r) for r in ld.hess])
            try:
                step = mpmath.lu_solve(h, mpmath.matrix(list(ld.grad)))
            except ZeroDivisionError:
                return {"accepted": False, "reason": "singular Hessian", "x0": x0}
            x = [xi - si for xi, si in zip(x, step, strict=True)]
            steps.append(float(mpmath.norm(step)))
        if max(abs(v) for v in x) > p["escape_factor"] * p["box"]:
            return {"accepted": False, "reason": "Newton left the box", "x0": x0}
        if steps[-1] <= p["accept_step"]:
            break
    with mpmath.workdps(ld.dps):
        merged = _merge(x, p["merge_tol"])
    ld = line_derivatives(merged, digits)
    with mpmath.workdps(ld.dps):
        rel = max(abs(g) / s for g, s in zip(ld.grad, ld.grad_scale, strict=True))
        ok = steps[-1] <= p["accept_step"] and rel <= p["accept_rtol"]
        reason = "" if ok else (f"Newton steps {[f'{s:.2g}' for s in steps]}, gradient "
                                f"{float(rel):.3g} of its scale")
        if max(abs(v) for v in merged) > p["box"]:
            ok, reason = False, "outside the box"
        spec = spectrum(ld.a, ld.hess, ld.hess_error, ld.hess_perp, ld.hess_perp_error)
        return {"accepted": ok, "reason": reason, "x0": x0,
                "means": [mpmath.nstr(v, 30, strip_zeros=False) for v in merged],
                "means_float": [float(v) for v in merged],
                "loss": mpmath.nstr(ld.loss, 25), "loss_float": float(ld.loss),
                "loss_error": float(ld.loss_error), "grad_rel": float(rel),
                "newton_steps": steps, "spec": spec,
                "hess": [[float(v) for v in row] for row in ld.hess],
                "hess_perp": [[float(v) for v in row] for row in ld.hess_perp]}


def _merge(x: list, tol: float) -> list:
    """Means closer than tol made equal (to their average)."""
    out = list(x)
    order = sorted(range(len(x)), key=lambda i: x[i])
    groups: list[list[int]] = [[order[0]]]
    for i in order[1:]:
        if abs(x[i] - x[groups[-1][-1]]) <= tol:
            groups[-1].append(i)
        else:
            groups.append([i])
    for g in groups:
        mean = mpmath.fsum(x[i] for i in g) / len(g)
        for i in g:
            out[i] = mean
    return out


def dedupe(points: list[np.ndarray], tol: float) -> list[tuple[np.ndarray, int]]:
    """Distinct canonical forms within tol (max norm), each with its count."""
    reps: list[list[Any]] = []
    for x in points:
        c = canonical(np.asarray(x, dtype=float))
        for r in reps:
            if np.max(np.abs(r[0] - c)) <= tol:
                r[1] += 1
                break
        else:
            reps.append([c, 1])
    return [(r[0], r[1]) for r in reps]


def patterns(n: int) -> list[tuple[int, ...]]:
    """Block sizes of the coincidence patterns with some means equal but not all (up to
    permutation): (2, 1) for n = 3; (2, 1, 1), (2, 2), (3, 1) for n = 4."""
    def parts(m: int, top: int) -> list[tuple[int, ...]]:
        if m == 0:
            return [()]
        return [(k, *rest) for k in range(min(m, top), 0, -1) for rest in parts(m - k, k)]
    return [q for q in parts(n, n) if 1 < len(q) < n]


def pattern_starts(n: int, count: int, seed: int, box: float) -> list[list[float]]:
    """Sobol starts inside each coincidence pattern's subspace. Identical means get identical
    gradients and Hessian rows, so the Newton-type steps keep them identical: these runs search
    the invariant subspaces where stationary points with coincident means live, which full-space
    starts reach only from small basins."""
    out = []
    for k, blocks in enumerate(patterns(n)):
        for pt in sobol_starts(len(blocks), count, seed + 1 + k, box):
            out.append([v for v, size in zip(pt, blocks, strict=True) for _ in range(size)])
    return out


def census(n: int, p: dict[str, Any], seed: int, starts: int, inner_starts: int, digits: int
           ) -> dict[str, Any]:
    """Every stationary point found for n means (see the module docstring): `starts` Sobol
    points in the box and `inner_starts` in the inner box [-inner_box, inner_box]^n, half as
    many again in every coincidence pattern."""
    box, inner = float(p["box"]), float(p["inner_box"])
    solve_p = {k: float(p[k]) for k in ("box", "escape_factor", "truth_radius_factor",
                                        "candidate_rtol", "maxfev")}
    solve_p["truth_radius"] = p["truth_radius_factor"] * math.exp(-2) / n
    sub = (pattern_starts(n, max(1, starts // 2), seed, box)
           + pattern_starts(n, max(1, inner_starts // 2), seed + 100, inner))
    start_list = (sobol_starts(n, starts, seed, box) + sobol_starts(n, inner_starts, seed + 100,
                                                                     inner) + sub)
    grid_info: dict[str, Any] = {}
    if n == 2 and p.get("grid_spacing"):
        cells, count = grid_cells(2, box, float(p["grid_spacing"]))
        grid_info = {"grid_points": count, "grid_spacing": p["grid_spacing"],
                     "sign_change_cells": cells}
        start_list += cells
    runs = task_map(solve_start, [(s, solve_p) for s in start_list], label=f"census n={n}")
    tally: dict[str, int] = {}
    for r in runs:
        tally[r["outcome"]] = tally.get(r["outcome"], 0) + 1
    cands = dedupe([np.array(r["x"]) for r in runs if r["outcome"] == "candidate"],
                   float(p["dedupe_tol"]))
    polish_p = {k: float(p[k]) for k in ("box", "escape_factor", "accept_step", "accept_rtol",
                                         "merge_tol", "newton_max")}
    polished = task_map(polish_item, [(c.tolist(), digits, polish_p) for c, _ in cands],
                        label=f"census n={n} polish")
    accepted: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    for (c, count), res in zip(cands, polished, strict=True):
        if not res["accepted"]:
            rejected.append({"x0": c.tolist(), "reason": res["reason"], "starts": count})
            continue
        key = canonical(np.array(res["means_float"]))
        same = next((a for a in accepted if np.max(np.abs(a["canonical"] - key)) <= 1e-20), None)
        if same is not None:
            same["basin"] += count
            continue
        res["canonical"] = key
        res["basin"] = count
        accepted.append(res)
    return {"n": n, "starts": len(start_list), "sobol_starts": starts + inner_starts,
            "pattern_starts": len(sub), "patterns": patterns(n), "outcomes": tally,
            "accepted": accepted, "rejected": rejected,
            "unresolved": [r for r in runs if r["outcome"] == "unresolved"], **grid_info}


def census_gd(n: int, acc: dict[str, Any], eps: float, eta: float, steps: int, seed: int,
              drop: float) -> dict[str, Any]:
    """GD from an accepted point moved by eps in a seeded random direction."""
    base = np.array(acc["means_float"])
    r = np.random.default_rng(seed).standard_normal(n)
    start = (base + eps * r / np.linalg.norm(r))[:, None].tolist()
    label, frame, status = gd_item(("census", start, eta, steps, max(1, steps // 64)))
    scale = max(float(np.max(np.abs(base))), 1e-9)
    if acc["loss_float"] == 0.0:
        return {"destination": "truth (the point itself)", "detail": "", "frame": None}
    dest, detail = destination(frame, n, 1, scale, acc["loss_float"], drop)
    if status != "ok":
        dest, detail = "undecided", f"status {status}; {detail}"
    return {"destination": dest, "detail": detail, "frame": frame}


def certify_n2(a_star: str, half_width: float, digits: int) -> dict[str, Any]:
    """n = 2, one mean at the truth: along the line (0, a), G_1 = G_2 identically (**derived**:
    the measure w_2(y) phi(y) dy is symmetric under y -> a - y, which swaps w_1 and w_2; the
    difference G_1 - G_2 = 2a E[w_2 (w_1 - w_2)(1 - 3 a^2 w_1 w_2)], after Stein's lemma, is odd
    under it), so a sign change of G_2 = dL/da is a stationary point of L. Arb enclosures of
    G_2 at a* -+ half_width."""
    with mpmath.workdps(60):
        a = mpmath.mpf(a_star)
        lo = mpmath.nstr(a - mpmath.mpf(half_width), 45, strip_zeros=False)
        hi = mpmath.nstr(a + mpmath.mpf(half_width), 45, strip_zeros=False)
        width = float(mpmath.mpf(hi) - mpmath.mpf(lo))
    encl: dict[str, Any] = {}

    def g2(x: str) -> Any:
        encl[x] = enclose([["0"], [x]], digits=digits)
        return encl[x].grad[1, 0]

    change = certify_sign_change(g2, lo, hi)
    return {"a_lo": lo, "a_hi": hi, "width": width, "g_lo": change.fa.str(20, radius=True),
            "g_hi": change.fb.str(20, radius=True), "certified": bool(change.certified),
            "loss_lo": encl[lo].loss.str(25, radius=True),
            "g1_minus_g2_lo": (encl[lo].grad[0, 0] - encl[lo].grad[1, 0]).str(5, radius=True)}
