"""The engine's k = 3 accuracy (issue 2: 1e-8 relative, gradient relative to its norm) against
the arbitrary-precision reference of `tests/reference_k3_mp.py` (mpmath, tensor Gauss-Hermite,
values stored in `tests/data/reference_k3_mp.json` by its `main()`).

The configurations run the engine's adaptive k = 3 path (every principal axis spreads more than
HERMITE_MAX_SPREAD, so no thin Gauss-Hermite block). The engine takes 3 s on the tetrahedron and
38 to 49 s on each of the others (load average 3.4), so only the tetrahedron runs by default;
SCORECLAIMS_SLOW=1 runs them all (about 3 minutes)."""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path

import mpmath as mp
import numpy as np
import pytest
from reference_k3_mp import CHECK_ORDER, DPS, USABLE_GAP, fixture_configurations, hermite_rule
from reference_k3_mp import integrate as mp_integrate

from scoreclaims.verifiers.geometry import reduce_means
from scoreclaims.verifiers.population import Evaluation, evaluate
from scoreclaims.verifiers.quadrature import HERMITE_MAX_SPREAD, FrozenRule

FIXTURE = Path(__file__).parent / "data" / "reference_k3_mp.json"
FAST = {"tetrahedron-0.5-n4"}
TARGET = 1e-8  # issue 2, k = 3


def _cases() -> list[dict]:
    cases = json.loads(FIXTURE.read_text())
    slow = os.environ.get("SCORECLAIMS_SLOW") == "1"
    return [c for c in cases if slow or c["kind"] in FAST]


@cache
def _engine(kind: str) -> Evaluation:
    case = next(c for c in json.loads(FIXTURE.read_text()) if c["kind"] == kind)
    return evaluate(np.array(case["means"]))


def _ref(entry: dict) -> tuple[float, np.ndarray]:
    return float(mp.mpf(entry["loss"])), np.array([[float(mp.mpf(a)) for a in row]
                                                   for row in entry["gradient"]])


def test_fixture_is_the_code_configurations_and_usable() -> None:
    """Every configuration of the code is stored, with the same means, at the code's precision,
    and its two highest orders agree to USABLE_GAP (decided before the run, see the module)."""
    stored = {c["kind"]: c for c in json.loads(FIXTURE.read_text())}
    for cfg in fixture_configurations():
        case = stored[cfg["kind"]]
        assert case["means"] == cfg["means"] and case["dps"] == DPS
        assert case["usable"] and max(case["rel_gap_two_highest"]) <= USABLE_GAP


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c["kind"])
def test_engine_against_mpmath_k3(case: dict) -> None:
    m = np.array(case["means"])
    red = reduce_means(m)
    assert red.k == 3 and np.all(np.ptp(red.coords, axis=0) > HERMITE_MAX_SPREAD)  # adaptive
    loss, grad = _ref(case)
    gnorm = float(np.linalg.norm(grad))
    ev = _engine(case["kind"])
    assert ev.converged
    assert not isinstance(ev.rule, FrozenRule) or ev.rule.block is None  # no thin block
    loss_err, grad_err = abs(ev.loss - loss), float(np.linalg.norm(ev.grad - grad))
    assert loss_err <= TARGET * loss and grad_err <= TARGET * gnorm
    # the engine's own estimates cover its actual error (the reference's error beside it)
    assert loss_err <= ev.loss_error + case["loss_error"]
    assert grad_err <= ev.grad_error + case["grad_error"]
    # teeth: the same comparison rejects the order-CHECK_ORDER rule where that order is
    # measurably off (a quadrature error the check must see); on the default tetrahedron it is
    # off by only ~1e-11, so this runs for the SCORECLAIMS_SLOW cases, and
    # test_check_rejects_means_off_by_1e6 gives the default run its teeth
    low_loss, low_grad = _ref(case["check"])
    if abs(low_loss - loss) > 10 * TARGET * loss:
        assert abs(ev.loss - low_loss) > TARGET * low_loss
    if np.linalg.norm(low_grad - grad) > 10 * TARGET * gnorm:
        assert np.linalg.norm(ev.grad - low_grad) > TARGET * np.linalg.norm(low_grad)


def test_hermite_rule_is_gaussian_quadrature() -> None:
    """The order-N rule integrates y^(2j) exactly for 2j <= 2N - 1 (E y^(2j) = (2j - 1)!!)
    and odd moments vanish, at the working precision."""
    order = 12
    with mp.workdps(DPS):
        nodes, weights = hermite_rule(order)
        for power in range(2 * order):
            moment = mp.fdot(weights, [y**power for y in nodes])
            exact = mp.fac2(power - 1) if power % 2 == 0 else 0
            assert abs(moment - exact) <= mp.mpf(10) ** (5 - DPS) * (1 + exact)
        # one order further is not exact: the rule is not trivially right
        moment = mp.fdot(weights, [y ** (2 * order) for y in nodes])
        assert abs(moment - mp.fac2(2 * order - 1)) > 1


def test_stored_values_match_the_code_live() -> None:
    """Recompute the smallest configuration's order-CHECK_ORDER values live in mpmath and match
    the stored ones to 1e-20: the stored file comes from this code."""
    case = min(json.loads(FIXTURE.read_text()), key=lambda c: len(c["means"]) * len(c["means"][0]))
    vals = mp_integrate(case["means"], CHECK_ORDER)
    with mp.workdps(DPS):  # parse the stored 25 digits at the reference's precision
        stored = [mp.mpf(case["check"]["loss"]),
                  *(mp.mpf(a) for row in case["check"]["gradient"] for a in row)]
        scale = max(abs(a) for a in stored)
        gap = max(abs(a - b) for a, b in zip(vals, stored, strict=True))
    assert case["check"]["order"] == CHECK_ORDER
    assert gap <= 1e-20 * scale


def test_check_rejects_means_off_by_1e6() -> None:
    """Teeth: the engine at means moved by 1e-6 (one coordinate) fails the same 1e-8
    comparison, so agreement above is not vacuous at this size of error."""
    case = next(c for c in json.loads(FIXTURE.read_text()) if c["kind"] in FAST)
    loss, grad = _ref(case)
    m = np.array(case["means"])
    m[0, 0] += 1e-6
    ev = evaluate(m)
    assert ev.converged
    assert (abs(ev.loss - loss) > TARGET * loss
            and np.linalg.norm(ev.grad - grad) > TARGET * np.linalg.norm(grad))
