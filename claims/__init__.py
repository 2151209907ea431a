"""The claim framework's public surface, for claim authors and for programs that verify claims.

A claim pack is a module with a ``CLAIMS`` tuple of `Claim` objects, registered in the entry-point
group ``scoreclaims.claims`` (see `registry`); ``docs/ADDING_A_CLAIM.md`` walks through one.
Everything a claim author needs is importable from here::

    from scoreclaims.claims import NOT_APPLICABLE, Claim, Domain, InstanceOutcome, Predicate

The names are imported on first use, so that importing a submodule (the pytest plugin, which
pytest loads in every project where scoreclaims is installed) costs nothing more.

The layout below this package: `paper` holds the paper's claims and nothing else; `_run` the
execution machinery (jobs, cache, executors); `cli` the command line; `pytest_plugin` the pytest
items; the framework itself is `model`, `outcome`, `verdict`, `evidence`, `judge`, `search`,
`options`, `runner`, `registry`, `results` and `witness` (the register of witnesses that every
conclusion can fail).
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> (submodule, name there)
_API = {
    "NOT_APPLICABLE": ("model", "NOT_APPLICABLE"),
    "PROFILES": ("model", "PROFILES"),
    "Check": ("model", "Check"),
    "Claim": ("model", "Claim"),
    "Domain": ("model", "Domain"),
    "Instance": ("model", "Instance"),
    "Params": ("model", "Params"),
    "Predicate": ("model", "Predicate"),
    "InstanceOutcome": ("outcome", "InstanceOutcome"),
    "Expectation": ("verdict", "Expectation"),
    "Verdict": ("verdict", "Verdict"),
    "ClaimResult": ("evidence", "ClaimResult"),
    "InstanceResult": ("evidence", "InstanceResult"),
    "RunOptions": ("options", "RunOptions"),
    "Registry": ("registry", "Registry"),
    "load_claims": ("registry", "load"),
    "evaluate": ("runner", "evaluate"),
    "verify": ("runner", "verify"),
    "verify_claim": ("runner", "verify_claim"),
    "Witness": ("witness", "Witness"),
    "by_variant": ("witness", "by_variant"),
    "constructed": ("witness", "constructed"),
    "task_map": ("_run.parallel", "task_map"),
    "TaskError": ("_run.parallel", "TaskError"),
}

__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    where = _API.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{where[0]}"), where[1])
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
