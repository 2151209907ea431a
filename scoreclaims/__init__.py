"""scoreclaims: the theorems of *Convergence Dynamics of Over-Parameterized Score Matching for a
Single Gaussian* as executable, checkable claims, verified on the exact population dynamics.

Layers, lowest first (an import only ever points down):

* `scoreclaims.verifiers`: the float64 engine (population loss and gradient with error bounds,
  gradient descent, rate fits); imports nothing else of the package;
* `scoreclaims.highprec`: arbitrary precision and certified enclosures (mpmath, python-flint);
* `scoreclaims.reports`: renders results files; owns their schema; never imports claim code;
* `scoreclaims.claims`: the application: the claim framework, the paper's claims
  (`scoreclaims.claims.paper`), execution and caching, the command line and the pytest plugin.

The names below are the public API, imported on first use so that ``import scoreclaims`` stays
cheap (the pytest plugin and the command line import it)::

    import scoreclaims
    registry = scoreclaims.load_claims()
    results = scoreclaims.verify(registry.select(["T2.1"]), scoreclaims.RunOptions())
    ev = scoreclaims.evaluate([[0.0], [14.0]])
"""

from __future__ import annotations

import importlib
from importlib import metadata
from typing import Any

try:
    __version__ = metadata.version("scoreclaims")
except metadata.PackageNotFoundError:  # pragma: no cover - running from an uninstalled tree
    __version__ = "0+unknown"

# public name -> module that defines it
_API = {
    "Claim": "scoreclaims.claims",
    "Domain": "scoreclaims.claims",
    "Predicate": "scoreclaims.claims",
    "InstanceOutcome": "scoreclaims.claims",
    "Expectation": "scoreclaims.claims",
    "Verdict": "scoreclaims.claims",
    "NOT_APPLICABLE": "scoreclaims.claims",
    "task_map": "scoreclaims.claims",
    "load_claims": "scoreclaims.claims",
    "RunOptions": "scoreclaims.claims",
    "verify": "scoreclaims.claims",
    "evaluate": "scoreclaims.verifiers",
    "run_gd": "scoreclaims.verifiers",
    "run_gd_batch": "scoreclaims.verifiers",
    "Trajectory": "scoreclaims.verifiers",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'scoreclaims' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
