"""The register of witnesses, as a quality test (in the spirit of Hypothesis's own: a test that
cannot fail is not a test). For every conclusion of every registered claim, known-false variants
included, the claim packs name at least one witness on which it fails: a constructed outcome
(judged here: it must return False, or None for a guard) or a known-false variant (its committed
full-profile results must show the conclusion False on one of its instances). A conclusion
without a verified witness fails the build; so does a witness that does not make its conclusion
fail, and one that names no registered conclusion. ``scoreclaims list --conclusions`` prints the
same register."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scoreclaims.claims import InstanceOutcome, Predicate, load_claims
from scoreclaims.claims import witness as wit
from scoreclaims.claims.registry import Registry

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "docs" / "report" / "results.json"

REGISTRY = load_claims()


@pytest.fixture(scope="module")
def committed() -> dict[str, Any] | None:
    return json.loads(COMMITTED.read_text()) if COMMITTED.exists() else None


def _ids(entries: list[wit.Entry]) -> list[str]:
    return [f"{e.claim.id}/{e.predicate.name}" for e in entries]


ENTRIES = wit.register(REGISTRY, REGISTRY.witnesses)


@pytest.mark.parametrize("entry", ENTRIES, ids=_ids(ENTRIES))
def test_every_conclusion_has_a_witness_that_makes_it_fail(
        entry: wit.Entry, committed: dict[str, Any] | None) -> None:
    assert entry.witnesses, (f"{entry.claim.id}: conclusion {entry.predicate.name!r} has no "
                             f"witness: no outcome, test or known-false variant makes it fail")
    checked = [wit.check(REGISTRY, w, committed) for w in entry.witnesses]
    broken = [f"{v.witness.why}: {v.detail}" for v in checked if v.ok is False]
    assert not broken, f"witnesses that do not make {entry.predicate.name!r} fail: {broken}"
    assert any(v.ok for v in checked), (
        f"{entry.claim.id}/{entry.predicate.name}: no witness verified here (only variants "
        f"absent from {COMMITTED.name}); add a constructed outcome")


def test_every_witness_names_a_registered_conclusion() -> None:
    assert not [f"{w.claim}/{w.predicate}" for w in wit.orphans(REGISTRY, REGISTRY.witnesses)]


def test_the_register_covers_every_claim_of_the_suite() -> None:
    covered = {e.claim.id for e in ENTRIES if e.witnesses}
    assert covered == {c.id for c in REGISTRY}
    assert len(ENTRIES) == sum(len(c.conclusions) for c in REGISTRY)


# ------------------------------------------------------------------ the register's own teeth

def _toy(test: Any, guard: bool = False) -> Registry:
    from scoreclaims.claims import Claim, Domain

    claim = Claim(id="toy", paper_ref="-", regime="-", statement_md="toy (**(derived)**)",
                  hypotheses=Domain("any", contains=lambda i: True, instances={}),
                  conclusions=(Predicate("c", "c", test, guard=guard),),
                  run=lambda i, p: InstanceOutcome())
    return Registry([claim])


def test_a_witness_that_does_not_fail_its_conclusion_is_caught() -> None:
    always = _toy(lambda o, p: (True, "holds whatever the outcome"))
    w = wit.constructed("toy", "c", "cannot fail", InstanceOutcome)
    assert wit.check(always, w).ok is False
    undecided = _toy(lambda o, p: None)
    assert wit.check(undecided, w).ok is False  # undecided is not a failure
    fails = _toy(lambda o, p: o.metrics.get("x", 0) < 1)
    assert wit.check(fails, wit.constructed("toy", "c", "x = 2",
                                            lambda: InstanceOutcome(metrics={"x": 2}))).ok


def test_a_guard_is_witnessed_by_an_undecided_outcome_and_never_returns_false() -> None:
    guard = _toy(lambda o, p: True if o.metrics.get("ok") else None, guard=True)
    w = wit.constructed("toy", "c", "not ok", InstanceOutcome)
    assert wit.check(guard, w).ok is True
    sound = wit.constructed("toy", "c", "ok", lambda: InstanceOutcome(metrics={"ok": 1}))
    assert wit.check(guard, sound).ok is False
    broken = _toy(lambda o, p: False, guard=True)
    with pytest.raises(TypeError, match="guard"):
        broken.get("toy").conclusions[0].check(InstanceOutcome(), {})


def test_a_variant_witness_is_read_from_the_results_file() -> None:
    w = wit.by_variant("T2.1", "every_mean_converges", "T2.1~t0-any-init", "t = 0")
    fake = {"claims": [{"id": "T2.1~t0-any-init", "verdict": "fail", "instances": [
        {"predicates": {"every_mean_converges": {"holds": True, "detail": ""}}}]}]}
    assert wit.check(REGISTRY, w, fake).ok is False
    fake["claims"][0]["instances"][0]["predicates"]["every_mean_converges"]["holds"] = False
    assert wit.check(REGISTRY, w, fake).ok is True
    assert wit.check(REGISTRY, w, {"claims": []}).ok is None
    wrong = wit.by_variant("T2.1", "every_mean_converges", "T2.1~linear-rate", "not judged")
    assert wit.check(REGISTRY, wrong, fake).ok is False


def test_list_conclusions_prints_the_register(capsys: pytest.CaptureFixture[str]) -> None:
    from scoreclaims.claims.cli.main import main

    assert main(["list", "--conclusions"]) == 0
    out = capsys.readouterr().out
    assert "T2.1  loss_rate_vs_bound  (conclusion)" in out
    assert "(guard)" in out and "constructed outcome" in out and "known-false variant" in out
    assert main(["list", "--conclusions", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["unwitnessed"] == 0 and len(doc["conclusions"]) == len(ENTRIES)
