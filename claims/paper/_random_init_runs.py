"""GD runs after random initialisation, classified by which means converge (T3.5, T3.7, E1).

Initial law (PAPER.md asks to state it; the paper's law is not given): the n means are drawn
i.i.d. N(c, I_d) with c = M_0 e_1 and the truth at the origin (canonical coordinates, t = 0), from
`np.random.default_rng([seed, n, d])` (the same draws z_i for every M_0: common random numbers
across M_0).

Classification of a run (decided early, at doublings of the horizon T, or never): over the last
window [T/2, T] of recorded steps, a mean is

- converging when its distance to the truth ends at most `r_conv` and never increases over the
  window (beyond round-off, 1e-12 relative);
- diverging when its distance ends at least `r_div`, increases at every recorded step of the
  window, and its gradient at T points away from the truth by more than the engine's error bound
  of that mean's gradient (the radial component m_i . grad_i / |m_i| < -e_i, e_i the bound of
  |grad_i|'s error, `verifiers.mean_error_bounds`: the GD step moves it outward).

When a sweep runs at a cubature tolerance looser than the engine's default and a window is left
open only by signs (every open mean at least `r_div` away and receding at every recorded step,
its radial gradient negative but within its error bound), the signs are certified afresh at the
window's last point: the gradient there is evaluated at `CERTIFY_TOLS` tighter tolerances in turn,
down to the engine's default, and the window classified against each such evaluation until it is
decided (`certified_tol` in the run's record; the evaluations count against the budget; the grid
may take up to `CERTIFY_MAX_NODES`, as it is used once). A far
mean's radial gradient can sit below its own error bound at the sweep's tolerance for good: the
bound is then the Gaussian weight the grid leaves out times a bound of the integrand, alike for
every far mean (measured on an n = 5, d = 3 seed, M_0 = 10, seed 0, at tau = 32 and 1e-4:
-1.95e-9 against its own bound 6.4e-8, the whole gradient's 3.5e-7; the same seed stayed so for
2,048 steps), and more steps never decide it; one evaluation at a tighter tolerance does.

A run is decided at the first T where every mean is one or the other; otherwise it goes on to 2T,
up to `max_steps`, and is then "undecided" (counted and reported, never binned as an outcome).
A run whose cubatures missed their tolerance is undecided too, and so is a run that spends its
evaluation budget (integrand evaluations over the whole run, when a sweep sets one: a cost cap
set a priori, counted and reported, never a verdict). A sweep may set the cubature tolerance
`tol` (relative to the gradient's norm; default the engine's); the signs above are certified
against the error bound whatever it is. The thresholds are set a priori
from the two known sign changes of the dynamics: with one mean at the truth, a second mean's
radial gradient changes sign at R* ~ 2.45 (n = 2, measured here with the engine: pulled in below,
pushed out above), and T3.1's stationary point sits at s* ~ 2.55 (n = 3). `r_div` = 3 lies beyond
both; `r_conv` = 0.5 is a fifth of that scale. They only separate the two behaviours; what a
finite horizon shows is the trend (monotone over a doubling of the horizon plus the sign of the
gradient), not convergence or divergence themselves.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from scoreclaims.claims import task_map
from scoreclaims.verifiers import (
    OUT_OF_BUDGET,
    Descent,
    EngineSource,
    default_tol,
    evaluate,
    mean_error_bounds,
)

R_CONV = 0.5
R_DIV = 3.0
MONOTONE_RTOL = 1e-12
RECORDS_PER_WINDOW = 32
# Tolerances at which a window left open only by signs is evaluated again, in turn, where they are
# tighter than the run's (None: the engine's default). A rung costs about 1.5 times the one
# before it for separated k = 3 means (nodes grow like ln(1 / tol)^3), and the error bound falls
# about tenfold, so a sign is certified near the cheapest tolerance that can certify it.
CERTIFY_TOLS = (1e-6, 1e-7, 1e-8, None)
# The node cap of a certifying evaluation's grid: three times the engine's cap for rules kept along
# a run (`trapezoid.MAX_NODES[3]`), as its grid is used once. Measured at 0e55508 (grid steps as a
# priori): far-separated k = 3 means (spreads 11.7, 4.8, 2.1 at M_0 = 10) needed more than 4e6
# nodes at 1e-6, the adaptive cubature then spent 6e7 evaluations without converging, and with
# this cap 6 of the 7 M_0 = 10 seeds that ran out of budget so decided (8 to 23 CPU s a seed).
# Since the grid's first steps are coarser (`trapezoid.FIRST_STRIP_FACTOR`) those 6 certify on
# grids within 4e6 nodes (seed 45: 1.4e6 at 1e-6); the cap stays as the memory limit of a grid
# used once.
CERTIFY_MAX_NODES = 12_000_000


def initial_means(n: int, d: int, m0: float, seed: int) -> np.ndarray:
    """n means i.i.d. N(M_0 e_1, I_d) (truth at the origin), from default_rng([seed, n, d])."""
    rng = np.random.default_rng([int(seed), int(n), int(d)])
    c = np.zeros(d)
    c[0] = float(m0)
    return c + rng.standard_normal((n, d))


@dataclass
class Window:
    """Recorded steps of one window: tau (R,), means (R, n, d), the gradient and its error bound
    at the last step (`grad_error` the whole gradient's; `mean_errors` (n,) each mean's, where the
    evaluation has them), and whether every cubature met its tolerance."""

    tau: np.ndarray
    means: np.ndarray
    grad: np.ndarray
    grad_error: float
    accurate: bool
    evaluations: int = 0
    out_of_budget: int | None = None  # the step at which the evaluation budget ran out
    mean_errors: np.ndarray | None = None

    def bounds(self) -> np.ndarray:
        """(n,) the error bound of each mean's gradient (the whole gradient's where no own)."""
        if self.mean_errors is not None:
            return np.asarray(self.mean_errors, dtype=float)
        return np.full(self.grad.shape[0], float(self.grad_error))


@dataclass(frozen=True)
class Classification:
    converging: tuple[int, ...]
    diverging: tuple[int, ...]
    undecided: tuple[int, ...]
    reason: str
    on_signs: tuple[int, ...] = ()  # open means that lack only a sign beyond the error bound

    @property
    def decided(self) -> bool:
        return not self.undecided

    @property
    def open_on_signs(self) -> bool:
        """Whether only signs keep the window open: every open mean ends at least r_div away,
        recedes at every recorded step and has a negative radial gradient within its bound
        (never for an inaccurate or out-of-budget window)."""
        return bool(self.undecided) and self.on_signs == self.undecided


def radial_gradients(means: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """(n,) m_i . grad_i / |m_i| (canonical means, the truth at the origin): each mean's gradient
    along its direction from the truth; below minus the error bound, the GD step moves it out."""
    return np.einsum("id,id->i", means, grad) / np.maximum(np.linalg.norm(means, axis=1), 1e-300)


def classify(win: Window, r_conv: float = R_CONV, r_div: float = R_DIV) -> Classification:
    """Which means converge / diverge over the window (see the module docstring)."""
    if win.out_of_budget is not None:  # the window may hold no recorded step at all
        n = win.grad.shape[0]
        return Classification((), (), tuple(range(n)),
                              f"the evaluation budget ran out at tau = {win.out_of_budget}")
    dist = np.linalg.norm(win.means, axis=2)  # (R, n)
    n = dist.shape[1]
    step = np.diff(dist, axis=0)
    slack = MONOTONE_RTOL * np.maximum(dist[:-1], 1.0)
    final = win.means[-1]
    radial = radial_gradients(final, win.grad)
    bound = win.bounds()
    conv, div, open_, on_signs = [], [], [], []
    notes = []
    for i in range(n):
        receding = dist[-1, i] >= r_div and np.all(step[:, i] > 0) and radial[i] < 0
        if dist[-1, i] <= r_conv and np.all(step[:, i] <= slack[:, i]):
            conv.append(i)
        elif receding and radial[i] < -bound[i]:
            div.append(i)
        else:
            open_.append(i)
            if receding:
                on_signs.append(i)
            notes.append(f"mean {i}: distance {dist[0, i]:.4g} -> {dist[-1, i]:.4g}, radial "
                         f"gradient {radial[i]:.3g} (error bound {bound[i]:.2g})")
    if not win.accurate:
        notes.insert(0, "a cubature missed its tolerance in the window")
        return Classification((), (), tuple(range(n)), "; ".join(notes))
    return Classification(tuple(conv), tuple(div), tuple(open_), "; ".join(notes),
                          tuple(on_signs))


def certify_tols(tol: float | None, k: int) -> list[float]:
    """The `CERTIFY_TOLS` tighter than the run's tolerance `tol` (None: the default), in turn."""
    run_tol = default_tol(k) if tol is None else tol
    out = [default_tol(k) if t is None else t for t in CERTIFY_TOLS]
    return [t for t in out if t < run_tol]


def run_classified(m0: np.ndarray, eta: float, first: int, max_steps: int,
                   r_conv: float = R_CONV, r_div: float = R_DIV, budget: int | None = None,
                   tol: float | None = None) -> dict[str, Any]:
    """GD from m0, classified at T = first, 2 first, ... <= max_steps; stops when decided, or
    undecided when the run's `budget` of integrand evaluations runs out (a cubature built in a
    step stops at what is left; a step that reuses a rule may overshoot by its nodes). `tol`:
    the cubature tolerance (None: the engine's default)."""
    start_time = time.perf_counter()
    source = EngineSource(tol, budget)
    descent = Descent(source, np.array(m0, dtype=float), eta)

    def window(stop: int, every: int) -> Window:
        """GD to `stop`, recording every `every` steps and `stop`; the window evaluates its
        first step afresh, so its accuracy and evaluations are its own."""
        start, spent, missed = descent.tau, source.spent, source.unconverged
        descent.restart()
        records = descent.run(stop, [*range(start, stop + 1, every), stop])
        last = descent.point if descent.point is not None else (
            records[-1].point if records else None)
        n, d = descent.m.shape
        return Window(np.array([r.tau for r in records]),
                      np.array([r.m for r in records]).reshape(len(records), n, d),
                      np.full((n, d), np.nan) if last is None else last.grad,
                      np.inf if last is None else float(last.grad_error),
                      source.unconverged == missed and not descent.stopped,
                      source.spent - spent,
                      descent.tau if source.status == OUT_OF_BUDGET else None,
                      None if last is None else mean_error_bounds(last))

    def certify(win: Window, result: Classification
                ) -> tuple[Window, Classification, float | None, str | None]:
        """The window classified against fresh evaluations of its last point at the tighter
        `certify_tols`, in turn, until decided; each within the budget left (a certifying
        evaluation that misses its tolerance or the budget leaves the window as it was). Also
        what the tightest evaluation that did not decide left open (None if none was made)."""
        n, d = win.means.shape[1:]
        left_open = None
        for ctol in certify_tols(tol, min(n - 1, d)):
            left = None if budget is None else budget - source.spent
            ev = evaluate(win.means[-1], ctol, max_evaluations=left,
                          max_grid_nodes=CERTIFY_MAX_NODES)
            source.spent += ev.evaluations
            if not ev.converged or (left is not None and ev.evaluations > left):
                break
            again = Window(win.tau, win.means, ev.grad, float(ev.grad_error), win.accurate,
                           win.evaluations + ev.evaluations, mean_errors=mean_error_bounds(ev))
            got = classify(again, r_conv, r_div)
            if got.decided:
                return again, got, ctol, None
            left_open = f"at tau = {int(win.tau[-1])}, tol {ctol:.0e}: {got.reason}"
        return win, result, None, left_open

    horizon = first
    # the first window starts at T/2: run [0, T/2] unrecorded
    win = window(horizon // 2, max(1, horizon // 2))
    tau = horizon // 2
    result = None
    certified_tol = None
    uncertified = None
    while win.out_of_budget is None and not descent.stopped:
        win = window(horizon, max(1, (horizon - tau) // RECORDS_PER_WINDOW))
        tau = horizon
        result = classify(win, r_conv, r_div)
        if result.open_on_signs:
            win, result, certified_tol, left_open = certify(win, result)
            uncertified = left_open or uncertified  # a certification that could not evaluate
            # (budget, tolerance) leaves the last one that did
        if result.decided or horizon * 2 > max_steps or descent.stopped:
            break
        horizon *= 2
    if win.out_of_budget is not None:
        tau = win.out_of_budget
    if win.out_of_budget is not None or result is None:
        result = classify(win, r_conv, r_div)
    m = descent.m
    dist0 = np.linalg.norm(m0, axis=1)
    closest = int(np.argmin(dist0))
    count = len(result.converging) if result.decided else None
    return {
        "decided": result.decided,
        "converged": list(result.converging),
        "diverged": list(result.diverging),
        "count": count,
        "closest": closest,
        "closest_wins": (result.converging == (closest,)) if count == 1 else None,
        "tau": int(tau),
        "accurate": bool(win.accurate),
        "evaluations": int(source.spent),
        "out_of_budget": win.out_of_budget is not None,
        "certified_tol": certified_tol if result.decided else None,
        # undecided: what the last certification that evaluated left open (None: none did)
        "uncertified": None if result.decided else uncertified,
        "reason": result.reason,
        "initial_distances": dist0.tolist(),
        "final_distances": np.linalg.norm(m, axis=1).tolist(),
        "wall_time_s": time.perf_counter() - start_time,
    }


def classify_seed(item: dict[str, Any]) -> dict[str, Any]:
    """One seed of a sweep (module-level for `scoreclaims.claims._run.parallel.task_map`)."""
    m0 = initial_means(item["n"], item["d"], item["M0"], item["seed"])
    out = run_classified(m0, item["eta"], item["first"], item["max_steps"], item["r_conv"],
                         item["r_div"], item.get("budget"), item.get("tol"))
    return {"seed": item["seed"], **out}


def wilson(k: int, total: int, z: float = 1.959963984540054) -> tuple[float, float] | None:
    """Wilson score interval (95% by default) for k successes out of `total`."""
    if total <= 0:
        return None
    p = k / total
    den = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / den
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / den
    lo = 0.0 if k == 0 else max(0.0, centre - half)
    hi = 1.0 if k == total else min(1.0, centre + half)
    return lo, hi


def proportion(k: int, decided: int, undecided: int) -> dict[str, Any]:
    """k of the decided runs, with the Wilson interval over the decided runs and a conservative
    one over all runs (undecided counted against, then for the event)."""
    total = decided + undecided
    lo_all = wilson(k, total)
    hi_all = wilson(k + undecided, total)
    return {
        "k": k, "decided": decided, "undecided": undecided,
        "p": k / decided if decided else None,
        "ci": wilson(k, decided),
        "ci_all_runs": (lo_all[0], hi_all[1]) if lo_all and hi_all else None,
    }


def at_level(prop: dict[str, Any], level: float, text: str) -> tuple[bool | None, str]:
    """An event 'with probability at least `level`' judged on a `proportion`: holds when the
    95% Wilson lower bound over all runs (undecided counted against) clears `level`, violated
    when the upper bound (undecided counted for) is below it, else undecided; `text` describes
    the counts."""
    ci_all = prop["ci_all_runs"]
    if ci_all is None:
        return None, text
    if ci_all[0] > level:
        return True, text + f"; lower bound > {level:g}"
    if ci_all[1] < level:
        return False, text + f"; upper bound < {level:g}"
    return None, text + f"; straddles {level:g}"


def sweep(n: int, d: int, m0: float, seeds: Sequence[int], eta: float, first: int,
          max_steps: int, r_conv: float = R_CONV, r_div: float = R_DIV,
          budget: int | None = None, tol: float | None = None) -> dict[str, Any]:
    """Classify every seed (through `task_map`) and aggregate the outcome frequencies.
    `budget`: integrand evaluations per seed (None: unbounded); `tol`: the cubature tolerance
    (None: the engine's default)."""
    items = [{"n": n, "d": d, "M0": m0, "seed": int(s), "eta": eta, "first": first,
              "max_steps": max_steps, "r_conv": r_conv, "r_div": r_div, "budget": budget,
              "tol": tol}
             for s in seeds]
    runs = task_map(classify_seed, items, label=f"T3.5 sweep n={n} d={d} M0={m0:g}")
    decided = [r for r in runs if r["decided"]]
    undecided = len(runs) - len(decided)
    counts: dict[str, int] = {}
    for r in decided:
        counts[str(r["count"])] = counts.get(str(r["count"]), 0) + 1
    one = [r for r in decided if r["count"] == 1]
    wins = sum(bool(r["closest_wins"]) for r in one)
    certified: dict[str, int] = {}
    for r in decided:
        if r.get("certified_tol") is not None:
            key = f"{r['certified_tol']:.0e}"
            certified[key] = certified.get(key, 0) + 1
    return {
        "runs": runs,
        "counts": counts,
        "undecided": undecided,
        "out_of_budget": sum(bool(r["out_of_budget"]) for r in runs),
        "certified": dict(sorted(certified.items(), reverse=True)),
        "budget": budget,
        "tol": tol,
        "certify_max_nodes": CERTIFY_MAX_NODES,
        "exactly_one": proportion(len(one), len(decided), undecided),
        "all_converge": proportion(sum(r["count"] == n for r in decided), len(decided),
                                   undecided),
        "closest_wins": {"k": wins, "of": len(one), "p": wins / len(one) if one else None,
                         "ci": wilson(wins, len(one))},
        "steps_total": int(sum(r["tau"] for r in runs)),
        "decision_tau": sorted({r["tau"] for r in decided}),
        "wall_time_s": float(sum(r["wall_time_s"] for r in runs)),
    }
