"""The population score-matching loss and its gradient, written once, as integrands.

In the reduced coordinates of `verifiers.geometry` (means p_j in R^k, common offset c_perp,
y ~ N(0, I_k)) the softmax weights are w_j(y) = softmax_j(y.p_j - |p_j|^2/2), u = sum_j w_j p_j,
and with s_j = (p_j - u).u (PAPER.md, sec. 1, derived):

    L              = E |u|^2 + |c_perp|^2
    grad_{m_j} L   = Q g_j + gamma_j c_perp,
    g_j            = 2 E[ w_j (u + s_j (y - p_j)) ],      gamma_j = 2 E[ w_j (1 - s_j) ].

p_j - u is formed as sum_l w_l (p_j - p_l), so s_j keeps its relative accuracy where w_j -> 1.

One source, three kinds of numbers. Every function takes the array namespace `xp` (numpy, the
default, or `jax.numpy`) and the exponential `exp` (default `xp.exp`): numpy float64 arrays,
numpy object arrays of mpmath numbers or arb/acb balls (`exp=` a vectorised exp, `xp` numpy),
and traced JAX arrays (under jit and vmap: no in-place writes, no branching on values) all run
the expressions below. An explicit namespace rather than array-api-compat: object arrays of
mpmath numbers are not array-API arrays (their namespace would be numpy, whose exp cannot take
them), the few operations used here (matmul, broadcasting, sums, max, concatenate) are spelled
alike in numpy and jax.numpy, and the float64 hot path (arrays of tens of nodes, where a call's
overhead is the cost) pays no namespace look-up. Where the two namespaces want different
primitives (sums over a short first axis, the per-point shift of the logits) small helpers
choose; the expressions themselves are shared.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from types import ModuleType
from typing import Any

import numpy as np

Exp = Callable[[Any], Any]


@cache
def _ones(n: int) -> np.ndarray:
    ones = np.ones(n)
    ones.flags.writeable = False
    return ones


def _sum_first(x: Any, xp: ModuleType = np) -> Any:
    """Sum over the first axis: a single term as it is, a numpy float matrix as a product with
    ones (the engine's hot path runs on small arrays, where numpy's per-call overhead
    dominates)."""
    if len(x) == 1:
        return x[0]
    if xp is np and x.ndim == 2 and x.dtype != object:
        return _ones(len(x)) @ x
    return x.sum(axis=0)


def _shift_logits(logits: Any, xp: ModuleType) -> Any:
    """Logits shifted by the largest per point against overflow (the softmax is
    shift-invariant); unshifted for numbers without an order (acb balls, which cannot
    overflow)."""
    if xp is not np:
        return logits - xp.max(logits, axis=0)
    try:
        return logits - logits.max(axis=0)
    except TypeError:
        return logits


def _contiguous(x: Any, xp: ModuleType) -> Any:
    return np.ascontiguousarray(x) if xp is np else x


def _logits_t(y: Any, coords: Any, xp: ModuleType) -> Any:
    """(n, N): y.p_j - |p_j|^2 / 2, shifted per point (`_shift_logits`)."""
    if coords.ndim == 3:  # one configuration per point: (n, k, N)
        pt = _contiguous(coords.transpose(1, 2, 0), xp)
        logits = _sum_first((pt * (y.T - 0.5 * pt)).transpose(1, 0, 2), xp)
    else:
        logits = coords @ y.T - (0.5 * _sum_first((coords * coords).T, xp))[:, None]
    return _shift_logits(logits, xp)


def _softmax_t(y: Any, coords: Any, exp: Exp, xp: ModuleType) -> Any:
    e = exp(_logits_t(y, coords, xp))
    return e / _sum_first(e, xp)


def softmax_weights(y: Any, coords: Any, exp: Exp | None = None, *,
                    xp: ModuleType = np) -> Any:
    """w (N, n) at points y (N, k) for means coords (n, k) (or (N, n, k), see
    `score_integrands`)."""
    return _softmax_t(y, coords, xp.exp if exp is None else exp, xp).T


def n_components(n: int, k: int) -> int:
    """Integrand components: the loss density, g (n x k), gamma (n)."""
    return 1 + n * k + n


def score_integrands(y: Any, coords: Any, exp: Exp | None = None, *,
                     xp: ModuleType = np) -> Any:
    """(N, 1 + n k + n): columns |u|^2, then 2 w_j (u + s_j (y - p_j)) row-major in (j, axis),
    then 2 w_j (1 - s_j). Their Gaussian expectations assemble into the loss and gradient.
    `coords` (n, k), or (N, n, k): a configuration per point (many GD runs in one call).
    (Computed point-last by `score_integrands_t`, which keeps loops long; returned
    transposed, a view in numpy.)"""
    return score_integrands_t(y, coords, exp, xp=xp).T


def score_integrands_t(y: Any, coords: Any, exp: Exp | None = None, *,
                       xp: ModuleType = np) -> Any:
    """`score_integrands` point-last: (1 + n k + n, N)."""
    exp = xp.exp if exp is None else exp
    n, k = coords.shape[-2:]
    w = _softmax_t(y, coords, exp, xp)  # (n, N)
    if coords.ndim == 3:
        at = _contiguous(coords.transpose(1, 2, 0), xp)  # p_j at each point, (n, k, N)
        u = _sum_first(at * w[:, None, :], xp)
        pairwise = at[None] - at[:, None]  # [l, j] = p_j - p_l
        gap = _sum_first(w[:, None, None, :] * pairwise, xp)  # p_j - u = sum_l w_l (p_j - p_l)
    else:
        at = coords[:, :, None]
        u = coords.T @ w  # (k, N)
        pairwise = coords[None, :, :] - coords[:, None, :]  # [l, j] = p_j - p_l
        gap = (pairwise.reshape(n, n * k).T @ w).reshape(n, k, -1)  # p_j - u, as one matmul
    s = _sum_first((gap * u).transpose(1, 0, 2), xp)  # (n, N)
    w2 = 2 * w
    if xp is not np:
        g = w2[:, None, :] * (u + s[:, None, :] * (y.T - at))  # 2 w_j (u + s_j (y - p_j))
        return xp.concatenate([_sum_first(u * u, xp)[None], g.reshape(n * k, -1), w2 - w2 * s])
    # numpy: the same operations, operand for operand, written in place into one output (no
    # temporaries, no concatenation: the hot path's arrays are small or k = 3 large).
    out = np.empty((1 + n * k + n, w.shape[1]), dtype=w.dtype)
    out[0] = _sum_first(u * u)
    g = out[1 : 1 + n * k].reshape(n, k, -1)  # a view: g is computed where it is returned
    np.subtract(y.T, at, out=g)
    np.multiply(s[:, None, :], g, out=g)
    np.add(u, g, out=g)
    np.multiply(w2[:, None, :], g, out=g)
    last = out[1 + n * k :]
    np.multiply(w2, s, out=last)  # 2 w_j - 2 w_j s_j
    np.subtract(w2, last, out=last)
    return out


def split_components(values: Any, n: int, k: int) -> tuple[Any, Any, Any]:
    """(E|u|^2, g (n, k), gamma (n,)) from the integrated component vector."""
    return values[0], values[1 : 1 + n * k].reshape(n, k), values[1 + n * k :]


def stein_integrands(y: Any, basis: Any, coords: Any, perp: Any, exp: Exp | None = None, *,
                     xp: ModuleType = np) -> Any:
    """(N, n d) the Stein form of the gradient (PAPER.md, Lemma 2.2 as reported), in R^d:
    2 [w_k v + w_k sum_j w_j m_j m_j.m_k - 2 w_k v v.m_k - 2 w_k sum_j w_j (v.m_j) m_j
       + 3 w_k |v|^2 v], evaluated independently of `score_integrands`."""
    w = softmax_weights(y, coords, exp, xp=xp)
    m = coords @ basis.T + perp  # (n, d)
    v = w @ m  # (N, d)
    gram = m @ m.T
    vm = v @ m.T  # v.m_j, (N, n)
    t1 = v
    t2 = xp.einsum("Nj,jk,jd->Nkd", w, gram, m)  # sum_j w_j (m_j.m_k) m_j
    t3 = vm[:, :, None] * v[:, None, :]  # (v.m_k) v
    t4 = (w * vm) @ m  # sum_j w_j (v.m_j) m_j, (N, d)
    t5 = xp.sum(v * v, axis=1)[:, None] * v
    inner = t1[:, None, :] + t2 - 2 * t3 - 2 * t4[:, None, :] + 3 * t5[:, None, :]
    return (2 * w[:, :, None] * inner).reshape(len(y), -1)
