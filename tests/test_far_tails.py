"""Far-apart means: the float64 engine against certified values (`tests/far_tail_reference.py`).

The softmax transition of two means g apart sits at g / 2, deep in the Gaussian tail: the loss
is about 1e-163 at g = 55, 1e-304 at g = 75 and below float64's smallest number from g = 78. Up
to g = 75 every integral is a normal float64 number and the engine must be accurate to its
tolerance; beyond, it must either still be accurate or say it is not (converged False, error
estimates covering the actual error). The same on the line (d = 1) and rotated into d = 2.
"""

from __future__ import annotations

import json
from pathlib import Path

import mpmath
import numpy as np
import pytest

from scoreclaims.verifiers.population import default_tol, evaluate

REFERENCE = json.loads((Path(__file__).parent / "data" / "far_tail_reference.json").read_text())
REPRESENTABLE_GAP = 75.0  # up to here the loss and gradient are normal float64 numbers
DIRECTION = np.array([0.6, 0.8])  # the d = 2 copy: every mean along this unit vector


def _gap(means: list[list[float]]) -> float:
    return float(means[1][0] - means[0][0])


def _errors(m: np.ndarray, ev, row: dict, direction: np.ndarray | None
            ) -> tuple[float, float, float, float]:
    """(|loss error|, |loss|, gradient error norm, gradient norm) against the reference."""
    with mpmath.workdps(30):
        loss = mpmath.mpf(row["loss"])
        grad = np.array([[mpmath.mpf(x) for x in r] for r in row["gradient"]], dtype=object)
        if direction is not None:  # the gradient rotates with the means
            grad = grad * np.array([mpmath.mpf(float(x)) for x in direction], dtype=object)
        diff = [mpmath.mpf(float(a)) - b for a, b in zip(ev.grad.reshape(-1), grad.reshape(-1),
                                                          strict=True)]
        return (float(abs(mpmath.mpf(ev.loss) - loss)), float(loss),
                float(mpmath.sqrt(mpmath.fsum(x * x for x in diff))),
                float(mpmath.sqrt(mpmath.fsum(x * x for x in grad.reshape(-1)))))


def _check(m: np.ndarray, ev, row: dict, direction: np.ndarray | None = None) -> None:
    loss_err, loss, grad_err, gnorm = _errors(m, ev, row, direction)
    tol = default_tol(1)
    where = f"means {row['means']}{' rotated' if direction is not None else ''}"
    if _gap(row["means"]) <= REPRESENTABLE_GAP:
        assert ev.converged, where
    if ev.converged:  # accurate to the tolerance
        assert loss_err <= tol * loss, (where, loss_err / loss)
        assert grad_err <= tol * gnorm, (where, grad_err / gnorm)
    else:  # or the estimates say how far it is not
        assert np.isfinite(ev.loss_error) and np.isfinite(ev.grad_error), where
        assert loss_err <= ev.loss_error, (where, loss_err, ev.loss_error)
        assert grad_err <= ev.grad_error, (where, grad_err, ev.grad_error)
        assert ev.grad_error > tol * gnorm or ev.loss_error > tol * loss, where


@pytest.mark.parametrize("rotated", [False, True], ids=["d1", "d2-rotated"])
def test_far_tails_accurate_or_flagged(rotated: bool) -> None:
    for row in REFERENCE:
        m = np.array(row["means"], dtype=float)
        direction = DIRECTION if rotated else None
        if rotated:
            m = m * DIRECTION
        _check(m, evaluate(m), row, direction)


def test_far_tail_rule_reuse_accurate_or_refused() -> None:
    """A frozen line rule from a nearby configuration (the GD path) must not accept itself on
    an estimate that underflowed."""
    for row in REFERENCE:
        m = np.array(row["means"], dtype=float)
        rule = evaluate(m * (1 - 1e-6)).rule
        _check(m, evaluate(m, rule=rule), row)


def test_reference_is_certified() -> None:
    assert REFERENCE and all(row["certified"] for row in REFERENCE)
    gaps = sorted({_gap(row["means"]) for row in REFERENCE})
    assert gaps[0] <= 10 and gaps[-1] >= 78  # from the bulk to below float64's range


def test_offset_dominated_gradient_stays_converged() -> None:
    """k < d, the gradient carried by gamma c_perp while the span's part is 1e-13: the scale of
    the tolerance is the gradient's whole norm, not its span part (a hypothesis case)."""
    x = np.array([-3, -2, -1, 0, 1, 2, 3]) * 2.86240701e-5
    m = np.stack([x, np.zeros(7), np.full(7, -1.12764987)], axis=1)
    m[3, 0] = 3.66734072e-273
    assert evaluate(m).converged


def test_batched_line_runs_see_far_tails_as_run_gd_does() -> None:
    """The stacked d = 1 batch compares squared error norms only while they are safely inside
    float64's range; a far-tail run (errors ~1e-175) goes through the engine alone, so its
    rows are run_gd's (they used to show a gradient error of exactly 0)."""
    from scoreclaims.verifiers import run_gd, run_gd_batch
    from scoreclaims.verifiers.backend import using

    starts = [[[0.0], [55.0]], [[0.0], [1.0]], [[-1.0], [56.0]]]
    with using("numpy"):
        batch = run_gd_batch(starts, 0.1, 8)
        alone = [run_gd(s, 0.1, 8) for s in starts]
    for b, a in zip(batch, alone, strict=True):
        assert b.status == a.status
        assert (b.frame["grad_error"] > 0).all()
        for col in ("loss", "grad_norm", "mu_0_0", "mu_1_0"):
            assert np.allclose(b.frame[col], a.frame[col], rtol=1e-12, atol=0), col
