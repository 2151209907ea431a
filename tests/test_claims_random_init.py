"""T3.5, T3.7 and E1: the run classification, Wilson intervals, the predicates on synthetic
outcomes (each known-false reading rejected), and small real runs."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from scoreclaims.claims.model import NOT_APPLICABLE, InstanceOutcome
from scoreclaims.claims.paper import _random_init_runs, experiment_e1, random_init
from scoreclaims.claims.paper._random_init_runs import (
    Classification,
    Window,
    certify_tols,
    classify,
    initial_means,
    proportion,
    run_classified,
    sweep,
    wilson,
)
from scoreclaims.claims.verdict import Verdict
from scoreclaims.verifiers import default_tol
from scoreclaims.verifiers.rates import fit_rates
from scoreclaims.verifiers.trapezoid import MAX_NODES

P = random_init.T3_5.params("quick")


# ------------------------------------------------------------------ classification, Wilson

def _window(dists: np.ndarray, radial: np.ndarray, err: float = 1e-12,
            accurate: bool = True) -> Window:
    """Means on the first axis at the given distances (R, n); gradient with those radial parts."""
    r, n = dists.shape
    means = np.zeros((r, n, 2))
    means[:, :, 0] = dists
    grad = np.zeros((n, 2))
    grad[:, 0] = radial
    return Window(np.arange(r, dtype=float), means, grad, err, accurate)


def test_classify_one_converging_one_diverging() -> None:
    d = np.array([[0.3, 4.0], [0.2, 4.1], [0.1, 4.3]])
    c = classify(_window(d, np.array([0.2, -1e-3])))
    assert c == Classification((0,), (1,), (), "")


def test_classify_leaves_ambiguous_means_undecided() -> None:
    # between the thresholds; beyond r_div but pulled back; the gradient sign not resolved
    for d, radial, err in [
        (np.array([[0.3, 2.0], [0.2, 2.2]]), np.array([0.2, -1.0]), 1e-12),
        (np.array([[0.3, 4.0], [0.2, 4.1]]), np.array([0.2, 1e-3]), 1e-12),
        (np.array([[0.3, 4.0], [0.2, 4.1]]), np.array([0.2, -1e-3]), 1e-2),
        (np.array([[0.3, 4.0], [0.2, 3.9]]), np.array([0.2, -1e-3]), 1e-12),
    ]:
        c = classify(_window(d, radial, err))
        assert not c.decided and c.undecided == (1,)


def test_a_far_means_sign_is_judged_against_its_own_bound() -> None:
    """A radial gradient -5e-9 within the whole gradient's bound 1e-8 is decided outward by a
    bound of its own mean's gradient below it (1e-9), and left open by one above it (6e-9): the
    window judges each mean against `mean_errors` when it has them."""
    d = np.array([[0.3, 4.0], [0.2, 4.1], [0.1, 4.3]])
    whole = _window(d, np.array([0.2, -5e-9]), err=1e-8)
    assert classify(whole).undecided == (1,)
    own = replace(whole, mean_errors=np.array([9e-9, 1e-9]))
    assert classify(own) == Classification((0,), (1,), (), "")
    loose = classify(replace(whole, mean_errors=np.array([1e-9, 6e-9])))
    assert loose.undecided == (1,) and "error bound 6e-09" in loose.reason


def test_classify_inaccurate_window_is_undecided() -> None:
    d = np.array([[0.3, 4.0], [0.2, 4.1]])
    c = classify(_window(d, np.array([0.2, -1e-3]), accurate=False))
    assert not c.decided and c.undecided == (0, 1)


def test_wilson_interval() -> None:
    lo, hi = wilson(0, 12)
    assert lo == 0.0 and math.isclose(hi, 0.242494, abs_tol=1e-6)
    lo, hi = wilson(50, 100)
    assert math.isclose(lo, 0.40383, abs_tol=1e-5) and math.isclose(hi, 0.59617, abs_tol=1e-5)
    for k, n in [(3, 10), (97, 100), (1, 1)]:
        lo, hi = wilson(k, n)
        assert lo <= k / n <= hi
    assert wilson(0, 0) is None
    prop = proportion(8, 10, 2)  # undecided runs widen the all-runs interval on both sides
    assert prop["ci_all_runs"][0] <= prop["ci"][0] and prop["ci_all_runs"][1] >= prop["ci"][1]


def test_initial_law_is_deterministic_and_centred() -> None:
    a, b = initial_means(3, 2, 10.0, 7), initial_means(3, 2, 10.0, 7)
    assert np.array_equal(a, b)
    assert np.allclose(a - [10.0, 0.0], initial_means(3, 2, 4.0, 7) - [4.0, 0.0], atol=1e-12)
    many = np.concatenate([initial_means(5, 3, 6.0, s) for s in range(200)])
    assert np.allclose(many.mean(axis=0), [6.0, 0.0, 0.0], atol=0.15)
    assert np.allclose(many.std(axis=0), 1.0, atol=0.1)


def test_small_sweep_closest_mean_wins() -> None:
    res = sweep(2, 1, 6.0, range(4), 0.1, 32, 1 << 10)
    assert res["undecided"] == 0 and res["counts"] == {"1": 4}
    assert res["closest_wins"]["k"] == 4
    for run in res["runs"]:
        far = 1 - run["converged"][0]
        assert run["final_distances"][far] > run["initial_distances"][far]


# ------------------------------------------------------------------ T3.5 / T3.7 predicates

def _sweep_outcome(k_one: int, k_all: int, decided: int, undecided: int, n: int = 3,
                   wins: int | None = None, m0: float = 4.0) -> InstanceOutcome:
    won = k_one if wins is None else wins
    closest = {"k": won, "of": k_one, "p": won / k_one if k_one else None,
               "ci": wilson(won, k_one)}
    data = {"kind": "sweep", "exactly_one": proportion(k_one, decided, undecided),
            "all_converge": proportion(k_all, decided, undecided), "closest_wins": closest,
            "undecided": undecided}
    return InstanceOutcome(metrics={"n": n, "M0": m0}, data=data)


def test_with_high_probability_at_the_level_and_its_teeth() -> None:
    """'With high probability' at the level 0.9: the Wilson lower bound over all runs, the
    undecided counted against, must clear it; the paper's (vacuous) bound is reported beside."""
    assert P["level"] == 0.9
    good = random_init.one_mean_converges(_sweep_outcome(196, 0, 200, 0), P)
    bad = random_init.one_mean_converges(_sweep_outcome(60, 140, 200, 0), P)
    unsure = random_init.one_mean_converges(_sweep_outcome(110, 0, 120, 80), P)
    assert good[0] is True and bad[0] is False and unsure[0] is None
    assert "1 - n^2 M0^(-1/3) = -4.67" in good[1] and "vacuous" in good[1]
    # 187 of 200 (the n = 5, d = 1, M0 = 4 sweep): clears 0.5, not 0.9
    assert random_init.one_mean_converges(_sweep_outcome(187, 0, 200, 0), P)[0] is None
    assert random_init.one_mean_converges(_sweep_outcome(187, 0, 200, 0),
                                          {**P, "level": 0.5})[0] is True
    # 144 decided of 200, 56 undecided (n = 5, d = 3, M0 = 10): undecided counted against
    assert random_init.one_mean_converges(_sweep_outcome(144, 0, 144, 56), P)[0] is None
    variant = random_init.T3_5_ALL_M10.conclusions[0]
    assert variant.check(_sweep_outcome(190, 0, 200, 0), P).holds is False
    assert variant.check(_sweep_outcome(10, 180, 200, 0), P).holds is True


def test_closest_wins_on_sweeps_counts_the_undecided_against() -> None:
    assert random_init.closest_wins(_sweep_outcome(200, 0, 200, 0), P)[0] is True
    assert random_init.closest_wins(_sweep_outcome(200, 0, 200, 0, wins=100), P)[0] is False
    assert random_init.closest_wins(_sweep_outcome(144, 0, 144, 56), P)[0] is None


def test_the_paper_probability_bound() -> None:
    assert math.isclose(random_init.paper_probability_bound(2, 8.0), -1.0)  # 1 - 4/2
    assert math.isclose(random_init.paper_probability_bound(2, 64.0), 0.0, abs_tol=1e-12)
    far = random_init.far_instance(2, 0, 16)
    assert random_init.paper_probability_bound(2, far["M0"]) > 0.999


def _rate_outcome(tau: np.ndarray, loss: np.ndarray, law: dict | None = None
                  ) -> InstanceOutcome:
    fit = fit_rates(tau, loss)
    return InstanceOutcome(data={"kind": "rate", "loss_fit": fit, "eps": [], "law": law})


TAU = np.unique(np.geomspace(10, 1e6, 400).round())


def test_fit_based_variants_and_the_fit_diagnostic() -> None:
    """L = 1/(tau log tau): linear convergence and tau^-2 are rejected (their readings stay on
    the fitted form), the fitted form's own reading of the lower bound holds for eps = 0.2; a
    tau^-1.3 loss fails that reading; a geometric loss is geometric."""
    o = _rate_outcome(TAU, 1 / (TAU * np.log(TAU)))
    assert random_init._loss_geometric(o, P)[0] is False
    assert random_init._tau_minus_two(o, P)[0] is False
    from scoreclaims.claims.paper._random_init_rates import lower_bound_verdict
    assert lower_bound_verdict(o.data["loss_fit"], 0.2)[0] is True
    fast = _rate_outcome(TAU, TAU**-1.3)
    assert lower_bound_verdict(fast.data["loss_fit"], 0.2)[0] is False
    geometric = _rate_outcome(np.arange(1, 400, dtype=float), 0.97 ** np.arange(1, 400))
    assert random_init._loss_geometric(geometric, P)[0] is True


def test_the_free_fit_never_decides_the_rate_conclusions() -> None:
    """T3.5's O(1/tau) and T3.7's bound are judged on the law: a run without it (not in the
    one-converges regime) is undecided whatever its fit says, even a fit slower than 1/tau;
    with the law the verdict is the law's (tests/test_one_converges_law.py holds the judges)."""
    slow = _rate_outcome(TAU, TAU**-0.9)
    assert random_init.loss_o_one_over_tau(slow, P)[0] is None
    for eps in random_init.EPS:
        assert random_init.lower_bound(eps)(slow, P)[0] is None
    assert random_init._eps0(slow, P)[0] is None
    law = {"reduced": {"vs_gd": {"tau_start": 1e3, "tau_end": 8e3, "max_rel_error_loss": 1e-8,
                                 "max_rel_error_radius": 1e-9}},
           "L_tau_falls": {"gd_last_decade_min_local_exponent": 1.2,
                           "reduced_min_local_exponent": 1.004},
           "constant": {"derived": 2.0, "raw_at_horizon": 2.48, "raw_at_reach": 1.97,
                        "at_log10_tau": 107.0, "value": 2.0, "error": 2.5e-4},
           "table": [{"L_tau": 2.7, "log10_tau": 3.9}, {"L_tau": 0.08, "log10_tau": 107.0}],
           "turns": [{"eps": e, "turn_log10_tau": 1 / e / math.log(10),
                      "turn_source": "reduced", "stays_below_after_turn": True,
                      "max_local_exponent_after_turn": 1 + e / 2,
                      "reach_local_exponent": 1.004} for e in random_init.EPS]}
    judged = _rate_outcome(TAU, TAU**-0.9, law)
    assert random_init.loss_o_one_over_tau(judged, P)[0] is True
    assert all(random_init.lower_bound(e)(judged, P)[0] is True for e in random_init.EPS)
    assert random_init._eps0(judged, P)[0] is False


def test_far_predicates_reject_a_mean_pulled_in() -> None:
    cert = {"tau": 0, "radial_sign": [1, 1], "log10_abs_grad": [3.0, -1e12]}
    dist_all = np.array([[5.0, 9.0], [1.0, 9.0], [1e-3, 9.0]])
    o = InstanceOutcome(data={"kind": "far", "closest": 0, "certs": [cert],
                              "dist": dist_all[:, 0], "dist_all": dist_all})
    assert random_init.others_move_away(o, P)[0] is False  # mean 1 certified moving inward
    assert random_init.closest_wins(o, P)[0] is False  # and certified inward: two candidates
    cert["radial_sign"] = [1, -1]
    assert random_init.others_move_away(o, P)[0] is True
    assert random_init.closest_wins(o, P)[0] is True
    cert["radial_sign"] = [1, 0]
    assert random_init.others_move_away(o, P)[0] is None
    o.data["dist"] = np.array([5.0, 6.0, 1e-3])
    assert random_init.one_mean_converges(o, P)[0] is False


def test_closest_wins_on_far_runs_has_its_own_evidence() -> None:
    """Which mean wins is read off the trajectory (the mean whose distance fell into r_conv) and
    the certified signs, then compared with the initial ranking: not one_mean_converges again."""
    cert = {"tau": 0, "radial_sign": [-1, 1], "log10_abs_grad": [-1e12, 3.0]}
    dist_all = np.array([[5.0, 5.5], [5.0, 1.0], [5.0, 1e-3]])  # mean 1 wins, mean 0 was closest
    o = InstanceOutcome(data={"kind": "far", "closest": 0, "certs": [cert],
                              "dist": dist_all[:, 0], "dist_all": dist_all})
    holds, text = random_init.closest_wins(o, P)
    assert holds is False and "fell into r_conv: [1]" in text
    o.data["dist_all"] = np.array([[5.0, 5.5], [4.0, 5.5], [3.0, 5.5]])  # not yet in r_conv
    assert random_init.closest_wins(o, {**P, "r_conv": 0.5})[0] is False  # certified: mean 1
    cert["radial_sign"] = [1, -1]
    assert random_init.closest_wins(o, P)[0] is None


def test_closest_wins_on_a_long_run_uses_its_classification() -> None:
    def rate(converging: tuple[int, ...], undecided: tuple[int, ...] = ()) -> InstanceOutcome:
        verdict = Classification(converging, tuple(i for i in range(3) if i not in converging
                                                   and i not in undecided), undecided, "")
        return InstanceOutcome(data={"kind": "rate", "verdict": verdict, "closest0": 1})
    assert random_init.closest_wins(rate((1,)), P)[0] is True
    assert random_init.closest_wins(rate((0,)), P)[0] is False
    assert random_init.closest_wins(rate((0, 1)), P)[0] is False  # two converge
    assert random_init.closest_wins(rate((1,), undecided=(2,)), P)[0] is None


def test_inside_instances_and_threshold() -> None:
    inst = random_init.far_instance(2, 0, 16)
    assert random_init.inside_t35(inst)
    assert not random_init.inside_t35({**inst, "M0": 1e12})  # 1e9 * 2^10 = 1.024e12
    assert not random_init.inside_t35(random_init.sweep_instance(2, 1, 10.0, 4))
    for claim in random_init.CLAIMS:
        for profile in ("quick", "full"):
            for i in claim.hypotheses.grid(profile):
                assert claim.hypotheses.contains(i) == (i["kind"] == "far"
                                                        or claim.is_variant)


# ------------------------------------------------------------------------------------ E1

def test_e1_setting_and_predicate() -> None:
    m = experiment_e1.e1_means(6.0, 0)
    assert m.shape == (5, 3) and np.max(np.abs(m - [6.0, 0.0, 0.0])) < 1e-6
    inst = experiment_e1.e1_instance(4.0)
    assert experiment_e1.inside_e1(inst) and not experiment_e1.inside_e1({**inst, "steps": 100})

    def outcome(conv: tuple[int, ...], div: tuple[int, ...], expected: int) -> InstanceOutcome:
        return InstanceOutcome(data={"verdict": Classification(conv, div, (), ""),
                                     "expected": expected, "status": "ok"})
    p = experiment_e1.E1.params("full")
    assert experiment_e1.paper_outcome(outcome((0, 1, 2, 3, 4), (), 5), p)[0] is True
    assert experiment_e1.paper_outcome(outcome((3,), (0, 1, 2, 4), 1), p)[0] is True
    assert experiment_e1.paper_outcome(outcome((3, 4), (0, 1, 2), 1), p)[0] is False
    variant = experiment_e1.E1_ALL_M6.conclusions[0]
    assert variant.check(outcome((3,), (0, 1, 2, 4), 1), p).holds is False


@pytest.mark.parametrize("m0", [4.0])
def test_rate_run_short(m0: float) -> None:
    """A short long-run: one mean converges (the closest), the other escapes, R^2 grows."""
    from scoreclaims.claims.paper._random_init_rates import run_rate
    out = run_rate(2, 1, m0, 0, 0.1, 1 << 11, 256, [0.2], 1e-3)
    v = out["classification"]
    assert v.decided and len(v.converging) == 1 and len(v.diverging) == 1
    esc = out["escape"][str(v.diverging[0])]
    assert esc["slope_last_two_decades"] > 0


def test_seed_out_of_budget_is_undecided_and_counted() -> None:
    """A per-seed evaluation budget too small for the run leaves the seed undecided, says why,
    and the sweep counts it; an ample budget decides as the unbounded run does."""
    free = sweep(2, 2, 6.0, range(2), 0.1, 32, 1 << 10)
    cap = min(r["evaluations"] for r in free["runs"]) // 4
    tight = sweep(2, 2, 6.0, range(2), 0.1, 32, 1 << 10, budget=cap)
    assert tight["undecided"] == 2 and tight["out_of_budget"] == 2
    assert tight["exactly_one"]["decided"] == 0
    for run in tight["runs"]:
        assert run["out_of_budget"] and "budget ran out" in run["reason"]
        # the last step may overshoot by one reuse of its rule (a k = 1 rule: < 1000 nodes)
        assert run["evaluations"] <= cap + 1000
    broke = sweep(2, 2, 6.0, range(1), 0.1, 32, 1 << 10, budget=1)  # out at the first step
    assert broke["out_of_budget"] == 1 and "tau = 0" in broke["runs"][0]["reason"]
    ample = sweep(2, 2, 6.0, range(2), 0.1, 32, 1 << 10,
                  budget=2 * max(r["evaluations"] for r in free["runs"]))
    assert free["out_of_budget"] == 0 and ample["out_of_budget"] == 0
    assert [r["converged"] for r in ample["runs"]] == [r["converged"] for r in free["runs"]]


def test_sweep_tolerance_reaches_the_cubature_and_the_tol_check() -> None:
    """A sweep's `tol` reaches every cubature (fewer evaluations at a looser tolerance, a larger
    error bound) and the tol-check instance classifies the same seeds at both tolerances; its
    predicate passes when they agree and rejects a disagreement."""
    item = {"kind": "tol-check", "n": 3, "d": 3, "M0": 6.0, "seeds": 2, "tol": 1e-5,
            "eta": 0.1, "max_steps": 1 << 10, "budget": random_init.SEED_BUDGET}
    out = random_init.run(item, P)
    m = out.metrics
    assert m["decided_at_both"] == 2 and m["disagreements"] == []
    assert m["evaluations"][0] < m["evaluations"][1]
    assert m["max_final_distance_gap"] < 1e-3
    holds, text = random_init.tolerance_independent(out, P)
    assert holds is True and "2 seeds decided at both" in text
    bad = InstanceOutcome(data={"kind": "tol-check", "both": 3, "differ": [1], "gap": 0.4})
    none = InstanceOutcome(data={"kind": "tol-check", "both": 0, "differ": [], "gap": None})
    assert random_init.tolerance_independent(bad, P)[0] is False
    assert random_init.tolerance_independent(none, P)[0] is None
    assert random_init.tolerance_independent(_sweep_outcome(1, 0, 1, 0), P)[0] == NOT_APPLICABLE


def test_tolerance_effect_pools_the_checks_and_counts_the_unknown_as_differing() -> None:
    """The pooled bound on how often the sweeps' tolerance changes a decided classification:
    the Wilson upper bound over the seeds decided at both; seeds not decided at both enter only
    the worst-case bound. A check with a disagreement raises both."""
    def check(both: int, differ: list[int], undecided: list[int], decided: int) -> dict:
        return {"decided_at_both": both, "disagreements": differ, "undecided": undecided,
                "counts": [{"1": decided}, {"1": decided + undecided[0] - undecided[1]}]}

    clean = random_init.tolerance_effect([check(11, [], [0, 1], 12), check(12, [], [0, 0], 12)])
    assert clean["seeds"] == 24 and clean["decided_at_both"] == 23 and clean["differ"] == 0
    assert clean["undecided"] == [0, 1]
    z2 = 1.959963984540054**2
    assert clean["rate_upper"] == pytest.approx(z2 / (23 + z2))
    assert clean["rate_upper_unknown_differ"] == pytest.approx(wilson(1, 24)[1])
    assert clean["rate_upper"] < clean["rate_upper_unknown_differ"]
    bad = random_init.tolerance_effect([check(11, [3], [0, 1], 12), check(12, [], [0, 0], 12)])
    assert bad["differ"] == 1 and bad["rate_upper"] == pytest.approx(wilson(1, 23)[1])
    assert bad["rate_upper"] > clean["rate_upper"]


def test_summary_states_the_tolerance_effect_beside_the_k3_sweeps() -> None:
    """The summary's finding gives each n = 5, d = 3 sweep's lower bound less the pooled
    bound (a lower bound of 0.981 and 0 of 44 differing: 0.981 - 0.0803)."""
    class R:
        def __init__(self, instance: dict, metrics: dict) -> None:
            self.instance, self.metrics = instance, metrics
            self.verdict = Verdict.PASS

    sweep_m = {"n": 5, "d": 3, "M0": 6.0, "seeds": 200, "steps_total": 6400,
               "wall_time_s": 50.0, "exactly_one": proportion(200, 200, 0),
               "closest_wins": {}, "all_converge": proportion(0, 200, 0)}
    checks = [R({"kind": "tol-check"}, {"n": 5, "d": 3, "M0": m0, "tols": [1e-4, None],
                                         "decided_at_both": 11, "disagreements": [],
                                         "max_final_distance_gap": 1e-9, "undecided": [0, 1],
                                         "counts": [{"1": 12}, {"1": 11}]})
              for m0 in (4.0, 6.0, 8.0, 10.0)]
    out = random_init.summarize_t35([R({"kind": "sweep"}, sweep_m), *checks])
    effect = out["tol_effect"]
    assert effect["decided_at_both"] == 44 and effect["seeds"] == 48
    lower = sweep_m["exactly_one"]["ci_all_runs"][0] - effect["rate_upper"]
    finding = [f for f in out["findings"] if "looser cubature tolerance" in f]
    assert len(finding) == 1 and f"n=5,d=3,M0=6: {lower:.3g}" in finding[0]
    assert random_init.summarize_t35([R({"kind": "sweep"}, sweep_m)]).get("tol_effect") is None


def test_every_full_sweep_setting_has_200_seeds_and_k3_its_tolerance() -> None:
    full = random_init.SWEEPS["full"]
    settings = {(i["n"], i["d"], i["M0"]) for i in full}
    assert len(settings) == 24 and all(i["seeds"] >= 200 for i in full)
    assert all(i.get("tol") == random_init.SWEEP_TOL_K3 for i in full if i["d"] == 3
               and i["n"] == 5)
    assert all("tol" not in i for i in full if (i["n"], i["d"]) != (5, 3))
    checks = [i for i in random_init.CHECKS["full"] if i["kind"] == "tol-check"]
    assert checks and all(i["tol"] == random_init.SWEEP_TOL_K3 for i in checks)


# ------------------------------------------------------------- signs certified afresh

def test_certify_tols_tighten_from_the_runs_tolerance_to_the_default() -> None:
    assert certify_tols(1e-4, 3) == [1e-6, 1e-7, 1e-8, default_tol(3)]
    assert certify_tols(1e-7, 3) == [1e-8, default_tol(3)]
    assert certify_tols(None, 3) == [] and certify_tols(None, 2) == []
    assert certify_tols(1e-2, 2) == [1e-6, 1e-7, 1e-8, default_tol(2)]


def test_open_on_signs_only_where_a_receding_means_sign_is_within_its_bound() -> None:
    d = np.array([[0.3, 4.0], [0.2, 4.1], [0.1, 4.3]])
    for radial, err, expected in [
        (np.array([0.2, -1e-3]), 1e-2, True),  # outward, within the bound: a sign to certify
        (np.array([0.2, 1e-3]), 1e-2, False),  # pulled back: no certificate makes it diverge
        (np.array([0.2, -1e-3]), 1e-12, False),  # already decided
    ]:
        win = _window(d, radial, err)
        assert classify(win).open_on_signs is expected
    near = np.array([[0.3, 2.0], [0.2, 2.1], [0.1, 2.3]])  # inside r_div
    win = _window(near, np.array([0.2, -1e-3]), 1e-2)
    assert not classify(win).open_on_signs
    back = np.array([[0.3, 4.0], [0.2, 4.1], [0.1, 4.05]])  # not receding at every step
    win = _window(back, np.array([0.2, -1e-3]), 1e-2)
    assert not classify(win).open_on_signs
    win = _window(d, np.array([0.2, -1e-3]), 1e-2, accurate=False)
    assert not classify(win).open_on_signs


@pytest.mark.parametrize("seed", [2, 16, 21])
def test_a_sign_left_open_by_a_loose_tolerance_is_certified_at_a_tighter_one(
        seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """n = 3, d = 2, M_0 = 8 at tol 1e-2: a far mean's radial gradient sits within the bound at
    tau = 32; evaluated again at a tighter tolerance the window decides, with the outcome of the
    run at the engine's default tolerance (which needs no certificate)."""
    m0 = initial_means(3, 2, 8.0, seed)
    loose = run_classified(m0, 0.1, 32, 64, budget=10**8, tol=1e-2)
    exact = run_classified(m0, 0.1, 32, 64, budget=10**8)
    assert loose["decided"] and loose["tau"] == 32 and loose["certified_tol"] is not None
    assert exact["certified_tol"] is None
    assert (loose["converged"], loose["diverged"]) == (exact["converged"], exact["diverged"])
    assert loose["uncertified"] is None
    monkeypatch.setattr(_random_init_runs, "CERTIFY_TOLS", ())
    bare = run_classified(m0, 0.1, 32, 32, budget=10**8, tol=1e-2)
    assert not bare["decided"] and "error bound" in bare["reason"]
    assert bare["uncertified"] is None  # no certification tried


@pytest.mark.parametrize("seed", [4, 5])
def test_a_far_sign_within_the_whole_bound_is_decided_on_its_own(
        seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """n = 3, d = 2, M_0 = 8 at tol 1e-2: the far means' radial gradients at tau = 32 exceed their
    own error bounds, so the window decides without a certificate, with the outcome at the
    engine's default; judged against the whole gradient's bound (`mean_error_bounds` without
    own bounds) the same run needs a certifying evaluation at 1e-6."""
    m0 = initial_means(3, 2, 8.0, seed)
    own = run_classified(m0, 0.1, 32, 64, budget=10**8, tol=1e-2)
    exact = run_classified(m0, 0.1, 32, 64, budget=10**8)
    assert own["decided"] and own["tau"] == 32 and own["certified_tol"] is None
    assert (own["converged"], own["diverged"]) == (exact["converged"], exact["diverged"])
    monkeypatch.setattr(_random_init_runs, "mean_error_bounds",
                        lambda p: np.full(np.shape(p.grad)[0], float(p.grad_error)))
    whole = run_classified(m0, 0.1, 32, 64, budget=10**8, tol=1e-2)
    assert whole["decided"] and whole["certified_tol"] == 1e-6


def test_an_undecided_run_records_what_its_last_certification_left_open(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Seed 2 above, certified only at 5e-3 and 2e-3 (too loose for its far mean's sign): the
    run stays undecided, and its record says the tightest evaluation left the sign in its bound."""
    monkeypatch.setattr(_random_init_runs, "CERTIFY_TOLS", (5e-3, 2e-3))
    got = run_classified(initial_means(3, 2, 8.0, 2), 0.1, 32, 32, budget=10**8, tol=1e-2)
    assert not got["decided"] and got["certified_tol"] is None
    assert got["uncertified"].startswith("at tau = 32, tol 2e-03: mean 2: ")
    assert "error bound" in got["uncertified"]


def test_a_certification_that_cannot_evaluate_keeps_the_last_one_that_did(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """As above to tau = 64, where every certifying evaluation after the first two (those at
    tau = 32) comes back unconverged, as when the budget is spent: the record keeps what the
    certification at tau = 32 left open."""
    monkeypatch.setattr(_random_init_runs, "CERTIFY_TOLS", (5e-3, 2e-3))
    real, calls = _random_init_runs.evaluate, []

    def failing_after_two(m: np.ndarray, tol: float, **kw: object) -> object:
        calls.append(tol)
        ev = real(m, tol, **kw)
        return ev if len(calls) <= 2 else replace(ev, converged=False)

    monkeypatch.setattr(_random_init_runs, "evaluate", failing_after_two)
    got = run_classified(initial_means(3, 2, 8.0, 2), 0.1, 32, 64, budget=10**8, tol=1e-2)
    assert len(calls) == 3 and not got["decided"] and got["tau"] == 64
    assert got["uncertified"].startswith("at tau = 32, tol 2e-03: mean 2: ")


def test_a_sweep_counts_its_seeds_decided_by_certified_signs() -> None:
    res = sweep(3, 2, 8.0, [2, 16, 21], 0.1, 32, 64, budget=10**8, tol=1e-2)
    assert res["undecided"] == 0
    assert sum(res["certified"].values()) == 3
    assert set(res["certified"]) <= {"1e-06", "1e-07", "1e-08", "1e-11"}
    plain = sweep(3, 2, 8.0, [2, 16, 21], 0.1, 32, 64, budget=10**8)
    assert plain["certified"] == {}


def test_the_certifying_grid_takes_its_own_node_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    """n = 5, d = 3, M_0 = 10, seed 45 at the sweep's tolerance: the sign that decides it is
    certified at tau = 32 on a grid of about 1.4 million nodes, built under `CERTIFY_MAX_NODES`
    (at least the kept rules' `trapezoid.MAX_NODES[3]`); with that cap set below the grid (1
    million), the certifying evaluation falls to the adaptive cubature, which cannot finish
    within the evaluations the run spent, and the window stays open: the cap reaches the
    certifying evaluation. (Before the grid's first steps were coarsened, 2026-12-07, this
    seed needed more than MAX_NODES[3] nodes there.)"""
    m0 = initial_means(5, 3, 10.0, 45)
    got = run_classified(m0, 0.1, 32, 32, budget=10**8, tol=random_init.SWEEP_TOL_K3)
    assert got["decided"] and got["tau"] == 32 and got["certified_tol"] is not None
    assert _random_init_runs.CERTIFY_MAX_NODES >= MAX_NODES[3]
    monkeypatch.setattr(_random_init_runs, "CERTIFY_MAX_NODES", 1_000_000)
    capped = run_classified(m0, 0.1, 32, 32, budget=got["evaluations"],
                            tol=random_init.SWEEP_TOL_K3)
    assert not capped["decided"]
