"""Cost of the low-noise claims' building blocks (issue 8): one T3.2 run at T3.2's radius
(arbitrary precision, ~780 digits at M0 = 2), one classified phase-boundary run on each side of
the boundary, and one bisected boundary point. Prints wall and CPU seconds with the load average
(figures, not assertions; the machine is shared). `python -m benchmarks.low_noise`."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any


def _timed(label: str, fn: Callable[[], Any]) -> Any:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    print(f"{label:<48}{time.perf_counter() - wall:9.2f} s wall{time.process_time() - cpu:9.2f}"
          f" s CPU   load {os.getloadavg()[0]:.2f}")
    return out


def main() -> None:
    from scoreclaims.claims.paper._boundary_runs import classified_run
    from scoreclaims.claims.paper.low_noise import PARAMS, collapse_instance, run_collapse
    from scoreclaims.claims.paper.phase_boundary import PARAMS as PB_PARAMS
    from scoreclaims.claims.paper.phase_boundary import _items, boundary_point, curve

    for big_m in (1.0, 2.0):
        out = _timed(f"T3.2 run, n = 2, M0 = {big_m:g} at the bound",
                     lambda m=big_m: run_collapse(collapse_instance(2, 1, m), PARAMS))
        print(f"    {out.metrics['steps']} steps at {out.metrics['dps']} digits")
    for x in (-11.5, -11.2):
        run = _timed(f"classified run, n = 2, M0 = 6, log10 delta = {x:g}",
                     lambda x=x: classified_run(2, 1, 6.0, x, 0.01, 0))
        print(f"    {run.outcome} at tau = {run.tau}, pre-phase {run.pre_phase}")
    item = _items(curve(2, 1, (6,)), PB_PARAMS)[0]
    point = _timed("boundary point, n = 2, M0 = 6 (generic start)", lambda: boundary_point(item))
    print(f"    log10 delta* = {point['log10_delta_star']:.3f} after {len(point['runs'])} runs")


if __name__ == "__main__":
    main()
