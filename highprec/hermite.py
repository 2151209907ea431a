"""Gauss-Hermite rules for E_{y ~ N(0, 1)} at any precision (probabilists' weight e^{-y^2/2}).

Nodes are the roots of He_q, found by Newton's method from numpy's float64 nodes (He_q'(x) =
q He_{q-1}(x), three-term recurrence He_{j+1} = x He_j - j He_{j-1}); weights are
q! / (q He_{q-1}(x_i))^2, which sum to 1. Rules are cached per (order, dps).
"""

from __future__ import annotations

from functools import cache

import mpmath
import numpy as np

ORDERS = (4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128)  # the ladder the adaptive evaluation climbs


def _hermite_pair(x: mpmath.mpf, q: int) -> tuple[mpmath.mpf, mpmath.mpf]:
    """(He_q(x), He_{q-1}(x))."""
    prev, cur = mpmath.mpf(1), x
    for j in range(1, q):
        prev, cur = cur, x * cur - j * prev
    return cur, prev


@cache
def gauss_hermite(order: int, dps: int) -> tuple[tuple, tuple]:
    """(nodes, weights) of the `order`-point rule, mpf at `dps` digits, weights summing to 1."""
    guesses, _ = np.polynomial.hermite_e.hermegauss(order)
    nodes, weights = [], []
    with mpmath.workdps(dps + 10):
        tol = mpmath.mpf(10) ** (-dps - 5)
        fact = mpmath.factorial(order)
        for g in guesses[: (order + 1) // 2]:  # non-positive half; mirror the rest
            x = mpmath.mpf(float(g))
            for _ in range(200):
                h, h1 = _hermite_pair(x, order)
                step = h / (order * h1)
                x -= step
                if abs(step) <= tol * max(1, abs(x)):
                    break
            _, h1 = _hermite_pair(x, order)
            nodes.append(x)
            weights.append(fact / (order * h1) ** 2)
        half = len(nodes) - (order % 2)
        full_nodes = nodes + [-x for x in reversed(nodes[:half])]
        full_weights = weights + list(reversed(weights[:half]))
        if order % 2:
            full_nodes[len(nodes) - 1] = mpmath.mpf(0)
    with mpmath.workdps(dps):
        return tuple(+x for x in full_nodes), tuple(+w for w in full_weights)


@cache
def tensor_rule(order: int, k: int, dps: int) -> tuple[np.ndarray, np.ndarray]:
    """(points (order^k, k), weights (order^k,)) as object arrays: the k-fold product rule."""
    x, w = gauss_hermite(order, dps)
    grids = np.meshgrid(*[np.array(x, dtype=object)] * k, indexing="ij")
    wgrids = np.meshgrid(*[np.array(w, dtype=object)] * k, indexing="ij")
    points = np.stack([g.reshape(-1) for g in grids], axis=1)
    weights = np.prod(np.stack([g.reshape(-1) for g in wgrids], axis=1), axis=1)
    return points, weights
