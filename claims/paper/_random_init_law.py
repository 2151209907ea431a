"""T3.5's and T3.7's rate conclusions judged on the one-converges law (`_one_converges_law`), its
reduced dynamics (`_one_converges_reduced`) and their checks against GD (`_one_converges_checks`).

Two settings, judged the same way:

- the long runs beyond the hypotheses (n = 2, d = 1, M_0 = 4): `rate_law` checks the law and the
  reduced dynamics against GD on the run's overlap and carries the reduced dynamics to
  `law_radius` (tau ~ 1e107 at R = 45 on the float64 engine, ~10^(1.2e5) at R = 1500 on arb);
- the runs inside the hypotheses (means ~1e9 to 1e14 from the truth): over the float64 horizon
  the loss is the closest mean's share m_1^2, contracting by (1 - 2 eta) per step (the geometric
  phase). `far_law` continues exactly from there: m_1 reaches its slow manifold
  m_1* ~ exp(-R_0^2/8) after tau_geo = T + ln(m_1(T) / m_1*) / -ln(1 - 2 eta) steps; then the
  loss sits on the plateau L*(R_0) until the escaping mean leaves R_0 (~exp(R_0^2/8) steps), and
  the law takes over. The reduced dynamics from (R_0, tau_geo), its gradients certified by arb at
  the far configuration (the other far means as frozen spectators: their forces are smaller by
  factors exp(-R_0 Delta / 2) and more), runs `far_efolds` e-folds of the loss past the plateau.
  For n = 3 (a same-side pair) this is the inner far mean's escape; the pair's later merger into a
  cluster (constant 4 instead of 2) is the law's statement (**(derived)**, not computed here).

The rate conclusions: L = O(1/tau) holds when L tau falls from the horizon to the reduced
dynamics' reach and the reduced dynamics meets the law there (so L tau ~ 2k / (eta ln tau) -> 0
beyond); L tau^(1+eps) grows without bound when the local exponent falls below 1 + eps and stays
below to the reach, where the law's 1 + 1/ln tau continues it; L >= c / tau (eps = 0) fails when
L tau falls to the reach with the law's constant there (it tends to 0).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import mpmath
import numpy as np

from scoreclaims.claims.paper._one_converges_checks import analyse
from scoreclaims.claims.paper._one_converges_law import ClusterLaw, law_constant
from scoreclaims.claims.paper._one_converges_reduced import ReducedDynamics
from scoreclaims.claims.paper._rate_intervals import drift_interval, window_fits
from scoreclaims.verifiers import RateFit

# the reduced dynamics meets the law at the far runs' reach when their L eta tau ln tau agree to
# this relative level (a priori: the law's next order there is O(R_0^-4) ~ 1e-48, the reduced
# dynamics' own error ~1e-15)
FAR_LAW_RTOL = 1e-9


def rate_law(tau: np.ndarray, loss: np.ndarray, dist: np.ndarray, conv: int,
             far: Sequence[int], eta: float, r_max: float, eps_list: Sequence[float],
             start_eta_tau: float) -> dict[str, Any]:
    """The law's checks on a long run with one far mean per side or a coincident cluster on one
    side (here: n = 2). `start_eta_tau`: the reduced dynamics starts at the record nearest
    tau = start_eta_tau / eta (the converging mean's transient, rate 2 eta, long gone)."""
    radius = np.mean(dist[:, list(far)], axis=1)
    m1 = dist[:, conv]
    return analyse(tau, loss, radius, m1, eta, len(far), start_eta_tau / eta, r_max, eps_list)


def free_fit_diagnostic(tau: np.ndarray, value: np.ndarray, fit: RateFit,
                        start: float) -> dict[str, Any]:
    """The free power-log fit, labelled a diagnostic: its figures, the correlation of its two
    parameters, and its drift across one-decade windows (widened intervals beside)."""
    windows = window_fits(tau, value, start, with_log=True)
    last = windows[-1] if windows else None
    return {"label": "diagnostic (the free power-log form; the rate is judged on the law)",
            "classification": fit.classification, "exponent": fit.exponent,
            "exponent_ci": fit.exponent_ci, "log_power": fit.log_power,
            "log_power_ci": fit.log_power_ci,
            "window": [fit.window.tau_start, fit.window.tau_end],
            "correlation_last_window": None if last is None else last["correlation"],
            "windows": [{k: w[k] for k in ("window", "exponent", "log_power", "correlation")}
                        for w in windows],
            "exponent_drift": drift_interval(fit.exponent_ci, windows, "exponent"),
            "log_power_drift": drift_interval(fit.log_power_ci, windows, "log_power")}


# ------------------------------------------------------------------------------ inside

def far_law(final_means: Sequence[float], closest: int, m1_final: float, eta: float,
            steps: int, eps_list: Sequence[float], efolds: float) -> dict[str, Any]:
    """The exact continuation of an inside run past its geometric phase (module docstring)."""
    others = sorted((i for i in range(len(final_means)) if i != closest),
                    key=lambda i: abs(final_means[i]))
    esc = others[0]
    sign = 1.0 if final_means[esc] > 0 else -1.0
    spectators = tuple(repr(sign * float(final_means[i])) for i in others[1:])
    r0 = abs(float(final_means[esc]))
    with mpmath.workdps(40 + 2 * int(math.log10(r0))):
        r0m = mpmath.mpf(repr(r0))
        m_star = ClusterLaw(1, 2).converging_distance(r0m)
        rate = -math.log(1 - 2 * eta)
        tau_geo = steps + float((mpmath.log(abs(m1_final)) - mpmath.log(m_star)) / rate)
        log10_m_star = float(mpmath.log10(m_star))
    span = 4 * efolds / r0
    rd = ReducedDynamics(repr(r0), tau_geo, eta, 1, span=span, spectators=spectators,
                         boundaries=[0.0, span])
    grid = np.linspace(0.0, span, 40)
    states = [rd.state(float(d)) for d in grid]
    exps = [s["local_exponent"] for s in states]
    end = states[-1]
    with mpmath.workdps(rd.dps):
        law_end = ClusterLaw(1, 2).constant_at_radius(rd.origin + mpmath.mpf(span), eta)
    with mpmath.workdps(rd.dps):
        ln_plateau = states[0]["log10_loss"] * mpmath.log(10)
        turns = [_geometric_turn(ln_plateau, m1_final, steps, rate, eps) for eps in eps_list]
    out: dict[str, Any] = {
        "escaping_mean": esc, "spectators": list(others[1:]), "R0": r0,
        "log10_m1_star": log10_m_star, "tau_geo": tau_geo,
        "log10_tau_geo": math.log10(tau_geo),
        "plateau_log10_loss": states[0]["log10_loss"],
        "reach_log10_tau": end["log10_tau"], "efolds": efolds,
        "sup_L_tau": max(s["L_tau"] for s in states),
        "L_tau_at_reach": end["L_tau"],
        "L_eta_tau_ln_tau_at_reach": end["L_eta_tau_ln_tau"], "law_at_reach": law_end,
        "phase_constant": law_constant(1), "final_constant": law_constant(len(others)),
        "local_exponent_max_after_geo": float(max(exps)),
        **{f"reduced_{k}": v for k, v in rd.errors().items()}}
    out["turns"] = [{"eps": eps, "turn_log10_tau": turn,
                     "turn_source": "the closest mean's geometric share falls below the "
                                    "plateau",
                     "stays_below_after_turn": bool(max(exps) <= 1 + eps),
                     "max_local_exponent_after_turn": float(max(exps)),
                     "reach_local_exponent": end["local_exponent"]}
                    for eps, turn in zip(eps_list, turns, strict=True)]
    return out


def _geometric_turn(ln_plateau: Any, m1_final: float, steps: int, rate: float,
                    eps: float) -> float:
    """log10 tau where L = m_1(tau)^2 + L* has local exponent 1 + eps, m_1(tau) = m_1(T)
    e^{-rate (tau - T)}: 2 rate tau m_1^2 / (m_1^2 + L*) = 1 + eps, i.e. (m_1^2 << L* there)
    2 ln m_1(tau) = ln L* + ln((1 + eps) / (2 rate tau)) (fixed point in tau)."""
    tau = mpmath.mpf(steps)
    for _ in range(100):
        new = steps + (2 * mpmath.log(abs(m1_final)) - ln_plateau
                       - mpmath.log((1 + eps) / (2 * rate * tau))) / (2 * rate)
        if abs(new - tau) <= 1e-12 * new:
            tau = new
            break
        tau = new
    return float(mpmath.log10(tau))


# ------------------------------------------------------------------------------ verdicts

def judge_o_one_over_tau(kind: str, law: dict[str, Any], law_rtol: float
                         ) -> tuple[bool | None, str]:
    if kind == "far":
        return _judge_far(law)
    vs = law["reduced"]["vs_gd"]
    falls = law["L_tau_falls"]
    const = law["constant"]
    hz = law.get("law_at_horizon") or {}
    in_r = ""
    if hz:
        in_r = (f"; the law in R at the horizon (R = {hz['radius']:.5g}): L off by "
                f"{hz['order_1']['loss_rel_error']:+.1e} / {hz['order_2']['loss_rel_error']:+.1e}"
                f" with one / two correction terms")
    head = (f"law (derived): L eta tau ln tau -> {const['derived']:g}; measured "
            f"{const['raw_at_horizon']:.4f} at the horizon (GD), "
            f"{const['raw_at_reach']:.6f} at tau = 10^{const['at_log10_tau']:.5g} (reduced "
            f"dynamics), limit {const['value']:.7f} +- {const['error']:.1e}; reduced dynamics vs "
            f"GD on [{vs['tau_start']:g}, {vs['tau_end']:g}]: largest relative error of L "
            f"{vs['max_rel_error_loss']:.1e}, of R {vs['max_rel_error_radius']:.1e}" + in_r)
    if vs["max_rel_error_loss"] > law_rtol:
        return None, head + f" > {law_rtol:g}: the reduced dynamics is not validated"
    gd_min = falls["gd_last_decade_min_local_exponent"]
    if (gd_min is not None and gd_min <= 1) or falls["reduced_min_local_exponent"] <= 1:
        return False, head + (f"; L tau rises somewhere: local exponents >= {gd_min} (GD, last "
                              f"decade), {falls['reduced_min_local_exponent']:.6f} (reduced)")
    if abs(const["value"] - const["derived"]) > const["error"]:
        return None, head + ": the reduced dynamics and the law disagree at the reach"
    return True, head + (f"; L tau falls throughout (local exponent >= {gd_min:.4g} over GD's "
                         f"last decade, >= {falls['reduced_min_local_exponent']:.6f} to the "
                         "reach), so L tau -> 0 like 2k / (eta ln tau): O(1/tau) holds, and "
                         "the rate is 1/(tau log tau), not faster")


def _judge_far(law: dict[str, Any]) -> tuple[bool | None, str]:
    text = (f"after the geometric phase (it ends at tau_geo = 10^{law['log10_tau_geo']:.4g}) the "
            f"loss sits at 10^{law['plateau_log10_loss']:.6g} until the escape; on the reduced "
            f"dynamics (certified arb gradients, {law['efolds']:g} e-folds of the loss past the "
            f"plateau, to tau = 10^{law['reach_log10_tau']:.6g}) L tau <= "
            f"{law['sup_L_tau']:.4g} and L eta tau ln tau reaches "
            f"{law['L_eta_tau_ln_tau_at_reach']:.12f} (law {law['law_at_reach']:.12f}; limit "
            f"{law['phase_constant']:g} while one mean escapes, {law['final_constant']:g} once "
            "all have, derived)")
    gap = abs(law["L_eta_tau_ln_tau_at_reach"] / law["law_at_reach"] - 1)
    if gap > FAR_LAW_RTOL:
        return None, text + f": the reduced dynamics has not reached the law ({gap:.1e})"
    return True, text + (": L tau = Lambda / (eta ln tau) stays bounded and tends to 0 (its "
                         "fall, of relative size 1/ln tau ~ 1e-24 per e-fold, is below any "
                         "float64 local exponent: it is the law's, through Lambda)")


def judge_lower_bound(law: dict[str, Any], eps: float) -> tuple[bool | None, str]:
    row = next(r for r in law["turns"] if r["eps"] == eps)
    if row["turn_log10_tau"] is None:
        return None, "the local exponent does not fall below 1 + eps within the reach"
    text = (f"L tau^(1+{eps:g}) turns at tau = 10^{row['turn_log10_tau']:.4g} "
            f"({row['turn_source']}); from there to the reach the local exponent is at most "
            f"{row['max_local_exponent_after_turn']:.7f} (1 + eps = {1 + eps:g}), "
            f"{row['reach_local_exponent']:.7f} at the reach")
    if not row["stays_below_after_turn"]:
        return False, text + ": L tau^(1+eps) falls again after its turn"
    return True, text + ("; beyond, the law's local exponent 1 + 1/ln tau + ... < 1 + eps: "
                         "L tau^(1+eps) ~ tau^eps / ln tau grows without bound")


def judge_eps0(kind: str, law: dict[str, Any], law_rtol: float
               ) -> tuple[bool | None, str]:
    """'L >= c / tau for some c > 0' (T3.7 at eps = 0): false when L tau -> 0, judged on the
    same validated law as O(1/tau)."""
    if kind == "far":
        holds, text = _judge_far(law)
        return (None if holds is None else False), text
    holds, text = judge_o_one_over_tau("rate", law, law_rtol)
    if holds is not True:
        return None, text
    rows = law["table"]
    return False, (f"L tau = {rows[0]['L_tau']:.4g} at the horizon, {rows[-1]['L_tau']:.4g} at "
                   f"tau = 10^{rows[-1]['log10_tau']:.5g}, and the law's L tau ~ 2k/(eta ln tau)"
                   " -> 0 beyond: no c > 0 bounds L tau from below")
