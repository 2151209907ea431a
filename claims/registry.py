"""The claim registry: claim packs found through the entry-point group ``scoreclaims.claims``.

A pack is a module with a ``CLAIMS`` tuple. The paper's packs (`scoreclaims.claims.paper`) are
registered by this project's own ``pyproject.toml``, one line each; a separately installed package
registers its claims the same way::

    [project.entry-points."scoreclaims.claims"]
    my_pack = "my_package.my_claims"      # a module defining CLAIMS = (...)

Order: a pack's claims in their order; packs sorted by entry-point name (setuptools writes entry
points sorted by name anyway, so the names are what sets the order).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator, Sequence
from importlib import metadata
from typing import Any

from scoreclaims.claims.model import Claim
from scoreclaims.verifiers.errors import UsageError

GROUP = "scoreclaims.claims"


def pack_modules() -> tuple[str, ...]:
    """The modules of every registered claim pack, in registration order."""
    seen: dict[str, None] = {}
    for entry in sorted(metadata.entry_points(group=GROUP), key=lambda e: e.name):
        seen.setdefault(entry.value.partition(":")[0].strip(), None)
    return tuple(seen)


class Registry:
    """Ordered claims with unique ids; every known-false variant names a registered claim.
    `witnesses`: the packs' register of witnesses (`scoreclaims.claims.witness`), that each
    conclusion can fail."""

    def __init__(self, claims: Iterable[Claim], witnesses: Iterable[Any] = ()) -> None:
        self.witnesses: tuple[Any, ...] = tuple(witnesses)
        self._claims: dict[str, Claim] = {}
        for claim in claims:
            if claim.id in self._claims:
                raise ValueError(f"claim id {claim.id!r} is registered twice")
            self._claims[claim.id] = claim
        for claim in self._claims.values():
            parent = self._claims.get(claim.variant_of or "")
            if claim.variant_of is not None and (parent is None or parent.is_variant):
                raise ValueError(
                    f"{claim.id} is a variant of {claim.variant_of!r}, not a registered claim"
                )

    def __iter__(self) -> Iterator[Claim]:
        return iter(self._claims.values())

    def __len__(self) -> int:
        return len(self._claims)

    def __contains__(self, claim_id: object) -> bool:
        return claim_id in self._claims

    def get(self, claim_id: str) -> Claim:
        try:
            return self._claims[claim_id]
        except KeyError:
            raise UsageError(self._unknown(claim_id)) from None

    def variants_of(self, claim_id: str) -> list[Claim]:
        return [c for c in self if c.variant_of == claim_id]

    def select(self, ids: Sequence[str] = (), profile: str | None = None) -> list[Claim]:
        """The claims to run: all of them when `ids` is empty; a claim id brings its variants along.
        With `profile`, only the claims that run in it (see `skipped`).

        Unknown ids, and ids named explicitly that do not run in `profile`, are usage errors
        (raised before anything runs).
        """
        unknown = [i for i in ids if i not in self._claims]
        if unknown:
            raise UsageError(self._unknown(*unknown))
        absent = [i for i in ids if profile is not None and profile not in self.get(i).profiles]
        if absent:
            only = "/".join(self.get(absent[0]).profiles)
            raise UsageError(f"claim {', '.join(absent)} runs in the {only} profile only "
                             f"(use --profile {self.get(absent[0]).profiles[0]})")
        chosen = set(ids) | {v.id for i in ids for v in self.variants_of(i)}
        return [c for c in self if (not ids or c.id in chosen)
                and (profile is None or profile in c.profiles)]

    def skipped(self, profile: str) -> list[Claim]:
        """The claims that do not run in `profile`."""
        return [c for c in self if profile not in c.profiles]

    def _unknown(self, *ids: str) -> str:
        known = ", ".join(self._claims) or "none registered yet"
        names = ", ".join(repr(i) for i in ids)
        return f"unknown claim id {names} (known: {known})"


def load(modules: Sequence[str] | None = None) -> Registry:
    """Import each claim pack (default: the registered ones, `pack_modules`) and collect its
    ``CLAIMS`` and its optional ``WITNESSES`` (`scoreclaims.claims.witness.Witness` objects)."""
    from scoreclaims.claims.witness import Witness

    claims: list[Claim] = []
    witnesses: list[Witness] = []
    for name in pack_modules() if modules is None else modules:
        pack = importlib.import_module(name)
        found = getattr(pack, "CLAIMS", None)
        if not isinstance(found, tuple | list) or not all(isinstance(c, Claim) for c in found):
            raise TypeError(f"claim pack {name!r} must define CLAIMS, a tuple of Claim objects")
        claims.extend(found)
        more = getattr(pack, "WITNESSES", ())
        if not isinstance(more, tuple | list) or not all(isinstance(w, Witness) for w in more):
            raise TypeError(f"claim pack {name!r}: WITNESSES must be a tuple of Witness objects")
        witnesses.extend(more)
    return Registry(claims, witnesses)
