"""Does the trapezoid grid's error estimate cover its error, component by component, and at
coarser grids? The measurement behind per-mean error bounds and cheaper grids for separated
k = 2, 3 means (figures, not assertions; tests/test_grid_estimate.py holds a small subset).

`python -m benchmarks.grid_estimate [--configs N] [--tol 1e-9] [--factors 1,1.5,2,2.5] [--seed S]`
`python -m benchmarks.grid_estimate --along [--configs N] [--tol T]`: configurations taken along
T3.5 sweep runs instead (`draw_along`).
`python -m benchmarks.grid_estimate --frames 64 [--configs N] [--tol T]`: the frame rule instead
(`predicted_nodes`: the frame of least predicted nodes among the principal one and 64 random
rotations, its actual nodes and the engine's estimate there).

For each configuration (separated means, n = 3 (k = 2) and n = 5 (k = 3): T3.5 sweep starts,
draws from N(0, s^2 I) and such draws with a clustered pair; see `draw_config`): the engine's
grid for it (`trapezoid_cubature`: steps a priori, refined to the tolerance); the same
construction with every sub-lattice step times `factor` (fewer nodes; the engine reuses a grid
while the means' strip widths stay within 1.25 times those it was sized for, so factors up to
1.25 are in use); and a reference, the engine's grid at four times its node density. For each
rule and each integrand component c (the loss density, every gradient component):

* `true`: |T_c - T_ref,c|, where T is the rule's value (the mean over its 2^k sub-lattices);
* `engine`: the engine's estimate, max_s |T - T_s| plus left-out weight times the integrand bound
  plus the rounding bound (what `apply_grid` returns and the engine trusts);
* `squared`: a candidate sharper estimate of T's own error, est_c^2 / |T|_c (T keeps only the
  aliasing terms at even frequencies, whose exponents are at least twice a sub-lattice's), plus
  the same left-out and rounding terms;
* `3-level`: a second candidate from three grid levels, T (step h / 2), its sub-lattices (h)
  and every other node of each (2h): with est2 their estimate like est, the error's logarithm
  linear in 1/h extrapolates to est^3 / est2^2 for T, taken only where est < est2 / 2 (else
  est), plus the same terms. Neither candidate is used by the engine: measured here first.

Printed per (k, factor): configurations, median nodes relative to the engine's grid, and the
worst `true / estimate` over every component of every configuration, for both estimates (a ratio
above 1 is a miss), and how many rules' true errors meet the tolerance (as the engine's acceptance
reads an error). Components whose true error is below the reference's rounding are counted as
covered (their error cannot be measured). Then per k the ceiling of any estimate: the median and
worst nodes, against the engine's grid, of the coarsest factor whose true error meets the
tolerance (`perfect_estimate`).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from scoreclaims.claims.paper._random_init_runs import initial_means
from scoreclaims.claims.paper.random_init import SWEEP_ETA, SWEEP_TOL_K3
from scoreclaims.verifiers.aliasing import strip_polytope
from scoreclaims.verifiers.dynamics import Descent, EngineSource
from scoreclaims.verifiers.formulation import score_integrands
from scoreclaims.verifiers.geometry import reduce_means
from scoreclaims.verifiers.population import _group_parts, grid_first, integrand_bound
from scoreclaims.verifiers.quadrature import HERMITE_MAX_SPREAD, CubatureResult, within_tol
from scoreclaims.verifiers.trapezoid import (
    _EPS,
    SPAN_MARGIN,
    GridRule,
    a_priori_steps,
    apply_grid,
    build_grid,
    strip_widths,
    trapezoid_cubature,
)

REFERENCE_DENSITY = 4.0  # reference nodes per node of the engine's grid
REFERENCE_MAX_NODES = 20_000_000


@dataclass(frozen=True)
class Coverage:
    """One rule on one configuration: nodes, and the worst true error / estimate over its
    components for the engine's estimate and for the squared candidate."""

    nodes: int
    measured: int  # components whose true error exceeds what the reference resolves
    engine_ratio: float
    squared_ratio: float
    three_ratio: float
    true_meets: bool  # the true error meets tol as the engine's acceptance reads it


def draw_config(rng: np.random.Generator, n: int, d: int) -> np.ndarray | None:
    """Separated means (every reduced axis wider than the Hermite limit, the grid's domain):
    one in three a T3.5 sweep start (N(M_0 e_1, I_d), M_0 in {4, 6, 8, 10}), one in three with
    two means drawn close together (a clustered pair among separated ones), the others from
    N(0, s^2 I_d) with s drawn in [0.7, 3]."""
    kind = rng.uniform()
    if kind < 1 / 3:
        m = initial_means(n, d, float(rng.choice([4.0, 6.0, 8.0, 10.0])),
                          int(rng.integers(0, 2**31)))
    else:
        m = rng.normal(size=(n, d)) * float(rng.uniform(0.7, 3.0))
        if kind < 2 / 3:
            m[1] = m[0] + rng.normal(size=d) * rng.uniform(0.05, 0.4)
    red = reduce_means(m)
    if red.k != min(n - 1, d) or np.min(np.ptp(red.coords, axis=0)) <= HERMITE_MAX_SPREAD:
        return None
    return m


def draw_thin(rng: np.random.Generator, n: int, d: int) -> np.ndarray | None:
    """Means with one thin reduced axis beside two separated ones (k = 3 only, where the engine
    takes the grid for them: `population.grid_first`): N(c e_1, diag(s)^2) with s_1 in
    [0.5, 4], s_2 in [0.3, 2], s_3 in [0.01, 0.3] and c in {0, 2, 5, 10}; kept when exactly one
    reduced axis is thin (spread <= HERMITE_MAX_SPREAD)."""
    if min(n - 1, d) != 3:
        return None
    scale = np.array([rng.uniform(0.5, 4.0), rng.uniform(0.3, 2.0), rng.uniform(0.01, 0.3)])
    m = rng.normal(size=(n, d)) * scale
    m[:, 0] += float(rng.choice([0.0, 2.0, 5.0, 10.0]))
    red = reduce_means(m)
    if red.k != 3 or not grid_first(red.coords):
        return None
    return m if np.min(np.ptp(red.coords, axis=0)) <= HERMITE_MAX_SPREAD else None


ALONG_TAUS = (8, 16, 32)  # a sweep seed is first classified at 32 steps (most decide there)


def draw_along(rng: np.random.Generator, n: int, d: int) -> list[np.ndarray]:
    """Configurations along one T3.5 sweep run (a seed drawn, M_0 in {4, 6, 8, 10}): GD from
    its start at the sweep's step and tolerance (SWEEP_TOL_K3 for k = 3, else the engine's),
    the means at the steps ALONG_TAUS; those the engine takes a grid for (`grid_first`)."""
    m0 = initial_means(n, d, float(rng.choice([4.0, 6.0, 8.0, 10.0])), int(rng.integers(0, 2**31)))
    tol = SWEEP_TOL_K3 if min(n - 1, d) == 3 else None
    descent = Descent(EngineSource(tol), np.array(m0, dtype=float), SWEEP_ETA)
    out = []
    for rec in descent.run(max(ALONG_TAUS), ALONG_TAUS):
        red = reduce_means(rec.m)
        if red.k == min(n - 1, d) and grid_first(red.coords):
            out.append(np.array(rec.m))
    return out


def configurations(rng: np.random.Generator, n: int, d: int, along: bool = False,
                   thin: bool = False) -> Iterator[np.ndarray]:
    """Means without end, drawn by `draw_along` (states along T3.5 sweep runs), `draw_thin` or
    `draw_config`, the ones a draw rejects skipped."""
    pending: list[np.ndarray] = []
    while True:
        if along:
            pending = pending or draw_along(rng, n, d)
            if pending:
                yield pending.pop()
            continue
        m = (draw_thin if thin else draw_config)(rng, n, d)
        if m is not None:
            yield m


def _coarser_sums(rule: GridRule, f: np.ndarray) -> np.ndarray:
    """(S 2^k, C): the rules of step 2h made of every other node of each sub-lattice (by the
    parity of the node's index along each axis), from the integrand values f (N, C)."""
    n_sub, k = len(rule.bounds) - 1, rule.points.shape[1]
    out = []
    for s in range(n_sub):
        lo, hi = rule.bounds[s], rule.bounds[s + 1]
        idx = np.rint(rule.points[lo:hi] / rule.step - rule.offsets[s]).astype(np.int64)
        parity = (idx % 2) @ (1 << np.arange(k))  # 0 .. 2^k - 1
        wf = (rule.weight[lo:hi, None] * n_sub * 2**k) * f[lo:hi]
        for r in range(2**k):
            out.append(wf[parity == r].sum(axis=0))
    return np.array(out)


def _estimates(rule: GridRule, integrand, gmat: np.ndarray, bound: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(value, engine estimate, squared candidate, three-level candidate) per component."""
    value, absval, err, est = apply_grid(rule, integrand, gmat, bound)
    extra = err - est  # left-out weight times the bound, and the rounding bound
    with np.errstate(divide="ignore", invalid="ignore"):
        squared = np.where(absval > 0, est * est / absval, 0.0) + extra
        # three levels h / 2 (T), h (the sub-lattices: est), 2h (every other node of each):
        # ln(error) linear in 1/h extrapolates to est^3 / est2^2 for T, used only where the
        # errors are seen to fall (est < est2 / 2); else the engine's estimate
        est2 = np.max(np.abs(value - _coarser_sums(rule, integrand(rule.points))), axis=0)
        falling = est < 0.5 * est2
        three = np.where(falling, est**3 / np.where(falling, est2, 1.0) ** 2, est) + extra
    return value, err, squared, three


def worst_ratio(true: np.ndarray, estimate: np.ndarray, floor: np.ndarray) -> float:
    """Worst true / estimate over the components whose true error exceeds `floor`."""
    seen = true > floor
    if not np.any(seen):
        return 0.0
    with np.errstate(divide="ignore"):
        return float(np.max(np.where(estimate[seen] > 0, true[seen] / estimate[seen], np.inf)))


def rotations(rng: np.random.Generator, count: int, k: int) -> np.ndarray:
    """(count + 1, k, k): the identity, then `count` uniformly random rotations."""
    q, r = np.linalg.qr(rng.normal(size=(count, k, k)))
    q = q * np.sign(np.diagonal(r, axis1=1, axis2=2))[:, None, :]
    q[np.linalg.det(q) < 0, :, 0] *= -1
    return np.concatenate([np.eye(k)[None], q])


def _decay_lower_bound(w: np.ndarray, vert: np.ndarray, dp: np.ndarray) -> np.ndarray:
    """(..., ) a lower bound of X(w) = max over eta in P of w . eta - |eta|^2 / 2, the decay
    exponent of the aliasing term at frequency w (..., k): the best of P's vertices and of w
    scaled into P (P is convex, symmetric, and holds the origin)."""
    proj = np.max(np.abs(w @ dp.T), axis=-1)
    scale = np.minimum(1.0, np.pi / np.maximum(proj, 1e-300))
    best = scale * (1.0 - 0.5 * scale) * np.sum(w * w, axis=-1)
    if len(vert):
        best = np.maximum(best, np.max(w @ vert.T - 0.5 * np.sum(vert**2, axis=1), axis=-1))
    return best


def predicted_nodes(coords: np.ndarray, rots: np.ndarray, tol: float) -> np.ndarray:
    """(R,) the grid's node count up to a common factor, prod_e 1 / h_e, for the frames
    coords @ rots[r]: the engine's a-priori steps shrunk by the largest common factor (bisected)
    that makes every aliasing term, nu in {-1, 0, 1}^k but 0, decay by at least ln(10 / tol)
    by `_decay_lower_bound` (the a-priori steps alone look only at the axes, nu = +-e_e, and
    miss the cross terms of rotated frames). The polytope's vertices rotate with the
    coordinates, so one polytope serves every frame."""
    vert, dp = strip_polytope(coords)
    k = coords.shape[1]
    nus = np.array([v for v in itertools.product((-1, 0, 1), repeat=k) if any(v)], dtype=float)
    width = np.array([strip_widths(coords @ rot) for rot in rots])
    v_r = np.einsum("vk,rkl->rvl", vert, rots)
    d_r = np.einsum("pk,rkl->rpl", dp, rots)
    # (R, k): the a-priori steps in each frame (the engine's first grid takes the strip-limited
    # ones FIRST_STRIP_FACTOR times coarser since 2026-12-07; the frames table predates that)
    h0 = a_priori_steps(SPAN_MARGIN * width, tol)
    need = math.log(10.0 / tol)

    def worst(s: np.ndarray) -> np.ndarray:  # (R,) the slowest term's decay at steps s h0
        w = 2 * np.pi * nus[None] / (s[:, None, None] * h0[:, None, :])  # (R, V, k)
        out = np.empty(len(rots))
        for r in range(len(rots)):
            out[r] = np.min(_decay_lower_bound(w[r], v_r[r], d_r[r]))
        return out

    full = worst(np.ones(len(rots))) >= need
    lo, hi = np.full(len(rots), 0.05), np.ones(len(rots))
    for _ in range(20):
        mid = 0.5 * (lo + hi)
        ok = worst(mid) >= need
        lo, hi = np.where(ok, mid, lo), np.where(ok, hi, mid)
    lo = np.where(full, 1.0, lo)
    return np.prod(1.0 / (lo[:, None] * h0), axis=1)


@dataclass(frozen=True)
class EngineGrid:
    """The engine's fresh grid for some means, with what applying a rule to them takes: the
    reduced coordinates and basis, the error groups' matrix, the integrand bound, the result."""

    coords: np.ndarray
    basis: np.ndarray
    gmat: np.ndarray
    bound: np.ndarray
    result: CubatureResult

    def integrand(self, y: np.ndarray) -> np.ndarray:
        return score_integrands(y, self.coords)


def problem(m: np.ndarray, rotation: np.ndarray | None = None
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What `population.cubature` integrates for the canonical means m: the reduced coordinates
    and basis (turned by `rotation` (k, k) if given), the error groups' matrix and the
    integrand bound."""
    red = reduce_means(m)
    n, k = red.coords.shape
    coords = red.coords if rotation is None else red.coords @ rotation
    basis = red.basis if rotation is None else red.basis @ rotation
    base, extra = _group_parts(n, k)
    return coords, basis, base + float(red.perp @ red.perp) * extra, integrand_bound(red)


def engine_grid(m: np.ndarray, tol: float, rotation: np.ndarray | None = None
                ) -> EngineGrid | None:
    """The grid `population.cubature` would take for the canonical means m on its estimate alone
    (in the principal frame turned by `rotation` (k, k) if given; the engine also lets the
    aliasing bound accept a grid the estimate refuses, `trapezoid.apply_grid`); None where it
    takes none."""
    coords, basis, gmat, bound = problem(m, rotation)
    res = trapezoid_cubature(coords, basis, lambda y: score_integrands(y, coords), gmat, bound,
                             tol)
    if res is None or not isinstance(res.rule, GridRule):
        return None
    return EngineGrid(coords, basis, gmat, bound, res)


def reference(grid: EngineGrid) -> tuple[GridRule, np.ndarray, np.ndarray, np.ndarray] | None:
    """The reference for the engine's grid: the grid at REFERENCE_DENSITY times its node
    density, its values and integrals of |f|, and the floor below which it cannot resolve an
    error (its rounding and its left-out weight); None where it would be too large."""
    rule, k = grid.result.rule, grid.coords.shape[1]
    fine = build_grid(grid.coords, grid.basis, rule.step / REFERENCE_DENSITY ** (1.0 / k),
                      rule.span, rule.left_out * 1e-3, REFERENCE_MAX_NODES)
    if fine is None:
        return None
    ref, ref_abs, _, _ = apply_grid(fine, grid.integrand, grid.gmat, grid.bound)
    return fine, ref, ref_abs, 64 * _EPS * ref_abs + fine.left_out * grid.bound


def measure(m: np.ndarray, tol: float, factors: list[float], rotation: np.ndarray | None = None
            ) -> dict[float, Coverage] | None:
    """Coverage of the engine's grid (factor 1) and of coarser ones on the canonical means m,
    in the engine's principal frame turned by `rotation` (k, k) if given; None where the engine
    takes no grid for them."""
    grid = engine_grid(m, tol, rotation)
    if grid is None:
        return None
    coords, basis, gmat, bound = grid.coords, grid.basis, grid.gmat, grid.bound
    integrand, rule = grid.integrand, grid.result.rule
    got = reference(grid)
    if got is None:
        return None
    _, ref, ref_abs, floor = got
    out = {}
    for factor in factors:
        coarse = rule if factor == 1 else build_grid(coords, basis, rule.step * factor,
                                                     rule.span, rule.left_out, None)
        if coarse is None:
            continue
        value, engine, squared, three = _estimates(coarse, integrand, gmat, bound)
        true = np.abs(value - ref)
        out[factor] = Coverage(coarse.n_nodes, int(np.sum(true > floor)),
                               worst_ratio(true, engine, floor),
                               worst_ratio(true, squared, floor),
                               worst_ratio(true, three, floor),
                               within_tol(true, ref_abs, gmat, tol))
    return out


def perfect_estimate(got: dict[float, Coverage]) -> float:
    """Nodes against the engine's grid of the coarsest rule, among the factors measured, whose
    true error meets the tolerance as every finer one's does: what an estimate equal to the
    true error would let the engine take on this ladder. The ladder is read from the engine's
    grid up to its first miss, so a coarser factor that meets again (the error is not monotone
    in the step there) does not count. 1 where the engine's own grid is the coarsest."""
    base = got[1].nodes
    best = 1.0
    for factor in sorted(f for f in got if f >= 1):
        if not got[factor].true_meets:
            break
        best = got[factor].nodes / base
    return best


def run(configs: int, tol: float, factors: list[float], seed: int, thin: bool = False,
        along: bool = False) -> list[dict[str, object]]:
    """`thin`: k = 3 draws with thin axes (`draw_thin`) instead of the separated ones;
    `along`: configurations along T3.5 sweep runs (`draw_along`, n = 3 and 5, d = 3)."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, object]] = []
    shapes = ((5, 3),) if thin else ((3, 3), (5, 3)) if along else ((3, 2), (5, 3))
    for n, d in shapes:
        k = min(n - 1, d)
        done = 0
        per_factor: dict[float, list[tuple[float, Coverage]]] = {f: [] for f in factors}
        perfect: list[float] = []  # per configuration: `perfect_estimate`
        t0 = time.process_time()
        draws = configurations(rng, n, d, along, thin)
        while done < configs:
            m = next(draws)
            got = measure(m, tol, factors)
            if got is None or 1 not in got:
                continue
            done += 1
            for f, cov in got.items():
                per_factor[f].append((cov.nodes / got[1].nodes, cov))
            perfect.append(perfect_estimate(got))
        for f in factors:
            covs = per_factor[f]
            if not covs:
                continue
            rows.append({
                "k": k, "n": n, "tol": tol, "factor": f, "configs": len(covs),
                "median_nodes_vs_engine": float(np.median([r for r, _ in covs])),
                "median_nodes": float(np.median([c.nodes for _, c in covs])),
                "worst_engine_ratio": max(c.engine_ratio for _, c in covs),
                "engine_misses": sum(c.engine_ratio > 1 for _, c in covs),
                "worst_squared_ratio": max(c.squared_ratio for _, c in covs),
                "squared_misses": sum(c.squared_ratio > 1 for _, c in covs),
                "worst_three_ratio": max(c.three_ratio for _, c in covs),
                "three_misses": sum(c.three_ratio > 1 for _, c in covs),
                "true_meets": sum(c.true_meets for _, c in covs),
                "perfect_median_nodes_vs_engine": float(np.median(perfect)),
                "perfect_worst_nodes_vs_engine": float(np.max(perfect)),
                "cpu_s_for_k": time.process_time() - t0})
    return rows


def frames(configs: int, tol: float, candidates: int, seed: int) -> list[dict[str, object]]:
    """The frame rule against the principal frame: per configuration, the frame of least
    predicted nodes among the identity and `candidates` random rotations; its actual nodes
    against the principal frame's, and the engine's estimate there against a reference in the
    same frame."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, object]] = []
    for n, d in ((3, 2), (5, 3)):
        k = min(n - 1, d)
        ratios, worst, misses, pick_s = [], 0.0, 0, []
        while len(ratios) < configs:
            m = draw_config(rng, n, d)
            if m is None:
                continue
            coords = reduce_means(m).coords
            rots = rotations(rng, candidates, k)
            t0 = time.perf_counter()
            choice = int(np.argmin(predicted_nodes(coords, rots, tol)))
            pick_s.append(time.perf_counter() - t0)
            principal = measure(m, tol, [1.0])
            chosen = principal if choice == 0 else measure(m, tol, [1.0], rots[choice])
            if principal is None or chosen is None:
                continue
            ratios.append(chosen[1.0].nodes / principal[1.0].nodes)
            worst = max(worst, chosen[1.0].engine_ratio)
            misses += chosen[1.0].engine_ratio > 1
        rows.append({"k": k, "n": n, "tol": tol, "configs": configs, "candidates": candidates,
                     "median_nodes_vs_principal": float(np.median(ratios)),
                     "best": float(np.min(ratios)), "worst": float(np.max(ratios)),
                     "principal_kept": sum(r == 1.0 for r in ratios),
                     "worst_engine_ratio": worst, "engine_misses": misses,
                     "median_pick_ms": 1e3 * float(np.median(pick_s))})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", type=int, default=20, help="configurations per k")
    parser.add_argument("--tol", type=float, default=1e-9)
    parser.add_argument("--factors", default="1,1.5,2,2.5",
                        help="sub-lattice step factors against the engine's grid")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="the rows as JSON")
    parser.add_argument("--frames", type=int, default=0, metavar="CANDIDATES",
                        help="instead: the frame of least predicted nodes among the principal "
                        "frame and this many random rotations, against the principal frame")
    parser.add_argument("--thin", action="store_true",
                        help="k = 3 means with a thin axis beside two separated ones (`draw_thin`)")
    parser.add_argument("--along", action="store_true",
                        help="configurations along T3.5 sweep runs (`draw_along`)")
    args = parser.parse_args()
    if args.thin and args.along:
        parser.error("--thin and --along are exclusive")
    if args.frames:
        out = frames(args.configs, args.tol, args.frames, args.seed)
        if args.json:
            print(json.dumps(out, indent=1))
            return
        for r in out:
            print(f"k = {r['k']}, tol {r['tol']:.0e}, {r['configs']} configurations, "
                  f"{r['candidates']} candidates: nodes vs the principal frame median "
                  f"{r['median_nodes_vs_principal']:.3f} (best {r['best']:.3f}, worst "
                  f"{r['worst']:.3f}, principal kept {r['principal_kept']}); engine's estimate "
                  f"worst {r['worst_engine_ratio']:.3g}, misses {r['engine_misses']}; pick "
                  f"{r['median_pick_ms']:.2f} ms")
        return
    rows = run(args.configs, args.tol, [float(f) for f in args.factors.split(",")], args.seed,
               args.thin, args.along)
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    print(f"{'k':>2} {'tol':>7} {'factor':>6} {'configs':>7} {'nodes/engine':>12} "
          f"{'nodes':>9} {'worst engine':>12} {'misses':>6} {'worst squared':>13} {'misses':>6} "
          f"{'worst 3-level':>13} {'misses':>6} {'true meets':>10}")
    for r in rows:
        print(f"{r['k']:>2} {r['tol']:>7.0e} {r['factor']:>6} {r['configs']:>7} "
              f"{r['median_nodes_vs_engine']:>12.3f} {r['median_nodes']:>9.0f} "
              f"{r['worst_engine_ratio']:>12.3g} {r['engine_misses']:>6} "
              f"{r['worst_squared_ratio']:>13.3g} {r['squared_misses']:>6} "
              f"{r['worst_three_ratio']:>13.3g} {r['three_misses']:>6} {r['true_meets']:>10}")
    for r in {r["k"]: r for r in rows}.values():
        print(f"k = {r['k']}: a perfect estimate (the true error) would take "
              f"{r['perfect_median_nodes_vs_engine']:.3f} of the engine's nodes at the median "
              f"(worst {r['perfect_worst_nodes_vs_engine']:.3f}) on this ladder of factors")


if __name__ == "__main__":
    main()
