"""What a claim's `run` returns for one instance: the object the results cache stores.

Kept apart from the rest of the framework because its source is part of every cache key
(`_run.keys`): a change here changes what the cache holds, so every outcome is recomputed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class InstanceOutcome:
    """What `Claim.run` returns for one instance; the predicates judge it.

    `metrics` and `rates` are named figures (JSON-able); `trajectory` is a DataFrame (one row per
    recorded step) or None; `data` holds transient values for the predicates only (never
    serialised, never cached).
    """

    metrics: dict[str, Any] = field(default_factory=dict)
    trajectory: pd.DataFrame | None = None
    rates: dict[str, float] = field(default_factory=dict)
    notes: str = ""
    data: dict[str, Any] = field(default_factory=dict)
