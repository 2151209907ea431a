"""Long GD runs after random initialisation: the run, its classification at the horizon, the
free fits of the loss and of the converging mean's approach, the escape slopes, and the fitted
form's own reading of T3.7's bound (L tau^(1+eps)) over the horizon.

These fits are diagnostics. The verdicts on the rates are the law's (`_one_converges_law`,
derived: L ~ 2k / (eta tau ln tau), R^2 ~ 8 ln(eta tau)), checked against the run and carried
beyond it by the reduced dynamics (`_random_init_law`). The reason: the power-log form's exponent
trades against its log power and the escape's log-log corrections. On the n = 2 long run
(2^20 steps) it fits p = 0.933 [0.932, 0.935], q = -2.11, its two parameters correlated at
0.999, and drifts towards p = 1, q = -1 across later windows, while L tau falls over the whole
run and the law in R matches the loss within its next-order term: a statistical interval cannot
cover that model error.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from scoreclaims.claims.paper._random_init_runs import Window, classify, initial_means
from scoreclaims.verifiers import (
    GEOMETRIC,
    POWER,
    POWER_LOG,
    RateFit,
    evaluate,
    fit_rates,
    mean_error_bounds,
    run_gd,
)


def fit_summary(fit: RateFit) -> dict[str, Any]:
    local = fit.local.exponent if fit.local is not None else ()
    drift = fit.local.drift_per_decade if fit.local is not None else None
    return {"classification": fit.classification, "exponent": fit.exponent,
            "exponent_ci": fit.exponent_ci, "log_power": fit.log_power,
            "log_power_ci": fit.log_power_ci, "ratio": fit.ratio,
            "window": [fit.window.tau_start, fit.window.tau_end],
            "local_exponents": list(local), "local_drift_per_decade": drift,
            "reason": fit.reason}


def lower_bound_verdict(fit: RateFit, eps: float) -> tuple[bool | None, str]:
    """Does the fitted law imply L tau^(1+eps) -> infinity? Power or power-log with exponent
    interval entirely below 1 + eps: yes; entirely above: no (the loss decays faster than
    tau^-(1+eps)); geometric: no; otherwise undecided."""
    cls = fit.classification
    if cls == GEOMETRIC:
        return False, f"geometric decay (ratio {fit.ratio:.6g}): faster than any power"
    if cls not in (POWER, POWER_LOG) or fit.exponent_ci is None:
        return None, f"loss rate undecided: {fit.reason[:160]}"
    lo, hi = fit.exponent_ci
    law = f"{cls} fit p = {fit.exponent:.4f} [{lo:.4f}, {hi:.4f}]"
    if fit.log_power is not None:
        law += f" (log power q = {fit.log_power:.3g})"
    if hi < 1 + eps:
        return True, law + f": p < 1 + eps = {1 + eps:g}, L tau^(1+eps) grows without bound"
    if lo > 1 + eps:
        return False, law + f": p > 1 + eps = {1 + eps:g}, L decays faster than tau^-(1+eps)"
    return None, law + f" straddles 1 + eps = {1 + eps:g}"


def turnaround(fit: RateFit, eps: float) -> float | None:
    """Where the fitted law's L tau^(1+eps) = C tau^(1+eps-p) (log tau)^q has its minimum
    (log10 tau); None when it grows from the start or when the law is not a power law."""
    if fit.classification not in (POWER, POWER_LOG) or fit.exponent is None:
        return None
    gap = 1 + eps - fit.exponent
    q = fit.log_power or 0.0
    if gap <= 0 or q >= 0:
        return None
    return -q / gap / math.log(10)


def growth(tau: np.ndarray, loss: np.ndarray, eps: float, start: float) -> dict[str, Any]:
    """L tau^(1+eps) over tau in [start, T]: its minimum (the constant c of the lower bound over
    the horizon) and where it is reached, the ratio over the last decade, monotone growth there."""
    keep = tau >= max(start, 1.0)
    t, y = tau[keep], loss[keep] * tau[keep] ** (1 + eps)
    if len(t) < 2:
        return {"eps": eps, "c": None}
    last = t >= t[-1] / 10
    yl = y[last]
    return {"eps": eps, "c": float(np.min(y)), "c_at_tau": float(t[np.argmin(y)]),
            "ratio_last_decade": float(yl[-1] / yl[0]),
            "monotone_last_decade": bool(np.all(np.diff(yl) >= -1e-12 * yl[:-1])),
            "window_start": float(t[0])}


def escape_slopes(tau: np.ndarray, radius: np.ndarray, eta: float) -> dict[str, Any]:
    """R^2 against log(eta tau): the least-squares slope over the last two decades and the
    secant slope over each decade (the mechanism predicts slopes drifting down to 8)."""
    ok = eta * tau > 1
    x = np.log(np.where(ok, eta * tau, 1.0))
    y = radius**2
    out: dict[str, Any] = {"secant_by_decade": []}
    end = tau[-1]
    lo = end / 100
    sel = ok & (tau >= lo)
    if np.sum(sel) >= 3:
        slope, icpt = np.polyfit(x[sel], y[sel], 1)
        out.update(slope_last_two_decades=float(slope), intercept=float(icpt))
    first = float(tau[ok][0]) if np.any(ok) else end
    bounds = [end]
    while bounds[-1] / 10 >= first:
        bounds.append(bounds[-1] / 10)
    for b, a in zip(bounds[:-1], bounds[1:], strict=True):
        ia, ib = int(np.argmin(np.abs(tau - a))), int(np.argmin(np.abs(tau - b)))
        if ib > ia and x[ib] > x[ia]:
            out["secant_by_decade"].insert(0, [float(tau[ia]), float(tau[ib]),
                                               float((y[ib] - y[ia]) / (x[ib] - x[ia]))])
    return out


def run_rate(n: int, d: int, m0: float, seed: int, eta: float, steps: int, rows: int,
             eps_list: Sequence[float], rtol: float) -> dict[str, Any]:
    """One long run from the random start, its classification at the horizon and every fit."""
    means0 = initial_means(n, d, m0, seed)
    traj = run_gd(means0, eta, steps, stride=max(1, steps // rows))
    f = traj.frame
    tau = f["tau"].to_numpy(dtype=float)
    loss = f["loss"].to_numpy()
    dist = f[[f"dist_{i}" for i in range(n)]].to_numpy()
    cols = [f"mu_{i}_{j}" for i in range(n) for j in range(d)]
    means = f[cols].to_numpy().reshape(len(f), n, d)
    last = tau >= tau[-1] / 2
    ev = evaluate(means[-1])
    win = Window(tau[last], means[last], ev.grad, float(ev.grad_error),
                 traj.status == "ok" and bool(ev.converged), mean_errors=mean_error_bounds(ev))
    verdict = classify(win)
    conv = int(np.argmin(dist[-1]))
    away = [i for i in range(n) if i != conv]
    loss_fit = fit_rates(tau, loss, rtol=rtol)
    conv_fit = fit_rates(tau, dist[:, conv], rtol=rtol)
    start = loss_fit.window.tau_start or float(tau[1])
    return {
        "frame": f, "status": traj.status, "classification": verdict, "converging": conv,
        "diverging": away, "loss_fit": loss_fit, "conv_fit": conv_fit,
        "growth": [growth(tau, loss, e, start) for e in eps_list],
        "escape": {str(i): escape_slopes(tau, dist[:, i], eta) for i in away},
        "final_distances": dist[-1].tolist(),
    }
