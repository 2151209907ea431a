"""NT (issue 27 q1: k means near the truth, the others far): the initial law, the outcome labels,
the capture radius and its probability against independent computations, the predicates on
synthetic outcomes, one seed's classification against GD run independently, and the quick
profile's verdicts (the conjecture passes, its known-false variant is rejected)."""

from __future__ import annotations

import json
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoreclaims.claims import RunOptions, Verdict, load_claims, verify
from scoreclaims.claims.model import NOT_APPLICABLE, InstanceOutcome
from scoreclaims.claims.paper import near_truth
from scoreclaims.claims.paper._near_truth_runs import (
    capture_probability,
    capture_radius,
    classify_seed,
    initial_means,
    outcome,
)
from scoreclaims.claims.paper._random_init_runs import proportion
from scoreclaims.claims.results import environment, results_document
from scoreclaims.reports.figures import covers
from scoreclaims.reports.hooks import ClaimContext
from scoreclaims.reports.sections import near_truth as section
from scoreclaims.verifiers import evaluate, run_gd

P = near_truth.NT.params("quick")


# ------------------------------------------------------------------------- the initial law

@settings(max_examples=25, deadline=None)
@given(n=st.sampled_from([3, 5]), d=st.integers(1, 3), seed=st.integers(0, 10_000),
       delta=st.floats(1e-3, 1.0), m0=st.floats(4.0, 10.0), data=st.data())
def test_initial_law_common_random_numbers(n: int, d: int, seed: int, delta: float, m0: float,
                                           data: st.DataObject) -> None:
    """Near means are delta z, far means M_0 e_1 + z', with the same z, z' for every delta and
    M_0 (common random numbers across the grids)."""
    k = data.draw(st.integers(1, n - 1))
    m = initial_means(n, d, k, delta, m0, seed)
    ref = initial_means(n, d, k, 1.0, 0.0, seed)
    assert m.shape == (n, d)
    np.testing.assert_allclose(m[:k], delta * ref[:k], rtol=1e-15)
    shift = np.zeros(d)
    shift[0] = m0
    np.testing.assert_allclose(m[k:] - shift, ref[k:], rtol=1e-12, atol=1e-12)


def test_initial_law_refuses_no_far_mean() -> None:
    with pytest.raises(ValueError, match="near means"):
        initial_means(3, 1, 3, 0.1, 6.0, 0)


def test_near_means_have_per_coordinate_scale_delta() -> None:
    near = np.vstack([initial_means(5, 3, 3, 0.01, 6.0, s)[:3] for s in range(400)])
    assert abs(near.std() / 0.01 - 1) < 0.06 and abs(near.mean()) < 0.001


# --------------------------------------------------------------------------- labels, R*_k

def test_outcome_labels() -> None:
    assert outcome([0, 1], 2) == "exact"
    assert outcome([0, 1, 3], 2) == "near+far"
    assert outcome([0], 2) == "near-lost"
    assert outcome([0, 3], 2) == "near-lost"


def test_capture_radius_is_the_sign_change_and_grows_with_k() -> None:
    radii = [capture_radius(k) for k in (1, 2, 3)]
    assert radii[0] == pytest.approx(2.456, abs=1e-3)  # T3.5's R* ~ 2.45
    assert radii[0] < radii[1] < radii[2] < 2.7
    for k, r in zip((1, 2, 3), radii, strict=True):  # inward below, outward above
        for r_side, sign in ((r - 0.05, 1), (r + 0.05, -1)):
            g = evaluate(np.array([[0.0]] * k + [[r_side]])).grad[-1, 0]
            assert np.sign(g) == sign


def test_capture_probability_against_draws() -> None:
    rng = np.random.default_rng(1)
    for d, m0 in ((1, 4.0), (3, 4.0)):
        c = np.zeros(d)
        c[0] = m0
        z = rng.standard_normal((200_000, d))
        freq = float(np.mean(np.linalg.norm(c + z, axis=1) < 2.456))
        p = capture_probability(d, m0, 2.456)
        assert abs(freq - p) < 5 * np.sqrt(p * (1 - p) / 200_000) + 1e-4


# ------------------------------------------------------------------------------ predicates

def _sweep(exact: int, rule: int, one: int, seeds: int = 40, undecided: int = 0
           ) -> InstanceOutcome:
    decided = seeds - undecided
    return InstanceOutcome(data={"kind": "sweep", "exact": proportion(exact, decided, undecided),
                                 "rule": proportion(rule, decided, undecided), "rule_misses": [],
                                 "exactly_one": proportion(one, decided, undecided),
                                 "capture_radius": 2.57})


def test_predicates_on_sweeps() -> None:
    assert near_truth.near_set_converges(_sweep(40, 40, 0), P)[0] is True
    assert near_truth.near_set_converges(_sweep(20, 40, 0), P)[0] is False
    # undecided seeds count against: 36 of 36 decided, 4 undecided is not a pass
    assert near_truth.near_set_converges(_sweep(36, 36, 0, undecided=4), P)[0] is None
    assert near_truth.capture_rule(_sweep(25, 25, 0), P)[0] is False
    assert near_truth.exactly_one(_sweep(40, 40, 0), P)[0] is False
    assert near_truth.exactly_one(_sweep(0, 40, 40), P)[0] is True


def test_predicates_on_long_runs() -> None:
    run = {"near": 2, "converging": [0, 1], "diverging": [2], "undecided": [], "decided": True,
           "reason": "", "outcome": "exact"}
    o = InstanceOutcome(data={"kind": "rate", "run": run})
    assert near_truth.near_set_converges(o, P)[0] is True
    assert near_truth.capture_rule(o, P)[0] == NOT_APPLICABLE
    o.data["run"] = {**run, "decided": False, "undecided": [0], "outcome": None}
    assert near_truth.near_set_converges(o, P)[0] is None


def test_hypotheses() -> None:
    assert near_truth.inside(near_truth.sweep_instance(5, 1, 2, 0.3, 6.0, 40))
    assert not near_truth.inside(near_truth.sweep_instance(5, 1, 2, 1.0, 6.0, 40))
    assert not near_truth.inside(near_truth.sweep_instance(5, 1, 2, 0.01, 4.0, 40))
    assert not near_truth.inside(near_truth.rate_instance(3, 2, 0.01, 6.0, 0, 4096))


# --------------------------------------------------------------- one seed, independently

def test_one_seed_against_gd_run_independently() -> None:
    """The classification's final distances equal GD run by run_gd to the decision step, and
    the near means end near the truth while the far mean has moved away."""
    item = {"n": 3, "d": 1, "k": 2, "delta": 0.01, "M0": 6.0, "seed": 1, "eta": 0.1,
            "first": 32, "max_steps": 1 << 15, "r_conv": 0.5, "r_div": 3.0, "budget": None,
            "radius": capture_radius(2)}
    r = classify_seed(item)
    assert r["decided"] and r["outcome"] == "exact" and r["rule_holds"]
    traj = run_gd(initial_means(3, 1, 2, 0.01, 6.0, 1), 0.1, r["tau"])
    final = np.linalg.norm(traj.final_means, axis=1)
    np.testing.assert_allclose(final, r["final_distances"], rtol=1e-9, atol=1e-12)
    assert final[:2].max() < 0.5 and final[2] > r["initial_distances"][2]


# ---------------------------------------------------------------------- the quick profile

def test_quick_verdicts_and_report_section() -> None:
    """The conjecture passes and its variant is rejected; the report section, from the results
    document alone, has the outcome table, the figure and the loss diagnostic."""
    registry = load_claims(["scoreclaims.claims.paper.near_truth"])
    options = RunOptions(profile="quick", derandomize=True)
    results = verify(registry.select([near_truth.NT.id], profile="quick"), options)
    verdicts = {r.claim.id: r.verdict for r in results}
    assert verdicts == {"NT": Verdict.PASS, "NT~exactly-one": Verdict.FAIL}
    assert all(r.matches_expectation for r in results)
    summary = results[0].metrics
    assert summary["outcomes"] and summary["loss_law_diagnostic"]
    assert summary["inside_seeds"]["exact"] == summary["inside_seeds"]["decided"] == 40

    env = environment(options, ["scoreclaims", "verify", "NT", "--derandomize"])
    doc = json.loads(json.dumps(results_document(results, env, 1.0), allow_nan=False))
    claim = next(c for c in doc["claims"] if c["id"] == "NT")
    figures: list[Any] = []

    def save(self: ClaimContext, name: str, fig: Any, tight: bool = True) -> str:
        figures.append(fig)
        return self.add_file(f"figures/{self.stem}-{name}.png", b"")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ClaimContext, "save_figure", save)
        text = section.nt_section(ClaimContext(claim))
    assert "### Which means converge" in text and "### The loss in each outcome" in text
    assert len(figures) == 1
    for ax in figures[0].axes:
        assert ax.get_title() and ax.get_xlabel() and covers(ax)
    plt.close(figures[0])
    assert "inside" in section.nt_key_figures(claim)
    assert any("decided seeds" in f for f in section.nt_findings(claim))


def test_law_at_radii() -> None:
    run = {"near": 2, "diverging": [2], "far_distances": [8.0]}
    expected = np.log(1000) * 16 / 64 * (1 + 16 / 64)
    assert section.law_at_radii(run, 1000) == pytest.approx(expected)
    assert section.law_at_radii({**run, "diverging": []}, 1000) is None
