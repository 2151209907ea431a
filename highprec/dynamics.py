"""Gradient descent at any precision, with hand-over to the float64 engine.

Same conventions and recording as `verifiers.dynamics.run_gd` (canonical step eta, or "data":
eta e^{-2t}; rows at 0, powers of two, multiples of `stride` and the last step). The run starts in
mpmath at `policy.required_dps` of the start plus GUARD_DIGITS of headroom; each step checks that
the precision still resolves the means (status "imprecise" and stop otherwise), recorded steps
are verified at higher precision (`population.evaluate(verify=True)`). Once the relative spread
reaches `handover_spread` the means are rounded to float64 and the run continues with
`verifiers.population.evaluate` (frozen-rule reuse as in the engine); rows say which engine
produced them.
"""

from __future__ import annotations

from typing import Any

import mpmath
import numpy as np
import pandas as pd

from scoreclaims.highprec.policy import (
    GUARD_DIGITS,
    HANDOVER_SPREAD,
    TARGET_DIGITS,
    as_mp_means,
    as_mp_vector,
    input_dps,
    required_dps,
    resolvable_in_float64,
    to_decimal,
    to_float_array,
    to_mpf,
)
from scoreclaims.highprec.population import HPEvaluation, evaluate
from scoreclaims.verifiers.dynamics import (
    IMPRECISE,
    INACCURATE,
    INTERRUPTED,
    NON_FINITE,
    OK,
    Descent,
    EngineSource,
    Progress,
    Record,
    StepSource,
    Trajectory,
    columns,
    drive,
    frame_of,
    record_taus,
    validate_convention,
    validate_step,
)
from scoreclaims.verifiers.errors import UsageError
from scoreclaims.verifiers.population import Evaluation


def decimal_frame(traj: Trajectory) -> pd.DataFrame:
    """The frame with every number as a decimal string of the run's precision (floats: repr)."""
    digits = traj.dps or 17
    out = traj.frame.copy()
    for c in out.columns:
        if c not in ("tau", "engine"):
            out[c] = [to_decimal(x, digits) for x in out[c]]
    return out


class PrecisionSource(StepSource):
    """GD steps at `dps` digits (each evaluation verified at higher precision when it will be
    recorded), handing over to the float64 engine (`EngineSource`) once the means are resolvable
    there (`handover`, `handover_spread`). `tau` counts the steps taken, so that a hand-over is
    dated; `record` holds the steps whose evaluations are verified."""

    def __init__(self, dps: int, digits: int, handover: bool, handover_spread: float,
                 verify: bool, tol: float | None, record: np.ndarray) -> None:
        self.dps, self.digits = dps, digits
        self.handover, self.handover_spread = handover, handover_spread
        self.verify = verify
        self.record = {int(x) for x in record}
        self.float64 = EngineSource(tol)
        self.handover_tau: int | None = None
        self.order = 0
        self.tau = 0

    def evaluate(self, m: np.ndarray) -> HPEvaluation | Evaluation | None:
        if self.handover_tau is not None:
            point = self.float64.evaluate(m)
            self.note(bool(point is not None and point.converged))
            return point
        if required_dps(m, self.digits) > self.dps:
            self.status = IMPRECISE
            return None
        ev = evaluate(m, dps=self.dps, digits=self.digits,
                      verify=self.verify and self.tau in self.record, order_index=self.order)
        self.order = ev.order_index or 0
        if not ev.precise and self.status == OK:
            self.status = IMPRECISE if ev.converged else INACCURATE
        return None if self.status == IMPRECISE else ev

    def prepare(self, m: np.ndarray) -> np.ndarray:
        """Hand over to float64 at this step when the means allow it."""
        if (self.handover_tau is None and self.handover
                and resolvable_in_float64(m, self.handover_spread)):
            self.handover_tau = self.tau
            return to_float_array(m)
        return m

    def advance(self, m: np.ndarray, point: Any, step: float, max_steps: int
                ) -> tuple[np.ndarray, Any, int]:
        if self.handover_tau is not None:  # the float64 engine's loop (compiled on jax)
            m, point, taken = self.float64.advance(m, point, float(step), max_steps)
            self.tau += taken
            if self.float64.status == NON_FINITE:
                self.status = NON_FINITE
            elif point is not None:
                self.note(bool(point.converged))
            return m, point, taken
        m = m - step * point.grad
        self.tau += 1
        m = self.prepare(m)
        return m, self.evaluate(m), 1


def _row(rec: Record, star: np.ndarray, t: mpmath.mpf) -> list[Any]:
    """A row in the arithmetic of its evaluation: mpf before the hand-over, float64 after."""
    p = rec.point
    if isinstance(p, HPEvaluation):
        data = star + rec.m * mpmath.exp(t)
        dist = [mpmath.sqrt(mpmath.fsum((a - b) ** 2 for a, b in zip(row, star, strict=True)))
                for row in data]
        gnorm = mpmath.sqrt(mpmath.fsum(x * x for x in p.grad.reshape(-1)))
        scale = mpmath.exp(-t)  # d / d mu_tilde = e^{-t} d / dm
        return [rec.tau, p.loss, p.loss_error, scale * gnorm, scale * p.grad_error,
                *data.reshape(-1), *dist, f"mp{p.dps}"]
    star_f, t_f = to_float_array(star[None])[0], float(t)
    data = star_f + rec.m * np.exp(t_f)
    scale = float(mpmath.exp(-t))
    return [rec.tau, p.loss, p.loss_error, scale * float(np.linalg.norm(p.grad)),
            scale * p.grad_error, *data.reshape(-1), *np.linalg.norm(data - star_f, axis=1),
            "float64"]


def run_gd(means: object, eta: object, steps: int, *, truth: object | None = None,
           t: object = 0, convention: str = "canonical", stride: int | None = None,
           dps: int | None = None, digits: int = TARGET_DIGITS, handover: bool = True,
           handover_spread: float = HANDOVER_SPREAD, verify: bool = True,
           tol: float | None = None, progress: Progress | None = None,
           interruptible: bool = False) -> Trajectory:
    """Run `steps` GD steps from data-space `means` (numbers or decimal strings, n x d) at `dps`
    digits (default: the policy's) and hand over to float64 when the spread allows (`handover`).
    `tol`: the float64 engine's tolerance after the hand-over."""
    validate_convention(convention)

    def read(prec: int) -> tuple[np.ndarray, np.ndarray, mpmath.mpf, mpmath.mpf]:
        """The inputs read at `prec` digits (decimal strings round wherever they are read)."""
        with mpmath.workdps(prec):
            mu = as_mp_means(means)
            star = (np.array([mpmath.mpf(0)] * mu.shape[1], dtype=object) if truth is None
                    else as_mp_vector(truth, mu.shape[1], "truth"))
            return mu, star, to_mpf(t, "noise level t"), to_mpf(eta, "step eta")

    first = input_dps([means, truth, str(eta), str(t)])
    mu, star, t_mp, eta_mp = read(first)
    with mpmath.workdps(first):
        if t_mp < 0:
            raise UsageError(f"noise level t must be >= 0, got {t}")
        validate_step(float(eta_mp) if eta_mp > 0 else -1.0, steps, stride)
        # exact differences: a spread far below the input's digits must survive the shift; then
        # the canonical scaling e^{-t}, at the precision those differences need
        diff = np.array([[mpmath.fsub(a, b, exact=True) for a, b in zip(row, star, strict=True)]
                         for row in mu], dtype=object)
        with mpmath.workdps(required_dps(diff, digits) + GUARD_DIGITS):
            m0 = diff * mpmath.exp(-t_mp)
        need = required_dps(m0, digits)
        start_dps = need + GUARD_DIGITS if dps is None else int(dps)
    if start_dps < need:
        raise UsageError(f"dps = {start_dps} cannot resolve these means to {digits} digits: "
                         f"they need at least {need}")
    if start_dps + GUARD_DIGITS > first:  # read again, finer than the run computes
        mu, star, t_mp, eta_mp = read(start_dps + GUARD_DIGITS)
    with mpmath.workdps(start_dps):
        return _run(mu, star, t_mp, eta_mp, int(steps), convention, stride, start_dps, digits,
                    handover, handover_spread, verify, tol, progress, interruptible)


def _run(mu: np.ndarray, star: np.ndarray, t: mpmath.mpf, eta: mpmath.mpf, steps: int,
         convention: str, stride: int | None, dps: int, digits: int, handover: bool,
         handover_spread: float, verify: bool, tol: float | None,
         progress: Progress | None = None, interruptible: bool = False) -> Trajectory:
    n, d = mu.shape
    star, t, eta = star * 1, +t, +eta  # round to the working precision
    m = (mu * 1 - star) * mpmath.exp(-t)
    step = eta if convention == "canonical" else eta * mpmath.exp(-2 * t)
    record = record_taus(steps, stride)
    source = PrecisionSource(dps, digits, handover, handover_spread, verify, tol, record)
    descent = Descent(source, source.prepare(m), step)
    records, interrupted = drive(descent, steps, record, progress, interruptible)
    rows = [_row(rec, star, t) for rec in records]
    m = descent.m
    final = (star + m * mpmath.exp(t) if source.handover_tau is None
             else to_float_array(star[None])[0] + m * np.exp(float(t)))
    return Trajectory(frame_of(rows, columns(n, d, engine=True)), star, t, eta, convention,
                      steps, INTERRUPTED if interrupted else source.status, np.asarray(final),
                      dps=dps, digits=digits,
                      handover_tau=source.handover_tau)
