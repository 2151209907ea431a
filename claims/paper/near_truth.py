"""Beyond the paper (issue 27, question 1, a reviewer's open question): k means close to the truth,
the others far. An exploration claim NT with a conjecture of the suite's own and a known-false
variant.

Set-up (`_near_truth_runs`): truth at the origin (canonical coordinates, t = 0); k near means
delta N(0, I_d), n - k far means N(M_0 e_1, I_d) (T3.5's law); GD at eta = 0.1; each seed
classified as T3.5's sweeps classify theirs (r_conv = 0.5, r_div = 3, horizons doubling from 32),
up to 2^15 steps instead of T3.5's 2^13: the near group's spread is neutral at quadratic order
(the spread law, docs/laws.md sec. 1) and the escaping means' force drives it out to a few 1e-2
before it decays, so a near mean's distance rises for a few thousand steps (measured: 4 of 40
seeds at n = 3, k = 2, delta = 0.01, M_0 = 6 were undecided at 2^13 for that reason, all decided by
2^15). Undecided seeds are counted, never binned; they count against every event.

The conjecture (**(derived)** heuristic): the near means form a large-noise group around the
truth, which converges (T2.1's regime for k means; the far means' weight near the truth is
~exp(-R^2/8)); a far mean is pulled in only if it starts within R*_k of the truth (the sign
change of its radial gradient with k means at the truth: 2.456, 2.572, 2.656 for k = 1, 2, 3,
measured with the engine), else it escapes. So: with probability at least `level`, all k near
means converge and every far mean diverges, inside delta <= 0.3 (a near mean beyond R*_k would
need |z| > 8) and M_0 >= 6 (a far mean within R*_k needs a 3.3-sigma draw); and the capture rule
predicts each seed's converging set (near means plus far means starting within R*_k). M_0 = 4
(a far mean starts within R*_k with probability 0.06 to 0.09) and delta = 1 (a near mean starts
beyond R*_k with probability 0.01 (d = 1) to 0.1 (d = 3)) lie beyond: exploration, where the
outcome is expected to change.

Measured (full profile, recorded in the claim's findings): every decided seed inside the range
shows exactly the near set; with k >= 2 near means at M_0 = 10 and small delta many seeds stay
undecided at 2^15 steps, their near means' distances (1e-3 to 1e-2) still rising slowly under
the far means' force, so the verdict there is inconclusive, not pass. Beyond the range the
outcome changes as the heuristic expects: at M_0 = 4 a far mean starting within R*_k converges
too, and at delta = 1 a near mean starting beyond R*_k escapes; the capture rule misses where
two far means start within or near R*_k (they compete, and the closer one wins). With k >= 2
the near means do not sit at the truth while the far ones escape: their spread, neutral at
quadratic order, is driven out along the far axis to about 2 sqrt(L) (1.1 to 2.3 sqrt(L) on the
long runs; measured, not derived), so they approach the truth like sqrt(L) ~ (tau ln tau)^(-1/2),
far slower than T3.5's single converging mean (~1/(tau R), 0.01 to 0.02 sqrt(L) here); from a
small delta they reach that envelope from below, which is why their distances still rise at
2^15 steps at M_0 = 10.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from scoreclaims.claims import (
    NOT_APPLICABLE,
    Claim,
    Domain,
    Expectation,
    Instance,
    InstanceOutcome,
    Params,
    Predicate,
    by_variant,
    constructed,
)
from scoreclaims.claims.paper._near_truth_runs import run_rate, sweep
from scoreclaims.claims.paper._random_init_runs import R_CONV, R_DIV, at_level, proportion

LEVEL = 0.9
DELTA_MAX = 0.3  # the conjecture's hypotheses: delta <= DELTA_MAX and M_0 >= M0_MIN
M0_MIN = 6.0
DELTAS = (1e-3, 1e-2, 0.1, 0.3, 1.0)
M0S = (4.0, 6.0, 10.0)
NK = ((3, 1), (3, 2), (5, 1), (5, 2), (5, 3))
SEED_BUDGET = 100_000_000  # integrand evaluations per seed (a cost cap; d = 1 never nears it)


def sweep_instance(n: int, d: int, k: int, delta: float, m0: float, seeds: int) -> dict[str, Any]:
    return {"kind": "sweep", "n": n, "d": d, "k": k, "delta": delta, "M0": m0, "seeds": seeds}


def rate_instance(n: int, k: int, delta: float, m0: float, seed: int, steps: int
                  ) -> dict[str, Any]:
    return {"kind": "rate", "n": n, "d": 1, "k": k, "delta": delta, "M0": m0, "seed": seed,
            "steps": steps}


def inside(instance: Instance) -> bool:
    """The conjecture's hypotheses: a sweep with 1 <= k < n, delta <= 0.3, M_0 >= 6."""
    return (instance["kind"] == "sweep" and 1 <= int(instance["k"]) < int(instance["n"])
            and float(instance["delta"]) <= DELTA_MAX and float(instance["M0"]) >= M0_MIN)


def _membership(instance: Instance) -> str:
    if instance["kind"] != "sweep":
        return "a single long run: a diagnostic of the loss law, not a probability"
    delta, m0 = float(instance["delta"]), float(instance["M0"])
    return (f"delta = {delta:g} {'<=' if delta <= DELTA_MAX else '>'} {DELTA_MAX:g}, "
            f"M_0 = {m0:g} {'>=' if m0 >= M0_MIN else '<'} {M0_MIN:g}")


def _full_seeds(delta: float, m0: float) -> int:
    return 40 if delta <= DELTA_MAX and m0 >= M0_MIN else 20


QUICK = [sweep_instance(5, 1, 2, 1e-2, 6.0, 40), sweep_instance(5, 1, 1, 1e-2, 4.0, 12),
         sweep_instance(3, 1, 2, 1.0, 6.0, 12), rate_instance(3, 2, 1e-2, 6.0, 0, 1 << 12)]
FULL = ([sweep_instance(n, 1, k, delta, m0, _full_seeds(delta, m0))
         for n, k in NK for m0 in M0S for delta in DELTAS]
        + [sweep_instance(3, 3, 1, delta, 6.0, _full_seeds(delta, 6.0)) for delta in (1e-2, 1.0)]
        + [sweep_instance(3, 3, 2, 1.0, 6.0, 10)]
        + [rate_instance(n, k, 1e-2, 6.0, 0, 1 << 15) for n, k in NK]
        + [rate_instance(3, 1, 1e-2, 4.0, 4, 1 << 15)]  # seed 4: a far mean starts at 1.64
        # M_0 = 10, k = 2: the near pair's spread peaks near 6e4 steps and then decays
        + [rate_instance(3, 2, 1e-2, 10.0, 0, 1 << 19)])


# ------------------------------------------------------------------------------------ runs

def run(instance: Instance, params: Params) -> InstanceOutcome:
    if instance["kind"] == "sweep":
        return _run_sweep(instance, params)
    return _run_rate(instance, params)


def _run_sweep(instance: Instance, params: Params) -> InstanceOutcome:
    n, d, k = int(instance["n"]), int(instance["d"]), int(instance["k"])
    delta, m0 = float(instance["delta"]), float(instance["M0"])
    res = sweep(n, d, k, delta, m0, range(int(instance["seeds"])), params["eta"],
                params["first_horizon"], params["max_steps"], params["r_conv"], params["r_div"],
                params["budget"])
    runs = res.pop("runs")
    metrics = {"n": n, "d": d, "k": k, "delta": delta, "M0": m0, "seeds": len(runs), **res,
               "undecided_runs": [{key: r[key] for key in ("seed", "tau", "reason")}
                                  for r in runs if not r["decided"]][:10],
               "outcomes": [[r["seed"], r["outcome"], r["converged"], r["predicted"], r["tau"]]
                            for r in runs]}
    return InstanceOutcome(metrics=metrics, data={"kind": "sweep", **res})


def _run_rate(instance: Instance, params: Params) -> InstanceOutcome:
    n, k = int(instance["n"]), int(instance["k"])
    out = run_rate(n, int(instance["d"]), k, float(instance["delta"]), float(instance["M0"]),
                   int(instance["seed"]), params["eta"], int(instance["steps"]), None,
                   params["r_conv"], params["r_div"])
    metrics = {"n": n, "d": int(instance["d"]), "k": k, "delta": float(instance["delta"]),
               "M0": float(instance["M0"]), "seed": int(instance["seed"]),
               "steps": int(instance["steps"]), "eta": params["eta"],
               "ratio_to_baseline": out["ratio_to_baseline"]}
    for name in ("run", "baseline"):
        r = out[name]
        metrics[name] = {key: r[key] for key in r if key != "table"}
        metrics[name]["table"] = [[t, v, c] for t, v, c in r["table"] if t >= 64]
    return InstanceOutcome(metrics=metrics, data={"kind": "rate", **out})


# ------------------------------------------------------------------------------ predicates

def _at_level(prop: dict[str, Any], what: str, level: float) -> tuple[bool | None, str]:
    """Holds when the 95% Wilson lower bound over all runs (undecided counted against) clears
    `level`; violated when the upper bound (undecided counted for) is below it."""
    ci, ci_all = prop["ci"], prop["ci_all_runs"]
    text = (f"{what}: {prop['k']} of {prop['decided']} decided runs, {prop['undecided']} "
            f"undecided (95% Wilson {None if ci is None else [round(x, 4) for x in ci]}; over "
            f"all runs {None if ci_all is None else [round(x, 4) for x in ci_all]}); level "
            f"{level:g}")
    return at_level(prop, level, text)


def near_set_converges(o: InstanceOutcome, p: Params) -> tuple[bool | None, str]:
    if o.data["kind"] == "sweep":
        return _at_level(o.data["exact"], "all k near means converge and every far mean "
                         "diverges", p["level"])
    r = o.data["run"]
    text = (f"at the horizon: converging {r['converging']}, diverging {r['diverging']}, "
            f"undecided {r['undecided']} (near means 0..{r['near'] - 1})")
    if not r["decided"]:
        return None, text + f" ({r['reason'][:200]})"
    return r["outcome"] == "exact", text + f": {r['outcome']}"


def capture_rule(o: InstanceOutcome, p: Params) -> tuple[bool | None, str]:
    if o.data["kind"] != "sweep":
        return NOT_APPLICABLE, "a single run: the rule is judged on the sweeps"
    misses = o.data["rule_misses"]
    holds, text = _at_level(o.data["rule"], f"the converging set is the near means plus the far "
                            f"means starting within R*_k = {o.data['capture_radius']:.4g}",
                            p["level"])
    return holds, text + (f"; seeds where it fails: {misses}" if misses else "")


def exactly_one(o: InstanceOutcome, p: Params) -> tuple[bool | None, str]:
    if o.data["kind"] != "sweep":
        return NOT_APPLICABLE, "judged on the sweeps"
    return _at_level(o.data["exactly_one"], "exactly one mean converges", p["level"])


# ------------------------------------------------------------------------------ summary

def _key(m: dict[str, Any]) -> str:
    return f"n={m['n']},d={m['d']},k={m['k']},M0={m['M0']:g},delta={m['delta']:g}"


def summarize(results: Sequence[Any]) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for r in results:
        m = r.metrics
        if r.instance.get("kind") != "sweep" or "exact" not in m:
            continue
        table[_key(m)] = {
            "n": m["n"], "d": m["d"], "k": m["k"], "M0": m["M0"], "delta": m["delta"],
            "seeds": m["seeds"], "undecided": m["undecided"], "inside": r.in_hypotheses,
            **{name: m[name] for name in ("exact", "far_captured", "near_lost", "exactly_one",
                                          "rule")},
            "outcome_counts": m["outcome_counts"], "predicted_exact": m["predicted_exact"],
            "verdict": r.verdict.value}
    out: dict[str, Any] = {"outcomes": table, "level": LEVEL}
    # where the outcome changes: per (n, d, k, M0), the deltas with a near mean lost or a far
    # mean captured
    changes: dict[str, Any] = {}
    for v in table.values():
        key = f"n={v['n']},d={v['d']},k={v['k']},M0={v['M0']:g}"
        row = changes.setdefault(key, {"near_lost_at_delta": [], "far_captured_at_delta": [],
                                       "exact_clears_level_at_delta": []})
        if v["near_lost"]["k"]:
            row["near_lost_at_delta"].append(v["delta"])
        if v["far_captured"]["k"]:
            row["far_captured_at_delta"].append(v["delta"])
        ci_all = v["exact"]["ci_all_runs"]
        if ci_all and ci_all[0] > LEVEL:
            row["exact_clears_level_at_delta"].append(v["delta"])
    out["where_outcome_changes"] = changes
    rates = []
    for r in results:
        m = r.metrics
        if r.instance.get("kind") != "rate" or "run" not in m:
            continue
        rates.append({"n": m["n"], "k": m["k"], "M0": m["M0"], "seed": m["seed"],
                      "steps": m["steps"], "outcome": m["run"]["outcome"],
                      "escaping": len(m["run"]["diverging"]),
                      "L_eta_tau_ln_tau": m["run"]["L_eta_tau_ln_tau"],
                      "per_escaping_mean": m["run"]["per_escaping_mean"],
                      "baseline_L_eta_tau_ln_tau": m["baseline"]["L_eta_tau_ln_tau"],
                      "baseline_per_escaping_mean": m["baseline"]["per_escaping_mean"],
                      "ratio_to_baseline": m["ratio_to_baseline"],
                      "near_over_sqrt_L": [x / m["run"]["final_loss"] ** 0.5
                                           for x in m["run"]["near_distances"]]
                      if m["run"]["final_loss"] > 0 else None})
    out["loss_law_diagnostic"] = rates
    inside_rows = [v for v in table.values() if v["inside"]]
    out["inside_seeds"] = {
        "sweeps": len(inside_rows),
        "decided": sum(v["exact"]["decided"] for v in inside_rows),
        "exact": sum(v["exact"]["k"] for v in inside_rows),
        "undecided": sum(v["undecided"] for v in inside_rows),
        "undecided_by_setting": {key: v["undecided"] for key, v in table.items()
                                 if v["inside"] and v["undecided"]}}
    return out


STATEMENT = (
    "Beyond the paper (issue 27, a reviewer's open question: 'two or more means close to the "
    "truth, the others far'). Conjecture (**(derived)** heuristic, the suite's own): with k of "
    "n means within delta of the truth and the others far (at M_0), all k near means converge "
    "and every far mean diverges with probability at least 0.9, for delta <= 0.3 and M_0 >= 6; "
    "and each run's converging set is the near means plus the far means that start within R*_k "
    "of the truth (R*_k the sign change of a lone far mean's radial gradient with k means at the "
    "truth, measured: 2.456, 2.572, 2.656 for k = 1, 2, 3). Reason: the near means form a "
    "large-noise group (T2.1's regime for k means), the far means' weight near the truth is "
    "~exp(-R^2/8), and a far mean is pulled in or pushed out by the sign of its radial gradient. "
    "Encoded (set-up chosen by the suite): truth at the origin (canonical coordinates, t = 0); "
    "the near means drawn as delta N(0, I_d) (delta a per-coordinate scale, not a radius), the "
    "far ones N(M_0 e_1, I_d) (T3.5's law), common random numbers across delta and M_0; GD at "
    "eta = 0.1; each seed classified as T3.5's sweeps do (r_conv = 0.5, r_div = 3, the sign of "
    "the gradient certified against the engine's bound) at horizons doubling from 32 to 2^15; "
    "undecided seeds count against every event; 'with probability at least 0.9' means the 95% "
    "Wilson lower bound over all runs clears 0.9. Grid: d = 1, (n, k) in {(3, 1), (3, 2), (5, 1), "
    "(5, 2), (5, 3)}, delta in {1e-3, 1e-2, 0.1, 0.3, 1}, M_0 in {4, 6, 10} (40 seeds inside, "
    "20 beyond), and d = 3 with n = 3, M_0 = 6: k = 1 at delta in {1e-2, 1}, k = 2 at delta = 1 "
    "(10 seeds); d = 3, k = 2 at small delta is left out for cost (the near pair makes the "
    "two-dimensional quadrature thin: about 10 s a seed, 17 of 40 seeds spent the evaluation "
    "budget). M_0 = 4 and delta = 1 are "
    "exploration, where the heuristic expects the outcome to change (a far mean starting within "
    "R*_k, a near mean starting beyond it). Measured, diagnostic only (not a conclusion): "
    "whether the one-converges law L eta tau ln tau -> 2 per escaping mean (docs/laws.md, "
    "**(derived)** for one converging mean; with k near means the same leading order follows by "
    "the shift ln k_far -> ln(k_far/k) of section 2.1, which cancels between the clock and the "
    "loss) shows in single long runs, against the same far means with one near mean. "
    "Registered **undecidable in the full profile** (measured, before registering): at M_0 = 10 "
    "with k >= 2 the near group spreads to about 0.006 along the far axis and is still moving "
    "away from the truth at 2^15 steps on 176 seeds, which T3.5's rule cannot call converging "
    "(one 2^19-step run turns back after about 6.5e4 steps); every decided seed inside agreed "
    "with the conjecture. A horizon that decides them turns the verdict into a mismatch to "
    "look at, which is the point.")

CONCLUSIONS = (
    Predicate("near_set_converges", "sweeps: P(all k near means converge and every far mean "
              "diverges) at level 0.9 (95% Wilson lower bound over all runs, undecided counted "
              "against); long runs: that outcome at the horizon", near_set_converges),
    Predicate("capture_rule", "sweeps: P(the converging set is the near means plus the far means "
              "starting within R*_k) at level 0.9", capture_rule),
)

NT = Claim(
    id="NT",
    paper_ref="beyond the paper (issue 27 q1)",
    regime="random init",
    statement_md=STATEMENT,
    hypotheses=Domain(
        "sweeps with 1 <= k < n near means, delta <= 0.3, M_0 >= 6 (the conjecture's own "
        "range); M_0 = 4, delta = 1 and the long runs are exploration",
        contains=inside,
        instances={"quick": QUICK, "full": FULL},
        caveat="the range delta <= 0.3, M_0 >= 6 is the suite's conjecture, not the paper's",
        membership=_membership,
    ),
    conclusions=CONCLUSIONS,
    run=run,
    parameters={"eta": 0.1, "first_horizon": 32, "max_steps": 1 << 15, "r_conv": R_CONV,
                "r_div": R_DIV, "level": LEVEL, "budget": SEED_BUDGET},
    summarize=summarize,
    profile_expectations={"full": Expectation.UNDECIDABLE},
)

NT_EXACTLY_ONE = NT.variant(
    "exactly-one",
    "Known false (**(derived)**): 'T3.5's outcome carries over: with k >= 2 means near the "
    "truth exactly one mean converges with probability at least 0.9' (the near means would "
    "compete as T3.5's random means do). Expected false because the near means are a "
    "large-noise group, all of which converge (T2.1's regime for k means), measured here.",
    hypotheses=Domain("the conjecture's sweeps with k >= 2",
                      contains=lambda i: inside(i) and int(i["k"]) >= 2,
                      instances={p: [i for i in grid if inside(i) and int(i["k"]) >= 2]
                                 for p, grid in (("quick", QUICK), ("full", FULL))}),
    conclusions=(Predicate("exactly_one_converges", "P(exactly one mean converges) at level "
                           "0.9", exactly_one),),
)

CLAIMS: tuple[Claim, ...] = (NT, NT_EXACTLY_ONE)


# ------------------------------------------------------------------------------ witnesses

def _sweep(exact: int, rule: int, one: int, seeds: int = 40, undecided: int = 0
           ) -> InstanceOutcome:
    """An n = 5, d = 1, k = 2 sweep of `seeds` runs, `undecided` of them undecided."""
    decided = seeds - undecided
    data = {"kind": "sweep", "exact": proportion(exact, decided, undecided),
            "rule": proportion(rule, decided, undecided), "rule_misses": [],
            "exactly_one": proportion(one, decided, undecided), "capture_radius": 2.572}
    return InstanceOutcome(metrics={"n": 5, "d": 1, "k": 2, "M0": 6.0, "delta": 0.01},
                           data=data)


def _rate(converging: list[int], diverging: list[int]) -> InstanceOutcome:
    run_ = {"near": 2, "converging": converging, "diverging": diverging, "undecided": [],
            "decided": True, "reason": "",
            "outcome": "exact" if converging == [0, 1] else "near-lost"}
    return InstanceOutcome(data={"kind": "rate", "run": run_})


WITNESSES = (
    constructed("NT", "near_set_converges", "a sweep where the far mean is captured in 20 of "
                "40 runs", lambda: _sweep(20, 40, 0)),
    constructed("NT", "near_set_converges", "a long run where one near mean escapes",
                lambda: _rate([0], [1, 2])),
    constructed("NT", "capture_rule", "a sweep where the rule misses 15 of 40 runs",
                lambda: _sweep(25, 25, 0)),
    constructed("NT~exactly-one", "exactly_one_converges", "every run has the two near means "
                "converging", lambda: _sweep(40, 40, 0)),
    by_variant("NT~exactly-one", "exactly_one_converges", "NT~exactly-one",
               "with k >= 2 near means all of them converge"),
)
