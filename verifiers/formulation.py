"""The population score-matching loss and its gradient, written once, as integrands.

In the reduced coordinates of `verifiers.geometry` (means p_j in R^k, common offset c_perp,
y ~ N(0, I_k)) the softmax weights are w_j(y) = softmax_j(y.p_j - |p_j|^2/2), u = sum_j w_j p_j,
and with s_j = (p_j - u).u (PAPER.md, sec. 1, derived):

    L              = E |u|^2 + |c_perp|^2
    grad_{m_j} L   = Q g_j + gamma_j c_perp,
    g_j            = 2 E[ w_j (u + s_j (y - p_j)) ],      gamma_j = 2 E[ w_j (1 - s_j) ].

p_j - u is formed as sum_l w_l (p_j - p_l), so s_j keeps its relative accuracy where w_j -> 1.
The functions take the exponential as a parameter so the same expressions serve float64 arrays
and arrays of mpmath numbers (object dtype).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Exp = Callable[[np.ndarray], np.ndarray]


def softmax_weights(y: np.ndarray, coords: np.ndarray, exp: Exp = np.exp) -> np.ndarray:
    """w (N, n) at points y (N, k) for means coords (n, k)."""
    half_sq = 0.5 * np.sum(coords * coords, axis=1)
    logits = y @ coords.T - half_sq
    try:  # shift by the row maximum against overflow (the softmax is shift-invariant)
        logits = logits - np.max(logits, axis=1, keepdims=True)
    except TypeError:  # complex balls (python-flint acb, certified integrals): no ordering,
        pass  # and no overflow either
    e = exp(logits)
    return e / np.sum(e, axis=1, keepdims=True)


def n_components(n: int, k: int) -> int:
    """Integrand components: the loss density, g (n x k), gamma (n)."""
    return 1 + n * k + n


def score_integrands(y: np.ndarray, coords: np.ndarray, exp: Exp = np.exp) -> np.ndarray:
    """(N, 1 + n k + n): columns |u|^2, then 2 w_j (u + s_j (y - p_j)) row-major in (j, axis),
    then 2 w_j (1 - s_j). Their Gaussian expectations assemble into the loss and gradient."""
    w = softmax_weights(y, coords, exp)
    u = w @ coords
    n, k = coords.shape
    pairwise = coords[None, :, :] - coords[:, None, :]  # [l, j] = p_j - p_l
    gap = (w @ pairwise.reshape(n, n * k)).reshape(len(y), n, k)  # p_j - u, as one matmul
    s = np.sum(gap * u[:, None, :], axis=2)
    g = 2 * w[:, :, None] * (u[:, None, :] + s[:, :, None] * (y[:, None, :] - coords[None]))
    gamma = 2 * w * (1 - s)
    loss = np.sum(u * u, axis=1)
    return np.concatenate([loss[:, None], g.reshape(len(y), -1), gamma], axis=1)


def split_components(values: np.ndarray, n: int, k: int) -> tuple[object, np.ndarray, np.ndarray]:
    """(E|u|^2, g (n, k), gamma (n,)) from the integrated component vector."""
    return values[0], values[1 : 1 + n * k].reshape(n, k), values[1 + n * k :]


def stein_integrands(y: np.ndarray, basis: np.ndarray, coords: np.ndarray, perp: np.ndarray,
                     exp: Exp = np.exp) -> np.ndarray:
    """(N, n d) the Stein form of the gradient (PAPER.md, Lemma 2.2 as reported), in R^d:
    2 [w_k v + w_k sum_j w_j m_j m_j.m_k - 2 w_k v v.m_k - 2 w_k sum_j w_j (v.m_j) m_j
       + 3 w_k |v|^2 v], evaluated independently of `score_integrands`."""
    w = softmax_weights(y, coords, exp)
    m = coords @ basis.T + perp  # (n, d)
    v = w @ m  # (N, d)
    gram = m @ m.T
    vm = v @ m.T  # v.m_j, (N, n)
    t1 = v
    t2 = np.einsum("Nj,jk,jd->Nkd", w, gram, m)  # sum_j w_j (m_j.m_k) m_j
    t3 = vm[:, :, None] * v[:, None, :]  # (v.m_k) v
    t4 = (w * vm) @ m  # sum_j w_j (v.m_j) m_j, (N, d)
    t5 = np.sum(v * v, axis=1)[:, None] * v
    inner = t1[:, None, :] + t2 - 2 * t3 - 2 * t4[:, None, :] + 3 * t5[:, None, :]
    return (2 * w[:, :, None] * inner).reshape(len(y), -1)
