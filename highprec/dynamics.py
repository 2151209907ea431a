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

from dataclasses import dataclass

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
from scoreclaims.highprec.population import evaluate
from scoreclaims.verifiers.dynamics import CONVENTIONS, record_taus, validate_step
from scoreclaims.verifiers.errors import UsageError
from scoreclaims.verifiers.population import evaluate as evaluate_float64


@dataclass
class HPTrajectory:
    """A GD run. `frame`: tau, loss, loss_error, grad_norm, grad_error, mu_{i}_{j} (data
    coordinates), dist_{i}, engine ("mp<dps>" or "float64"); numbers are mpf in mpmath rows and
    float in float64 rows. `status`: "ok", "inaccurate" (a cubature missed its tolerance),
    "imprecise" (the precision no longer resolved the means, or a verification fell short of
    `digits`; stopped) or "non-finite". `handover_tau`: the step float64 took over (or None)."""

    frame: pd.DataFrame
    truth: np.ndarray
    t: mpmath.mpf
    eta: mpmath.mpf
    convention: str
    steps: int
    dps: int
    digits: int
    status: str
    handover_tau: int | None
    final_means: np.ndarray

    @property
    def n(self) -> int:
        return self.final_means.shape[0]

    def means_at(self, row: int) -> np.ndarray:
        cols = [c for c in self.frame.columns if c.startswith("mu_")]
        return self.frame[cols].iloc[row].to_numpy(dtype=object).reshape(self.n, -1)

    def float_frame(self) -> pd.DataFrame:
        """The frame with every number as float64 (tiny spreads round away)."""
        out = self.frame.copy()
        for c in out.columns:
            if c not in ("tau", "engine"):
                out[c] = [float(x) for x in out[c]]
        return out

    def decimal_frame(self) -> pd.DataFrame:
        """The frame with every number as a decimal string of the run's precision."""
        digits = self.dps
        out = self.frame.copy()
        for c in out.columns:
            if c not in ("tau", "engine"):
                out[c] = [to_decimal(x, digits) for x in out[c]]
        return out


def run_gd(means: object, eta: object, steps: int, *, truth: object | None = None,
           t: object = 0, convention: str = "canonical", stride: int | None = None,
           dps: int | None = None, digits: int = TARGET_DIGITS, handover: bool = True,
           handover_spread: float = HANDOVER_SPREAD, verify: bool = True,
           tol: float | None = None) -> HPTrajectory:
    """Run `steps` GD steps from data-space `means` (numbers or decimal strings, n x d) at `dps`
    digits (default: the policy's) and hand over to float64 when the spread allows (`handover`).
    `tol`: the float64 engine's tolerance after the hand-over."""
    if convention not in CONVENTIONS:
        raise UsageError(f"convention must be one of {', '.join(CONVENTIONS)}, got {convention!r}")
    with mpmath.workdps(input_dps([means, truth, str(eta), str(t)])):
        mu = as_mp_means(means)
        n, d = mu.shape
        star = (np.array([mpmath.mpf(0)] * d, dtype=object) if truth is None
                else as_mp_vector(truth, d, "truth"))
        t_mp, eta_mp = to_mpf(t, "noise level t"), to_mpf(eta, "step eta")
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
    with mpmath.workdps(start_dps):
        return _run(mu, star, t_mp, eta_mp, int(steps), convention, stride, start_dps, digits,
                    handover, handover_spread, verify, tol)


def _run(mu: np.ndarray, star: np.ndarray, t: mpmath.mpf, eta: mpmath.mpf, steps: int,
         convention: str, stride: int | None, dps: int, digits: int, handover: bool,
         handover_spread: float, verify: bool, tol: float | None) -> HPTrajectory:
    n, d = mu.shape
    star, t, eta = star * 1, +t, +eta  # round to the working precision
    m = (mu * 1 - star) * mpmath.exp(-t)
    step = eta if convention == "canonical" else eta * mpmath.exp(-2 * t)
    scale = mpmath.exp(-t)  # d / d mu_tilde = e^{-t} d / dm
    record = record_taus(steps, stride)
    rows: list[list] = []
    status = "ok"
    handover_tau = None
    order = 0
    rule = None
    nxt = 0
    star_f, t_f = to_float_array(star[None])[0], float(t)
    step_f, scale_f = float(step), float(scale)
    for tau in range(steps + 1):
        recorded = tau == record[nxt]
        if handover_tau is None and handover and resolvable_in_float64(m, handover_spread):
            handover_tau = tau
            m = to_float_array(m)
        if handover_tau is None:
            if required_dps(m, digits) > dps:
                status = "imprecise"
                break
            ev = evaluate(m, dps=dps, digits=digits, verify=verify and recorded,
                          order_index=order)
            order = ev.order_index or 0
            if not ev.precise and status == "ok":
                status = "imprecise" if ev.converged else "inaccurate"
            if status == "imprecise":
                break
            grad, loss = ev.grad, ev.loss
            errs = (ev.loss_error, ev.grad_error)
            data = star + m * mpmath.exp(t)
            dist = [mpmath.sqrt(mpmath.fsum((a - b) ** 2 for a, b in zip(row, star, strict=True)))
                    for row in data]
            gnorm = mpmath.sqrt(mpmath.fsum(x * x for x in grad.reshape(-1)))
            engine = f"mp{ev.dps}"
            sc = scale
        else:
            fev = evaluate_float64(m, tol=tol, rule=rule)
            rule = fev.rule
            if not fev.converged and status == "ok":
                status = "inaccurate"
            grad, loss, errs = fev.grad, fev.loss, (fev.loss_error, fev.grad_error)
            data = star_f + m * np.exp(t_f)
            dist = list(np.linalg.norm(data - star_f, axis=1))
            gnorm = float(np.linalg.norm(grad))
            engine = "float64"
            sc = scale_f
        if recorded:
            rows.append([tau, loss, errs[0], sc * gnorm, sc * errs[1], *data.reshape(-1), *dist,
                         engine])
            nxt += 1
        if tau == steps:
            break
        if handover_tau is None:
            m = m - step * grad
        else:
            m = m - step_f * grad
            if not np.all(np.isfinite(m)):
                status = "non-finite"
                break
    columns = ["tau", "loss", "loss_error", "grad_norm", "grad_error",
               *[f"mu_{i}_{j}" for i in range(n) for j in range(d)],
               *[f"dist_{i}" for i in range(n)], "engine"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["tau"] = frame["tau"].astype(np.int64)
    final = star + m * mpmath.exp(t) if handover_tau is None else star_f + m * np.exp(t_f)
    return HPTrajectory(frame, star, t, eta, convention, steps, dps, digits, status,
                        handover_tau, np.asarray(final))
