"""The phase boundary (claim PB): the classification rule, the bisection, the fits and the checks,
on synthetic inputs and on a few cheap real runs."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import scoreclaims.claims.paper.phase_boundary as pb
from scoreclaims.claims.model import InstanceOutcome
from scoreclaims.claims.paper._boundary_runs import (
    ALL,
    ONE,
    UNDECIDED,
    BoundaryRun,
    RunRule,
    _classify,
    classified_run,
)
from scoreclaims.verifiers.radial import AWAY, TOWARD, radial_signs

RULE = RunRule()


def _run(outcome: str, near: int = 1, x: float = 0.0) -> BoundaryRun:
    return BoundaryRun(x, outcome, near, 0, "float64", 0, "ok")


def _fake(threshold: float, calls: list[float], undecided_at: float | None = None):
    def run(x: float) -> BoundaryRun:
        calls.append(x)
        if undecided_at is not None and abs(x - undecided_at) < 1e-9:
            return _run(UNDECIDED)
        return _run(ALL, 2) if x < threshold else _run(ONE)
    return run


@pytest.mark.parametrize("guess", [-4.3, -4.0, -2.0, -9.0])
def test_bisection_brackets_the_threshold_from_any_start(guess: float) -> None:
    calls: list[float] = []
    out = pb._bisect(_fake(-4.21, calls), guess, 0.4, 0.05, -400, 3, lambda r: r.outcome == ALL)
    lo, hi = out["bracket"]
    assert out["decided"] and lo < -4.21 <= hi and hi - lo <= 0.05 + 1e-9
    assert abs(out["star"] + 4.21) <= 0.025 + 1e-9
    assert out["lower_outcome"] == ALL and out["upper_outcome"] == ONE
    assert len(calls) <= 12


def test_bisection_stops_at_an_undecided_run() -> None:
    calls: list[float] = []
    out = pb._bisect(_fake(-4.21, calls, undecided_at=-4.0), -4.0, 0.4, 0.05, -400, 3,
                     lambda r: r.outcome == ALL)
    assert not out["decided"] and out["star"] is None


def test_classification_rule() -> None:
    prev = np.array([0.8, 0.5])
    assert _classify(np.array([[0.7], [-0.4]]), prev, RULE)[0] == ALL
    assert _classify(np.array([[0.9], [-0.4]]), prev, RULE)[0] == ""  # a near mean moves out
    assert _classify(np.array([[1.5], [-0.4]]), np.array([1.6, 0.5]), RULE)[0] == ""  # between
    one = _classify(np.array([[3.5], [0.1]]), np.array([3.4, 0.2]), RULE)
    assert one[0] == ONE and one[1] == 1
    three = _classify(np.array([[4.0], [0.1], [-0.2], [0.05]]), np.array([3.9, 0.2, 0.3, 0.1]),
                      RULE)
    assert three[0] == "3-converge" and three[1] == 3
    assert _classify(np.array([[3.5], [0.1]]), np.array([3.6, 0.2]), RULE)[0] == ""  # coming in


def test_escape_radius_lies_between_r_in_and_r_out() -> None:
    """With the other mean at the truth, a mean at R is pulled back below ~2.46 and pushed out
    beyond it (n = 2): r_in = 1 and R_out = 3 sit on either side with a margin."""
    assert radial_signs(np.array([[0.0], [2.3]]))[1].sign == TOWARD
    assert radial_signs(np.array([[0.0], [2.6]]))[1].sign == AWAY
    assert radial_signs(np.array([[0.0], [0.0], [0.0], [0.0], [2.9]]))[4].sign == AWAY
    assert radial_signs(np.array([[0.0], [0.0], [0.0], [0.0], [2.6]]))[4].sign == TOWARD


def test_classified_runs_on_both_sides() -> None:
    low = classified_run(2, 1, 4.0, -6.0, 0.01, 0)
    high = classified_run(2, 1, 4.0, -3.0, 0.01, 0)
    assert low.outcome == ALL and high.outcome == ONE
    assert max(low.final_distances) <= RULE.r_in
    assert max(high.final_distances) >= RULE.r_out
    spent = classified_run(2, 1, 3.0, -30.0, 0.01, 0)  # the amplification (1e3.8) is spent
    assert spent.outcome == ALL and spent.pre_phase.startswith("mp")


def _points(offsets: list[float], m0s: list[float], eta: float = 0.01) -> list[dict[str, Any]]:
    from scoreclaims.claims.paper._low_noise_theory import (
        log10_amplification,
        log10_flow_amplification,
    )

    pts = []
    for m, b in zip(m0s, offsets, strict=True):
        amp = log10_amplification(m, eta, 2)
        star = -amp - b
        pts.append({"M0": m, "eta": eta, "decided": True, "decided_one": True,
                    "log10_delta_star": star, "log10_amplification": amp,
                    "log10_flow_amplification": log10_flow_amplification(m),
                    "offset_b": b, "flow_offset": -star - log10_flow_amplification(m),
                    "log10_radius_lower": star - 0.1, "log10_t32_bound": -100.0 * m,
                    "slack_decades": star - 0.1 + 100.0 * m, "upper_outcome": ONE,
                    "bracket": [star - 0.025, star + 0.025]})
    return pts


def test_offset_checks_and_flow_variant() -> None:
    p = pb.PB.params("full")
    m0s = [4.0, 6.0, 8.0, 10.0, 12.0]
    steady = InstanceOutcome(metrics={"runs": 30}, data={"points": _points([-2.2] * 5, m0s)})
    assert pb._offsets(steady, p, "offset_b")[0] is True
    assert pb._offsets(steady, p, "flow_offset")[0] is False  # GD is not the flow at eta 0.01
    drift = InstanceOutcome(metrics={"runs": 30},
                            data={"points": _points([-2.2, -2.0, -1.6, -1.2, -0.8], m0s)})
    assert pb._offsets(drift, p, "offset_b")[0] is False
    assert pb.boundary_decided(steady, p)[0] is True
    undecided = _points([-2.2] * 5, m0s)
    undecided[2].update(decided=False, lower_outcome=ALL, upper_outcome=UNDECIDED,
                        bracket_one=[0, 0], one_lower_outcome=None, one_upper_outcome=None)
    assert pb.boundary_decided(InstanceOutcome(metrics={"runs": 30},
                                               data={"points": undecided}), p)[0] is None
    # every run settled, the same outcome from the floor to the cap: no boundary in range
    none = _points([-2.2] * 5, m0s)
    none[1].update(decided=False, lower_outcome=ONE, upper_outcome=ONE,
                   bracket=[p["floor"], p["floor"] + 0.8])
    holds, text = pb.boundary_decided(InstanceOutcome(metrics={"runs": 30},
                                                      data={"points": none}), p)
    assert holds is False and "no delta*" in text
    # T3.2's margin is a reported figure, not a conclusion
    assert "above_t32_bound" not in [c.name for c in pb.PB.conclusions]


def test_pb_states_its_own_domain_of_validity() -> None:
    """PB is beyond the paper: its hypotheses are its stated domain of validity, and the
    exploration curves of the full profile lie outside it."""
    inside = [i for i in pb.PB_INSTANCES["full"] if pb.inside_pb(i)]
    beyond = [i for i in pb.PB_INSTANCES["full"] if not pb.inside_pb(i)]
    assert len(inside) == 6 and len(beyond) == 2
    assert all(pb.inside_pb(i) for i in pb.PB_INSTANCES["quick"])
    assert "M0 = 14, 16 outside" in pb.pb_membership(pb.curve(2, 1, (14, 16)))
    assert "eta = 0.1 outside" in pb.pb_membership(pb.curve(2, 1, (4, 8), etas=(0.1,)))
    assert not pb.inside_pb(pb.curve(8, 1, (4, 8)))
    assert not pb.inside_pb(pb.curve(5, 3, (4, 8)))  # n >= 3, d >= 2 below M0 = 8
    assert pb.inside_pb(pb.curve(2, 3, (4, 8)))  # n = 2 is k = 1 in any d


def test_fit_forms_choose_the_lowest_adequate_degree() -> None:
    m0s = np.arange(2.0, 13.0)
    lin = [{"M0": m, "log10_delta_star": -(4.8 * m - 6), "log10_amplification": 4.8 * m,
            "log10_flow_amplification": m * m / math.log(10)} for m in m0s]
    fit = pb.fit_forms(lin)  # the derived form has one parameter: it wins when it fits
    assert fit["chosen"] == "gd-amplification" and fit["polynomial"] == "linear"
    assert fit["linear_decades_per_unit_M0"] == pytest.approx(4.8)
    other = pb.fit_forms([{**p, "log10_amplification": p["M0"] ** 2} for p in lin])
    assert other["chosen"] == "linear" and other["decades_per_unit_M0"] == pytest.approx(4.8)
    assert fit["forms"]["gd-amplification"]["max_abs_residual"] < 1e-9
    quad = [{**p, "log10_delta_star": -(p["M0"] ** 2 / math.log(10) - 2)} for p in lin]
    assert pb.fit_forms(quad)["polynomial"] == "quadratic"
    assert pb.fit_forms(quad)["chosen"] == "flow-limit"


def test_report_section_draws_the_boundary() -> None:
    from scoreclaims.reports.hooks import ClaimContext
    from scoreclaims.reports.sections.low_noise import pb_findings, pb_key_figures, pb_section

    pts = _points([-2.19] * 5, [4.0, 6.0, 8.0, 10.0, 12.0])
    fit = pb.fit_forms(pts)
    entries = [{"n": 2, "d": 1, "M0": p["M0"], "eta": 0.01, "seed": 0,
                "log10_delta_star": p["log10_delta_star"], "bracket": p["bracket"],
                "upper_outcome": ONE, "slack_decades": p["slack_decades"],
                "log10_t34_gap": -0.01} for p in pts]
    entries.append({**entries[0], "eta": 0.001, "log10_delta_star": -5.0})
    claim = {"id": "PB", "metrics": {"phase_boundary": entries, "boundary_fit": fit}}
    ctx = ClaimContext(claim)
    text = pb_section(ctx)
    assert "figures/PB-phase-boundary.png" in text and "| 2 | 1 | 12 | 0.01 |" in text
    assert list(ctx.assets) == ["figures/PB-phase-boundary.png"]
    assert ctx.assets["figures/PB-phase-boundary.png"][:4] == b"\x89PNG"
    assert "log10 A_GD" in pb_key_figures(claim)
    assert any("GD amplification" in f for f in pb_findings(claim))


def test_step_dependence_against_the_gd_product() -> None:
    from scoreclaims.claims.paper._low_noise_theory import log10_amplification

    pts = []
    for eta in (0.001, 0.01, 0.03):
        amp = log10_amplification(6.0, eta, 2)
        pts.append({"n": 2, "d": 1, "M0": 6.0, "seed": 0, "eta": eta,
                    "log10_delta_star": -amp + 2.19, "log10_amplification": amp})
    rows = pb.step_dependence(pts)
    assert [r["eta"] for r in rows] == [0.001, 0.01, 0.03]
    assert max(abs(r["residual"]) for r in rows) < 1e-12
    assert rows[0]["flow_limit"] > rows[0]["log10_inv_delta_star"] > rows[1]["log10_inv_delta_star"]
