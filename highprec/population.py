"""Population loss and gradient at any precision: the engine's formulation on mpmath numbers.

The means are reduced with `verifiers.geometry.reduce_means` (Gram-Schmidt in the working
precision), the integrands are `verifiers.formulation.score_integrands` on object arrays of mpf,
and the pieces are assembled with `split_components` and `Reduction.lift` exactly as in
`verifiers.population`. The Gaussian expectation in the k reduced coordinates is a Gauss-Hermite
tensor rule climbing `hermite.ORDERS` until two consecutive orders agree to 10^-(digits+2) in the
loss, in the gradient (relative to its norm) and in the gradient differences grad_i - mean_j
grad_j (relative to their norm): for means exponentially close together the integrand is nearly
constant across their span and a handful of nodes is exact to the working precision. Separated
collinear means (k = 1), where Gauss-Hermite cannot converge, go to the certified arb integral
(`scoreclaims.highprec.certified`); separated k >= 2 configurations are flagged (`converged=False`).
"""

from __future__ import annotations

from dataclasses import dataclass

import mpmath
import numpy as np

from scoreclaims.highprec.hermite import ORDERS, tensor_rule
from scoreclaims.highprec.policy import (
    GUARD_DIGITS,
    TARGET_DIGITS,
    as_mp_means,
    input_dps,
    reading_error,
    required_dps,
    verify_dps,
)
from scoreclaims.verifiers.formulation import score_integrands, split_components
from scoreclaims.verifiers.geometry import reduce_means

MP_EXP = np.frompyfunc(mpmath.exp, 1, 1)
MAX_NODES = 4096  # tensor rules beyond this are not tried (k = 2: order 64, k = 3: order 16)
HERMITE_MAX_DIAMETER = 0.6  # k = 1 means spread wider go to the arb integral (measured: order 64
HERMITE_K1_MAX_ORDER = 64  # reaches 22 digits at diameter 0.6, 0.2 s)


@dataclass(frozen=True)
class HPEvaluation:
    """Loss and gradient (n, d object array of mpf) in canonical coordinates at `dps` digits.
    Errors are absolute: the quadrature estimate, plus, when verified, the disagreement with the
    repeat at higher precision; `diff_error` is the error of the gradient differences.
    `digits`: verified correct digits (relative to the loss, the gradient's norm and the norm of
    the gradient differences; inf when exact); `precise`: converged and digits >= the target."""

    loss: mpmath.mpf
    grad: np.ndarray
    loss_error: mpmath.mpf
    grad_error: mpmath.mpf
    diff_error: mpmath.mpf
    dps: int
    method: str  # "exact" (collapsed), "hermite-Q" (order Q) or "arb"
    converged: bool
    digits: float
    precise: bool
    order_index: int | None = None


def _norm(a: np.ndarray) -> mpmath.mpf:
    return mpmath.sqrt(mpmath.fsum(x * x for x in a.reshape(-1)))


def differences(grad: np.ndarray) -> np.ndarray:
    """grad_i - mean_j grad_j: the part of the gradient that changes the spread."""
    return grad - np.mean(grad, axis=0)


def _assemble(red, values: np.ndarray) -> tuple[mpmath.mpf, np.ndarray]:
    n, k = red.coords.shape
    loss_u, g, gamma = split_components(values, n, k)
    return loss_u + red.perp @ red.perp, red.lift(g, gamma)


def _diameter(coords: np.ndarray) -> mpmath.mpf:
    """Largest distance between two reduced means."""
    if coords.shape[1] == 0:
        return mpmath.mpf(0)
    return max(_norm(a - b) for a in coords for b in coords)


def _sizes(loss: mpmath.mpf, grad: np.ndarray, red) -> tuple:
    """Scales of (loss, gradient, gradient differences). The differences are measured against
    max(|D|, |grad| min(1, diameter / scale)): where they cancel, |grad| times the relative
    spread is the size their error must be small against."""
    gnorm = _norm(grad)
    diameter = _diameter(red.coords)
    scale = max(mpmath.mpf(1), *(_norm(p) for p in red.coords), _norm(red.perp))
    return abs(loss), gnorm, max(_norm(differences(grad)), gnorm * min(1, diameter / scale))


def _relative(err: mpmath.mpf, size: mpmath.mpf) -> mpmath.mpf:
    if err == 0:
        return mpmath.mpf(0)
    return err / size if size > 0 else mpmath.inf


@dataclass(frozen=True)
class _Core:
    loss: mpmath.mpf
    grad: np.ndarray
    errors: tuple  # (loss, grad, diff) absolute
    method: str
    converged: bool
    order_index: int | None


def _rule_values(red, order: int) -> np.ndarray:
    points, weights = tensor_rule(order, red.k, mpmath.mp.dps)
    return weights @ score_integrands(points, red.coords, exp=MP_EXP)


def _hermite(red, digits: int, start: int) -> _Core:
    n, k = red.coords.shape
    tol = mpmath.mpf(10) ** (-digits - 2)
    prev = None
    idx = start
    last = None
    while idx < len(ORDERS) and ORDERS[idx] ** k <= MAX_NODES and (
            k > 1 or ORDERS[idx] <= HERMITE_K1_MAX_ORDER):
        loss, grad = _assemble(red, _rule_values(red, ORDERS[idx]))
        if prev is not None:
            errs = (abs(loss - prev[0]), _norm(grad - prev[1]),
                    _norm(differences(grad) - differences(prev[1])))
            sizes = _sizes(loss, grad, red)
            last = _Core(loss, grad, errs, f"hermite-{ORDERS[idx]}", False, idx - 1)
            if all(_relative(e, s) <= tol for e, s in zip(errs, sizes, strict=True)):
                return _Core(loss, grad, errs, f"hermite-{ORDERS[idx]}", True, idx - 1)
        prev = (loss, grad)
        idx += 1
    if last is None:
        inf = mpmath.inf
        return _Core(prev[0], prev[1], (inf, inf, inf), "hermite", False, start)
    return last


def _read_core(means: object, digits: int, start: int) -> _Core:
    """`_core` at the current precision on `means` read GUARD_DIGITS finer (decimal strings
    are rounded there; the arb path widens its balls by that rounding, and the repeat at
    higher precision reads them again, so its disagreement contains it)."""
    dps = mpmath.mp.dps
    with mpmath.workdps(dps + GUARD_DIGITS):
        m = as_mp_means(means)
        rounding = reading_error(means, m)
    return _core(m, digits, start, rounding, means)


def _core(m: np.ndarray, digits: int, start: int, rounding: object = 0,
          given: object = None) -> _Core:
    """`rounding`: how far each coordinate of m may be from the means meant, `given` (d = 1,
    optional): those means as given, which the arb path reads itself, at its own precision."""
    n = m.shape[0]
    red = reduce_means(m)
    if red.k == 0:  # all means equal: w_j = 1/n, u = 0, s_j = 0 exactly
        zero = mpmath.mpf(0)
        grad = np.tile(red.perp * (mpmath.mpf(2) / n), (n, 1))
        return _Core(red.perp @ red.perp, grad, (zero, zero, zero), "exact", True, None)
    diameter = _diameter(red.coords)
    if red.k == 1 and diameter > HERMITE_MAX_DIAMETER:
        return _core_arb(m, digits, rounding, given)
    if red.k > 1 and diameter > HERMITE_MAX_DIAMETER:  # Gauss-Hermite cannot converge: flag
        inf = mpmath.inf
        loss, grad = _assemble(red, _rule_values(red, 8))
        return _Core(loss, grad, (inf, inf, inf), "unsupported", False, None)
    core = _hermite(red, digits, start)
    if not core.converged and red.k == 1:
        return _core_arb(m, digits, rounding, given)
    return core


def _core_arb(m: np.ndarray, digits: int, rounding: object = 0, given: object = None
              ) -> _Core:
    """k = 1 through the arb integral, on the means rotated to (p_i, |c_perp|) and lifted back
    with the mpmath reduction. The balls hold every configuration within `rounding` of m
    (per coordinate, so sqrt(d) rounding per rotated coordinate) and within the rotation's
    own rounding (d > 1: perp_rounding of the reduction). d = 1 with the means `given`: the
    enclosure reads them itself, at the arb precision (which resolves |m|^3)."""
    from scoreclaims.highprec.certified import enclose

    if given is not None and m.shape[1] == 1:
        enc = enclose(given, digits=digits + 2)
        loss, grad = enc.midpoints()
        return _Core(loss, grad, enc.radii(), "arb", enc.certified, None)

    red = reduce_means(m)
    r = _norm(red.perp)
    rotated = red.coords if r == 0 else np.concatenate(
        [red.coords, np.full((m.shape[0], 1), r, dtype=object)], axis=1)
    d = m.shape[1]
    radius = mpmath.sqrt(d) * rounding + (2 * red.perp_rounding if d > 1 else 0)
    enc = enclose(rotated, digits=digits + 2, radius=radius)
    loss, grad2 = enc.midpoints()
    grad = red.lift(grad2[:, :1], grad2[:, 1] / r if r != 0 else np.zeros(m.shape[0]))
    return _Core(loss, grad, enc.radii(), "arb", enc.certified, None)


def evaluate(means: object, dps: int | None = None, digits: int = TARGET_DIGITS,
             verify: bool = True, order_index: int = 0) -> HPEvaluation:
    """L(m) and grad_m L for canonical means (object array of mpf, or numbers, Fractions or
    decimal strings, read GUARD_DIGITS beyond each pass's precision, their rounding counted)
    at `dps` digits (default: `policy.required_dps`). `verify`: repeat at `verify_dps(dps)` and
    count the agreeing digits; the returned values are the higher-precision ones.
    `order_index`: where on the Gauss-Hermite ladder to start (the previous step's, in GD)."""
    with mpmath.workdps(max(mpmath.mp.dps, input_dps(means))):
        m = as_mp_means(means)
        if dps is None:
            dps = required_dps(m, digits)
    with mpmath.workdps(dps):
        core = _read_core(means, digits, order_index)
    used = dps
    errors = core.errors
    sizes = None
    if verify and core.converged and core.method != "arb":  # arb radii are rigorous already
        used = verify_dps(dps)
        with mpmath.workdps(used):
            hi = _read_core(means, digits, core.order_index or 0)
            gap = (abs(hi.loss - core.loss), _norm(hi.grad - core.grad),
                   _norm(differences(hi.grad) - differences(core.grad)))
            errors = tuple(max(a, b) for a, b in zip(hi.errors, gap, strict=True))
            sizes = _sizes(hi.loss, hi.grad, reduce_means(m))
            core = _Core(hi.loss, hi.grad, errors, hi.method, hi.converged and core.converged,
                         hi.order_index)
    with mpmath.workdps(used):
        if sizes is None:
            sizes = _sizes(core.loss, core.grad, reduce_means(m))
        rel = max(_relative(e, s) for e, s in zip(errors, sizes, strict=True))
        got = float("inf") if rel == 0 else float(-mpmath.log10(rel))
    return HPEvaluation(core.loss, core.grad, errors[0], errors[1], errors[2], used, core.method,
                        core.converged, got, core.converged and got >= digits, core.order_index)
