"""Each mean's gradient error bound (`Evaluation.mean_errors`, `mean_error_bounds`): it covers
that mean's actual error against the arbitrary-precision references, it is consistent with the
whole gradient's bound, and sources without one fall back to the whole bound."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoreclaims.verifiers import evaluate, mean_error_bounds
from scoreclaims.verifiers.geometry import reduce_means
from scoreclaims.verifiers.population import row_norms

DATA = Path(__file__).parent / "data"


def _grad(rows: list) -> np.ndarray:
    return np.array([[float(mp.mpf(a)) for a in row] for row in rows])


def _cases() -> list[tuple[str, np.ndarray, np.ndarray, float]]:
    """(id, means, reference gradient, the reference's own error in the gradient's norm)."""
    out = []
    for c in json.loads((DATA / "reference_k2.json").read_text()):
        if c["kind"] in ("separated", "mixed", "d3"):
            g = _grad(c["gradient"])
            out.append((f"k2-{c['kind']}", np.array(c["means"]), g,
                        (c["quad_rel_error"] or 0.0) * float(np.linalg.norm(g))))
    c = json.loads((DATA / "reference_k3_mp.json").read_text())[1]
    out.append((f"k3-{c['kind']}", np.array(c["means"]), _grad(c["gradient"]), c["grad_error"]))
    return out


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c[0])
def test_each_means_bound_covers_its_error_against_mpmath(case: tuple) -> None:
    """Mean by mean, |grad_i - reference_i| <= mean_errors[i] plus the reference's own error,
    on k = 2 (in R^2 and in R^3, where the offset c_perp enters) and k = 3 configurations; and
    the bounds are each mean's, not the whole gradient's (strictly smaller for every mean)."""
    _, m, ref, ref_err = case
    ev = evaluate(m)
    assert ev.converged and ev.mean_errors is not None
    actual = np.linalg.norm(ev.grad - ref, axis=1)
    assert np.all(actual <= ev.mean_errors + ref_err), (actual, ev.mean_errors)
    assert np.all(ev.mean_errors < ev.grad_error)


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 4), st.integers(1, 3), st.integers(0, 2**31 - 1), st.floats(0.2, 3.0))
def test_mean_bounds_make_up_the_whole_bound(n: int, d: int, seed: int, scale: float) -> None:
    """Where the means span R^d the whole bound is the norm of the mean bounds (the reduced
    basis is orthonormal); with an offset (k < d) that norm is at most the whole bound; and no
    mean's bound exceeds the whole one."""
    m = np.random.default_rng(seed).normal(size=(n, d)) * scale
    ev = evaluate(m, 1e-6)
    assert ev.converged
    norm = float(np.linalg.norm(ev.mean_errors))
    if reduce_means(m).k == d:
        assert norm == pytest.approx(ev.grad_error, rel=1e-12)
    else:
        assert norm <= ev.grad_error * (1 + 1e-12)
    assert np.all(ev.mean_errors <= ev.grad_error * (1 + 1e-12))


def test_collapsed_and_non_finite_means() -> None:
    """Identical means: the gradient (2/n) a is exact, every bound 0; means beyond float64's
    range: every bound infinite (nothing is established)."""
    ev = evaluate(np.full((3, 2), 0.7))
    assert np.array_equal(ev.mean_errors, np.zeros(3))
    bad = evaluate(np.array([[np.nan, 0.0], [1.0, 0.0]]))
    assert not bad.converged and np.all(np.isinf(bad.mean_errors))


def test_a_source_without_own_bounds_falls_back_to_the_whole_bound() -> None:
    point = SimpleNamespace(grad=np.zeros((3, 2)), grad_error=2.5e-7)
    assert np.array_equal(mean_error_bounds(point), np.full(3, 2.5e-7))
    own = SimpleNamespace(grad=np.zeros((2, 2)), grad_error=1.0, mean_errors=[0.25, 0.5])
    assert np.array_equal(mean_error_bounds(own), np.array([0.25, 0.5]))


def test_row_norms_neither_underflow_nor_overflow() -> None:
    """Far-tail bounds of 1e-200 have squares below float64's range and 1e200 above it: their
    row norms stay 1e-200 sqrt(2) and 1e200 sqrt(2); inf and NaN rows stay inf and NaN."""
    x = np.array([[1e-200, 1e-200], [1e200, 1e200], [np.inf, 1.0], [np.nan, 1.0], [0.0, 0.0]])
    got = row_norms(x)
    assert got[0] == pytest.approx(1e-200 * np.sqrt(2), rel=1e-15)
    assert got[1] == pytest.approx(1e200 * np.sqrt(2), rel=1e-15)
    assert got[2] == np.inf and np.isnan(got[3]) and got[4] == 0.0
