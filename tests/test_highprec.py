"""highprec: the arbitrary-precision engine against float64, itself, its certified enclosures,
and the hand-over; the CLI's --dps and --certify."""

from __future__ import annotations

import json
import subprocess
import sys

import flint
import mpmath
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from strategies import collinear_means, general_means

from scoreclaims.highprec.certified import certify_sign_change, enclose
from scoreclaims.highprec.dynamics import run_gd
from scoreclaims.highprec.hermite import gauss_hermite
from scoreclaims.highprec.population import evaluate
from scoreclaims.verifiers.dynamics import run_gd as run_gd_float64
from scoreclaims.verifiers.population import evaluate as evaluate_float64


def _close_means(centre: str, offsets: list[int], spread: str, dps: int) -> list[list[str]]:
    with mpmath.workdps(dps):
        c, e = mpmath.mpf(centre), mpmath.mpf(spread)
        return [[mpmath.nstr(c + a * e, dps)] for a in offsets]


# The float64 reference's cubature cap: 1e-14 is out of float64's reach where the gradient
# cancels (nearly symmetric means: |grad| << the integral of |f|), and the adaptive cubature then
# refines without end (15 million panels, 24 GB, on [[4.1e-7], [-6.7e-140], [-4.1e-7]]).
REF_EVALUATIONS = 200_000


def _agree_float64(m: np.ndarray) -> None:
    ref = evaluate_float64(m, tol=1e-14, max_evaluations=REF_EVALUATIONS)
    ev = evaluate(m, digits=18)
    assert ev.precise
    if not ref.converged:
        return  # no float64 reference at 1e-14 within the cap
    gnorm = np.linalg.norm(ref.grad)
    if ref.loss_error > 1e-13 * ref.loss or ref.grad_error > 1e-13 * gnorm:
        return  # float64 not accurate enough here to hold the other to 1e-12
    assert abs(float(ev.loss) - ref.loss) <= 1e-12 * ref.loss
    assert np.linalg.norm(ev.grad.astype(float) - ref.grad) <= 1e-12 * max(gnorm, 1e-300)


def test_gauss_hermite_rule_integrates_moments_exactly() -> None:
    for order in (4, 7, 32):
        x, w = gauss_hermite(order, 50)
        with mpmath.workdps(50):
            for j in range(0, 2 * order, 2):  # E y^j = (j-1)!!
                moment = mpmath.fsum(wi * xi**j for xi, wi in zip(x, w, strict=True))
                assert abs(moment - mpmath.fac2(j - 1)) <= mpmath.mpf(10) ** -45 * moment


@settings(max_examples=12)
@given(collinear_means(max_n=3, max_d=1, max_norm=6.0))
def test_agrees_with_float64_on_collinear_means(m: np.ndarray) -> None:
    _agree_float64(m)


@settings(max_examples=8)
@given(general_means(scale=0.1))
def test_agrees_with_float64_on_clustered_means(m: np.ndarray) -> None:
    _agree_float64(m + np.linspace(0.5, 1.5, m.shape[1]))  # a common point away from the truth


def test_collapsed_means_give_two_a_over_n_exactly() -> None:
    ev = evaluate([["1.5", "-2"]] * 3, dps=40)
    assert ev.method == "exact" and ev.precise
    with mpmath.workdps(60):
        assert abs(ev.grad[2, 1] + mpmath.mpf(4) / 3) <= mpmath.mpf(10) ** -45
        assert ev.loss == mpmath.mpf("6.25")


def test_two_precisions_agree_on_exponentially_close_means() -> None:
    means = _close_means("2", [-1, 0, 2], "1e-200", 260)
    lo, hi = evaluate(means, dps=240), evaluate(means, dps=300)
    assert lo.precise and hi.precise and lo.digits >= 20
    with mpmath.workdps(300):
        d_lo, d_hi = lo.grad[1, 0] - lo.grad[0, 0], hi.grad[1, 0] - hi.grad[0, 0]
        assert 1e-205 < abs(d_hi) < 1e-195  # the differences are resolved ...
        assert abs(d_lo - d_hi) <= mpmath.mpf(10) ** -20 * abs(d_hi)  # ... to 20 digits
        assert abs(lo.loss - hi.loss) <= mpmath.mpf(10) ** -200


def test_insufficient_precision_is_flagged() -> None:
    ev = evaluate(_close_means("2", [0, 1], "1e-60", 80), dps=50)
    assert not ev.precise and ev.digits < 20


def test_spread_1e300_keeps_three_means_ordered_where_float64_collapses() -> None:
    means = _close_means("2", [-1, 0, 2], "1e-300", 340)
    traj = run_gd(means, 0.1, 200)
    assert traj.status == "ok" and traj.handover_tau is None
    with mpmath.workdps(traj.dps):
        for row in range(len(traj.frame)):
            mu = traj.means_at(row)[:, 0]
            assert mu[0] < mu[1] < mu[2], f"order lost at tau {traj.frame.tau[row]}"
        assert abs(mu[1] - mu[0]) > mpmath.mpf("1e-301")
    assert traj.frame.loss.iloc[-1] < 1e-10  # the three means converged to the truth together
    f64 = run_gd_float64([[2.0 - 1e-300], [2.0], [2.0 + 2e-300]], 0.1, 200)
    assert np.ptp(f64.final_means) == 0.0  # float64 cannot even represent the spread


def test_handover_changes_no_result() -> None:
    means = _close_means("6", [0, 1], "1e-8", 40)  # the spread grows past 1e-6 of the scale
    handed = run_gd(means, 0.5, 64)
    pure = run_gd(means, 0.5, 64, handover=False)
    assert handed.handover_tau is not None and 0 < handed.handover_tau < 64
    assert pure.handover_tau is None and set(pure.frame.engine) != {"float64"}
    assert handed.status == pure.status == "ok"
    a, b = handed.float_frame(), pure.float_frame()
    assert list(a.tau) == list(b.tau)
    np.testing.assert_allclose(a.loss, b.loss, rtol=1e-10)
    np.testing.assert_allclose(a.mu_1_0 - a.mu_0_0, b.mu_1_0 - b.mu_0_0, rtol=1e-8)
    # to the float64 engine's accuracy, relative to the start's scale (6)
    np.testing.assert_allclose(handed.final_means.astype(float), pure.final_means.astype(float),
                               rtol=0, atol=6e-12)


def test_enclosure_contains_the_mpmath_value_and_is_narrow() -> None:
    means = [[0.3], [0.5], [0.1]]
    enc = enclose(means)
    ev = evaluate(means, digits=35)
    assert enc.certified and ev.method.startswith("hermite")
    old = flint.ctx.prec
    flint.ctx.prec = enc.prec
    try:
        assert enc.loss.contains(flint.arb(ev.loss)) and enc.loss.rad() < 1e-20
        for x, v in zip(enc.grad.reshape(-1), ev.grad.reshape(-1), strict=True):
            assert x.contains(flint.arb(v)) and x.rad() < 1e-20
    finally:
        flint.ctx.prec = old


def test_certified_sign_of_a_gradient_below_float64_range() -> None:
    m = [[0.0], [80.0]]  # the far mean's gradient is about exp(-80^2 / 8) = 1e-348
    assert evaluate_float64(np.array(m)).grad[1, 0] == 0.0
    enc = enclose(m)
    assert enc.sign(1, 0) == -1 and enc.certified  # negative: the step -eta*grad pushes it out


def test_certified_sign_change_of_the_total_gradient() -> None:
    # m = (s, s + 1): the summed gradient vanishes by symmetry at s = -1/2
    def total(s: float) -> flint.arb:
        g = enclose([[s], [s + 1]]).grad
        return g[0, 0] + g[1, 0]

    assert certify_sign_change(total, -0.7, -0.3).certified
    assert not certify_sign_change(total, -0.4, -0.3).certified


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scoreclaims", *args], capture_output=True,
                          text=True, timeout=120)


def test_cli_dps_and_certify(tmp_path) -> None:
    means = json.dumps(_close_means("2", [0, 1], "1e-50", 80))
    out = _cli("evaluate", "--means", means, "--dps", "90", "--json")
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert isinstance(res["loss"], str) and res["precise"]
    with mpmath.workdps(90):
        gap = mpmath.mpf(res["gradient"][1][0]) - mpmath.mpf(res["gradient"][0][0])
        assert 1e-52 < abs(gap) < 1e-48
    csv = tmp_path / "run.csv"
    out = _cli("run", "--means", means, "--dps", "90", "--eta", "0.1", "--steps", "4",
               "--out", str(csv))
    assert out.returncode == 0, out.stderr
    frame = pd.read_csv(csv, dtype=str)
    assert list(frame.tau) == ["0", "1", "2", "4"] and len(frame.mu_1_0[0]) > 60
    out = _cli("evaluate", "--means", "[[0.3],[1.1]]", "--certify", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["gradient_sign"] == [[1], [1]]


@pytest.mark.parametrize("args", [
    ("evaluate", "--means", '[["2"],["x"]]', "--dps", "40"),
    ("evaluate", "--means", "[[0,1],[1,2]]", "--certify"),
    ("run", "--means", '[["2"],["2.00000000000000000000000000000000000000000001"]]', "--dps",
     "30", "--eta", "0.1", "--steps", "3", "--out", "OUT"),
])
def test_cli_bad_input_is_one_line_exit_2_and_no_file(args: tuple, tmp_path) -> None:
    out_file = tmp_path / "x.csv"
    out = _cli(*[str(out_file) if a == "OUT" else a for a in args])
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    assert not out_file.exists() and list(tmp_path.iterdir()) == []


def test_a_spread_far_below_the_input_digits_survives_the_truth_shift() -> None:
    # data-space means +-1e-300 around 0, truth at 2: m = mu - truth must keep the 2e-300 gap,
    # which then grows by (1 + (4 eta / n) c^2) per step along the centroid c (PAPER.md sec. 1
    # expansion L = |c|^2 - (2/n) sum (c.f_i)^2): c = -2, then -1.98
    traj = run_gd([["1e-300"], ["-1e-300"]], "0.01", 2, truth=["2"], handover=False)
    m = traj.final_means
    growth = (1 + mpmath.mpf("0.02") * 4) * (1 + mpmath.mpf("0.02") * mpmath.mpf("1.98") ** 2)
    assert abs((m[0, 0] - m[1, 0]) / (mpmath.mpf("2e-300") * growth) - 1) < 1e-6


@pytest.mark.parametrize("t", ["0", "30", "60"])
def test_close_means_run_at_large_t(t: str) -> None:
    # the canonical scaling e^{-t} is applied after the exact shift, at the precision the spread
    # needs: means 1e-22 apart must run (not stop 'imprecise' at tau 0) whatever t
    traj = run_gd([["0.5"], ["0.5000000000000000000001"]], "0.01", 3, t=t)
    assert traj.status == "ok" and len(traj.frame) == 4
