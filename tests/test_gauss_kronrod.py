"""The derived Gauss-Kronrod rule: exactness degrees and agreement between precisions."""

import mpmath
import numpy as np

from scoreclaims.verifiers.gauss_kronrod import derive_rule, rule


def test_kronrod_exact_to_degree_3n_plus_1_and_gauss_to_2n_minus_1() -> None:
    n = 10
    x, wk, wg = rule(n)
    for deg in range(3 * n + 3):
        exact = 2.0 / (deg + 1) if deg % 2 == 0 else 0.0
        if deg <= 3 * n + 1:
            assert abs(wk @ x**deg - exact) < 1e-15
        if deg <= 2 * n - 1:
            assert abs(wg @ x**deg - exact) < 1e-15
    # and not beyond: the rules are what they claim to be, not something higher
    assert abs(wg @ x ** (2 * n) - 2.0 / (2 * n + 1)) > 1e-8


def test_gauss_nodes_are_legendre_roots_and_precisions_agree() -> None:
    nodes, kw, gw = derive_rule(7, dps=40)
    gauss = [x for x, w in zip(nodes, gw, strict=True) if w != 0]
    assert len(gauss) == 7
    with mpmath.workdps(40):
        assert max(abs(mpmath.legendre(7, x)) for x in gauss) < mpmath.mpf(10) ** -35
    x15, k15, _ = rule(7)
    np.testing.assert_allclose(x15, [float(v) for v in nodes], rtol=0, atol=1e-16)
    np.testing.assert_allclose(k15, [float(v) for v in kw], rtol=0, atol=1e-16)
