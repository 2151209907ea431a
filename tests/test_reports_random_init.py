"""The report sections of T3.5, T3.7 and E1 on synthetic claim entries: tables with the numbers
of the entries, figures written, nothing invented for missing parts."""

from __future__ import annotations

from typing import Any

from scoreclaims.reports.hooks import ClaimContext
from scoreclaims.reports.sections import random_init as sections


def _rows(n: int) -> list[dict[str, Any]]:
    return [{"tau": t, "loss": 1.0 / (t * (1 + t)), "dist_0": 1.0 / t, "dist_1": 3 + t**0.1,
             "mc_loss": 1.1 / (t * (1 + t)), "mc_dist_0": 1.0 / t, "mc_dist_1": 3 + t**0.1}
            for t in range(1, n)]


def _entry(kind: str, metrics: dict[str, Any], rows: list | None = None,
           inside: bool = False) -> dict[str, Any]:
    return {"instance": {"kind": kind, "seed": 0}, "in_hypotheses": inside, "metrics": metrics,
            "trajectory": rows}


def _prop(p: float | None) -> dict[str, Any]:
    return {"k": 1, "decided": 2, "undecided": 0, "p": p, "ci": [0.1, 0.9] if p else None,
            "ci_all_runs": None}


CLAIM = {"id": "T3.5", "metrics": {"p_exactly_one": {"a": {"p": 0.9}}, "loss_exponent": 1.01,
                                   "loss_exponent_ci": [1.0, 1.02], "log_power": -0.9,
                                   "inside_max_log10_far_grad": -1.2e12},
         "instances": [
             _entry("far", {"n": 2, "M0": 2e12, "closest": 1, "closest_distance_0": 2e12,
                            "closest_distance_T": 2e-6, "log10_far_shift_bound": -1.2e12,
                            "geometric_phase_log10_steps": 25.1,
                            "checkpoints": [{"log10_abs_grad": [-1.2e12, 12.6],
                                             "radial_sign": [-1, 1]},
                                            {"log10_abs_grad": [-2.3e23, -5.4],
                                             "radial_sign": [-1, 1]}]}, inside=True),
             _entry("sweep", {"n": 3, "d": 1, "M0": 4.0, "seeds": 12, "undecided": 0,
                              "counts": {"1": 11, "2": 1}, "exactly_one": _prop(11 / 12),
                              "closest_wins": _prop(1.0), "all_converge": _prop(0.0),
                              "steps_total": 704, "wall_time_s": 2.4}),
             _entry("rate", {"n": 2, "d": 1, "M0": 4.0, "eta": 0.1, "steps": 40,
                             "converging": 0, "diverging": [1],
                             "loss_fit": {"classification": "power-log", "exponent": 1.0,
                                          "exponent_ci": [0.99, 1.01], "log_power": -1.0},
                             "approach_fit": {"classification": "power", "exponent": 1.0},
                             "escape": {"1": {"secant_by_decade": [[10, 100, 9.5]]}},
                             "lower_bound": [{"eps": 0.1, "c": 0.5, "c_at_tau": 20.0,
                                              "ratio_last_decade": 1.2,
                                              "monotone_last_decade": True,
                                              "fitted_law_implies_growth": True,
                                              "turnaround_log10_tau": None}]}, _rows(40)),
         ]}


def test_t35_section_has_the_tables_and_figures() -> None:
    ctx = ClaimContext(CLAIM)
    text = sections.t35_section(ctx)
    assert "certified far-mean gradients" in text and "-1.2e+12" in text
    assert "| 3 | 1 | 4 | 12 (reduced) | default | 0 | 1: 11, 2: 1 | 0.917 [0.1, 0.9]" in text
    assert "Escape" in text and "9.5" in text
    assert sorted(ctx.assets) == ["figures/T3.5-p-exactly-one.png", "figures/T3.5-rate-run-3.png"]
    figures = sections.t35_key_figures(CLAIM)
    assert "P(exactly one) 0.9 over 1 setting;" in figures and "…" not in figures


def test_t37_and_e1_sections() -> None:
    ctx = ClaimContext({**CLAIM, "id": "T3.7"})
    text = sections.t37_section(ctx)
    assert "| 0.1 | 0.5 | 20 | 1.2 | yes | yes | – |" in text
    e1 = {"id": "E1", "instances": [_entry("", {"M": 6.0, "converged": 1, "paper_converged": 1,
                                                "final_distances": [0.01, 9.0],
                                                "loss_slope_last_decade": -1.02,
                                                "mc_converged": 1, "mc_max_deviation": 0.3},
                                           _rows(30))]}
    ctx = ClaimContext(e1)
    text = sections.e1_section(ctx)
    assert "| #1 | 6 | 1 | 1 | [0.01, 9] | -1.02 | – | 1 |" in text
    assert list(ctx.assets) == ["figures/E1-e1-1.png"]
    assert sections.e1_section(ClaimContext({"id": "E1", "instances": []})) == ""


def test_sweep_with_a_budget_reports_the_seeds_out_of_budget() -> None:
    entry = _entry("sweep", {"n": 5, "d": 3, "M0": 6.0, "seeds": 10, "undecided": 3,
                             "out_of_budget": 2, "budget": 40_000_000, "tol": 1e-4,
                             "counts": {"1": 7}, "exactly_one": _prop(1.0),
                             "closest_wins": _prop(1.0), "all_converge": _prop(0.0),
                             "steps_total": 900, "wall_time_s": 300.0})
    text = sections.t35_section(ClaimContext({**CLAIM, "instances": [entry]}))
    assert "| 5 | 3 | 6 | 10 (reduced) | 1e-04 | 3 (2 out of budget) | 1: 7 |" in text
    assert "at most 4e+07 integrand evaluations" in text
    plain = sections.t35_section(ClaimContext(CLAIM))
    assert "out of budget" not in plain


def test_tolerance_check_table() -> None:
    entry = _entry("tol-check", {"n": 5, "d": 3, "M0": 4.0, "tols": [1e-4, None],
                                 "decided_at_both": 4, "disagreements": [],
                                 "undecided": [0, 1], "max_final_distance_gap": 3.2e-7,
                                 "evaluations": [2.0e7, 1.6e8], "wall_time_s": [20.0, 150.0]})
    text = sections.t35_section(ClaimContext({**CLAIM, "instances": [entry]}))
    assert "### Tolerance check" in text
    assert "| #1 | 5 | 3 | 4 | 1e-04 | 4 | [] | [0, 1] | 3.2e-07 |" in text
    assert "Tolerance check" not in sections.t35_section(ClaimContext(CLAIM))
    assert "Pooled" not in text  # no pooled bound in the claim's metrics: no line
    effect = {"seeds": 48, "decided_at_both": 44, "differ": 0, "undecided": [0, 4],
              "rate_upper": 0.0803, "rate_upper_unknown_differ": 0.187}
    claim = {**CLAIM, "metrics": {**CLAIM["metrics"], "tol_effect": effect},
             "instances": [entry]}
    pooled = sections.t35_section(ClaimContext(claim))
    assert ("Pooled: 44 of 48 seeds decided at both tolerances, 0 differ, so the sweeps' "
            "tolerance changes a decided classification at a rate of at most 0.0803") in pooled
    assert "4 seed(s) not decided at both" in pooled and "the bound is 0.187" in pooled


LAW = {"k": 1, "constant": {"derived": 2.0, "value": 2.0000001, "error": 1e-6,
                            "at_log10_tau": 1.2e5},
       "reduced": {"sources": ["arb", "float64"], "nodes": 196, "interpolation": {"G": 3e-11},
                   "start_tau": 1024, "r_max": 1500, "reach_log10_tau": 1.2e5,
                   "vs_gd": {"tau_start": 1024, "tau_end": 1e6, "max_rel_error_radius": 1e-9,
                             "max_rel_error_loss": 2e-8, "max_rel_error_m1": 5e-5}},
       "law_at_horizon": {"order_1": {"loss_rel_error": -0.007, "m1_rel_error": -0.006,
                                      "clock_ratio": 0.92}},
       "table": [{"log10_tau": 100, "source": "reduced", "L_eta_tau_ln_tau": 1.9679435,
                  "L_tau": 0.085, "local_exponent": 1.0043, "m1_eta_tau_R": 2.01}],
       "turns": [{"eps": 0.01, "turn_log10_tau": 43.01, "turn_source": "reduced",
                  "max_local_exponent_after_turn": 1.0097, "stays_below_after_turn": True}]}


def test_the_law_in_the_sections() -> None:
    rate = _entry("rate", {**CLAIM["instances"][2]["metrics"], "law": LAW,
                           "loss_fit_diagnostic": {"exponent": 0.93, "exponent_ci": [0.92, 0.94],
                                                   "log_power": -2.1, "windows": [
                                                       {"window": [1e3, 1e4], "exponent": 0.9,
                                                        "log_power": -2.5,
                                                        "correlation": 0.999}],
                                                   "exponent_drift": {"drifting": True,
                                                                      "spread": 0.05,
                                                                      "interval": [0.85, 1.0]}}},
                  _rows(40))
    far = _entry("far", {**CLAIM["instances"][0]["metrics"],
                         "law": {"R0": 2e12, "log10_tau_geo": 25.4, "plateau_log10_loss": -2e23,
                                 "reach_log10_tau": 2e23, "sup_L_tau": 3.8e-22,
                                 "L_eta_tau_ln_tau_at_reach": 2.0, "law_at_reach": 2.0,
                                 "final_constant": 2.0}}, inside=True)
    claim = {**CLAIM, "instances": [far, rate],
             "metrics": {**CLAIM["metrics"], "loss_law_constant": 2.0000001,
                         "loss_law_constant_error": 1e-6, "loss_exponent": 1.0,
                         "log_power": -1.0}}
    text = sections.t35_section(ClaimContext(claim))
    assert "**The law (derived)**" in text and "1.967944" in text
    assert "Inside the hypotheses, past the geometric phase" in text and "3.8e-22" in text
    assert "drifts" in text and "0.999" in text
    assert "L eta tau ln tau -> 2.0000001" in sections.t35_key_figures(claim)
    t37 = sections.t37_section(ClaimContext({**claim, "id": "T3.7"}))
    assert "| 0.01 | 43.01 | reduced |" in t37


def test_findings_say_what_the_bounds_miss() -> None:
    t35 = {"metrics": {"loss_law_constant": 2.0, "loss_law_constant_error": 3e-10,
                       "L_eta_tau_ln_tau": {"6.02": 2.109, "10": 1.982},
                       "reduced_dynamics": {"reach_log10_tau": 122138.2},
                       "loss_law_vs_gd": {"reduced": {"max_rel_error_loss": 1.4e-8}},
                       "loss_fit_diagnostic": {"exponent": 0.9331,
                                               "correlation_last_window": 0.9997},
                       "inside_law": [{"log10_tau_geo": 25.4}]}}
    text = " ".join(sections.t35_findings(t35))
    assert "1/(tau ln tau), not 1/tau" in text and "0.9997" in text and "10^25.4" in text
    t37 = {"metrics": {"turns": {"eps=0.01": {"turn_log10_tau": 43.01,
                                              "turn_source": "reduced"}}}}
    assert "fails at eps = 0" in sections.t37_findings(t37)[0]
    e1 = {"metrics": {"law_slope_last_decade": {"6": -1.14066},
                      "loss_slope_last_decade": {"6": -1.14076}}}
    assert "(-1.1407 at the same tau" in sections.e1_findings(e1)[0]
    assert sections.t35_findings({"metrics": {}}) == [] and sections.e1_findings({}) == []


def test_the_sweep_table_lists_undecided_seeds_with_what_certification_left_open() -> None:
    left = ("at tau = 256, tol 1e-09: mean 1: distance 13.02 -> 13.02, radial gradient "
            "-7.9e-14 (error bound 1.2e-13)")
    sweep = _entry("sweep", {"n": 5, "d": 3, "M0": 10.0, "seeds": 200, "undecided": 2,
                             "counts": {"1": 198}, "exactly_one": _prop(1.0),
                             "closest_wins": _prop(1.0), "all_converge": _prop(0.0),
                             "undecided_runs": [
                                 {"seed": 126, "tau": 413, "uncertified": left,
                                  "reason": "the evaluation budget ran out at tau = 413"},
                                 {"seed": 7, "tau": 8192, "uncertified": None,
                                  "reason": "mean 2: distance 2.9 -> 2.8"}]})
    text = sections._sweep_table(ClaimContext({"id": "T3.5", "instances": [sweep]}))
    assert ("- n = 5, d = 3, M_0 = 10, seed 126 (tau = 413): the evaluation budget ran out at "
            f"tau = 413; its last certification, {left}") in text
    assert "- n = 5, d = 3, M_0 = 10, seed 7 (tau = 8192): mean 2: distance 2.9 -> 2.8\n" in (
        text + "\n")
    decided = _entry("sweep", {**sweep["metrics"], "undecided": 0, "undecided_runs": []})
    assert "Undecided seeds" not in sections._sweep_table(
        ClaimContext({"id": "T3.5", "instances": [decided]}))


def test_the_sweep_table_states_the_certifying_grids_cap_from_the_results() -> None:
    """The certifying grid's node cap is read from the sweep's metrics (what the run used), not
    written into the report; results without it (older files) say nothing of a cap."""
    metrics = {"n": 5, "d": 3, "M0": 10.0, "seeds": 200, "undecided": 0, "counts": {"1": 200},
               "exactly_one": _prop(1.0), "closest_wins": _prop(1.0),
               "all_converge": _prop(0.0)}
    capped = _entry("sweep", {**metrics, "certify_max_nodes": 12_000_000})
    text = sections._sweep_table(ClaimContext({"id": "T3.5", "instances": [capped]}))
    assert "default (a grid used once, so it may hold up to 12,000,000 nodes), until" in text
    old = sections._sweep_table(ClaimContext({"id": "T3.5", "instances": [_entry("sweep",
                                                                               metrics)]}))
    assert "down to the default, until the window decides" in old and "nodes)" not in old
