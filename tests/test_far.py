"""highprec.far: certified enclosures for far-apart means on a line, against the float64 engine,
against `highprec.certified.enclose` where both apply, against the engine's integrands point by
point, and on the configurations of T3.5's hypotheses (means ~1e12 from the truth)."""

from __future__ import annotations

from typing import Any

import mpmath
import numpy as np
import pytest
from flint import acb, arb
from hypothesis import given, settings
from hypothesis import strategies as st

from scoreclaims.highprec.certified import enclose
from scoreclaims.highprec.far import _exact_arb, _Line, enclose_far
from scoreclaims.verifiers.errors import UsageError
from scoreclaims.verifiers.formulation import score_integrands
from scoreclaims.verifiers.population import evaluate


def _inside(ball: arb, value: float, slack: float) -> bool:
    return abs(float(ball.mid()) - value) <= float(ball.rad()) + slack


@settings(max_examples=6)
@given(st.lists(st.floats(-6.0, 6.0).map(lambda x: round(x, 6)), min_size=2, max_size=3,
                unique=True))
def test_agrees_with_float64_engine(points: list[float]) -> None:
    m = np.array(points)[:, None]
    ev = evaluate(m, tol=1e-13)
    enc = enclose_far(m.tolist(), digits=16).enclosure
    assert enc.certified
    assert _inside(enc.loss, ev.loss, ev.loss_error + 1e-15 * ev.loss)
    for i in range(len(points)):
        assert _inside(enc.grad[i, 0], float(ev.grad[i, 0]), ev.grad_error + 1e-15)


def test_agrees_with_certified_enclose_on_far_means() -> None:
    """Means on both sides of the truth, one far: its gradient is ~4e-21 (float64 gets it to
    1e-3 only, well inside its norm-wise error bound)."""
    m = [[-3.0], [0.2], [20.0]]
    far = enclose_far(m, digits=20).enclosure
    ref = enclose(m, digits=20)
    assert far.certified and ref.certified
    assert far.loss.overlaps(ref.loss)
    for i in range(3):
        assert far.grad[i, 0].overlaps(ref.grad[i, 0])
        assert far.grad[i, 0].rad() <= abs(far.grad[i, 0].mid()) * arb(10) ** -19
    assert far.grad[2, 0] < 0  # the far mean is pushed away from the truth


def test_integrand_matches_the_engine_formulation() -> None:
    """The stable weights and the factor h reproduce `score_integrands` at points."""
    p = [mpmath.mpf(x) for x in ("-1.5", "0.25", "3.0")]
    line = _Line(p)
    coords = np.array([[float(x)] for x in p])
    for y in (-2.0, 0.1, 1.7, 4.0):
        ref = score_integrands(np.array([[y]]), coords)[0]
        _, _, _, w, u = line.centred(_exact_arb(mpmath.mpf(y))).parts(acb(0))
        for j in range(3):
            g = w[j] * line.factor("grad", j, acb(y), w, u)
            assert abs(float(g.real.mid()) - ref[1 + j]) <= 1e-13 * max(1.0, abs(ref[1 + j]))
        loss = sum((line.factor("loss", j, acb(y), w, u) * w[j] for j in range(3)), acb(0))
        assert abs(float(loss.real.mid()) - ref[0]) <= 1e-13 * max(1.0, ref[0])


def test_signs_at_the_scale_of_the_hypotheses() -> None:
    """Closest mean near the truth, the other ~2e12 away: its gradient, ~10^(-2.3e23), is
    certified to point toward the truth (m . grad < 0: the GD step moves the mean out); the
    closest mean's gradient is 2 m_1."""
    m = [["1e-10"], ["2047999999997.4443"]]
    far = enclose_far(m, digits=15)
    enc = far.enclosure
    assert enc.certified
    assert far.radial_sign(1, m) == -1 and far.radial_sign(0, m) == 1
    log10 = float((abs(enc.grad[1, 0]).log() / arb(10).log()).mid())
    assert -2.3e23 < log10 < -2.2e23  # ~ -R^2 / (8 ln 10)
    assert abs(float(enc.grad[0, 0].mid()) - 2e-10) <= 1e-24


def test_rejects_means_off_a_line() -> None:
    with pytest.raises(UsageError):
        enclose_far([[0.0, 1.0], [2.0, 0.0]])


@settings(max_examples=4)
@given(st.lists(st.floats(-40.0, 40.0).map(lambda x: round(x, 3)), min_size=2, max_size=3,
                unique=True), st.randoms(use_true_random=False))
def test_reflection_and_permutation(points: list[float], rnd: Any) -> None:
    """Negating every mean negates the gradient and keeps the loss; permuting the means permutes
    the gradient: the balls of the transformed problem overlap the transformed balls."""
    base = enclose_far([[x] for x in points], digits=12).enclosure
    order = list(range(len(points)))
    rnd.shuffle(order)
    other = enclose_far([[-points[i]] for i in order], digits=12).enclosure
    assert base.loss.overlaps(other.loss)
    for new, old in enumerate(order):
        assert (-base.grad[old, 0]).overlaps(other.grad[new, 0])
