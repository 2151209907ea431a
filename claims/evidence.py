"""Evidence: what was checked for each instance and claim, and how it is written to JSON.

The results file is strict JSON (`jsonable(strict=True)`: NaN and infinities become the strings
"nan", "inf", "-inf"), and a long trajectory is thinned to at most `MAX_TRAJECTORY_ROWS` rows,
log-spaced plus evenly spaced, always keeping the first and last rows (`trajectory_rows` gives the
full length). (The cache keeps a claim run's outcome exactly, pickled: `claims._run.cache`.)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scoreclaims.claims.model import Check
from scoreclaims.claims.verdict import Expectation, Verdict, matches

if TYPE_CHECKING:
    import pandas as pd

    from scoreclaims.claims.model import Claim

MAX_TRAJECTORY_ROWS = 400


def jsonable(obj: Any, *, strict: bool = True) -> Any:
    """`obj` as plain JSON values (numpy scalars and arrays, tuples, enums, paths included).

    With `strict`, non-finite floats become the strings "nan", "inf", "-inf".
    """
    if isinstance(obj, Enum):
        return obj.value
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        if strict and not math.isfinite(obj):
            return "nan" if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
        return obj
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v, strict=strict) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [jsonable(v, strict=strict) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "tolist"):  # numpy arrays and scalars
        return jsonable(obj.tolist(), strict=strict)
    raise TypeError(f"not JSON-able: {type(obj).__name__} {obj!r}")


def thin_indices(n: int, limit: int = MAX_TRAJECTORY_ROWS) -> list[int]:
    """At most `limit` row indices of `n`: log-spaced and evenly spaced, with the first and last."""
    if n <= limit:
        return list(range(n))
    import numpy as np

    log_part = np.unique(np.geomspace(1, n, limit * 3 // 4).round().astype(int) - 1)
    lin_part = np.linspace(0, n - 1, limit - len(log_part)).round().astype(int)
    return sorted(set(log_part.tolist()) | set(lin_part.tolist()) | {0, n - 1})


def _frame_records(frame: pd.DataFrame) -> dict[str, Any]:
    rows = thin_indices(len(frame))
    return {
        "trajectory_rows": len(frame),
        "trajectory": jsonable(frame.iloc[rows].to_dict(orient="records")),
    }


@dataclass
class InstanceResult:
    """The verdict on one instance with its evidence."""

    instance: dict[str, Any]
    in_hypotheses: bool
    verdict: Verdict
    reason: str
    checks: list[Check] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    rates: dict[str, Any] = field(default_factory=dict)
    trajectory: pd.DataFrame | None = None
    notes: str = ""
    warnings: list[str] = field(default_factory=list)
    traceback: str | None = None
    wall_time_s: float = 0.0
    source: str = "grid"  # "grid" or "search"
    cached: bool = False

    def to_json(self) -> dict[str, Any]:
        """Strict JSON for the results file (trajectory as thinned records)."""
        out: dict[str, Any] = {
            "instance": jsonable(self.instance),
            "in_hypotheses": self.in_hypotheses,
            "verdict": self.verdict.value,
            "reason": self.reason,
            "predicates": {c.name: {"holds": c.holds, "detail": c.detail} for c in self.checks},
            "metrics": jsonable(self.metrics),
            "rates": jsonable(self.rates),
            "notes": self.notes,
            "warnings": self.warnings,
            "source": self.source,
            "cached": self.cached,
            "wall_time_s": round(self.wall_time_s, 6),
        }
        if self.traceback is not None:
            out["traceback"] = self.traceback
        if self.trajectory is None:
            out.update(trajectory_rows=0, trajectory=None)
        else:
            out.update(_frame_records(self.trajectory))
        return out


@dataclass
class SearchSummary:
    """What a hypothesis search for counterexamples did."""

    examples: int  # distinct instances evaluated
    max_examples: int
    database: str | None  # example database directory, None when derandomised
    derandomized: bool
    falsifying_seen: int = 0  # falsifying instances met (shrinking visits many)
    shrink_budget_exhausted: bool = False  # the counterexample may not be minimal
    skipped_outside: int = 0  # draws outside the hypotheses (not searched)
    skipped_unsearchable: int = 0  # draws inside them that `Domain.searchable` refused
    counterexample: InstanceResult | None = None  # the shrunk, minimal one
    error: str | None = None  # the search itself could not run

    def to_json(self) -> dict[str, Any]:
        return {
            "examples": self.examples,
            "max_examples": self.max_examples,
            "database": self.database,
            "derandomized": self.derandomized,
            "falsifying_seen": self.falsifying_seen,
            "shrink_budget_exhausted": self.shrink_budget_exhausted,
            "skipped_outside": self.skipped_outside,
            "skipped_unsearchable": self.skipped_unsearchable,
            "shrunk_counterexample": None
            if self.counterexample is None
            else jsonable(self.counterexample.instance),
            "error": self.error,
        }


def _counts(results: list[InstanceResult]) -> dict[str, int]:
    return {v.value: sum(r.verdict is v for r in results) for v in Verdict}


@dataclass
class ClaimResult:
    """A claim's verdict (from instances inside the hypotheses) and its exploration beyond them."""

    claim: Claim
    profile: str
    params: dict[str, Any]
    verdict: Verdict
    reason: str
    inside: list[InstanceResult]
    beyond: list[InstanceResult]
    exploration_verdict: Verdict | None
    search: SearchSummary | None
    metrics: dict[str, Any]
    wall_time_s: float

    @property
    def expectation(self) -> Expectation:
        """The claim's expectation in the profile this result ran."""
        return self.claim.expectation_in(self.profile)

    @property
    def matches_expectation(self) -> bool:
        return matches(self.expectation, self.verdict)

    @property
    def counterexample(self) -> InstanceResult | None:
        """The shrunk counterexample if the search found one, else the first failing instance."""
        if self.search is not None and self.search.counterexample is not None:
            return self.search.counterexample
        failing = [r for r in self.inside if r.verdict is Verdict.FAIL]
        return failing[0] if failing else None

    def to_json(self) -> dict[str, Any]:
        claim = self.claim
        counterexample = self.counterexample
        return {
            "id": claim.id,
            "paper_ref": claim.paper_ref,
            "regime": claim.regime,
            "statement_md": claim.statement_md,
            "expected": self.expectation.value,
            "variant_of": claim.variant_of,
            "verdict": self.verdict.value,
            "matches_expectation": self.matches_expectation,
            "reason": self.reason,
            "hypotheses": claim.hypotheses.description,
            "conclusions": {p.name: p.description for p in claim.conclusions},
            "parameters": jsonable(self.params),
            "in_hypotheses": {
                "verdict": self.verdict.value,
                "instances": len(self.inside),
                "counts": _counts(self.inside),
            },
            "exploration": {
                "verdict": None
                if self.exploration_verdict is None
                else self.exploration_verdict.value,
                "instances": len(self.beyond),
                "counts": _counts(self.beyond),
            },
            "metrics": jsonable(self.metrics),
            "search": None if self.search is None else self.search.to_json(),
            "counterexample": None if counterexample is None else counterexample.to_json(),
            "instances": [r.to_json() for r in self.inside + self.beyond],
            "wall_time_s": round(self.wall_time_s, 6),
        }
