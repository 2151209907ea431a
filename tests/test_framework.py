"""The claim framework on small synthetic claims: verdicts, evidence, search, cache, CLI, plugin."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path
from typing import Any

import mpmath
import pandas as pd
import pytest
from hypothesis import strategies as st

from scoreclaims.claims import registry
from scoreclaims.claims._run.cache import ResultsCache
from scoreclaims.claims.cli.main import main
from scoreclaims.claims.cli.progress import Progress
from scoreclaims.claims.evidence import MAX_TRAJECTORY_ROWS, thin_indices
from scoreclaims.claims.model import NOT_APPLICABLE, Claim, Domain, InstanceOutcome, Predicate
from scoreclaims.claims.registry import Registry
from scoreclaims.claims.runner import RunOptions, evaluate, result_key, verify_claim
from scoreclaims.claims.verdict import Expectation, Verdict, aggregate, exit_status, matches
from scoreclaims.reports import render
from scoreclaims.verifiers.errors import UsageError

# ---------------------------------------------------------------- synthetic claims

CALLS: dict[str, int] = {}


def _count(name: str) -> None:
    CALLS[name] = CALLS.get(name, 0) + 1


def run_decay(instance: dict[str, Any], params: dict[str, Any]) -> InstanceOutcome:
    """x_k = a * rate^k for k = 0..steps: a geometric contraction."""
    _count("decay")
    k = range(params["steps"] + 1)
    frame = pd.DataFrame({"tau": list(k), "x": [instance["a"] * params["rate"] ** j for j in k]})
    final = float(frame["x"].iloc[-1])
    return InstanceOutcome(
        metrics={"final": final, "blowup": math.inf},
        trajectory=frame,
        rates={"log_rate": math.log(params["rate"])},
    )


def decays_below(outcome: InstanceOutcome, params: dict[str, Any]) -> tuple[bool, str]:
    final = outcome.metrics["final"]
    return final <= params["tol"], f"final {final:.3g} vs tol {params['tol']:.3g}"


HOLDS = Claim(
    id="S.holds",
    paper_ref="synthetic",
    regime="any",
    statement_md="Halving from `a <= 1` for 20 steps ends below `1e-5` (derived).",
    hypotheses=Domain(
        description="0 <= a <= 1",
        contains=lambda i: 0 <= i["a"] <= 1,
        instances={"quick": [{"a": 0.1}, {"a": 1.0}, {"a": 50.0}], "full": [{"a": 0.5}]},
        strategy=st.fixed_dictionaries({"a": st.floats(0, 1)}),
        search_examples={"quick": 5, "full": 20},
    ),
    conclusions=(Predicate("decays", "final value below tol", decays_below),),
    run=run_decay,
    parameters={"steps": 20, "rate": 0.5, "tol": 1e-5},
    profile_parameters={"full": {"steps": 30}},
    summarize=lambda results: {
        "worst_final": max(r.metrics["final"] for r in results if r.in_hypotheses)
    },
)

# Known-false: claims a much faster contraction than the run delivers; must be rejected.
HOLDS_FAST = HOLDS.variant(
    "fast",
    "Halving ends below `1e-9` (reported); deliberately too strong.",
    parameters={**HOLDS.parameters, "tol": 1e-9},
)
# Known-false in name only: identical to the claim, so it passes and must fail the run.
HOLDS_SAME = HOLDS.variant("same", "Same statement as S.holds (derived), wrongly marked false.")


def run_square(instance: dict[str, Any], params: dict[str, Any]) -> InstanceOutcome:
    _count("square")
    return InstanceOutcome(metrics={"square": instance["x"] ** 2})


FAILS = Claim(
    id="S.fails",
    paper_ref="synthetic",
    regime="any",
    statement_md="Every integer `0 <= x <= 100` has `x^2 < 50` (reported); false from x = 8.",
    hypotheses=Domain(
        description="integer 0 <= x <= 100",
        contains=lambda i: 0 <= i["x"] <= 100,
        instances={"quick": [{"x": 1}, {"x": 2}], "full": [{"x": 3}]},
        strategy=st.fixed_dictionaries({"x": st.integers(0, 100)}),
        search_examples={"quick": 60, "full": 60},
    ),
    conclusions=(Predicate("small", "x^2 < bound", lambda o, p: o.metrics["square"] < p["bound"]),),
    run=run_square,
    parameters={"bound": 50},
)

UNDECIDED = Claim(
    id="S.undecided",
    paper_ref="synthetic",
    regime="any",
    statement_md="A limit that the horizon cannot reach (derived).",
    hypotheses=Domain(description="all", contains=lambda i: True, instances={"quick": [{"n": 1}]}),
    conclusions=(Predicate("limit", "needs an infinite horizon", lambda o, p: (None, "horizon")),),
    run=lambda i, p: InstanceOutcome(),
)


def run_raises(instance: dict[str, Any], params: dict[str, Any]) -> InstanceOutcome:
    raise RuntimeError("engine exploded")


RAISES = Claim(
    id="S.raises",
    paper_ref="synthetic",
    regime="any",
    statement_md="Anything (derived).",
    hypotheses=Domain(description="all", contains=lambda i: True, instances={"quick": [{"n": 1}]}),
    conclusions=(Predicate("never", "not reached", lambda o, p: True),),
    run=run_raises,
)

ALL = (HOLDS, HOLDS_FAST, HOLDS_SAME, FAILS, UNDECIDED, RAISES)


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test runs in its own directory with its own cache and example database."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SCORECLAIMS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SCORECLAIMS_EXAMPLES", str(tmp_path / "examples"))
    monkeypatch.setenv("SCORECLAIMS_WORKERS", "0")  # in this process: CALLS counts every run
    monkeypatch.delenv("CI", raising=False)
    CALLS.clear()
    return tmp_path


def use_claims(monkeypatch: pytest.MonkeyPatch, *claims: Claim) -> None:
    monkeypatch.setattr(registry, "load", lambda modules=None: Registry(claims))


def options(**kw: Any) -> RunOptions:
    kw.setdefault("examples_dir", Path("examples"))
    return RunOptions(**kw)


# ---------------------------------------------------------------- rules and objects


def test_verdict_rules() -> None:
    assert aggregate([]) is Verdict.INCONCLUSIVE
    assert aggregate([Verdict.PASS, Verdict.PASS]) is Verdict.PASS
    assert aggregate([Verdict.PASS, Verdict.INCONCLUSIVE]) is Verdict.INCONCLUSIVE
    assert aggregate([Verdict.INCONCLUSIVE, Verdict.FAIL, Verdict.PASS]) is Verdict.FAIL
    assert aggregate([Verdict.FAIL, Verdict.ERROR]) is Verdict.ERROR
    assert matches(Expectation.HOLDS, Verdict.PASS)
    assert matches(Expectation.KNOWN_FALSE, Verdict.FAIL)
    for v in (Verdict.ERROR, Verdict.INCONCLUSIVE):
        assert not matches(Expectation.HOLDS, v) and not matches(Expectation.KNOWN_FALSE, v)
    assert not matches(Expectation.KNOWN_FALSE, Verdict.PASS)
    assert matches(Expectation.UNDECIDABLE, Verdict.INCONCLUSIVE)
    for v in (Verdict.PASS, Verdict.FAIL, Verdict.ERROR):  # a decision would be a finding
        assert not matches(Expectation.UNDECIDABLE, v)
    assert exit_status([]) == 0 and exit_status([True, True]) == 0
    assert exit_status([True, False]) == 1


def test_claim_validation_and_variant() -> None:
    base = dict(
        id="X",
        paper_ref="p",
        regime="any",
        statement_md="s (derived)",
        hypotheses=UNDECIDED.hypotheses,
        conclusions=UNDECIDED.conclusions,
        run=UNDECIDED.run,
    )
    with pytest.raises(ValueError, match="provenance"):
        Claim(**{**base, "statement_md": "no marks"})
    with pytest.raises(ValueError, match="variant"):
        Claim(**base, expectation=Expectation.KNOWN_FALSE)
    with pytest.raises(ValueError, match="one word"):
        Claim(**{**base, "id": "two words"})
    with pytest.raises(ValueError, match="conclusions"):
        Claim(**{**base, "conclusions": ()})
    with pytest.raises(ValueError, match="profile"):
        Domain(description="d", contains=lambda i: True, instances={"slow": []})
    assert HOLDS_FAST.id == "S.holds~fast" and HOLDS_FAST.variant_of == "S.holds"
    assert HOLDS_FAST.expectation is Expectation.KNOWN_FALSE
    assert HOLDS.summarize is not None and HOLDS_FAST.summarize is None  # not the parent's
    assert HOLDS.params("full")["steps"] == 30 and HOLDS.params("quick")["steps"] == 20
    with pytest.raises(TypeError):
        HOLDS.parameters["steps"] = 1  # type: ignore[index]


def test_registry() -> None:
    reg = Registry(ALL)
    assert [c.id for c in reg.select(["S.holds"])] == ["S.holds", "S.holds~fast", "S.holds~same"]
    assert [c.id for c in reg.select(["S.holds~fast"])] == ["S.holds~fast"]
    with pytest.raises(UsageError, match="unknown claim id 'nope'"):
        reg.select(["nope"])
    with pytest.raises(ValueError, match="twice"):
        Registry([HOLDS, HOLDS])
    # A claim that runs in the full profile only (variants follow it).
    slow = dataclasses.replace(FAILS, id="S.slow", profiles=("full",))
    slow_var = slow.variant("v", "A variant of the slow claim (derived).")
    reg = Registry([HOLDS, slow, slow_var])
    assert [c.id for c in reg.select((), "quick")] == ["S.holds"]
    assert [c.id for c in reg.select((), "full")] == ["S.holds", "S.slow", "S.slow~v"]
    assert [c.id for c in reg.skipped("quick")] == ["S.slow", "S.slow~v"]
    with pytest.raises(UsageError, match="S.slow runs in the full profile only"):
        reg.select(["S.slow"], "quick")
    with pytest.raises(ValueError, match="profile"):
        dataclasses.replace(HOLDS, profiles=("nightly",))
    with pytest.raises(ValueError, match="not a registered claim"):
        Registry([HOLDS_FAST])
    # The real registry: every claim has at least one known-false variant and a paper reference.
    real = registry.load()
    for claim in real:
        if not claim.is_variant:
            assert claim.paper_ref.strip(), f"{claim.id} has no paper reference"
            assert real.variants_of(claim.id), f"{claim.id} has no known-false variant"


# ---------------------------------------------------------------- verdicts and evidence


def test_holds_with_exploration_kept_apart() -> None:
    result = verify_claim(HOLDS, options())
    assert result.verdict is Verdict.PASS and result.matches_expectation
    # a = 50 lies beyond the hypotheses and fails: reported as exploration, not blended in.
    assert [r.instance for r in result.beyond] == [{"a": 50.0}]
    assert result.exploration_verdict is Verdict.FAIL
    assert all(r.in_hypotheses for r in result.inside)
    assert len(result.inside) >= 2 + 1  # the grid plus at least one searched instance
    first = result.inside[0]
    assert first.checks[0].name == "decays" and first.checks[0].holds is True
    assert list(first.trajectory.columns) == ["tau", "x"] and len(first.trajectory) == 21
    assert first.rates == {"log_rate": math.log(0.5)}
    assert result.metrics["instances_inside"] == len(result.inside)
    assert result.metrics["worst_final"] == max(r.metrics["final"] for r in result.inside)
    assert result.counterexample is None


def test_known_false_variant_rejected_and_same_variant_not() -> None:
    fast = verify_claim(HOLDS_FAST, options())
    assert fast.verdict is Verdict.FAIL and fast.matches_expectation
    assert fast.counterexample is not None and fast.counterexample.trajectory is not None
    same = verify_claim(HOLDS_SAME, options())
    assert same.verdict is Verdict.PASS and not same.matches_expectation


def test_inconclusive_and_error() -> None:
    undecided = verify_claim(UNDECIDED, options())
    assert undecided.verdict is Verdict.INCONCLUSIVE and not undecided.matches_expectation
    assert "undecided: limit (horizon)" in undecided.reason
    raised = verify_claim(RAISES, options())
    assert raised.verdict is Verdict.ERROR and not raised.matches_expectation
    only = raised.inside[0]
    assert "RuntimeError in run: engine exploded" in only.reason
    assert "Traceback" in only.traceback and "run_raises" in only.traceback


def test_not_applicable_is_neither_pass_nor_fail() -> None:
    """A conclusion that does not concern an instance is listed as n/a and never counted as a
    pass: an instance whose every conclusion is n/a decides nothing (inconclusive)."""
    def kind_only(kind: str, holds: bool) -> Predicate:
        return Predicate(f"{kind}_ok", "x", lambda o, p: holds if o.metrics["kind"] == kind
                         else (NOT_APPLICABLE, "other kind"))

    def make(*conclusions: Predicate) -> Claim:
        return Claim(id="S.na", paper_ref="synthetic", regime="any",
                     statement_md="x (derived)",
                     hypotheses=Domain(description="all", contains=lambda i: True,
                                       instances={"quick": [{"kind": "a"}]}),
                     conclusions=conclusions, run=lambda i, p: InstanceOutcome(metrics=dict(i)))

    mixed = verify_claim(make(kind_only("a", True), kind_only("b", True)), options())
    only = mixed.inside[0]
    assert mixed.verdict is Verdict.PASS
    assert [c.holds for c in only.checks] == [True, NOT_APPLICABLE]
    assert "all 1 applicable conclusions hold (1 not applicable: b_ok)" in only.reason
    moot = verify_claim(make(kind_only("b", True), kind_only("c", False)), options())
    assert moot.verdict is Verdict.INCONCLUSIVE
    assert "no conclusion applies" in moot.inside[0].reason
    typo = verify_claim(make(Predicate("typo", "x", lambda o, p: "na")), options())
    assert typo.verdict is Verdict.ERROR and "NOT_APPLICABLE" in typo.reason


def test_guards_and_the_reading_behind_inside_in_the_reasons() -> None:
    """A guard (an evidence check) is True or undecided, never a violation; a domain's caveat
    and membership sentence (what 'inside' rests on) reach the claim's and instances' reasons."""
    def make(guard: Predicate) -> Claim:
        return Claim(
            id="S.guard", paper_ref="synthetic", regime="any", statement_md="x (derived)",
            hypotheses=Domain(description="a <= 1 (C = 1 is our reading)",
                              contains=lambda i: i["a"] <= 1,
                              instances={"quick": [{"a": 0.5}, {"a": 2.0}]},
                              caveat="inside = a <= 1 under the suite's constant C = 1",
                              membership=lambda i: f"a = {i['a']:g} vs C = 1"),
            conclusions=(guard, Predicate("ok", "x", lambda o, p: True)),
            run=lambda i, p: InstanceOutcome(metrics=dict(i)))

    sound = verify_claim(make(Predicate("accurate", "x", lambda o, p: True, guard=True)),
                         options())
    assert sound.verdict is Verdict.PASS
    assert sound.reason.endswith("(inside = a <= 1 under the suite's constant C = 1)")
    assert sound.inside[0].reason.endswith("[a = 0.5 vs C = 1]")
    assert sound.beyond[0].reason.endswith("[a = 2 vs C = 1]")
    unsound = verify_claim(make(Predicate("accurate", "x", lambda o, p: None, guard=True)),
                           options())
    assert unsound.verdict is Verdict.INCONCLUSIVE
    assert "C = 1" in unsound.reason
    broken = verify_claim(make(Predicate("accurate", "x", lambda o, p: False, guard=True)),
                          options())
    assert broken.verdict is Verdict.ERROR and "guard 'accurate' returned False" in broken.reason


@pytest.mark.parametrize(
    ("outcome", "message"),
    [
        ({"n": 1}, "not InstanceOutcome"),
        (InstanceOutcome(trajectory=[1, 2]), "not a DataFrame"),  # type: ignore[arg-type]
        (InstanceOutcome(metrics={"obj": object()}), "not JSON-able"),
    ],
)
def test_malformed_outcome_is_an_error(outcome: Any, message: str) -> None:
    claim = Claim(
        id="S.malformed",
        paper_ref="synthetic",
        regime="any",
        statement_md="x (derived)",
        hypotheses=UNDECIDED.hypotheses,
        conclusions=RAISES.conclusions,
        run=lambda i, p: outcome,
    )
    result = verify_claim(claim, options())
    assert result.verdict is Verdict.ERROR and message in result.reason


def test_no_instance_inside_is_inconclusive() -> None:
    claim = Claim(
        **{
            **{
                f: getattr(HOLDS, f)
                for f in ("paper_ref", "regime", "statement_md", "conclusions", "run", "parameters")
            },
            "id": "S.beyond",
            "hypotheses": Domain(
                description="a <= 1",
                contains=lambda i: i["a"] <= 1,
                instances={"quick": [{"a": 5.0}]},
            ),
        }
    )
    result = verify_claim(claim, options())
    assert result.verdict is Verdict.INCONCLUSIVE and len(result.beyond) == 1
    assert result.reason == "no instance inside the hypotheses was checked"


# ---------------------------------------------------------------- shrinking and replay


def test_search_shrinks_and_replays(tmp_path: Path) -> None:
    db = tmp_path / "db"
    result = verify_claim(FAILS, options(examples_dir=db))
    assert result.verdict is Verdict.FAIL
    assert result.search is not None and result.search.counterexample is not None
    assert result.search.counterexample.instance == {"x": 8}  # the minimal failing integer
    assert result.counterexample.instance == {"x": 8}
    assert "minimal counterexample" in result.reason
    assert result.search.database == str(db) and any(db.rglob("*"))

    # Replay only (no generation): the saved example alone reproduces the minimal failure.
    replay = verify_claim(FAILS, options(examples_dir=db, replay_only=True))
    assert replay.search.counterexample.instance == {"x": 8}
    assert replay.search.examples == 1 and not replay.search.shrink_budget_exhausted
    fresh = verify_claim(FAILS, options(examples_dir=tmp_path / "empty", replay_only=True))
    assert fresh.search.counterexample is None and fresh.verdict is Verdict.PASS


def test_shrink_budget_bounds_the_search() -> None:
    hypotheses = FAILS.hypotheses
    capped = dataclasses.replace(
        FAILS, id="S.capped", hypotheses=dataclasses.replace(hypotheses, max_shrinks=0)
    )
    result = verify_claim(capped, options(seed=3))
    example = result.search.counterexample
    assert result.verdict is Verdict.FAIL and example.verdict is Verdict.FAIL
    assert example.instance["x"] ** 2 >= 50  # a genuine counterexample, maybe not the minimal one
    assert result.search.falsifying_seen == 1 and result.search.shrink_budget_exhausted


def test_derandomized_search_is_reproducible(tmp_path: Path) -> None:
    seen = []
    for _ in range(2):
        result = verify_claim(HOLDS, options(derandomize=True, examples_dir=tmp_path / "db"))
        assert result.search.database is None and result.search.derandomized
        seen.append([r.instance for r in result.inside if r.source == "search"])
    assert seen[0] == seen[1] and seen[0]
    assert not (tmp_path / "db").exists()


def test_refused_draws_are_counted() -> None:
    """Draws outside the hypotheses and draws `searchable` refuses are not evaluated, and the
    summary (and its JSON) counts each kind."""
    hypotheses = dataclasses.replace(
        HOLDS.hypotheses,
        strategy=st.fixed_dictionaries({"a": st.floats(0, 2)}),
        searchable=lambda i: i["a"] <= 0.5,
        search_examples={"quick": 40},
    )
    claim = dataclasses.replace(HOLDS, id="S.refusing", hypotheses=hypotheses)
    result = verify_claim(claim, options(derandomize=True))
    searched = [r.instance["a"] for r in result.inside if r.source == "search"]
    assert searched and all(a <= 0.5 for a in searched)
    summary = result.search
    assert summary.skipped_outside > 0 and summary.skipped_unsearchable > 0
    assert summary.to_json()["skipped_unsearchable"] == summary.skipped_unsearchable


def test_strategy_outside_hypotheses_is_an_error() -> None:
    bad = Claim(
        **{
            **{
                f: getattr(HOLDS, f)
                for f in ("paper_ref", "regime", "statement_md", "conclusions", "run", "parameters")
            },
            "id": "S.badstrategy",
            "hypotheses": Domain(
                description="a <= 1",
                contains=lambda i: i["a"] <= 1,
                instances={},
                strategy=st.just({"a": 7.0}),
            ),
        }
    )
    result = verify_claim(bad, options())
    assert result.verdict is Verdict.ERROR and "no instance inside" in result.reason


# ---------------------------------------------------------------- cache


def test_cache_hits_bypass_and_corruption(tmp_path: Path) -> None:
    cache = ResultsCache(tmp_path / "c")
    first = evaluate(HOLDS, {"a": 0.5}, HOLDS.params("quick"), cache)
    assert CALLS["decay"] == 1 and not first.cached
    again = evaluate(HOLDS, {"a": 0.5}, HOLDS.params("quick"), cache)
    assert CALLS["decay"] == 1 and again.cached
    assert again.verdict is first.verdict and again.metrics == first.metrics
    pd.testing.assert_frame_equal(again.trajectory, first.trajectory)
    # Other parameters are another key; no cache recomputes.
    evaluate(HOLDS, {"a": 0.5}, {**HOLDS.params("quick"), "tol": 1.0}, cache)
    evaluate(HOLDS, {"a": 0.5}, HOLDS.params("quick"), None)
    assert CALLS["decay"] == 3

    # A variant with the same run and parameters shares the cached outcome (judged afresh).
    same = evaluate(HOLDS_SAME, {"a": 0.5}, HOLDS.params("quick"), cache)
    assert CALLS["decay"] == 3 and same.cached and same.metrics == first.metrics

    entry = cache.path(result_key(HOLDS, {"a": 0.5}, HOLDS.params("quick")))
    data = entry.read_bytes()
    body = data.index(b"\n") + 1
    entry.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # one bit flipped: checksum now wrong
    tampered = evaluate(HOLDS, {"a": 0.5}, HOLDS.params("quick"), cache)
    assert CALLS["decay"] == 4 and not tampered.cached and tampered.verdict is Verdict.PASS
    assert isinstance(cache.get(result_key(HOLDS, {"a": 0.5}, HOLDS.params("quick"))), bytes)
    for broken in (b"garbage", data[: body + 10]):  # not an entry; truncated
        entry.write_bytes(broken)
        assert not evaluate(HOLDS, {"a": 0.5}, HOLDS.params("quick"), cache).cached
    assert CALLS["decay"] == 6


def test_cache_key_covers_precision() -> None:
    params = HOLDS.params("quick")
    with mpmath.workprec(200):
        high = result_key(HOLDS, {"a": 0.5}, params)
    assert high != result_key(HOLDS, {"a": 0.5}, params)
    assert result_key(HOLDS, {"a": 0.5}, params) == result_key(HOLDS, {"a": 0.5}, dict(params))


def test_errors_are_not_cached(tmp_path: Path) -> None:
    cache = ResultsCache(tmp_path / "c")
    evaluate(RAISES, {"n": 1}, {}, cache)
    assert not list((tmp_path / "c").rglob("*.entry"))
    evaluate(HOLDS, {"a": 0.5}, HOLDS.params("quick"), cache)
    assert len(list((tmp_path / "c").rglob("*.entry"))) == 1


# ---------------------------------------------------------------- command line


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of `scoreclaims argv` run in-process."""
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse errors
        code = int(exc.code)
    out, err = capsys.readouterr()
    return code, out, err


def test_verify_exit_codes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_claims(monkeypatch, *ALL)
    code, out, _ = run_cli(capsys, "verify", "S.holds~fast", "S.fails")
    assert code == 1  # S.fails is expected to hold and fails
    assert "MISMATCH  S.fails" in out and "ok        S.holds~fast" in out
    assert run_cli(capsys, "verify", "S.holds~fast")[0] == 0
    assert run_cli(capsys, "verify", "S.holds~same")[0] == 1  # unexpected pass of a variant
    assert run_cli(capsys, "verify", "S.undecided")[0] == 1
    assert run_cli(capsys, "verify", "S.raises")[0] == 1


def test_verify_json_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_claims(monkeypatch, *ALL)
    out_file = tmp_path / "results.json"
    code, _, _ = run_cli(
        capsys, "verify", "S.holds", "S.raises", "--json", str(out_file), "--seed", "7"
    )
    assert code == 1
    doc = json.loads(out_file.read_text(), parse_constant=lambda c: pytest.fail(f"non-JSON {c}"))
    env = doc["environment"]
    assert env["profile"] == "quick" and env["seeds"] == {"hypothesis": 7, "derandomized": False}
    assert env["precision"]["mpmath_backend"] and env["versions"]["numpy"]
    assert env["command_line"] and env["code_version"]
    assert env["git"] is None or len(env["git"]["commit"]) == 40
    assert env["executor"] == {"kind": "in-process", "workers": 0}
    assert doc["summary"]["mismatched"] == ["S.holds~same", "S.raises"]
    assert doc["summary"]["exit_status"] == 1 and doc["summary"]["budget_s"] == 300
    by_id = {c["id"]: c for c in doc["claims"]}
    assert list(by_id) == ["S.holds", "S.holds~fast", "S.holds~same", "S.raises"]
    holds = by_id["S.holds"]
    for key in ("id", "verdict", "expected", "in_hypotheses", "metrics", "instances"):
        assert key in holds
    assert holds["verdict"] == "pass" and holds["expected"] == "holds"
    assert holds["in_hypotheses"]["verdict"] == "pass"
    assert holds["exploration"] == {
        "verdict": "fail",
        "instances": 1,
        "counts": {"pass": 0, "fail": 1, "inconclusive": 0, "error": 0},
    }
    instance = holds["instances"][0]
    assert instance["instance"] == {"a": 0.1} and instance["in_hypotheses"] is True
    assert instance["predicates"]["decays"]["holds"] is True
    assert instance["metrics"]["blowup"] == "inf"
    assert instance["trajectory"][0] == {"tau": 0, "x": 0.1} and instance["trajectory_rows"] == 21
    assert instance["wall_time_s"] >= 0 and holds["wall_time_s"] >= 0
    fast = by_id["S.holds~fast"]
    assert fast["verdict"] == "fail" and fast["expected"] == "known-false"
    assert fast["matches_expectation"] and fast["counterexample"]["trajectory"]
    assert "(reported" in fast["statement_md"]
    assert "Traceback" in by_id["S.raises"]["instances"][0]["traceback"]


def test_cached_rerun_is_marked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_claims(monkeypatch, UNDECIDED, FAILS)
    run_cli(capsys, "verify", "--derandomize")
    calls = CALLS["square"]
    run_cli(capsys, "verify", "--derandomize", "--json", "again.json")
    assert CALLS["square"] == calls  # every instance came from the cache
    doc = json.loads(Path("again.json").read_text())
    fails = doc["claims"][1]
    assert fails["metrics"]["cached_instances"] == len(fails["instances"]) > 0
    assert fails["search"]["shrunk_counterexample"] == {"x": 8}
    run_cli(capsys, "verify", "--derandomize", "--no-cache")
    assert CALLS["square"] > calls


def test_ci_runs_are_derandomized(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_claims(monkeypatch, FAILS)
    monkeypatch.setenv("CI", "true")
    assert run_cli(capsys, "verify", "--json", "ci.json")[0] == 1
    env = json.loads(Path("ci.json").read_text())["environment"]
    assert env["seeds"]["derandomized"] and env["example_database"] is None
    assert not Path("examples").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["verify", "T9.9"], "unknown claim id 'T9.9'"),
        (["verify", "--profile", "slow"], "invalid choice: 'slow'"),
        (["verify", "--json", "missing/dir/out.json"], "does not exist"),
        (["verify", "--json", "."], "is a directory"),
    ],
)
def test_usage_errors(
    argv: list[str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_claims(monkeypatch, *ALL)
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert CALLS == {} and not any(Path().rglob("*.json"))  # nothing ran, nothing written


def test_verify_skips_claims_outside_the_profile(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_claims(monkeypatch, HOLDS, dataclasses.replace(FAILS, profiles=("full",)))
    code, out, _ = run_cli(capsys, "verify", "--json", "q.json")
    assert code == 0 and "not in the quick profile (skipped): S.fails" in out
    doc = json.loads(Path("q.json").read_text())
    assert [c["id"] for c in doc["claims"]] == ["S.holds"]
    assert doc["environment"]["skipped_claims"] == ["S.fails"]
    code, _, err = run_cli(capsys, "verify", "S.fails")
    assert code == 2 and "runs in the full profile only" in err


def test_report_option(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    use_claims(monkeypatch, UNDECIDED)
    calls = []
    monkeypatch.setattr(render, "write_report", lambda results, out: calls.append((results, out)))
    assert run_cli(capsys, "verify", "--report", "rep")[0] == 1  # S.undecided does not pass
    assert calls == [(str(Path("rep") / "results.json"), "rep")]
    assert json.loads(Path("rep/results.json").read_text())["claims"][0]["id"] == "S.undecided"


def test_list(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    use_claims(monkeypatch, HOLDS, HOLDS_FAST)
    code, out, _ = run_cli(capsys, "list")
    assert code == 0 and "S.holds~fast" in out and "known-false" in out
    code, out, _ = run_cli(capsys, "list", "--json")
    listed = json.loads(out)["claims"]
    assert [c["id"] for c in listed] == ["S.holds", "S.holds~fast"]
    assert listed[0]["grid_instances"] == {"quick": 3, "full": 1}
    assert listed[1]["variant_of"] == "S.holds" and listed[1]["parameters"]["tol"] == 1e-9


EMPTY_REGISTRY_CLI = (
    "import sys; import scoreclaims.claims.registry as r; r.pack_modules = lambda: (); "
    "from scoreclaims.claims.cli.main import main; sys.exit(main(sys.argv[1:]))"
)


def test_empty_registry_end_to_end(tmp_path: Path) -> None:
    for argv in (["list"], ["verify", "--json", "out.json"]):
        proc = subprocess.run(
            [sys.executable, "-c", EMPTY_REGISTRY_CLI, *argv],
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )
        assert proc.returncode == 0 and "No claims are registered yet" in proc.stdout
    doc = json.loads((tmp_path / "out.json").read_text())
    assert doc["claims"] == [] and doc["summary"]["exit_status"] == 0


def test_console_script_lists_the_real_registry(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("scoreclaims")
    proc = subprocess.run(
        [str(script), "list", "--json"], capture_output=True, text=True, cwd=tmp_path
    )
    assert proc.returncode == 0
    assert [c["id"] for c in json.loads(proc.stdout)["claims"]] == [c.id for c in registry.load()]


# ---------------------------------------------------------------- progress, thinning


def test_progress_quiet_off_terminal_and_drawn_on_one() -> None:
    quiet = StringIO()
    with Progress(3, stream=quiet, delay=0, interval=0.01) as progress:
        progress.update("S.holds: instance 1/3")
    assert quiet.getvalue() == "" and not progress.enabled

    loud = StringIO()
    with Progress(3, stream=loud, delay=0, interval=0.01, enabled=True) as progress:
        progress.update("S.holds: instance 1/3", done=1)
        for _ in range(3000):  # wait for the first redraw (the thread ticks every 10 ms)
            if "[1/3] S.holds: instance 1/3" in loud.getvalue():
                break
            time.sleep(0.01)
    assert "[1/3] S.holds: instance 1/3" in loud.getvalue()
    assert loud.getvalue().endswith("\r\x1b[K")  # the status line is cleared at the end


def test_thinning_keeps_ends_and_bound() -> None:
    assert thin_indices(10) == list(range(10))
    rows = thin_indices(100_000)
    assert rows[0] == 0 and rows[-1] == 99_999 and len(rows) <= MAX_TRAJECTORY_ROWS + 2
    assert rows == sorted(set(rows)) and {1, 2, 3} <= set(rows)  # dense at the start (log-spaced)


# ---------------------------------------------------------------- pytest plugin


def test_pytest_plugin_items(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    use_claims(monkeypatch, HOLDS, HOLDS_FAST, HOLDS_SAME, FAILS)
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")
    result = pytester.runpytest_inprocess(
        "--claims", "quick", "-p", "no:cacheprovider", "--junitxml=junit.xml", "-rA"
    )
    result.assert_outcomes(passed=3, failed=2)
    result.stdout.fnmatch_lines(
        [
            "S.holds~same: a known-false variant, but its verdict is pass (expected fail)*",
            "S.fails: verdict fail (expected pass)*",
            "PASSED scoreclaims::S.holds",
            "PASSED scoreclaims::S.holds~fast",
            "FAILED scoreclaims::S.holds~same*",
            "FAILED scoreclaims::S.fails*",
        ]
    )
    junit = (pytester.path / "junit.xml").read_text()
    assert 'errors="0"' in junit and 'skipped="0"' in junit and 'failures="2"' in junit
    assert 'name="S.holds~fast"' in junit and '<property name="expected" value="known-false"' \
        in junit


def test_pytest_plugin_undecidable_register(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A claim registered as undecidable passes only while it stays inconclusive."""
    register = {"expectation": Expectation.UNDECIDABLE}
    undecidable = dataclasses.replace(UNDECIDED, id="S.undecidable", **register)
    decided = dataclasses.replace(HOLDS, id="S.decided", **register)
    use_claims(monkeypatch, undecidable, decided)
    result = pytester.runpytest_inprocess("--claims", "quick", "-p", "no:cacheprovider", "-rA")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*S.decided: registered as undecidable, but the verdict is pass*",
                                 "PASSED scoreclaims::S.undecidable"])


def test_pytest_plugin_error_in_known_false_variant_fails(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = RAISES.variant("broken", "A variant whose run crashes (derived).")
    use_claims(monkeypatch, RAISES, broken)
    result = pytester.runpytest_inprocess("--claims", "quick", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)  # an error never matches an expectation
    result.stdout.fnmatch_lines(["S.raises~broken: a known-false variant, but its verdict is "
                                 "error (expected fail)*engine exploded", "Traceback*"])


def test_pytest_plugin_idle_without_option(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_claims(monkeypatch, HOLDS)
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert CALLS == {}


def test_an_expectation_per_profile() -> None:
    """A claim the full grid cannot decide is registered undecidable there and holds elsewhere:
    the full run's inconclusive verdict matches, the same verdict in quick does not; the results
    file, the JUnit output and `list` say which expectation applied."""
    from scoreclaims.claims.cli.ci_outputs import junit_xml
    from scoreclaims.claims.cli.verify import describe

    split = dataclasses.replace(UNDECIDED, id="S.split", expectation=Expectation.HOLDS,
                                profile_expectations={"full": "undecidable"})
    assert split.expectation_in("full") is Expectation.UNDECIDABLE
    assert split.expectation_in("quick") is Expectation.HOLDS
    assert split.expectation_text() == "holds (full: undecidable)"
    full = verify_claim(split, options(profile="full"))
    quick = verify_claim(split, options(profile="quick"))
    assert full.verdict is quick.verdict is Verdict.INCONCLUSIVE
    assert full.matches_expectation and not quick.matches_expectation
    assert full.to_json()["expected"] == "undecidable" and quick.to_json()["expected"] == "holds"
    assert "<failure" not in junit_xml([full], "full", 0.0)
    assert "<failure" in junit_xml([quick], "quick", 0.0)
    assert describe(split)["profile_expectations"] == {"full": "undecidable"}
    assert split.variant("v", "v (derived)").profile_expectations == {}
    for bad in ({"slow": "holds"}, {"full": "known-false"}):
        with pytest.raises(ValueError, match="profile_expectations"):
            dataclasses.replace(split, profile_expectations=bad)
