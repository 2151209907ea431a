"""Running claims: plan every instance as a job, search for counterexamples, judge, aggregate.

`verify(claims, options)` plans every grid instance of every claim at once as jobs of one
`Scheduler` (on `options.executor`: the main process by default, a local pool or Dask), then
finishes the claims in order: for each, the hypothesis search (`search`), whose instances go to
the executor ahead of the grid while the grid keeps the other workers busy; then each instance is
judged (`judge`) on the claim's own copy of its outcome, and the claim's verdict is aggregated
over the instances inside its hypotheses (instances beyond them get an exploration verdict of
their own, never blended in).

The outcome of ``claim.run(instance, params)`` is one job, shared by every claim and known-false
variant with the same `run` and parameters, so variants never multiply the work (neither in one
run nor across runs: the cache holds outcomes, not verdicts). `Claim.run` must be deterministic
given (instance, params): randomness comes from seeds inside the instance, never from global
state.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from scoreclaims.claims._run.base import PRIORITY_GRID, PRIORITY_SEARCH, Handle
from scoreclaims.claims._run.cache import ResultsCache
from scoreclaims.claims._run.jobs import Job, precision, run_job
from scoreclaims.claims._run.scheduler import Scheduler
from scoreclaims.claims.evidence import ClaimResult, InstanceResult, jsonable
from scoreclaims.claims.judge import claim_reason, judge_outcome
from scoreclaims.claims.model import Claim
from scoreclaims.claims.options import RunOptions
from scoreclaims.claims.search import instance_key, normalise, search
from scoreclaims.claims.verdict import Verdict, aggregate

__all__ = ["RunOptions", "evaluate", "precision", "result_key", "verify", "verify_claim"]


def _claim_job(claim: Claim, instance: dict[str, Any], params: Mapping[str, Any]) -> Job:
    return run_job(claim.run, instance, params, claim_id=claim.id,
                   json_params=jsonable(params, strict=False))


def result_key(claim: Claim, instance: Mapping[str, Any], params: Mapping[str, Any]) -> str:
    """Cache key of `claim.run`'s outcome on one instance (shared with the claim's variants)."""
    return _claim_job(claim, normalise(instance), params).key


@dataclass
class _Planned:
    """One instance of one claim: its job's handle, or an error found before any job."""

    claim: Claim
    instance: dict[str, Any]
    params: Mapping[str, Any]
    source: str
    inside: bool = True
    handle: Handle | None = None
    early: InstanceResult | None = None


def _plan(run: Scheduler, claim: Claim, instance: Any, params: Mapping[str, Any],
          priority: tuple[Any, ...], source: str) -> _Planned:
    try:
        inst = normalise(instance)
    except (TypeError, ValueError) as exc:
        early = InstanceResult(
            instance={"repr": repr(instance)}, in_hypotheses=True, verdict=Verdict.ERROR,
            reason=f"instance is not JSON-able: {exc}", traceback=traceback.format_exc(),
            source=source)
        return _Planned(claim, {}, params, source, early=early)
    planned = _Planned(claim, inst, params, source)
    stage = "hypotheses.contains"
    try:
        planned.inside = bool(claim.hypotheses.contains(inst))
        stage = "preparing the job"
        planned.handle = run.submit(_claim_job(claim, inst, params), priority)
    except Exception as exc:  # noqa: BLE001 - the claim's error, not a crash
        planned.early = InstanceResult(
            instance=inst, in_hypotheses=planned.inside, verdict=Verdict.ERROR,
            reason=f"{type(exc).__name__} in {stage}: {exc}",
            traceback=traceback.format_exc(), source=source)
    return planned


def _judge(run: Scheduler, planned: _Planned) -> InstanceResult:
    """The claim's verdict on its own copy of the instance's outcome."""
    if planned.early is not None:
        return planned.early
    assert planned.handle is not None
    run.wait([planned.handle])
    envelope = planned.handle.envelope
    assert envelope is not None
    base = {"instance": planned.instance, "in_hypotheses": planned.inside,
            "source": planned.source, "cached": planned.handle.cached}
    if not envelope.ok:
        return InstanceResult(**base, verdict=Verdict.ERROR, reason=envelope.reason,
                              traceback=envelope.traceback, warnings=envelope.warnings,
                              wall_time_s=envelope.wall_time_s)
    output = envelope.output()
    return judge_outcome(planned.claim, planned.params, output.value, base, output.warnings,
                         output.wall_time_s)


def _plan_grid(run: Scheduler, claim: Claim, index: int, profile: str) -> list[_Planned]:
    params = claim.params(profile)
    return [_plan(run, claim, instance, params, PRIORITY_GRID + (index, i), "grid")
            for i, instance in enumerate(claim.hypotheses.grid(profile))]


def _finish(run: Scheduler, claim: Claim, grid: list[_Planned], options: RunOptions
            ) -> ClaimResult:
    """Search (if any), then judge one claim whose grid jobs were submitted with `_plan_grid`."""
    start = time.perf_counter()
    params = claim.params(options.profile)
    memo: dict[str, InstanceResult] = {}
    searches = iter(range(1 << 62))

    def evaluate_one(instance: Any, source: str = "search") -> InstanceResult:
        try:
            key = instance_key(normalise(instance))
        except (TypeError, ValueError):
            key = None
        if key is None or key not in memo:
            planned = _plan(run, claim, instance, params, PRIORITY_SEARCH + (next(searches),),
                            source)
            result = _judge(run, planned)
            if key is None:
                return result
            memo[key] = result
        return memo[key]

    def status() -> str:
        done = sum(p.handle is None or p.handle.done() for p in grid)
        return f"{claim.id}: grid {done}/{len(grid)} · {run.jobs_done} jobs done"

    # the search first: its instances overtake the grid, which keeps the other workers busy
    summary, found = search(claim, params, options, evaluate_one)
    run.wait([p.handle for p in grid if p.handle is not None], status)
    results: list[InstanceResult] = []
    for planned in grid:
        key = instance_key(planned.instance) if planned.early is None else None
        result = memo.get(key) if key is not None else None
        if result is None:
            result = _judge(run, planned)
            if key is not None:
                memo[key] = result
        results.append(result)
    grid_ids = {id(r) for r in results}
    results += [r for r in found if id(r) not in grid_ids]

    inside = [r for r in results if r.in_hypotheses]
    beyond = [r for r in results if not r.in_hypotheses]
    verdict = aggregate(r.verdict for r in inside)
    if summary is not None and summary.error is not None:
        verdict = Verdict.ERROR
    reason = claim_reason(verdict, inside, summary, claim.hypotheses.caveat)
    metrics: dict[str, Any] = {
        "instances_inside": len(inside),
        "instances_beyond": len(beyond),
        **{f"inside_{v.value}": sum(r.verdict is v for r in inside) for v in Verdict},
        "cached_instances": sum(r.cached for r in results),
    }
    if claim.summarize is not None:
        try:
            metrics.update(jsonable(claim.summarize(results), strict=False))
        except Exception as exc:  # noqa: BLE001
            verdict, reason = Verdict.ERROR, f"{type(exc).__name__} in summarize: {exc}"
    return ClaimResult(
        claim=claim,
        profile=options.profile,
        params=params,
        verdict=verdict,
        reason=reason,
        inside=inside,
        beyond=beyond,
        exploration_verdict=aggregate(r.verdict for r in beyond) if beyond else None,
        search=summary,
        metrics=metrics,
        wall_time_s=time.perf_counter() - start,
    )


def verify(
    claims: Iterable[Claim],
    options: RunOptions,
    on_result: Callable[[ClaimResult], None] | None = None,
    counts: dict[str, int] | None = None,
) -> list[ClaimResult]:
    """Run `claims`; `on_result` is called as each one finishes, in order. `counts`, when given,
    receives how many instances were reused from the cache, computed, or recomputed because
    their entry was corrupt (`Scheduler.counts`).

    Every claim's grid is submitted first; a claim's `wall_time_s` is then the time the run spent
    waiting for that claim after the previous one finished (in a serial run, its own run time).
    """
    claims = list(claims)
    results = []
    progress = options.progress
    with Scheduler(options.cache, options.executor, progress) as run:
        grids = [_plan_grid(run, claim, index, options.profile)
                 for index, claim in enumerate(claims)]
        for i, (claim, grid) in enumerate(zip(claims, grids, strict=True)):
            if progress is not None:
                progress.update(f"{claim.id}", done=i)
            result = _finish(run, claim, grid, options)
            results.append(result)
            if progress is not None:
                progress.update(f"{claim.id} done", done=i + 1)
            if on_result is not None:
                on_result(result)
        if counts is not None:
            counts.update(run.counts)
    return results


def verify_claim(claim: Claim, options: RunOptions) -> ClaimResult:
    """Run one claim in `options.profile` and aggregate its verdict."""
    return verify([claim], options)[0]


def evaluate(
    claim: Claim,
    instance: Mapping[str, Any],
    params: Mapping[str, Any],
    cache: ResultsCache | None = None,
    *,
    source: str = "grid",
) -> InstanceResult:
    """Verdict and evidence for one instance, in the main process; an exception in the claim's
    code gives an error verdict with its traceback."""
    with Scheduler(cache, None) as run:
        return _judge(run, _plan(run, claim, instance, params, PRIORITY_GRID, source))
