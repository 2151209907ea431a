"""Claim SGD (SGD with finite batches, beyond the paper): the derived floor constant against
independent computations, the statistics and the classification on synthetic data, seeded
replay, and the quick verdicts (each known-false variant rejected)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scoreclaims.claims import RunOptions, Verdict, load_claims, verify
from scoreclaims.claims.model import NOT_APPLICABLE
from scoreclaims.claims.paper import sgd_batches as sgd
from scoreclaims.claims.paper._sgd_runs import (
    Path,
    block_mean,
    classify_path,
    exponent_verdict,
    fast_mode_law,
    fast_mode_noise,
    fit_exponent,
    floor_stats,
    run_path,
)
from scoreclaims.verifiers import evaluate
from scoreclaims.verifiers.formulation import score_integrands

P = sgd.SGD.params("quick")


# ------------------------------------------------------------------ the derived floor constant

def test_fast_mode_noise_is_delta_to_the_fourth_at_leading_order() -> None:
    """V(delta) / delta^4 -> 1 (derived), with the O(delta^2) correction -4 delta^2."""
    for delta in (1e-3, 1e-2):
        ratio = fast_mode_noise(delta, dps=40) / delta**4
        assert abs(ratio - 1) < 5 * delta**2
        assert ratio - 1 == pytest.approx(-4 * delta**2, rel=0.05)


def test_fast_mode_noise_closed_form_matches_the_engine_integrand() -> None:
    """The closed form of the per-sample noise on m_bar against the engine's own per-sample
    gradient (an independent formula) on a large sample: the variance of (g_1 + g_2)/2 at
    (delta, -delta), delta = 0.5 (where the correction is some 25 %)."""
    delta = 0.5
    m = np.array([[delta], [-delta]])
    x = np.random.default_rng(7).standard_normal((400_000, 1))
    vals = score_integrands(x, m)  # (N, 1 + n k + n): |u|^2, g_1, g_2, gamma_1, gamma_2
    centre = (vals[:, 1] + vals[:, 2]) / 2  # per sample
    t = np.tanh(delta * x[:, 0])
    assert np.allclose(centre, delta * t * (1 - delta**2 * (1 - t**2)), atol=1e-14)
    sample = centre.var()
    se = centre.std() ** 2 * math.sqrt(2 / len(centre)) * 3  # generous: kurtosis
    exact = fast_mode_noise(delta)
    assert abs(sample - exact) < 3 * se
    assert exact / delta**4 < 0.8  # the correction is visible here


def test_restoring_rate_of_the_centre_is_one_at_leading_order() -> None:
    """kappa = d((g_1 + g_2)/2) / d m_bar at m_bar = 0 from the exact engine: 1 - O(delta^2)."""
    for delta in (0.01, 0.05):
        h = 1e-6
        ev = evaluate(np.array([[delta + h], [-delta + h]]))
        kappa = float(ev.grad.sum() / 2 / h)
        assert abs(kappa - 1) < 3 * delta**2 + 1e-5


def test_stationary_variance_of_the_linear_recursion() -> None:
    """The AR(1) step behind the law: m' = (1 - eta) m + eta xi, Var xi = V / B, has stationary
    variance eta V / (B (2 - eta)) (exact), i.e. fast_mode_law * V."""
    eta, batch = 0.1, 100
    var = eta**2 / batch / (1 - (1 - eta) ** 2)
    assert var == pytest.approx(fast_mode_law(eta, batch), rel=1e-12)


# ------------------------------------------------------------------ statistics

def test_fit_exponent_recovers_a_power_and_its_interval() -> None:
    b = np.array([100, 100, 1000, 1000, 10_000, 10_000], dtype=float)
    noise = np.array([1.02, 0.98, 1.01, 0.99, 1.03, 0.97])
    fit = fit_exponent(b, 3.0 / b * noise)
    assert fit["exponent"] == pytest.approx(-1, abs=0.01)
    lo, hi = fit["ci95"]
    assert lo < -1 < hi and hi - lo < 0.1
    assert exponent_verdict(fit, -1.0, 0.1)[0] is True
    assert exponent_verdict(fit, 0.0, 0.1)[0] is False
    wide = {**fit, "ci95": [-1.2, -0.95]}
    assert exponent_verdict(wide, -1.0, 0.1)[0] is None
    assert fit_exponent([100, 100], [1.0, 1.0])["ci95"] is None


def test_block_mean_error_of_white_noise() -> None:
    x = np.random.default_rng(3).standard_normal(20_000)
    mean, se = block_mean(x)
    assert abs(mean) < 4 / math.sqrt(len(x))
    assert 0.5 < se * math.sqrt(len(x)) < 1.6


def test_exact_floor_is_the_mean_over_every_step() -> None:
    """The exact run is recorded every 10th step: its floor is the mean over every step of the
    window (interpolated), not over the records (which would weigh the ends more)."""
    tau = np.array([0, *range(500, 2001, 10)])
    loss = 1.0 / (100.0 + tau) ** 2
    path = Path(tau, loss, np.zeros((len(tau), 1, 1)), "ok", 2000)
    exact = float(np.mean(1.0 / (100.0 + np.arange(1000, 2001)) ** 2))
    stats = floor_stats(path, 2000)
    assert stats["floor"] == pytest.approx(exact, rel=1e-4)
    assert stats["floor_se"] == 0.0
    records = loss[tau >= 1000].mean()
    assert records / exact - 1 > 5e-4  # what the records alone would give


def _path(dists: np.ndarray) -> Path:
    """Means on the first axis at the given distances (R, n), one record per step."""
    r, n = dists.shape
    means = np.zeros((r, n, 1))
    means[:, :, 0] = dists
    return Path(np.arange(r), np.ones(r), means, "ok", r - 1)


def test_classification_of_a_one_converges_path() -> None:
    tau = np.arange(101)[:, None]
    dists = np.hstack([0.5 / (1 + tau), 6 + 0.01 * tau, 6 + 0.01 * tau])
    c = classify_path(_path(dists), 100, 0.5, 3.0)
    assert (c["converging"], c["diverging"], c["undecided"]) == ([0], [1, 2], [])
    stuck = np.hstack([0.5 / (1 + tau), np.full_like(tau, 6.0, dtype=float)])
    c = classify_path(_path(stuck), 100, 0.5, 3.0)
    assert c["undecided"] == [1]


def test_sgd_runs_are_replayable_from_their_seed() -> None:
    m0 = sgd.e1_start(6.0, 0, 1, 1e-7)
    a = run_path(m0, 0.01, 200, 100, 3)
    b = run_path(m0, 0.01, 200, 100, 3)
    c = run_path(m0, 0.01, 200, 100, 4)
    assert np.array_equal(a.means, b.means) and np.array_equal(a.loss, b.loss)
    assert not np.array_equal(a.means, c.means)


# ------------------------------------------------------------------ predicates, verdicts

def test_predicates_on_constructed_outcomes() -> None:
    ok = sgd._outcome()
    assert sgd.outcome_persists(ok, P)[0] is True
    assert sgd.no_stationary_floor(ok, P)[0] is True
    assert sgd.excess_law(ok, P)[0] == NOT_APPLICABLE
    pair = sgd._outcome("fast")
    assert sgd.excess_law(pair, P)[0] is True
    assert sgd.excess_law(sgd._outcome("fast", runs=[{"delta_max": 0.3}]), P)[0] is None
    undecided = sgd._outcome(runs=[{"classification": sgd._cls(1, 3, 1)}])
    assert sgd.outcome_persists(undecided, P)[0] is None


def test_instances_inside_the_domain() -> None:
    for profile in ("quick", "full"):
        assert all(sgd.inside(i) for i in sgd.SGD.hypotheses.grid(profile))
    assert not sgd.inside(sgd.fast_instance(0.1, 2000, [10, 1000], [0, 1]))
    assert not sgd.inside(sgd.e1_instance(6.0, 2, [100, 1000], [0, 1]))


def test_quick_verdicts_with_the_variants_rejected() -> None:
    registry = load_claims(["scoreclaims.claims.paper.sgd_batches"])
    results = verify(registry.select(["SGD"], profile="quick"),
                     RunOptions(profile="quick", derandomize=True))
    verdicts = {r.claim.id: r.verdict for r in results}
    assert verdicts == {"SGD": Verdict.PASS, "SGD~floor-eta-over-B": Verdict.FAIL,
                        "SGD~excess-flat": Verdict.FAIL, "SGD~excess-1-over-B2": Verdict.FAIL,
                        "SGD~M6-all-converge": Verdict.FAIL}
    assert all(r.matches_expectation for r in results)


# ------------------------------------------------------------------ the report section

def test_report_section_from_small_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The section, key figures and findings render from (JSON round-tripped) metrics of two
    small runs; the figures are titled, labelled and span their data."""
    import json

    import matplotlib.pyplot as plt

    from scoreclaims.reports.figures import covers
    from scoreclaims.reports.hooks import ClaimContext
    from scoreclaims.reports.sections import sgd as section

    pair = sgd.run_sgd(sgd.fast_instance(0.1, 400, [100, 1000], [0, 1]), P).metrics
    e1 = {**sgd.e1_instance(6.0, 1, [100, 1000], [0]), "steps": 400}
    start = sgd.run_sgd(e1, P).metrics
    claim = json.loads(json.dumps({"id": "SGD", "instances": [
        {"metrics": pair, "in_hypotheses": True}, {"metrics": start, "in_hypotheses": True}]}))
    figures = {}

    def save(self: ClaimContext, name: str, fig: object, tight: bool = True) -> str:
        figures[name] = fig
        return self.add_file(f"figures/{name}.png", b"")

    monkeypatch.setattr(ClaimContext, "save_figure", save)
    text = section.section(ClaimContext(claim))
    assert "### The floor against the batch size" in text and "#2 E1 start M = 6" in text
    assert set(figures) == {"floor-vs-batch", "e1-loss"}
    for fig in figures.values():
        for ax in fig.axes:
            assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
            assert covers(ax)
        plt.close(fig)
    assert "E1 starts: 2 of 2 SGD runs" in section.key_figures(claim)
    found = section.findings(claim)
    assert len(found) == 3  # the headline, then one line per instance
    assert "2 of 2 SGD runs end with the exact run's outcome" in found[0]
    assert "no floor in B" in found[0] and "at eta = 0.1" in found[0]
