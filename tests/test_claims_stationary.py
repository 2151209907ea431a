"""T3.1 and the census of stationary points (issue 7): the line quadrature and the derived Hessian
against independent references, the symmetries the claim relies on, the Newton polish, the
spectrum's named zero modes, and the verifier accepting T3.1 while rejecting its known-false
variants."""

from __future__ import annotations

from typing import Any

import mpmath
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scoreclaims.claims.paper.low_noise_stationary as ls
from scoreclaims.claims import registry
from scoreclaims.claims.model import NOT_APPLICABLE, InstanceOutcome
from scoreclaims.claims.paper._stationary_census import (
    canonical,
    dedupe,
    patterns,
    polish_item,
    solve_start,
)
from scoreclaims.claims.paper._stationary_family import (
    destination,
    family,
    float_root,
    polish,
    scan_point,
)
from scoreclaims.claims.runner import evaluate as run_instance
from scoreclaims.claims.verdict import Verdict
from scoreclaims.highprec.certified import enclose
from scoreclaims.highprec.hessian import collinear_gradient, line_derivatives
from scoreclaims.highprec.line import line_rule
from scoreclaims.highprec.spectrum import spectrum
from scoreclaims.verifiers.population import evaluate

S3 = "2.550550988641223901198534664225517007544"  # s*(3), 40 digits (this suite, certified)
A2 = "2.456282254779674931100940082"  # the n = 2 stationary point (0, A2) (certified)

positions = st.lists(st.floats(-6.0, 6.0).map(lambda x: round(x, 6)), min_size=2, max_size=5)


# ------------------------------------------------------------------------ line quadrature


@pytest.mark.parametrize("a", [[2.5, -2.5, 0.0], [7.0, -3.0, 0.3, 9.9], [10.0, 0.0],
                               [0.1, -0.05, 0.02]])
def test_line_quadrature_matches_the_engine(a: list[float]) -> None:
    ld = line_derivatives(a)
    ev = evaluate(np.array(a)[:, None])
    assert abs(ld.loss - ev.loss) <= 1e-13 * ev.loss + ev.loss_error
    assert np.max(np.abs(ld.grad - ev.grad[:, 0])) <= 1e-13 * np.max(np.abs(ev.grad)) \
        + ev.grad_error


def test_high_precision_matches_arb_enclosure() -> None:
    """Independent of the rule's own error estimate (which cannot see a mis-tiled rule)."""
    a = ["3.0", "-1.5", "0.3"]
    ld = line_derivatives(a, digits=30, hessian=False)
    enc = enclose([[x] for x in a], digits=20)
    with mpmath.workdps(60):
        loss, grad = enc.midpoints()
        assert abs(loss - ld.loss) < mpmath.mpf("1e-19")
        assert max(abs(grad[i, 0] - ld.grad[i]) for i in range(3)) < mpmath.mpf("1e-19")


def test_high_precision_weights_integrate_the_gaussian() -> None:
    import flint

    old = flint.ctx.prec
    flint.ctx.prec = 200
    try:
        rule = line_rule(np.array([4.0, -1.0, 0.0]), digits=45, prec=200)
        for w, y in zip(rule.weights, rule.points, strict=True):
            assert abs(sum(w) - 1) < 1e-46
            assert abs(w @ (y[:, 0] * y[:, 0]) - 1) < 1e-46
    finally:
        flint.ctx.prec = old


# -------------------------------------------------------------------------------- Hessian


def test_along_line_hessian_against_high_precision_differences() -> None:
    a = [mpmath.mpf(x) for x in ("1.7", "-0.4", "2.9")]
    ld = line_derivatives(a, digits=30)
    h = mpmath.mpf("1e-12")
    for j in range(3):
        plus, minus = list(a), list(a)
        with mpmath.workdps(60):
            plus[j], minus[j] = a[j] + h, a[j] - h
        gp = line_derivatives(plus, digits=30, hessian=False).grad
        gm = line_derivatives(minus, digits=30, hessian=False).grad
        with mpmath.workdps(60):
            for k in range(3):
                assert abs((gp[k] - gm[k]) / (2 * h) - ld.hess[k, j]) < mpmath.mpf("1e-18")


def test_transverse_hessian_against_the_engine_in_two_dimensions() -> None:
    """Route (b) of the lead's note: central differences of the float64 engine at k = 2."""
    a = np.array([1.3, -2.2, 0.4])
    hp = line_derivatives(a).hess_perp
    h = 1e-4
    for j in range(3):
        plus = np.stack([a, np.zeros(3)], axis=1)
        minus = plus.copy()
        plus[j, 1], minus[j, 1] = h, -h
        col = (evaluate(plus).grad[:, 1] - evaluate(minus).grad[:, 1]) / (2 * h)
        np.testing.assert_allclose(col, hp[:, j], atol=1e-7)


@settings(max_examples=25)
@given(positions)
def test_rotation_identity_and_symmetry(a: list[float]) -> None:
    """sum_j Hperp_kj a_j = grad_k (rotating every mean is a symmetry of L); both blocks
    symmetric; permuting the means permutes them."""
    arr = np.array(a)
    ld = line_derivatives(arr)
    scale = np.max(np.abs(ld.hess_perp)) * max(1.0, np.max(np.abs(arr)))
    np.testing.assert_allclose(ld.hess_perp @ arr, ld.grad, atol=1e-12 * scale)
    np.testing.assert_allclose(ld.hess, ld.hess.T, atol=1e-13 * np.max(np.abs(ld.hess)))
    perm = np.roll(np.arange(len(a)), 1)
    lp = line_derivatives(arr[perm])
    np.testing.assert_allclose(lp.hess, ld.hess[np.ix_(perm, perm)],
                               atol=1e-12 * np.max(np.abs(ld.hess)))


@settings(max_examples=15)
@given(positions, st.integers(0, 4))
def test_coincident_means_split_for_free_off_the_line(a: list[float], k: int) -> None:
    """Two coincident means: e_i - e_j is an exact null vector of Hperp (not of H)."""
    a = [*a, a[k % len(a)]]
    ld = line_derivatives(a)
    v = np.zeros(len(a))
    v[k % (len(a) - 1)], v[-1] = 1.0, -1.0
    assert np.linalg.norm(ld.hess_perp @ v) <= 1e-13 * np.max(np.abs(ld.hess_perp))


# ---------------------------------------------------------------------- symmetry of T3.1


@settings(max_examples=10)
@given(st.floats(0.2, 6.0), st.integers(3, 6))
def test_symmetry_kills_all_but_one_component(s: float, n: int) -> None:
    m = np.array(family(n, s))
    ev = evaluate(m[:, None])
    tol = 4 * ev.grad_error + 1e-15
    assert abs(ev.grad[0, 0] + ev.grad[1, 0]) <= tol
    assert np.all(np.abs(ev.grad[2:, 0]) <= tol)
    planar = evaluate(np.stack([m, np.zeros(n)], axis=1))  # d = 2: transverse parts vanish
    assert np.all(np.abs(planar.grad[:, 1]) <= 4 * planar.grad_error + 1e-15)


@settings(max_examples=10)
@given(st.floats(0.3, 6.0))
def test_n2_with_a_mean_at_the_truth_has_equal_gradients(a: float) -> None:
    """The identity behind the n = 2 census point: G_1 = G_2 along (0, a)."""
    ld = line_derivatives([0.0, a])
    assert abs(ld.grad[0] - ld.grad[1]) <= 1e-13 * ld.grad_scale[1]


def test_scan_slope_is_judged_against_the_two_means_own_bounds() -> None:
    """T3.1's scan: the slope grad_1 - grad_2 along the family carries the sum of those two
    means' own error bounds, below sqrt(2) times the whole gradient's (n = 3: the third mean's
    error no longer counts), and it covers the slope's error against high precision."""
    n, s = 3, 2.0
    pt = scan_point((n, s))
    ev = evaluate(np.array(family(n, s))[:, None])
    assert pt.slope_error == pytest.approx(float(ev.mean_errors[0] + ev.mean_errors[1]))
    assert pt.slope_error < np.sqrt(2.0) * ev.grad_error
    with mpmath.workdps(30):
        ld = line_derivatives(family(n, mpmath.mpf(s)), 30, hessian=False)
        exact = float(ld.grad[0] - ld.grad[1])
    assert abs(pt.slope - exact) <= pt.slope_error


def test_family_negation_is_exact() -> None:
    with mpmath.workdps(60):
        s = mpmath.mpf(1) / 3
    a = family(4, s)
    with mpmath.workdps(60):
        assert a[0] + a[1] == 0


def test_polish_converges_fast_and_the_gradient_vanishes_in_three_dimensions() -> None:
    pol = polish(3, 2.550550988641224, 40)
    assert len(pol.steps) <= 4 and pol.steps[-1] < 1e-40
    with mpmath.workdps(60):
        assert abs(pol.s_star - mpmath.mpf(S3)) < mpmath.mpf("1e-38")
    with mpmath.workdps(60):
        u = [mpmath.mpf(2) / 3, mpmath.mpf(-1) / 3, mpmath.mpf(2) / 3]
        means = [[x * ui for ui in u] for x in family(3, pol.s_star)]
    cg = collinear_gradient(means, 40)
    with mpmath.workdps(cg.dps):
        assert max(abs(x) for x in cg.grad.ravel()) + cg.grad_error < mpmath.mpf("1e-40")


# ------------------------------------------------------------------------------ spectrum


def test_spectrum_at_s_star_names_its_zero_modes() -> None:
    for n, zeros in ((3, {"rotation": 2, "splitting": 0}), (5, {"rotation": 2, "splitting": 4})):
        s = polish(n, float_root(n, (2.5, 2.75)), 30).s_star
        ld = line_derivatives(family(n, s), 30)
        with mpmath.workdps(ld.dps):
            spec = spectrum(ld.a, ld.hess, ld.hess_error, ld.hess_perp, ld.hess_perp_error)
        assert spec.resolved()
        assert spec.index(1) == 2 and spec.index(3) == 4
        assert spec.zero_modes(3) == zeros
        assert all(m.residual < 1e-25 for m in spec.null_modes)
        assert len(spec.eigenvalues(3)) == 3 * n


# --------------------------------------------------------------------------------- census


@settings(max_examples=20)
@given(positions)
def test_canonical_form_ignores_permutation_and_reflection(a: list[float]) -> None:
    x = np.array(a)
    c = canonical(x)
    np.testing.assert_array_equal(canonical(x[::-1]), c)
    np.testing.assert_allclose(canonical(-x), c)
    # x + 1 is the same configuration exactly when it is x reflected (values symmetric about -1/2)
    shifted_is_x = np.allclose(np.sort(x + 1.0), np.sort(-x), atol=1e-9)
    assert len(dedupe([x, -x[::-1], x + 1.0], 1e-9)) == (1 if shifted_is_x else 2)


def test_patterns() -> None:
    assert patterns(2) == [] and patterns(3) == [(2, 1)]
    assert sorted(patterns(4)) == [(2, 1, 1), (2, 2), (3, 1)]


CENSUS_P = {"box": 10.0, "escape_factor": 1.5, "truth_radius": 0.06, "candidate_rtol": 1e-8,
            "maxfev": 100, "accept_step": 1e-30, "accept_rtol": 1e-30, "merge_tol": 1e-25,
            "newton_max": 8}


def test_census_finds_and_polishes_the_n2_point() -> None:
    run = solve_start(([0.4, 2.0], CENSUS_P))
    assert run["outcome"] == "candidate"
    res = polish_item((run["x"], 35, CENSUS_P))
    assert res["accepted"], res["reason"]
    far = max(res["means"], key=lambda v: abs(float(v)))
    with mpmath.workdps(40):
        assert abs(abs(mpmath.mpf(far)) - mpmath.mpf(A2)) < mpmath.mpf("1e-26")
    assert res["spec"].index(1) == 1


def test_flat_region_is_not_accepted() -> None:
    """Far-apart means: the gradient is tiny but not zero; Newton must not accept it."""
    res = polish_item(([0.0, 2.456, 9.5], 25, {**CENSUS_P, "newton_max": 2}))
    assert not res["accepted"]


def test_far_start_leaves_the_box() -> None:
    assert solve_start(([16.0, 0.0, 1.0], CENSUS_P))["outcome"] == "left the box"


# ------------------------------------------------------------------ destinations of GD runs


def _frame(dists: np.ndarray, loss: np.ndarray) -> pd.DataFrame:
    tau = np.arange(len(loss))
    return pd.DataFrame({"tau": tau, "loss": loss,
                         **{f"dist_{i}": dists[:, i] for i in range(dists.shape[1])}})


def test_destination_rules() -> None:
    t = np.linspace(0, 1, 11)[:, None]
    shrink = np.hstack([2.5 * (1 - t) + 0.01, 2.5 * (1 - t) + 0.01, 0.01 * (1 - t)])
    assert destination(_frame(shrink, np.linspace(1, 1e-4, 11)), 3, 1, 2.55, 1.0,
                       1e-2)[0].startswith("truth")
    escape = np.hstack([2.5 + 6 * t, 2.5 + 6 * t, 0.01 * (1 - t)])
    assert "2 mean(s) escaping" in destination(_frame(escape, np.linspace(1, 1e-3, 11)), 3, 1,
                                               2.55, 1.0, 1e-2)[0]
    stay = np.hstack([2.55 + 0 * t, 2.55 + 0 * t, 0 * t])
    assert destination(_frame(stay, np.ones(11)), 3, 1, 2.55, 1.0, 1e-2)[0].startswith("stays")


# ------------------------------------------------------------------------- the claim itself


def test_registered_with_variants() -> None:
    reg = registry.load()
    assert "T3.1" in reg
    assert {v.id for v in reg.variants_of("T3.1")} == {
        "T3.1~no-stationary-n3", "T3.1~local-minimum", "T3.1~n2-family"}


def by_id(claim_id: str) -> Any:
    return next(c for c in ls.CLAIMS if c.id == claim_id)


def test_t31_holds_and_variants_are_rejected() -> None:
    """One n = 3 computation (memo shared): T3.1 passes, the known-false variants fail."""
    inst = ls.fam(3, gd=True)
    params = by_id("T3.1").params("quick")
    result = run_instance(by_id("T3.1"), inst, params)
    assert result.verdict is Verdict.PASS, result.reason
    assert result.metrics["s_star"].startswith(S3[:38])
    assert result.metrics["certificate"]["certified"]
    assert result.metrics["spectrum"]["index_d1"] == 2
    for variant in ("T3.1~no-stationary-n3", "T3.1~local-minimum"):
        assert run_instance(by_id(variant), inst, params).verdict is Verdict.FAIL, variant
    n2 = run_instance(by_id("T3.1~n2-family"), ls.fam(2), params)
    assert n2.verdict is Verdict.FAIL and not n2.metrics["scan_sign_changes"]
    assert not ls.inside_t31(ls.fam(2)) and not ls.inside_t31(ls.cen(3, 8))


def _outcome(**metrics: Any) -> InstanceOutcome:
    return InstanceOutcome(metrics={"kind": "family", "n": 3, **metrics})


def test_predicates_reject_broken_evidence() -> None:
    p = by_id("T3.1").params("quick")
    grad = {"d1_max_abs": 1e-20, "d1_error": 1e-50, "d1_dps": 52, "d3_max_abs": 1e-50,
            "d3_error": 1e-50, "d3_dps": 52, "d3_transverse_max_abs": 0.0}
    assert ls.gradient_vanishes(_outcome(gradient=grad), p)[0] is False
    low = {**grad, "d1_max_abs": 1e-50, "d1_dps": 30}
    assert ls.gradient_vanishes(_outcome(gradient=low), p)[0] is False  # too few digits
    wide = {"certified": True, "width": 1e-9, "s_lo": "1", "s_hi": "1", "slope_lo": "",
            "slope_hi": ""}
    assert ls.certified(_outcome(certificate=wide), p)[0] is False
    spec = {"resolved": True, "null_modes": [{"kind": "rotation", "residual": 1e-50}],
            "index_d1": 2, "index_d3": 4, "along_error": 1e-47, "transverse_error": 1e-47,
            "zero_modes_d3": {"rotation": 2, "splitting": 0}, "along": [-0.3, -0.3, 1.8]}
    off = {"par": 1e-4, "perp": 1e-9, "scale": 2.0}  # the derived Hessian disagrees with FD
    assert ls.hessian_resolved(_outcome(spectrum=spec, fd_check=off), p)[0] is None
    runs = {"runs": [{"destination": "stays at s*"}]}
    assert ls.gd_leaves(_outcome(gd=runs), p)[0] is False
    # no GD run is no evidence: undecided, never a pass
    holds, text = ls.gd_leaves(_outcome(), p)
    assert holds is None and "no evidence" in text


def test_a_census_without_points_decides_nothing() -> None:
    """A census that accepted no point has nothing to check (n/a), not a vacuous pass; and its
    completeness check is a guard about the starts, worded as a multistart."""
    p = by_id("T3.1").params("quick")
    empty = InstanceOutcome(metrics={
        "kind": "census", "n": 2, "box": 10.0, "starts": 32, "sobol_starts": 32,
        "pattern_starts": 0, "outcomes": {"truth": 12, "left the box": 20}, "points": [],
        "rejected": [], "unresolved": [], "truth_radius": 0.07})
    for check in (ls.gradient_vanishes, ls.loss_positive, ls.hessian_resolved, ls.gd_leaves):
        assert check(empty, p)[0] == NOT_APPLICABLE, check.__name__
    holds, text = ls.census_complete(empty, p)
    assert holds is True and "multistart: 32 starts" in text and "would miss" in text
    assert next(c for c in ls.T3_1.conclusions if c.name == "census_complete").guard
    assert all(i.get("gd") for i in ls.INSTANCES["full"] if i["kind"] == "family")


# ---------------------------------------------------------------------------- report section


def _spec(along: list[float], transverse: list[float], d1: int, d3: int) -> dict[str, Any]:
    return {"along": along, "along_error": 1e-47, "transverse": transverse,
            "transverse_error": 1e-47, "null_modes": [{"kind": "rotation", "residual": 1e-54}],
            "resolved": True, "index_d1": d1, "index_d3": d3,
            "zero_modes_d3": {"rotation": 2, "splitting": 0}}


def test_report_section_renders_family_and_census() -> None:
    from scoreclaims.reports.hooks import ClaimContext
    from scoreclaims.reports.sections import stationary as sec

    rows = [[0.25 * k, 1.0 - 0.2 * k, 1e-14, 0.1 * k, 1e-15] for k in range(1, 9)]
    gd_rows = [[float(t), 1.0 / (1 + t), 2.5 + t, 2.5, 0.0] for t in (0, 1, 10, 100)]
    family_m = {
        "kind": "family", "n": 3, "scan": rows, "s_star": S3, "loss": "0.9438002732432740",
        "loss_error": 1e-54,
        "gradient": {"d1_max_abs": 1e-54, "d1_error": 1e-53, "d3_max_abs": 1e-54,
                     "d3_error": 1e-53},
        "certificate": {"s_lo": S3, "s_hi": S3, "slope_lo": "[2.7e-11 +/- 1e-18]",
                        "slope_hi": "[-2.7e-11 +/- 1e-18]", "certified": True},
        "spectrum": _spec([-0.34, -0.32, 1.79], [-0.016, 2.0], 2, 4),
        "fd_check": {"par": 1e-9, "perp": 3e-9},
        "gd": {"eta": 0.25, "eps": 1e-3, "steps": 1024,
               "runs": [{"label": "d=1, random", "destination": "truth (every mean converges)",
                         "detail": "tau = 1024", "rows": gd_rows}]},
    }
    census_m = {
        "kind": "census", "n": 2, "starts": 40, "sobol_starts": 32, "pattern_starts": 0,
        "outcomes": {"candidate": 6, "left the box": 34}, "rejected": [], "unresolved": [],
        "truth_radius": 0.068,
        "points": [{"means": ["-2.9e-53", A2], "loss": "0.4795159706351334843834775",
                    "basin": 6, "spectrum": _spec([-0.31, 1.89], [2.0], 1, 1),
                    "certificate": {"certified": True},
                    "gd": {"destination": "truth (every mean converges)", "rows": gd_rows}}],
    }
    claim = {"id": "T3.1", "instances": [{"metrics": family_m, "in_hypotheses": True},
                                         {"metrics": census_m, "in_hypotheses": False}]}
    ctx = ClaimContext(claim)
    text = sec.section(ctx)
    assert S3 in text and "Census of stationary points" in text and "(0, 2.45628" in text
    assert "How hard we looked" in text and "left the box: 34" in text
    assert any(path.endswith(".png") for path in ctx.assets)
    findings = " ".join(sec.findings(claim))
    assert "n = 2" in findings and "positive loss" in findings and "saddle" in findings
    assert "index 2 (d = 1), 4 (d = 3)" in sec.key_figures(claim)
