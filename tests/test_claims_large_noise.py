"""The large-noise claims (T2.1, L2.2): the verifiers accept the true statements and reject the
known-false variants on small instances, and catch deliberately broken inputs."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from claim_lookup import by_id, params
from hypothesis import given, settings
from hypothesis import strategies as st

import scoreclaims.claims.paper.large_noise as ln
from scoreclaims.claims import registry
from scoreclaims.claims.model import NOT_APPLICABLE, InstanceOutcome
from scoreclaims.claims.paper._spread_law import spread_law
from scoreclaims.claims.runner import evaluate
from scoreclaims.claims.verdict import Verdict
from scoreclaims.highprec.stein import stein_vs_direct_mp
from scoreclaims.verifiers.rates import fit_rates
from scoreclaims.verifiers.stein import em_terms

SMALL_L22 = {"identity_scales": [0.3], "r_max": 0.1, "r_min": 0.002, "per_octave": 4}


def test_registered_with_variants() -> None:
    reg = registry.load()
    assert {"T2.1", "L2.2"} <= {c.id for c in reg}
    assert {v.id for v in reg.variants_of("T2.1")} == {
        "T2.1~cubic-rate", "T2.1~linear-rate", "T2.1~t0-any-init"}
    assert {v.id for v in reg.variants_of("L2.2")} == {
        "L2.2~quadratic-remainder", "L2.2~em-plus-sign"}


def test_hypothesis_threshold_and_step_condition() -> None:
    inst = ln.t21_instance([[1.0], [-1.0]], [0.5], 2.0, 0.01, eta=ln.theorem_step(2, 1))
    assert ln.inside_t21(inst) and ln.step_constant(inst) == pytest.approx(1.0)
    canonical = math.exp(-inst["t"]) * 2.0
    assert canonical <= 1 / (3 * 2)
    assert not ln.inside_t21({**inst, "t": ln.threshold(2, 2.0) - 0.01})
    big_step = {**inst, "eta": 1.0}  # C_eta = 16: beyond the step condition, noise still inside
    assert ln.inside_noise(big_step) and not ln.inside_t21(big_step)


def test_grid_split_by_step_condition() -> None:
    """Inside instances run at C_eta <= 1; the eta = n/2 runs are outside the hypotheses."""
    for profile in ("quick", "full"):
        assert all(ln.inside_t21(i) for i in ln.T21_INSIDE[profile])
        assert not any(ln.inside_t21(i) for i in ln.T21_STEP_BEYOND[profile])
        assert all(ln.inside_noise(i) for i in ln.T21_STEP_BEYOND[profile])


# ---------------------------------------------------------------------------- L2.2


def test_gradient_em_identity_has_a_minus_sign() -> None:
    m = np.array([[0.8, 0.1], [-0.3, 0.5], [0.2, -0.7]])
    lead, step, lead_err, step_err = em_terms(m)
    assert np.linalg.norm(lead + 2 * step) <= 1e-12 * np.linalg.norm(lead)
    assert np.linalg.norm(lead - 2 * step) > 0.5 * np.linalg.norm(lead)
    assert lead_err < 1e-12 and step_err < 1e-12


def test_collapsed_leading_term() -> None:
    a = np.array([0.3, -0.2])
    lead, step, _, _ = em_terms(np.tile(a, (3, 1)))
    np.testing.assert_allclose(lead, np.tile(2 * a / 3, (3, 1)), rtol=1e-15)
    np.testing.assert_allclose(step, -lead / 2, rtol=1e-15)


def test_stein_form_at_high_precision() -> None:
    rel, qerr = stein_vs_direct_mp(np.array([[0.6], [-0.3]]), dps=30)
    assert rel <= 1e-25 and qerr <= 1e-25


@pytest.mark.parametrize("inst", [{"m": [[1.0], [-0.4]], "mp50": True},
                                  {"m": [[1.0, 0.0], [-0.3, 0.8], [0.2, -0.6]]}])
def test_l22_holds_and_variants_rejected(inst: dict[str, Any]) -> None:
    p = params("L2.2", **SMALL_L22)
    result = evaluate(by_id("L2.2"), inst, p)
    assert result.verdict is Verdict.PASS, result.reason
    assert abs(result.rates["remainder_exponent"] - 3.0) < 0.05
    for variant in ("L2.2~quadratic-remainder", "L2.2~em-plus-sign"):
        assert evaluate(by_id(variant), inst, p).verdict is Verdict.FAIL
    mp = {c.name: c for c in result.checks}["stein_equals_direct_50_digits"]
    # the 50-digit check is one-dimensional: it concerns k = 1 only (n/a for this k = 2 one)
    assert mp.holds is (True if "mp50" in inst else NOT_APPLICABLE), mp.detail


def test_the_50_digit_check_not_run_on_a_k1_instance_is_no_pass() -> None:
    """No evidence is never a pass: a k = 1 configuration without the 50-digit run is
    undecided (it used to read 'True: not run here')."""
    result = evaluate(by_id("L2.2"), {"m": [[1.0], [-0.4]]}, params("L2.2", **SMALL_L22))
    mp = {c.name: c for c in result.checks}["stein_equals_direct_50_digits"]
    assert mp.holds is None and "not run" in mp.detail
    assert result.verdict is Verdict.INCONCLUSIVE


def test_broken_leading_term_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """A leading term off by a factor leaves a first-order remainder: remainder_cubic fails."""
    real = ln.em_terms

    def broken(m: np.ndarray, tol: float = 1e-12) -> tuple[np.ndarray, np.ndarray, float, float]:
        lead, step, e1, e2 = real(m, tol)
        return 1.1 * lead, step, e1, e2

    monkeypatch.setattr(ln, "em_terms", broken)
    result = evaluate(by_id("L2.2"), {"m": [[1.0], [-0.4]]}, params("L2.2", **SMALL_L22))
    checks = {c.name: c.holds for c in result.checks}
    assert checks["remainder_cubic"] is False
    assert checks["gradient_em_identity"] is False


def test_broken_stein_form_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    real = ln.stein_gradient

    def broken(m: np.ndarray, tol: float = 1e-12) -> tuple[np.ndarray, float]:
        g, err = real(m, tol)
        return g + 1e-9 * np.linalg.norm(g), err  # a tiny wrong term must not pass at 1e-12

    monkeypatch.setattr(ln, "stein_gradient", broken)
    result = evaluate(by_id("L2.2"), {"m": [[1.0], [-0.4]]}, params("L2.2", **SMALL_L22))
    assert {c.name: c.holds for c in result.checks}["stein_equals_direct_float64"] is False


# ---------------------------------------------------------------------------- T2.1


def test_t21_reasons_say_inside_rests_on_the_suites_step_constant() -> None:
    inside = ln.T21_INSIDE["quick"][0]
    assert ln.t21_membership(inside).startswith("inside:")
    assert "C_eta = eta n^4 d^2 = 1 <= 1, the suite's own step constant" in \
        ln.t21_membership(inside)
    beyond = ln.T21_STEP_BEYOND["quick"][0]
    assert "> 1, the suite's own step constant" in ln.t21_membership(beyond)
    assert "the paper's constant" in by_id("T2.1").hypotheses.caveat


def test_t21_bounded_k_can_fail() -> None:
    """K = L sqrt(eta tau)/(n^3 d^2) growing through the last decade with a decided loss fit
    slower than tau^-1/2 is a violation, not a horizon too short."""
    p = params("T2.1")
    slow = ln._t21_rate_outcome(0.3)
    assert ln.loss_bound_bounded(slow, p)[0] is False
    assert ln.loss_bound_bounded(ln._t21_rate_outcome(2.0), p)[0] is True


def test_t21_small_instance_passes() -> None:
    inst = ln.t21_instance([[1.0], [-0.3]], [1.0], 2.0, 0.05, steps=1 << 14,
                           eta=ln.theorem_step(2, 1))
    result = evaluate(by_id("T2.1"), inst, params("T2.1"))
    assert result.in_hypotheses
    assert result.verdict is Verdict.PASS, result.reason
    assert 0 < result.metrics["empirical_constant"] < 1
    assert result.metrics["final_max_canonical_distance"] < result.metrics["distance_tolerance"]


def test_n2_runs_follow_the_derived_clock() -> None:
    """The quick inside n = 2 run: its largest distance at the horizon is (4 eta tau')^-1/2 on
    the derived clock tau' (`on_clock`) to 1e-5 (an O(1) constant c left in r^-2 moves r by
    c / (8 eta tau'), 1e-5 for c ~ 0.1; without the log term the law is off by 9e-4), and on
    that clock both fits are power laws at the derived exponents 2 and 1/2, and they are the
    ones the exponents come from."""
    inst = ln.T21_INSIDE["quick"][0]
    result = evaluate(by_id("T2.1"), inst, params("T2.1"))
    eta, steps = inst["eta"], inst["steps"]
    shift = ln.derived_clock(inst, eta)
    assert shift == pytest.approx(ln.transient_steps(inst)) and shift > 0
    tau_end = float(ln.on_clock(np.array([float(steps)]), shift, eta)[0])
    law = (4 * eta * tau_end) ** -0.5
    assert result.metrics["final_max_canonical_distance"] == pytest.approx(law, rel=1e-5)
    assert result.metrics["law_relative_error"] == pytest.approx(
        result.metrics["final_max_canonical_distance"] / law - 1, abs=1e-12)
    plain = (4 * eta * (steps + shift)) ** -0.5
    assert abs(result.metrics["final_max_canonical_distance"] / plain - 1) > 5e-4
    dist, loss = result.metrics["distance_fit_clock"], result.metrics["loss_fit_clock"]
    assert dist["clock_shift"] == loss["clock_shift"] == shift
    assert dist["classification"] == loss["classification"] == "power"
    assert abs(dist["exponent"] - 0.5) < 1e-4 and abs(loss["exponent"] - 2.0) < 1e-2
    assert result.rates["distance_exponent"] == dist["exponent"]
    assert result.rates["loss_exponent"] == loss["exponent"]
    assert result.metrics["loss_fit"]["classification"] != "power"  # on tau: the transient


def test_derived_clock_only_where_derived() -> None:
    """n > 2 (no next-order law: `spread_law` instead), identical means, and a spread too wide
    for the law's expansion (where the clock would not be monotone) get no `on_clock`."""
    n2 = ln.t21_instance([[1.0], [-0.3]], [1.0], 2.0, 0.05, eta=ln.theorem_step(2, 1))
    assert ln.derived_clock(n2, n2["eta"]) > 0
    tau = np.arange(0.0, 1e5, 7.0)
    clock = ln.on_clock(tau, ln.derived_clock(n2, n2["eta"]), n2["eta"])
    assert np.all(np.diff(clock) > 0) and clock[0] > 0
    n3 = ln.t21_instance([[1.0], [0.1], [-0.8]], [0.0], 2.0, 0.05, eta=ln.theorem_step(3, 1))
    same = {**n2, "means": [[1.0], [1.0]]}
    wide = {**n2, "t": 0.0}  # half-spread 0.65: 3 (1 - eta) r0^2 > 1
    for inst in (n3, same, wide):
        assert ln.derived_clock(inst, inst["eta"]) == 0.0
    assert ln.on_clock(tau, 0.0, 0.1) is tau


@settings(max_examples=60, deadline=None, derandomize=True)
@given(ln.large_noise_instances())
def test_search_horizon_covers_the_spread_transient(inst: dict[str, Any]) -> None:
    """Search examples run at least SEARCH_TRANSIENTS transients of the spread law, and at least
    the distance law's horizon; the search refuses those beyond the cap."""
    assert ln.inside_t21(inst)
    steps, transient = inst["steps"], ln.transient_steps(inst)
    base = ln.SEARCH_STEPS[len(inst["truth"])]
    assert steps == base if math.isinf(transient) else steps >= ln.SEARCH_TRANSIENTS * transient
    assert base <= steps
    assert ln.searchable_t21(inst) is (steps <= ln.SEARCH_MAX_STEPS)


def test_search_horizon_of_the_undecided_example() -> None:
    """The search example a non-derandomised quick run drew (n = 2, d = 2, t = 4.84): its loss
    was still in the spread's plateau at the old fixed 2^16 steps (T ~ 5 10^4). Its derived
    horizon is 2^18, beyond the search cap, so the strategy no longer draws it."""
    inst = ln.t21_instance([[0.0, 3.22], [4.27, 3.96]], [-1.0, 1.0], 6.044, 0.348,
                           eta=ln.theorem_step(2, 2))
    assert 4e4 < ln.transient_steps(inst) < 6e4
    assert ln.search_steps(inst) == 1 << 18 > ln.SEARCH_MAX_STEPS
    assert not ln.searchable_t21({**inst, "steps": ln.search_steps(inst)})
    collapsed = {**inst, "means": [[1.0, 2.0], [1.0, 2.0]]}  # no spread: geometric, no plateau
    assert ln.search_steps(collapsed) == ln.SEARCH_STEPS[2]


def test_collapsed_search_start_is_decided() -> None:
    """Identical means (a draw the search can make) stay identical and decay geometrically by
    (1 - 2 eta/n) until the loss underflows to exact zeros; those end the fit's window instead of
    leaving the rate undecided (which made such a draw inconclusive)."""
    inst = ln.t21_instance([[1.0], [1.0]], [0.0], 1.0, 0.5, eta=ln.theorem_step(2, 1))
    inst = {**inst, "steps": ln.search_steps(inst)}
    result = evaluate(by_id("T2.1"), inst, params("T2.1"))
    assert result.in_hypotheses and result.verdict is Verdict.PASS, result.reason
    fit = result.metrics["loss_fit"]
    assert fit["classification"] == "geometric"
    assert fit["ratio"] == pytest.approx((1 - 2 * inst["eta"] / 2) ** 2, rel=1e-9)
    assert result.metrics["final_loss"] == 0.0  # the underflow the fit had to stop before


def test_t21_beyond_step_is_exploration() -> None:
    inst = ln.t21_instance([[1.0, 0.3], [-0.5, -0.6], [0.1, 0.9]], [1.0, -1.0], 2.0, 0.05,
                           steps=4096, eta=1.5)
    result = evaluate(by_id("T2.1"), inst, params("T2.1"))
    assert not result.in_hypotheses
    assert result.verdict is Verdict.PASS, result.reason
    assert result.metrics["step_constant_C_eta"] == pytest.approx(1.5 * 81 * 4)


def test_t0_counterexample_rejected() -> None:
    inst = {"means": [[3.0], [-3.0], [0.0]], "truth": [0.0], "t": 0.0, "steps": 512, "eta": 0.1}
    result = evaluate(by_id("T2.1~t0-any-init"), inst, params("T2.1"))
    assert result.in_hypotheses and result.verdict is Verdict.FAIL
    assert "move away" in result.reason
    assert result.metrics["status"] == "ok"  # a genuine run-away, not an overflow


def _outcome(tau: np.ndarray, loss: np.ndarray) -> InstanceOutcome:
    fit = fit_rates(tau, loss)
    return InstanceOutcome(metrics={"loss_fit": ln._fit_summary(fit)}, data={"loss_fit": fit})


TAU = np.unique(np.concatenate([2.0 ** np.arange(21), np.arange(0, 2**20 + 1, 4096)])).astype(float)


def test_rate_predicates_on_known_series() -> None:
    """tau^-2 passes T2.1's rate check and fails the tau^-3 and geometric variants; a geometric
    series would pass 'at least tau^-3' (why the variant's instances are not collapsed)."""
    p = params("T2.1")
    cubic = by_id("T2.1~cubic-rate").conclusions[0]
    linear = by_id("T2.1~linear-rate").conclusions[0]
    rate = next(c for c in by_id("T2.1").conclusions if c.name == "loss_rate_vs_bound")
    power = _outcome(TAU, (TAU + 5.0) ** -2.0)
    assert rate.check(power, p).holds is True
    assert cubic.check(power, p).holds is False
    assert linear.check(power, p).holds is False
    slow = _outcome(TAU, (TAU + 5.0) ** -0.3)
    assert rate.check(slow, p).holds is False
    geo = _outcome(TAU[TAU < 2000], 0.99 ** TAU[TAU < 2000])
    assert cubic.check(geo, p).holds is True and linear.check(geo, p).holds is True


def test_convergence_predicate_outcomes() -> None:
    """Canonical distances: growing -> False; decreasing but above 0.25/(3n) -> None;
    below it -> True."""
    tau = np.array([0.0, 1, 2, 4, 8, 16, 32, 64, 128])
    p = params("T2.1")
    dist = np.column_stack([np.geomspace(0.1, 0.01, 9), np.r_[np.geomspace(0.1, 0.01, 8), 0.02]])
    holds, detail = ln.every_mean_converges(InstanceOutcome(data={"tau": tau, "dist": dist,
                                                                  "n": 2}), p)
    assert holds is False and "[1]" in detail
    slow = np.column_stack([np.linspace(0.1, 0.08, 9)] * 2)
    assert ln.every_mean_converges(InstanceOutcome(data={"tau": tau, "dist": slow, "n": 2}),
                                   p)[0] is None
    near = np.column_stack([np.geomspace(0.1, 0.04, 9)] * 2)  # tolerance 0.25/6 = 0.0417
    assert ln.every_mean_converges(InstanceOutcome(data={"tau": tau, "dist": near, "n": 2}),
                                   p)[0] is True
    # the same distances are not yet within the tolerance for n = 3 (0.0278)
    assert ln.every_mean_converges(InstanceOutcome(data={"tau": tau, "dist": np.column_stack(
        [np.geomspace(0.1, 0.04, 9)] * 3), "n": 3}), p)[0] is None


def test_spread_law_reduces_to_the_n2_law() -> None:
    """n = 2 centred: leverages 1/2, and the leading law is r^-2 = r0^-2 + 4 eta tau, so both
    clocks are tau + T exactly (T = 1/(4 eta r0^2)); coinciding means have no law."""
    law = spread_law(np.array([[0.02, -0.01], [-0.02, 0.01]]), 0.3)
    assert law is not None and law.rank == 1
    assert np.allclose(law.leverage, 0.5)
    r0_sq = 0.02**2 + 0.01**2
    tau = np.array([0.0, 10.0, 1e4, 1e7])
    assert np.allclose(law.distance(tau), (1 / r0_sq + 4 * 0.3 * tau) ** -0.5, rtol=1e-12)
    assert np.allclose(law.loss(tau), (1 / r0_sq + 4 * 0.3 * tau) ** -2, rtol=1e-12)
    shift = 1 / (4 * 0.3 * r0_sq)
    assert np.allclose(law.distance_clock(tau), tau + shift, rtol=1e-12)
    assert np.allclose(law.loss_clock(tau), tau + shift, rtol=1e-12)
    assert spread_law(np.array([[0.1, 0.2]] * 3), 0.3) is None


@settings(max_examples=30, deadline=None, derandomize=True)
@given(st.integers(3, 6), st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_spread_law_leverages_and_clocks(n: int, d: int, seed: int) -> None:
    """Leverages sum to the rank of the scatter; both clocks increase and tau' - tau settles
    (the law is an exact power on its clocks)."""
    m = np.random.default_rng(seed).uniform(-0.05, 0.05, (n, d))
    law = spread_law(m, 0.5)
    assert law is not None
    assert law.leverage.sum() == pytest.approx(min(n - 1, d), rel=1e-9)
    tau = np.geomspace(1.0, 1e12, 60)
    for clock in (law.distance_clock(tau), law.loss_clock(tau)):
        assert np.all(np.diff(clock) > 0)
        assert abs(clock[-1] / tau[-1] - 1) < 1e-3


def test_spread_law_predicts_n_above_2_runs() -> None:
    """n = 3, d = 2 beyond the step condition (eta = n/2, 2^12 steps): the largest distance
    at the horizon is the leading law's to 1e-3 (the next order is relative O(log tau / tau)),
    and the clock fits are power laws near 2 and 1/2."""
    inst = ln.T21_STEP_BEYOND["quick"][1]
    assert len(inst["means"]) == 3
    result = evaluate(by_id("T2.1"), inst, params("T2.1"))
    assert abs(result.metrics["law_relative_error"]) < 1e-3
    dist, loss = result.metrics["distance_fit_clock"], result.metrics["loss_fit_clock"]
    assert dist["classification"] in ("power", "power-log")
    assert abs(dist["exponent"] - 0.5) < 5e-3
    assert dist["clock_shift"] > 0 and loss["clock_shift"] > 0
