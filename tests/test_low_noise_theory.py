"""The derived closed forms of the low-noise regime (`_low_noise_theory`) and the linearised
map (`highprec.collapsed`) against the arbitrary-precision engine: they are relied on, so they
are tested before use."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

from scoreclaims.claims.paper._low_noise_theory import (
    amplification_factors,
    centroid_factor,
    collapse_steps,
    log10_amplification,
    log10_flow_amplification,
    log_t32_bound,
    t32_bound,
)
from scoreclaims.highprec.collapsed import linear_phase, split
from scoreclaims.highprec.dynamics import run_gd as hp_run_gd
from scoreclaims.highprec.population import evaluate as hp_evaluate


def _near_collapse(c: list[str], f: np.ndarray, scale: str, dps: int) -> np.ndarray:
    with mpmath.workdps(dps):
        s = mpmath.mpf(scale)
        return np.array([[mpmath.mpf(ci) + s * mpmath.mpf(float(x))
                          for ci, x in zip(c, row, strict=True)]
                         for row in f], dtype=object)


def test_second_order_loss_and_linear_gradient() -> None:
    """k = 2 (n = 3, d = 2): L = |c|^2 - (2/n) sum (c.f_i)^2 + O(f^3) and
    grad_i = (2/n) c - (4/n)(c.f_i) c + O(f^2): the perpendicular parts of f are neutral."""
    f = np.array([[0.3, -0.8], [-0.5, 0.2], [0.2, 0.6]])
    f -= f.mean(axis=0)
    with mpmath.workdps(80):
        m = _near_collapse(["1.5", "0.7"], f, "1e-25", 80)
        ev = hp_evaluate(m, dps=80, digits=25)
        assert ev.precise
        c = np.mean(m, axis=0)
        dev = m - c
        n = 3
        cf = dev @ c
        loss = c @ c - mpmath.mpf(2) / n * mpmath.fsum(x * x for x in cf)
        grad = np.array([(2 * c - 4 * cf[i] * c) / n for i in range(n)], dtype=object)
        assert abs(ev.loss - loss) < mpmath.mpf(10) ** -70  # the remainder is O(f^3) ~ 1e-75
        diff = ev.grad - grad  # O(f^2) ~ 1e-50, against differences of size 1e-25
        assert max(abs(x) for x in diff.reshape(-1)) < mpmath.mpf(10) ** -45
        assert max(abs(x) for x in (grad - grad.mean(axis=0)).reshape(-1)) > 1e-26


def test_amplification_closed_forms() -> None:
    big_m, n = 3.0, 2
    steps = 3000
    cum = amplification_factors(big_m, 0.01, n, steps)
    assert len(cum) == steps + 1 and cum[0] == 0.0
    assert cum[-1] == pytest.approx(log10_amplification(big_m, 0.01, n), rel=1e-9)
    # the gradient-flow limit: exp(M0^2) as eta -> 0, approached from below
    flow = log10_flow_amplification(big_m)
    errs = [flow - log10_amplification(big_m, eta, n) for eta in (1e-2, 1e-3, 1e-4)]
    assert all(e > 0 for e in errs) and errs[0] > errs[1] > errs[2]
    assert errs[2] < 1e-3 * flow
    # stopping the product where the centroid reaches c_s splits it (the GD steps coincide)
    head = log10_amplification(big_m, 0.01, n, until=1.0)
    assert head < cum[-1] and head == pytest.approx(
        cum[collapse_steps(big_m, 1.0, 0.01, n)], rel=1e-12)


def test_t32_bound_and_collapse_steps() -> None:
    with mpmath.workdps(30):
        b = t32_bound(2, 1, 2.0)
        assert float(mpmath.log(b)) == pytest.approx(log_t32_bound(2, 1, 2.0), rel=1e-12)
        assert -740 < float(mpmath.log10(b)) < -738
    k = collapse_steps(2.0, 0.01, 0.01, 2)
    assert 2.0 * centroid_factor(0.01, 2) ** k <= 0.01 < 2.0 * centroid_factor(0.01, 2) ** (k - 1)


def test_linear_phase_matches_arbitrary_precision_to_the_handover() -> None:
    """n = 3, d = 1 (k = 1, where the exact engine is fast): the linearised map reaches the
    hand-over spread with the same deviations to the O(f) relative remainder (measured 2.5e-5:
    about four times the relative spread there; the bisection resolves 12% in delta)."""
    z = np.array([[0.4], [-1.1], [0.6]])
    with mpmath.workdps(60):
        means = [[mpmath.nstr(mpmath.mpf(6) + mpmath.mpf("1e-16") * mpmath.mpf(float(x)), 50)]
                 for x in z[:, 0]]
    c, f, steps = linear_phase(means, 0.01)
    assert 10 < steps < 300 and np.max(np.abs(f)) > 1e-7
    traj = hp_run_gd(means, "0.01", steps, stride=steps, handover=False)
    assert traj.status == "ok"
    c_hp, f_hp = split(traj.final_means)
    np.testing.assert_allclose(c, c_hp, rtol=1e-9)  # the O(f^2) term of the centroid
    np.testing.assert_allclose(f, f_hp, rtol=1e-4)
    assert not np.allclose(f, f_hp, rtol=1e-7, atol=0)  # the map is linear, the dynamics not


def test_linear_phase_keeps_perpendicular_deviations() -> None:
    """d = 2: the deviation along the centroid grows, the perpendicular one does not move; two
    steps agree with the arbitrary-precision engine (k = 2) to the O(f) relative remainder."""
    f0 = np.array([[0.5, 0.3], [-0.2, -0.9], [-0.3, 0.6]])
    with mpmath.workdps(70):
        means = [[mpmath.nstr(mpmath.mpf(v) + mpmath.mpf("1e-25") * mpmath.mpf(float(x)), 60)
                  for v, x in zip(("2.0", "0.0"), row, strict=True)] for row in f0]
    c, f, steps = linear_phase(means, 0.01, max_steps=2)
    assert steps == 2
    _, start = split(means)
    np.testing.assert_allclose(f[:, 1], start[:, 1], rtol=1e-15)
    assert np.all(np.abs(f[:, 0]) > np.abs(start[:, 0]))
    traj = hp_run_gd(means, "0.01", 2, stride=2, handover=False)
    assert traj.status == "ok"
    c_hp, f_hp = split(traj.final_means)
    np.testing.assert_allclose(f, f_hp, rtol=1e-12, atol=0)
    assert math.isclose(c[0], c_hp[0], rel_tol=1e-15)


def test_linear_phase_stops_when_the_amplification_is_spent() -> None:
    """M0 = 3 from a 1e-30 spread: the product (1e3.8) never brings the spread to float64's
    resolution; the map stops once the centroid is within the given radius."""
    with mpmath.workdps(50):
        means = [[mpmath.nstr(mpmath.mpf(3) + mpmath.mpf(s) * mpmath.mpf("1e-30"), 45)]
                 for s in (1, -1)]
    c, f, steps = linear_phase(means, 0.01, stop_radius=1.0)
    assert np.linalg.norm(c) <= 1.0 and steps == collapse_steps(3.0, 1.0, 0.01, 2)
    assert np.max(np.abs(f)) < 1e-25
