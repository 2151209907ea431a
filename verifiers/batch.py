"""Many GD runs at once for means on the line (d = 1): the phase-boundary bisections and the
random-initialisation probabilities are thousands of independent short runs.

A single k = 1 run is bound by numpy's per-call overhead (a few hundred microseconds a step for
a few hundred nodes), so the runs of one batch advance together: every run keeps its own frozen
panel rule (`collinear.LineRule`, built by the adaptive cubature exactly as in `run_gd`, without
the Gauss-Hermite shortcut so every rule has panels), the nodes of all runs go through the shared
integrand in one call with one configuration per node, and the calibrated Gauss-Kronrod estimate
is reduced per run. Each run's rule is checked for drift and its estimate against the tolerance
at every step, as in `run_gd`; a run that fails either is evaluated alone by the adaptive
cubature, which gives it a new rule. The result is the list of `Trajectory` objects `run_gd`
would give (the same up to rounding: sums are taken in another order).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scoreclaims.verifiers import collinear
from scoreclaims.verifiers.dynamics import (
    INACCURATE,
    NON_FINITE,
    OK,
    Descent,
    StepSource,
    Trajectory,
    columns,
    float_row,
    frame_of,
    record_taus,
    run_gd,
    validate_convention,
    validate_step,
)
from scoreclaims.verifiers.formulation import score_integrands
from scoreclaims.verifiers.geometry import (
    as_means,
    as_noise_level,
    as_truth,
    from_canonical,
    to_canonical,
)
from scoreclaims.verifiers.population import (
    ROUNDING,
    Evaluation,
    _group_parts,
    cubature,
    default_tol,
    evaluate,
)
from scoreclaims.verifiers.quadrature import SAFE_SQ_HIGH, SAFE_SQ_LOW, FrozenRule


def run_gd_batch(list_of_means: Sequence[object], eta: float, steps: int, *,
                 truth: object | None = None, t: float = 0.0, convention: str = "canonical",
                 stride: int | None = None, tol: float | None = None) -> list[Trajectory]:
    """`run_gd` for every start in `list_of_means` (each (n, d) data-space means; one truth,
    noise level and step for all). On the numpy backend, starts with d = 1 run batched by n
    (`LineBatchSource`), the others one by one; on the jax backend every start runs alone, its
    rule reuses in compiled loops (`EngineSource`), which outpaces the stacked numpy batch."""
    from scoreclaims.verifiers.backend import current

    starts = [as_means(m) for m in list_of_means]
    validate_step(float(eta), steps, stride)
    t = as_noise_level(t)
    validate_convention(convention)
    out: list[Trajectory | None] = [None] * len(starts)
    groups: dict[int, list[int]] = {}
    stacked = current() == "numpy"
    for i, mu in enumerate(starts):
        if mu.shape[1] == 1 and stacked:
            groups.setdefault(mu.shape[0], []).append(i)
        else:
            out[i] = run_gd(mu, eta, steps, truth=truth, t=t, convention=convention,
                            stride=stride, tol=tol)
    star = as_truth(truth, 1)
    step = eta if convention == "canonical" else eta * np.exp(-2.0 * t)
    record = record_taus(int(steps), stride)
    for idx in groups.values():
        m0 = np.stack([to_canonical(starts[i], star, t)[:, 0] for i in idx])
        source = LineBatchSource(len(idx), m0.shape[1], tol)
        descent = Descent(source, m0, step)
        records = descent.run(int(steps), record)
        n = m0.shape[1]
        for r, i in enumerate(idx):
            rows = [float_row(rec.tau, rec.m[r][:, None], rec.point.run(r), star, t)
                    for rec in records if rec.point.live[r]]
            out[i] = Trajectory(frame_of(rows, columns(n, 1)), star, t, float(eta), convention,
                                int(steps), source.statuses[r],
                                from_canonical(descent.m[r][:, None], star, t))
    return out  # type: ignore[return-value]


class _Stack:
    """The panel rules of the runs being advanced, concatenated."""

    def __init__(self, rules: list[collinear.LineRule], runs: np.ndarray):
        self.runs = runs
        self.points = np.concatenate([r.points for r in rules])
        self.scaled = np.concatenate([r.scaled for r in rules])[:, None]
        sizes = np.array([r.n_nodes for r in rules])
        self.node_run = np.repeat(np.arange(len(rules)), sizes)
        panels = sizes // rules[0].kg.shape[1]
        self.panel_start = np.concatenate([[0], np.cumsum(panels)[:-1]])
        self.kg = rules[0].kg


@dataclass
class BatchPoint:
    """The evaluations of a batch of runs (canonical line coordinates, (runs, n))."""

    loss: np.ndarray
    grad: np.ndarray
    loss_error: np.ndarray
    grad_error: np.ndarray
    live: np.ndarray  # the runs evaluated (the others stopped, non-finite)
    converged: bool = True

    def run(self, r: int) -> Evaluation:
        return Evaluation(float(self.loss[r]), self.grad[r][:, None], float(self.loss_error[r]),
                          float(self.grad_error[r]), 0, True)


class LineBatchSource(StepSource):
    """Runs of n means on the line, each with its own frozen rule, advanced together: the nodes
    of every fitting run through the integrand in one call, each run's estimate checked against
    `tol` and its rule against drift; a run that fails either is evaluated alone by the adaptive
    cubature, which gives it a new rule. A run whose means become non-finite stops alone."""

    def __init__(self, runs: int, n: int, tol: float | None) -> None:
        self.tol = default_tol(1) if tol is None else tol
        self.gmat = _group_parts(n, 1)[0]
        self.rules: list[collinear.LineRule | None] = [None] * runs
        self.check = np.zeros((runs, 2 * (n - 1), n))
        self.limit = np.full((runs, 2 * (n - 1)), -1.0)  # no rule yet: never fits
        self.built = np.zeros((runs, n))
        self.statuses = [OK] * runs
        self.active = np.ones(runs, dtype=bool)
        self.stack: _Stack | None = None

    def _adopt(self, r: int, rule: collinear.LineRule | None) -> None:
        self.rules[r] = rule
        if rule is None:
            self.limit[r] = -1.0
        else:
            self.check[r], self.limit[r], self.built[r] = rule.check, rule.limit, rule.coords

    def evaluate(self, m: np.ndarray) -> BatchPoint:
        runs, n = m.shape
        live = np.nonzero(self.active)[0]
        moved = np.abs(np.einsum("rcn,rn->rc", self.check[live], m[live] - self.built[live]))
        drifted = live[~np.all(moved <= self.limit[live], axis=1)]
        redo = []
        for r in drifted:  # carry the panels along with the crossings, as run_gd does
            rule = None if self.rules[r] is None else collinear.transport(self.rules[r], m[r])
            if rule is None:
                redo.append(r)
            else:
                self._adopt(r, rule)
        fit = np.setdiff1d(live, redo)
        if len(drifted):
            self.stack = None
        loss, grad = np.zeros(runs), np.zeros((runs, n))
        loss_err, grad_err = np.zeros(runs), np.zeros(runs)
        if len(fit):
            if self.stack is None or not np.array_equal(self.stack.runs, fit):
                self.stack = _Stack([self.rules[r] for r in fit], fit)  # type: ignore[misc]
            val, absval, err = _apply_stack(self.stack, m, self.tol)
            norms = (np.stack([err, self.tol * absval]) ** 2) @ self.gmat  # (2, runs, groups)
            # squares safely inside float64's range: compared as such (the engine's fast
            # path); a run near underflow or overflow, or with a non-finite value, is evaluated
            # alone on its rule by the engine, whose checks see what squares cannot
            safe = ((norms.min(axis=(0, 2)) > SAFE_SQ_LOW) & (norms.max(axis=(0, 2)) < SAFE_SQ_HIGH)
                    & np.isfinite(val).all(axis=1))
            ok = safe & np.all(norms[0] <= norms[1], axis=1)
            good = fit[ok]
            e = err[ok] + ROUNDING * absval[ok]
            loss[good] = val[ok, 0]
            grad[good] = val[ok, 1 : 1 + n]
            loss_err[good] = e[:, 0]
            grad_err[good] = np.sqrt(np.sum(e[:, 1 : 1 + n] ** 2, axis=1))
            for r in fit[~safe]:
                ev = evaluate(m[r][:, None], self.tol, rule=self.rules[r])
                loss[r], grad[r], loss_err[r], grad_err[r] = ev.loss, ev.grad[:, 0], \
                    ev.loss_error, ev.grad_error
                if not ev.converged and self.statuses[r] == OK:
                    self.statuses[r] = INACCURATE
                self._adopt(r, ev.rule if isinstance(ev.rule, collinear.LineRule) else None)
            redo += list(fit[safe & ~ok])
        for r in redo:  # alone, with the adaptive cubature, which gives a new rule
            ev, rule = _fresh(m[r], self.tol)
            loss[r], grad[r], loss_err[r], grad_err[r] = ev.loss, ev.grad[:, 0], \
                ev.loss_error, ev.grad_error
            if not ev.converged and self.statuses[r] == OK:
                self.statuses[r] = INACCURATE
            self._adopt(r, rule)
        if redo:
            self.stack = None
        return BatchPoint(loss, grad, loss_err, grad_err, self.active.copy())

    def advance(self, m: np.ndarray, point: BatchPoint, step: float, max_steps: int
                ) -> tuple[np.ndarray, BatchPoint | None, int]:
        live = np.nonzero(self.active)[0]
        m = m.copy()
        m[live] = m[live] - step * point.grad[live]
        for r in live[~np.all(np.isfinite(m[live]), axis=1)]:
            self.statuses[r] = NON_FINITE
            self.active[r] = False
        if not self.active.any():
            return m, None, 1
        return m, self.evaluate(m), 1


def _apply_stack(stack: _Stack, m: np.ndarray, tol: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(value, |value|, error), each (runs, C), of every stacked run's rule."""
    coords = m[stack.runs][stack.node_run][:, :, None]
    fd = score_integrands(stack.points, coords) * stack.scaled
    fd3 = fd.reshape(-1, stack.kg.shape[1], fd.shape[1])
    return tuple(np.add.reduceat(x, stack.panel_start, axis=0)  # type: ignore[return-value]
                 for x in collinear.panel_estimates(fd3, stack.kg))


def _fresh(p: np.ndarray, tol: float):
    """A fresh adaptive evaluation of one run (panels, no Gauss-Hermite) and its line rule."""
    m = p[:, None]
    ev = evaluate(m, tol=tol)
    if ev.rule is not None and getattr(ev.rule, "kind", "") == "panels":
        return ev, ev.rule
    from scoreclaims.verifiers.geometry import reduce_means

    red = reduce_means(m)
    if red.k == 0:
        return ev, None
    res = cubature(red, tol, hermite=False)
    rule = res.rule
    return ev, (collinear.from_panels(rule, red.basis) if isinstance(rule, FrozenRule) else None)
