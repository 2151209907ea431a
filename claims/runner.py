"""Running claims: evaluate instances (through the cache), search for counterexamples, aggregate.

`verify_claim(claim, options)` evaluates the claim's grid for the profile, then, when its domain has
a hypothesis strategy, searches instances inside the hypotheses for a counterexample with
`hypothesis.find`: a falsifying instance (fail or error) is shrunk to a minimal one and saved in the
example database (``.scoreclaims/examples`` or ``$SCORECLAIMS_EXAMPLES``), from which later runs
replay it first. Hypothesis keeps the database only for unseeded runs: a derandomised run (CI,
``--derandomize``: a fixed seed per claim) or a run with an explicit `seed` (reproducible
generation) neither reads nor writes it.

`Claim.run` must be deterministic given (instance, params): randomness comes from seeds inside the
instance, never from global state.
"""

from __future__ import annotations

import json
import os
import random
import time
import traceback
import unittest
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claims.cache import (
    CODE_PACKAGES,
    ResultsCache,
    cache_key,
    module_source_hash,
    package_sources_hash,
)
from claims.evidence import ClaimResult, InstanceResult, SearchSummary, jsonable
from claims.model import PROFILES, Check, Claim, InstanceOutcome
from claims.progress import Progress
from claims.verdict import Verdict, aggregate, predicates_verdict

FALSIFYING = (Verdict.FAIL, Verdict.ERROR)


def default_examples_dir() -> Path:
    return Path(os.environ.get("SCORECLAIMS_EXAMPLES") or Path(".scoreclaims") / "examples")


def ci_requested() -> bool:
    """True when the environment variable CI is set to something other than empty/0/false."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@dataclass
class RunOptions:
    """How to run claims. `cache=None` bypasses the cache (``--no-cache``)."""

    profile: str = "quick"
    cache: ResultsCache | None = None
    examples_dir: Path = field(default_factory=default_examples_dir)
    derandomize: bool = False
    seed: int | None = None  # fixed generation seed (no example database); None: random
    replay_only: bool = False  # search: replay saved counterexamples only, generate nothing new
    progress: Progress | None = None

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(f"unknown profile {self.profile!r}; profiles are {PROFILES}")


def precision() -> dict[str, Any]:
    """The arithmetic the results depend on (part of every cache key)."""
    import mpmath
    import mpmath.libmp

    return {"float": "float64", "mp_prec": mpmath.mp.prec, "mpmath_backend": mpmath.libmp.BACKEND}


def code_version(claim: Claim) -> str:
    """Hash of the package sources, plus the claim's own module when it lives outside them."""
    module = getattr(claim.run, "__module__", "") or ""
    own = "" if module.split(".")[0] in CODE_PACKAGES else module_source_hash(module)
    return package_sources_hash() + own


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
    if verdict is Verdict.PASS:
        return f"all {len(checks)} conclusions hold"
    wanted = False if verdict is Verdict.FAIL else None
    label = "violated" if verdict is Verdict.FAIL else "undecided"
    parts = [c.name + (f" ({c.detail})" if c.detail else "") for c in checks if c.holds is wanted]
    return f"{label}: " + "; ".join(parts)


def _check_outcome(outcome: Any) -> None:
    """Reject what the results file could not hold: an error of the claim, not a later crash."""
    import pandas as pd

    if not isinstance(outcome, InstanceOutcome):
        raise TypeError(f"run returned {type(outcome).__name__}, not InstanceOutcome")
    if outcome.trajectory is not None and not isinstance(outcome.trajectory, pd.DataFrame):
        raise TypeError(f"trajectory is a {type(outcome.trajectory).__name__}, not a DataFrame")
    jsonable(outcome.metrics)
    jsonable(outcome.rates)


def result_key(claim: Claim, instance: Mapping[str, Any], params: Mapping[str, Any]) -> str:
    """Cache key of one instance result: claim, instance, parameters, precision, code version."""
    return cache_key(
        {
            "claim": claim.id,
            "instance": _normalise(instance),
            "params": jsonable(params, strict=False),
            "precision": precision(),
            "code": code_version(claim),
        }
    )


def evaluate(
    claim: Claim,
    instance: Mapping[str, Any],
    params: Mapping[str, Any],
    cache: ResultsCache | None = None,
    *,
    source: str = "grid",
) -> InstanceResult:
    """Verdict and evidence for one instance; an exception gives an error verdict with traceback."""
    try:
        inst = _normalise(instance)
    except (TypeError, ValueError) as exc:
        return InstanceResult(
            instance={"repr": repr(instance)},
            in_hypotheses=True,
            verdict=Verdict.ERROR,
            reason=f"instance is not JSON-able: {exc}",
            traceback=traceback.format_exc(),
            source=source,
        )
    key = None
    if cache is not None:
        key = result_key(claim, inst, params)
        payload = cache.get(key)
        if payload is not None:
            return InstanceResult.from_payload(payload, source=source)

    start = time.perf_counter()
    stage = "hypotheses.contains"
    inside = True
    outcome: InstanceOutcome | None = None
    checks: list[Check] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")  # each distinct warning once
        try:
            inside = bool(claim.hypotheses.contains(inst))
            stage = "run"
            produced = claim.run(inst, params)
            _check_outcome(produced)
            outcome = produced
            for predicate in claim.conclusions:
                stage = f"predicate {predicate.name!r}"
                checks.append(predicate.check(outcome, params))
            verdict = predicates_verdict(c.holds for c in checks)
            reason, tb = _instance_reason(checks, verdict), None
        except Exception as exc:  # noqa: BLE001 - any failure of the claim's code is an error verdict
            verdict = Verdict.ERROR
            reason = f"{type(exc).__name__} in {stage}: {exc}"
            tb = traceback.format_exc()
    messages = list(dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught))[:10]
    result = InstanceResult(
        instance=inst,
        in_hypotheses=inside,
        verdict=verdict,
        reason=reason,
        checks=checks,
        metrics=dict(outcome.metrics) if outcome is not None else {},
        rates=dict(outcome.rates) if outcome is not None else {},
        trajectory=outcome.trajectory if outcome is not None else None,
        notes=outcome.notes if outcome is not None else "",
        warnings=messages,
        traceback=tb,
        wall_time_s=time.perf_counter() - start,
        source=source,
    )
    if key is not None and verdict is not Verdict.ERROR:  # errors are always recomputed
        try:
            cache.put(key, result.to_payload())
        except (TypeError, ValueError) as exc:  # metrics not JSON-able: keep the result, skip cache
            result.warnings.append(f"not cached: {exc}")
    return result


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

    def inside(instance: Any) -> bool:
        try:
            return bool(claim.hypotheses.contains(_normalise(instance)))
        except Exception:  # noqa: BLE001 - let evaluate() report it as an error
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
            claim.hypotheses.strategy.filter(inside),
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


def verify_claim(claim: Claim, options: RunOptions) -> ClaimResult:
    """Run one claim in `options.profile` and aggregate its verdict."""
    start = time.perf_counter()
    params = claim.params(options.profile)
    memo: dict[str, InstanceResult] = {}

    def evaluate_one(instance: Any, source: str = "search") -> InstanceResult:
        try:
            key = instance_key(_normalise(instance))
        except (TypeError, ValueError):
            return evaluate(claim, instance, params, options.cache, source=source)
        if key not in memo:
            memo[key] = evaluate(claim, instance, params, options.cache, source=source)
        return memo[key]

    grid = claim.hypotheses.grid(options.profile)
    results: list[InstanceResult] = []
    for i, instance in enumerate(grid, 1):
        if options.progress is not None:
            options.progress.update(f"{claim.id}: instance {i}/{len(grid)}")
        results.append(evaluate_one(instance, "grid"))
    summary, found = search(claim, params, options, evaluate_one)
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
    """Run `claims` in order; `on_result` is called as each one finishes."""
    claims = list(claims)
    results = []
    for i, claim in enumerate(claims):
        if options.progress is not None:
            options.progress.update(f"{claim.id}", done=i)
        result = verify_claim(claim, options)
        results.append(result)
        if options.progress is not None:
            options.progress.update(f"{claim.id} done", done=i + 1)
        if on_result is not None:
            on_result(result)
    return results
