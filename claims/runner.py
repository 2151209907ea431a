"""Running claims: jobs through the cache on an executor, counterexample search, aggregation.

`verify(claims, options)` plans every grid instance of every claim at once, as jobs on
`options.executor` (in the main process by default; a local pool or Dask, see `_run.executors`),
then finishes the claims in order: for each, the hypothesis search for a counterexample (when its
domain has a strategy) runs in the main process, its instances going to the executor ahead of
the grid, while the grid keeps the other workers busy. A falsifying instance (fail or error) is
shrunk to a minimal one and saved in the example database (``.scoreclaims/examples`` or
``$SCORECLAIMS_EXAMPLES``), from which later runs replay it first. Hypothesis keeps the database
only for unseeded runs: a derandomised run (CI, ``--derandomize``: a fixed seed per claim) or a run
with an explicit `seed` (reproducible generation) neither reads nor writes it.

Jobs: the outcome of ``claim.run(instance, params)`` is one job (`_run.jobs`), shared by every
claim and known-false variant with the same `run` and parameters, so variants never multiply the
work (neither in one run nor across runs: the cache holds outcomes, not verdicts). The main
process judges each claim on its own copy of the outcome (hypotheses, predicates: cheap), and writes
each job's output to the cache the moment it arrives, so a killed run loses nothing finished.
Errors are never cached.

`Claim.run` must be deterministic given (instance, params): randomness comes from seeds inside the
instance, never from global state. Every run pins BLAS to one thread in the main process (workers
are pinned too), so results are bit-identical whatever the executor.
"""

from __future__ import annotations

import json
import os
import pickle
import random
import threading
import time
import traceback
import unittest
import warnings
from collections.abc import Callable, Iterable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scoreclaims.claims._run import parallel
from scoreclaims.claims._run.cache import ResultsCache
from scoreclaims.claims._run.determinism import single_blas_thread
from scoreclaims.claims._run.executors import (
    PRIORITY_GRID,
    PRIORITY_SEARCH,
    PRIORITY_TASK,
    Executor,
    Handle,
    InProcess,
)
from scoreclaims.claims._run.jobs import Envelope, Job, precision, run_job, task_job
from scoreclaims.claims.cli.progress import Progress
from scoreclaims.claims.evidence import ClaimResult, InstanceResult, SearchSummary, jsonable
from scoreclaims.claims.model import PROFILES, Check, Claim
from scoreclaims.claims.verdict import Verdict, aggregate, predicates_verdict

__all__ = ["RunOptions", "evaluate", "precision", "result_key", "verify", "verify_claim"]

FALSIFYING = (Verdict.FAIL, Verdict.ERROR)
MAX_WARNINGS = 10


def default_examples_dir() -> Path:
    return Path(os.environ.get("SCORECLAIMS_EXAMPLES") or Path(".scoreclaims") / "examples")


def ci_requested() -> bool:
    """True when the environment variable CI is set to something other than empty/0/false."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@dataclass
class RunOptions:
    """How to run claims. `cache=None` bypasses the cache (``--no-cache``); `executor=None` runs
    every job in the main process."""

    profile: str = "quick"
    cache: ResultsCache | None = None
    examples_dir: Path = field(default_factory=default_examples_dir)
    derandomize: bool = False
    seed: int | None = None  # fixed generation seed (no example database); None: random
    replay_only: bool = False  # search: replay saved counterexamples only, generate nothing new
    progress: Progress | None = None
    executor: Executor | None = None

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(f"unknown profile {self.profile!r}; profiles are {PROFILES}")


def instance_key(instance: Mapping[str, Any]) -> str:
    return json.dumps(instance, sort_keys=True, separators=(",", ":"), allow_nan=True)


def short(instance: Mapping[str, Any], limit: int = 120) -> str:
    text = json.dumps(jsonable(instance), sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _normalise(instance: Any) -> dict[str, Any]:
    if not isinstance(instance, Mapping):
        raise TypeError(f"an instance must be a mapping, got {type(instance).__name__}")
    return json.loads(json.dumps(jsonable(instance, strict=False)))


def _instance_reason(checks: list[Check], verdict: Verdict) -> str:
    moot = [c.name for c in checks if not c.applicable]
    aside = f" ({len(moot)} not applicable: {', '.join(moot)})" if moot else ""
    if len(moot) == len(checks):
        return "no conclusion applies to this instance" + aside
    if verdict is Verdict.PASS:
        return f"all {len(checks) - len(moot)} applicable conclusions hold{aside}" if moot else (
            f"all {len(checks)} conclusions hold")
    wanted = False if verdict is Verdict.FAIL else None
    label = "violated" if verdict is Verdict.FAIL else "undecided"
    parts = [c.name + (f" ({c.detail})" if c.detail else "") for c in checks if c.holds is wanted]
    return f"{label}: " + "; ".join(parts)


def _claim_job(claim: Claim, instance: dict[str, Any], params: Mapping[str, Any]) -> Job:
    return run_job(claim.run, instance, params, claim_id=claim.id,
                   json_params=jsonable(params, strict=False))


def result_key(claim: Claim, instance: Mapping[str, Any], params: Mapping[str, Any]) -> str:
    """Cache key of `claim.run`'s outcome on one instance (shared with the claim's variants)."""
    return _claim_job(claim, _normalise(instance), params).key


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


class _Run:
    """One run: jobs deduplicated by key, the cache, the executor, the main process's task_map."""

    def __init__(self, options: RunOptions) -> None:
        self.options = options
        self.cache = options.cache
        self.local = options.executor if isinstance(options.executor, InProcess) else InProcess()
        self.executor = options.executor or self.local
        self.handles: dict[str, Handle] = {}
        self.lock = threading.Lock()
        self.wakeup = threading.Event()
        self.jobs_done = 0
        self._stack = ExitStack()

    def __enter__(self) -> _Run:
        self._stack.enter_context(single_blas_thread())
        self._stack.enter_context(parallel.routed(self.map_here))
        self.executor.bind(self)
        self._stack.callback(self.executor.bind, None)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    # ------------------------------------------------------------------ jobs

    def submit(self, job: Job, priority: tuple[Any, ...], cache: bool = True,
               here: bool = False) -> Handle:
        """The handle of `job`: the run's existing one, a cache hit, or a newly submitted job."""
        with self.lock:
            handle = self.handles.get(job.key)
            if handle is not None:
                return handle
            handle = self.handles[job.key] = Handle(job, priority)
        handle.add_callback(self._finished)
        use_cache = cache and self.cache is not None
        body = self.cache.get(job.key) if use_cache else None
        if body is not None:
            try:
                output = pickle.loads(body)
            except Exception:  # noqa: BLE001 - unreadable (e.g. older libraries): recompute
                body = None
            else:
                handle.cached = True
                handle.set(Envelope(ok=True, blob=body, wall_time_s=output.wall_time_s,
                                    warnings=output.warnings))
                return handle
        if use_cache:
            handle.add_callback(self._store)
        runs_here = here or job.call is None
        (self.local if runs_here else self.executor).submit(handle)
        return handle

    def _store(self, handle: Handle) -> None:
        envelope = handle.envelope
        if envelope is not None and envelope.ok and envelope.blob is not None:
            assert self.cache is not None
            self.cache.put(handle.job.key, envelope.blob)

    def _finished(self, handle: Handle) -> None:
        with self.lock:
            self.jobs_done += 1
        self.wakeup.set()

    def task_handles(self, fn: Callable[[Any], Any], items: list[Any], label: str,
                     cache: bool) -> list[Handle]:
        """`task_map` items requested by a worker process, as jobs of this run."""
        return [self.submit(task_job(fn, item, label), PRIORITY_TASK, cache) for item in items]

    def map_here(self, fn: Callable[[Any], Any], items: list[Any], label: str,
                 cache: bool) -> list[Any]:
        """`task_map` in the main process: the items one after the other, through the cache."""
        handles = [self.submit(task_job(fn, item, label), PRIORITY_TASK, cache, here=True)
                   for item in items]
        self.wait(handles)
        return parallel.values_or_raise([h.envelope for h in handles], label)  # type: ignore[misc]

    def wait(self, handles: list[Handle], status: Callable[[], str] | None = None) -> None:
        """Until every handle is done: run main-process jobs, else sleep until a job finishes."""
        progress = self.options.progress
        while not all(h.done() for h in handles):
            if progress is not None and status is not None:
                progress.update(status())
            if self.local.has_work():
                self.local.run_next()
                continue
            if self.executor is self.local:
                raise RuntimeError("waiting for a job that no executor runs (a job waiting for "
                                   "itself through task_map?)")
            self.wakeup.wait(0.5)
            self.wakeup.clear()

    # ------------------------------------------------------------------ instances

    def plan(self, claim: Claim, instance: Any, params: Mapping[str, Any],
             priority: tuple[Any, ...], source: str) -> _Planned:
        try:
            inst = _normalise(instance)
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
            planned.handle = self.submit(_claim_job(claim, inst, params), priority)
        except Exception as exc:  # noqa: BLE001 - the claim's error, not a crash
            planned.early = InstanceResult(
                instance=inst, in_hypotheses=planned.inside, verdict=Verdict.ERROR,
                reason=f"{type(exc).__name__} in {stage}: {exc}",
                traceback=traceback.format_exc(), source=source)
        return planned

    def judge(self, planned: _Planned) -> InstanceResult:
        """The claim's verdict on its own copy of the instance's outcome."""
        if planned.early is not None:
            return planned.early
        assert planned.handle is not None
        self.wait([planned.handle])
        envelope = planned.handle.envelope
        assert envelope is not None
        claim, params = planned.claim, planned.params
        base = {"instance": planned.instance, "in_hypotheses": planned.inside,
                "source": planned.source, "cached": planned.handle.cached}
        if not envelope.ok:
            return InstanceResult(**base, verdict=Verdict.ERROR, reason=envelope.reason,
                                  traceback=envelope.traceback, warnings=envelope.warnings,
                                  wall_time_s=envelope.wall_time_s)
        output = envelope.output()
        outcome = output.value
        checks: list[Check] = []
        stage = ""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")
            try:
                for predicate in claim.conclusions:
                    stage = f"predicate {predicate.name!r}"
                    checks.append(predicate.check(outcome, params))
                verdict = predicates_verdict(c.holds for c in checks if c.applicable)
                reason, tb = _instance_reason(checks, verdict), None
            except Exception as exc:  # noqa: BLE001 - a broken predicate is an error verdict
                verdict = Verdict.ERROR
                reason = f"{type(exc).__name__} in {stage}: {exc}"
                tb = traceback.format_exc()
        messages = output.warnings + [f"{w.category.__name__}: {w.message}" for w in caught]
        return InstanceResult(
            **base, verdict=verdict, reason=reason, checks=checks,
            metrics=dict(outcome.metrics), rates=dict(outcome.rates),
            trajectory=outcome.trajectory, notes=outcome.notes,
            warnings=list(dict.fromkeys(messages))[:MAX_WARNINGS], traceback=tb,
            wall_time_s=output.wall_time_s)

    def plan_grid(self, claim: Claim, index: int) -> list[_Planned]:
        params = claim.params(self.options.profile)
        return [self.plan(claim, instance, params, PRIORITY_GRID + (index, i), "grid")
                for i, instance in enumerate(claim.hypotheses.grid(self.options.profile))]


def search(
    claim: Claim,
    params: Mapping[str, Any],
    options: RunOptions,
    evaluate_one: Callable[[dict[str, Any]], InstanceResult],
) -> tuple[SearchSummary | None, list[InstanceResult]]:
    """Hypothesis search for a counterexample inside the hypotheses; None when the claim has none.

    Returns the summary (with the shrunk counterexample, if any) and the results to add to the
    claim's inside instances: every non-falsifying instance met plus the minimal counterexample.
    """
    max_examples = claim.hypotheses.examples(options.profile)
    if max_examples <= 0:
        return None, []
    from hypothesis import Phase, Verbosity, find, settings
    from hypothesis.database import DirectoryBasedExampleDatabase
    from hypothesis.errors import NoSuchExample, Unsatisfiable

    seeded = options.derandomize or options.seed is not None
    database = None if seeded else DirectoryBasedExampleDatabase(options.examples_dir)
    phases = (
        (Phase.reuse,)
        if options.replay_only
        else (Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink)
    )
    config = settings(
        max_examples=max_examples,
        database=database,
        derandomize=options.derandomize,
        deadline=None,
        phases=phases,
        verbosity=Verbosity.quiet,
        print_blob=False,
    )
    seen: dict[str, InstanceResult] = {}
    shrink_budget = claim.hypotheses.max_shrinks
    shrinks = 0

    def drawable(instance: Any) -> bool:
        """Inside the hypotheses and searchable; refused draws are counted."""
        normal = _normalise(instance)
        try:
            if not claim.hypotheses.contains(normal):
                summary.skipped_outside += 1
                return False
        except Exception:  # noqa: BLE001 - let evaluate() report it as an error
            return True
        searchable = claim.hypotheses.searchable
        if searchable is not None and not searchable(normal):
            summary.skipped_unsearchable += 1
            return False
        return True

    def falsifies(instance: Any) -> bool:
        nonlocal shrinks
        known = seen.get(instance_key(_normalise(instance)))
        if known is not None:
            return known.verdict in FALSIFYING
        if summary.falsifying_seen:  # shrinking: past the budget, new candidates go unevaluated
            if shrinks >= shrink_budget:
                summary.shrink_budget_exhausted = True
                return False
            shrinks += 1
        result = evaluate_one(instance)
        seen[instance_key(result.instance)] = result
        summary.falsifying_seen += result.verdict in FALSIFYING
        if options.progress is not None:
            options.progress.update(f"{claim.id}: search, {len(seen)} instances evaluated")
        return result.verdict in FALSIFYING

    summary = SearchSummary(
        examples=0,
        max_examples=max_examples,
        database=None if database is None else str(options.examples_dir),
        derandomized=options.derandomize,
    )
    assert claim.hypotheses.strategy is not None
    rng = None
    if seeded:
        rng = random.Random(f"{'derandomized' if options.derandomize else options.seed}:{claim.id}")
    try:
        minimal = find(
            claim.hypotheses.strategy.filter(drawable),
            falsifies,
            settings=config,
            random=rng,
            database_key=f"scoreclaims:{claim.id}".encode(),
        )
    except (NoSuchExample, unittest.SkipTest) as exc:  # SkipTest: hypothesis ran no example
        minimal = None
        if isinstance(exc, unittest.SkipTest) and not options.replay_only:
            summary.error = f"hypothesis ran no example: {exc}"
    except Unsatisfiable:
        summary.error = "the search produced no instance inside the hypotheses (Unsatisfiable)"
        minimal = None
    except Exception as exc:  # noqa: BLE001 - a broken strategy is the claim's error, not a crash
        summary.error = f"{type(exc).__name__} in hypothesis search: {exc}"
        minimal = None
    summary.examples = len(seen)
    found = [r for r in seen.values() if r.verdict not in FALSIFYING]
    if minimal is not None:
        summary.counterexample = seen.get(instance_key(_normalise(minimal))) or evaluate_one(
            minimal
        )
        found.append(summary.counterexample)
    elif summary.error is None and not seen and not options.replay_only:
        summary.error = "the search produced no instance inside the hypotheses"
    return summary, found


def _claim_reason(
    verdict: Verdict, inside: list[InstanceResult], summary: SearchSummary | None
) -> str:
    if summary is not None and summary.error is not None:
        return summary.error
    if not inside:
        return "no instance inside the hypotheses was checked"
    if verdict is Verdict.PASS:
        return f"all {len(inside)} instances inside the hypotheses pass"
    if verdict is Verdict.FAIL and summary is not None and summary.counterexample is not None:
        example = summary.counterexample
        if example.verdict is Verdict.FAIL:
            return f"minimal counterexample {short(example.instance)}: {example.reason}"
    first = next(r for r in inside if r.verdict is verdict)
    count = sum(r.verdict is verdict for r in inside)
    example = f"{short(first.instance)}: {first.reason}"
    return f"{count} of {len(inside)} instances {verdict.value}; {example}"


def _finish(run: _Run, claim: Claim, grid: list[_Planned]) -> ClaimResult:
    """Search (if any), then judge one claim whose grid jobs were submitted with `plan_grid`."""
    start = time.perf_counter()
    options = run.options
    params = claim.params(options.profile)
    memo: dict[str, InstanceResult] = {}
    searches = iter(range(1 << 62))

    def evaluate_one(instance: Any, source: str = "search") -> InstanceResult:
        try:
            key = instance_key(_normalise(instance))
        except (TypeError, ValueError):
            key = None
        if key is None or key not in memo:
            planned = run.plan(claim, instance, params, PRIORITY_SEARCH + (next(searches),),
                               source)
            result = run.judge(planned)
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
            result = run.judge(planned)
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
    reason = _claim_reason(verdict, inside, summary)
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
) -> list[ClaimResult]:
    """Run `claims`; `on_result` is called as each one finishes, in order.

    Every claim's grid is submitted first; a claim's `wall_time_s` is then the time the run spent
    waiting for that claim after the previous one finished (in a serial run, its own run time).
    """
    claims = list(claims)
    results = []
    with _Run(options) as run:
        grids = [run.plan_grid(claim, index) for index, claim in enumerate(claims)]
        for i, (claim, grid) in enumerate(zip(claims, grids, strict=True)):
            if options.progress is not None:
                options.progress.update(f"{claim.id}", done=i)
            result = _finish(run, claim, grid)
            results.append(result)
            if options.progress is not None:
                options.progress.update(f"{claim.id} done", done=i + 1)
            if on_result is not None:
                on_result(result)
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
    with _Run(RunOptions(cache=cache)) as run:
        return run.judge(run.plan(claim, instance, params, PRIORITY_GRID, source))
