"""Cache keys follow what an instance's computation depends on (`claims._run.keys`): after a
quick-profile run of claims from three modules, an edit to one claim's module reruns that claim's
instances only, and an edit to the report or the progress display reruns none. (The claim gate
runs the whole quick profile; three modules are enough to see what an edit reaches.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scoreclaims.claims import RunOptions, load_claims, verify
from scoreclaims.claims._run import keys
from scoreclaims.claims._run.cache import ResultsCache
from scoreclaims.claims._run.executors import make_executor
from scoreclaims.claims._run.scheduler import COMPUTED, REUSED

ROOT = Path(__file__).resolve().parent.parent
# one claim (with its variants) from each of three modules; T3.4's module is the one edited
CLAIMS = ("L2.2", "T3.1", "T3.4")


@pytest.fixture
def edited(monkeypatch: pytest.MonkeyPatch) -> Iterator[set[Path]]:
    """Files in this set read as their source plus an appended comment (no file is touched)."""
    paths: set[Path] = set()
    real = keys.read_source

    def read(path: Path) -> bytes:
        data = real(path)
        return data + b"\n# an edit\n" if path.resolve() in paths else data

    monkeypatch.setattr(keys, "read_source", read)
    keys.clear()
    yield paths
    keys.clear()


def _recomputed(cache: ResultsCache, workers: int = 0) -> tuple[dict[str, int], set[str]]:
    """One derandomised quick-profile run of CLAIMS: its instance counts and the claims with an
    instance not served from the cache. (Edits are seen by this process only: worker processes would
    refuse jobs keyed by another code version, so runs after an edit stay in this process.)"""
    counts: dict[str, int] = {}
    with make_executor(workers) as executor:
        options = RunOptions(profile="quick", cache=cache, derandomize=True, executor=executor)
        results = verify(load_claims().select(CLAIMS, profile="quick"), options, counts=counts)
    assert all(r.matches_expectation for r in results)
    return counts, {r.claim.id for r in results for i in r.inside + r.beyond if not i.cached}


def test_an_edit_reruns_only_what_depends_on_it(tmp_path: Path, edited: set[Path]) -> None:
    cache = ResultsCache(tmp_path / "cache")
    counts, _ = _recomputed(cache, workers=2)
    assert counts[COMPUTED] > 0
    counts, rerun = _recomputed(cache)
    assert rerun == set() and counts.get(COMPUTED, 0) == 0 and counts[REUSED] > 0

    edited.update({(ROOT / "reports" / "render.py").resolve(),
                   (ROOT / "claims" / "cli" / "progress.py").resolve()})
    keys.clear()
    counts, rerun = _recomputed(cache)
    assert rerun == set() and counts.get(COMPUTED, 0) == 0

    edited.add((ROOT / "claims" / "paper" / "low_noise_necessity.py").resolve())
    keys.clear()
    counts, rerun = _recomputed(cache)
    assert rerun == {"T3.4", "T3.4~all-converge", "T3.4~opposite-side"}
    assert counts[COMPUTED] > 0

    before = {c.id: keys.code_version(c.run) for c in load_claims()}
    edited.add((ROOT / "verifiers" / "population.py").resolve())  # the engine: every claim
    keys.clear()
    after = {c.id: keys.code_version(c.run) for c in load_claims()}
    assert all(after[i] != before[i] for i in before)


def test_closures_hold_helpers_not_the_framework() -> None:
    closure = {name for name, _ in keys.closure("scoreclaims.claims.paper.random_init")}
    assert "scoreclaims.claims.paper._random_init_runs" in closure
    assert not closure & {"scoreclaims.claims.model", "scoreclaims.claims.runner",
                          "scoreclaims.claims.cli.progress", "scoreclaims.reports.render"}
    assert not any(name.startswith("scoreclaims.verifiers") for name in closure)
