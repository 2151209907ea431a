"""SGD runs beside the exact dynamics, their late-window statistics and the derived floor law
(claim SGD, `claims.paper.sgd_batches`; issue 27, question 3).

A run is one `Descent` (the suite's one GD loop) from canonical means (truth at the origin,
t = 0) with either the exact float64 engine (`EngineSource`) or sampled gradients
(`MonteCarloSource`: one fresh batch of B draws x ~ N(0, I_d) per step). The SGD generator is
`np.random.default_rng([sgd_seed, B])`: every (seed, batch) run is replayable on its own.

Recorded: every step of the late part [T/4, T] of an SGD run (the floor statistics; every
`EXACT_STRIDE`-th step of the exact run, whose loss is smooth there, so that the engine may take
its compiled multi-step loops in between) and about `FIGURE_ROWS` steps before it (the
figures). The loss of an SGD step is its batch's estimate at the iterate: the batch is drawn
after the iterate is fixed, so the estimate is unbiased for the population loss there and its
time average is the time average of the population loss plus sampling noise.

Statistics (set before any run):

* floor F = the mean of the loss over the window [T/2, T]; its standard error is that of the
  mean of `BLOCKS` consecutive block means (blocks far longer than the correlation time
  1/(eta kappa)) of the SGD loss minus the exact loss at the same step, so that the window's
  trend (the loss still falls) is not counted as noise;
* the fast mode (n = 2, d = 1, start (delta, -delta)): m_bar = (m_1 + m_2)/2 is 0 under GD by the
  symmetry x -> -x; under SGD its per-step ratio q = m_bar^2 / delta^4, delta = (m_1 - m_2)/2,
  averaged over the window with the same block error;
* exponent fits: ordinary least squares of ln y on ln B over every run (all seeds), the 95 %
  interval from the residuals (Student t, n - 2 degrees of freedom): the scatter between seeds
  and batches is the error, not the within-window standard errors alone;
* classification of a run at its horizon T (noise-robust, set a priori): a mean converges when its
  distance ends at most r_conv and its mean distance over [3T/4, T] is below that over
  [T/2, 3T/4]; it diverges when its distance ends at least r_div, its mean distance over
  [3T/4, T] is above that over [T/2, 3T/4], and the exact gradient at its final position points
  away from the truth by more than the engine's error bound; otherwise it is undecided.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from scoreclaims.claims.paper._random_init_runs import radial_gradients
from scoreclaims.verifiers import Descent, EngineSource, MonteCarloSource, evaluate, fit_power

BLOCKS = 20
FIGURE_ROWS = 120
EXACT_STRIDE = 10


@dataclass
class Path:
    """A recorded run: tau (R,), loss (R,) and means (R, n, d) at the recorded steps, the status
    of its source and the number of steps reached."""

    tau: np.ndarray
    loss: np.ndarray
    means: np.ndarray
    status: str
    reached: int

    def window(self, start: int, stop: int) -> np.ndarray:
        return (self.tau >= start) & (self.tau <= stop)


def record_plan(steps: int, stride: int = 1, rows: int = FIGURE_ROWS) -> list[int]:
    """Every `stride`-th step of [T/4, T] (and T/2, 3T/4, T); before it, about `rows` steps
    spaced evenly in log tau."""
    late = steps // 4
    early = np.unique(np.round(np.geomspace(1, max(late, 2), rows)).astype(int))
    return sorted({0, *early[early < late].tolist(), *range(late, steps + 1, stride),
                   steps // 2, 3 * steps // 4, steps})


def run_path(m0: np.ndarray, eta: float, steps: int, batch: int | None = None,
             sgd_seed: int = 0) -> Path:
    """GD from canonical means m0 for `steps` steps: exact (`batch` None) or SGD with a fresh
    batch of `batch` draws per step from default_rng([sgd_seed, batch])."""
    if batch is None:  # d = 1: the numpy engine (a compile costs more than it saves here)
        source: Any = EngineSource(backend="numpy" if np.shape(m0)[1] == 1 else None)
    else:
        source = MonteCarloSource(np.random.default_rng([int(sgd_seed), int(batch)]), int(batch))
    descent = Descent(source, np.array(m0, dtype=float), float(eta))
    records = descent.run(int(steps), record_plan(int(steps), EXACT_STRIDE if batch is None
                                                  else 1))
    return Path(np.array([r.tau for r in records], dtype=np.int64),
                np.array([float(r.point.loss) for r in records]),
                np.array([np.asarray(r.m, dtype=float) for r in records]),
                str(source.status), int(descent.tau))


def block_mean(x: np.ndarray, blocks: int = BLOCKS) -> tuple[float, float]:
    """The mean of x and its standard error from `blocks` consecutive block means."""
    x = np.asarray(x, dtype=float)
    means = np.array([b.mean() for b in np.array_split(x, blocks)])
    return float(x.mean()), float(means.std(ddof=1) / math.sqrt(blocks))


def floor_stats(path: Path, steps: int, exact: Path | None = None) -> dict[str, float]:
    """The floor over [T/2, T] and the mean loss over [T/4, T/2). For an SGD run (`exact` given)
    each with its sampling error: the block error of the run's loss minus the exact run's
    (interpolated; the exact loss is smooth there), which removes the windows' trend; the exact
    run's own means are deterministic (error 0) and taken over every step of the window."""
    out = {}
    for name, lo, hi in (("floor", steps // 2, steps), ("earlier", steps // 4, steps // 2 - 1)):
        if exact is None:  # every step, interpolated between the strided records (a mean over
            # the records alone would weigh the window's ends more: +0.1 % on a 4x decay)
            out[name] = float(np.interp(np.arange(lo, hi + 1), path.tau, path.loss).mean())
            out[f"{name}_se"] = 0.0
            continue
        w = path.window(lo, hi)
        loss = path.loss[w]
        out[name] = float(loss.mean())
        out[f"{name}_se"] = block_mean(loss - np.interp(path.tau[w], exact.tau, exact.loss))[1]
    return out


def fast_mode_stats(path: Path, steps: int) -> dict[str, float]:
    """q = m_bar^2 / delta^4 over [T/2, T] (n = 2, d = 1), with its block error, and the range
    of delta there."""
    w = path.window(steps // 2, steps)
    m = path.means[w][:, :, 0]
    mbar, delta = m.mean(axis=1), (m[:, 0] - m[:, 1]) / 2
    q, q_se = block_mean(mbar**2 / delta**4)
    return {"q": q, "q_se": q_se, "delta_max": float(np.abs(delta).max()),
            "delta_min": float(np.abs(delta).min()), "mbar_rms": float(np.sqrt(np.mean(mbar**2)))}


def fast_mode_law(eta: float, batch: float) -> float:
    """(derived) E[m_bar^2] / delta^4 = eta / (B (2 - eta)) to leading order in delta: m_bar
    follows m_bar' = (1 - eta kappa) m_bar + eta xi with kappa = 1 + O(delta^2) and per-sample
    noise (g_1 + g_2)/2 = delta t (1 - delta^2 (1 - t^2)), t = tanh(delta x), of variance
    V = delta^4 (1 + O(delta^2)); the stationary variance is eta V / (B kappa (2 - eta kappa))."""
    return float(eta) / (float(batch) * (2.0 - float(eta)))


def fast_mode_noise(delta: float, dps: int = 30) -> float:
    """V(delta) = Var[(g_1 + g_2)/2] at (delta, -delta), x ~ N(0, 1), by mpmath quadrature of the
    closed form above (its mean is 0: the integrand is odd)."""
    import mpmath as mp

    with mp.workdps(dps):
        d = mp.mpf(delta)

        def f(x: Any) -> Any:
            t = mp.tanh(d * x)
            return (d * t * (1 - d**2 * (1 - t**2)))**2 * mp.npdf(x)

        return float(mp.quad(f, [-mp.inf, 0, mp.inf]))


def fit_exponent(batches: Sequence[float], values: Sequence[float]) -> dict[str, Any]:
    """OLS of ln value on ln B (the engine's `fit_power`, whose exponent is that of B^-p): the
    exponent p, its standard error and 95 % interval (Student t on n - 2 degrees of freedom);
    None where there are fewer than 3 runs or 2 batch sizes, or a value is not positive."""
    x, y = np.log(np.asarray(batches, dtype=float)), np.asarray(values, dtype=float)
    if len(x) < 3 or len(set(x.tolist())) < 2 or not np.all(y > 0):
        return {"exponent": None, "se": None, "ci95": None, "runs": len(x)}
    fit = fit_power(x, np.log(y), 0.95)
    lo, hi = fit.exponent_ci
    return {"exponent": -fit.exponent, "se": fit.exponent_se, "ci95": [-hi, -lo],
            "runs": len(x), "dof": len(x) - 2}


def exponent_verdict(fit: dict[str, Any], target: float, tol: float) -> tuple[bool | None, str]:
    """True when the 95 % interval lies inside [target - tol, target + tol], False when it misses
    it entirely, None (undecided) otherwise or without a fit."""
    if fit.get("ci95") is None:
        return None, f"no exponent fit ({fit.get('runs', 0)} runs)"
    lo, hi = fit["ci95"]
    text = (f"fitted exponent {fit['exponent']:.4f}, 95 % interval [{lo:.4f}, {hi:.4f}] "
            f"({fit['runs']} runs); target {target:g} +- {tol:g}")
    if target - tol <= lo and hi <= target + tol:
        return True, text
    if hi < target - tol or lo > target + tol:
        return False, text
    return None, text + " (the interval straddles the band's edge: undecided)"


def classify_path(path: Path, steps: int, r_conv: float, r_div: float) -> dict[str, Any]:
    """Converging / diverging / undecided means at T (module docstring), by the rule set a
    priori; the exact gradient at the final means decides the outward sign."""
    dist = np.linalg.norm(path.means, axis=2)  # (R, n)
    third = dist[path.window(steps // 2, 3 * steps // 4 - 1)].mean(axis=0)
    fourth = dist[path.window(3 * steps // 4, steps)].mean(axis=0)
    final = path.means[-1]
    ev = evaluate(final)
    radial = radial_gradients(final, ev.grad)
    conv, div, open_ = [], [], []
    for i in range(dist.shape[1]):
        if dist[-1, i] <= r_conv and fourth[i] < third[i]:
            conv.append(i)
        elif (dist[-1, i] >= r_div and fourth[i] > third[i] and bool(ev.converged)
              and radial[i] < -ev.grad_error):
            div.append(i)
        else:
            open_.append(i)
    reached = path.reached == steps and path.status in ("ok",)
    return {"converging": conv, "diverging": div, "undecided": open_ if reached else
            list(range(dist.shape[1])), "reached_horizon": reached,
            "final_distances": dist[-1].tolist()}


def figure_rows(path: Path, keep: int = FIGURE_ROWS) -> list[list[float]]:
    """[tau, loss, distances...] at about `keep` recorded steps spaced in log tau; from T/4 on
    (every step recorded) the loss is the mean over the records since the previous row (a
    single batch's estimate is dominated by rare tail samples far from the truth)."""
    taus = np.unique(np.round(np.geomspace(1, max(path.tau[-1], 2), keep)).astype(int))
    idx = np.unique(np.clip(np.searchsorted(path.tau, taus), 0, len(path.tau) - 1))
    dist = np.linalg.norm(path.means, axis=2)
    late = int(path.tau[-1]) // 4
    rows, prev = [], -1
    for i in idx:
        loss = (float(path.loss[prev + 1:i + 1].mean()) if prev >= 0 and path.tau[prev] >= late
                else float(path.loss[i]))
        rows.append([int(path.tau[i]), loss, *map(float, dist[i])])
        prev = i
    return rows
