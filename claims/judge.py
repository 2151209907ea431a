"""Judging: a claim's predicates on an instance's outcome, and a claim's verdict over instances.

The rules themselves (precedence, expectations) are in `verdict`; this module applies them and
writes the reasons a reader sees.
"""

from __future__ import annotations

import json
import traceback
import warnings
from collections.abc import Mapping
from typing import Any

from scoreclaims.claims.evidence import InstanceResult, SearchSummary, jsonable
from scoreclaims.claims.model import Check, Claim
from scoreclaims.claims.outcome import InstanceOutcome
from scoreclaims.claims.verdict import Verdict, predicates_verdict

MAX_WARNINGS = 10


def short(instance: Mapping[str, Any], limit: int = 120) -> str:
    text = json.dumps(jsonable(instance), sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def instance_reason(checks: list[Check], verdict: Verdict) -> str:
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


def membership_note(claim: Claim, instance: Mapping[str, Any]) -> str:
    """The domain's sentence on why `instance` is inside or beyond (under the suite's reading),
    as a suffix of the instance's reason; empty when the domain has none."""
    membership = claim.hypotheses.membership
    if membership is None:
        return ""
    text = membership(instance).strip()
    return f" [{text}]" if text else ""


def judge_outcome(claim: Claim, params: Mapping[str, Any], outcome: InstanceOutcome,
                  base: dict[str, Any], messages: list[str], wall_time_s: float
                  ) -> InstanceResult:
    """The claim's verdict on its own copy of one instance's outcome; `base` holds the
    instance's identity (instance, in_hypotheses, source, cached)."""
    checks: list[Check] = []
    stage = ""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        try:
            for predicate in claim.conclusions:
                stage = f"predicate {predicate.name!r}"
                checks.append(predicate.check(outcome, params))
            verdict = predicates_verdict(c.holds for c in checks if c.applicable)
            reason, tb = instance_reason(checks, verdict), None
            stage = "hypotheses.membership"
            reason += membership_note(claim, base["instance"])
        except Exception as exc:  # noqa: BLE001 - a broken predicate is an error verdict
            verdict = Verdict.ERROR
            reason = f"{type(exc).__name__} in {stage}: {exc}"
            tb = traceback.format_exc()
    messages = messages + [f"{w.category.__name__}: {w.message}" for w in caught]
    return InstanceResult(
        **base, verdict=verdict, reason=reason, checks=checks,
        metrics=dict(outcome.metrics), rates=dict(outcome.rates),
        trajectory=outcome.trajectory, notes=outcome.notes,
        warnings=list(dict.fromkeys(messages))[:MAX_WARNINGS], traceback=tb,
        wall_time_s=wall_time_s)


def claim_reason(verdict: Verdict, inside: list[InstanceResult],
                 summary: SearchSummary | None, caveat: str = "") -> str:
    """Why a claim got its verdict: the first instance that decided it, or the search's error;
    `caveat` (the domain's, on what "inside" rests on) is appended."""
    tail = f" ({caveat.strip()})" if caveat.strip() else ""
    if summary is not None and summary.error is not None:
        return summary.error
    if not inside:
        return "no instance inside the hypotheses was checked" + tail
    if verdict is Verdict.PASS:
        return f"all {len(inside)} instances inside the hypotheses pass" + tail
    if verdict is Verdict.FAIL and summary is not None and summary.counterexample is not None:
        example = summary.counterexample
        if example.verdict is Verdict.FAIL:
            return f"minimal counterexample {short(example.instance)}: {example.reason}" + tail
    first = next(r for r in inside if r.verdict is verdict)
    count = sum(r.verdict is verdict for r in inside)
    example = f"{short(first.instance)}: {first.reason}"
    return f"{count} of {len(inside)} instances {verdict.value}{tail}; {example}"
