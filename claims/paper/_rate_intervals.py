"""Exponent intervals that include model error, and free fits reported with their drift.

A statistical interval (ordinary least squares on ln v) holds for the fitted form only: when the
data still carry the next-order term of the true law, the interval can exclude the exponent the
dynamics approach, by construction. Two ways to widen it, used by T2.1, T3.5 and E1:

- **drift across windows** (`window_fits`, `drift_interval`): the same form refitted on windows
  sliding up to the horizon (one decade wide by half-decades for the three-parameter form,
  half a decade by quarter-decades for a power law).
  Estimates that move are a transient still in the data (monotone) or next-order terms of either
  sign (not): the interval becomes the hull of the statistical one and the estimates, widened
  on both sides by their spread S. This covers an algebraic transient c / tau (its contribution
  shrinks by 10^step per step, so what is left after the last window is at most
  1 / (10^step - 1) of the last step, below S once two or more steps are seen), not a
  logarithmic one (1/ln tau shrinks too slowly): there the law's next-order term is needed;
- **the law's next-order term** (`law_interval`): the law's own local exponent at the horizon
  minus its asymptotic value is the bias the next-order term puts into a measurement there; the
  interval for the asymptotic exponent is the measured one shifted by that bias and widened by
  the disagreement between the measurement and the law at the same tau.

`drifting` says whether the estimates spread by more than the first window's statistical
half-width: a fit that drifts like that is reported as drifting, whatever its interval.
`drift_decays` says whether the last step between window estimates is smaller than the one
before: where it is not (a drift still accelerating, or fewer than three windows), the widened
interval is not guaranteed to cover the limit, and the reports say so.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

DRIFT_FLOOR = 1e-9  # spreads below this are round-off (exact power laws fit to ~1e-14)


def ols_fit(tau: np.ndarray, value: np.ndarray, with_log: bool,
            confidence: float = 0.95) -> dict[str, Any] | None:
    """ln v = c - p ln tau (+ q ln ln tau): p (and q) with t-intervals and, with the log, the
    correlation of the estimates of p and q (None if fewer points than parameters + 2)."""
    t = np.asarray(tau, dtype=float)
    v = np.asarray(value, dtype=float)
    keep = (t > 1) & (v > 0)
    t, v = t[keep], v[keep]
    cols = [np.ones_like(t), -np.log(t)] + ([np.log(np.log(t))] if with_log else [])
    x = np.column_stack(cols)
    y = np.log(v)
    n, k = x.shape
    if n < k + 2:
        return None
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ coef
    s2 = float(resid @ resid) / (n - k)
    cov = s2 * np.linalg.inv(x.T @ x)
    tq = float(stats.t.ppf(0.5 + confidence / 2, n - k))
    se = np.sqrt(np.maximum(np.diag(cov), 0.0))
    out: dict[str, Any] = {
        "exponent": float(coef[1]), "exponent_ci": [float(coef[1] - tq * se[1]),
                                                    float(coef[1] + tq * se[1])],
        "points": int(n), "window": [float(t[0]), float(t[-1])],
        "max_abs_residual": float(np.max(np.abs(resid)))}
    if with_log:
        corr = cov[1, 2] / math.sqrt(cov[1, 1] * cov[2, 2]) if cov[1, 1] * cov[2, 2] > 0 else None
        out.update(log_power=float(coef[2]),
                   log_power_ci=[float(coef[2] - tq * se[2]), float(coef[2] + tq * se[2])],
                   correlation=None if corr is None else float(corr))
    return out


def window_fits(tau: np.ndarray, value: np.ndarray, start: float, with_log: bool,
                width_decades: float = 1.0, step_decades: float = 0.5
                ) -> list[dict[str, Any]]:
    """The form refitted on windows [s, s 10^width] sliding by `step_decades`, the last one
    ending at the horizon T and the first starting at or after `start`; in time order."""
    t = np.asarray(tau, dtype=float)
    v = np.asarray(value)
    end = float(t[-1])
    out = []
    s = end / 10**width_decades
    while s >= float(start) * (1 - 1e-12):
        sel = (t >= s * (1 - 1e-12)) & (t <= s * 10**width_decades * (1 + 1e-12))
        fit = ols_fit(t[sel], v[sel], with_log)
        if fit is not None:
            out.append(fit)
        s /= 10**step_decades
    return out[::-1]


def drift_interval(ci: tuple[float, float] | list[float] | None,
                   fits: list[dict[str, Any]], key: str = "exponent") -> dict[str, Any]:
    """The statistical interval `ci` widened by the spread of `key` across `fits` (see the
    module docstring): the hull of `ci` and the window estimates, extended on both sides by
    their spread S = max - min (the next-order terms differ from window to window; their sign
    at the horizon is not known unless the drift is monotone, and then S covers what is left).
    `drifting`: S exceeds the statistical half-width of the first window's estimate (and the
    round-off floor DRIFT_FLOOR)."""
    est = [f[key] for f in fits]
    if ci is None or not est:
        return {"estimates": est, "drift": None, "spread": None, "drifting": None,
                "interval": None if ci is None else list(ci), "widened_by": None}
    spread = max(est) - min(est)
    half = (fits[0][f"{key}_ci"][1] - fits[0][f"{key}_ci"][0]) / 2
    lo = min(float(ci[0]), min(est)) - spread
    hi = max(float(ci[1]), max(est)) + spread
    steps = np.abs(np.diff(est))
    return {"estimates": est, "drift": est[-1] - est[0], "spread": spread,
            "monotone": bool(np.all(np.diff(est) >= 0) or np.all(np.diff(est) <= 0)),
            # the coverage argument needs a transient that decays across windows
            "drift_decays": bool(len(steps) >= 2 and steps[-1] < steps[-2]),
            "drifting": bool(spread > max(half, DRIFT_FLOOR)), "interval": [lo, hi],
            "widened_by": "spread across windows"}


def law_interval(measured: float, measured_ci: tuple[float, float] | list[float] | None,
                 law_local: float, law_asymptotic: float) -> dict[str, Any]:
    """The asymptotic exponent from a measurement at the horizon: the measurement minus the
    law's bias there (law_local - law_asymptotic), widened by |measured - law_local| and by the
    measurement's statistical half-width."""
    bias = law_local - law_asymptotic
    half = 0.0 if measured_ci is None else (measured_ci[1] - measured_ci[0]) / 2
    gap = abs(measured - law_local)
    centre = measured - bias
    return {"bias": bias, "gap": gap, "estimate": centre,
            "interval": [centre - gap - half, centre + gap + half],
            "widened_by": "the law's next-order term"}
