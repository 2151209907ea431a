"""AVG (issue 27 q2: the time-averaged loss over noise levels): L_avg and its gradient against an
independent mpmath computation (mpmath.quad over t of the canonical loss, itself mpmath.quad over
x, d = 1, n = 2), the gradient against finite differences, the weights' normalisation, the
derived ray identity, the predicates on synthetic outcomes, and the quick profile's verdicts (the
capture rule and the stationary point pass, both known-false variants are rejected) with the
report section drawn from the results document alone."""

from __future__ import annotations

import json
import math
from typing import Any

import matplotlib.pyplot as plt
import mpmath as mp
import numpy as np
import pytest

from scoreclaims.claims import RunOptions, Verdict, load_claims, verify
from scoreclaims.claims.paper import averaged_loss
from scoreclaims.claims.paper._averaged_loss import (
    Rule,
    average,
    average_checked,
    threshold,
    weight_function,
)
from scoreclaims.claims.paper._averaged_runs import capture_radius, family_derivative
from scoreclaims.claims.results import environment, results_document
from scoreclaims.reports.figures import covers
from scoreclaims.reports.hooks import ClaimContext
from scoreclaims.reports.sections import averaged as section
from scoreclaims.verifiers import evaluate

# ----------------------------------------------------------------- independent mpmath reference


def _mp_level(m1: Any, m2: Any) -> tuple[Any, Any, Any]:
    """Canonical loss and gradient, d = 1, n = 2, by mpmath.quad over x ~ N(0, 1):
    L = E v^2, grad_k = 2 E[w_k v + w_k (x - m_k)(m_k - v) v] (the three quadratures share
    their nodes: the integrand is evaluated once per node)."""
    cache: dict[Any, tuple[Any, Any, Any]] = {}

    def parts(x: Any) -> tuple[Any, Any, Any]:
        if x not in cache:
            a, b = x * m1 - m1 * m1 / 2, x * m2 - m2 * m2 / 2
            w1 = 1 / (1 + mp.exp(b - a))
            w2 = 1 - w1
            v = w1 * m1 + w2 * m2
            phi = mp.exp(-x * x / 2) / mp.sqrt(2 * mp.pi)
            cache[x] = (v * v * phi, 2 * (w1 * v + w1 * (x - m1) * (m1 - v) * v) * phi,
                        2 * (w2 * v + w2 * (x - m2) * (m2 - v) * v) * phi)
        return cache[x]

    edges = sorted({-mp.inf, mp.mpf(-8), min(m1, m2) - 1, mp.mpf(0), max(m1, m2) + 1,
                    mp.mpf(8), mp.inf}, key=float)
    return tuple(mp.quad(lambda x, j=j: parts(x)[j], edges) for j in range(3))


def _mp_average(m: list[float], kind: str, t_min: float, t_max: float) -> tuple[Any, Any, Any]:
    """L_avg and its gradient by mpmath.quad over t of the mpmath level values (one inner
    computation per node t, shared by the three components)."""
    if kind == "uniform":
        lam = lambda t: 1 / mp.mpf(t_max - t_min)  # noqa: E731
    else:
        z = (t_max - t_min) + (mp.exp(-2 * t_max) - mp.exp(-2 * t_min)) / 2
        lam = lambda t: (1 - mp.exp(-2 * t)) / z  # noqa: E731
    cache: dict[Any, tuple[Any, Any, Any]] = {}

    def level(t: Any) -> tuple[Any, Any, Any]:
        if t not in cache:
            s = mp.exp(-t)
            loss, g1, g2 = _mp_level(s * m[0], s * m[1])
            cache[t] = (lam(t) * loss, lam(t) * s * g1, lam(t) * s * g2)
        return cache[t]

    return tuple(mp.quad(lambda t, j=j: level(t)[j], [t_min, t_max]) for j in range(3))


@pytest.mark.parametrize("m, kind, window", [
    ([2.5, -0.7], "uniform", (0.0, 2.0)),
    ([4.0, 1.0], "ddpm", (0.5, 3.0)),
])
def test_averaged_loss_and_gradient_against_mpmath(m: list[float], kind: str,
                                                   window: tuple[float, float]) -> None:
    mp.mp.dps = 15
    ref = [float(v) for v in _mp_average(m, kind, *window)]
    got = average_checked(np.array(m).reshape(2, 1), kind, *window, 12)
    assert got.converged
    assert abs(got.loss - ref[0]) <= max(got.loss_error, 1e-12) + 1e-10 * abs(ref[0])
    assert got.loss_error < 1e-6 * ref[0]  # the estimate is informative, not vacuous
    grad_ref = np.array(ref[1:]).reshape(2, 1)
    assert np.linalg.norm(got.grad - grad_ref) <= got.grad_error + 1e-10


def test_gradient_against_finite_differences() -> None:
    rng = np.random.default_rng(3)
    for kind, window, shape in (("uniform", (0.0, 4.0), (3, 1)), ("ddpm", (0.5, 2.5), (2, 2))):
        m = rng.standard_normal(shape) * 2
        rule = Rule.make(kind, *window, 16)
        g = average(m, rule).grad
        h = 1e-5
        fd = np.zeros_like(m)
        for idx in np.ndindex(*m.shape):
            e = np.zeros_like(m)
            e[idx] = h
            fd[idx] = (average(m + e, rule).loss - average(m - e, rule).loss) / (2 * h)
        assert np.allclose(g, fd, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("kind", ["uniform", "ddpm"])
def test_weights_integrate_to_one(kind: str) -> None:
    for a, b in ((0.0, 1.0), (0.5, 6.0)):
        assert math.isclose(float(Rule.make(kind, a, b, 24).w.sum()), 1.0, rel_tol=1e-12)
        lam = weight_function(kind, a, b)
        assert float(lam(np.array([a + 0.3]))[0]) > 0
    with pytest.raises(ValueError):
        weight_function(kind, 2.0, 1.0)


def test_ray_identity() -> None:
    """Uniform weight: d L_avg(s u)/ds = [L(s e^{-t_min} u) - L(s e^{-t_max} u)] / (s T)."""
    u = np.array([[0.3], [1.0], [-0.8]])
    for s, (a, b) in ((2.0, (0.0, 3.0)), (7.0, (0.5, 5.0))):
        got = average_checked(s * u, "uniform", a, b, 16)
        deriv = float(np.sum(got.grad * u))
        expect = (evaluate(s * math.exp(-a) * u).loss
                  - evaluate(s * math.exp(-b) * u).loss) / (s * (b - a))
        assert abs(deriv - expect) <= 1e-7 * max(abs(expect), 1e-3)


def test_capture_radius_scaling_and_family_sign() -> None:
    r0 = capture_radius(0.0, 2.0)
    assert r0 is not None and 5.0 < r0 < 5.2
    r1 = capture_radius(0.5, 2.5)
    assert r1 is not None and math.isclose(r1, math.exp(0.5) * r0, rel_tol=1e-7)
    v_small, e_small = family_derivative(1.0, 3, "uniform", 0.0, 3.0, 12)
    v_large, e_large = family_derivative(20.0, 3, "uniform", 0.0, 3.0, 12)
    assert v_small > e_small and v_large < -e_large


def test_threshold() -> None:
    m = np.array([[3.0], [-8.0]])
    assert math.isclose(threshold(m), math.log(2) + math.log(8) + 2)


# ------------------------------------------------------------------------ predicates

def test_predicates_on_synthetic_outcomes() -> None:
    for w in averaged_loss.WITNESSES:
        assert w.outcome is not None
        claim = next(c for c in averaged_loss.CLAIMS if c.id == w.claim)
        pred = next(p for p in claim.conclusions if p.name == w.predicate)
        holds, _ = pred.test(w.outcome(), claim.params("quick"))
        assert holds is False


# ---------------------------------------------------------------------- the quick profile

def test_quick_verdicts_and_report_section() -> None:
    registry = load_claims(["scoreclaims.claims.paper.averaged_loss"])
    options = RunOptions(profile="quick", derandomize=True)
    results = verify(registry.select(["AVG", "AVG.stationary"], profile="quick"), options)
    verdicts = {r.claim.id: r.verdict for r in results}
    assert verdicts == {"AVG": Verdict.PASS, "AVG~global-above-threshold": Verdict.FAIL,
                        "AVG~below-threshold": Verdict.FAIL, "AVG.stationary": Verdict.PASS,
                        "AVG.stationary~removed-by-averaging": Verdict.FAIL}
    assert all(r.matches_expectation for r in results)
    env = environment(options, ["scoreclaims", "verify", "AVG", "--derandomize"])
    doc = json.loads(json.dumps(results_document(results, env, 1.0), allow_nan=False))
    claim = next(c for c in doc["claims"] if c["id"] == "AVG")
    figures: list[Any] = []

    def save(self: ClaimContext, name: str, fig: Any, tight: bool = True) -> str:
        figures.append(fig)
        return self.add_file(f"figures/{self.stem}-{name}.png", b"")

    with pytest.MonkeyPatch.context() as mpatch:
        mpatch.setattr(ClaimContext, "save_figure", save)
        text = section.section(ClaimContext(claim))
    assert "### Phase diagram" in text and len(figures) == 1
    for ax in figures[0].axes:
        assert ax.get_title() and ax.get_xlabel() and covers(ax)
    plt.close(figures[0])
    assert "seeds all converge" in section.key_figures(claim)
    decided = sum(r["decided"] for e in claim["instances"] if e["in_hypotheses"]
                  for r in e["metrics"]["runs"])
    assert f"agrees with GD on {decided} of {decided} decided seeds" in section.findings(claim)[0]
    stationary = next(c for c in doc["claims"] if c["id"] == "AVG.stationary")
    windows = len(stationary["instances"])
    assert (f"changes sign (+ to -, resolved by the error estimate) in {windows} of {windows}"
            in section.stationary_findings(stationary)[0])


def test_findings_count_what_disagrees() -> None:
    """A decided run against the capture rule, an undecided one and a window without a resolved
    sign change are counted as such, not as agreement."""
    runs = [{"decided": True, "all_converge": True, "rule_all_converge": True},
            {"decided": True, "all_converge": False, "rule_all_converge": True},
            {"decided": False, "all_converge": False, "rule_all_converge": False}]
    avg = {"id": "AVG", "instances": [{"in_hypotheses": True, "metrics": {"runs": runs}},
                                      {"in_hypotheses": False, "metrics": {"runs": runs}}]}
    assert "agrees with GD on 1 of 2 decided seeds inside (1 undecided" in section.findings(avg)[0]
    fam = {"kind": "family", "bracket": [3.9, 5.0]}
    stationary = {"id": "AVG.stationary", "instances": [
        {"in_hypotheses": True, "metrics": fam,
         "predicates": {"sign_change": {"holds": True}, "identity_root": {"holds": True}}},
        {"in_hypotheses": True, "metrics": {"kind": "family", "bracket": None},
         "predicates": {"sign_change": {"holds": None}, "identity_root": {"holds": None}}}]}
    line = section.stationary_findings(stationary)[0]
    assert "in 1 of 2 windows" in line and "inside the bracket in 1 of 2" in line
