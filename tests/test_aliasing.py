"""The trapezoid grid's aliasing bound (`verifiers.aliasing`, `trapezoid.lattice_bound`): it
covers the actual error of grids from the a-priori steps to several times coarser, component by
component (k = 2 and 3, hypothesis-drawn k = 2 configurations), and refuses the coarse ones; a
bound for a lattice twice as fine (a known-false bound) misses, so the coverage check has teeth;
a plan of shifts kept from other means still gives a covering bound; the majorants it uses cover
a reference's; and the engine, which lets the bound
accept grids its estimate refuses, takes no more nodes than the estimate alone and stays within
its error of the reference."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoreclaims.claims.paper._random_init_runs import initial_means
from scoreclaims.verifiers import aliasing
from scoreclaims.verifiers.aliasing import MAJORANT_SAFETY, majorants
from scoreclaims.verifiers.formulation import n_components, score_integrands
from scoreclaims.verifiers.geometry import reduce_means
from scoreclaims.verifiers.population import error_groups, integrand_bound
from scoreclaims.verifiers.quadrature import HERMITE_MAX_SPREAD, _group_norms, group_matrix
from scoreclaims.verifiers.trapezoid import (
    a_priori_steps,
    apply_grid,
    build_grid,
    lattice_bound,
    rule_majorants,
    spans,
    trapezoid_cubature,
)

TOL = 1e-11
COARSE = np.array([[0.0, 0.0], [2.5, 0.8], [-1.0, 2.2]])
WIDE = np.array([[0.0, 0.0, 0.0], [4.0, 1.0, 0.5], [1.0, -3.0, 2.0]])  # d = 3, k = 2
DIAGONAL = np.array([[-1.724, -3.519], [1.913, 3.952], [1.479, 0.483]])  # a pair spans both axes
THIN_K2 = np.array([[0.0, 0.0], [2.2, 0.1], [1.0, 0.5], [0.4, -0.05]])


class Setup:
    def __init__(self, m: np.ndarray):
        red = reduce_means(m)
        n, k = red.coords.shape
        self.coords = red.coords
        self.gmat = group_matrix(error_groups(n, k, float(np.linalg.norm(red.perp))),
                                 n_components(n, k))
        self.bound = integrand_bound(red)

    def f(self, y: np.ndarray) -> np.ndarray:
        return score_integrands(y, self.coords)

    def grid(self, factor: float, tol: float = TOL, drop: float = 1e-13):
        return build_grid(self.coords, None, factor * a_priori_steps(spans(self.coords), tol),
                          spans(self.coords), drop, max_nodes=20_000_000)

    def reference(self, factor: float, tol: float = TOL) -> tuple[np.ndarray, np.ndarray]:
        """Values and their own error (estimate: the fine grid is far inside its tolerance)."""
        value, _, err, _ = apply_grid(self.grid(factor, tol, drop=1e-22), self.f, self.gmat,
                                      self.bound)
        return value, err


def _ladder(m: np.ndarray, factors: tuple[float, ...], ref_factor: float,
            step_scale: float = 2.0) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per grid of steps factor * a-priori: (true error, bound, |f| integral) per component;
    the bound is `aliasing_bound` of the lattice of steps h / step_scale (2: T's own lattice,
    the engine's) plus the left-out and rounding terms."""
    s = Setup(m)
    exact, exact_err = s.reference(ref_factor)
    out = []
    for factor in factors:
        grid = s.grid(factor)
        value, absval, err, est = apply_grid(grid, s.f, s.gmat, s.bound)
        alias, _ = aliasing.aliasing_bound(s.coords, grid.step / step_scale,
                                           rule_majorants(grid, s.coords))
        out.append((np.abs(value - exact), alias + (err - est) + exact_err, absval))
    return out


def test_bound_covers_the_error_from_the_a_priori_steps_to_coarse() -> None:
    """Teeth: on grids from the a-priori steps to 6 times coarser (T's lattice at 0.5 to 3
    times the a-priori step), every component's error is within the bound, several grids err
    beyond tol (so there is error to cover) and each of those the bound rejects."""
    for m in (COARSE, WIDE, DIAGONAL, THIN_K2):
        ladder = _ladder(m, (1.0, 2.0, 3.0, 4.0, 6.0), 0.25)
        big = 0
        for true, bound, absval in ladder:
            assert np.all(true <= bound), (m, true / bound)
            if np.any(true > TOL * absval):
                big += 1
                assert np.any(bound > TOL * absval)
        assert big >= 2


def test_a_bound_for_a_finer_lattice_misses() -> None:
    """The known-false bound (frequencies of a lattice twice as fine as T's, so every aliasing
    term's decay doubled) falls below the actual error on some grid: the coverage check can
    fail."""
    missed = 0
    for m in (COARSE, DIAGONAL):
        for true, bound, _ in _ladder(m, (2.0, 3.0, 4.0, 6.0), 0.25, step_scale=4.0):
            missed += bool(np.any(true > bound))
    assert missed >= 1


def test_bound_covers_a_k3_sweep_start() -> None:
    """k = 3 (n = 5, d = 3, a T3.5 sweep start at M_0 = 6, the tolerance 1e-9): the bound
    covers the error of grids at 1 to 3 times the a-priori steps against a grid at half of them."""
    m = np.array(initial_means(5, 3, 6.0, 0))
    s = Setup(m)
    exact, exact_err = s.reference(0.5, 1e-9)
    seen = 0
    for factor in (1.0, 2.0, 3.0):
        grid = s.grid(factor, tol=1e-9)
        value, absval, err, est = apply_grid(grid, s.f, s.gmat, s.bound)
        bound = lattice_bound(grid, s.coords) + (err - est) + exact_err
        true = np.abs(value - exact)
        assert np.all(true <= bound)
        seen += bool(np.any(true > 1e-9 * absval))
    assert seen >= 1


@st.composite
def separated_k2(draw: st.DrawFn) -> np.ndarray:
    """n = 3 means in R^2 from N(0, s^2 I), s in [0.7, 2.5], both reduced axes wider than the
    Hermite limit (the grid's domain)."""
    seed = draw(st.integers(0, 2**31 - 1))
    scale = draw(st.floats(0.7, 2.5))
    m = np.random.default_rng(seed).normal(size=(3, 2)) * scale
    red = reduce_means(m)
    if red.k != 2 or np.min(np.ptp(red.coords, axis=0)) <= HERMITE_MAX_SPREAD:
        from hypothesis import reject

        reject()
    return m


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(separated_k2())
def test_bound_covers_drawn_configurations(m: np.ndarray) -> None:
    """Hypothesis-drawn k = 2 configurations: the bound covers every component's error at 1.5
    and 3 times the a-priori steps."""
    for true, bound, _ in _ladder(m, (1.5, 3.0), 0.3):
        assert np.all(true <= bound)


def test_a_kept_plan_still_bounds_after_the_means_move() -> None:
    """The shifts chosen for some means, used on the same grid for means moved by a GD-sized
    step (each shift scaled back into P where it left it), give a bound that covers the error,
    without a fresh search."""
    s0 = Setup(COARSE)
    grid = s0.grid(4.0)
    lattice_bound(grid, s0.coords)
    plan = grid.plans["shifts"]
    s = Setup(COARSE + 0.15 * np.array([[0.3, -0.2], [0.5, 0.4], [-0.4, 0.3]]))
    value, absval, err, est = apply_grid(grid, s.f, s.gmat, s.bound)
    kept = lattice_bound(grid, s.coords)
    assert grid.plans["shifts"] is plan
    theta = np.max(np.abs(plan.eta @ aliasing._pairs(s.coords).T), axis=-1)
    assert np.any(theta > plan.theta)  # some shifts did leave P and were scaled back
    exact, exact_err = s.reference(0.25)
    true = np.abs(value - exact)
    assert np.all(true <= kept + (err - est) + exact_err)
    assert np.any(true > TOL * absval)  # an error to cover


def test_majorants_the_bound_uses_cover_a_reference() -> None:
    """The bound's one unproven input: the majorants' expectations it uses (two sub-lattices,
    the larger plus their difference, times MAJORANT_SAFETY) against a grid at a quarter of the
    steps: above the reference in every part, and within 2 MAJORANT_SAFETY of it (not vacuous),
    for the grids of the ladder."""
    for m in (COARSE, WIDE, DIAGONAL, np.array(initial_means(3, 2, 8.0, 1))):
        s = Setup(m)
        fine = s.grid(0.25, drop=1e-22)
        ref = majorants(fine.points, fine.weight, s.coords)
        for factor in (1.0, 3.0):
            used = rule_majorants(s.grid(factor), s.coords)
            for a, b in ((used.loss, ref.loss), (used.a, ref.a), (used.b, ref.b),
                         (used.c, ref.c), (used.last, ref.last)):
                a, b = np.asarray(a), np.asarray(b)
                assert np.all(b <= a) and np.all(a <= 2 * MAJORANT_SAFETY * b)


def test_engine_with_the_bound_takes_no_more_nodes_and_stays_within_its_error() -> None:
    """n = 5, d = 3 from N(0, 1) at 1e-9: the grid the engine takes with the bound (`score`)
    has at most the nodes of the estimate's grid, and its values are within its error of the
    estimate's grid's (within the sum of the two errors)."""
    m = np.random.default_rng(0).normal(size=(5, 3))
    s = Setup(m)
    alone = trapezoid_cubature(s.coords, None, s.f, s.gmat, s.bound, 1e-9)
    both = trapezoid_cubature(s.coords, None, s.f, s.gmat, s.bound, 1e-9, score=True)
    assert alone is not None and both is not None
    assert both.rule.n_nodes <= alone.rule.n_nodes
    diff = _group_norms(np.abs(both.value - alone.value), s.gmat)
    assert np.all(diff <= _group_norms(both.error + alone.error, s.gmat))


def test_benchmark_measure_reports_coverage_and_nodes() -> None:
    """benchmarks.alias_bound.measure on a k = 2 configuration: the estimate's grid and coarser
    ones, each covered by its bound, the bound accepting the estimate's grid, nodes falling with
    the factor, and the majorants it used covering the reference's."""
    from benchmarks.alias_bound import measure

    got = measure(COARSE, 1e-9, [1.0, 1.3, 1.6])
    assert got is not None
    nodes, covs, maj_ratio = got
    assert covs[0].factor == 1.0 and covs[0].nodes == nodes and covs[0].bound_accepts
    assert all(c.true_over_bound <= 1 for c in covs)
    assert all(a.nodes > b.nodes for a, b in zip(covs, covs[1:], strict=False))
    assert 0 < maj_ratio <= MAJORANT_SAFETY


def test_benchmark_switch_restores_the_engine_setting() -> None:
    """The benchmark's switch turns the bound off for its block and restores the previous
    setting, also when the block raises."""
    import pytest

    from benchmarks.alias_bound import _grid_bound
    from scoreclaims.verifiers import population

    assert population.GRID_ALIASING_BOUND
    with _grid_bound(False):
        assert not population.GRID_ALIASING_BOUND
    assert population.GRID_ALIASING_BOUND
    with pytest.raises(RuntimeError), _grid_bound(False):
        raise RuntimeError
    assert population.GRID_ALIASING_BOUND
