"""The low-noise claims (T3.2, L3.3, T3.4): the verifiers accept the true statements on small
instances, reject the known-false variants, and their predicates catch broken evidence."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from claim_lookup import by_id, params
from hypothesis import given, settings
from hypothesis import strategies as st

import scoreclaims.claims.paper.low_noise as ln
import scoreclaims.claims.paper.low_noise_necessity as nec
from scoreclaims.claims import registry
from scoreclaims.claims.model import InstanceOutcome
from scoreclaims.claims.paper._low_noise_theory import large_noise_radius, t32_bound
from scoreclaims.claims.runner import evaluate
from scoreclaims.claims.verdict import Verdict
from scoreclaims.highprec.certified import enclose, enclose_mean_gradient
from scoreclaims.highprec.radial import radial_signs
from scoreclaims.verifiers.population import evaluate as evaluate_float64
from scoreclaims.verifiers.radial import AWAY, TOWARD, UNRESOLVED, radial_components


def test_registered_with_variants() -> None:
    reg = registry.load()
    assert {"T3.2", "L3.3", "T3.4", "PB"} <= {c.id for c in reg}
    assert {v.id for v in reg.variants_of("T3.2")} == {"T3.2~spread-1e-3", "T3.2~sqrt-rate"}
    assert {v.id for v in reg.variants_of("L3.3")} == {"L3.3~reported-factor"}
    assert {v.id for v in reg.variants_of("T3.4")} == {"T3.4~all-converge",
                                                       "T3.4~opposite-side"}


# ---------------------------------------------------------------------------- T3.2 / L3.3


def test_start_means_sit_at_the_bound_and_resolve_the_spread() -> None:
    inst = ln.collapse_instance(2, 1, 2.0)
    means = ln.start_means(inst)
    with mpmath.workdps(900):
        m = [mpmath.mpf(row[0]) for row in means]
        bound = t32_bound(2, 1, 2.0)
        dev = [x + 2 for x in m]  # mu_i = m_i + M0
        assert all(abs(x) <= bound for x in dev) and all(abs(x) > bound * 0.999 for x in dev)
        assert dev[0] * dev[1] < 0  # opposite signs: not a collapsed start
    assert ln.inside_t32(inst)
    assert not ln.inside_t32({**inst, "radius": "1e-700"})  # above the bound at M0 = 2
    assert ln.inside_t32({**inst, "radius": "1e-800"})
    assert not ln.inside_t32({**inst, "eta": 0.1})  # C_eta = 1.6 > 1


def _verdict(claim_id: str, outcome: InstanceOutcome) -> list[bool | None]:
    claim = by_id(claim_id)
    return [c.check(outcome, claim.params("quick")).holds for c in claim.conclusions]


def test_t32_and_l33_hold_and_variants_fail() -> None:
    inst = ln.collapse_instance(2, 1, 0.5)
    result = evaluate(by_id("T3.2"), inst, params("T3.2"))
    assert result.in_hypotheses and result.verdict is Verdict.PASS, result.reason
    assert result.metrics["loss_fit"]["classification"] == "geometric"
    assert result.metrics["final_max_distance"] <= 0.5 * large_noise_radius(2)
    assert result.metrics["contraction_rel_dev_derived"] < 1e-25
    assert result.metrics["contraction_rel_dev_reported"] == pytest.approx(0.01 / 1.99, rel=1e-6)
    assert result.metrics["amplification_rel_dev"] < 1e-20
    outcome = ln.run_collapse(inst, params("L3.3"))  # the job T3.2, L3.3 and variants share
    assert all(_verdict("L3.3", outcome))
    assert False in _verdict("L3.3~reported-factor", outcome)
    assert False in _verdict("T3.2~sqrt-rate", outcome)
    # past the hand-off: the same run continued, its rate reported and not judged (the
    # power-law regime of the bound lies ~10^29 steps away at this spread), distances falling
    after = result.metrics["after_handoff"]
    assert after["steps"] == 3 * result.metrics["steps"] and after["distances_decrease"]
    assert after["loss_fit"]["classification"] == "geometric"
    assert after["rate_vs_bound"] is None and not after["horizon_reaches_regime"]
    assert after["log10_power_law_regime_steps"] > 20 and "beyond any horizon" in after["reason"]
    assert {c.name: c.holds for c in result.checks}["keeps_converging_after_handoff"] is True
    # "inside" rests on the suite's step constant, and the reasons say so
    assert "C_eta = 0.16 <= 1, the suite's own step constant" in result.reason


def test_loose_spread_variant_is_rejected_by_a_run_away_mean() -> None:
    inst = ln.collapse_instance(2, 1, 6.0, radius="1e-3")
    result = evaluate(by_id("T3.2~spread-1e-3"), inst, params("T3.2"))
    assert result.in_hypotheses and result.verdict is Verdict.FAIL
    assert "does not get closer" in result.reason
    assert not ln.inside_t32(inst)


def test_broken_amplification_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run whose deviations do not follow the derived product fails linear_amplification;
    one whose means wander off fails means_stay_close."""
    inst = ln.collapse_instance(2, 1, 0.5)
    outcome = ln.run_collapse(inst, params("L3.3"))
    bad = InstanceOutcome(metrics=dict(outcome.metrics),
                          data={**outcome.data, "amp_err": mpmath.mpf("0.01"),
                                "while_far": [mpmath.mpf(1)]})
    p = params("L3.3")
    assert ln.amplification_check(bad, p)[0] is False
    assert ln.means_stay_close(bad, p)[0] is False


def test_convergence_predicate_outcomes() -> None:
    p = params("T3.2")
    base = {"n": 2, "final_max": 0.01, "rises": []}
    metrics = {"steps": 100}
    assert ln.every_mean_converges(InstanceOutcome(metrics=metrics, data=base), p)[0] is True
    rise = {**base, "rises": [(64, 1)]}
    assert ln.every_mean_converges(InstanceOutcome(metrics=metrics, data=rise), p)[0] is False
    far = {**base, "final_max": 0.05}  # beyond 0.5 e^-2/2 = 0.0338: horizon too short
    assert ln.every_mean_converges(InstanceOutcome(metrics=metrics, data=far), p)[0] is None


# -------------------------------------------------------------------------------- T3.4


def test_t34_holds_and_variants_fail() -> None:
    inst = nec.necessity_instance(2, 1, 6.0)
    p = params("T3.4")
    result = evaluate(by_id("T3.4"), inst, p)
    assert result.in_hypotheses and result.verdict is Verdict.PASS, result.reason
    assert "the side the suite chose" in result.reason
    assert "evidenced, not observed" in {c.name: c.detail for c in result.checks}[
        "others_move_away"]
    assert False in _verdict("T3.4~all-converge", nec.run_necessity(inst, p))
    opposite = nec.necessity_instance(2, 1, 6.0, side=-1)
    swapped = evaluate(by_id("T3.4~opposite-side"), opposite, p)
    assert swapped.in_hypotheses and swapped.verdict is Verdict.FAIL
    assert "mean 0 moves away" in swapped.reason  # the mirror outcome: mu_1 is pushed out
    assert not by_id("T3.4").hypotheses.contains(opposite)


def _sign_outcome(signs: list[list[str]], dist: list[list[float]]) -> InstanceOutcome:
    arr = np.array(signs)
    return InstanceOutcome(data={"tau": np.arange(len(signs)), "dist": np.array(dist),
                                 "signs": arr, "methods": [["float64"] * arr.shape[1]] * len(arr)})


def test_move_away_predicate_outcomes() -> None:
    p = params("T3.4")
    ok = _sign_outcome([[TOWARD, AWAY]] * 3, [[5.0, 6.0], [3.0, 6.0], [1.0, 6.1]])
    assert nec.others_move_away(ok, p)[0] is True
    inward = _sign_outcome([[TOWARD, AWAY], [TOWARD, TOWARD], [TOWARD, AWAY]],
                           [[5.0, 6.0], [3.0, 6.0], [1.0, 6.1]])
    assert nec.others_move_away(inward, p)[0] is False
    closer = _sign_outcome([[TOWARD, AWAY]] * 3, [[5.0, 6.0], [3.0, 5.9], [1.0, 6.1]])
    assert nec.others_move_away(closer, p)[0] is False
    open_end = _sign_outcome([[TOWARD, AWAY], [TOWARD, AWAY], [TOWARD, UNRESOLVED]],
                             [[5.0, 6.0], [3.0, 6.0], [1.0, 6.0]])
    assert nec.others_move_away(open_end, p)[0] is None
    frozen = _sign_outcome([[AWAY, TOWARD]] * 3, [[100.0, 5.0], [100.0, 1.0], [100.0, 0.01]])
    held, detail = nec.mean_converges(frozen, p, 0)  # constant in float64, pushed out exactly
    assert held is False and "points away" in detail
    assert nec.mean_converges(frozen, p, 1)[0] is True


# ---------------------------------------------------------------------------- signs


def test_per_component_signs_resolve_what_the_norm_bound_cannot() -> None:
    m = np.array([[-5.0], [-20.0]])  # the far mean's gradient is ~1e-23 of the near one's
    ev = evaluate_float64(m)
    assert abs(ev.grad[1, 0]) < ev.grad_error  # below the engine's norm-wise error bound
    value, bound = radial_components(m)
    assert abs(value[1]) > 100 * bound[1]
    assert value[1] == pytest.approx(-20.0 * ev.grad[1, 0], rel=1e-6)
    assert [s.sign for s in radial_signs(m)] == [TOWARD, AWAY]


def test_certified_fallback_below_float64_range() -> None:
    m = np.array([[0.0], [80.0]])  # the far gradient is ~exp(-80^2/8) = 1e-348
    assert radial_signs(m)[1].sign == UNRESOLVED
    sign = radial_signs(m, certify=(1,))[1]
    assert sign.sign == AWAY and sign.method == "arb"


def test_mean_selective_enclosure_agrees_with_the_full_one() -> None:
    means = [[0.4], [-0.3], [1.1]]
    full = enclose(means, digits=10)
    row, radial, ok = enclose_mean_gradient(means, 2, digits=10)
    assert ok and full.certified
    assert row[0].overlaps(full.grad[2, 0]) and row[0].rad() < 1e-9
    assert radial.overlaps(full.grad[2, 0] * 1.1)


@settings(max_examples=8)
@given(st.floats(0, 2 * np.pi), st.permutations(range(3)))
def test_radial_components_invariant_under_rotations_and_permutations(
        angle: float, perm: list[int]) -> None:
    m = np.array([[1.3, 0.2], [-0.4, 0.9], [0.1, -1.6]])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    value, bound = radial_components(m)
    turned, tbound = radial_components((m @ rot.T)[perm])
    np.testing.assert_allclose(turned, value[perm], rtol=1e-8, atol=10 * (bound.max() + 1e-15))
