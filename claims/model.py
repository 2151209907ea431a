"""What a claim is: statement, hypotheses, conclusions, parameters, expectation and a `run` hook.

A claim module (for example ``claims/large_noise.py``) builds `Claim` objects and lists them in a
module-level ``CLAIMS`` tuple; ``claims/registry.py`` names the module. A claim's `run(instance,
params)` does the computation for one instance and returns an `InstanceOutcome` (metrics, optional
trajectory, fitted rates); the claim's `conclusions` (named `Predicate`s) then judge that outcome.
Sketch::

    def run(instance, params):
        traj = run_gd(np.array(instance["means"]), params["eta"], params["steps"])
        final = float(traj.frame["loss"].iloc[-1])
        return InstanceOutcome(metrics={"final_loss": final}, trajectory=traj.frame)

    T2_1 = Claim(
        id="T2.1", paper_ref="Thm 2.1", regime="large noise",
        statement_md="... every mean converges (reported) ...",
        hypotheses=Domain("every ||m_i(0)|| <= 1/(3n)", contains=inside_ball,
                          instances={"quick": [...], "full": [...]}, strategy=small_means()),
        conclusions=(Predicate("loss_vanishes", "final loss <= tol",
                               lambda o, p: o.metrics["final_loss"] <= p["tol"]),),
        run=run, parameters={"eta": 1e-3, "steps": 5000, "tol": 1e-6},
    )
    CLAIMS = (T2_1, T2_1.variant("fast-rate", "... linear rate (reported) ...", conclusions=...))
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from scoreclaims.claims.outcome import InstanceOutcome
from scoreclaims.claims.verdict import Expectation
from scoreclaims.reports.schema import NOT_APPLICABLE as _SCHEMA_NOT_APPLICABLE

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

PROFILES = ("quick", "full")
# Wall-time budget of a whole run per profile (quick gates CI), in seconds on the 2-core machine.
PROFILE_BUDGET_S = {"quick": 300.0, "full": 3600.0}
PROVENANCE_MARKS = ("(reported)", "(derived)")

Instance = Mapping[str, Any]
"""One instance: a JSON-able mapping (numbers, strings, lists, nested mappings)."""

Params = Mapping[str, Any]
"""A claim's parameters for one profile: horizon, step, tolerances, ... (never buried literals)."""


# a conclusion that does not concern this kind of instance (the results schema's "n/a")
NOT_APPLICABLE = _SCHEMA_NOT_APPLICABLE


@dataclass(frozen=True)
class Check:
    """Result of one predicate on one instance: holds True, False (violated), None (undecided)
    or NOT_APPLICABLE (the conclusion does not concern the instance: it counts neither way)."""

    name: str
    holds: bool | None | str
    detail: str = ""

    @property
    def applicable(self) -> bool:
        return self.holds != NOT_APPLICABLE


PredicateResult = bool | None | str | tuple[bool | None | str, str]


@dataclass(frozen=True, eq=False)
class Predicate:
    """A named conclusion: `test(outcome, params)` gives True/False/None, optionally with a detail.

    Return None when the evidence cannot decide (horizon too short, precision too low): that makes
    the instance inconclusive rather than failed. Return NOT_APPLICABLE when the conclusion does
    not concern the instance (another kind of instance of the same claim): it is listed as such
    and never counted as a pass; an instance with no applicable conclusion is inconclusive. No
    evidence is never a pass: a conclusion that was not checked on an instance of its kind
    returns None, with the reason.

    Every conclusion must be able to fail: the register of witnesses (`scoreclaims.claims.witness`,
    ``scoreclaims list --conclusions``) holds, for each one, an outcome on which it returns False.

    `guard`: an evidence check rather than a conclusion of the claim (the engine met its
    tolerance, the precision held): True when the evidence is sound, None when it is not (the
    instance is then inconclusive, never failed: an inaccurate engine refutes nothing).
    Returning False from a guard is an error. Its witness is an outcome on which it returns None.
    """

    name: str
    description: str
    test: Callable[[InstanceOutcome, Params], PredicateResult]
    guard: bool = False

    def check(self, outcome: InstanceOutcome, params: Params) -> Check:
        result = self.test(outcome, params)
        holds, detail = result if isinstance(result, tuple) else (result, "")
        if holds == NOT_APPLICABLE:
            return Check(self.name, NOT_APPLICABLE, str(detail))
        if isinstance(holds, str):
            raise TypeError(f"predicate {self.name!r} returned {holds!r}: use True, False, None "
                            f"or NOT_APPLICABLE")
        if self.guard and holds is not None and not holds:
            raise TypeError(f"guard {self.name!r} returned False: an evidence check gives True "
                            f"(sound) or None (not sound: undecided), never a violation")
        return Check(self.name, None if holds is None else bool(holds), str(detail))


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True, eq=False)
class Domain:
    """A claim's hypotheses as a set of instances.

    `contains(instance)` says whether an instance satisfies the hypotheses; `instances` gives the
    deterministic grid per profile (it may include instances beyond the hypotheses, which are then
    reported as exploration); `strategy` optionally draws instances for a hypothesis search for
    counterexamples (only instances inside the hypotheses are searched), `search_examples[profile]`
    examples per run; shrinking a counterexample evaluates at most `max_shrinks` more instances
    (past that the best one found so far is reported, flagged as possibly not minimal).
    `searchable(instance)` optionally refuses drawn instances that are inside the hypotheses but
    cannot be decided by a run (a horizon beyond what the claim can afford); the search counts
    those draws, and the ones outside the hypotheses, in its summary.

    Where "inside the hypotheses" rests on a reading of the suite's own (an unknown constant set
    to a value, a side the paper does not give), the verdicts say so: `caveat` is appended to the
    claim's reason, and `membership(instance)` (one short sentence: why this instance is inside
    or beyond, under that reading) to each instance's reason.
    """

    description: str
    contains: Callable[[Instance], bool]
    instances: Mapping[str, Sequence[Instance]]
    strategy: SearchStrategy[Any] | None = None
    search_examples: Mapping[str, int] = field(default_factory=lambda: {"quick": 10, "full": 100})
    max_shrinks: int = 100
    searchable: Callable[[Instance], bool] | None = None
    caveat: str = ""
    membership: Callable[[Instance], str] | None = None

    def __post_init__(self) -> None:
        unknown = (set(self.instances) | set(self.search_examples)) - set(PROFILES)
        if unknown:
            raise ValueError(f"unknown profile(s) {sorted(unknown)}; profiles are {PROFILES}")
        object.__setattr__(
            self, "instances", _frozen({k: tuple(v) for k, v in self.instances.items()})
        )
        object.__setattr__(self, "search_examples", _frozen(self.search_examples))

    def grid(self, profile: str) -> list[Instance]:
        """The deterministic instances of `profile` (empty when the claim declares none)."""
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; profiles are {PROFILES}")
        return list(self.instances.get(profile, ()))

    def examples(self, profile: str) -> int:
        """How many hypothesis examples to search in `profile` (0 without a strategy)."""
        return 0 if self.strategy is None else int(self.search_examples.get(profile, 0))


RunHook = Callable[[Instance, Params], InstanceOutcome]

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~+-]*$")


@dataclass(frozen=True, eq=False)
class Claim:
    """One checkable statement of the paper (or a deliberately false variant of one).

    `parameters` are the claim's explicit constants (horizon, step, tolerances);
    `profile_parameters` overrides some of them per profile; `profiles` are the profiles that run
    the claim at all (a claim whose smallest honest instance is too slow for the quick gate). A
    known-false variant names its claim in `variant_of`; build one with `Claim.variant`.
    `summarize(results)` adds claim metrics. `profile_expectations` overrides the expectation in
    a profile where the suite cannot decide what it decides in another (an exploration claim whose
    full grid reaches settings the runs leave undecided): say why in the statement.
    """

    id: str
    paper_ref: str
    regime: str
    statement_md: str
    hypotheses: Domain
    conclusions: tuple[Predicate, ...]
    run: RunHook
    parameters: Mapping[str, Any] = field(default_factory=dict)
    profile_parameters: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    expectation: Expectation = Expectation.HOLDS
    variant_of: str | None = None
    summarize: Callable[[Sequence[Any]], dict[str, Any]] | None = None
    profiles: tuple[str, ...] = PROFILES
    profile_expectations: Mapping[str, Expectation] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _ID.match(self.id):
            raise ValueError(f"claim id {self.id!r} must be one word of letters, digits, ._~+-")
        if not any(mark in self.statement_md for mark in PROVENANCE_MARKS):
            raise ValueError(
                f"claim {self.id}: statement_md must carry its provenance marks {PROVENANCE_MARKS}"
            )
        object.__setattr__(self, "conclusions", tuple(self.conclusions))
        names = [p.name for p in self.conclusions]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"claim {self.id}: needs one or more conclusions with distinct names")
        object.__setattr__(self, "expectation", Expectation(self.expectation))
        if (self.expectation is Expectation.KNOWN_FALSE) != (self.variant_of is not None):
            raise ValueError(
                f"claim {self.id}: a known-false claim is a variant (set variant_of) and vice versa"
            )
        unknown = (set(self.profile_parameters) | set(self.profiles)) - set(PROFILES)
        if unknown or not self.profiles:
            raise ValueError(f"claim {self.id}: unknown or no profile(s) {sorted(unknown)}")
        object.__setattr__(self, "profiles", tuple(self.profiles))
        overrides = {k: Expectation(v) for k, v in self.profile_expectations.items()}
        if set(overrides) - set(PROFILES) or Expectation.KNOWN_FALSE in overrides.values() \
                or (overrides and self.is_variant):
            raise ValueError(f"claim {self.id}: profile_expectations name known profiles, never "
                             "known-false, and a known-false variant has none")
        object.__setattr__(self, "profile_expectations", MappingProxyType(overrides))
        object.__setattr__(self, "parameters", _frozen(self.parameters))
        object.__setattr__(
            self,
            "profile_parameters",
            _frozen({k: _frozen(v) for k, v in self.profile_parameters.items()}),
        )

    def params(self, profile: str) -> dict[str, Any]:
        """The parameters used in `profile`: the defaults with that profile's overrides."""
        return {**self.parameters, **self.profile_parameters.get(profile, {})}

    def expectation_in(self, profile: str) -> Expectation:
        """The expectation in `profile` (`profile_expectations` over `expectation`)."""
        return self.profile_expectations.get(profile, self.expectation)

    def expectation_text(self) -> str:
        """'holds', or 'holds (full: undecidable)' where a profile overrides it."""
        overrides = ", ".join(f"{p}: {e.value}" for p, e in self.profile_expectations.items())
        return self.expectation.value + (f" ({overrides})" if overrides else "")

    @property
    def is_variant(self) -> bool:
        return self.variant_of is not None

    def variant(self, name: str, statement_md: str, **changes: Any) -> Claim:
        """Known-false variant ``<id>~<name>``: this claim with `changes` (conclusions, parameters).

        Choose it so that a broken verifier would accept it (a wrong rate, a wrong threshold, a
        swapped regime); the run must reject it. The parent's `summarize` describes the parent's
        conclusions, so a variant has none unless it passes its own.
        """
        changes.setdefault("summarize", None)
        changes.setdefault("profile_expectations", {})
        return replace(
            self,
            id=f"{self.id}~{name}",
            statement_md=statement_md,
            expectation=Expectation.KNOWN_FALSE,
            variant_of=self.id,
            **changes,
        )
