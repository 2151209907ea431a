"""Independent arbitrary-precision reference for the population loss and gradient (tests only).

Written apart from the engine: it evaluates the paper's direct d-dimensional integrand
    |v(x)|^2   and   2 [w_k v + w_k (x - m_k) ((m_k - v).v)]
at x = Q y, where Q is an orthonormal basis (Gram-Schmidt in mpmath) of the span of the mean
differences. The weights depend on x only through y, and the integrand is affine in the part of x
orthogonal to the span, whose mean is zero, so E_x = E_{y ~ N(0, I_k)} of the integrand at x = Q y.
The k-dimensional expectation is computed with mpmath.quad, one coordinate at a time, with
breakpoints at the logit crossings in the innermost coordinate (exact for the current outer values).
"""

from __future__ import annotations

import mpmath as mp


def _basis(ctx, means: list[list], tol) -> list[list]:
    diffs = [[a - b for a, b in zip(mi, means[0], strict=True)] for mi in means[1:]]
    basis: list[list] = []
    for v in diffs:
        w = list(v)
        for _ in range(2):  # twice for orthogonality in finite precision
            for q in basis:
                c = ctx.fsum(a * b for a, b in zip(w, q, strict=True))
                w = [a - c * b for a, b in zip(w, q, strict=True)]
        nrm = ctx.sqrt(ctx.fsum(a * a for a in w))
        if nrm > tol:
            basis.append([a / nrm for a in w])
    return basis


def _integrand(ctx, x: list, means: list[list]) -> list:
    n, d = len(means), len(x)
    logits = [ctx.fsum(a * b for a, b in zip(x, mi, strict=True))
              - ctx.fsum(a * a for a in mi) / 2 for mi in means]
    top = max(logits)
    e = [ctx.exp(lg - top) for lg in logits]
    z = ctx.fsum(e)
    w = [ei / z for ei in e]
    v = [ctx.fsum(w[j] * means[j][c] for j in range(n)) for c in range(d)]
    out = [ctx.fsum(a * a for a in v)]
    for k in range(n):
        gap = [ctx.fsum(w[j] * (means[k][c] - means[j][c]) for j in range(n)) for c in range(d)]
        s = ctx.fsum(a * b for a, b in zip(gap, v, strict=True))
        out.extend(2 * w[k] * (v[c] + (x[c] - means[k][c]) * s) for c in range(d))
    return out


def population_reference(means_f: list[list[float]], dps: int = 25, maxdegree: int = 8,
                         method: str = "tanh-sinh", fp: bool = False) -> tuple[float, list, float]:
    """(loss, gradient n x d, largest quadrature error relative to the loss or the gradient's
    norm) in canonical coordinates, as mpmath numbers with `dps` correct digits at best, or with
    mpmath's float context (`fp=True`, for k = 3 where multiprecision would take hours).

    mpmath.quad stops on an absolute error near 10^-dps, so a loss of 1e-40 needs 40 more digits:
    a first pass finds the magnitude and the working precision is raised by its decades."""
    if not fp:
        loss, grad, _ = _reference(means_f, 15, maxdegree, method, fp)
        size = max(abs(loss), *(abs(a) for row in grad for a in row), mp.mpf(10) ** -300)
        dps += max(0, int(-mp.log10(size)) + 1)
    loss, grad, abs_err = _reference(means_f, dps, maxdegree, method, fp)
    gnorm = mp.sqrt(mp.fsum(a * a for row in grad for a in row))
    floor = min(abs(loss), gnorm) if min(abs(loss), gnorm) > 0 else max(abs(loss), gnorm)
    return loss, grad, abs_err / floor if floor > 0 else abs_err


def _reference(means_f: list[list[float]], dps: int, maxdegree: int, method: str, fp: bool
               ) -> tuple[float, list, float]:
    ctx = mp.fp if fp else mp.mp
    with mp.workdps(dps):
        means = [[ctx.mpf(a) for a in row] for row in means_f]
        n, d = len(means), len(means[0])
        scale = max(abs(a) for row in means for a in row) or ctx.mpf(1)
        basis = _basis(ctx, means, tol=scale * ctx.mpf(10) ** (-12))
        k = len(basis)
        coords = [[ctx.fsum(a * b for a, b in zip(mi, q, strict=True)) for q in basis]
                  for mi in means]
        def at(y: list) -> list:
            x = [ctx.fsum(y[i] * basis[i][c] for i in range(k)) for c in range(d)]
            return _integrand(ctx, x, means)

        vals = [*at([]), 0] if k == 0 else _nested(ctx, at, coords, k, [], None, maxdegree, method)
        loss = vals[0]
        grad = [[vals[1 + j * d + c] for c in range(d)] for j in range(n)]
        return loss, grad, vals[-1]


def _crossings(ctx, coords: list[list], fixed: list, level: int) -> list:
    """Where two logits cross along coordinate `level`, the outer coordinates fixed and the
    inner ones at 0, plus 0; each widened by 1 and 4 transition widths."""
    pts = {ctx.mpf(0)}
    n = len(coords)
    for j in range(n):
        for m in range(j + 1, n):
            dl = coords[j][level] - coords[m][level]
            if dl == 0:
                continue
            off = (ctx.fsum(a * a for a in coords[j]) - ctx.fsum(a * a for a in coords[m])) / 2
            off -= ctx.fsum(fixed[i] * (coords[j][i] - coords[m][i]) for i in range(level))
            c = off / dl
            h = 1 / abs(dl)
            for t in (c, c - h, c + h, c - 4 * h, c + 4 * h):
                if abs(t) < 40:
                    pts.add(t)
    return sorted(pts)


def _nested(ctx, at, coords, k, fixed, errors, maxdegree, method) -> list:
    """Integrals over coordinates level.. of the integrand, plus a last entry estimating their
    error: this level's largest quad error plus the largest error of the inner integrals met
    (the Gaussian density integrates to 1, so that bounds their integrated effect where the
    inner errors were sampled)."""
    level = len(fixed)
    pts = [ctx.ninf, *_crossings(ctx, coords, fixed, level), ctx.inf]
    cache: dict = {}
    inner_err = [ctx.mpf(0)]

    def vec(t) -> list:
        if t not in cache:
            y = [*fixed, t]
            if level == k - 1:
                inner = at(y)
            else:
                *inner, err = _nested(ctx, at, coords, k, y, errors, maxdegree, method)
                inner_err[0] = max(inner_err[0], err)
            dens = ctx.exp(-t * t / 2) / ctx.sqrt(2 * ctx.pi)
            cache[t] = [dens * a for a in inner]
        return cache[t]

    size = len(vec(ctx.mpf(0)))
    out, quad_err = [], ctx.mpf(0)
    for c in range(size):
        val, err = ctx.quad(lambda t, c=c: vec(t)[c], pts, error=True, maxdegree=maxdegree,
                            method=method)
        out.append(val)
        quad_err = max(quad_err, err)
    return [*out, quad_err + inner_err[0]]


def fixture_configurations() -> list[dict]:
    """Seeded k = 2 configurations: separated (tail-dominated included), clustered, mixed.
    Their references take minutes each, too slow for every test run. (k = 3 references would
    take hours even in mpmath's float context; k = 3 is not in the stored fixture.)"""
    import numpy as np

    rng = np.random.default_rng(20261122)
    configs = [
        {"k": 2, "kind": "tail", "means": [[0.0, 0.0], [20.0, 3.0], [-15.0, 9.0]]},
        {"k": 2, "kind": "separated", "means": (rng.normal(size=(3, 2)) * 4).tolist()},
        {"k": 2, "kind": "separated", "means": (rng.normal(size=(4, 3)) * 3)[:, :2].tolist()},
        {"k": 2, "kind": "clustered",
         "means": (np.array([[2.0, -1.0]]) + 1e-9 * rng.normal(size=(3, 2))).tolist()},
        {"k": 2, "kind": "mixed", "means": [[25.0, 0.0], [24.0, 1.0], [0.1, 0.2]]},
        {"k": 2, "kind": "d3", "means": [[1.0, 0.0, 2.0], [0.0, 1.0, 2.0], [-1.0, -1.0, 2.0]]},
    ]
    return configs


def main() -> None:
    """python tests/reference.py OUT.json: recompute the fixture (about 40 minutes, one core)."""
    import json
    import sys
    import time

    out = []
    for cfg in fixture_configurations():
        start = time.time()
        loss, grad, err = population_reference(cfg["means"], dps=18, maxdegree=6,
                                               method="gauss-legendre")
        out.append({**cfg, "context": "mp18", "loss": mp.nstr(loss, 17),
                    "gradient": [[mp.nstr(a, 17) for a in row] for row in grad],
                    "quad_rel_error": float(err), "seconds": round(time.time() - start, 1)})
        print(cfg["kind"], cfg["k"], out[-1]["seconds"], flush=True)
        with open(sys.argv[1], "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
