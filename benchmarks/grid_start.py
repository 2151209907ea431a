"""The trapezoid grid's first steps, side by side: GD runs with two settings of the first steps,
interleaved in one process on the same starts. By default the strip-limited a-priori steps
times 1 (the engine before 2026-12-07) against times `--factor` (default the engine's
`trapezoid.FIRST_STRIP_FACTOR`, 1.5), neither trying the tight first steps; `--tight`: the
engine's ladder without and with its first try of the tight steps (k = 3, tolerances up to
`trapezoid.TIGHT_TOL`: `trapezoid.first_steps`). Prints per setting the CPU seconds, integrand
evaluations and grids built of each, their ratio, and the largest difference of the final means
relative to their size (both runs meet the same tolerance at every step).

Settings: T3.5 sweep starts (`initial_means(n, 3, M_0, seed)`, step 0.1) for n = 5 (k = 3) at the
engine's default tolerance and at the sweeps' SWEEP_TOL_K3, and for n = 3 (k = 2) at the default;
and separated N(0, 1) starts, n = 5, d = 3, at the default (issue 23's steps-per-second setting).
A run stops at `--budget` integrand evaluations (marked "budget").

`python -m benchmarks.grid_start [--steps 16] [--seeds 3] [--M0 4,6,8,10] [--budget 1e8]
[--base B] [--factor F | --tight]`
`python -m benchmarks.grid_start --accepts N [--tol T] [--seed S]`: instead, on N states along
T3.5 sweep runs (n = 5, d = 3: `grid_estimate.draw_along`), which error accepts the grid of the
tight first steps at T (also where the engine does not try them): the estimate, the aliasing
bound alone, or neither.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from functools import partial

import numpy as np

from benchmarks.grid_estimate import configurations, problem
from scoreclaims.claims.paper._random_init_runs import initial_means
from scoreclaims.claims.paper.random_init import SWEEP_ETA, SWEEP_TOL_K3
from scoreclaims.verifiers import trapezoid
from scoreclaims.verifiers.dynamics import Descent, EngineSource
from scoreclaims.verifiers.formulation import score_integrands
from scoreclaims.verifiers.quadrature import _group_norms, pilot_scale, within_tol

ENGINE_FACTOR = trapezoid.FIRST_STRIP_FACTOR
ENGINE_TIGHT = trapezoid.FIRST_STRIP_FACTOR_TIGHT


def settings(m0s: list[float], seeds: int) -> Iterator[tuple[str, np.ndarray, float | None]]:
    """(label, start, tol) of every run."""
    for seed in range(seeds):
        for m0 in m0s:
            yield f"T3.5 n=5 M0={m0:g} seed {seed} default", initial_means(5, 3, m0, seed), None
            yield (f"T3.5 n=5 M0={m0:g} seed {seed} tol {SWEEP_TOL_K3:g}",
                   initial_means(5, 3, m0, seed), SWEEP_TOL_K3)
            yield f"T3.5 n=3 M0={m0:g} seed {seed} default", initial_means(3, 3, m0, seed), None
        start = np.random.default_rng([seed, 23]).standard_normal((5, 3))
        yield f"N(0,1) n=5 seed {seed} default", start, None


def one_run(start: np.ndarray, tol: float | None, steps: int, budget: int | None = None,
            factors: tuple[float, float] | None = None) -> dict[str, object]:
    """GD from `start` at the sweeps' step for `steps` steps, within `budget` integrand
    evaluations (None: unbounded): CPU s, evaluations, grids built, the final means and the
    source's status. `factors`: the first steps' (FIRST_STRIP_FACTOR, FIRST_STRIP_FACTOR_TIGHT)
    for this run (equal: no tight try), else the engine's."""
    built = 0
    build = trapezoid.build_grid

    def counting(*args: object, **kwargs: object) -> object:
        nonlocal built
        built += 1
        return build(*args, **kwargs)

    saved = trapezoid.FIRST_STRIP_FACTOR, trapezoid.FIRST_STRIP_FACTOR_TIGHT
    if factors is not None:
        trapezoid.FIRST_STRIP_FACTOR, trapezoid.FIRST_STRIP_FACTOR_TIGHT = factors
    trapezoid.build_grid = counting
    try:
        source = EngineSource(tol, budget)
        descent = Descent(source, np.array(start, dtype=float), SWEEP_ETA)
        t0 = time.process_time()
        descent.run(steps, [steps])
        cpu = time.process_time() - t0
    finally:
        trapezoid.FIRST_STRIP_FACTOR, trapezoid.FIRST_STRIP_FACTOR_TIGHT = saved
        trapezoid.build_grid = build
    return {"cpu": cpu, "evals": source.spent, "grids": built, "m": descent.m.copy(),
            "status": source.status}


def accepts(configs: int, tol: float, seed: int) -> dict[str, int]:
    """How many grids of the tight first steps (FIRST_STRIP_FACTOR_TIGHT, tried by
    `trapezoid.first_steps` at tolerances up to TIGHT_TOL; here at `tol` whatever it is) the
    estimate accepts, the aliasing bound alone, or neither, on `configs` states along T3.5 sweep
    runs; each grid built as `trapezoid_cubature` builds it (the pilot's scale sets the weight
    left out)."""
    counts = {"estimate": 0, "bound alone": 0, "neither": 0}
    draws = configurations(np.random.default_rng(seed), 5, 3, along=True)
    while sum(counts.values()) < configs:
        coords, basis, gmat, bound = problem(next(draws))
        k = coords.shape[1]
        integrand = partial(score_integrands, coords=coords)
        span = trapezoid.SPAN_MARGIN * trapezoid.strip_widths(coords)
        step = trapezoid.a_priori_steps(span, tol, trapezoid.FIRST_STRIP_FACTOR_TIGHT)
        drop = trapezoid.drop_weight(pilot_scale(integrand, k, gmat),
                                     _group_norms(bound, gmat), tol)
        rule = trapezoid.build_grid(coords, basis, step, span, drop)
        if rule is None:
            continue
        _, absval, err, est = trapezoid.apply_grid(rule, integrand, gmat, bound)
        if within_tol(err, absval, gmat, tol):
            counts["estimate"] += 1
            continue
        # as apply_grid with coords takes it: the smaller of the two, plus the same terms
        err = np.minimum(est, trapezoid.lattice_bound(rule, coords)) + (err - est)
        counts["bound alone" if within_tol(err, absval, gmat, tol) else "neither"] += 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--M0", default="4,6,8,10")
    parser.add_argument("--budget", type=float, default=1e8)
    parser.add_argument("--factor", type=float, default=ENGINE_FACTOR,
                        help="the factor set against --base (default: the engine's)")
    parser.add_argument("--base", type=float, default=1.0, help="the factor it is set against")
    parser.add_argument("--tight", action="store_true",
                        help="instead: the engine's steps without and with the tight first try")
    parser.add_argument("--accepts", type=int, default=0, metavar="N",
                        help="instead: which error accepts the tight first grid on N states")
    parser.add_argument("--tol", type=float, default=1e-9, help="--accepts: the tolerance")
    parser.add_argument("--seed", type=int, default=5, help="--accepts: the draws' seed")
    args = parser.parse_args()
    if args.accepts:
        got = accepts(args.accepts, args.tol, args.seed)
        print(f"tol {args.tol:g}, {args.accepts} states along T3.5 sweep runs (n = 5, d = 3): "
              + ", ".join(f"{k} {v}" for k, v in got.items()))
        return
    if args.tight:
        args.base, args.factor = ENGINE_FACTOR, ENGINE_FACTOR
    arms = ((args.base, args.base), (args.factor, ENGINE_TIGHT if args.tight else args.factor))
    m0s = [float(x) for x in args.M0.split(",")]
    names = [f"{f:g}" if t == f else f"{t:g}, then {f:g}" for f, t in arms]
    print(f"{'setting':40s} {'cpu B':>7s} {'cpu F':>7s} {'ratio':>6s} {'evals B':>9s} "
          f"{'evals F':>9s} {'grids':>7s} {'rel diff':>8s}  (first factors B: {names[0]}, "
          f"F: {names[1]})")
    total = [0.0, 0.0]
    for label, start, tol in settings(m0s, args.seeds):
        old = one_run(start, tol, args.steps, int(args.budget), arms[0])
        new = one_run(start, tol, args.steps, int(args.budget), arms[1])
        total[0] += old["cpu"]
        total[1] += new["cpu"]
        diff = float(np.max(np.abs(old["m"] - new["m"])) / np.max(np.abs(old["m"])))
        flags = "".join(f" [{w}: {r['status']}]" for w, r in (("B", old), ("F", new))
                        if r["status"] != "ok")
        print(f"{label:40s} {old['cpu']:7.2f} {new['cpu']:7.2f} "
              f"{new['cpu'] / max(old['cpu'], 1e-9):6.2f} {old['evals']:9.3g} {new['evals']:9.3g} "
              f"{old['grids']:>3d}/{new['grids']:<3d} {diff:8.1e}{flags}", flush=True)
    print(f"total CPU s: {total[0]:.1f} with B, {total[1]:.1f} with F "
          f"(ratio {total[1] / max(total[0], 1e-9):.2f})")


if __name__ == "__main__":
    main()
