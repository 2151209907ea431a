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

import numpy as np
import pandas as pd

from scoreclaims.verifiers import collinear
from scoreclaims.verifiers.dynamics import (
    CONVENTIONS,
    Trajectory,
    record_taus,
    run_gd,
    validate_step,
)
from scoreclaims.verifiers.errors import UsageError
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
    _group_parts,
    cubature,
    default_tol,
    evaluate,
)
from scoreclaims.verifiers.quadrature import FrozenRule


def run_gd_batch(list_of_means: Sequence[object], eta: float, steps: int, *,
                 truth: object | None = None, t: float = 0.0, convention: str = "canonical",
                 stride: int | None = None, tol: float | None = None) -> list[Trajectory]:
    """`run_gd` for every start in `list_of_means` (each (n, d) data-space means; one truth,
    noise level and step for all). Starts with d = 1 run batched by n, the others one by one."""
    starts = [as_means(m) for m in list_of_means]
    validate_step(float(eta), steps, stride)
    t = as_noise_level(t)
    if convention not in CONVENTIONS:
        raise UsageError(f"convention must be one of {', '.join(CONVENTIONS)}, got {convention!r}")
    out: list[Trajectory | None] = [None] * len(starts)
    groups: dict[int, list[int]] = {}
    for i, mu in enumerate(starts):
        if mu.shape[1] == 1:
            groups.setdefault(mu.shape[0], []).append(i)
        else:
            out[i] = run_gd(mu, eta, steps, truth=truth, t=t, convention=convention,
                            stride=stride, tol=tol)
    if groups:
        star = as_truth(truth, 1)
        step = eta if convention == "canonical" else eta * np.exp(-2.0 * t)
        for idx in groups.values():
            m0 = np.stack([to_canonical(starts[i], star, t)[:, 0] for i in idx])
            for i, traj in zip(idx, _run_line(m0, step, int(steps), record_taus(int(steps), stride),
                                              tol, star, t, float(eta), convention), strict=True):
                out[i] = traj
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


def _run_line(m0: np.ndarray, step: float, steps: int, record: np.ndarray, tol: float | None,
              star: np.ndarray, t: float, eta: float, convention: str) -> list[Trajectory]:
    runs, n = m0.shape
    tol = default_tol(1) if tol is None else tol
    gmat = _group_parts(n, 1)[0]
    m = m0.copy()
    rules: list[collinear.LineRule | None] = [None] * runs
    check = np.zeros((runs, 2 * (n - 1), n))
    limit = np.full((runs, 2 * (n - 1)), -1.0)  # no rule yet: never fits
    built = np.zeros((runs, n))
    status = ["ok"] * runs
    active = np.ones(runs, dtype=bool)
    rows: list[list[np.ndarray]] = [[] for _ in range(runs)]
    stack: _Stack | None = None
    nxt = 0
    for tau in range(steps + 1):
        live = np.nonzero(active)[0]
        moved = np.abs(np.einsum("rcn,rn->rc", check[live], m[live] - built[live]))
        drifted = live[~np.all(moved <= limit[live], axis=1)]
        redo = []
        for r in drifted:  # carry the panels along with the crossings, as run_gd does
            rule = None if rules[r] is None else collinear.transport(rules[r], m[r])
            if rule is None:
                redo.append(r)
            else:
                rules[r] = rule
                check[r], limit[r], built[r] = rule.check, rule.limit, rule.coords
        fit = np.setdiff1d(live, redo)
        if len(drifted):
            stack = None
        loss = np.zeros(runs)
        grad = np.zeros((runs, n))
        loss_err = np.zeros(runs)
        grad_err = np.zeros(runs)
        if len(fit):
            if stack is None or not np.array_equal(stack.runs, fit):
                stack = _Stack([rules[r] for r in fit], fit)  # type: ignore[misc]
            val, absval, err = _apply_stack(stack, m, tol)
            norms = (np.stack([err, tol * absval]) ** 2) @ gmat  # (2, runs, groups)
            ok = np.all(norms[0] <= norms[1], axis=1)
            good = fit[ok]
            e = err[ok] + ROUNDING * absval[ok]
            loss[good] = val[ok, 0]
            grad[good] = val[ok, 1 : 1 + n]
            loss_err[good] = e[:, 0]
            grad_err[good] = np.sqrt(np.sum(e[:, 1 : 1 + n] ** 2, axis=1))
            redo += list(fit[~ok])
        for r in redo:  # alone, with the adaptive cubature, which gives a new rule
            ev, rule = _fresh(m[r], tol)
            loss[r], grad[r], loss_err[r], grad_err[r] = ev.loss, ev.grad[:, 0], \
                ev.loss_error, ev.grad_error
            if not ev.converged and status[r] == "ok":
                status[r] = "inaccurate"
            rules[r] = rule
            if rule is None:
                limit[r] = -1.0
            else:
                check[r], limit[r], built[r] = rule.check, rule.limit, rule.coords
        if redo:
            stack = None
        if tau == record[nxt]:
            data = star[0] + np.exp(t) * m
            for r in live:
                rows[r].append(np.concatenate([[tau, loss[r], loss_err[r],
                                                np.exp(-t) * np.sqrt(np.sum(grad[r] ** 2)),
                                                np.exp(-t) * grad_err[r]],
                                               data[r], np.abs(data[r] - star[0])]))
            nxt += 1
        if tau == steps:
            break
        m[live] = m[live] - step * grad[live]
        bad = live[~np.all(np.isfinite(m[live]), axis=1)]
        for r in bad:
            status[r] = "non-finite"
            active[r] = False
    columns = ["tau", "loss", "loss_error", "grad_norm", "grad_error",
               *[f"mu_{i}_0" for i in range(n)], *[f"dist_{i}" for i in range(n)]]
    out = []
    for r in range(runs):
        frame = pd.DataFrame(np.array(rows[r]), columns=columns)
        frame["tau"] = frame["tau"].astype(np.int64)
        out.append(Trajectory(frame, star, t, eta, convention, steps, status[r],
                              from_canonical(m[r][:, None], star, t)))
    return out


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
