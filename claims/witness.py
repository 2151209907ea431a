"""The register of witnesses: for every conclusion of every claim, evidence that it can fail.

A conclusion that no outcome can make False certifies nothing when it holds (a margin of 738
decades, a check skipped with "not run here"). So every conclusion (`Predicate`) of every
registered claim, known-false variants included, names at least one witness:

* a constructed outcome (`outcome`): a small `InstanceOutcome`, built from the metric and data
  names the claim's own run produces, on which the conclusion returns False (a guard, an
  evidence check that never fails by design, returns None there instead: its witness shows it
  can stop a pass);
* a known-false variant (`variant`): a registered variant whose run makes the conclusion False on
  at least one of its instances (checked against a results file, e.g. the committed report).

A claim pack lists its witnesses in a module-level ``WITNESSES`` tuple beside ``CLAIMS``;
`registry.load` collects them. ``scoreclaims list --conclusions`` prints the register, and the
test suite's quality test (tests/test_witnesses.py) fails the build for a conclusion without a
witness, and for a witness that does not make its conclusion fail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from scoreclaims.claims.model import Check, Claim, Predicate
from scoreclaims.claims.outcome import InstanceOutcome

if TYPE_CHECKING:
    from scoreclaims.claims.registry import Registry

OUTCOME = "outcome"
VARIANT = "variant"


@dataclass(frozen=True, eq=False)
class Witness:
    """One witness that conclusion `predicate` of claim `claim` can fail.

    Exactly one of `outcome` (a function building the constructed outcome) and `variant` (the id
    of a known-false variant whose run makes it fail). `params` override the claim's quick-profile
    parameters for a constructed outcome; `why` says in one line what makes it fail.
    """

    claim: str
    predicate: str
    why: str
    outcome: Callable[[], InstanceOutcome] | None = None
    variant: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.outcome is None) == (self.variant is None):
            raise ValueError(f"witness for {self.claim}/{self.predicate}: give exactly one of "
                             f"outcome and variant")
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    @property
    def kind(self) -> str:
        return OUTCOME if self.outcome is not None else VARIANT


def constructed(claim: str, predicate: str, why: str, build: Callable[[], InstanceOutcome],
                **params: Any) -> Witness:
    """A constructed-outcome witness (`params`: overrides of the claim's parameters)."""
    return Witness(claim, predicate, why, outcome=build, params=params)


def by_variant(claim: str, predicate: str, variant: str, why: str) -> Witness:
    """A known-false-variant witness: `variant`'s run makes `claim`'s `predicate` False."""
    return Witness(claim, predicate, why, variant=variant)


def predicate_of(registry: Registry, claim_id: str, name: str) -> Predicate | None:
    if claim_id not in registry:
        return None
    return next((p for p in registry.get(claim_id).conclusions if p.name == name), None)


@dataclass
class Verified:
    """A witness checked: `ok` True (the conclusion fails on it, or a guard is undecided), False
    (it does not), None (not checkable here: a variant absent from the results file)."""

    witness: Witness
    ok: bool | None
    detail: str


def check(registry: Registry, witness: Witness,
          results: Mapping[str, Any] | None = None) -> Verified:
    """Evaluate one witness: a constructed outcome is judged by its predicate (with the claim's
    quick parameters and the witness's overrides); a variant is looked up in `results` (a
    results document), where one of its instances must show the predicate False."""
    predicate = predicate_of(registry, witness.claim, witness.predicate)
    if predicate is None:
        return Verified(witness, False, f"no conclusion {witness.predicate!r} in claim "
                                        f"{witness.claim!r}")
    if witness.outcome is not None:
        params = {**registry.get(witness.claim).params("quick"), **witness.params}
        try:
            result: Check = predicate.check(witness.outcome(), params)
        except Exception as exc:  # noqa: BLE001 - a broken witness is a failed witness
            return Verified(witness, False, f"{type(exc).__name__}: {exc}")
        wanted = None if predicate.guard else False
        ok = result.holds is wanted
        return Verified(witness, ok, f"returned {result.holds!r}: {result.detail}")
    variant_id = witness.variant or ""
    if variant_id not in registry or registry.get(variant_id).variant_of is None:
        return Verified(witness, False, f"{variant_id!r} is not a registered known-false variant")
    variant = registry.get(variant_id)
    if not any(p is predicate for p in variant.conclusions):
        return Verified(witness, False, f"{variant_id} does not judge {witness.predicate}")
    entry = next((c for c in (results or {}).get("claims", []) if c["id"] == variant_id), None)
    if entry is None:
        return Verified(witness, None, f"{variant_id} is not in the results file")
    falsified = [i for i in entry["instances"]
                 if (i["predicates"].get(witness.predicate) or {}).get("holds") is False]
    return Verified(witness, bool(falsified),
                    f"{len(falsified)} of {len(entry['instances'])} instances of {variant_id} "
                    f"({entry.get('verdict')}) show it False")


def owners(registry: Registry, witnesses: Iterable[Witness]
           ) -> dict[int, list[Witness]]:
    """Witnesses by the predicate object they exercise (a variant reusing its claim's conclusion
    shares that conclusion's witnesses)."""
    out: dict[int, list[Witness]] = {}
    for w in witnesses:
        predicate = predicate_of(registry, w.claim, w.predicate)
        if predicate is not None:
            out.setdefault(id(predicate), []).append(w)
    return out


@dataclass
class Entry:
    """One conclusion of one claim in the register, with its witnesses."""

    claim: Claim
    predicate: Predicate
    witnesses: list[Witness]


def register(registry: Registry, witnesses: Sequence[Witness]) -> list[Entry]:
    """Every conclusion of every registered claim, in order, with the witnesses that exercise it."""
    by_predicate = owners(registry, witnesses)
    return [Entry(claim, p, by_predicate.get(id(p), []))
            for claim in registry for p in claim.conclusions]


def orphans(registry: Registry, witnesses: Sequence[Witness]) -> list[Witness]:
    """Witnesses naming a claim or conclusion that is not registered."""
    return [w for w in witnesses if predicate_of(registry, w.claim, w.predicate) is None]
