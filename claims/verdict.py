"""Verdicts, expectations and the rules that combine them.

The rules, in one place:

* Instance verdict (from its named predicates): a predicate that raises, or a `run` that raises,
  makes the instance ``error``; otherwise any predicate violated makes it ``fail``; otherwise any
  predicate undecided (``None``: horizon or precision not enough) makes it ``inconclusive``;
  otherwise ``pass``.
* Claim verdict: aggregated over the instances *inside* the hypotheses only, by precedence
  ``error > fail > inconclusive > pass``; no instance inside the hypotheses at all gives
  ``inconclusive``. Instances beyond the hypotheses get their own "exploration" verdict by the same
  rule; it is reported, never blended into the claim verdict and never gates.
* Expectation: a claim expected to hold matches only ``pass``; a known-false variant matches only
  ``fail``; a claim registered as undecidable (no feasible run can decide it inside its hypotheses,
  e.g. a statement about tau -> infinity whose asymptotic regime starts after 10^25 steps) matches
  only ``inconclusive``. Anything else (an unexpected failure, an unexpected pass of a known-false
  variant or of an undecidable claim, an ``error``) is a mismatch.
* Exit status of a run: 0 when every selected claim matches its expectation, 1 otherwise
  (2 is reserved for usage errors, raised before anything runs).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from scoreclaims.reports.schema import EXPECTED_VERDICT


class Verdict(StrEnum):
    """Outcome of checking one instance, or one claim over its instances."""

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    ERROR = "error"


class Expectation(StrEnum):
    """What the suite expects of a claim: it holds, or it is a deliberately false variant."""

    HOLDS = "holds"
    KNOWN_FALSE = "known-false"
    UNDECIDABLE = "undecidable"

    @property
    def expected_verdict(self) -> Verdict:
        return Verdict(EXPECTED_VERDICT[self.value])


# Highest first: the verdict of a set of instances is the first of these that occurs.
PRECEDENCE = (Verdict.ERROR, Verdict.FAIL, Verdict.INCONCLUSIVE, Verdict.PASS)


def predicates_verdict(results: Iterable[bool | None]) -> Verdict:
    """One instance's verdict from its applicable predicates (True holds, False violated, None
    undecided); with none applicable the instance decides nothing and is inconclusive."""
    results = list(results)
    if not results:
        return Verdict.INCONCLUSIVE
    if any(r is False for r in results):
        return Verdict.FAIL
    if any(r is None for r in results):
        return Verdict.INCONCLUSIVE
    return Verdict.PASS


def aggregate(verdicts: Iterable[Verdict]) -> Verdict:
    """Verdict of a set of instances; an empty set decides nothing and is inconclusive."""
    present = set(verdicts)
    if not present:
        return Verdict.INCONCLUSIVE
    return next(v for v in PRECEDENCE if v in present)


def matches(expectation: Expectation, verdict: Verdict) -> bool:
    """True when `verdict` is what `expectation` asks for (holds -> pass, known-false -> fail,
    undecidable -> inconclusive)."""
    return verdict is expectation.expected_verdict


def exit_status(matched: Iterable[bool]) -> int:
    """0 when every claim matched its expectation (vacuously so for no claims), else 1."""
    return 0 if all(matched) else 1
