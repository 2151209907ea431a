"""Wall time of a whole profile (every registered claim) by number of workers, and the check that
the results are identical whatever that number.

`python -m benchmarks.sweeps [--profile quick] [--workers 1,2] [ID ...]`. Each run starts from
nothing (no cache, derandomised search so every run meets the same instances; pool start-up is
included). Workers 0 means in the main process. Prints the load average before and after each run:
on a shared machine the figures are noisy. The target on a 2-core machine is a speed-up of at least
1.6 from 1 to 2 workers; what bounds it is the longest chain of work that cannot be split (one long
instance, or a sequential hypothesis search), printed as the critical path, and the load left by
other users, measured at the end by running a pure-Python loop in 1 and in 2 processes. (Linux
schedules by session, `kernel.sched_autogroup_enabled`: on a machine busy with other sessions, all
processes of this one share one session's slice, and more workers cannot make it faster; the jobs
in flight then show the pool is busy, and the loop shows the ceiling.)"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

from scoreclaims.claims import registry
from scoreclaims.claims._run.executors import make_executor
from scoreclaims.claims.evidence import ClaimResult
from scoreclaims.claims.runner import RunOptions, verify
from scoreclaims.claims.verdict import Verdict


def comparable(results: list[ClaimResult]) -> str:
    """The results JSON without timings and cache flags (equal strings: identical floats)."""

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items()
                    if k not in ("wall_time_s", "cached", "cached_instances")}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    return json.dumps(strip([r.to_json() for r in results]), sort_keys=True)


def critical_path(results: list[ClaimResult]) -> tuple[float, float]:
    """(total compute time, the longest chain: the largest grid instance or search chain).

    A job shared by a claim and its variants counts once."""
    jobs: dict[tuple[Any, ...], tuple[str, float]] = {}
    for result in results:
        for r in result.inside + result.beyond:
            if not r.cached:
                key = (id(result.claim.run), json.dumps(result.params, sort_keys=True, default=str),
                       json.dumps(r.instance, sort_keys=True))
                jobs[key] = (f"{result.claim.id} {r.source}", r.wall_time_s)
    total = sum(t for _, t in jobs.values())
    chains: dict[str, float] = {}
    for name, t in jobs.values():
        if name.endswith("search"):
            chains[name] = chains.get(name, 0.0) + t
    grid = [t for name, t in jobs.values() if name.endswith("grid")]
    return total, max([*chains.values(), *grid], default=0.0)


def _spin(n: int) -> float:
    start, x = time.perf_counter(), 0
    for i in range(n):
        x += i * i
    return time.perf_counter() - start


def machine_speed_up(n: int = 20_000_000) -> float:
    """What 2 processes gain over 1 on a pure-Python loop right now (the ceiling the machine's
    current load leaves: 2.0 on two idle cores)."""
    import multiprocessing

    one = _spin(n)
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        start = time.perf_counter()
        pool.map(_spin, [n, n])
        two = time.perf_counter() - start
    return 2 * one / two


def run(claims: list[Any], profile: str, workers: int) -> tuple[float, list[ClaimResult]]:
    start = time.perf_counter()
    with make_executor(workers) as executor:
        results = verify(claims, RunOptions(profile=profile, derandomize=True, executor=executor))
    return time.perf_counter() - start, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ids", nargs="*", help="claim ids (default: all registered)")
    parser.add_argument("--profile", default="quick", choices=("quick", "full"))
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    claims = registry.load().select(args.ids, args.profile)
    print(f"profile {args.profile}: {len(claims)} claims ({', '.join(c.id for c in claims)}), "
          f"{os.cpu_count()} cores")
    times: dict[int, float] = {}
    reference: str | None = None
    for workers in counts:
        before = os.getloadavg()
        elapsed, results = run(claims, args.profile, workers)
        after = os.getloadavg()
        times[workers] = elapsed
        total, longest = critical_path(results)
        verdicts = ", ".join(f"{r.claim.id} {r.verdict.value}" for r in results)
        same = comparable(results)
        identical = "reference" if reference is None else (
            "identical" if same == reference else "DIFFERENT")
        reference = reference or same
        print(f"workers {workers}: {elapsed:7.1f} s wall  (compute {total:.1f} s, "
              f"{total / elapsed:.2f} jobs in flight on average, critical path "
              f"{longest:.1f} s; load average {before[0]:.2f} -> {after[0]:.2f}); results "
              f"{identical}; "
              f"{sum(r.verdict is Verdict.ERROR for r in results)} error verdicts")
        print(f"  {verdicts}")
        for r in results:
            for i in r.inside + r.beyond:
                if i.verdict is Verdict.ERROR:
                    print(f"  error in {r.claim.id}: {i.reason[:300]}")
    if 1 in times:
        for workers, elapsed in times.items():
            if workers > 1:
                print(f"speed-up 1 -> {workers} workers: {times[1] / elapsed:.2f}")
    print(f"for scale, 2 processes vs 1 on a pure-Python loop right now: "
          f"{machine_speed_up():.2f} (load average {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
