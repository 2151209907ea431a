"""Does the n = 5, d = 3 sweeps' cubature tolerance change what a seed does? Each seed is
classified twice, side by side: with the sweep's settings (the path at SWEEP_TOL_K3, its budget,
signs left open certified afresh down to the engine's default) and with the whole path at the
engine's default tolerance (a budget of its own). Prints per seed the outcome (converging means,
diverging means), the decision step, the evaluations and the CPU seconds of each, then how many
seeds decided at both agree, per M_0 and pooled, as a markdown table (figures, not assertions:
the "tol-check" instances of T3.5 run the first seeds so in every full profile). The default
budget is the sweeps' own (`SEED_BUDGET`), so "undecided" means what it means in a sweep.

`python -m benchmarks.sweep_tolerance [--M0 4,6,8,10] [--seeds 0:10] [--budget 1e8] [--json]`
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from scoreclaims.claims.paper._random_init_runs import initial_means, run_classified, wilson
from scoreclaims.claims.paper.random_init import (
    SEED_BUDGET,
    SWEEP_ETA,
    SWEEP_TOL_K3,
    T3_5,
    agreement,
    sweep_instance,
)

N, D = 5, 3


def classify(m0: float, seed: int, tol: float | None, budget: int) -> dict[str, Any]:
    """One seed through the sweep's classification (its step, horizons and thresholds)."""
    inst, params = sweep_instance(N, D, m0, 1), T3_5.parameters
    t0 = time.process_time()
    out = run_classified(initial_means(N, D, m0, seed), SWEEP_ETA, params["first_horizon"],
                         inst["max_steps"], params["r_conv"], params["r_div"], budget, tol)
    return {"seed": seed, "decided": out["decided"], "converged": out["converged"],
            "diverged": out["diverged"], "tau": out["tau"], "evaluations": out["evaluations"],
            "certified_tol": out["certified_tol"], "reason": out["reason"],
            "cpu_s": time.process_time() - t0}


def seed_range(text: str) -> range:
    lo, _, hi = text.partition(":")
    return range(int(lo), int(hi)) if hi else range(int(lo), int(lo) + 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--M0", default="4,6,8,10", help="comma-separated M_0 values")
    parser.add_argument("--seeds", default="0:10", help="a seed or a range lo:hi")
    parser.add_argument("--budget", type=float, default=SEED_BUDGET,
                        help="integrand evaluations per seed at the default tolerance "
                        "(default: the sweeps' budget)")
    parser.add_argument("--json", action="store_true", help="the rows as JSON")
    args = parser.parse_args()
    rows = []
    for m0 in (float(v) for v in args.M0.split(",")):
        for seed in seed_range(args.seeds):
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
    groups = {m0: [r for r in rows if r["M0"] == m0]
              for m0 in dict.fromkeys(r["M0"] for r in rows)}
    summary = [_summary(f"{m0:g}", g) for m0, g in groups.items()] + [_summary("all", rows)]
    if args.json:
        print(json.dumps({"rows": rows, "summary": summary}, indent=1))
        return
    print(_table(summary))


def _summary(label: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per group: seeds decided at both and differing (`agreement`, the tol-check's rule), the
    95% Wilson upper bound of the rate of differing, undecided and CPU seconds at each."""
    both, differ = agreement([r["sweep"] for r in rows], [r["default"] for r in rows])
    upper = wilson(len(differ), len(both))
    ratios = sorted(r["default"]["cpu_s"] / max(r["sweep"]["cpu_s"], 1e-9) for r in rows
                    if r["sweep"]["decided"] and r["default"]["decided"])
    return {"M0": label, "seeds": len(rows), "decided_at_both": len(both), "differ": differ,
            "rate_upper": None if upper is None else upper[1],
            "undecided_sweep": sum(not r["sweep"]["decided"] for r in rows),
            "undecided_default": sum(not r["default"]["decided"] for r in rows),
            "cpu_s_sweep": sum(r["sweep"]["cpu_s"] for r in rows),
            "cpu_s_default": sum(r["default"]["cpu_s"] for r in rows),
            "median_ratio_decided": ratios[len(ratios) // 2] if ratios else None}


def _table(summary: list[dict[str, Any]]) -> str:
    head = ("| M_0 | seeds | decided at both | differ | rate of differing, 95% upper | undecided "
            "(sweep, default) | CPU s (sweep, default) | median CPU ratio, decided at both |")
    lines = [head, "|" + " --- |" * 8]
    for s in summary:
        upper = "–" if s["rate_upper"] is None else f"{s['rate_upper']:.3g}"
        ratio = "–" if s["median_ratio_decided"] is None else f"{s['median_ratio_decided']:.3g}"
        lines.append(f"| {s['M0']} | {s['seeds']} | {s['decided_at_both']} | {s['differ']} | "
                     f"{upper} | {s['undecided_sweep']}, {s['undecided_default']} | "
                     f"{s['cpu_s_sweep']:.0f}, {s['cpu_s_default']:.0f} | {ratio} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
