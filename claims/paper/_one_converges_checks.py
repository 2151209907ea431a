"""The one-converges law checked against a GD run and carried beyond it (T3.5, T3.7, E1).

Given a GD run in the one-converges regime (one mean converging, a cluster of k far means on a
line; canonical coordinates), `analyse` returns, all as plain numbers:

- `law_at_horizon`: the law of `_one_converges_law` in R (offset free: the loss and the converging
  distance as functions of the far radius) against GD at the horizon, leading order and with one
  and two correction terms (relative errors), and the law's clock tau' = clock(R_GD(T)) / eta
  against T;
- `law_flow`: the law as a dynamics (dR/dtau = eta force(R), its truncated series integrated
  exactly) from GD's radius a decade before the horizon to the horizon: R and L predicted there;
- `reduced`: the reduced dynamics of `_one_converges_reduced` started from GD at `tau0`: its
  interpolation and node errors, its agreement with GD on [tau0, T] (largest relative errors of
  R, L and |m_1|) and its reach (log10 tau);
- `table`: L eta tau ln tau, L tau, the local exponent -d ln L / d ln tau and |m_1| eta tau R at
  the horizon (GD) and at tau = 10^10, 10^20, ..., up to the reach (the reduced dynamics);
- `constant`: the measured lim L eta tau ln tau: the reduced dynamics' value at its reach divided
  by the law's relative next-order factor there (Lambda_law / 2k), with an error bound (the
  change of that factor from one to two correction terms, plus the reduced dynamics' own error);
- `horizon_exponents`: GD's and the reduced dynamics' secant exponents over [T/2, T] (loss and
  converging distance), with the interval for the asymptotic exponent that includes the law's
  next-order term;
- `turns`: for each eps, the tau where L tau^(1+eps) stops falling (the local exponent crosses
  1 + eps), from GD where it is reached, else from the reduced dynamics, and whether the local
  exponent stays below 1 + eps (and keeps falling) from there to the reach.

Local exponents of GD are secants of ln L against ln tau between records a factor 2 apart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from scoreclaims.claims.paper._one_converges_law import ClusterLaw, law_constant
from scoreclaims.claims.paper._one_converges_reduced import ReducedDynamics, compare_with_gd
from scoreclaims.claims.paper._rate_intervals import law_interval

TABLE_LOG10_TAU = (10, 20, 50, 100, 1000, 10_000, 100_000)
COMPARE_POINTS = 24  # GD records (log-spaced) at which the reduced dynamics is compared


def gd_local_exponents(tau: np.ndarray, loss: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Secant exponents -Delta ln L / Delta ln tau between each record and the first record at
    or beyond twice its tau; returned at the geometric mid-points."""
    mids, exps = [], []
    for i, t in enumerate(tau):
        if t <= 0:
            continue
        j = int(np.searchsorted(tau, 2 * t))
        if j >= len(tau):
            break
        mids.append(math.sqrt(t * tau[j]))
        exps.append(-math.log(loss[j] / loss[i]) / math.log(tau[j] / t))
    return np.array(mids), np.array(exps)


def _log_spaced(tau: np.ndarray, start: float, count: int) -> np.ndarray:
    """Indices of about `count` records after `start`, log-spaced, the last one included."""
    idx = np.flatnonzero(tau > start)
    if len(idx) <= count:
        return idx
    targets = np.geomspace(tau[idx[0]], tau[idx[-1]], count)
    pick = {int(idx[np.argmin(np.abs(tau[idx] - x))]) for x in targets} | {int(idx[-1])}
    return np.array(sorted(pick))


def law_at_horizon(radius: float, loss: float, m1: float, tau: float, eta: float,
                   k: int) -> dict[str, Any]:
    """The law in R against GD at one record (relative errors, orders 0, 1, 2) and its clock."""
    out: dict[str, Any] = {"radius": radius, "tau": tau}
    for order in (0, 1, 2):
        law = ClusterLaw(k, order)
        out[f"order_{order}"] = {"loss_rel_error": float(law.loss(radius) / loss - 1),
                                 "m1_rel_error": float(law.converging_distance(radius) / m1 - 1),
                                 "clock_ratio": math.exp(law.log_clock(radius)) / eta / tau}
    return out


def law_flow(r_start: float, tau_start: float, tau_end: float, radius_end: float,
             loss_end: float, eta: float, k: int) -> dict[str, Any]:
    """The law's own dynamics from (tau_start, r_start) to tau_end, against GD there."""
    out: dict[str, Any] = {"tau_start": tau_start, "tau_end": tau_end}
    for order in (1, 2):
        law = ClusterLaw(k, order)
        r = law.flow(r_start, tau_end - tau_start, eta)
        out[f"order_{order}"] = {"radius_rel_error": r / radius_end - 1,
                                 "loss_rel_error": float(law.loss(r) / loss_end - 1)}
    return out


def analyse(tau: np.ndarray, loss: np.ndarray, radius: np.ndarray, m1: np.ndarray, eta: float,
            k: int, tau0: float, r_max: float, eps_list: Sequence[float],
            compare_points: int = COMPARE_POINTS) -> dict[str, Any]:
    """See the module docstring. `radius`: the far cluster's distance to the truth at each
    record; `m1`: the converging mean's distance; `tau0`: the record the reduced dynamics
    starts from (the converging mean already on its slow manifold)."""
    tau = np.asarray(tau, dtype=float)
    i0 = int(np.argmin(np.abs(tau - tau0)))
    tau0 = float(tau[i0])
    horizon = float(tau[-1])
    out: dict[str, Any] = {"k": k, "eta": eta, "law_constant": law_constant(k)}
    out["law_at_horizon"] = law_at_horizon(float(radius[-1]), float(loss[-1]), float(m1[-1]),
                                           horizon, eta, k)
    i10 = int(np.argmin(np.abs(tau - horizon / 10)))
    out["law_flow"] = law_flow(float(radius[i10]), float(tau[i10]), horizon, float(radius[-1]),
                               float(loss[-1]), eta, k)
    rd = ReducedDynamics(float(radius[i0]), tau0, eta, k, span=r_max - float(radius[i0]))
    pick = _log_spaced(tau, tau0, compare_points)
    out["reduced"] = {"start_tau": tau0, "start_radius": float(radius[i0]), "r_max": r_max,
                      "reach_log10_tau": rd.reach_log10_tau, **rd.errors(),
                      "vs_gd": compare_with_gd(rd, tau[pick], radius[pick], loss[pick],
                                               m1[pick])}
    mids, exps = gd_local_exponents(tau, loss)
    lam_gd = float(loss[-1] * eta * horizon * math.log(horizon))
    rows = [{"log10_tau": math.log10(horizon), "source": "GD", "L_eta_tau_ln_tau": lam_gd,
             "L_tau": float(loss[-1] * horizon),
             "local_exponent": float(exps[-1]) if len(exps) else None,
             "m1_eta_tau_R": float(m1[-1] * eta * horizon * radius[-1])}]
    reach = rd.reach_log10_tau
    for lt in (*TABLE_LOG10_TAU, reach):
        if lt > reach or lt <= rows[-1]["log10_tau"]:
            continue
        s = rd.at_log10_tau(lt)
        rows.append({"log10_tau": lt, "source": "reduced", "radius": s["radius"],
                     "L_eta_tau_ln_tau": s["L_eta_tau_ln_tau"], "L_tau": s["L_tau"],
                     "local_exponent": s["local_exponent"],
                     "m1_eta_tau_R": 10 ** (s["log10_m1"] + lt) * eta * s["radius"]})
    out["table"] = rows
    last = rows[-1]
    factors = [ClusterLaw(k, order).constant_at(last["log10_tau"], eta) / law_constant(k)
               for order in (1, 2)]
    rd_err = (out["reduced"]["interpolation"]["G"] + out["reduced"]["interpolation"]["L"]
              + out["reduced"]["node_rel_error"] + out["reduced"]["quadrature"])
    value = last["L_eta_tau_ln_tau"] / factors[1]
    out["constant"] = {"value": value, "error": abs(factors[1] / factors[0] - 1) * value
                       + rd_err * value, "at_log10_tau": last["log10_tau"],
                       "raw_at_reach": last["L_eta_tau_ln_tau"], "raw_at_horizon": lam_gd,
                       "law_factor_at_reach": factors[1], "derived": law_constant(k)}
    out["turns"] = [_turn(rd, eps, mids, exps, horizon) for eps in eps_list]
    out["horizon_exponents"] = horizon_exponents(rd, tau, loss, m1)
    # L tau falls wherever the local exponent exceeds 1: GD's last decade, the reduced dynamics'
    # nodes (and the law beyond: the exponent tends to 1 from above like 1 + 1/ln tau)
    grid = np.linspace(0.0, float(rd.edges[-1]), 64)
    rd_exps = [rd.state(float(d))["local_exponent"] for d in grid]
    last_decade = exps[mids >= horizon / 10] if len(exps) else exps
    out["L_tau_falls"] = {"gd_last_decade_min_local_exponent":
                          float(np.min(last_decade)) if len(last_decade) else None,
                          "reduced_min_local_exponent": float(min(rd_exps)),
                          "reduced_local_exponent_monotone": bool(np.all(np.diff(rd_exps) < 0)),
                          "reduced_reach_local_exponent": float(rd_exps[-1])}
    return out


def _secant(rd: ReducedDynamics, t_a: float, t_b: float, key: str) -> float:
    a = rd.at_log10_tau(math.log10(t_a))
    b = rd.at_log10_tau(math.log10(t_b))
    return -(b[key] - a[key]) / math.log10(t_b / t_a)


def horizon_exponents(rd: ReducedDynamics, tau: np.ndarray, loss: np.ndarray,
                      m1: np.ndarray) -> dict[str, Any]:
    """Like-for-like exponents at the horizon: GD's secant over [T/2, T] against the reduced
    dynamics' secant over the same steps, for the loss and the converging distance, with the
    law's asymptotic exponents and log powers (L ~ 2k/(eta tau ln tau), |m_1| ~ 2k/(eta tau R),
    R ~ sqrt(8 ln tau)) and the interval for the asymptotic exponent that includes the law's
    next-order term (`_rate_intervals.law_interval`)."""
    t_b = float(tau[-1])
    ia = int(np.argmin(np.abs(tau - t_b / 2)))
    t_a = float(tau[ia])
    out: dict[str, Any] = {"window": [t_a, t_b]}
    for key, value, column, q in (("loss", loss, "log10_loss", -1.0),
                                  ("approach", m1, "log10_m1", -0.5)):
        gd = -math.log(value[-1] / value[ia]) / math.log(t_b / t_a)
        law = _secant(rd, t_a, t_b, column)
        out[key] = {"gd_secant": gd, "law_secant": law, "law_asymptotic": 1.0,
                    "law_log_power": q,
                    "model_interval": law_interval(gd, None, law, 1.0)}
    return out


def _turn(rd: ReducedDynamics, eps: float, mids: np.ndarray, exps: np.ndarray,
          horizon: float) -> dict[str, Any]:
    """Where L tau^(1+eps) turns: GD when its local exponent crosses 1 + eps and stays below
    over the rest of the run, else the reduced dynamics; and whether the reduced dynamics'
    local exponent stays below 1 + eps from there to its reach."""
    out: dict[str, Any] = {"eps": eps}
    below = exps <= 1 + eps
    gd_turn = None
    if len(exps) and below[-1]:
        first = len(below) - int(np.argmin(below[::-1])) if not below.all() else 0
        gd_turn = float(mids[first])
    rd_turn = rd.turn(eps)
    out["gd_turn_log10_tau"] = None if gd_turn is None else math.log10(gd_turn)
    out["reduced_turn_log10_tau"] = rd_turn
    start = rd_turn if rd_turn is not None else (math.log10(gd_turn) if gd_turn else None)
    out["turn_log10_tau"] = (math.log10(gd_turn) if gd_turn is not None else rd_turn)
    out["turn_source"] = "GD" if gd_turn is not None else ("reduced" if rd_turn else None)
    if start is None:
        out["stays_below_after_turn"] = None
        return out
    # the reduced dynamics' local exponent from the turn (or its start) to its reach
    lo = rd.delta_at(max(start, float(rd.log_tau(0.0)) / math.log(10)) * math.log(10))
    grid = np.linspace(lo, float(rd.edges[-1]), 48)
    vals = [rd.state(float(d))["local_exponent"] for d in grid[1:]]
    out["stays_below_after_turn"] = bool(max(vals) <= 1 + eps)
    out["max_local_exponent_after_turn"] = float(max(vals))
    out["reach_local_exponent"] = float(vals[-1])
    return out
