"""Accuracy of the float64 cubature against stored high-accuracy references.

`tests/data/cubature_reference.json` holds loss and gradient computed by the original engine
(nested adaptive Gauss-Kronrod, tol = 1e-13, error estimates ~1e-14) before the speed work;
the mpmath reference of `tests/reference.py` is the independent check. Each case checks the
issue-2 targets (1e-10 relative for k <= 2, 1e-8 for k = 3) and that the returned error
estimate bounds the observed error (up to the reference's own error)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from reference import population_reference

from scoreclaims.verifiers.geometry import reduce_means
from scoreclaims.verifiers.population import evaluate

REFERENCE = json.loads((Path(__file__).parent / "data" / "cubature_reference.json").read_text())
TARGET = {1: 1e-10, 2: 1e-10, 3: 1e-8}
SLOW = {"k2_n8_random", "k2_n3_far_tail", "k2_n5_d3_planar",
        "k3_n4_near_e1"}  # 3-30 s each: SCORECLAIMS_SLOW=1


def _errors(name: str) -> tuple[int, float, float, float, float, float, float]:
    ref = REFERENCE[name]
    m = np.array(ref["means"])
    ev = evaluate(m)
    gref = np.array(ref["grad"])
    gnorm = float(np.linalg.norm(gref))
    err_l = abs(ev.loss - ref["loss"]) / ref["loss"]
    err_g = float(np.linalg.norm(ev.grad - gref)) / gnorm
    ref_l = ref["loss_error"] / ref["loss"]
    ref_g = ref["grad_error"] / gnorm
    assert ev.converged
    return reduce_means(m).k, err_l, err_g, ev.relative_loss_error, ev.relative_grad_error, \
        ref_l, ref_g


CASES = [n for n in REFERENCE if n not in SLOW or os.environ.get("SCORECLAIMS_SLOW") == "1"]


@pytest.mark.parametrize("name", CASES)
def test_against_reference(name: str) -> None:
    k, err_l, err_g, est_l, est_g, ref_l, ref_g = _errors(name)
    assert err_l <= TARGET[k] and err_g <= TARGET[k], (err_l, err_g)
    assert est_l <= TARGET[k] and est_g <= TARGET[k], (est_l, est_g)
    # the estimate bounds the error (the reference is itself only good to ref_*)
    assert err_l <= est_l + ref_l + 4e-16 and err_g <= est_g + ref_g + 4e-16


def test_gd_rule_reuse_matches_fresh_evaluation() -> None:
    """Frozen rules (k = 1 and k = 2) along GD steps agree with fresh adaptive evaluations and
    report estimates that bound the difference."""
    for m in (np.array([[0.0], [14.0]]), np.array([[0.3], [-0.7], [1.2], [2.0], [-2.5]]),
              np.array([[0.0, 0.0], [1.0, 0.5], [-0.4, 1.1]])):
        ev = evaluate(m)
        rule, reused = ev.rule, 0
        assert rule is not None
        for _ in range(15):
            m = m - 0.02 * ev.grad
            ev = evaluate(m, rule=rule)
            reused += ev.rule is rule
            rule = ev.rule
            fresh = evaluate(m)
            assert abs(ev.loss - fresh.loss) <= ev.loss_error + fresh.loss_error + 1e-300
            diff = float(np.linalg.norm(ev.grad - fresh.grad))
            assert diff <= ev.grad_error + fresh.grad_error + 1e-300
            assert ev.relative_loss_error <= 1e-10 and ev.relative_grad_error <= 1e-10
        assert reused >= 10


def test_rule_rejected_far_away() -> None:
    """A rule from a different configuration is not used blindly."""
    rule = evaluate(np.array([[0.0], [14.0]])).rule
    ev = evaluate(np.array([[0.0], [3.0]]), rule=rule)
    ref = evaluate(np.array([[0.0], [3.0]]))
    assert ev.rule is not rule
    assert abs(ev.loss - ref.loss) <= 1e-12 * ref.loss


def _gd_against_fresh(m: np.ndarray, steps: int, eta: float) -> int:
    """GD with rule reuse; every step held against a fresh adaptive evaluation (the estimates
    must cover the difference). Returns how many steps reused the previous rule."""
    ev = evaluate(m)
    reused = 0
    for _ in range(steps):
        m = m - eta * ev.grad
        nxt = evaluate(m, rule=ev.rule)
        reused += nxt.rule is ev.rule
        fresh = evaluate(m)
        assert abs(nxt.loss - fresh.loss) <= nxt.loss_error + fresh.loss_error + 1e-300
        assert np.linalg.norm(nxt.grad - fresh.grad) <= nxt.grad_error + fresh.grad_error + 1e-300
        assert nxt.relative_loss_error <= 1e-10 and nxt.relative_grad_error <= 1e-10
        ev = nxt
    return reused


def test_k1_rules_in_higher_dimension_and_clustered() -> None:
    """k = 1 line rules: a collinear configuration in d = 3 (the SVD may flip the line's sign
    between steps: the rule must follow it), and clustered means (Gauss-Hermite pair)."""
    u = np.array([1.0, 2.0, -2.0]) / 3.0
    line = np.array([0.5, 0.5, 0.5]) + np.array([-1.5, 0.2, 2.0])[:, None] * u
    assert reduce_means(line).k == 1
    assert _gd_against_fresh(line, 12, 0.01) >= 9
    clustered = np.array([[2.0], [2.0 + 1e-4], [2.0 - 3e-5]])
    rule = evaluate(clustered).rule
    assert rule is not None and rule.kind == "hermite"
    assert _gd_against_fresh(clustered, 12, 0.05) >= 9
    # there a reused and a fresh evaluation are the same Gauss-Hermite computation, so the loop
    # cannot tell them apart: hold the reused rule against the mpmath reference as well
    ev = evaluate(clustered)
    moved = clustered - 0.05 * ev.grad
    reused = evaluate(moved, rule=ev.rule)
    assert reused.rule is ev.rule
    loss, grad, _ = population_reference(moved.tolist(), dps=30)
    assert abs(reused.loss - float(loss)) <= 1e-10 * float(loss)
    grad = np.array(grad, dtype=float)
    assert np.linalg.norm(reused.grad - grad) <= 1e-10 * np.linalg.norm(grad)


def test_k1_rule_not_used_after_a_crossing_moved() -> None:
    """The drift check: a crossing moved by more than a quarter of its width 1/|p_1 - p_0|
    rebuilds the rule even where the old panels' estimate might still pass."""
    ev = evaluate(np.array([[0.0], [14.0]]))
    moved = np.array([[0.0], [14.0 + 0.6 / 14]])  # crossing 7 -> 7 + 0.3 / 14 (> h / 4)
    assert evaluate(moved, rule=ev.rule).rule is not ev.rule
    assert evaluate(np.array([[0.0], [14.0 + 0.1 / 14]]), rule=ev.rule).rule is ev.rule


def _cubature(m: np.ndarray, thin: bool):
    from scoreclaims.verifiers.formulation import n_components, score_integrands
    from scoreclaims.verifiers.population import error_groups, integrand_bound
    from scoreclaims.verifiers.quadrature import GaussianCubature

    red = reduce_means(m)
    n, k = red.coords.shape
    quad = GaussianCubature(red.coords, lambda y: score_integrands(y, red.coords),
                            n_components(n, k), error_groups(n, k, 0.0), integrand_bound(red),
                            tol=1e-11, thin=thin)
    return quad, quad.run()


@pytest.mark.parametrize("thin_spread", [1e-7, 1e-4, 2e-2, 0.2])
def test_thin_axis_block_agrees_with_adaptive_axis(thin_spread: float) -> None:
    """k = 2 means spread along one axis and thin along the other: the Gauss-Hermite block on
    the thin axis agrees with the adaptive rule on it, within the two estimates."""
    rng = np.random.default_rng(17)
    m = np.c_[[3.0, 0.5, -2.0, 1.2], thin_spread * rng.uniform(-0.5, 0.5, 4)]
    quad, thin = _cubature(m, True)
    assert quad.thin_from == 1
    _, full = _cubature(m, False)
    assert thin.converged and full.converged and thin.rule is not None
    assert np.all(np.abs(thin.value - full.value) <= thin.error + full.error + 1e-300)
    assert np.all(thin.error <= 1e-10 * thin.abs_value + 1e-300)


def test_thin_block_rules_along_gd_k3() -> None:
    """E1-like k = 3 (means apart along the centre direction, 1e-7 across): block rules reused
    along GD agree with fresh evaluations within the estimates, at the k = 3 target."""
    rng = np.random.default_rng(5)
    m = np.c_[[6.0, 5.1, 6.9, 4.2, 7.5], 1e-7 * rng.normal(size=(5, 2))]
    ev = evaluate(m)
    assert reduce_means(m).k == 3 and ev.rule is not None and ev.rule.block is not None
    reused = 0
    for _ in range(8):
        m = m - 1e-3 * ev.grad  # |grad| ~ 9 here: a step that keeps the crossings in place
        nxt = evaluate(m, rule=ev.rule)
        reused += nxt.rule is ev.rule
        fresh = evaluate(m)
        assert abs(nxt.loss - fresh.loss) <= nxt.loss_error + fresh.loss_error
        assert np.linalg.norm(nxt.grad - fresh.grad) <= nxt.grad_error + fresh.grad_error
        assert nxt.relative_loss_error <= 1e-8 and nxt.relative_grad_error <= 1e-8
        ev = nxt
    assert reused >= 6


def test_k1_rule_carried_along_with_the_crossings() -> None:
    """A rule whose crossings moved (gaps unchanged) is transported, not rebuilt: its panels
    follow the crossing, and its values agree with a fresh evaluation within the estimates."""
    from scoreclaims.verifiers import collinear

    ev = evaluate(np.array([[-7.0], [7.0]]))
    m = np.array([[-6.85], [7.1]])  # crossing 0 -> 0.125, 1.75 widths; gap 14 -> 13.95
    moved = evaluate(m, rule=ev.rule)
    assert moved.rule is not ev.rule and moved.rule.kind == "panels"
    np.testing.assert_array_equal(moved.rule.coords, m[:, 0])
    assert moved.evaluations == ev.rule.n_nodes  # one pass over the carried panels
    assert collinear.transport(ev.rule, np.array([-7.0, 3.0])) is None  # the gap changed
    fresh = evaluate(m)
    assert abs(moved.loss - fresh.loss) <= moved.loss_error + fresh.loss_error
    assert np.linalg.norm(moved.grad - fresh.grad) <= moved.grad_error + fresh.grad_error
    assert moved.relative_loss_error <= 1e-10 and moved.relative_grad_error <= 1e-10


@pytest.mark.parametrize("means", [
    [[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]],  # k = 2, separated: the grid, then the adaptive rule
    [[0.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 1.5, 0.0], [0.0, 0.0, 1.0]],  # k = 3
    [[0.0], [0.4], [9.0]],  # k = 1
])
def test_evaluation_budget_caps_the_cubature(means: list[list[float]]) -> None:
    """A budget below what the cubature needs gives an unconverged NaN result that spent at
    most the budget (plus the grid's 10^k-node pilot); a budget above it changes nothing."""
    m = np.array(means)
    free = evaluate(m)
    assert free.converged
    capped = evaluate(m, max_evaluations=free.evaluations // 20)
    assert not capped.converged
    assert np.isnan(capped.loss) and np.all(np.isnan(capped.grad))
    assert capped.evaluations <= free.evaluations // 20 + 10 ** m.shape[1]
    roomy = evaluate(m, max_evaluations=free.evaluations)
    assert roomy.converged and roomy.loss == free.loss
    assert np.array_equal(roomy.grad, free.grad)
