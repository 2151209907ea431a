"""Decimal inputs in highprec: a decimal string is in general not a binary number, so wherever
it is read it is rounded, and that rounding must sit below the reported error estimates (or
inside the certified balls). Checked against an independent computation that reads the
decimals at 110 digits: means 2 +- 1e-k (the gradient differences are ~1e-k), far-apart decimal
means (the arb path), certified enclosures, the CLI with a decimal truth; and certificates made
on the float64 numbers themselves, not on their shortest decimal repr."""

from __future__ import annotations

import json
from fractions import Fraction

import mpmath
import numpy as np
import pytest

from scoreclaims.claims.cli.main import main
from scoreclaims.claims.paper import _random_init_far
from scoreclaims.highprec.certified import enclose
from scoreclaims.highprec.far import enclose_far
from scoreclaims.highprec.policy import GUARD_DIGITS, as_mp_means, input_dps, required_dps
from scoreclaims.highprec.population import differences, evaluate

REF_DPS = 110


def reference(means: list[str], dps: int = REF_DPS) -> tuple[mpmath.mpf, list[mpmath.mpf]]:
    """Loss and gradient of means on the line (d = 1) read at `dps` digits: mpmath.quad of
    the direct form |v|^2, 2 [w_k v + w_k (x - m_k) (m_k - v) v] (PAPER.md sec. 1), split at
    the logit crossings."""
    with mpmath.workdps(dps):
        m = [mpmath.mpf(x) for x in means]
        n = len(m)

        def weights(y: mpmath.mpf) -> list[mpmath.mpf]:
            logits = [y * a - a * a / 2 for a in m]
            top = max(logits)
            e = [mpmath.exp(x - top) for x in logits]
            z = mpmath.fsum(e)
            return [x / z for x in e]

        def density(y: mpmath.mpf) -> mpmath.mpf:
            return mpmath.exp(-y * y / 2) / mpmath.sqrt(2 * mpmath.pi)

        def loss(y: mpmath.mpf) -> mpmath.mpf:
            v = mpmath.fsum(a * b for a, b in zip(weights(y), m, strict=True))
            return v * v * density(y)

        def grad(k: int):
            def f(y: mpmath.mpf) -> mpmath.mpf:
                w = weights(y)
                v = mpmath.fsum(a * b for a, b in zip(w, m, strict=True))
                return 2 * (w[k] * v + w[k] * (y - m[k]) * (m[k] - v) * v) * density(y)
            return f

        cuts = sorted({mpmath.mpf(0), *((a + b) / 2 for a in m for b in m)})
        points = [-mpmath.inf, *cuts, mpmath.inf]
        return mpmath.quad(loss, points), [mpmath.quad(grad(k), points) for k in range(n)]


def _close(k: int, offsets: tuple[int, ...]) -> list[str]:
    """Decimal strings 2 + a 10^-k, exactly."""
    return [_decimal(2 * 10**k + a, k) for a in offsets]


def _decimal(units: int, k: int) -> str:
    text = str(units).rjust(k + 1, "0")
    return f"{text[:-k]}.{text[-k:]}"


def _check(ev, means: list[str]) -> None:
    """The errors against the reference lie within the evaluation's own estimates."""
    loss, grad = reference(means)
    with mpmath.workdps(REF_DPS):
        g = np.array([[x] for x in grad], dtype=object)
        loss_err = abs(ev.loss - loss)
        grad_err = mpmath.sqrt(mpmath.fsum((a - b) ** 2 for a, b in
                                           zip(ev.grad.reshape(-1), g.reshape(-1), strict=True)))
        diff = differences(ev.grad) - differences(g)
        diff_err = mpmath.sqrt(mpmath.fsum(x * x for x in diff.reshape(-1)))
        assert loss_err <= ev.loss_error, (means, loss_err, ev.loss_error)
        assert grad_err <= ev.grad_error, (means, grad_err, ev.grad_error)
        assert diff_err <= ev.diff_error, (means, diff_err, ev.diff_error)


@pytest.mark.parametrize(("k", "offsets"), [(5, (1, -1)), (10, (1, -1)), (20, (1, -1)),
                                            (30, (-1, 1)), (20, (1, -1, 3))])
def test_close_decimal_means_within_the_estimates(k: int, offsets: tuple[int, ...]) -> None:
    means = _close(k, offsets)
    ev = evaluate([[x] for x in means])
    assert ev.precise
    _check(ev, means)


def test_far_decimal_means_on_the_arb_path() -> None:
    means = ["0.1", "3.3"]
    ev = evaluate([[x] for x in means], digits=40)
    assert ev.method == "arb" and ev.precise
    _check(ev, means)


def test_certified_balls_hold_the_decimal_means() -> None:
    means = ["0.1", "0.7"]
    enc = enclose([[x] for x in means], digits=40)
    loss, grad = reference(means, 80)
    with mpmath.workdps(80):
        for ball, x in zip([enc.loss, *enc.grad[:, 0]], [loss, *grad], strict=True):
            mid, rad = (mpmath.mpf(tuple(int(v) for v in b.man_exp()))
                        for b in (ball.mid(), ball.rad()))
            assert abs(mid - x) <= rad, (x, ball)


def test_cli_dps_with_a_decimal_truth(capsys: pytest.CaptureFixture[str]) -> None:
    """2.1 +- 1e-20 with truth 0.1 is 2 +- 1e-20 exactly in canonical coordinates."""
    means = _close(20, (1, -1))
    shifted = [_decimal(21 * 10**19 + 1, 20), _decimal(21 * 10**19 - 1, 20)]
    assert main(["evaluate", "--means", f"[[{shifted[0]}],[{shifted[1]}]]", "--truth", "[0.1]",
                 "--dps", "70", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    loss, grad = reference(means)
    with mpmath.workdps(REF_DPS):
        g = [mpmath.mpf(row[0]) for row in res["gradient"]]
        assert abs(mpmath.mpf(res["loss"]) - loss) <= mpmath.mpf(res["error_estimate"]["loss"])
        diff = (g[0] - g[1]) - (grad[0] - grad[1])
        assert abs(diff) <= 2 * mpmath.mpf(res["error_estimate"]["gradient_differences"])


def _exact(x: object) -> Fraction:
    """The exact value of a decimal string, float or mpf."""
    if isinstance(x, mpmath.mpf):
        sign, man, exp, _ = x._mpf_
        return (-1) ** sign * Fraction(int(man)) * Fraction(2) ** int(exp)
    return Fraction(x)


def test_reading_error_is_the_actual_rounding() -> None:
    from scoreclaims.highprec.policy import reading_error

    values = [["0.1"], ["2.00000000000000000001"], [0.1], ["0.5"]]
    with mpmath.workprec(53):
        m = as_mp_means(values)
        err = reading_error(values, m)
    assert err == abs(Fraction("0.1") - Fraction(0.1))  # the worst: "0.1" read at 53 bits
    with mpmath.workprec(53):
        exact = [[0.1], [0.5], [3]]
        assert reading_error(exact, as_mp_means(exact)) == 0


def test_exponents_beyond_decimal_are_bounded_not_expanded() -> None:
    """A slow-manifold point at R ~ 1e12 reads m_1 ~ 10^(-2.3e23): Decimal refuses that exponent
    and Fraction would expand 10^(2.3e23) (the quick profile hung there). The reading is bounded
    by the rounding of mpmath's read instead, and a ratio string is still exact."""
    from scoreclaims.highprec.policy import exact_value, reading_error

    tiny = "1.93560696890410219256630415513e-227695385328145349142124"
    assert exact_value(tiny) is None
    assert exact_value("-3/4") == Fraction(-3, 4)
    values = [[tiny], ["2048000000000.0"]]
    with mpmath.workprec(200):
        m = as_mp_means(values)
        err = reading_error(values, m)
        assert 0 < err <= abs(m[0, 0]) * mpmath.ldexp(1, -198)
        # the same number as an mpf (binary exponent -7.6e23): bounded, not 2^(7.6e23) in memory
        assert exact_value(m[0, 0]) is None and exact_value(mpmath.ldexp(3, -900_000)) == \
            Fraction(3, 2**900_000)
        assert 0 <= reading_error([[m[0, 0]], [m[1, 0]]], m) <= abs(m[0, 0]) * mpmath.ldexp(1, -198)


@pytest.mark.parametrize("means", [[["2.00001"], ["1.99999"]],
                                   [["2.00000000000000000001"], ["1.99999999999999999999"]],
                                   [["123456.7"], ["-0.000001"]]])
def test_input_dps_reads_below_the_working_precision(means: list) -> None:
    with mpmath.workdps(400):
        exact = as_mp_means(means)
    assert input_dps(means) >= required_dps(exact) + GUARD_DIGITS


def test_far_certificates_are_made_on_the_float64_numbers(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    seen = []
    real = _random_init_far.enclose_far

    def spy(means: object, digits: int):
        seen.append(means)
        return real(means, digits)

    monkeypatch.setattr(_random_init_far, "enclose_far", spy)
    floats = [0.1, 7.3, -2.2]
    _random_init_far.certify_row(floats, 0, 12)
    given = [_exact(row[0]) for row in seen[0]]
    assert given == [Fraction(x) for x in floats]  # not 1/10 for 0.1


def test_far_enclosures_say_when_a_decimal_was_rounded() -> None:
    """No precision reads "0.1" exactly: the far balls are built on the binary number read at
    the working precision, and the enclosure records how far that is from the decimal."""
    rounded = enclose_far([["0.1"], ["5"]], digits=10)
    assert 0 < rounded.rounding <= mpmath.ldexp(1, -rounded.enclosure.prec)
    assert enclose_far([["0.5"], [0.1]], digits=10).rounding == 0


def test_hp_run_reads_its_start_at_the_precision_it_runs() -> None:
    """`run_gd(dps=...)` above the inputs' own precision reads the decimal means at that
    precision (they were read at the inputs' digits and the finer run computed on the
    rounding)."""
    import mpmath

    from scoreclaims.highprec.dynamics import run_gd

    third = "0." + "3" * 60  # not a binary number: its reading depends on the precision
    traj = run_gd([["0"], [third]], "0.01", 2, dps=300, handover=False)
    with mpmath.workdps(400):
        exact = mpmath.mpf(1) / 3 - mpmath.mpf(10) ** -60 / 3
        got = traj.frame["mu_1_0"].iloc[0]
        assert abs(got - exact) / exact < mpmath.mpf(10) ** -280
