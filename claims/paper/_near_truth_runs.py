"""GD runs from k means near the truth and n - k far ones, classified by which means converge
(the exploration claim NT, issue 27 question 1: "two or more means close to the truth, the others
far").

Initial law (the suite's choice, stated in the claim): truth at the origin (canonical coordinates,
t = 0); the k near means are delta z_j with z_j ~ N(0, I_d) (delta is the per-coordinate scale,
so a near mean lies at distance delta |z_j|, typically delta sqrt(d)), the n - k far means are
c + z'_j with c = M_0 e_1 and z'_j ~ N(0, I_d) (T3.5's law). Both from
`np.random.default_rng([seed, n, d, k, 27])`, z before z', so a seed draws the same z and z' for
every delta and M_0 (common random numbers across the delta and M_0 grids).

Each run is classified exactly as T3.5's sweeps classify theirs (`_random_init_runs.run_classified`:
the same thresholds r_conv = 0.5, r_div = 3, horizons doubling from 32 to 2^13, the same cost
budget; undecided runs are counted, never binned). Outcomes of a decided run:

- "exact": the converging set is exactly the near set (all k near means converge, every far
  mean diverges);
- "near+far": every near mean converges and so does at least one far mean;
- "near-lost": at least one near mean does not converge (it diverges).

The capture rule (derived heuristic, measured threshold): with k means at the truth, a single far
mean on a line is pulled in below R*_k and pushed out above it (the sign change of its radial
gradient, located here with the engine: R*_1 ~ 2.456, the number T3.5 quotes as 2.45). The rule
predicts the converging set: the near means, plus the far means starting within R*_k of the truth.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.optimize import brentq
from scipy.stats import ncx2

from scoreclaims.claims import task_map
from scoreclaims.claims.paper._random_init_runs import (
    R_CONV,
    R_DIV,
    Window,
    classify,
    proportion,
    run_classified,
)
from scoreclaims.verifiers import evaluate, run_gd

OUTCOMES = ("exact", "near+far", "near-lost")
STREAM = 27  # the issue's number: keeps these draws apart from T3.5's streams


def initial_means(n: int, d: int, k: int, delta: float, m0: float, seed: int) -> np.ndarray:
    """k near means delta N(0, I_d), then n - k far means N(M_0 e_1, I_d) (truth at 0)."""
    if not 1 <= k < n:
        raise ValueError(f"need 1 <= k < n near means, got k = {k}, n = {n}")
    rng = np.random.default_rng([int(seed), int(n), int(d), int(k), STREAM])
    z = rng.standard_normal((k, d))
    zf = rng.standard_normal((n - k, d))
    c = np.zeros(d)
    c[0] = float(m0)
    return np.vstack([float(delta) * z, c + zf])


def _far_radial(r: float, k: int) -> float:
    """The radial gradient component of one far mean at r e_1 with k means at the truth (d = 1):
    positive means the GD step moves it inward."""
    m = np.array([[0.0]] * k + [[float(r)]])
    return float(evaluate(m).grad[-1, 0])


def capture_radius(k: int, lo: float = 1.5, hi: float = 4.0) -> float:
    """R*_k: where a far mean's radial gradient changes sign with k means at the truth."""
    return float(brentq(_far_radial, lo, hi, args=(int(k),), xtol=1e-10))


def capture_probability(d: int, m0: float, radius: float) -> float:
    """P(|c + z| < radius) for z ~ N(0, I_d), |c| = M_0: one far mean starts inside R*_k."""
    return float(ncx2.cdf(radius * radius, df=d, nc=m0 * m0))


def outcome(converged: Sequence[int], k: int) -> str:
    """The outcome label of a decided run (means 0..k-1 are the near ones)."""
    conv = set(converged)
    near = set(range(k))
    if not near <= conv:
        return "near-lost"
    return "exact" if conv == near else "near+far"


def classify_seed(item: dict[str, Any]) -> dict[str, Any]:
    """One seed (module-level for `task_map`): the T3.5 classification, the outcome label, and
    the capture rule's prediction from the initial distances."""
    n, k = item["n"], item["k"]
    m0 = initial_means(n, item["d"], k, item["delta"], item["M0"], item["seed"])
    out = run_classified(m0, item["eta"], item["first"], item["max_steps"], item["r_conv"],
                         item["r_div"], item.get("budget"))
    dist0 = out["initial_distances"]
    predicted = sorted(set(range(k)) | {i for i in range(k, n) if dist0[i] < item["radius"]})
    label = outcome(out["converged"], k) if out["decided"] else None
    return {"seed": item["seed"], **out, "outcome": label, "predicted": predicted,
            "rule_holds": (out["converged"] == predicted) if out["decided"] else None}


def sweep(n: int, d: int, k: int, delta: float, m0: float, seeds: Sequence[int], eta: float,
          first: int, max_steps: int, r_conv: float = R_CONV, r_div: float = R_DIV,
          budget: int | None = None) -> dict[str, Any]:
    """Classify every seed and aggregate: outcome frequencies with Wilson intervals (over the
    decided runs, and over all runs with the undecided counted against then for the event)."""
    radius = capture_radius(k)
    items = [{"n": n, "d": d, "k": k, "delta": delta, "M0": m0, "seed": int(s), "eta": eta,
              "first": first, "max_steps": max_steps, "r_conv": r_conv, "r_div": r_div,
              "budget": budget, "radius": radius} for s in seeds]
    runs = task_map(classify_seed, items,
                    label=f"NT sweep n={n} d={d} k={k} delta={delta:g} M0={m0:g}")
    decided = [r for r in runs if r["decided"]]
    undecided = len(runs) - len(decided)
    labels = [r["outcome"] for r in decided]
    counts: dict[str, int] = {}
    for r in decided:
        counts[str(r["count"])] = counts.get(str(r["count"]), 0) + 1
    p_cap = capture_probability(d, m0, radius)
    return {
        "runs": runs,
        "counts": counts,
        "outcome_counts": {o: labels.count(o) for o in OUTCOMES},
        "undecided": undecided,
        "out_of_budget": sum(bool(r["out_of_budget"]) for r in runs),
        "exact": proportion(labels.count("exact"), len(decided), undecided),
        "near_all_converge": proportion(labels.count("exact") + labels.count("near+far"),
                                        len(decided), undecided),
        "far_captured": proportion(labels.count("near+far"), len(decided), undecided),
        "near_lost": proportion(labels.count("near-lost"), len(decided), undecided),
        "exactly_one": proportion(sum(r["count"] == 1 for r in decided), len(decided),
                                  undecided),
        "rule": proportion(sum(bool(r["rule_holds"]) for r in decided), len(decided),
                           undecided),
        "rule_misses": [r["seed"] for r in decided if not r["rule_holds"]][:20],
        "capture_radius": radius,
        "capture_probability_per_far_mean": p_cap,
        "predicted_exact": (1.0 - p_cap) ** (n - k),
        "steps_total": int(sum(r["tau"] for r in runs)),
        "decision_tau": sorted({r["tau"] for r in decided}),
        "wall_time_s": float(sum(r["wall_time_s"] for r in runs)),
    }


def _law_value(tau: float, loss: float, eta: float) -> float:
    return loss * eta * tau * math.log(tau)


def _horizon_window(frame: Any, n: int, d: int, final: np.ndarray) -> Window:
    """The recorded rows of [T/2, T] as a classification window, with the gradient (and its
    error bound) evaluated afresh at the final means."""
    tau = frame["tau"].to_numpy(dtype=float)
    keep = tau >= tau[-1] / 2
    cols = [f"mu_{i}_{j}" for i in range(n) for j in range(d)]
    means = frame.loc[keep, cols].to_numpy(dtype=float).reshape(-1, n, d)
    ev = evaluate(final)
    return Window(tau[keep], means, ev.grad, float(ev.grad_error), bool(ev.converged))


def run_rate(n: int, d: int, k: int, delta: float, m0: float, seed: int, eta: float,
             steps: int, stride: int, r_conv: float = R_CONV, r_div: float = R_DIV
             ) -> dict[str, Any]:
    """A long run from one seed, classified at its horizon over [T/2, T], with the loss
    diagnostic L eta tau ln tau against the one-converges law's 2 per escaping mean, and the
    same far means with one near mean (at the near means' centroid) as the k = 1 baseline."""
    m = initial_means(n, d, k, delta, m0, seed)
    base = np.vstack([m[:k].mean(axis=0, keepdims=True), m[k:]])
    out: dict[str, Any] = {}
    for name, start, near in (("run", m, k), ("baseline", base, 1)):
        traj = run_gd(start, eta, steps, stride=stride)
        f = traj.frame
        count = start.shape[0]
        win = _horizon_window(f, count, d, np.asarray(traj.final_means, dtype=float))
        verdict = classify(win, r_conv, r_div)
        tau = f["tau"].to_numpy(dtype=float)
        loss = f["loss"].to_numpy(dtype=float)
        rows = [(float(t), float(v), _law_value(t, v, eta)) for t, v in zip(tau, loss, strict=True)
                if t >= 2]
        escaping = len(verdict.diverging)
        out[name] = {
            "status": traj.status, "near": near,
            "converging": list(verdict.converging), "diverging": list(verdict.diverging),
            "undecided": list(verdict.undecided), "reason": verdict.reason,
            "decided": verdict.decided,
            "outcome": outcome(verdict.converging, near) if verdict.decided else None,
            "final_loss": float(loss[-1]),
            "L_eta_tau_ln_tau": rows[-1][2],
            "per_escaping_mean": rows[-1][2] / (2 * escaping) if escaping else None,
            "near_distances": [float(f[f"dist_{i}"].iloc[-1]) for i in range(near)],
            "far_distances": [float(f[f"dist_{i}"].iloc[-1]) for i in range(near, count)],
            "table": rows,
        }
    a, b = out["run"]["L_eta_tau_ln_tau"], out["baseline"]["L_eta_tau_ln_tau"]
    out["ratio_to_baseline"] = a / b if b > 0 else None
    return out
