"""Gradient descent, written once: one loop (`Descent`) over a gradient source, one `Trajectory`.

A source knows how to evaluate a configuration and how to advance GD from an evaluated one:

* `EngineSource` (here): the float64 engine, `population.evaluate` reusing the previous step's
  rule, with an optional cubature tolerance and budget of integrand evaluations;
* `batch.LineBatchSource`: many d = 1 runs advanced together through one integrand call a step;
* `monte_carlo.MonteCarloSource`: sampled gradients (the paper's experiment);
* `highprec.dynamics.PrecisionSource`: mpmath at any precision, handing over to `EngineSource`;
* a compiled source may advance many steps per call (`advance`'s `max_steps`).

`Descent` holds the state (means, step count, the evaluation at the current means) and runs it
to a step, recording the steps asked for; `run_gd` and the other entry points build the source,
run one `Descent` and turn its records into a `Trajectory`.

Step conventions (PAPER.md sec. 1): "canonical" (default) steps m <- m - eta grad_m L in the
canonical coordinates m_i = e^{-t} (mu_tilde_i - mu_tilde_star); "data" steps on the data-space
means, mu_tilde <- mu_tilde - eta grad_{mu_tilde} L, which is a step eta e^{-2t} in m. At t = 0 the
two coincide.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from scoreclaims.verifiers.errors import UsageError
from scoreclaims.verifiers.geometry import (
    as_means,
    as_noise_level,
    as_truth,
    from_canonical,
    to_canonical,
)
from scoreclaims.verifiers.population import Evaluation, evaluate, safe_norm

CONVENTIONS = ("canonical", "data")
# A run's status: "ok"; "inaccurate" (some evaluation missed its tolerance; the rows' error
# columns say where) and the reasons a run stops early: "non-finite" means, "imprecise" (the
# arbitrary-precision engine no longer resolves the means) or "out-of-budget".
# "interrupted": stopped by the user (Ctrl-C) with the rows computed so far.
OK, INACCURATE, NON_FINITE, IMPRECISE, OUT_OF_BUDGET, INTERRUPTED = (
    "ok", "inaccurate", "non-finite", "imprecise", "out-of-budget", "interrupted")


class Point(Protocol):
    """An evaluated configuration (`population.Evaluation` and its kin)."""

    loss: Any
    grad: Any
    loss_error: Any
    grad_error: Any
    converged: bool


class Source(Protocol):
    """Gradients for GD. `status` is OK until an evaluation misses its tolerance (INACCURATE)
    or the run must stop (a reason above); `unconverged` counts the evaluations that missed."""

    status: str
    unconverged: int

    def evaluate(self, m: Any) -> Point | None:
        """The evaluation at means `m` (None: the run stops; `status` says why)."""

    def advance(self, m: Any, point: Point, step: float, max_steps: int
                ) -> tuple[Any, Point | None, int]:
        """At most `max_steps` (>= 1) GD steps from `m`, evaluated as `point`: the new means,
        their evaluation (None: the run stops there) and the number of steps taken (>= 1)."""


class StepSource:
    """A source that takes one step per `advance`: m - step * grad, then `evaluate`."""

    status = OK
    unconverged = 0

    def evaluate(self, m: Any) -> Point | None:
        raise NotImplementedError

    def finite(self, m: Any) -> bool:
        return bool(np.all(np.isfinite(m)))

    def advance(self, m: Any, point: Point, step: float, max_steps: int
                ) -> tuple[Any, Point | None, int]:
        m = m - step * point.grad
        if not self.finite(m):
            self.status = NON_FINITE
            return m, None, 1
        return m, self.evaluate(m), 1

    def note(self, converged: bool) -> None:
        """Count an evaluation that missed its tolerance."""
        if not converged:
            self.unconverged += 1
            if self.status == OK:
                self.status = INACCURATE


class EngineSource(StepSource):
    """The float64 engine: `population.evaluate` at cubature tolerance `tol` (None: the
    engine's), reusing the previous evaluation's rule. `budget`: integrand evaluations the run
    may spend; the evaluation that exceeds it stops the run (OUT_OF_BUDGET). (A cubature built
    in a step stops at what is left; a step that reuses a rule may overshoot by its nodes.)

    On the "jax" backend (`verifiers.backend`, the process's choice unless `backend` is given),
    the steps that reuse a frozen rule run in compiled loops (`verifiers.compiled.advance`),
    with the engine's drift checks and error test at every step, made strictly safer; wherever
    a compiled check refuses, the numpy engine evaluates (and refits) as it would have. After a
    refusal at the very first compiled evaluation, `BACKOFF` numpy steps pass before the next
    compiled call (the compiled test gives away the last 2 % of the tolerance, where the engine
    usually keeps its rule). `compiled_steps` counts the steps the compiled loops took."""

    BACKOFF = 8

    def __init__(self, tol: float | None = None, budget: int | None = None,
                 rule: object = None, backend: str | None = None) -> None:
        from scoreclaims.verifiers.backend import current, resolve

        self.tol = tol
        self.budget = budget
        self.rule = rule
        self.spent = 0
        self.compiled = (current() if backend is None else resolve(backend)) == "jax"
        self.compiled_steps = 0
        self.wait = 0

    def advance(self, m: np.ndarray, point: Point, step: float, max_steps: int
                ) -> tuple[np.ndarray, Point | None, int]:
        m = m - step * point.grad
        if not self.finite(m):
            self.status = NON_FINITE
            return m, None, 1
        taken = 1
        limit = max_steps - 1
        if self.compiled and limit > 0 and self.wait == 0 and self.rule is not None:
            adv = self._compiled(m, step, limit)
            if adv is not None:
                m, taken = adv.m, taken + adv.steps
                self.compiled_steps += adv.steps
                if not self.finite(m):
                    self.status = NON_FINITE
                    return m, None, taken
                if adv.evaluation is not None:
                    return m, adv.evaluation, taken
                self.wait = self.BACKOFF if adv.steps == 0 else 0
        rule = self.rule
        point = self.evaluate(m)
        if self.wait:
            self.wait = self.wait - 1 if self.rule is rule else 0
        return m, point, taken

    def _compiled(self, m: np.ndarray, step: float, limit: int) -> Any:
        """`compiled.advance` from m for at most `limit` steps, within the budget; None where
        the rule is not compiled."""
        from scoreclaims.verifiers import compiled
        from scoreclaims.verifiers.population import rule_tolerance

        per = compiled.nodes(m, self.rule)
        if per is None:
            return None
        if self.budget is not None:  # each compiled evaluation counts as one reuse of the rule
            limit = min(limit, (self.budget - self.spent) // per - 1)
            if limit <= 0:
                return None
        adv = compiled.advance(m, self.rule, step, rule_tolerance(self.rule, self.tol), limit)
        if adv is not None:
            self.spent += per * (adv.steps + 1)
        return adv

    def evaluate(self, m: np.ndarray) -> Evaluation | None:
        left = None if self.budget is None else self.budget - self.spent
        ev = evaluate(m, self.tol, rule=self.rule, max_evaluations=left)
        self.spent += ev.evaluations
        if left is not None and (not np.isfinite(ev.loss) or self.spent > self.budget):
            self.status = OUT_OF_BUDGET
            return None
        self.rule = ev.rule
        self.note(bool(ev.converged))
        return ev


@dataclass
class Record:
    """A recorded step: tau, the means there (canonical) and their evaluation."""

    tau: int
    m: Any
    point: Any


class Descent:
    """GD from canonical means `m` at step count `tau`, advanced by `source`."""

    def __init__(self, source: Source, m: Any, step: float, tau: int = 0) -> None:
        self.source = source
        self.m = m
        self.step = step
        self.tau = tau
        self.point: Point | None = None
        self.stopped = False
        self.last_recorded = tau - 1  # a step is recorded once, however the runs are chunked

    def restart(self) -> None:
        """Evaluate the current means afresh on the next `run` (a window that counts its own
        evaluations)."""
        self.point = None

    def run(self, stop: int, record: Iterable[int] = (), into: list[Record] | None = None
            ) -> list[Record]:
        """Advance to step `stop` (or until the source stops the run), recording the steps in
        `record` that are reached (steps before the current one are ignored) into `into` (a
        new list by default), which is returned; a record is in it as soon as it is made."""
        first = max(self.tau, self.last_recorded + 1)
        marks = sorted({int(t) for t in record if first <= t <= stop})
        out: list[Record] = [] if into is None else into
        if self.stopped:
            return out
        if self.point is None:
            self.point = self.source.evaluate(self.m)
        i = 0
        while self.point is not None:
            if i < len(marks) and marks[i] == self.tau:
                out.append(Record(self.tau, self.m, self.point))
                self.last_recorded = self.tau
                i += 1
            if self.tau >= stop:
                return out
            target = marks[i] if i < len(marks) else stop
            self.m, self.point, taken = self.source.advance(self.m, self.point, self.step,
                                                            target - self.tau)
            self.tau += taken
        self.stopped = True
        return out


Progress = Callable[[int, Any], None]


def drive(descent: Descent, steps: int, record: Iterable[int], progress: Progress | None = None,
          interruptible: bool = False) -> tuple[list[Record], bool]:
    """`descent.run(steps, record)`; with `progress`, in chunks of about half a second, calling
    `progress(tau, evaluation)` after each (the steps are the same whatever the chunks). With
    `interruptible`, Ctrl-C ends the run there and returns the records made so far and True."""
    records: list[Record] = []
    marks = list(record)
    chunk = 16
    try:
        while descent.tau < steps and not descent.stopped:
            if progress is None:
                descent.run(steps, marks, into=records)
                break
            start, clock = descent.tau, time.perf_counter()
            descent.run(min(steps, start + chunk), marks, into=records)
            progress(descent.tau, descent.point)
            spent = time.perf_counter() - clock
            rate = (descent.tau - start) / max(spent, 1e-6)
            chunk = int(min(max(16, 0.5 * rate), 1 << 20))
    except KeyboardInterrupt:
        if not interruptible:
            raise
        return records, True
    return records, False


def record_taus(steps: int, stride: int | None) -> np.ndarray:
    """0, every multiple of `stride`, every power of two, and `steps` (sorted, unique)."""
    taus = {0, steps}
    taus.update(1 << i for i in range(steps.bit_length()) if (1 << i) <= steps)
    if stride:
        taus.update(range(0, steps + 1, stride))
    return np.array(sorted(taus), dtype=np.int64)


def validate_step(eta: float, steps: int, stride: int | None) -> None:
    if not np.isfinite(eta) or eta <= 0:
        raise UsageError(f"step eta must be a finite number > 0, got {eta}")
    if int(steps) != steps or steps < 1:
        raise UsageError(f"steps must be a whole number >= 1, got {steps}")
    if stride is not None and (int(stride) != stride or stride < 1):
        raise UsageError(f"stride must be a whole number >= 1, got {stride}")


def validate_convention(convention: str) -> None:
    if convention not in CONVENTIONS:
        raise UsageError(f"convention must be one of {', '.join(CONVENTIONS)}, got {convention!r}")


@dataclass
class Trajectory:
    """A GD run. `frame` has one row per recorded tau: tau, loss, then the error of the loss,
    grad_norm and the error of the gradient (named by `errors`: "loss_error"/"grad_error" for
    the exact engines' bounds, "loss_se"/"grad_se" for sampling standard errors), then
    mu_{i}_{j} (mean i, coordinate j, data coordinates), dist_{i} (distance of mean i to the
    truth) and, for arbitrary-precision runs, "engine" ("mp<dps>" or "float64"; numbers are mpf
    in mpmath rows; `highprec.dynamics.decimal_frame` writes them as decimals). `status`: see
    `OK` and the reasons above. Arbitrary-precision runs also set `dps`, `digits` and
    `handover_tau` (the step float64 took over, or None)."""

    frame: pd.DataFrame
    truth: np.ndarray
    t: Any
    eta: Any
    convention: str
    steps: int
    status: str = OK
    final_means: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    dps: int | None = None
    digits: int | None = None
    handover_tau: int | None = None

    @property
    def n(self) -> int:
        return self.final_means.shape[0]

    def means_at(self, row: int) -> np.ndarray:
        cols = [c for c in self.frame.columns if c.startswith("mu_")]
        return self.frame[cols].iloc[row].to_numpy(dtype=object if self.dps else float
                                                   ).reshape(self.n, -1)

    def float_frame(self) -> pd.DataFrame:
        """The frame with every number as float64 (tiny spreads round away)."""
        out = self.frame.copy()
        for c in out.columns:
            if c not in ("tau", "engine"):
                out[c] = [float(x) for x in out[c]]
        return out


ERROR_COLUMNS = {"bound": ("loss_error", "grad_error"), "sampling": ("loss_se", "grad_se")}


def columns(n: int, d: int, errors: str = "bound", engine: bool = False) -> list[str]:
    loss_err, grad_err = ERROR_COLUMNS[errors]
    return ["tau", "loss", loss_err, "grad_norm", grad_err,
            *[f"mu_{i}_{j}" for i in range(n) for j in range(d)],
            *[f"dist_{i}" for i in range(n)], *(["engine"] if engine else [])]


def float_row(tau: int, m: np.ndarray, point: Point, star: np.ndarray, t: float) -> list[Any]:
    """A float64 row: data-space means and distances; the gradient and its error with respect
    to the data-space means (d / d mu_tilde = e^{-t} d / dm)."""
    data = from_canonical(m, star, t)
    dist = np.linalg.norm(data - star, axis=1)
    scale = np.exp(-t)
    return [tau, point.loss, point.loss_error, scale * safe_norm(point.grad),
            scale * point.grad_error, *data.reshape(-1), *dist]


def frame_of(rows: Sequence[Sequence[Any]], cols: list[str]) -> pd.DataFrame:
    if rows and all(not isinstance(v, str) and not hasattr(v, "_mpf_") for v in rows[0]):
        frame = pd.DataFrame(np.array(rows, dtype=float), columns=cols)
    else:
        frame = pd.DataFrame(list(rows), columns=cols)
    frame["tau"] = frame["tau"].astype(np.int64)
    return frame


def run_gd(means: object, eta: float, steps: int, *, truth: object | None = None, t: float = 0.0,
           convention: str = "canonical", stride: int | None = None,
           tol: float | None = None, progress: Progress | None = None,
           interruptible: bool = False) -> Trajectory:
    """Run `steps` GD steps from data-space `means` (n, d) on the float64 engine; record at
    `record_taus`. `tol`: the cubature's relative tolerance (default: the engine's, 1e-11 for
    k <= 2, 1e-9 for k = 3). `progress`, `interruptible`: see `drive` (an interrupted run has
    status INTERRUPTED and the rows made until then)."""
    mu = as_means(means)
    n, d = mu.shape
    star = as_truth(truth, d)
    t = as_noise_level(t)
    validate_step(float(eta), steps, stride)
    validate_convention(convention)
    step = eta if convention == "canonical" else eta * np.exp(-2.0 * t)
    source = EngineSource(tol)
    descent = Descent(source, to_canonical(mu, star, t), step)
    records, interrupted = drive(descent, int(steps), record_taus(int(steps), stride), progress,
                                 interruptible)
    rows = [float_row(r.tau, r.m, r.point, star, t) for r in records]
    return Trajectory(frame_of(rows, columns(n, d)), star, t, float(eta), convention,
                      int(steps), INTERRUPTED if interrupted else source.status,
                      from_canonical(descent.m, star, t))
