"""Would a grid split along the far axis be cheaper? Measures what a graded grid could save on
the n = 5, d = 3 T3.5 sweep states, the configurations whose cost keeps the sweeps off the
engine's default tolerance (docs/performance.md).

The integrand is cut by a smooth partition of unity along the reduced axis of widest span (its
sign turned so that the means' coordinates sum to a positive number: the far side positive),
chi_b(y_e) = (erf((y_e - a_b) / w) - erf((y_e - a_(b+1)) / w)) / 2 (entire, so each piece
chi_b f keeps the trapezoid rule's convergence), and each piece gets its own grid: the coarsest
multiple of the engine's accepted steps (each capped at the Gaussian's own step) whose estimate
(`trapezoid.apply_grid`'s, the engine's) meets the piece's share tol / B of the tolerance, B the
number of pieces; a piece's nodes are those where chi_b > 1e-13. Printed per configuration: the
engine's nodes, the split's, their ratio and each piece's (factor, nodes). A diagnostic, not a
rule: the estimate is validated on the engine's integrands (docs/engine.md), not on windowed ones.

`python -m benchmarks.grid_split [--edges 2.5] [--width 0.3] [--steps 0,32] [--M0 8,10]
[--seeds 0:2]`
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.special import erf

from benchmarks.grid_estimate import engine_grid
from scoreclaims.claims.paper._random_init_runs import initial_means
from scoreclaims.claims.paper.random_init import SWEEP_ETA
from scoreclaims.verifiers import default_tol, evaluate, trapezoid
from scoreclaims.verifiers.quadrature import within_tol

FACTORS = (1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0)
SUPPORT = 1e-13  # a piece's nodes: where its window exceeds this


def window(x: np.ndarray, edges: Sequence[float], width: float, b: int) -> np.ndarray:
    """chi_b(x), piece b of the partition of unity cut at the sorted `edges`."""
    lower = np.ones_like(x) if b == 0 else 0.5 * (1 + erf((x - edges[b - 1]) / width))
    upper = np.zeros_like(x) if b == len(edges) else 0.5 * (1 + erf((x - edges[b]) / width))
    return lower - upper


def windows(x: np.ndarray, edges: Sequence[float], width: float) -> np.ndarray:
    """(B, len(x)) every piece, B = len(edges) + 1."""
    return np.array([window(x, edges, width, b) for b in range(len(edges) + 1)])


def split_nodes(m: np.ndarray, tol: float, edges: Sequence[float], width: float,
                factors: Sequence[float] = FACTORS) -> dict[str, Any] | None:
    """The engine's fresh grid for canonical means `m` against the split (module docstring);
    None when the engine takes no grid there. A piece no factor serves gets factor None and
    makes the split's total None."""
    grid = engine_grid(np.asarray(m, dtype=float), tol)
    if grid is None:
        return None
    coords, rule = grid.coords, grid.result.rule
    k = coords.shape[1]
    axis = int(np.argmax(np.ptp(coords, axis=0)))
    side = 1.0 if np.sum(coords[:, axis]) >= 0 else -1.0  # the far means on the positive side
    gauss = trapezoid.a_priori_steps(np.zeros(k), tol)  # the Gaussian's own step per axis
    pieces = []
    for b in range(len(edges) + 1):

        def piece(y: np.ndarray, b: int = b) -> np.ndarray:
            return grid.integrand(y) * window(side * y[:, axis], edges, width, b)[:, None]

        best = None
        for f in factors:
            step = np.minimum(rule.step * f, np.maximum(rule.step, gauss))
            sub = trapezoid.build_grid(coords, grid.basis, step, rule.span, rule.left_out,
                                       max_nodes=50_000_000)
            if sub is None:
                break
            _, _, _, est = trapezoid.apply_grid(sub, piece, grid.gmat, grid.bound)
            if not within_tol(est, grid.result.abs_value, grid.gmat, tol / (len(edges) + 1)):
                break
            inside = window(side * sub.points[:, axis], edges, width, b) > SUPPORT
            best = (f, int(np.sum(inside)))
        pieces.append(best)
    total = None if any(p is None for p in pieces) else sum(p[1] for p in pieces)
    return {"spans": np.ptp(coords, axis=0).tolist(), "axis": axis,
            "engine_nodes": rule.n_nodes, "split_nodes": total, "pieces": pieces}


def sweep_state(m0: float, seed: int, steps: int) -> np.ndarray:
    """An n = 5, d = 3 sweep seed after `steps` GD steps at the sweeps' step, default tol."""
    m, rule = initial_means(5, 3, m0, seed), None
    for _ in range(steps):
        ev = evaluate(m, None, rule)
        rule, m = ev.rule, m - SWEEP_ETA * ev.grad
    return m


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edges", default="2.5", help="comma-separated cut positions")
    parser.add_argument("--width", type=float, default=0.3, help="the windows' erf width")
    parser.add_argument("--steps", default="0,32", help="GD steps before measuring")
    parser.add_argument("--M0", default="8,10", help="comma-separated M_0 values")
    parser.add_argument("--seeds", default="0:2", help="a range lo:hi")
    args = parser.parse_args()
    edges = [float(v) for v in args.edges.split(",")]
    lo, _, hi = args.seeds.partition(":")
    tol = default_tol(3)
    print("| M_0 | seed | steps | spans | engine nodes | split nodes | ratio | pieces "
          "(factor, nodes) |\n|" + " --- |" * 8)
    for m0 in (float(v) for v in args.M0.split(",")):
        for seed in range(int(lo), int(hi)):
            for steps in (int(v) for v in args.steps.split(",")):
                out = split_nodes(sweep_state(m0, seed, steps), tol, edges, args.width)
                if out is None:
                    print(f"| {m0:g} | {seed} | {steps} | no grid | | | | |", flush=True)
                    continue
                total = out["split_nodes"]
                ratio = "–" if total is None else f"{total / out['engine_nodes']:.2f}"
                print(f"| {m0:g} | {seed} | {steps} | "
                      f"{', '.join(f'{s:.2f}' for s in out['spans'])} | {out['engine_nodes']:,} | "
                      f"{'–' if total is None else f'{total:,}'} | {ratio} | {out['pieces']} |",
                      flush=True)


if __name__ == "__main__":
    main()
