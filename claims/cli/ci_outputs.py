"""What a CI system reads from ``scoreclaims verify``: a JUnit XML file (``--junit FILE``) and
GitHub Actions workflow commands with a step summary (``--github``).

JUnit: one testcase per claim, named by its id. A claim passes when its verdict is what its
expectation asks for: a claim that holds must pass, a known-false variant must fail (reported as
a passed testcase, "known-false variant rejected"), a claim registered as undecidable must be
inconclusive. A mismatch is a failure, an error verdict an error; the verdict's reason is the
message, and each testcase carries the expectation and the verdict as properties.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from scoreclaims.claims.evidence import ClaimResult
from scoreclaims.claims.verdict import Expectation, Verdict
from scoreclaims.verifiers.atomic import write_text_atomic

WHAT = {Expectation.HOLDS: "holds", Expectation.KNOWN_FALSE: "known-false variant rejected",
        Expectation.UNDECIDABLE: "undecidable inside its hypotheses, as registered"}


def junit_xml(results: Sequence[ClaimResult], profile: str, wall_time_s: float) -> str:
    suite = ET.Element("testsuite", name=f"scoreclaims-{profile}", tests=str(len(results)),
                       failures=str(sum(not r.matches_expectation and r.verdict is not
                                        Verdict.ERROR for r in results)),
                       errors=str(sum(r.verdict is Verdict.ERROR for r in results)),
                       skipped="0", time=f"{wall_time_s:.3f}")
    for r in results:
        case = ET.SubElement(suite, "testcase", classname=f"scoreclaims.{profile}",
                             name=r.claim.id, time=f"{r.wall_time_s:.3f}")
        props = ET.SubElement(case, "properties")
        for name, value in (("expected", r.expectation.value),
                            ("verdict", r.verdict.value),
                            ("paper_ref", r.claim.paper_ref),
                            ("instances_inside", str(len(r.inside))),
                            ("instances_beyond", str(len(r.beyond)))):
            ET.SubElement(props, "property", name=name, value=value)
        expected = r.expectation.expected_verdict.value
        if r.verdict is Verdict.ERROR:
            node = ET.SubElement(case, "error", message=r.reason, type="error")
            node.text = next((i.traceback for i in r.inside + r.beyond if i.traceback), r.reason)
        elif not r.matches_expectation:
            node = ET.SubElement(case, "failure", type="mismatch",
                                 message=f"verdict {r.verdict.value}, expected {expected}: "
                                         f"{r.reason}")
            node.text = r.reason
        else:
            out = ET.SubElement(case, "system-out")
            out.text = f"{WHAT[r.expectation]}: {r.verdict.value}. {r.reason}"
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(path: str | os.PathLike[str], results: Sequence[ClaimResult], profile: str,
                wall_time_s: float) -> None:
    write_text_atomic(path, junit_xml(results, profile, wall_time_s))


def _escape(text: str, property_value: bool = False) -> str:
    """GitHub's workflow-command escaping (data; properties escape : and , too)."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if property_value else text


def annotations(results: Sequence[ClaimResult]) -> list[str]:
    """``::error`` workflow commands, one per claim whose verdict departs from its expectation."""
    lines = []
    for r in results:
        if r.matches_expectation:
            continue
        expected = r.expectation.expected_verdict.value
        title = _escape(f"{r.claim.id}: {r.verdict.value}, expected {expected}", True)
        lines.append(f"::error title={title}::{_escape(r.reason)}")
    return lines


def step_summary(results: Sequence[ClaimResult], profile: str) -> str:
    """The run as a markdown table for the workflow's step summary."""
    mismatched = [r for r in results if not r.matches_expectation]
    head = (f"### scoreclaims verify ({profile} profile): "
            + (f"{len(mismatched)} of {len(results)} verdicts do not match their expectations"
               if mismatched else f"all {len(results)} verdicts as expected"))
    rows = ["| claim | expected | verdict | |", "|---|---|---|---|"]
    for r in results:
        mark = "✓" if r.matches_expectation else "✗ mismatch"
        rows.append(f"| `{r.claim.id}` | {r.expectation.value} | {r.verdict.value} | "
                    f"{mark} |")
    return head + "\n\n" + "\n".join(rows) + "\n"


def write_github(results: Sequence[ClaimResult], profile: str, stdout: object) -> None:
    """Annotations on standard output; the summary appended to $GITHUB_STEP_SUMMARY when set."""
    for line in annotations(results):
        print(line, file=stdout)  # type: ignore[call-overload]
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with Path(summary).open("a", encoding="utf-8") as f:
            f.write(step_summary(results, profile))
