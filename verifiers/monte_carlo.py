"""Monte-Carlo estimates of the population loss and gradient, and GD driven by them (the paper's
experiment E1 uses batches of 20,000 samples).

The estimates use the engine's integrands (`verifiers.formulation.score_integrands`) in the frame
of R^d itself: with the identity basis (k = d) the reduced means are the canonical means, there is
no common offset, and the integrated components are the loss density and the gradient g_j
directly. So the sampled and the exact gradients share one formula; only the expectation differs
(sample mean of `batch` draws x ~ N(0, I_d) versus the engine's cubature).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scoreclaims.verifiers.dynamics import (
    Descent,
    StepSource,
    Trajectory,
    columns,
    float_row,
    frame_of,
    record_taus,
    validate_step,
)
from scoreclaims.verifiers.formulation import score_integrands, split_components
from scoreclaims.verifiers.geometry import as_means

BATCH = 20_000


@dataclass(frozen=True)
class MCEstimate:
    """Sample means of the loss and the gradient (n, d) over one batch, with the standard errors
    of the loss and of every gradient component (sample standard deviation / sqrt(batch))."""

    loss: float
    grad: np.ndarray
    loss_se: float
    grad_se: np.ndarray


def mc_estimate(m: np.ndarray, rng: np.random.Generator, batch: int = BATCH) -> MCEstimate:
    """One batch of x ~ N(0, I_d) drawn from `rng`: loss and gradient at canonical means m."""
    m = np.asarray(m, dtype=float)
    n, d = m.shape
    x = rng.standard_normal((batch, d))
    vals = score_integrands(x, m)
    mean = vals.mean(axis=0)
    se = vals.std(axis=0, ddof=1) / np.sqrt(batch)
    loss, g, _ = split_components(mean, n, d)
    loss_se, g_se, _ = split_components(se, n, d)
    return MCEstimate(float(loss), g, float(loss_se), g_se)


def mc_gradient(m: np.ndarray, rng: np.random.Generator, batch: int = BATCH) -> np.ndarray:
    """The sampled gradient 2 E[w_k (v + (x - m_k)((m_k - v).v))] at canonical means m (n, d)."""
    return mc_estimate(m, rng, batch).grad


class MonteCarloSource(StepSource):
    """Sampled gradients: one fresh batch of `batch` draws from `rng` per evaluation (the loss
    and gradient errors are the batch's standard errors, the latter in norm over all n d
    components)."""

    def __init__(self, rng: np.random.Generator, batch: int = BATCH) -> None:
        self.rng = rng
        self.batch = batch

    def evaluate(self, m: np.ndarray) -> MCPoint:
        est = mc_estimate(m, self.rng, self.batch)
        return MCPoint(est.loss, est.grad, est.loss_se, float(np.linalg.norm(est.grad_se)))


@dataclass(frozen=True)
class MCPoint:
    loss: float
    grad: np.ndarray
    loss_error: float  # standard error
    grad_error: float  # standard error, in norm
    converged: bool = True


def run_gd_mc(means: object, eta: float, steps: int, *, seed: int, batch: int = BATCH,
              stride: int | None = None) -> Trajectory:
    """GD m <- m - eta g_MC from canonical `means` (truth at the origin, t = 0), one fresh batch
    per step from `np.random.default_rng(seed)`. Rows at `verifiers.dynamics.record_taus`:
    tau, loss (the batch's estimate at that step), loss_se, grad_norm, grad_se (standard errors)
    and the means and distances of `verifiers.dynamics.run_gd`; the run stops at non-finite
    means (status "non-finite")."""
    m = as_means(means).copy()
    n, d = m.shape
    validate_step(float(eta), steps, stride)
    source = MonteCarloSource(np.random.default_rng(seed), batch)
    descent = Descent(source, m, float(eta))
    star = np.zeros(d)
    rows = [float_row(r.tau, r.m, r.point, star, 0.0)
            for r in descent.run(int(steps), record_taus(int(steps), stride))]
    return Trajectory(frame_of(rows, columns(n, d, errors="sampling")), star, 0.0, float(eta),
                      "canonical", int(steps), source.status, descent.m)
