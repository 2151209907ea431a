"""pytest plugin: ``pytest --claims quick|full`` adds one item per claim and known-false variant.

Items are named by claim id (node id ``scoreclaims::<id>``) and marked ``claim`` (select them alone
with ``-m claim``). An item checks its claim's expectation, as ``scoreclaims verify`` does, and
passes when the verdict matches it: a claim that holds must pass, a known-false variant must fail
(the item passes: "known-false variant rejected"; its unexpected pass fails the item), a claim
registered as undecidable must be inconclusive; an error verdict always fails. Items of claims
that do not run in the chosen profile are skipped. The expectation and the verdict are recorded
as user properties (JUnit XML ``<property>``). Without ``--claims`` the plugin adds nothing. The
results cache is used unless ``--claims-no-cache``; CI runs are derandomised as with
``scoreclaims verify``.
Instances run in the pytest process unless ``--claims-workers N`` asks for a local pool of N
worker processes (one pool for the whole session).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from scoreclaims.claims.evidence import ClaimResult
    from scoreclaims.claims.model import Claim


class ClaimNotVerified(AssertionError):
    """The claim's verdict is not what its expectation asks for."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("scoreclaims", "scoreclaims claim verification")
    group.addoption(
        "--claims",
        choices=("quick", "full"),
        default=None,
        metavar="PROFILE",
        help="also collect one item per scoreclaims claim and known-false variant (quick|full)",
    )
    group.addoption(
        "--claims-no-cache",
        action="store_true",
        default=False,
        help="recompute every claim instance (bypass the results cache)",
    )
    group.addoption(
        "--claims-workers",
        type=int,
        default=0,
        metavar="N",
        help="run claim instances on a local pool of N worker processes (default 0: in the "
        "pytest process)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "claim: a scoreclaims claim verification item")


_POOL_KEY = pytest.StashKey[Any]()


def _executor(config: pytest.Config) -> Any:
    """The session's local pool (None: run in the pytest process)."""
    workers = config.getoption("claims_workers")
    if workers <= 0:
        return None
    if _POOL_KEY not in config.stash:
        from scoreclaims.claims._run.executors import make_executor

        config.stash[_POOL_KEY] = make_executor(workers)
    return config.stash[_POOL_KEY]


def pytest_unconfigure(config: pytest.Config) -> None:
    pool = config.stash.get(_POOL_KEY, None)
    if pool is not None:
        pool.close()


class ClaimItem(pytest.Item):
    """One claim, verified with the chosen profile."""

    def __init__(self, *, claim: Claim, profile: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.claim = claim
        self.profile = profile
        self.add_marker("claim")
        if profile not in claim.profiles:
            self.add_marker(pytest.mark.skip(
                reason=f"runs in the {'/'.join(claim.profiles)} profile only"))

    def runtest(self) -> None:
        from scoreclaims.claims._run.cache import ResultsCache
        from scoreclaims.claims.options import RunOptions, ci_requested
        from scoreclaims.claims.runner import verify_claim
        from scoreclaims.claims.verdict import Expectation

        no_cache = self.config.getoption("claims_no_cache")
        options = RunOptions(
            profile=self.profile,
            cache=None if no_cache else ResultsCache(),
            derandomize=ci_requested(),
            executor=_executor(self.config),
        )
        result: ClaimResult = verify_claim(self.claim, options)
        expectation = self.claim.expectation_in(self.profile)
        expected = expectation.expected_verdict
        self.user_properties += [("expected", expectation.value),
                                 ("verdict", result.verdict.value), ("reason", result.reason)]
        if result.matches_expectation:
            return
        what = {Expectation.KNOWN_FALSE: "a known-false variant, but its verdict is",
                Expectation.UNDECIDABLE: "registered as undecidable, but the verdict is"}.get(
                    expectation, "verdict")
        message = f"{self.claim.id}: {what} {result.verdict.value} (expected " \
            f"{expected.value}): {result.reason}"
        crashed = [r.traceback for r in result.inside if r.traceback]
        raise ClaimNotVerified(message + ("\n" + crashed[0] if crashed else ""))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ClaimNotVerified):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Any, int, str]:
        return self.path, 0, f"claim {self.claim.id} [{self.profile}]"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    profile = config.getoption("claims")
    if not profile:
        return
    from scoreclaims.claims import registry

    collector = _ClaimsCollector.from_parent(
        session, name="scoreclaims", nodeid="scoreclaims", path=session.path
    )
    items.extend(
        ClaimItem.from_parent(collector, name=claim.id, claim=claim, profile=profile)
        for claim in registry.load()
    )


class _ClaimsCollector(pytest.Collector):
    """Parent node of the claim items (they are made directly, not by walking files)."""

    def collect(self) -> list[pytest.Item]:
        return []
