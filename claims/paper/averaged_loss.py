"""Beyond the paper (issue 27, question 2 of reviewer 3): the time-averaged loss over noise
levels. Claims AVG (from T3.5's random far starts, GD on the averaged loss: which means converge,
against the derived capture radius R*_avg; the phase diagram in (t_min, t_max); the
conjecture "t_max above T2.1's threshold gives global convergence" as a known-false variant,
and "below it all still converge" as another) and AVG.stationary (T3.1's stationary point
survives averaging), with the loss rate along converging runs as a diagnostic.

Set-up (`_averaged_loss`, `_averaged_runs`): data-space means m_tilde = mu_tilde - mu_tilde*,
L_t = L(e^{-t} m_tilde) (L the engine's canonical loss), L_avg = int lambda(t) L_t dt over
[t_min, t_max] with lambda normalised to integrate to 1 there (uniform, or 1 - e^{-2t}),
a 12-node Gauss-Legendre rule in t with its own error estimate (against 24 nodes, plus the
engine's per-node bounds), the gradient exact term by term; GD with step eta on the data-space
means (not on canonical ones). Derived here: the ray identity (uniform weight)
d L_avg(s u)/ds = [L(s e^{-t_min} u) - L(s e^{-t_max} u)] / (s (t_max - t_min)).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from scoreclaims.claims import (
    NOT_APPLICABLE,
    Claim,
    Domain,
    Expectation,
    Instance,
    InstanceOutcome,
    Params,
    Predicate,
    constructed,
)
from scoreclaims.claims.paper._averaged_loss import threshold
from scoreclaims.claims.paper._averaged_runs import capture_radius, family_scan, sweep
from scoreclaims.claims.paper._random_init_runs import R_CONV, R_DIV, initial_means
from scoreclaims.claims.paper._rate_intervals import ols_fit

ETA = 1.0
NODES = 12
T_MINS = (0.0, 0.5, 1.0)
T_MAXS = (2.0, 4.0, 6.0)


def sweep_instance(n: int, m0: float, t_min: float, t_max: float, seeds: int,
                   weight: str = "uniform") -> dict[str, Any]:
    return {"kind": "sweep", "n": n, "M0": m0, "t_min": t_min, "t_max": t_max,
            "weight": weight, "seeds": seeds}


def _thresholds(i: Instance) -> list[float]:
    return [threshold(initial_means(int(i["n"]), 1, float(i["M0"]), s))
            for s in range(int(i["seeds"]))]


def above(i: Instance) -> bool:
    """Every seed of the sweep has t_max above its T2.1 threshold (log n + log M + 2)."""
    return i["kind"] == "sweep" and float(i["t_max"]) > max(_thresholds(i))


def below(i: Instance) -> bool:
    return i["kind"] == "sweep" and float(i["t_max"]) < min(_thresholds(i))


def inside(i: Instance) -> bool:
    """The capture rule's hypotheses: n = 2, uniform weight (the ray identity's setting)."""
    return i["kind"] == "sweep" and int(i["n"]) == 2 and i["weight"] == "uniform"


def _membership(i: Instance) -> str:
    if i["kind"] != "sweep":
        return "not a sweep"
    thr = ", ".join(f"{t:.3g}" for t in _thresholds(i))
    return (f"n = {i['n']}{'' if int(i['n']) == 2 else ' (the rule is derived for n = 2)'}; "
            f"t_max = {float(i['t_max']):g} against T2.1's thresholds {thr}")


# quick: chosen for cost (every seed decided at 2^11 steps); the full grid has undecided seeds
QUICK_SWEEPS = [sweep_instance(2, 6.0, 0.0, 2.0, 2), sweep_instance(2, 12.0, 0.0, 6.0, 1)]
FULL_SWEEPS = ([sweep_instance(n, m0, a, b, 2) for n in (2, 3, 5) for m0 in (4.0, 6.0)
                for a in T_MINS for b in T_MAXS]
               + [sweep_instance(2, 12.0, a, 6.0, 2) for a in T_MINS])


def run(instance: Instance, params: Params) -> InstanceOutcome:
    if instance["kind"] == "sweep":
        n, m0 = int(instance["n"]), float(instance["M0"])
        a, b = float(instance["t_min"]), float(instance["t_max"])
        runs = sweep(n, m0, a, b, instance["weight"], list(range(int(instance["seeds"]))), params)
        radius = capture_radius(a, b) if instance["weight"] == "uniform" else None
        rates = []
        for r in runs:
            if r["all_converge"]:
                tau = np.array([x[0] for x in r["losses"]], dtype=float)
                val = np.array([x[1] for x in r["losses"]], dtype=float)
                keep = tau >= tau[-1] / 2
                fit = ols_fit(tau[keep], val[keep], with_log=False)
                if fit is not None:
                    rates.append({"seed": r["seed"], "tau": r["tau"],
                                  "exponent": fit["exponent"], "ci": fit["exponent_ci"],
                                  "final_loss": float(val[-1])})
        for r in runs:
            r.pop("losses")
            # the n = 2 capture rule (derived for one mean at the truth, uniform weight)
            r["rule_all_converge"] = (None if radius is None or n != 2
                                      else max(r["initial_distances"]) < radius)
        metrics = {"kind": "sweep", "n": n, "M0": m0, "t_min": a, "t_max": b,
                   "weight": instance["weight"], "runs": runs, "capture_radius_n2": radius,
                   "rates": rates}
        return InstanceOutcome(metrics=metrics)
    scan = family_scan(int(instance["n"]), instance["weight"], float(instance["t_min"]),
                       float(instance["t_max"]), params["nodes"],
                       [float(s) for s in np.geomspace(0.5, float(instance["s_max"]), 30)])
    return InstanceOutcome(metrics={"kind": "family", **{k: instance[k] for k in (
        "n", "weight", "t_min", "t_max")}, **scan})


# ------------------------------------------------------------------------------ predicates

def all_converge(o: InstanceOutcome, p: Params) -> tuple[bool | None, str]:
    runs = o.metrics["runs"]
    text = "; ".join(f"seed {r['seed']}: threshold {r['threshold']:.3g}, "
                     + (f"converging {r['converged']}, diverging {r['diverged']} at tau = "
                        f"{r['tau']}" if r["decided"] else f"undecided at {r['tau']} "
                        f"({r['reason'][:120]})") for r in runs)
    if any(r["decided"] and not r["all_converge"] for r in runs):
        return False, text
    if all(r["decided"] for r in runs):
        return True, text
    return None, text


def capture_rule(o: InstanceOutcome, p: Params) -> tuple[bool | None, str]:
    m = o.metrics
    radius = m["capture_radius_n2"]
    runs = m["runs"]
    text = f"R*_avg({m['t_min']:g}, {m['t_max']:g}) = {radius}; " + "; ".join(
        f"seed {r['seed']}: farther start {max(r['initial_distances']):.4g}, rule "
        f"{'all converge' if r['rule_all_converge'] else 'the far mean escapes'}, run "
        + ("undecided" if not r["decided"] else "all converge" if r["all_converge"]
           else f"diverging {r['diverged']}") for r in runs)
    if radius is None:
        return None, text + " (no sign change found)"
    if any(r["decided"] and r["all_converge"] != r["rule_all_converge"] for r in runs):
        return False, text
    if all(r["decided"] for r in runs):
        return True, text
    return None, text


def family_sign_change(o: InstanceOutcome, p: Params) -> tuple[bool | None, str]:
    m = o.metrics
    rows = m["rows"]
    text = (f"dL_avg/ds on s in [{rows[0][0]:.3g}, {rows[-1][0]:.3g}] ({m['resolved']} of "
            f"{len(rows)} signs resolved by the error estimate)")
    if m["bracket"] is not None:
        return True, text + f"; resolved sign change + -> - in s* bracket {m['bracket']}"
    if all(v > e for _, v, e in rows):
        return False, text + "; positive everywhere (resolved): no stationary point on the grid"
    return None, text + "; no resolved sign change"


def no_stationary_point(o: InstanceOutcome, p: Params) -> tuple[bool | None, str]:
    """The known-false reading: d L_avg/ds > 0 on the whole grid (no stationary point)."""
    holds, text = family_sign_change(o, p)
    if holds is True:
        return False, text
    return (True, text) if holds is False else (None, text)


def identity_root(o: InstanceOutcome, p: Params) -> tuple[bool | None, str]:
    m = o.metrics
    if m["weight"] != "uniform":
        return NOT_APPLICABLE, "the ray identity is derived for the uniform weight"
    if m["bracket"] is None:
        return None, "no resolved bracket"
    root = m.get("identity_root")
    ok = root is not None and m["bracket"][0] <= root <= m["bracket"][1]
    return ok, f"ray identity root {root} against the measured bracket {m['bracket']}"


# ------------------------------------------------------------------------------ summary

def summarize(results: Sequence[Any]) -> dict[str, Any]:
    phase: dict[str, Any] = {}
    rates = []
    for r in results:
        m = r.metrics
        if m.get("kind") != "sweep" or "runs" not in m:
            continue
        key = f"n={m['n']},M0={m['M0']:g},t=[{m['t_min']:g},{m['t_max']:g}]"
        phase[key] = {"n": m["n"], "M0": m["M0"], "t_min": m["t_min"], "t_max": m["t_max"],
                      "all_converge": sum(bool(x["all_converge"]) for x in m["runs"]),
                      "some_diverge": sum(x["decided"] and not x["all_converge"]
                                          for x in m["runs"]),
                      "undecided": sum(not x["decided"] for x in m["runs"]),
                      "above_threshold": sum(x["above_threshold"] for x in m["runs"]),
                      "seeds": len(m["runs"]), "capture_radius_n2": m["capture_radius_n2"]}
        rates += [{"key": key, **x} for x in m["rates"]]
    return {"phase": phase, "rate_diagnostic": rates}


STATEMENT = (
    "Beyond the paper (issue 27, reviewer 3's open question: a time-averaged loss over noise "
    "levels). Derived (**(derived)** heuristic on an exact identity): for the uniform weight, "
    "along any ray d L_avg(s u)/ds = [L(s e^{-t_min} u) - L(s e^{-t_max} u)] / (s (t_max - "
    "t_min)) (substitute r = e^{-t} s); for n = 2 with one mean at the truth the ray is (0, R), "
    "so a far mean is pulled in below R*_avg(t_min, t_max) = e^{t_min} R*_avg(0, t_max - t_min) "
    "and pushed out beyond it (R*_avg(0, T) = 3.77, 5.10, 6.32, 7.40, 8.36, 9.23 for T = 1..6, "
    "growing like sqrt(T): the far levels' loss is Gaussian-small). Claim: from T3.5's far "
    "starts with n = 2, all means converge iff the farther mean starts within R*_avg (the "
    "closer one falls to the truth first, as in T3.5's phase 1). The open question's "
    "conjecture (reviewer 3, the suite's reading) that a window reaching T2.1's threshold "
    "(t_max > log n + log M + 2, M the largest data-space distance) gives global convergence "
    "is therefore expected false (the threshold grows like log M, R*_avg only like "
    "sqrt(t_max)): registered as a known-false variant, with a counterexample inside its "
    "hypotheses (n = 2, M_0 = 12, t = [0, 6]: thresholds 5.2 and 5.1, R*_avg = 9.23). "
    "Encoded: data-space means shared across levels (mu_{i,t} = e^{-t} mu_tilde_i), so "
    "L_t = L(e^{-t} m_tilde) with L the canonical loss; L_avg = int lambda L_t dt with lambda "
    "normalised to integrate to 1 over [t_min, t_max] (uniform here), a 12-node Gauss-Legendre "
    "rule in t (error: against 24 nodes plus the engine's per-node bounds), the gradient "
    "sum_q W_q e^{-t_q} grad L(e^{-t_q} m_tilde) exact from the engine; GD with step eta = 1 "
    "on the data-space means; starts i.i.d. N(M_0 e_1, 1), d = 1 (T3.5's law and draws); each "
    "seed classified as T3.5's sweeps do (r_conv = 0.5, r_div = 3 in data space, the last "
    "gradient's sign certified against the averaged error estimate) at horizons doubling from "
    "64 to 2^11 steps (set a priori for cost); undecided seeds make an instance inconclusive, "
    "never pass. The phase diagram: n = 2, 3, 5, M_0 in {4, 6}, t_min in {0, 0.5, 1}, t_max in "
    "{2, 4, 6} (T2.1's thresholds of these seeds lie between 4.1 and 5.6), 2 seeds each, plus "
    "n = 2, M_0 = 12 at t_max = 6; n = 3, 5 are exploration (the rule is derived for n = 2). "
    "Measured, diagnostic only: the loss exponent along converging runs over [T/2, T] (OLS on "
    "ln L_avg with its interval); nothing is derived for it, and the full profile's fits "
    "(0.5 to 9.4 over 68 converging runs, intervals that exclude each other) show that "
    "windows ending at 2^11 steps or earlier are transients, not a rate. "
    "Registered **undecidable in the full profile** (measured before registering): every "
    "decided n = 2 seed (37 of 42) agrees with the capture rule, but 5 seeds in 4 of the 21 "
    "n = 2 sweeps are undecided at 2^11 steps (a near mean pushed out while the far one "
    "arrives; far means at M_0 = 12 still moving slowly, in or out; a converging pair still "
    "at 0.55 > r_conv), so the verdict there is inconclusive, not pass. Phase diagram "
    "(exploration, 2 seeds a cell): a mean diverges at t = [0, 2] (n = 2, 5 at M_0 = 6, "
    "R*_avg = 5.10 for n = 2; n = 3 at M_0 = 4, 6), at t = [0, 4] (n = 3, M_0 = 6) and at "
    "t = [0.5, 2] (n = 3, 5, M_0 = 6); above T2.1's "
    "threshold no mean diverges from M_0 <= 6 (many seeds undecided at n = 3, 5), while at "
    "M_0 = 12, t = [0, 6] one does (the variant); raising t_min helps more than raising t_max "
    "(R*_avg grows like e^{t_min}), and every t_min = 1 cell converged or stayed undecided.")

AVG = Claim(
    id="AVG",
    paper_ref="beyond the paper (issue 27 q2)",
    regime="random init",
    statement_md=STATEMENT,
    hypotheses=Domain(
        "sweeps with n = 2 and the uniform weight (the ray identity's setting); n = 3, 5 are "
        "exploration (the phase diagram)",
        contains=inside,
        instances={"quick": QUICK_SWEEPS, "full": FULL_SWEEPS},
        caveat="the capture rule is the suite's derived heuristic, not the paper's",
        membership=_membership,
    ),
    conclusions=(Predicate("capture_rule", "n = 2: every decided seed has all means "
                           "converging iff its farther mean starts within R*_avg(t_min, t_max)",
                           capture_rule),),
    run=run,
    parameters={"eta": ETA, "first": 64, "max_steps": 1 << 11, "nodes": NODES,
                "r_conv": R_CONV, "r_div": R_DIV},
    summarize=summarize,
    profile_expectations={"full": Expectation.UNDECIDABLE},
)

AVG_GLOBAL = AVG.variant(
    "global-above-threshold",
    "Known false (**(derived)** from the ray identity; the open question's conjecture, the "
    "suite's reading): 'once t_max is above T2.1's threshold log n + log M + 2, averaging gives "
    "global convergence: every mean converges from T3.5's far starts'. Expected false where a "
    "far mean starts beyond R*_avg while t_max exceeds the threshold (n = 2, M_0 = 12, "
    "t = [0, 6]).",
    hypotheses=Domain("sweeps whose every seed has t_max above its T2.1 threshold",
                      contains=above,
                      instances={"quick": [QUICK_SWEEPS[1]],
                                 "full": [i for i in FULL_SWEEPS if above(i)]}),
    conclusions=(Predicate("all_means_converge", "every seed: all n means converge (T3.5's "
                           "classification in data space)", all_converge),),
)

AVG_BELOW = AVG.variant(
    "below-threshold",
    "Known false (**(derived)** from the ray identity): 'with t_max below T2.1's threshold all "
    "means still converge'. Expected false where a far mean starts beyond R*_avg (for n = 2, "
    "t = [0, 2]: R*_avg = 5.10 against starts near 6): it is pushed out, as at a single level.",
    hypotheses=Domain("sweeps whose every seed has t_max below its threshold", contains=below,
                      instances={"quick": [QUICK_SWEEPS[0]],
                                 "full": [i for i in FULL_SWEEPS if below(i)]}),
    conclusions=(Predicate("all_means_converge", "every seed: all n means converge",
                           all_converge),),
)


def family_instance(weight: str, t_min: float, t_max: float, s_max: float) -> dict[str, Any]:
    return {"kind": "family", "n": 3, "weight": weight, "t_min": t_min, "t_max": t_max,
            "s_max": s_max}


QUICK_FAMILY = [family_instance("uniform", 0.0, 3.0, 60.0),
                family_instance("ddpm", 0.0, 3.0, 60.0)]
FULL_FAMILY = [family_instance(w, a, b, 400.0) for w in ("uniform", "ddpm")
               for a, b in ((0.0, 1.0), (0.0, 3.0), (0.0, 6.0), (1.0, 6.0))]

STATIONARY = Claim(
    id="AVG.stationary",
    paper_ref="beyond the paper (issue 27 q2), after T3.1",
    regime="any",
    statement_md=(
        "T3.1's stationary point survives averaging (**(derived)** from the ray identity for "
        "the uniform weight): on the family m_1 = s e_1, m_2 = -s e_1, m_3 = 0 (n = 3, data "
        "space), d L_avg/ds changes sign from + to - at some s*_avg for every finite window, "
        "where L(s e^{-t_min}) = L(s e^{-t_max}) along the family (L rises from 0 and falls "
        "back to 0); the family is invariant under GD (symmetry), so it is a stationary point "
        "of L_avg with positive loss, and averaging over a finite window cannot give global "
        "convergence from every start. Checked: d L_avg/ds on 30 log-spaced s with its error "
        "estimate (engine bounds plus the Gauss-Legendre rule against twice its nodes); the "
        "sign change counts only where both signs are resolved; for the uniform weight the "
        "identity's root (brentq on the canonical loss) must lie in the measured bracket. "
        "Weights: uniform and 1 - e^{-2t}, each normalised to integrate to 1 over the window. "
        "Measured (full profile): a resolved sign change for every window and weight, s*_avg "
        "moving out with the window (uniform: identity roots 4.07, 7.52, 11.86, 28.70 for "
        "t = [0, 1], [0, 3], [0, 6], [1, 6]; the 1 - e^{-2t} weight puts it as far or "
        "further out); "
        "past s*_avg the derivative is Gaussian-small and its sign stays unresolved on part of "
        "the grid, so the brackets for t_max = 6 are wide ([6.3, 159] and [20, 252] uniform)."),
    hypotheses=Domain("n = 3, windows within [0, 6]", contains=lambda i: i["kind"] == "family",
                      instances={"quick": QUICK_FAMILY, "full": FULL_FAMILY}),
    conclusions=(Predicate("sign_change", "d L_avg/ds goes from resolved + to resolved -",
                           family_sign_change),
                 Predicate("identity_root", "uniform weight: the ray identity's root lies in the "
                           "measured bracket", identity_root)),
    run=run,
    parameters={"nodes": NODES},
)

STATIONARY_GONE = STATIONARY.variant(
    "removed-by-averaging",
    "Known false (**(derived)** from the ray identity): 'averaging over a window that reaches "
    "the large-noise levels removes T3.1's stationary point: d L_avg/ds > 0 for every s on the "
    "family' (the large-noise levels pull the pair in). Expected false: beyond s*_avg every "
    "level but the widest-noise ones sees the pair past its own s*, and L(s e^{-t_min}) < "
    "L(s e^{-t_max}).",
    conclusions=(Predicate("no_stationary_point", "d L_avg/ds stays resolved positive on the "
                           "grid", no_stationary_point),),
)

CLAIMS: tuple[Claim, ...] = (AVG, AVG_GLOBAL, AVG_BELOW, STATIONARY, STATIONARY_GONE)


# ------------------------------------------------------------------------------ witnesses

def _sweep_outcome(diverges: bool) -> InstanceOutcome:
    run_ = {"seed": 0, "decided": True, "converged": [1] if diverges else [0, 1],
            "diverged": [0] if diverges else [], "all_converge": not diverges, "tau": 1024,
            "reason": "", "threshold": 4.5, "above_threshold": True,
            "initial_distances": [6.2, 4.9], "rule_all_converge": True}
    return InstanceOutcome(metrics={"kind": "sweep", "runs": [run_], "t_min": 0.0,
                                    "t_max": 6.0, "capture_radius_n2": 9.23})


def _family(rows: list[list[float]], bracket: list[float] | None, root: float | None
            ) -> InstanceOutcome:
    return InstanceOutcome(metrics={"kind": "family", "weight": "uniform", "rows": rows,
                                    "bracket": bracket, "resolved": len(rows),
                                    "identity_root": root})


WITNESSES = (
    constructed("AVG", "capture_rule", "a decided seed whose farther mean started within "
                "R*_avg and diverged", lambda: _sweep_outcome(True)),
    constructed("AVG~global-above-threshold", "all_means_converge", "a decided seed with a "
                "diverging mean", lambda: _sweep_outcome(True)),
    constructed("AVG~below-threshold", "all_means_converge", "a decided seed with a "
                "diverging mean", lambda: _sweep_outcome(True)),
    constructed("AVG.stationary", "sign_change", "a derivative resolved positive everywhere",
                lambda: _family([[1.0, 0.1, 1e-9], [10.0, 1e-3, 1e-9]], None, None)),
    constructed("AVG.stationary~removed-by-averaging", "no_stationary_point", "a resolved "
                "sign change", lambda: _family([[6.0, 0.1, 1e-9], [8.0, -0.1, 1e-9]], [6.0, 8.0],
                                               7.5)),
    constructed("AVG.stationary", "identity_root", "a root outside the measured bracket",
                lambda: _family([[6.0, 0.1, 1e-9], [8.0, -0.1, 1e-9]], [6.0, 8.0], 9.0)),
)
