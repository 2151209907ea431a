"""The three decay forms fitted by `verifiers.rates`, their uncertainties, and local exponents.

Every fit works on the natural log of the value, so that a fit residual is a relative error:

- power law          log v = log C - p log tau                       (OLS and Theil-Sen)
- power with a log   log v = log C - p log tau + q log(log tau)      (OLS)
- geometric          log v = log C + tau log rho                     (OLS)

Uncertainties are ordinary least-squares standard errors with Student-t intervals at the requested
confidence; for a noise-free series they reflect only the systematic misfit of the form, so they
are small when the form is right and honest (large) when it is not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

import numpy as np
from scipy import stats

LN10 = math.log(10.0)
HALF_DECADE = 0.5  # width, in log10 tau, of the bins of local exponents

Interval = tuple[float, float]


def plain(obj: Any) -> Any:
    """Convert dataclasses, tuples, arrays and numpy scalars into JSON-ready Python.

    Non-finite floats become None (JSON has no NaN or infinity).
    """
    if is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: plain(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return [plain(x) for x in obj.tolist()]
    if isinstance(obj, list | tuple):
        return [plain(x) for x in obj]
    if obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, bool | np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        x = float(obj)
        return x if math.isfinite(x) else None
    raise TypeError(f"cannot convert {type(obj).__name__} to plain JSON data")


class PlainData:
    """Mixin: `to_dict()` for frozen result dataclasses."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable plain Python (floats, ints, bools, str, lists, dicts, None)."""
        return plain(self)


@dataclass(frozen=True)
class PowerFit(PlainData):
    """`v = C tau^-p`: OLS exponent with t-interval, Theil-Sen exponent with its interval."""

    exponent: float
    exponent_se: float | None
    exponent_ci: Interval | None
    theil_sen_exponent: float | None
    theil_sen_ci: Interval | None
    log10_constant: float
    max_abs_residual: float
    rms_residual: float
    n_points: int
    confidence: float


@dataclass(frozen=True)
class PowerLogFit(PlainData):
    """`v = C tau^-p (log tau)^q`: OLS exponent p and log power q with t-intervals."""

    exponent: float
    exponent_se: float | None
    exponent_ci: Interval | None
    log_power: float
    log_power_se: float | None
    log_power_ci: Interval | None
    log10_constant: float
    max_abs_residual: float
    rms_residual: float
    n_points: int
    confidence: float


@dataclass(frozen=True)
class GeometricFit(PlainData):
    """`v = C rho^tau`: ratio rho, rate -log rho (per step) with t-intervals."""

    ratio: float
    ratio_ci: Interval | None
    rate: float
    rate_se: float | None
    rate_ci: Interval | None
    log10_constant: float
    max_abs_residual: float
    rms_residual: float
    n_points: int
    confidence: float


@dataclass(frozen=True)
class LocalExponents(PlainData):
    """Local exponents `-d log v / d log tau` per half-decade of tau, and their drift.

    `drift_per_decade` is the least-squares slope of the in-window exponents against log10 tau
    (0 for a power law, about `q / (log tau)^2 * log 10` for a log factor, growing like tau for a
    geometric decay). `log_power_from_drift` fits `p_loc = p - q / log tau` to the in-window
    exponents: a rough, independent estimate of q.
    """

    tau_lo: tuple[float, ...]
    tau_hi: tuple[float, ...]
    tau_mid: tuple[float, ...]
    exponent: tuple[float, ...]
    in_window: tuple[bool, ...]
    drift_per_decade: float | None
    drift_se: float | None
    log_power_from_drift: float | None


def _t_quantile(confidence: float, dof: int) -> float:
    return float(stats.t.ppf(0.5 + confidence / 2.0, dof))


def _ols(design: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Least squares: coefficients, covariance (None without degrees of freedom), residuals."""
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = y - design @ coef
    n, k = design.shape
    if n <= k:
        return coef, None, resid
    s2 = float(resid @ resid) / (n - k)
    cov = s2 * np.linalg.pinv(design.T @ design)
    return coef, cov, resid


def _se_ci(
    value: float, cov: np.ndarray | None, i: int, confidence: float, dof: int
) -> tuple[float | None, Interval | None]:
    if cov is None or dof <= 0:
        return None, None
    se = math.sqrt(max(float(cov[i, i]), 0.0))
    half = _t_quantile(confidence, dof) * se
    return se, (value - half, value + half)


def power_design(ln_tau: np.ndarray) -> np.ndarray:
    return np.column_stack([np.ones_like(ln_tau), -ln_tau])


def power_log_design(ln_tau: np.ndarray) -> np.ndarray:
    return np.column_stack([np.ones_like(ln_tau), -ln_tau, np.log(ln_tau)])


def geometric_design(tau: np.ndarray) -> np.ndarray:
    return np.column_stack([np.ones_like(tau), tau / tau[-1]])


def max_residual(design: np.ndarray, y: np.ndarray) -> float:
    """Largest absolute least-squares residual: the misfit of a form on a window."""
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return float(np.max(np.abs(y - design @ coef)))


def log_power_resolution(ln_tau: np.ndarray, rtol: float) -> float:
    """Smallest |q| whose log factor leaves a pure power-law residual of `rtol` on this window.

    The least-squares fit of `log(log tau)` by `a + b log tau` leaves a largest residual `r` per
    unit of q; log powers below `rtol / r` are invisible within the tolerance.
    """
    r = max_residual(power_design(ln_tau), np.log(ln_tau))
    return math.inf if r <= 0 else rtol / r


def fit_power(ln_tau: np.ndarray, ln_v: np.ndarray, confidence: float) -> PowerFit:
    coef, cov, resid = _ols(power_design(ln_tau), ln_v)
    dof = len(ln_v) - 2
    p = float(coef[1])
    se, ci = _se_ci(p, cov, 1, confidence, dof)
    ts_p: float | None = None
    ts_ci: Interval | None = None
    if len(ln_v) >= 3:
        ts = stats.theilslopes(ln_v, ln_tau, alpha=confidence)
        ts_p = -float(ts.slope)
        ts_ci = (-float(ts.high_slope), -float(ts.low_slope))
    return PowerFit(
        exponent=p,
        exponent_se=se,
        exponent_ci=ci,
        theil_sen_exponent=ts_p,
        theil_sen_ci=ts_ci,
        log10_constant=float(coef[0]) / LN10,
        max_abs_residual=float(np.max(np.abs(resid))),
        rms_residual=float(np.sqrt(np.mean(resid**2))),
        n_points=len(ln_v),
        confidence=confidence,
    )


def fit_power_log(ln_tau: np.ndarray, ln_v: np.ndarray, confidence: float) -> PowerLogFit:
    coef, cov, resid = _ols(power_log_design(ln_tau), ln_v)
    dof = len(ln_v) - 3
    p, q = float(coef[1]), float(coef[2])
    p_se, p_ci = _se_ci(p, cov, 1, confidence, dof)
    q_se, q_ci = _se_ci(q, cov, 2, confidence, dof)
    return PowerLogFit(
        exponent=p,
        exponent_se=p_se,
        exponent_ci=p_ci,
        log_power=q,
        log_power_se=q_se,
        log_power_ci=q_ci,
        log10_constant=float(coef[0]) / LN10,
        max_abs_residual=float(np.max(np.abs(resid))),
        rms_residual=float(np.sqrt(np.mean(resid**2))),
        n_points=len(ln_v),
        confidence=confidence,
    )


def fit_geometric(tau: np.ndarray, ln_v: np.ndarray, confidence: float) -> GeometricFit:
    scale = float(tau[-1])
    coef, cov, resid = _ols(geometric_design(tau), ln_v)
    dof = len(ln_v) - 2
    rate = -float(coef[1]) / scale
    se, ci = _se_ci(-float(coef[1]), cov, 1, confidence, dof)
    rate_se = None if se is None else se / scale
    rate_ci = None if ci is None else (ci[0] / scale, ci[1] / scale)
    ratio_ci = None if rate_ci is None else (math.exp(-rate_ci[1]), math.exp(-rate_ci[0]))
    return GeometricFit(
        ratio=math.exp(-rate),
        ratio_ci=ratio_ci,
        rate=rate,
        rate_se=rate_se,
        rate_ci=rate_ci,
        log10_constant=float(coef[0]) / LN10,
        max_abs_residual=float(np.max(np.abs(resid))),
        rms_residual=float(np.sqrt(np.mean(resid**2))),
        n_points=len(ln_v),
        confidence=confidence,
    )


def half_decade_bins(tau_first: float, tau_last: float) -> list[tuple[float, float]]:
    """Half-decades `[10^(k/2), 10^((k+1)/2)]` lying inside `[tau_first, tau_last]`."""
    eps = 1e-9
    k0 = math.ceil(2.0 * math.log10(tau_first) - eps)
    k1 = math.floor(2.0 * math.log10(tau_last) + eps)
    return [(10.0 ** (k * HALF_DECADE), 10.0 ** ((k + 1) * HALF_DECADE)) for k in range(k0, k1)]


def local_exponents(
    tau: np.ndarray, ln_v: np.ndarray, window: tuple[float, float] | None
) -> LocalExponents:
    """Local exponents per half-decade inside the sampled range of `tau`.

    Slope of log v against log tau across each half-decade: the least-squares slope of the samples
    inside it when there are at least three, otherwise the slope between the log-log interpolated
    values at its two ends (exact for a power law, whatever the sampling).
    """
    ln_tau = np.log(tau)
    lo_l: list[float] = []
    hi_l: list[float] = []
    mid_l: list[float] = []
    exp_l: list[float] = []
    inw_l: list[bool] = []
    for lo, hi in half_decade_bins(float(tau[0]), float(tau[-1])):
        inside = (tau >= lo * (1 - 1e-12)) & (tau <= hi * (1 + 1e-12))
        if np.count_nonzero(inside) >= 3:
            slope = float(np.polyfit(ln_tau[inside], ln_v[inside], 1)[0])
        else:
            a, b = np.interp([math.log(lo), math.log(hi)], ln_tau, ln_v)
            slope = float((b - a) / (math.log(hi) - math.log(lo)))
        lo_l.append(lo)
        hi_l.append(hi)
        mid_l.append(math.sqrt(lo * hi))
        exp_l.append(-slope)
        inw_l.append(
            window is not None and lo >= window[0] * (1 - 1e-12) and hi <= window[1] * (1 + 1e-12)
        )
    drift, drift_se, q_drift = _drift(mid_l, exp_l, inw_l)
    return LocalExponents(
        tau_lo=tuple(lo_l),
        tau_hi=tuple(hi_l),
        tau_mid=tuple(mid_l),
        exponent=tuple(exp_l),
        in_window=tuple(inw_l),
        drift_per_decade=drift,
        drift_se=drift_se,
        log_power_from_drift=q_drift,
    )


def _drift(
    mid: Sequence[float], expo: Sequence[float], in_window: Sequence[bool]
) -> tuple[float | None, float | None, float | None]:
    x = np.array([math.log10(m) for m, w in zip(mid, in_window, strict=True) if w])
    y = np.array([e for e, w in zip(expo, in_window, strict=True) if w])
    if len(x) < 2:
        return None, None, None
    coef, cov, _ = _ols(np.column_stack([np.ones_like(x), x]), y)
    drift = float(coef[1])
    drift_se = None if cov is None else math.sqrt(max(float(cov[1, 1]), 0.0))
    q = None
    if len(x) >= 3:
        inv = 1.0 / (x * LN10)
        c2, *_ = np.linalg.lstsq(np.column_stack([np.ones_like(inv), -inv]), y, rcond=None)
        q = float(c2[1])
    return drift, drift_se, q
