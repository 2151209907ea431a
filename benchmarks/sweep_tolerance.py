"""Does the n = 5, d = 3 sweeps' cubature tolerance change what a seed does? Each seed is
classified twice, side by side: with the sweep's settings (the path at SWEEP_TOL_K3, its budget,
signs left open certified afresh down to the engine's default) and with the whole path at the
engine's default tolerance (a budget of its own). Prints per seed the outcome (converging means,
diverging means), the decision step, the evaluations and the CPU seconds of each, then how many
seeds decided at both agree (figures, not assertions: the "tol-check" instances of T3.5 run a
few such seeds in every full profile).

`python -m benchmarks.sweep_tolerance [--M0 4,6,8,10] [--seeds 0:10] [--budget 5e8] [--json]`
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from scoreclaims.claims.paper._random_init_runs import initial_means, run_classified
from scoreclaims.claims.paper.random_init import (
    SEED_BUDGET,
    SWEEP_ETA,
    SWEEP_TOL_K3,
    T3_5,
    sweep_instance,
)

N, D = 5, 3


def classify(m0: float, seed: int, tol: float | None, budget: int) -> dict[str, Any]:
    """One seed through the sweep's classification (its step, horizons and thresholds)."""
    inst, params = sweep_instance(N, D, m0, 1), T3_5.parameters
    t0 = time.process_time()
    out = run_classified(initial_means(N, D, m0, seed), SWEEP_ETA, params["first_horizon"],
                         inst["max_steps"], params["r_conv"], params["r_div"], budget, tol)
    return {"decided": out["decided"], "converged": out["converged"],
            "diverged": out["diverged"], "tau": out["tau"], "evaluations": out["evaluations"],
            "certified_tol": out["certified_tol"], "reason": out["reason"],
            "cpu_s": time.process_time() - t0}


def _seeds(text: str) -> range:
    lo, _, hi = text.partition(":")
    return range(int(lo), int(hi)) if hi else range(int(lo), int(lo) + 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--M0", default="4,6,8,10", help="comma-separated M_0 values")
    parser.add_argument("--seeds", default="0:10", help="a seed or a range lo:hi")
    parser.add_argument("--budget", type=float, default=5e8,
                        help="integrand evaluations per seed at the default tolerance")
    parser.add_argument("--json", action="store_true", help="the rows as JSON")
    args = parser.parse_args()
    rows = []
    for m0 in (float(v) for v in args.M0.split(",")):
        for seed in _seeds(args.seeds):
            sweep = classify(m0, seed, SWEEP_TOL_K3, SEED_BUDGET)
            default = classify(m0, seed, None, int(args.budget))
            rows.append({"M0": m0, "seed": seed, "sweep": sweep, "default": default})
            if not args.json:
                def show(r: dict[str, Any]) -> str:
                    what = (f"conv {r['converged']} div {r['diverged']}" if r["decided"]
                            else "undecided")
                    return (f"{what} tau {r['tau']} evals {r['evaluations']:.2e} "
                            f"cpu {r['cpu_s']:.1f}s")
                print(f"M0 {m0:g} seed {seed:3d} | sweep: {show(sweep)} | default: "
                      f"{show(default)}", flush=True)
    both = [r for r in rows if r["sweep"]["decided"] and r["default"]["decided"]]
    same = sum((r["sweep"]["converged"], r["sweep"]["diverged"])
               == (r["default"]["converged"], r["default"]["diverged"]) for r in both)
    summary = {"seeds": len(rows), "decided_at_both": len(both), "same_outcome": same,
               "undecided_sweep": sum(not r["sweep"]["decided"] for r in rows),
               "undecided_default": sum(not r["default"]["decided"] for r in rows),
               "cpu_s_sweep": sum(r["sweep"]["cpu_s"] for r in rows),
               "cpu_s_default": sum(r["default"]["cpu_s"] for r in rows)}
    if args.json:
        print(json.dumps({"rows": rows, "summary": summary}, indent=1))
        return
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
