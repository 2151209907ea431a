"""GD on the time-averaged loss from T3.5's random far starts, classified as T3.5's sweeps
classify theirs; the T3.1 family's derivative under averaging; the n = 2 capture radius.

Runs: the data-space means m_tilde (truth at the origin) drawn as T3.5's
(`_random_init_runs.initial_means`: i.i.d. N(M_0 e_1, I_d), the same draws z_i for every M_0 and
window), GD with step eta on m_tilde (`_averaged_loss.descend`), classified at horizons doubling
from `first` to `max_steps` over the window [T/2, T] (`_random_init_runs.classify`: r_conv = 0.5,
r_div = 3 in data space, the last gradient's sign certified against the averaged error estimate:
the engine's per-node bounds plus the Gauss-Legendre rule's own, Q against 2Q nodes).

The ray identity (**(derived)**, uniform weight lambda = 1 / (t_max - t_min)): along a ray m_tilde
= s u, d L_avg / ds = int lambda(t) e^{-t} (u . grad L)(e^{-t} s u) dt; with r = e^{-t} s (dt = -dr
/ r) the integrand is (1 / s) dL(r u)/dr, so d L_avg / ds = [L(s e^{-t_min} u) - L(s e^{-t_max} u)]
/ (s (t_max - t_min)) exactly. On a ray the averaged loss is stationary where the window's two end
levels see the same loss. For n = 2 with one mean at the truth the ray is (0, R): a far mean is
pulled in below R*_avg and pushed out beyond it, R*_avg(t_min, t_max) = e^{t_min} R*_avg(0, t_max -
t_min) (scaling). For T3.1's family (s e_1, -s e_1, 0, ...) the same identity gives a stationary
s*_avg for every finite window: L along the family rises from 0 and falls back to 0, so L(s
e^{-t_min}) - L(s e^{-t_max}) changes sign.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.optimize import brentq

from scoreclaims.claims import task_map
from scoreclaims.claims.paper._averaged_loss import Rule, average_checked, descend, threshold
from scoreclaims.claims.paper._random_init_runs import (
    RECORDS_PER_WINDOW,
    Window,
    classify,
    initial_means,
)
from scoreclaims.verifiers import evaluate


def _ray_gap(r: float, t_min: float, t_max: float) -> float:
    lo = evaluate(np.array([[0.0], [r * math.exp(-t_min)]])).loss
    hi = evaluate(np.array([[0.0], [r * math.exp(-t_max)]])).loss
    return lo - hi


def capture_radius(t_min: float, t_max: float) -> float | None:
    """R*_avg for n = 2 (uniform weight): the first sign change of L(R e^{-t_min}) -
    L(R e^{-t_max}) on (0.5 e^{t_min}, 40 e^{t_min}) (None if none)."""
    grid = np.geomspace(0.5, 40.0, 60) * math.exp(t_min)
    vals = [_ray_gap(r, t_min, t_max) for r in grid]
    for a, b, fa, fb in zip(grid[:-1], grid[1:], vals[:-1], vals[1:], strict=True):
        if fa > 0 >= fb:
            return float(brentq(_ray_gap, a, b, args=(t_min, t_max), xtol=1e-10))
    return None


def run_seed(item: dict[str, Any]) -> dict[str, Any]:
    """One seed: GD on L_avg classified at doubling horizons (module-level for `task_map`)."""
    n, m0v = int(item["n"]), float(item["M0"])
    t_min, t_max, kind = float(item["t_min"]), float(item["t_max"]), item["weight"]
    start = initial_means(n, 1, m0v, int(item["seed"]))
    rule = Rule.make(kind, t_min, t_max, int(item["nodes"]))
    rules: list[Any] = [None] * len(rule.t)
    m, tau, horizon = start.copy(), 0, int(item["first"])
    losses: list[tuple[int, float]] = []
    verdict, accurate, grad_err = None, True, math.inf
    while True:
        every = max(1, (horizon - horizon // 2) // RECORDS_PER_WINDOW)
        m, recs, ok = descend(m, rule, item["eta"], horizon, tau, rules, horizon // 2)
        accurate = accurate and ok
        tau = horizon
        keep = [r for r in recs if (r[0] - horizon // 2) % every == 0 or r[0] == horizon]
        losses += [(r[0], r[2]) for r in keep]
        chk = average_checked(m, kind, t_min, t_max, int(item["nodes"]))
        grad_err = chk.grad_error
        win = Window(np.array([r[0] for r in keep], dtype=float),
                     np.array([r[1] for r in keep]), chk.grad, chk.grad_error,
                     accurate and chk.converged)
        verdict = classify(win, item["r_conv"], item["r_div"])
        if verdict.decided or horizon * 2 > item["max_steps"] or not ok:
            break
        horizon *= 2
    thr = threshold(start)
    return {"seed": int(item["seed"]), "decided": verdict.decided,
            "converged": list(verdict.converging), "diverged": list(verdict.diverging),
            "all_converge": (len(verdict.converging) == n) if verdict.decided else None,
            "count": len(verdict.converging) if verdict.decided else None,
            "tau": tau, "reason": verdict.reason[:300], "threshold": thr,
            "above_threshold": t_max > thr,
            "initial_distances": np.abs(start[:, 0]).tolist(),
            "final_distances": np.abs(m[:, 0]).tolist(), "grad_error": grad_err,
            "losses": losses}


def sweep(n: int, m0: float, t_min: float, t_max: float, weight: str, seeds: list[int],
          params: dict[str, Any]) -> list[dict[str, Any]]:
    items = [{"n": n, "M0": m0, "t_min": t_min, "t_max": t_max, "weight": weight, "seed": s,
              **{k: params[k] for k in ("eta", "first", "max_steps", "nodes", "r_conv",
                                         "r_div")}}
             for s in seeds]
    return task_map(run_seed, items,
                    label=f"AVG sweep n={n} M0={m0:g} t=[{t_min:g},{t_max:g}] {weight}")


def family_derivative(s: float, n: int, kind: str, t_min: float, t_max: float,
                      nodes: int) -> tuple[float, float]:
    """d L_avg / ds on T3.1's family m_1 = s, m_2 = -s, others 0 (d = 1), with its error
    estimate (engine bounds plus the rule's Q vs 2Q difference)."""
    m = np.zeros((n, 1))
    m[0, 0], m[1, 0] = s, -s
    a = average_checked(m, kind, t_min, t_max, nodes)
    return float(a.grad[0, 0] - a.grad[1, 0]), float(math.sqrt(2.0) * a.grad_error)


def family_scan(n: int, kind: str, t_min: float, t_max: float, nodes: int,
                grid: list[float]) -> dict[str, Any]:
    """The derivative on a grid of s, and the first bracket where it goes from resolved
    positive to resolved negative (|value| > error at both ends)."""
    rows = [(s, *family_derivative(s, n, kind, t_min, t_max, nodes)) for s in grid]
    bracket = None
    for i, (s, v, e) in enumerate(rows):
        if v > e:
            for s2, v2, e2 in rows[i + 1:]:
                if v2 < -e2:
                    bracket = [s, s2]
                    break
                if v2 > e2:
                    break
        if bracket:
            break
    out: dict[str, Any] = {"rows": [[s, v, e] for s, v, e in rows], "bracket": bracket,
                           "resolved": sum(abs(v) > e for _, v, e in rows)}
    if kind == "uniform":  # the ray identity's root for comparison
        def gap(s: float) -> float:
            def loss(scale: float) -> float:
                m = np.zeros((n, 1))
                m[0, 0], m[1, 0] = s * scale, -s * scale
                return evaluate(m).loss
            return loss(math.exp(-t_min)) - loss(math.exp(-t_max))
        root = None
        if bracket is not None:
            try:
                root = float(brentq(gap, bracket[0], bracket[1], xtol=1e-10))
            except ValueError:
                root = None
        out["identity_root"] = root
    return out
