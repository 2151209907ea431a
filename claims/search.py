"""The hypothesis search for a counterexample inside a claim's hypotheses.

Instances are drawn from the claim's `Domain.strategy`, refused when outside the hypotheses or
not searchable (both counted), and evaluated through the run (their jobs overtake the grid). A
falsifying instance (fail or error) is shrunk to a minimal one within the domain's shrink budget
and saved in the example database (``.scoreclaims/examples`` or ``$SCORECLAIMS_EXAMPLES``), from
which later runs replay it first. Hypothesis keeps the database only for unseeded runs: a
derandomised run (CI, ``--derandomize``: a fixed seed per claim) or a run with an explicit seed
neither reads nor writes it.
"""

from __future__ import annotations

import json
import random
import unittest
from collections.abc import Callable, Mapping
from typing import Any

from scoreclaims.claims.evidence import InstanceResult, SearchSummary, jsonable
from scoreclaims.claims.model import Claim
from scoreclaims.claims.options import RunOptions
from scoreclaims.claims.verdict import Verdict

FALSIFYING = (Verdict.FAIL, Verdict.ERROR)


def normalise(instance: Any) -> dict[str, Any]:
    """An instance as plain JSON values (what jobs are keyed by); TypeError when it is not a
    mapping, ValueError/TypeError when it is not JSON-able."""
    if not isinstance(instance, Mapping):
        raise TypeError(f"an instance must be a mapping, got {type(instance).__name__}")
    return json.loads(json.dumps(jsonable(instance, strict=False)))


def instance_key(instance: Mapping[str, Any]) -> str:
    return json.dumps(instance, sort_keys=True, separators=(",", ":"), allow_nan=True)


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
        normal = normalise(instance)
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
        known = seen.get(instance_key(normalise(instance)))
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
        summary.counterexample = seen.get(instance_key(normalise(minimal))) or evaluate_one(
            minimal
        )
        found.append(summary.counterexample)
    elif summary.error is None and not seen and not options.replay_only:
        summary.error = "the search produced no instance inside the hypotheses"
    return summary, found
