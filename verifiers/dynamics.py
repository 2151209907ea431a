"""Gradient descent on the exact population loss, recorded as a trajectory.

Step conventions (PAPER.md sec. 1): "canonical" (default) steps m <- m - eta grad_m L in the
canonical coordinates m_i = e^{-t} (mu_tilde_i - mu_tilde_star); "data" steps on the data-space
means, mu_tilde <- mu_tilde - eta grad_{mu_tilde} L, which is a step eta e^{-2t} in m. At t = 0 the
two coincide.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
from scoreclaims.verifiers.population import evaluate

CONVENTIONS = ("canonical", "data")


def record_taus(steps: int, stride: int | None) -> np.ndarray:
    """0, every multiple of `stride`, every power of two, and `steps` (sorted, unique)."""
    taus = {0, steps}
    taus.update(1 << i for i in range(steps.bit_length()) if (1 << i) <= steps)
    if stride:
        taus.update(range(0, steps + 1, stride))
    return np.array(sorted(taus), dtype=np.int64)


@dataclass
class Trajectory:
    """A GD run. `frame` has one row per recorded tau: tau, loss, loss_error, grad_norm,
    grad_error, then mu_{i}_{j} (mean i, coordinate j, data coordinates) and dist_{i} (distance of
    mean i to the truth). `status`: "ok", "inaccurate" (some cubature missed its tolerance; the
    rows say where through their error columns) or "non-finite" (stopped early)."""

    frame: pd.DataFrame
    truth: np.ndarray
    t: float
    eta: float
    convention: str
    steps: int
    status: str = "ok"
    final_means: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    @property
    def n(self) -> int:
        return self.final_means.shape[0]

    def means_at(self, row: int) -> np.ndarray:
        cols = [c for c in self.frame.columns if c.startswith("mu_")]
        return self.frame[cols].iloc[row].to_numpy().reshape(self.n, -1)


def validate_step(eta: float, steps: int, stride: int | None) -> None:
    if not np.isfinite(eta) or eta <= 0:
        raise UsageError(f"step eta must be a finite number > 0, got {eta}")
    if int(steps) != steps or steps < 1:
        raise UsageError(f"steps must be a whole number >= 1, got {steps}")
    if stride is not None and (int(stride) != stride or stride < 1):
        raise UsageError(f"stride must be a whole number >= 1, got {stride}")


def run_gd(means: object, eta: float, steps: int, *, truth: object | None = None, t: float = 0.0,
           convention: str = "canonical", stride: int | None = None,
           tol: float | None = None) -> Trajectory:
    """Run `steps` GD steps from data-space `means` (n, d); record at `record_taus`.
    `tol`: the cubature's relative tolerance (default: the engine's, 1e-11 for k <= 2, 1e-9
    for k = 3)."""
    mu = as_means(means)
    n, d = mu.shape
    star = as_truth(truth, d)
    t = as_noise_level(t)
    validate_step(float(eta), steps, stride)
    if convention not in CONVENTIONS:
        raise UsageError(f"convention must be one of {', '.join(CONVENTIONS)}, got {convention!r}")
    step = eta if convention == "canonical" else eta * np.exp(-2.0 * t)
    m = to_canonical(mu, star, t)
    record = record_taus(int(steps), stride)
    rows: list[np.ndarray] = []
    status = "ok"
    rule = None
    nxt = 0
    for tau in range(int(steps) + 1):
        ev = evaluate(m, tol=tol, rule=rule)
        rule = ev.rule
        if not ev.converged and status == "ok":
            status = "inaccurate"
        if tau == record[nxt]:
            data = from_canonical(m, star, t)
            dist = np.linalg.norm(data - star, axis=1)
            scale = np.exp(-t)  # d/d mu_tilde = e^{-t} d/dm
            rows.append(np.concatenate([[tau, ev.loss, ev.loss_error,
                                         scale * np.linalg.norm(ev.grad), scale * ev.grad_error],
                                        data.reshape(-1), dist]))
            nxt += 1
        if tau == steps:
            break
        m = m - step * ev.grad
        if not np.isfinite(m).all():
            status = "non-finite"
            break
    columns = ["tau", "loss", "loss_error", "grad_norm", "grad_error",
               *[f"mu_{i}_{j}" for i in range(n) for j in range(d)],
               *[f"dist_{i}" for i in range(n)]]
    frame = pd.DataFrame(np.array(rows), columns=columns)
    frame["tau"] = frame["tau"].astype(np.int64)
    return Trajectory(frame, star, t, float(eta), convention, int(steps), status,
                      from_canonical(m, star, t))
