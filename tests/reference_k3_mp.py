"""Independent arbitrary-precision reference for k = 3 (tests only; imports neither `verifiers`
nor `highprec`).

Nested mpmath.quad (`tests/reference.py`) is out of reach in three dimensions, so this evaluates
the paper's direct form (PAPER.md sec. 1)
    |v(x)|^2   and   2 [w_k v + w_k (x - m_k) ((m_k - v).v)],   v = sum_j w_j m_j,
in mpmath at x = Q y, Q an orthonormal basis of the span of the mean differences (mpmath
Gram-Schmidt, `reference._basis`), and integrates over y ~ N(0, I_3) with tensor Gauss-Hermite
rules whose nodes and weights are computed in mpmath: Golub-Welsch (`mp.eigsy` on the Jacobi
matrix of the probabilists' Hermite polynomials), each node polished by Newton on He_N, each
weight from the Christoffel function 1 / sum_{j<N} He_j(y)^2 / j! (a sum of positive terms, so
tail weights keep their relative accuracy). The part of x orthogonal to the span enters the
integrand affinely with mean zero, so it integrates out exactly (d = 4 exercises this).

Only the softmax is rearranged for speed: exp(x.m_j - |m_j|^2 / 2) is the product of
exp(-|m_j|^2 / 2) and the per-axis factors exp(y_a (Q^T m_j)_a), tabulated once per rule (mpmath's
exponent range is unbounded, so no shift by the largest logit is needed).

Gauss-Hermite converges geometrically only while the softmax transitions are wide: along an
axis where two means differ by delta the integrand has poles pi / delta off the real line. The
configurations keep every pairwise distance <= 1.6. Each is integrated at rising orders; the
reported value is the highest order's and its error estimate is the difference of the two highest
orders (an estimate of the lower order's error, so conservative). A configuration is used only if
that estimate is <= USABLE_GAP relative (1e-11: three decades below the engine's 1e-8 target, so
the reference's error cannot decide a comparison), checked in `main()` and again by the tests.

`python tests/reference_k3_mp.py OUT.json [KIND ...]` recomputes `tests/data/reference_k3_mp.json`
(2 to 6 minutes per configuration at load average 3 to 4; run it under `nice`); with KINDs,
only those, keeping the other stored entries.
"""

from __future__ import annotations

from functools import cache

import mpmath as mp

DPS = 30
USABLE_GAP = 1e-11  # largest relative gap of the two highest orders for a usable configuration
CHECK_ORDER = 10  # a cheap order also stored, so a test can recompute it live


@cache
def hermite_rule(order: int, dps: int = DPS) -> tuple[tuple, tuple]:
    """Nodes and weights of the order-point Gauss rule for N(0, 1), at `dps` digits."""
    with mp.workdps(dps + 10):
        jac = mp.zeros(order)
        for i in range(order - 1):
            jac[i, i + 1] = jac[i + 1, i] = mp.sqrt(i + 1)
        guesses = sorted(mp.eigsy(jac, eigvals_only=True))
        nodes, weights = [], []
        for y in guesses:
            for _ in range(100):  # Newton on He_N: He_N' = N He_{N-1}
                h_prev, h = mp.mpf(1), y
                for j in range(1, order):
                    h_prev, h = h, y * h - j * h_prev
                step = h / (order * h_prev)
                y -= step
                if abs(step) <= mp.eps * (1 + abs(y)):
                    break
            else:
                raise ArithmeticError(f"Newton did not converge at a node of He_{order}")
            h_prev, h, total = mp.mpf(1), y, mp.mpf(1) + y * y
            for j in range(1, order - 1):  # sum of He_j(y)^2 / j!, j < order
                h_prev, h = h, y * h - j * h_prev
                total += h * h / mp.factorial(j + 1)
            nodes.append(y)
            weights.append(1 / total)
    with mp.workdps(dps):
        return tuple(+y for y in nodes), tuple(+w for w in weights)


def _basis_and_coords(means: list[list]) -> tuple[list[list], list[list]]:
    from reference import _basis

    scale = max(abs(a) for row in means for a in row) or mp.mpf(1)
    basis = _basis(mp.mp, means, tol=scale * mp.mpf(10) ** (-12))
    if len(basis) != 3:
        raise ValueError(f"the mean differences span {len(basis)} dimensions, not 3")
    coords = [[mp.fdot(mi, q) for q in basis] for mi in means]
    return basis, coords


def integrate(means_f: list[list[float]], order: int, dps: int = DPS) -> list:
    """[loss, gradient row by row (n d entries)] as mpmath numbers: the direct form integrated
    with the order^3-point tensor Gauss-Hermite rule."""
    with mp.workdps(dps):
        means = [[mp.mpf(a) for a in row] for row in means_f]
        n, d = len(means), len(means[0])
        basis, coords = _basis_and_coords(means)
        nodes, weights = hermite_rule(order, dps)
        # per axis a and node i: exp(y_i p_ja) for every mean j, and y_i q_a (d components)
        factors = [[[mp.exp(y * p[a]) for p in coords] for y in nodes] for a in range(3)]
        shifts = [[[y * qc for qc in basis[a]] for y in nodes] for a in range(3)]
        base = [mp.exp(-mp.fdot(mi, mi) / 2) for mi in means]
        cols = [[means[j][c] for j in range(n)] for c in range(d)]
        loss = mp.mpf(0)
        grad = [[mp.mpf(0)] * d for _ in range(n)]
        for i0, w0 in enumerate(weights):
            e0 = [b * f for b, f in zip(base, factors[0][i0], strict=True)]
            for i1, w1 in enumerate(weights):
                e01 = [a * f for a, f in zip(e0, factors[1][i1], strict=True)]
                x01 = [a + b for a, b in zip(shifts[0][i0], shifts[1][i1], strict=True)]
                w01 = w0 * w1
                for i2, w2 in enumerate(weights):
                    e = [a * f for a, f in zip(e01, factors[2][i2], strict=True)]
                    x = [a + b for a, b in zip(x01, shifts[2][i2], strict=True)]
                    z = mp.fsum(e)
                    w = [a / z for a in e]
                    v = [mp.fdot(w, col) for col in cols]
                    vv = mp.fdot(v, v)
                    wt = w01 * w2
                    loss += wt * vv
                    for k in range(n):
                        mk = means[k]
                        s = mp.fdot(mk, v) - vv  # (m_k - v).v
                        c2 = 2 * wt * w[k]
                        row = grad[k]
                        for c in range(d):
                            row[c] += c2 * (v[c] + (x[c] - mk[c]) * s)
        return [loss, *(a for row in grad for a in row)]


def fixture_configurations() -> list[dict]:
    """k = 3 configurations whose every pairwise distance is <= 1.6 (Gauss-Hermite converges)
    and whose every principal axis spreads more than 0.3 (the engine's adaptive path, no thin
    Gauss-Hermite block). Means rounded to 6 decimals, so the float64 inputs are the same
    numbers wherever they are read."""
    import numpy as np

    rng = np.random.default_rng(20261130)

    def cloud(n: int, spread: float, centre: list[float]) -> np.ndarray:
        """n standard normal points scaled to the largest pairwise distance `spread`, redrawn
        until they spread at least 0.4 spread along each principal axis (not nearly flat)."""
        while True:
            pts = rng.normal(size=(n, len(centre)))
            pts -= pts.mean(axis=0)
            axes = np.linalg.svd(pts)[2]
            if np.ptp(pts @ axes.T, axis=0).min() >= 0.4 * np.ptp(pts @ axes.T, axis=0).max():
                break
        pts *= spread / max(np.linalg.norm(a - b) for a in pts for b in pts)
        return pts + centre

    tet = np.array([[1.0, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / np.sqrt(8)  # edge 1
    rot = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    raw = [
        ("tetrahedron-0.5-n4", 0.5 * tet @ rot + [0.2, -0.1, 0.3]),
        ("cloud-1.2-n5", cloud(5, 1.2, [0.3, -0.2, 0.1])),
        ("off-origin-2-n5", cloud(5, 1.0, [1.6, 1.0, -0.6])),
        ("d4-offset-n4", np.c_[1.2 * tet @ rot, np.zeros(4)] + [0.5, -0.3, 0.2, 1.2]),
        ("cloud-1.6-n5", cloud(5, 1.6, [-0.4, 0.5, 0.2])),
    ]
    return [{"kind": kind, "means": np.round(m, 6).tolist()} for kind, m in raw]


ORDERS = {"tetrahedron-0.5-n4": (30, 40, 50), "cloud-1.2-n5": (30, 40, 50),
          "off-origin-2-n5": (30, 40, 50), "d4-offset-n4": (40, 50, 60),
          "cloud-1.6-n5": (40, 50, 60)}  # chosen from float64 Gauss-Hermite gaps


def _gaps(high: list, low: list) -> tuple[float, float]:
    gnorm = mp.sqrt(mp.fsum(a * a for a in high[1:]))
    gap = mp.sqrt(mp.fsum((a - b) ** 2 for a, b in zip(high[1:], low[1:], strict=True)))
    return float(abs(high[0] - low[0]) / abs(high[0])), float(gap / gnorm)


def _as_strings(vals: list, n: int, d: int) -> dict:
    return {"loss": mp.nstr(vals[0], 25),
            "gradient": [[mp.nstr(vals[1 + j * d + c], 25) for c in range(d)] for j in range(n)]}


def main() -> None:
    import json
    import os
    import sys
    import time

    def write_json_atomic(path: str, data: list) -> None:  # not verifiers.atomic: independent
        tmp = f"{path}.tmp{os.getpid()}"
        with open(tmp, "w") as fh:
            json.dump(data, fh, indent=1)
        os.replace(tmp, path)

    path, only = sys.argv[1], set(sys.argv[2:])
    kept = {}
    if only and os.path.exists(path):
        with open(path) as fh:
            kept = {c["kind"]: c for c in json.load(fh)}
    out = []
    for cfg in fixture_configurations():
        if only and cfg["kind"] not in only:
            if cfg["kind"] in kept:
                out.append(kept[cfg["kind"]])
            continue
        n, d = len(cfg["means"]), len(cfg["means"][0])
        start = time.time()
        per_order, seconds = {}, {}
        for order in (CHECK_ORDER, *ORDERS[cfg["kind"]]):
            t0 = time.time()
            per_order[order] = integrate(cfg["means"], order)
            seconds[order] = round(time.time() - t0, 1)
            print(cfg["kind"], order, seconds[order], "s", flush=True)
        low, high = ORDERS[cfg["kind"]][-2:]
        loss_gap, grad_gap = _gaps(per_order[high], per_order[low])
        lower_gap = _gaps(per_order[low], per_order[ORDERS[cfg["kind"]][-3]])
        vals = per_order[high]
        gnorm = mp.sqrt(mp.fsum(a * a for a in vals[1:]))
        out.append({
            **cfg, "dps": DPS, "orders": list(ORDERS[cfg["kind"]]), **_as_strings(vals, n, d),
            "loss_error": float(abs(vals[0]) * loss_gap), "grad_error": float(gnorm * grad_gap),
            "rel_gap_two_highest": [loss_gap, grad_gap], "rel_gap_two_lower": list(lower_gap),
            "usable": max(loss_gap, grad_gap) <= USABLE_GAP,
            "check": {"order": CHECK_ORDER, **_as_strings(per_order[CHECK_ORDER], n, d)},
            "seconds_per_order": {str(k): v for k, v in seconds.items()},
            "wall_seconds": round(time.time() - start, 1), "load_average": os.getloadavg()[0],
        })
        print(cfg["kind"], "gaps", loss_gap, grad_gap, lower_gap, flush=True)
        write_json_atomic(path, out)


if __name__ == "__main__":
    main()
