"""The compiled engine (`verifiers.compiled`, JAX) held to the numpy engine and to mpmath.

The formulation on jax.numpy against numpy and against arbitrary precision; `jax.grad` of the
loss through a frozen rule against the analytic gradient; compiled evaluations against the
stored mpmath references; compiled GD trajectories against the numpy loop (evaluate + step with
rule reuse) to 1e-12 over 10^4 steps; refusals wherever the engine refuses; batches equal to
single runs; determinism; JAX imported lazily, float64 scoped, XLA on one thread.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import _integrand as reference_integrand
from reference import population_reference
from reference_k3_mp import integrate as mp_integrate

from benchmarks.engine import numpy_descent
from scoreclaims.verifiers import collinear, population
from scoreclaims.verifiers.compiled import advance, advance_batch, compiles, plans
from scoreclaims.verifiers.compiled.kernels import EPS, SLACK, evaluate_plan
from scoreclaims.verifiers.compiled.plans import bucket, materialize, padded_sizes, plan_for
from scoreclaims.verifiers.compiled.runtime import float64, jax_modules
from scoreclaims.verifiers.dynamics import Descent, EngineSource
from scoreclaims.verifiers.formulation import (
    score_integrands,
    softmax_weights,
    split_components,
    stein_integrands,
)
from scoreclaims.verifiers.population import default_tol, evaluate
from scoreclaims.verifiers.quadrature import FrozenRule, reuse_rule

DATA = Path(__file__).parent / "data"
MP_EXP = np.frompyfunc(mpmath.exp, 1, 1)


def _jnp(x: np.ndarray):
    with float64() as jnp:
        return jnp.asarray(x)


def _rel(a: np.ndarray | float, b: np.ndarray | float) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def _on_rule(m: np.ndarray, rule: object, tol: float):
    """The compiled evaluation at m on `rule` (no step): the Evaluation, or None if refused."""
    adv = advance(m, rule, 0.0, tol, 0)
    assert adv is not None and adv.steps == 0
    return adv.evaluation


# -- the formulation on three kinds of numbers ---------------------------------------------

@settings(max_examples=12)
@given(st.sampled_from([(2, 1), (3, 2), (5, 3)]), st.integers(0, 2**32 - 1),
       st.sampled_from([0.1, 1.0, 8.0]))
def test_jax_formulation_matches_numpy(shape: tuple[int, int], seed: int, scale: float) -> None:
    n, k = shape
    rng = np.random.default_rng(seed)
    y, coords = rng.standard_normal((40, k)) * 3, rng.standard_normal((n, k)) * scale
    basis, perp = np.eye(k), np.zeros(k)
    with float64():
        for fn, args in ((score_integrands, (y, coords)), (softmax_weights, (y, coords)),
                         (stein_integrands, (y, basis, coords, perp))):
            ref = fn(*args)
            got = np.asarray(_jitted(fn)(*args))
            slack = 1e-12 * (1 + scale**2) ** (2 if fn is stein_integrands else 1)
            assert np.all(np.abs(got - ref) <= slack * (1 + np.abs(ref)))


@cache
def _jitted(fn: Callable) -> Callable:
    jax, jnp = jax_modules()
    return jax.jit(lambda *args: fn(*args, xp=jnp))


def test_jax_formulation_matches_mpmath_and_the_direct_form() -> None:
    """float64 JAX against the same expressions on mpmath numbers at 40 digits (object arrays)
    and against the paper's direct d-dimensional integrand of `tests/reference.py` (k = d)."""
    rng = np.random.default_rng(5)
    for n, k in ((2, 1), (3, 2), (5, 3)):
        y, coords = rng.standard_normal((4, k)) * 2, rng.standard_normal((n, k))
        with float64():
            got = np.asarray(_jitted(score_integrands)(y, coords))
        with mpmath.workdps(40):
            obj = score_integrands(np.vectorize(mpmath.mpf, otypes=[object])(y),
                                   np.vectorize(mpmath.mpf, otypes=[object])(coords), MP_EXP)
            exact = obj.astype(float)
            for i, point in enumerate(y):
                direct = reference_integrand(mpmath.mp, [mpmath.mpf(v) for v in point],
                                             [[mpmath.mpf(v) for v in row] for row in coords])
                assert _rel(got[i, : 1 + n * k], np.array(direct, dtype=float)) <= 1e-13
        assert np.all(np.abs(got - exact) <= 1e-14 * (1 + np.abs(exact)))


@pytest.fixture
def any_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    """Panel rules of k >= 2 compiled whatever their size (`plans.MAX_TREE_NODES`)."""
    monkeypatch.setattr(plans, "MAX_TREE_NODES", 10**6)


@pytest.mark.usefixtures("any_tree")
def test_jax_grad_of_the_loss_is_the_analytic_gradient() -> None:
    """The loss through a frozen rule (fixed nodes and weights) differentiated by JAX equals
    the rule's integral of the gradient integrand (quadrature commutes with d/dm)."""
    jax, _ = jax_modules()
    rng = np.random.default_rng(11)
    starts = [np.array([[0.05], [-0.1]]),  # Gauss-Hermite pair
              np.array([[-1.0], [0.4], [2.5]]),  # panels
              0.02 * rng.standard_normal((4, 3)),  # thin block, k = 3
              np.array([[0.3, 0.1], [-0.2, 0.05], [0.1, -0.1]])]  # panels and a block, k = 2
    kinds = set()
    for m in starts:
        ev = evaluate(m)
        plan = plan_for(m, ev.rule)
        kinds.add((plan.kind, plan.static))
        with float64() as jnp:
            arrays = {key: jnp.asarray(v) for key, v in
                      materialize(plan, padded_sizes([plan])).items()}

            def both(mm, arrays=arrays, plan=plan):
                def run(x):
                    return evaluate_plan(plan.kind, plan.static, arrays, x, 1.0)
                return jax.grad(lambda x: run(x).loss)(mm), run(mm).grad

            auto, analytic = map(np.asarray, jax.jit(both)(jnp.asarray(m)))
        assert _rel(auto, analytic) <= 1e-12
        assert _rel(analytic, ev.grad) <= 1e-13
    assert {k for k, _ in kinds} == {"hermite", "panels", "frozen"}


# -- compiled evaluations against mpmath -----------------------------------------------------

@pytest.mark.parametrize("m", [[[0.0], [14.0]], [[-1.2], [0.3], [2.0]]])
def test_compiled_k1_against_mpmath(m: list[list[float]]) -> None:
    m = np.array(m)
    loss, grad, err = population_reference(m.tolist(), dps=20)
    assert float(err) <= 1e-12
    ev = evaluate(m)
    got = _on_rule(m, ev.rule, default_tol(1))
    assert got is not None
    assert abs(got.loss - float(loss)) <= 1e-10 * float(loss)
    assert _rel(got.grad, np.array(grad, dtype=float)) <= 1e-10
    assert abs(got.loss - float(loss)) <= 10 * got.loss_error


def test_compiled_k2_clustered_against_stored_reference() -> None:
    case = next(c for c in json.loads((DATA / "reference_k2.json").read_text())
                if c["kind"] == "clustered")
    m = np.array(case["means"])
    ev = evaluate(m)
    assert isinstance(ev.rule, FrozenRule) and compiles(m, ev.rule)
    got = _on_rule(m, ev.rule, default_tol(2))
    grad = np.array([[float(x) for x in row] for row in case["gradient"]])
    assert abs(got.loss - float(case["loss"])) <= 1e-10 * float(case["loss"])
    assert _rel(got.grad, grad) <= 1e-10


def test_compiled_k3_against_mpmath() -> None:
    """Clustered k = 3 (a thin Gauss-Hermite block on every axis) against the tensor
    Gauss-Hermite rule of `tests/reference_k3_mp.py` in mpmath (two orders that agree)."""
    m = np.array([[0.08, -0.03, 0.05], [0.11, -0.06, 0.02], [0.06, -0.01, 0.01],
                  [0.09, -0.05, 0.07]])
    ev = evaluate(m)
    assert isinstance(ev.rule, FrozenRule) and ev.rule.tree is None
    got = _on_rule(m, ev.rule, default_tol(3))
    assert got is not None
    low, high = (np.array([float(v) for v in mp_integrate(m.tolist(), q)]) for q in (12, 16))
    assert _rel(low, high) <= 1e-20
    assert abs(got.loss - high[0]) <= 1e-12 * high[0]
    assert np.linalg.norm(got.grad.reshape(-1) - high[1:]) <= 1e-12 * np.linalg.norm(high[1:])
    assert abs(got.loss - ev.loss) <= 1e-14 * high[0] and _rel(got.grad, ev.grad) <= 1e-13


# -- trajectories: compiled against the numpy loop ------------------------------------------

def _line(n: int, clustered: bool, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if clustered:
        return (rng.uniform(-0.3, 0.3) + 10 ** rng.uniform(-6, -1.5)
                * rng.standard_normal(n))[:, None]
    return np.sort(rng.uniform(-4, 4, n))[:, None]


@settings(max_examples=3)
@given(st.integers(2, 5), st.booleans(), st.integers(0, 2**32 - 1))
def test_trajectory_k1(n: int, clustered: bool, seed: int) -> None:
    _same_trajectory(_line(n, clustered, seed), 0.01, 10_000)


@settings(max_examples=2)
@given(st.sampled_from([(3, 2), (4, 3), (5, 3)]), st.integers(0, 2**32 - 1))
def test_trajectory_clustered_k2_k3(shape: tuple[int, int], seed: int) -> None:
    """Means within 1/(3n) of the truth (T2.1's regime): thin Gauss-Hermite blocks."""
    rng = np.random.default_rng(seed)
    n, d = shape
    m = rng.standard_normal(shape)
    m *= rng.uniform(0.2, 0.9) / (3 * n * np.max(np.linalg.norm(m, axis=1)))
    _same_trajectory(m, 0.25 / n, 10_000 if d == 2 else 4_000)


@settings(max_examples=3)
@given(st.sampled_from([(2, 2), (2, 3), (3, 3)]), st.booleans(), st.integers(0, 2**32 - 1))
def test_trajectory_offset_frames(shape: tuple[int, int], clustered: bool, seed: int) -> None:
    """k = n - 1 < d (a common offset outside the span of the differences): n = 2 in d = 2, 3
    on line rules, n = 3 in d = 3 (k = 2) clustered on a thin block."""
    rng = np.random.default_rng(seed)
    n, d = shape
    m = rng.standard_normal(shape)
    if clustered or n == 3:
        m = rng.standard_normal(d) * 0.3 + 0.05 * m
    _same_trajectory(m, 0.01, 3_000)


@pytest.mark.usefixtures("any_tree")
@pytest.mark.parametrize(("seed", "steps"), [(0, 30), (3, 150)])
def test_trajectory_separated_k2(seed: int, steps: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Separated k = 2 on the adaptive cubature's panel rules (seed 0: panels on both axes;
    3: panels and a thin block), the trapezoid grid, which is not compiled, switched off, and
    panel rules compiled whatever their size."""
    m = np.random.default_rng(seed).standard_normal((3, 2)) + np.array([0.5, 0.0])
    monkeypatch.setattr(population, "TRAPEZOID_K", ())
    _same_trajectory(m, 0.05, steps, expect_compiled=0.5)


def _same_trajectory(m: np.ndarray, step: float, steps: int,
                     expect_compiled: float = 0.9) -> None:
    """The GD loop on the jax backend (compiled reuses, numpy refits) against the numpy loop."""
    tol = default_tol(min(m.shape[1], len(m) - 1))
    ref = numpy_descent(m, step, steps, tol)
    source = EngineSource(tol, backend="jax")
    descent = Descent(source, m, step)
    descent.run(steps)
    assert descent.tau == steps and source.status == "ok"
    assert source.compiled_steps >= expect_compiled * steps  # the compiled path did the work
    assert _rel(descent.m, ref) <= 1e-12


# -- refusals --------------------------------------------------------------------------------

def test_refuses_a_drifted_line_rule() -> None:
    m = np.array([[-1.0], [0.5], [2.0]])
    rule = evaluate(m).rule
    assert rule.kind == "panels"
    tol = default_tol(1)
    row = 0  # the first crossing: moves as the first two means do
    for factor, engine_accepts in ((1 + 1e-9, False), (1 - 1e-9, True), (0.5, True)):
        shift = rule.limit[row] * factor
        moved = m.copy()
        moved[:2, 0] += shift  # crossing 0 moves by `shift`, gap 0 keeps, gap 1 shrinks
        assert collinear.fits(rule, moved[:, 0]) is engine_accepts
        got = _on_rule(moved, rule, tol)
        if not engine_accepts:
            assert got is None
        elif factor == 0.5:
            assert got is not None  # well inside: the compiled check accepts too
        else:
            assert got is None  # inside the engine's limit, within the compiled margin


def _estimate_ratio(m: np.ndarray, rule: collinear.LineRule) -> float:
    """The smallest tol at which `collinear.apply` accepts `rule` at m (group norms)."""
    res = collinear.apply(rule, score_integrands(rule.points, m),
                          population._group_parts(len(m), 1)[0], 1.0)
    gmat = population._group_parts(len(m), 1)[0]
    err, absval = (res.error**2) @ gmat, (res.abs_value**2) @ gmat
    return float(np.sqrt(np.max(err / absval)))


def test_refuses_an_estimate_that_just_misses_tol() -> None:
    for m in (np.array([[-1.0], [0.5], [2.0]]), np.array([[0.02], [-0.03]]),
              np.array([[0.0], [14.0]])):
        rule = evaluate(m).rule
        ratio = _estimate_ratio(m, rule)
        gmat = population._group_parts(len(m), 1)[0]
        f = score_integrands(rule.points, m)
        just_misses = ratio * (1 - 1e-9)
        assert collinear.apply(rule, f, gmat, just_misses) is None
        assert _on_rule(m, rule, just_misses) is None
        assert collinear.apply(rule, f, gmat, ratio * (1 + 1e-9)) is not None
        inside = ratio * 1.5 + 1e3 * SLACK  # comfortably inside, past the compiled slack
        assert _on_rule(m, rule, inside) is not None


@pytest.mark.usefixtures("any_tree")
def test_refuses_a_drifted_or_widened_frozen_rule() -> None:
    """FrozenRule: `quadrature._drifted` (panels) and the thin block's width, where
    `reuse_rule` refuses."""
    m = np.array([[0.0, 0.0], [3.0, 0.05], [-2.0, -0.05]])  # one thin axis: panels + block
    ev = evaluate(m)
    rule = ev.rule
    assert isinstance(rule, FrozenRule) and rule.tree is not None and rule.block is not None
    tol = default_tol(2)
    gmat = population._group_parts(3, 2)[0]

    def engine_reuses(mm: np.ndarray) -> bool:
        coords = population.align(population.reduce_means(mm), rule).coords
        res, _ = reuse_rule(rule, coords, lambda y: score_integrands(y, coords), gmat, tol,
                            lambda: population.integrand_bound(population.reduce_means(mm)))
        return res is not None

    assert engine_reuses(m) and _on_rule(m, rule, tol) is not None
    for moved in (m + np.array([[0.0, 0.0], [0.3, 0.0], [0.0, 0.0]]),  # a crossing drifts
                  m * np.array([1.0, 4.0])):  # the thin axis widens past 0.3
        assert not engine_reuses(moved)
        assert _on_rule(moved, rule, tol) is None


@settings(max_examples=10)
@given(st.sampled_from([(2, 1), (3, 1), (5, 1), (2, 3), (3, 2), (3, 3), (4, 3)]),
       st.integers(0, 2**32 - 1))
def test_never_accepts_what_the_engine_refuses(shape: tuple[int, int], seed: int) -> None:
    """Perturbed configurations and tolerances around the estimates: wherever the compiled
    evaluation accepts a rule, the engine reuses it (and the two agree)."""
    rng = np.random.default_rng(seed)
    n, d = shape
    scale = 10 ** rng.uniform(-2, 0.7 if d == 1 or n == 2 else -1.2)
    m = rng.standard_normal(shape) * scale
    rule = evaluate(m).rule
    for _ in range(4):
        moved = m + rng.standard_normal(shape) * scale * 10 ** rng.uniform(-6, -1)
        tol = 10 ** rng.uniform(-14, -9)
        got = _on_rule(moved, rule, tol)
        ev = evaluate(moved, tol, rule)
        if got is not None:
            assert ev.rule is rule
            assert abs(got.loss - ev.loss) <= 1e-13 * ev.loss and _rel(got.grad, ev.grad) <= 1e-12


def test_compiled_estimates_stay_within_the_slack() -> None:
    """The compiled error estimates differ from the engine's by far less than the SLACK the
    compiled test gives away (the model behind `kernels`), along short trajectories."""
    worst = 0.0
    for m in (np.array([[-1.0], [0.5], [2.0]]), np.array([[0.05], [-0.02]]),
              0.03 * np.random.default_rng(2).standard_normal((4, 3))):
        tol = default_tol(min(m.shape[1], len(m) - 1))
        rule = None
        for _ in range(30):
            ev = evaluate(m, tol, rule)
            got = _on_rule(m, ev.rule, tol)
            assert got is not None
            scale = abs(ev.loss) + np.linalg.norm(ev.grad)
            worst = max(worst, abs(got.loss_error - ev.loss_error) / scale,
                        abs(got.grad_error - ev.grad_error) / scale)
            assert _rel(got.grad, ev.grad) <= 1e-13
            rule = ev.rule
            m = m - 0.01 * ev.grad
    assert worst <= 1e-2 * SLACK


# -- batches, determinism, the runtime ------------------------------------------------------

def test_batch_equals_single_runs() -> None:
    rng = np.random.default_rng(3)
    ms, rules = [], []
    for i in range(5):
        m = (0.02 if i % 3 == 0 else 2.0) * rng.standard_normal((3, 1))
        ev = evaluate(m)
        ms.append(m - 0.01 * ev.grad)
        rules.append(ev.rule)
    ms.append(np.array([[0.0, 0.0], [1.0, 0.5], [2.0, 1.0]]))  # k = 1 < n - 1: not compiled
    rules.append(evaluate(ms[-1]).rule)
    limits = [300, 50, 300, 7, 300, 300]
    batch = advance_batch(ms, rules, 0.01, default_tol(1), limits)
    assert batch[-1] is None
    assert {r.kind for r in rules[:-1]} == {"hermite", "panels"}
    for m, rule, limit, b in zip(ms[:-1], rules[:-1], limits[:-1], batch[:-1], strict=True):
        one = advance(m, rule, 0.01, default_tol(1), limit)
        assert b.steps == one.steps <= limit
        assert _rel(b.m, one.m) <= 1e-14
        assert (b.evaluation is None) == (one.evaluation is None)


def test_deterministic() -> None:
    m = np.array([[-0.7], [0.2], [1.9]])
    rule = evaluate(m).rule
    a = advance(m, rule, 0.01, default_tol(1), 50)
    b = advance(m, rule, 0.01, default_tol(1), 50)
    assert a.steps == b.steps == 50 and np.array_equal(a.m, b.m)
    assert a.evaluation.loss == b.evaluation.loss


def test_not_compiled_rules_fall_back() -> None:
    m = np.array([[0.0, 0.0], [1.0, 0.5], [2.0, 1.0]])  # collinear: k = 1 < n - 1
    rule = evaluate(m).rule
    assert advance(m, rule, 0.01, default_tol(1), 10) is None
    assert advance(m, None, 0.01, default_tol(1), 10) is None
    assert bucket(5) == 6 and bucket(7) == 8 and bucket(12) == 12 and bucket(1) == 1


def test_lazy_jax_scoped_float64_and_one_thread() -> None:
    code = """
import sys, os
import numpy as np
import scoreclaims.verifiers.population as p
import scoreclaims.verifiers.compiled as c
assert "jax" not in sys.modules
m = np.array([[0.1], [-0.2]])
ev = p.evaluate(m)
adv = c.advance(m, ev.rule, 0.01, 1e-11, 3)
import jax
assert adv.steps == 3 and not jax.config.jax_enable_x64
assert "--xla_cpu_multi_thread_eigen=false" in os.environ["XLA_FLAGS"]
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr


def test_split_components_on_jax_arrays() -> None:
    n, k = 3, 2
    values = _jnp(np.arange(1 + n * k + n, dtype=float))
    loss, g, gamma = split_components(values, n, k)
    assert float(loss) == 0 and g.shape == (n, k) and gamma.shape == (n,)
    assert EPS == np.finfo(float).eps
