"""The trapezoid grid's error estimate against a reference at four times its node density, per
component (benchmarks/grid_estimate.py measures the same on more configurations, k = 3 included,
and at coarser grids)."""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from benchmarks.grid_estimate import (
    Coverage,
    draw_along,
    draw_config,
    draw_thin,
    measure,
    perfect_estimate,
)
from scoreclaims.verifiers.formulation import n_components, score_integrands
from scoreclaims.verifiers.geometry import reduce_means
from scoreclaims.verifiers.population import (
    cubature,
    default_tol,
    error_groups,
    evaluate,
    grid_first,
    integrand_bound,
)
from scoreclaims.verifiers.quadrature import GaussianCubature
from scoreclaims.verifiers.trapezoid import _EPS, GridRule


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([1e-9, 1e-6, 1e-4]))
def test_the_engines_estimate_covers_every_component(seed: int, tol: float) -> None:
    """k = 2 separated means (some with a clustered pair): the engine's grid errs by less than
    its estimate in the loss density and in every gradient component."""
    m = draw_config(np.random.default_rng(seed), 3, 2)
    assume(m is not None)
    got = measure(m, tol, [1.0])
    assume(got is not None)
    assert got[1.0].engine_ratio <= 1.0


def test_too_optimistic_estimates_are_caught() -> None:
    """Both candidates (a sub-lattice's estimate squared over the integral's scale; the
    three-level extrapolation) hold on the engine's grid but miss on grids five times coarser,
    where the engine's own estimate still covers: the measurement can fail."""
    rng = np.random.default_rng(1)
    worst_engine, worst_at_1, worst_at_5 = 0.0, 0.0, 0.0
    three_at_1, three_at_5 = 0.0, 0.0
    measured_at_1 = 0
    meets_at_1, meets_at_5 = [], []
    done = 0
    while done < 8:
        m = draw_config(rng, 3, 2)
        if m is None:
            continue
        got = measure(m, 1e-9, [1.0, 5.0])
        if got is None:
            continue
        done += 1
        worst_engine = max(worst_engine, got[1.0].engine_ratio, got[5.0].engine_ratio)
        worst_at_1 = max(worst_at_1, got[1.0].squared_ratio)
        worst_at_5 = max(worst_at_5, got[5.0].squared_ratio)
        three_at_1 = max(three_at_1, got[1.0].three_ratio)
        three_at_5 = max(three_at_5, got[5.0].three_ratio)
        measured_at_1 += got[1.0].measured
        meets_at_1.append(got[1.0].true_meets)
        meets_at_5.append(got[5.0].true_meets)
    # the oracle's reading: the engine's grids meet tol in truth, five times coarser ones do not
    assert all(meets_at_1) and not all(meets_at_5)
    assert measured_at_1 > 0  # the engine's grids' own errors were resolved, not only bounded
    assert worst_engine <= 1.0 and worst_at_1 <= 1.0 and three_at_1 <= 1.0
    assert worst_at_5 > 1.0 and three_at_5 > 1.0


def test_a_perfect_estimate_stops_at_the_first_factor_whose_true_error_misses() -> None:
    """The coarsest rule a perfect estimate allows: the last factor of the ladder, from the
    engine's grid up, before the first whose true error misses (a coarser one meeting tol again
    does not count), finer factors ignored."""
    def cov(nodes: int, meets: bool) -> Coverage:
        return Coverage(nodes, 1, 0.5, 0.5, 0.5, meets)

    ladder = {1.0: cov(1000, True), 1.5: cov(300, True), 2.0: cov(125, False),
              2.5: cov(64, True)}
    assert perfect_estimate(ladder) == 0.3
    assert perfect_estimate({1.0: cov(1000, True), 1.5: cov(300, False)}) == 1.0
    assert perfect_estimate({1.0: cov(1000, True), 0.8: cov(2000, True),
                             2.0: cov(125, True)}) == 0.125


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_the_estimate_covers_thin_axes_beside_a_separated_one(seed: int) -> None:
    """k = 3 means with one thin axis (where `grid_first` now takes the grid): the
    engine's estimate covers every component against the reference, tol 1e-4 (examples whose
    errors the reference cannot resolve are filtered, so covering is never vacuous)."""
    m = draw_thin(np.random.default_rng(seed), 5, 3)
    assume(m is not None)
    got = measure(m, 1e-4, [1.0])
    assume(got is not None and got[1.0].measured > 0)
    assert got[1.0].engine_ratio <= 1.0


def test_grid_first_routes_k3_means_with_two_separated_axes() -> None:
    wide, thin = np.array([0.0, 3.0, 6.0]), np.array([0.0, 0.05, -0.1])
    assert grid_first(np.stack([wide, wide[::-1], thin], axis=1))  # k = 3, one thin axis
    assert not grid_first(np.stack([wide, thin, 0.5 * thin[::-1]], axis=1))  # two thin axes
    assert not grid_first(np.stack([thin, thin[::-1], 0.3 * thin], axis=1))  # all thin
    assert grid_first(np.stack([wide, wide[::-1], np.array([0.0, 2.0, 1.0])], axis=1))
    assert not grid_first(np.stack([wide, thin], axis=1))  # k = 2 keeps the adaptive path
    assert grid_first(np.stack([wide, wide[::-1]], axis=1))  # k = 2 separated


def test_the_grid_and_the_adaptive_cubature_agree_on_a_thin_axis_configuration() -> None:
    """Differential: the same k = 3 thin-axis means through the grid and through the adaptive
    cubature (Gauss-Hermite on the thin axis), at the default tolerance: loss and gradient
    agree within the sum of the two error bounds."""
    rng = np.random.default_rng(3)
    m = None
    while m is None:
        m = draw_thin(rng, 5, 3)
    red = reduce_means(m)
    assert grid_first(red.coords)
    grid = cubature(red, default_tol(3))
    adaptive = GaussianCubature(red.coords, lambda y: score_integrands(y, red.coords),
                                n_components(5, 3), error_groups(5, 3, 0.0),
                                integrand_bound(red), tol=default_tol(3)).run()
    assert isinstance(grid.rule, GridRule) and adaptive.converged and grid.converged
    gap = np.abs(grid.value - adaptive.value)
    assert np.all(gap <= grid.error + adaptive.error + 64 * _EPS * grid.abs_value)


def test_the_estimate_covers_configurations_along_a_sweep_run() -> None:
    """The means along one T3.5 sweep run (n = 3, d = 3, GD at the sweep's step): the engine's
    grid and the one 1.25 times coarser (the widest the engine reuses) both cover their error,
    and the reference resolves some of those errors (else covering them would say nothing)."""
    rng = np.random.default_rng(0)
    ms: list[np.ndarray] = []
    while not ms:
        ms = draw_along(rng, 3, 3)
    measured = 0
    for m in ms:
        got = measure(m, 1e-9, [1.0, 1.25])
        assert got is not None
        assert got[1.0].engine_ratio <= 1 and got[1.25].engine_ratio <= 1
        measured += got[1.0].measured + got[1.25].measured
    assert measured > 0


def test_a_grid_beyond_max_grid_nodes_is_left_to_the_adaptive_cubature() -> None:
    """`max_grid_nodes` caps the fresh grid: one node short of the engine's grid, the adaptive
    cubature evaluates instead, and the two agree within the sum of their error bounds."""
    m = np.array([[0.0, 0.0], [3.0, 1.0], [-1.0, 2.5]])
    full = evaluate(m)
    assert isinstance(full.rule, GridRule) and full.converged
    capped = evaluate(m, max_grid_nodes=full.rule.n_nodes - 1)
    assert not isinstance(capped.rule, GridRule) and capped.converged
    assert np.linalg.norm(full.grad - capped.grad) <= full.grad_error + capped.grad_error
    assert abs(full.loss - capped.loss) <= full.loss_error + capped.loss_error
    assert isinstance(evaluate(m, max_grid_nodes=full.rule.n_nodes).rule, GridRule)


def test_the_tight_first_grid_is_accepted_along_a_sweep_run_at_the_default() -> None:
    """benchmarks.grid_start.accepts on three states along a T3.5 sweep run at 1e-9: every grid
    of the tight first steps is accepted, by the estimate or by the bound alone (the premise of
    trying them first at tight tolerances), and the three are counted once each."""
    from benchmarks.grid_start import accepts

    got = accepts(3, 1e-9, 5)
    assert sum(got.values()) == 3 and got["neither"] == 0
