"""The claim framework's public surface, for claim authors and for programs that verify claims.

A claim pack is a module with a ``CLAIMS`` tuple of `Claim` objects, registered in the entry-point
group ``scoreclaims.claims`` (see `registry`); ``docs/ADDING_A_CLAIM.md`` walks through one.
Everything a claim author needs is importable from here::

    from scoreclaims.claims import NOT_APPLICABLE, Claim, Domain, InstanceOutcome, Predicate

The layout below this package: `paper` holds the paper's claims and nothing else; `_run` the
execution machinery (jobs, cache, executors); `cli` the command line; `pytest_plugin` the pytest
items; the framework itself is `model`, `outcome`, `verdict`, `evidence`, `judge`, `search`,
`runner`, `registry` and `results`.
"""

from scoreclaims.claims._run.parallel import TaskError, task_map
from scoreclaims.claims.evidence import ClaimResult, InstanceResult
from scoreclaims.claims.model import (
    NOT_APPLICABLE,
    PROFILES,
    Check,
    Claim,
    Domain,
    Instance,
    Params,
    Predicate,
)
from scoreclaims.claims.options import RunOptions
from scoreclaims.claims.outcome import InstanceOutcome
from scoreclaims.claims.registry import Registry
from scoreclaims.claims.registry import load as load_claims
from scoreclaims.claims.runner import evaluate, verify, verify_claim
from scoreclaims.claims.verdict import Expectation, Verdict

__all__ = [
    "NOT_APPLICABLE", "PROFILES", "Check", "Claim", "ClaimResult", "Domain", "Expectation",
    "Instance", "InstanceOutcome", "InstanceResult", "Params", "Predicate", "Registry",
    "RunOptions", "TaskError", "Verdict", "evaluate", "load_claims", "task_map", "verify",
    "verify_claim",
]
