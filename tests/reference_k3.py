"""Independent high-accuracy float64 reference for k = 3 (tests only).

mpmath nested quadrature (`tests/reference.py`) would take hours per k = 3 configuration, so the
k = 3 evidence comes from a computation that shares nothing with the engine but float64:
- the basis of the span of the mean differences is a QR factorisation (the engine uses an SVD);
- the integrand is the paper's direct d-dimensional form, written here again,
      |v(x)|^2   and   2 w_k [v + (x - m_k) ((m_k - v).v)],   v = sum_j w_j m_j,
  evaluated at x = Q y (the engine integrates reduced components u, s_j, gamma_j);
- the quadrature is a fixed tensor product of composite Gauss-Legendre rules on [-10, 10]^3
  (panels of width 1/4 on [-4, 4], 1/2 out to 7, 1 out to 10), not adaptive, no Kronrod
  extension, no Hermite rules, no skipped nodes. Two orders (6 and 9 points per panel) are
  computed; the order-9 values are reported and |Q9 - Q6| (an estimate of the order-6 error,
  so conservative for order 9) plus the Gaussian mass outside the box times a bound of the
  integrand is the error estimate.
Panels of width 1/4 resolve softmax transitions of width 1/|p_j - p_l| down to ~1/4: the
logistic's poles sit pi/|p_j - p_l| >= pi/4 off the real axis, 6 half-widths of a panel, so a
6-point Gauss rule converges like 12.6^-12 ~ 1e-13 there; the configurations keep
|p_j - p_l| <= 4, and the comparison of the two orders checks the claim.

`python tests/reference_k3.py OUT.json` recomputes `tests/data/reference_k3.json` and records
the seconds each configuration took.
"""

from __future__ import annotations

import json
import math
import sys
import time

import numpy as np

BOX = 10.0
ORDERS = (6, 9)


def axis_rule(order: int) -> tuple[np.ndarray, np.ndarray]:
    """Composite Gauss-Legendre nodes and weights (times the N(0, 1) density) on [-BOX, BOX]."""
    edges = np.unique(np.concatenate([np.arange(-10.0, -7.0, 1.0), np.arange(-7.0, -4.0, 0.5),
                                      np.arange(-4.0, 4.0, 0.25), np.arange(4.0, 7.0, 0.5),
                                      np.arange(7.0, 10.0 + 1e-9, 1.0)]))
    x, w = np.polynomial.legendre.leggauss(order)
    half = 0.5 * np.diff(edges)
    mid = 0.5 * (edges[1:] + edges[:-1])
    nodes = (mid[:, None] + half[:, None] * x).reshape(-1)
    weights = (half[:, None] * w).reshape(-1) * np.exp(-0.5 * nodes**2) / math.sqrt(2 * math.pi)
    return nodes, weights


def direct_integrand(x: np.ndarray, means: np.ndarray) -> np.ndarray:
    """(N, 1 + n d): |v|^2 and the direct-form gradient density at points x (N, d)."""
    logits = x @ means.T - 0.5 * np.einsum("jc,jc->j", means, means)
    logits -= logits.max(axis=1, keepdims=True)
    w = np.exp(logits)
    w /= w.sum(axis=1, keepdims=True)
    v = w @ means
    diff = means[:, None, :] - means[None, :, :]  # [k, j] = m_k - m_j
    mk_minus_v = np.einsum("Nj,kjc->Nkc", w, diff)  # m_k - v as sum_j w_j (m_k - m_j)
    s = np.einsum("Nkc,Nc->Nk", mk_minus_v, v)
    grad = 2 * w[:, :, None] * (v[:, None, :] + (x[:, None, :] - means[None]) * s[:, :, None])
    return np.concatenate([np.einsum("Nc,Nc->N", v, v)[:, None], grad.reshape(len(x), -1)], 1)


def _integrate(means: np.ndarray, basis: np.ndarray, order: int) -> np.ndarray:
    nodes, weights = axis_rule(order)
    g2 = np.stack(np.meshgrid(nodes, nodes, indexing="ij"), axis=-1).reshape(-1, 2)
    w2 = np.outer(weights, weights).reshape(-1)
    partial = []
    for y0, w0 in zip(nodes, weights, strict=True):  # one slab of the first axis at a time
        y = np.concatenate([np.full((len(g2), 1), y0), g2], axis=1)
        f = direct_integrand(y @ basis.T, means)
        partial.append(w0 * (w2 @ f))
    stacked = np.array(partial)
    return np.array([math.fsum(col) for col in stacked.T])


def k3_reference(means_list: list[list[float]]) -> dict:
    """Loss, gradient (n x d) and absolute error estimates for means spanning 3 dimensions."""
    means = np.array(means_list, dtype=float)
    n, d = means.shape
    q, r = np.linalg.qr((means[1:] - means[0]).T)
    rank = int(np.sum(np.abs(np.diag(r)) > 1e-12 * np.abs(means).max()))
    if rank != 3 or q.shape[1] != 3:
        raise ValueError("k3_reference needs means whose differences span 3 dimensions")
    low, high = (_integrate(means, q, order) for order in ORDERS)
    big = float(np.max(np.linalg.norm(means, axis=1)))
    bound = max(big**2, 2 * (big + 2 * big**2 * (math.sqrt(3) * BOX + big)))  # |v|, |s_k|
    outside = 1 - (1 - math.erfc(BOX / math.sqrt(2))) ** 3
    err = np.abs(high - low) + bound * outside + 64 * np.finfo(float).eps * np.abs(high)
    grad_err = float(np.linalg.norm(err[1:]))
    return {"loss": float(high[0]), "gradient": high[1:].reshape(n, d).tolist(),
            "loss_error": float(err[0]), "grad_error": grad_err,
            "orders_gap_rel": [float(abs(high[0] - low[0]) / abs(high[0])),
                               float(np.linalg.norm(high[1:] - low[1:])
                                     / np.linalg.norm(high[1:]))]}


def fixture_configurations() -> list[dict]:
    """Seeded k = 3 configurations (d = 3): thin (E1-like, separated along one axis with 1e-7
    and 1e-2 perpendicular deviations), clustered (the E1 start), separated (a tetrahedron and
    four standard normal means)."""
    rng = np.random.default_rng(20261129)
    line = np.array([6.0, 5.1, 6.9, 4.2, 7.5])
    return [
        {"kind": "thin-1e-7", "means": np.c_[line, 1e-7 * rng.normal(size=(5, 2))].tolist()},
        {"kind": "thin-1e-2", "means": np.c_[line - 3.0, 1e-2 * rng.normal(size=(5, 2))].tolist()},
        {"kind": "clustered-e1",
         "means": (np.array([6.0, 0.0, 0.0]) + 1e-7 * rng.normal(size=(5, 3))).tolist()},
        {"kind": "separated-tetrahedron",
         "means": (0.9 * np.array([[1.0, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]])
                   + np.array([0.4, -0.3, 0.2])).tolist()},
        {"kind": "separated-normal", "means": rng.normal(size=(4, 3)).round(6).tolist()},
    ]


def main() -> None:
    out = []
    for cfg in fixture_configurations():
        start = time.time()
        ref = k3_reference(cfg["means"])
        out.append({**cfg, **ref, "seconds": round(time.time() - start, 1)})
        print(cfg["kind"], out[-1]["seconds"], ref["orders_gap_rel"], flush=True)
        with open(sys.argv[1], "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
