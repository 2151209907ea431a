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
import pandas as pd

from scoreclaims.verifiers.dynamics import record_taus, validate_step
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


def run_gd_mc(means: object, eta: float, steps: int, *, seed: int, batch: int = BATCH,
              stride: int | None = None) -> pd.DataFrame:
    """GD m <- m - eta g_MC from canonical `means` (truth at the origin, t = 0), one fresh batch
    per step from `np.random.default_rng(seed)`. Rows at `verifiers.dynamics.record_taus`:
    tau, loss (the batch's estimate at that step), loss_se, grad_norm, mu_i_j and dist_i, the
    columns of `scoreclaims.verifiers.dynamics.run_gd` without the cubature error columns."""
    m = as_means(means).copy()
    n, d = m.shape
    validate_step(float(eta), steps, stride)
    rng = np.random.default_rng(seed)
    record = record_taus(int(steps), stride)
    rows = []
    nxt = 0
    for tau in range(int(steps) + 1):
        est = mc_estimate(m, rng, batch)
        if tau == record[nxt]:
            rows.append([tau, est.loss, est.loss_se, float(np.linalg.norm(est.grad)),
                         *m.reshape(-1), *np.linalg.norm(m, axis=1)])
            nxt += 1
        if tau == steps:
            break
        m = m - eta * est.grad
        if not np.all(np.isfinite(m)):
            break
    columns = ["tau", "loss", "loss_se", "grad_norm",
               *[f"mu_{i}_{j}" for i in range(n) for j in range(d)],
               *[f"dist_{i}" for i in range(n)]]
    frame = pd.DataFrame(rows, columns=columns)
    frame["tau"] = frame["tau"].astype(np.int64)
    return frame
