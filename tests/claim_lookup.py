"""Registered claims by id, and their quick-profile parameters with changes (tests only)."""

from __future__ import annotations

from typing import Any

from scoreclaims.claims import registry
from scoreclaims.claims.model import Claim


def by_id(claim_id: str) -> Claim:
    return registry.load().get(claim_id)


def params(claim_id: str, **changes: Any) -> dict[str, Any]:
    return {**by_id(claim_id).params("quick"), **changes}
