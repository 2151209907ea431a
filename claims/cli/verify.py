"""``scoreclaims list`` and ``scoreclaims verify``.

Exit status of ``verify``: 0 when every verdict matches its expectation (a claim that holds must
pass; a known-false variant must fail; a claim registered as undecidable must be inconclusive;
error never matches), 1 otherwise, 2 for a usage error (unknown id or profile, an output that
cannot be written, bad ``--workers``, ``--scheduler`` without the Dask extra or unreachable),
detected before anything runs, 130 when interrupted (Ctrl-C or SIGTERM: the workers are stopped;
every instance finished so far is in the cache).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

from scoreclaims.claims import registry
from scoreclaims.claims._run.cache import ResultsCache
from scoreclaims.claims._run.executors import default_workers, make_executor, parse_workers
from scoreclaims.claims._run.scheduler import COMPUTED, RECOMPUTED_CORRUPT, REUSED
from scoreclaims.claims.cli.ci_outputs import write_github, write_junit
from scoreclaims.claims.cli.engine import add_backend_option
from scoreclaims.claims.cli.progress import Progress
from scoreclaims.claims.cli.terminal import fold, plain, shorten, sigterm_interrupts, width
from scoreclaims.claims.evidence import ClaimResult, jsonable
from scoreclaims.claims.model import PROFILE_BUDGET_S, PROFILES, Claim
from scoreclaims.claims.options import RunOptions, ci_requested
from scoreclaims.claims.results import environment, results_document, write_results
from scoreclaims.claims.runner import verify
from scoreclaims.claims.verdict import Verdict, exit_status
from scoreclaims.reports.schema import validate
from scoreclaims.verifiers.atomic import check_creatable_dir, check_writable
from scoreclaims.verifiers.backend import set_backend
from scoreclaims.verifiers.errors import UsageError

NO_CLAIMS = (
    "No claims are registered yet (no claim pack in the entry-point group scoreclaims.claims): "
    "nothing to {what}."
)


def register(subparsers: Any) -> None:
    lister = subparsers.add_parser(
        "list", help="list the registered claims and known-false variants"
    )
    shape = lister.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="print the list as JSON")
    shape.add_argument("--markdown", action="store_true",
                       help="print every claim whole (statement, hypotheses, conclusions, "
                       "parameters) as markdown: docs/claims.md is this output")
    lister.add_argument(
        "--conclusions", action="store_true",
        help="the register of witnesses: every conclusion of every claim with the outcomes and "
        "known-false variants that make it fail (a guard: undecided); constructed outcomes are "
        "judged now; exit 1 when a conclusion has no witness or a witness does not make it fail")
    lister.add_argument(
        "--results", metavar="FILE",
        help="with --conclusions: also check the known-false-variant witnesses against this "
        "results file (e.g. docs/report/results.json)")
    lister.set_defaults(func=cmd_list)

    verifier = subparsers.add_parser(
        "verify",
        help="verify claims; exit 0 when every verdict matches its expectation, else 1",
        description="Verify claims. A claim id also selects its known-false variants. Exit status: "
        "0 when every verdict matches its expectation (holds -> pass, known-false -> fail, "
        "undecidable -> inconclusive; error never matches), 1 otherwise, 2 for a usage error, "
        "130 when interrupted (Ctrl-C, SIGTERM; finished instances stay in the cache).",
    )
    verifier.add_argument("ids", nargs="*", metavar="ID", help="claim ids (default: all)")
    verifier.add_argument("--profile", choices=PROFILES, default="quick", help="default: quick")
    verifier.add_argument("--json", dest="json_path", metavar="FILE",
                          help="write the results JSON to FILE ('-': standard output, and the "
                          "progress lines go to standard error)")
    verifier.add_argument("--junit", metavar="FILE",
                          help="write a JUnit XML file: one testcase per claim, passed when its "
                          "verdict matches its expectation (a rejected known-false variant "
                          "passes), the reason as the message")
    verifier.add_argument("--github", action="store_true",
                          help="GitHub Actions output: an ::error annotation per mismatch, and a "
                          "markdown summary appended to $GITHUB_STEP_SUMMARY")
    verifier.add_argument("--no-cache", action="store_true", help="recompute every instance")
    add_backend_option(verifier)
    verifier.add_argument("--report", metavar="DIR", help="render a report into DIR")
    verifier.add_argument(
        "--derandomize",
        action="store_true",
        help="fixed hypothesis seeds, no example database (the default when $CI is set)",
    )
    verifier.add_argument(
        "--seed",
        type=int,
        help="hypothesis seed for reproducible generation (no example database); default: random, "
        "with failures saved to and replayed from .scoreclaims/examples",
    )
    verifier.add_argument(
        "--workers",
        metavar="N",
        help="run instances on a local pool of N worker processes; 0 runs them in this process "
        "(default: $SCORECLAIMS_WORKERS, else the number of cores); results are identical "
        "whatever N",
    )
    verifier.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="run instances on the Dask cluster of this scheduler instead (optional extra: "
        "pip install 'scoreclaims[dask]')",
    )
    verifier.set_defaults(func=cmd_verify)


def describe(claim: Claim) -> dict[str, Any]:
    """A claim's static description (what ``list --json`` prints)."""
    domain = claim.hypotheses
    return {
        "id": claim.id,
        "paper_ref": claim.paper_ref,
        "regime": claim.regime,
        "expected": claim.expectation.value,
        "profile_expectations": {k: v.value for k, v in claim.profile_expectations.items()},
        "variant_of": claim.variant_of,
        "statement_md": claim.statement_md,
        "hypotheses": domain.description,
        "conclusions": {p.name: p.description for p in claim.conclusions},
        "parameters": jsonable(claim.parameters),
        "profile_parameters": jsonable(claim.profile_parameters),
        "grid_instances": {p: len(domain.grid(p)) for p in PROFILES},
        "search_examples": {p: domain.examples(p) for p in PROFILES},
    }


def markdown(claims: list[Claim]) -> str:
    """Every claim whole, as the page docs/claims.md."""
    out = ["# The claims", "",
           "Generated by `scoreclaims list --markdown` from the registered claims (a test keeps "
           "this page equal to that output). Provenance marks: **(reported)** from the public "
           "summary of the paper (constants may be off), **(derived)** worked out and checked "
           "by the suite's authors. The paper's statements as reconstructed: "
           "[paper.md](paper.md). Verdicts and evidence: [report/REPORT.md](report/REPORT.md).",
           ""]
    for c in claims:
        kind = (f"known-false variant of `{c.variant_of}`" if c.is_variant
                else f"{c.paper_ref}, {c.regime}")
        out += [f"## `{c.id}`: {kind}", "", f"Expected: **{c.expectation.value}**"
                + "".join(f" (in the {p} profile: **{e.value}**)"
                          for p, e in c.profile_expectations.items())
                + ("" if PROFILES == c.profiles else f"; runs in the {'/'.join(c.profiles)} "
                   "profile only") + ".", "", c.statement_md.strip(), "",
                f"Hypotheses: {c.hypotheses.description}", "", "Conclusions:", ""]
        out += [f"- `{p.name}`: {p.description}" for p in c.conclusions]
        grid = ", ".join(f"{p} {len(c.hypotheses.grid(p))} grid + {c.hypotheses.examples(p)} "
                         "search" for p in PROFILES)
        out += ["", f"Instances: {grid}. Parameters: `{json.dumps(jsonable(c.parameters))}`",
                ""]
    return "\n".join(out)


def conclusions_register(known: registry.Registry, results: dict[str, Any] | None
                         ) -> tuple[list[dict[str, Any]], int]:
    """Every conclusion with its witnesses, each checked (`witness.check`); and how many
    conclusions lack a verified witness or have a witness that does not make them fail."""
    from scoreclaims.claims import witness as wit

    rows, bad = [], 0
    for entry in wit.register(known, known.witnesses):
        checked = [wit.check(known, w, results) for w in entry.witnesses]
        broken = [v for v in checked if v.ok is False]
        covered = any(v.ok for v in checked)
        bad += bool(broken) or not covered
        rows.append({
            "claim": entry.claim.id, "conclusion": entry.predicate.name,
            "guard": entry.predicate.guard, "description": entry.predicate.description,
            "covered": covered,
            "witnesses": [{"kind": v.witness.kind, "from": v.witness.claim,
                           "variant": v.witness.variant, "why": v.witness.why,
                           "verified": v.ok, "detail": v.detail} for v in checked]})
    for w in wit.orphans(known, known.witnesses):
        bad += 1
        rows.append({"claim": w.claim, "conclusion": w.predicate, "guard": False,
                     "description": "NOT REGISTERED (a witness for an unknown conclusion)",
                     "covered": False, "witnesses": []})
    return rows, bad


def _print_register(rows: list[dict[str, Any]], bad: int) -> None:
    for row in rows:
        label = "guard" if row["guard"] else "conclusion"
        status = "" if row["covered"] else "  <- NO VERIFIED WITNESS"
        print(f"{row['claim']}  {row['conclusion']}  ({label}){status}")
        fails = "undecided" if row["guard"] else "False"
        mark = {True: f"{fails}: ok", False: f"NOT {fails}",
                None: "not checked (no results file: --results FILE)"}
        for w in row["witnesses"]:
            source = ("constructed outcome" if w["kind"] == "outcome"
                      else f"known-false variant {w['variant']}")
            if w["from"] != row["claim"]:
                source += f" (registered for {w['from']})"
            print(fold(f"- {source}: {' '.join(w['why'].split())} -> {mark[w['verified']]}", 4))
    guards = sum(r["guard"] for r in rows)
    print(f"({len(rows)} conclusions of {len({r['claim'] for r in rows})} claims, {guards} of "
          f"them guards; {bad} without a verified witness or with one that does not fail)")


def cmd_list(args: argparse.Namespace) -> int:
    if args.conclusions:
        results = None
        if args.results:
            try:
                results = json.loads(Path(args.results).read_text())
            except (OSError, ValueError) as exc:
                raise UsageError(f"cannot read results file {args.results}: {exc}") from None
        rows, bad = conclusions_register(registry.load(), results)
        if args.json:
            print(json.dumps({"conclusions": jsonable(rows), "unwitnessed": bad}, indent=1))
        else:
            _print_register(rows, bad)
        return 1 if bad else 0
    if args.results:
        raise UsageError("--results goes with --conclusions")
    claims = list(registry.load())
    if args.json:
        print(json.dumps({"claims": [describe(c) for c in claims]}, indent=1))
        return 0
    if args.markdown:
        print(markdown(claims), end="")
        return 0
    if not claims:
        print(NO_CLAIMS.format(what="list"))
        return 0
    rows = [(c.id, c.expectation_text(), shorten(c.paper_ref, 18), shorten(c.regime, 14),
             "/".join(f"{len(c.hypotheses.grid(p))}+{c.hypotheses.examples(p)}" for p in PROFILES),
             plain(c.statement_md)) for c in claims]
    head = ("ID", "EXPECTED", "PAPER", "REGIME", "QUICK/FULL", "STATEMENT")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(5)]
    offset = sum(widths) + 2 * 5
    room = max(30, width() - offset)
    for row in [head, *rows]:
        cells = [cell.ljust(w) for cell, w in zip(row[:5], widths, strict=True)]
        text = textwrap.wrap(row[5], room, break_long_words=False, max_lines=2,
                             placeholder=" ...") or [""]
        print("  ".join([*cells, text[0]]).rstrip())
        for more in text[1:]:
            print(" " * offset + more)
    print("(instances per profile: grid + hypothesis search examples; whole statements: "
          "`scoreclaims list --json`)")
    return 0


def _check_report_dir(path: str) -> Path:
    return check_creatable_dir(path)


def instances_line(counts: dict[str, int], cached: bool) -> str:
    """How the run's instances were had: from the cache, computed, recomputed (corrupt entry)."""
    total = sum(counts.values())
    if not cached:
        return f"instances: {total} computed (cache not used)"
    return (f"instances: {counts.get(REUSED, 0)} reused from the cache, "
            f"{counts.get(COMPUTED, 0)} computed, "
            f"{counts.get(RECOMPUTED_CORRUPT, 0)} recomputed because their entry was corrupt")


def _line(result: ClaimResult) -> str:
    claim = result.claim
    status = "ok" if result.matches_expectation else "MISMATCH"
    beyond = ""
    if result.beyond:
        beyond = f", {len(result.beyond)} beyond (exploration: {result.exploration_verdict})"
    line = (
        f"{status:<8}  {claim.id:<18}  {result.verdict.value:<12}  "
        f"expected {result.expectation.expected_verdict.value:<4}  "
        f"{len(result.inside)} inside{beyond}  {result.wall_time_s:.1f} s"
    )
    if not result.matches_expectation or result.verdict is not Verdict.PASS:
        line += "\n" + fold(plain(result.reason), 10)
    return line


def _executor_choice(args: argparse.Namespace) -> tuple[int, str | None]:
    if args.scheduler is not None and args.workers is not None:
        raise UsageError("--workers and --scheduler exclude each other (Dask has its own workers)")
    if args.scheduler is not None:
        if not args.scheduler.strip():
            raise UsageError("--scheduler needs an address such as tcp://127.0.0.1:8786")
        return 0, args.scheduler
    return (default_workers() if args.workers is None else parse_workers(args.workers)), None


def _hypothesis_files_beside(examples_dir: Path) -> None:
    """Hypothesis keeps its own files (a cache of constants, ...) in ./.hypothesis unless told
    otherwise: keep them with scoreclaims' own, beside the example database."""
    from hypothesis.configuration import set_hypothesis_home_dir

    set_hypothesis_home_dir(examples_dir.parent / "hypothesis")


def _outputs(args: argparse.Namespace) -> tuple[Path | None, Path | None, Path | None]:
    """The results JSON, JUnit and report paths, each checked before anything runs."""
    json_path = None
    if args.json_path and args.json_path != "-":
        json_path = check_writable(args.json_path)
    junit = check_writable(args.junit) if args.junit else None
    report_dir = _check_report_dir(args.report) if args.report else None
    if json_path is not None and report_dir is not None and json_path.resolve() == (
            report_dir / "results.json").resolve():
        json_path = None  # the report folder holds it anyway
    return json_path, junit, report_dir


def cmd_verify(args: argparse.Namespace) -> int:
    known = registry.load()
    claims = known.select(args.ids, args.profile)
    skipped = [] if args.ids else [c.id for c in known.skipped(args.profile)]
    json_path, junit, report_dir = _outputs(args)
    workers, scheduler = _executor_choice(args)
    set_backend(args.backend)
    human = sys.stderr if args.json_path == "-" else sys.stdout  # keep stdout clean JSON

    options = RunOptions(
        profile=args.profile,
        cache=None if args.no_cache else ResultsCache(),
        derandomize=bool(args.derandomize or ci_requested()),
        seed=args.seed,
    )
    _hypothesis_files_beside(options.examples_dir)
    env = environment(options)
    if skipped:
        env["skipped_claims"] = skipped
        print(f"not in the {args.profile} profile (skipped): {', '.join(skipped)}", file=human)
    start = time.perf_counter()
    counts: dict[str, int] = {}
    if not claims:
        print(NO_CLAIMS.format(what="verify"), file=human)
        results: list[ClaimResult] = []
    else:
        with sigterm_interrupts(), make_executor(workers, scheduler) as executor:
            options.executor = executor
            with Progress(len(claims)) as progress:
                options.progress = progress
                results = verify(claims, options,
                                 on_result=lambda r: progress.message(_line(r), human),
                                 counts=counts)
            env["executor"] = executor.describe()
        mismatched = [r.claim.id for r in results if not r.matches_expectation]
        tail = f"; mismatched: {', '.join(mismatched)}" if mismatched else ""
        print(f"{len(results)} claims, {len(results) - len(mismatched)} as expected{tail}",
              file=human)
        print(instances_line(counts, options.cache is not None), file=human)
    elapsed = time.perf_counter() - start
    budget = PROFILE_BUDGET_S[options.profile]
    if elapsed > budget:
        print(
            f"scoreclaims: warning: the {options.profile} profile took {elapsed:.0f} s, "
            f"over its {budget:.0f} s budget",
            file=sys.stderr,
        )
    document = results_document(results, env, elapsed, counts)
    if args.json_path == "-":
        validate(document)
        json.dump(document, sys.stdout, indent=1, allow_nan=False)
        sys.stdout.write("\n")
    if json_path is not None:
        write_results(json_path, document)
    if junit is not None:
        write_junit(junit, results, options.profile, elapsed)
    if report_dir is not None:
        from scoreclaims.reports.render import write_report

        report_dir.mkdir(parents=True, exist_ok=True)
        write_results(report_dir / "results.json", document)
        write_report(os.fspath(report_dir / "results.json"), os.fspath(report_dir))
    if args.github:
        write_github(results, options.profile, sys.stdout)
    sys.stdout.flush()
    return exit_status(r.matches_expectation for r in results)
