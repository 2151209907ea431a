"""The trapezoid grid's aliasing bound (`verifiers.aliasing`), held against a reference, and
the nodes and time it saves (figures, not assertions; tests/test_aliasing.py holds a subset).

`python -m benchmarks.alias_bound [--configs N] [--tol T] [--seed S] [--along]`
`python -m benchmarks.alias_bound --speed [--tol T] [--steps N] [--seeds S]`: GD runs timed with
the estimate alone and with the bound, side by side in one process (`speed`).
`python -m benchmarks.alias_bound --sweep 4,8 --seeds 6:16`: T3.5's n = 5, d = 3 sweep seeds
with the whole path at the engine's default tolerance, classified with the estimate alone and
with the bound, side by side (`sweep`).

The engine accepts a grid (the mean T of 2^k sub-lattices of steps h, i.e. the lattice of steps
h / 2) when max_s |T - T_s|, about the error of one sub-lattice, meets the tolerance, or, where
that estimate misses, when the aliasing bound of T's own lattice does (`trapezoid.apply_grid`).
For each configuration (`grid_estimate.draw_config` or `draw_along`): the grid the estimate alone
accepts (the engine before the bound), and grids of its steps times each factor in FACTORS; on
each, the bound (`trapezoid.lattice_bound` plus the left-out weight times the integrand bound and
the rounding bound, as the engine adds them) against the true error, from a reference at four
times the estimate's grid's node density; and the majorants' expectations the bound uses
(`trapezoid.rule_majorants`) against the reference's: the bound's one unproven input, carried
with a factor MAJORANT_SAFETY = 2. Printed per shape: configurations, misses (true error above
the bound, any component the reference resolves), the worst true / bound, how many of the
estimate's grids the bound alone accepts, the median and worst nodes of the coarsest grid the
bound accepts against the estimate's grid, and the worst majorant ratio (reference / what the
bound uses before the safety factor; above 2 the bound's input would not be covered).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from benchmarks.grid_estimate import (
    REFERENCE_MAX_NODES,
    configurations,
    engine_grid,
    reference,
    worst_ratio,
)
from benchmarks.grid_start import one_run
from benchmarks.sweep_tolerance import classify, seed_range
from scoreclaims.claims.paper._random_init_runs import initial_means
from scoreclaims.claims.paper.random_init import SEED_BUDGET, agreement
from scoreclaims.verifiers import population
from scoreclaims.verifiers.aliasing import MAJORANT_SAFETY, Majorants, majorants
from scoreclaims.verifiers.quadrature import within_tol
from scoreclaims.verifiers.trapezoid import (
    GridRule,
    apply_grid,
    build_grid,
    lattice_bound,
    rule_majorants,
)


@dataclass(frozen=True)
class Coverage:
    """One grid on one configuration."""

    factor: float
    nodes: int
    true_over_bound: float  # worst over the components the reference resolves
    bound_accepts: bool


def _majorant_ratio(rule: GridRule, coords: np.ndarray, ref: Majorants) -> float:
    """The largest ratio of a majorant expectation by the reference to the one `lattice_bound`
    uses (`trapezoid.rule_majorants`) before MAJORANT_SAFETY and the left-out part: above 2,
    the bound's one unproven input would not be covered."""
    used = rule_majorants(rule, coords)
    worst = 0.0
    for a, b in ((used.loss, ref.loss), (used.a, ref.a), (used.b, ref.b), (used.c, ref.c),
                 (used.last, ref.last)):
        a, b = np.asarray(a, dtype=float) / MAJORANT_SAFETY, np.asarray(b, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            worst = max(worst, float(np.max(np.where(a > 0, b / a, np.where(b > 0, np.inf, 0)))))
    return worst


def measure(m: np.ndarray, tol: float, factors: list[float]
            ) -> tuple[int, list[Coverage], float] | None:
    """The estimate's grid (`grid_estimate.engine_grid`: the grid the engine took before the
    bound) on the canonical means m; each grid of its sub-lattice steps times a factor with its
    bound held against a reference at four times that grid's node density (factors above 1 stop
    after the first the bound refuses); and the worst majorant ratio (`_majorant_ratio`); None
    where the engine takes no grid."""
    grid = engine_grid(m, tol)
    if grid is None:
        return None
    coords, rule = grid.coords, grid.result.rule
    got = reference(grid)
    if got is None:
        return None
    fine, ref, _, floor = got
    ref_maj = majorants(fine.points, fine.weight, coords)
    out, maj_ratio = [], 0.0
    for factor in sorted(factors):
        coarse = rule if factor == 1 else build_grid(coords, grid.basis, rule.step * factor,
                                                     rule.span, rule.left_out,
                                                     4 * REFERENCE_MAX_NODES)
        if coarse is None:
            break
        value, absval, err, est = apply_grid(coarse, grid.integrand, grid.gmat, grid.bound)
        bnd = lattice_bound(coarse, coords) + (err - est)
        maj_ratio = max(maj_ratio, _majorant_ratio(coarse, coords, ref_maj))
        accepts = within_tol(bnd, absval, grid.gmat, tol)
        out.append(Coverage(factor, coarse.n_nodes, worst_ratio(np.abs(value - ref), bnd, floor),
                            accepts))
        if factor > 1 and not accepts:
            break
    return rule.n_nodes, out, maj_ratio


FACTORS = (1.0, 1.2, 1.3, 1.4, 1.5, 1.6, 1.8, 2.0)


def run(configs: int, tol: float, seed: int, along: bool = False,
        shapes: tuple[tuple[int, int], ...] = ((3, 2), (5, 3))) -> list[dict[str, object]]:
    """Per shape (n, d): configurations, misses (true > bound), the worst true / bound, how many
    of the estimate's grids the bound accepts, the median and worst nodes of the coarsest grid
    it accepts against the estimate's grid, and the worst majorant ratio."""
    rng = np.random.default_rng(seed)
    rows = []
    for n, d in shapes:
        t0 = time.process_time()
        done, worst, misses, maj_worst = 0, 0.0, 0, 0.0
        saved, own = [], 0
        draws = configurations(rng, n, d, along)
        while done < configs:
            got = measure(next(draws), tol, list(FACTORS))
            if got is None:
                continue
            nodes, covs, maj_ratio = got
            done += 1
            maj_worst = max(maj_worst, maj_ratio)
            worst = max(worst, max(c.true_over_bound for c in covs))
            misses += any(c.true_over_bound > 1 for c in covs)
            own += covs[0].bound_accepts
            ok = [c.nodes for c in covs if c.bound_accepts]
            saved.append(min(ok) / nodes if ok else np.nan)
        rows.append({"n": n, "d": d, "k": min(n - 1, d), "tol": tol, "along": along,
                     "configs": done, "misses": misses, "worst_true_over_bound": worst,
                     "accepts_engine_grid": own,
                     "median_nodes_vs_engine": float(np.nanmedian(saved)) if own else None,
                     "worst_nodes_vs_engine": float(np.nanmax(saved)) if own else None,
                     "worst_majorant_ratio": maj_worst, "cpu_s": time.process_time() - t0})
    return rows


@contextmanager
def _grid_bound(on: bool) -> Iterator[None]:
    """The engine with (`on`) or without the aliasing bound, the previous setting restored."""
    before = population.GRID_ALIASING_BOUND
    population.GRID_ALIASING_BOUND = on
    try:
        yield
    finally:
        population.GRID_ALIASING_BOUND = before


def speed(tol: float, steps: int, seeds: int) -> list[dict[str, object]]:
    """GD at the sweeps' step 0.1 for `steps` steps from n = 5, d = 3 starts (N(0, I) draws and
    T3.5 sweep starts at M_0 = 4, 6, 8, 10, `seeds` each), run with the grid's estimate alone
    (`population.GRID_ALIASING_BOUND` off) and then with the bound, in this process: CPU
    seconds of each and the largest difference of the final means."""
    starts = [("N(0, I)", np.random.default_rng(s).normal(size=(5, 3))) for s in range(seeds)]
    starts += [(f"M_0 = {m0:g}", np.array(initial_means(5, 3, m0, s)))
               for m0 in (4.0, 6.0, 8.0, 10.0) for s in range(seeds)]
    rows: dict[str, dict[str, float]] = {}
    for label, m in starts:
        finals, cpu = [], []
        for on in (False, True):
            with _grid_bound(on):
                got = one_run(m, tol, steps)
            cpu.append(float(got["cpu"]))
            finals.append(got["m"])
        row = rows.setdefault(label, {"runs": 0, "alone": 0.0, "bound": 0.0, "diff": 0.0})
        row["runs"] += 1
        row["alone"] += cpu[0]
        row["bound"] += cpu[1]
        row["diff"] = max(row["diff"], float(np.max(np.abs(finals[0] - finals[1]))))
    return [{"start": k, "tol": tol, "steps": steps, **v} for k, v in rows.items()]


def sweep(m0s: list[float], seeds: range) -> list[dict[str, object]]:
    """Per M_0: the sweep seeds classified at the engine's default tolerance and the sweeps'
    budget (`benchmarks.sweep_tolerance.classify`) with the estimate alone and then with the
    bound, in this process: seeds decided, seeds decided by both whose converging sets differ
    (`random_init.agreement`, the tolerance check's rule), integrand evaluations and CPU
    seconds of each."""
    rows = []
    for m0 in m0s:
        runs: tuple[list[dict], list[dict]] = ([], [])
        for seed in seeds:
            for on in (False, True):
                with _grid_bound(on):
                    runs[on].append(classify(m0, seed, None, int(SEED_BUDGET)))
        _, differ = agreement(*runs)
        rows.append({"M0": m0, "seeds": len(seeds), "differ": len(differ),
                     "decided": [sum(r["decided"] for r in side) for side in runs],
                     "evaluations": [sum(r["evaluations"] for r in side) for side in runs],
                     "cpu_s": [sum(r["cpu_s"] for r in side) for side in runs]})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", type=int, default=20, help="configurations per shape")
    parser.add_argument("--tol", type=float, default=1e-9)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--along", action="store_true",
                        help="configurations along T3.5 sweep runs (n = 3 and 5, d = 3)")
    parser.add_argument("--json", action="store_true", help="the rows as JSON")
    parser.add_argument("--speed", action="store_true",
                        help="instead: GD runs timed with the estimate alone and with the bound")
    parser.add_argument("--steps", type=int, default=16, help="--speed: GD steps per run")
    parser.add_argument("--seeds", default="2", help="--speed: starts per kind; --sweep: a seed "
                        "range lo:hi")
    parser.add_argument("--sweep", default="", metavar="M0S",
                        help="instead: T3.5 sweep seeds at these comma-separated M_0 at the "
                        "default tolerance, with the estimate alone and with the bound")
    args = parser.parse_args()
    if args.sweep:
        out = sweep([float(v) for v in args.sweep.split(",")], seed_range(args.seeds))
        _print(out, args.json, "M_0 | seeds | decided (estimate alone, with the bound) | "
               "converging sets that differ | evaluations (estimate alone, with the bound) | "
               "CPU s (estimate alone, with the bound)",
               [f"{r['M0']:g} | {r['seeds']} | {r['decided'][0]}, {r['decided'][1]} | "
                f"{r['differ']} | {r['evaluations'][0]:.3g}, {r['evaluations'][1]:.3g} | "
                f"{r['cpu_s'][0]:.0f}, {r['cpu_s'][1]:.0f}" for r in out])
        return
    if args.speed:
        out = speed(args.tol, args.steps, int(args.seeds))
        total = (sum(r["alone"] for r in out), sum(r["bound"] for r in out))
        _print(out, args.json, f"starts (n = 5, d = 3; {args.steps} steps of 0.1, tol "
               f"{args.tol:g}) | runs | CPU s, estimate alone | CPU s, with the bound | ratio | "
               "largest difference of the final means",
               [f"{r['start']} | {r['runs']} | {r['alone']:.2f} | {r['bound']:.2f} | "
                f"{r['bound'] / r['alone']:.2f} | {r['diff']:.1e}" for r in out]
               + [f"all | {sum(r['runs'] for r in out)} | {total[0]:.2f} | {total[1]:.2f} | "
                  f"{total[1] / total[0]:.2f} | "])
        return
    shapes = ((3, 3), (5, 3)) if args.along else ((3, 2), (5, 3))
    rows = run(args.configs, args.tol, args.seed, args.along, shapes)
    _print(rows, args.json, "tol | k | source | configurations | misses | worst true / bound | "
           "bound accepts the estimate's grid | nodes vs the estimate's grid (median, worst) | "
           "worst majorant ratio | CPU s",
           [f"{r['tol']:.0e} | {r['k']} | {'along runs' if r['along'] else 'draws'} | "
            f"{r['configs']} | {r['misses']} | {r['worst_true_over_bound']:.3g} | "
            f"{r['accepts_engine_grid']} | "
            + ("–" if r["median_nodes_vs_engine"] is None else
               f"{r['median_nodes_vs_engine']:.3f}, {r['worst_nodes_vs_engine']:.3f}")
            + f" | {r['worst_majorant_ratio']:.3g} | {r['cpu_s']:.0f}" for r in rows])


def _print(rows: list[dict[str, object]], as_json: bool, header: str, lines: list[str]) -> None:
    """The rows as JSON, or as a markdown table of `header` (cells joined by " | ") and `lines`."""
    if as_json:
        print(json.dumps(rows, indent=1))
        return
    print(f"| {header} |")
    print("|" + "---|" * (header.count("|") + 1))
    for line in lines:
        print(f"| {line} |")


if __name__ == "__main__":
    main()
