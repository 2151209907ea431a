"""The shape of the committed report (docs/report/results.json rendered): within 1,500 lines,
readable key figures, each claim named once in the findings, every number of the results still
on the page or in a linked file, and figures a reader can read (titled, labelled, legends that
name their curves and sit off the data, axes that span the data).

The committed results are rendered once per module with their trajectories cut to their first
and last rows and the PNG encoding skipped (the figures are kept as matplotlib objects and
checked as such): what the page says does not depend on either, and so the check takes
seconds, not the minute a full render takes.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pytest

from scoreclaims.reports import render
from scoreclaims.reports.figures import covers
from scoreclaims.reports.hooks import FIGURES_DIR, ClaimContext
from scoreclaims.reports.markdown import compact
from scoreclaims.reports.schema import FRAMEWORK_METRICS, NOT_APPLICABLE
from scoreclaims.reports.sections import random_init, stationary

COMMITTED = Path(__file__).resolve().parents[1] / "docs" / "report" / "results.json"
MAX_LINES = 1500
JSON_FRAGMENT = re.compile(r'[{\[]\s*"|"\s*:|\[\s*[{\[]')
CUT = ("…", "...")


def _trim(rows: list[Any], keep: int = 3) -> list[Any]:
    return rows[:keep] + rows[-keep:] if len(rows) > 2 * keep else rows


@pytest.fixture(scope="module")
def committed() -> Iterator[tuple[dict[str, Any], render.Report, dict[str, tuple[Any, bool]]]]:
    if not COMMITTED.exists():
        pytest.skip("no committed results (docs/report/results.json)")
    doc = json.loads(COMMITTED.read_text(encoding="utf-8"))
    for claim in doc["claims"]:
        for entry in claim["instances"]:
            if entry.get("trajectory"):
                entry["trajectory"] = _trim(entry["trajectory"])
    figs: dict[str, tuple[Any, bool]] = {}

    def save(self: ClaimContext, name: str, fig: Any, tight: bool = True) -> str:
        figs[f"{self.stem}-{name}"] = (fig, tight)
        return self.add_file(f"{FIGURES_DIR}/{self.stem}-{name}.png", b"")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ClaimContext, "save_figure", save)
        mp.setitem(plt.rcParams, "figure.max_open_warning", 0)
        report = render.render(doc)
    yield doc, report, figs
    for fig, _ in figs.values():
        plt.close(fig)


def test_committed_report_within_the_target(committed: Any) -> None:
    _, report, _ = committed
    lines = report.markdown.count("\n")
    assert lines <= MAX_LINES, f"REPORT.md has {lines} lines"


def _summary_rows(md: str) -> dict[str, list[str]]:
    summary = md.split("## Summary")[1].split("## Findings")[0]
    rows = {}
    for line in summary.splitlines():
        if line.startswith("| ["):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            rows[re.search(r"\[`([^`]+)`\]", cells[0])[1]] = cells
    return rows


def test_key_figures_are_readable_figures(committed: Any) -> None:
    """Never a JSON fragment, never a value cut short: what a reader can quote."""
    doc, report, _ = committed
    rows = _summary_rows(report.markdown)
    assert list(rows) == [c["id"] for c in doc["claims"]]
    for claim_id, cells in rows.items():
        key = cells[6]
        assert not JSON_FRAGMENT.search(key), (claim_id, key)
        assert not any(mark in key for mark in CUT), (claim_id, key)
    for claim_id in ("T3.4", "T3.7", "E1", "T3.5", "T3.1", "PB", "L3.3"):  # their hooks' text
        assert rows[claim_id][6] not in ("", "–"), claim_id


def test_generic_key_figures_leave_nested_values_out() -> None:
    claim = {"id": "X", "instances": [], "metrics": {
        "lower_bound": {"eps=0.1": {"c": 1.0}}, "inside": [{"M0": 6.0}], "label": "3 of 19",
        "p": 0.5, "p_ci": [0.4, 0.6], "instances_inside": 3}}
    text = render.key_figures(claim)
    assert text == "label = 3 of 19; p = 0.5 [0.4, 0.6]"


def test_findings_name_each_claim_once(committed: Any) -> None:
    doc, report, _ = committed
    findings = report.markdown.split("## Findings")[1].split("\n## ")[0]
    named = [re.match(r"- `([^`]+)`", ln)[1] for ln in findings.splitlines()
             if re.match(r"- `[^`]+`", ln)]
    assert len(named) == len(set(named)), named
    for claim in doc["claims"]:
        assert f"`{claim['id']}`: {claim['id']}:" not in findings
        assert f"- {claim['id']}:" not in findings


def _pages(report: Any) -> str:
    """REPORT.md and the page of the claims beyond the paper (BEYOND.md), one after the other."""
    return report.markdown + "\n" + report.assets.get("BEYOND.md", b"").decode("utf-8")


def test_statements_apart_from_the_set_up(committed: Any) -> None:
    doc, report, _ = committed
    quotes = [ln for ln in _pages(report).splitlines() if ln.startswith("> **Statement.**")]
    assert len(quotes) == len(doc["claims"])
    assert not any(re.search(r"\. (Checked|Encoded|Measured)\b", q) for q in quotes)
    checked = report.markdown.count("**How it was checked.** Checked")
    assert checked >= 5  # T2.1, T3.1, T3.2, T3.4, L3.3, E1 state their set-up


def _in(md: str, assets: Mapping[str, bytes], text: str) -> bool:
    return text in md or any(text.encode() in data for path, data in assets.items()
                             if path.endswith(".json"))


def test_every_number_is_still_reachable(committed: Any) -> None:
    """Each instance (full), each conclusion's detail, each scalar metric, each note, each claim
    metric, each failing trajectory: on the page (folded or not) or in a file it links to."""
    doc, report, _ = committed
    md, assets = _pages(report), report.assets
    links = {link.split("#")[0] for link in re.findall(r"\]\(([^)#][^)]*)\)", md)}
    assert {p for p in assets} <= links and all(p in assets or p in ("results.json", "REPORT.md")
                                                 for p in links)
    for claim in doc["claims"]:
        for entry in claim["instances"]:
            assert compact(entry["instance"]) in md, (claim["id"], entry["instance"])
            for name, result in entry["predicates"].items():
                holds, detail = result["holds"], result["detail"]
                mark = "n/a" if holds == NOT_APPLICABLE else {True: "✓", False: "✗"}.get(
                    holds, "?")
                assert f"{name} {mark}" + (f" ({detail})" if detail else "") in md, (
                    claim["id"], name, detail)
            for key in entry["metrics"]:
                assert f"{key} = " in md or key in md, (claim["id"], key)
            if entry.get("notes"):
                assert entry["notes"] in md
        for key in claim["metrics"]:
            if key not in FRAMEWORK_METRICS and key != "findings":
                assert _in(md, assets, f'"{key}"') or f"`{key}`" in md, (claim["id"], key)
    csvs = [p for p in assets if p.startswith("trajectories/")]
    failing = sum(e["verdict"] in ("fail", "error") and bool(e.get("trajectory"))
                  for c in doc["claims"] for e in c["instances"])
    assert 0 < len(csvs) <= failing  # one per failing run, shared between claims running it


def test_variants_on_their_claims_instances_are_not_repeated(committed: Any) -> None:
    doc, report, _ = committed
    sections = dict(re.findall(r"^## (\S+?):.*?\n(.*?)(?=^## )", _pages(report) + "\n## ",
                               re.M | re.S))
    riders = [c for c in doc["claims"] if c["variant_of"] and "folded in the section of"
              in sections[c["id"]]]
    assert len(riders) >= 10
    for claim in riders:
        text = sections[claim["id"]]
        assert "figures/" not in text and "<details>" not in text
        parent = sections[claim["variant_of"]]
        assert f"`{claim['id']}` #1: **" in parent  # its outcomes in the claim's detail


# ---------------------------------------------------------------- figures


def readability_problems(fig: Any) -> list[str]:
    """What keeps a reader from reading `fig`: no title, unlabelled axes, an axis range that
    cuts data off, a legend on the data or naming curves by number alone."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    axes = [ax for ax in fig.axes if ax.get_visible()]
    problems = []
    suptitle = fig._suptitle.get_text() if fig._suptitle is not None else ""
    if not suptitle and not any(ax.get_title() for ax in axes):
        problems.append("no title")
    if not any(ax.get_xlabel() for ax in axes) or not any(ax.get_ylabel() for ax in axes):
        problems.append("unlabelled axes")
    boxes = [ax.get_window_extent(renderer) for ax in axes]
    legends = [ax.get_legend() for ax in axes if ax.get_legend() is not None] + fig.legends
    for ax in axes:
        if not covers(ax):
            problems.append(f"axis range cuts data: {ax.get_title()!r}")
    for leg in legends:
        box = leg.get_window_extent(renderer)
        for ax_box in boxes:
            inter = (min(box.x1, ax_box.x1) - max(box.x0, ax_box.x0),
                     min(box.y1, ax_box.y1) - max(box.y0, ax_box.y0))
            if inter[0] > 1 and inter[1] > 1:
                problems.append("legend on the data")
        for text in leg.get_texts():
            if re.fullmatch(r"#\d+( \(beyond\))?(: data)?", text.get_text()):
                problems.append(f"legend names a curve by number only: {text.get_text()}")
    return problems


def test_committed_figures_are_readable(committed: Any) -> None:
    _, _, figs = committed
    assert len(figs) >= 20
    for name, (fig, tight) in figs.items():
        assert tight, f"{name}: not cropped to its content (labels outside the image)"
        assert readability_problems(fig) == [], name


def test_probability_axis_spans_the_intervals() -> None:
    """P(exactly one) between 0.93 and 1 is drawn on an axis near that range, not on 0..1."""
    def prop(p: float, lo: float) -> dict[str, Any]:
        return {"p": p, "ci": [lo, min(1.0, p + 0.01)]}

    rows = [{"n": n, "d": 1, "M0": m, "exactly_one": prop(p, p - 0.04)}
            for n, ps in ((2, (0.99, 1.0)), (5, (0.935, 1.0))) for m, p in zip((4.0, 6.0), ps,
                                                                              strict=True)]
    fig = random_init._sweep_figure(rows)
    ax = fig.axes[0]
    low, high = ax.get_ylim()
    assert 0.85 < low < 0.895 and 1.0 <= high < 1.02
    assert covers(ax) and readability_problems(fig) == []
    plt.close(fig)


def test_gd_runs_axis_keeps_the_converging_means() -> None:
    """The runs figure of T3.1 had a fixed 1e-4 floor that cut the converging means off."""
    rows = [[float(t), 1.0 / (1 + t), 3.0 + t / 100, 10.0 ** -(t / 10)]
            for t in (0, 1, 10, 100)]
    fig = stationary._runs_figure([("n=2 start", {"rows": rows}, 2)], "T3.1: runs")
    assert all(covers(ax) for ax in fig.axes)
    assert fig.axes[1].get_ylim()[0] <= 1e-10
    assert readability_problems(fig) == []
    plt.close(fig)


def test_covers_notices_clipped_data() -> None:
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0.5, 2.0])
    assert covers(ax)
    ax.set_ylim(0, 1)
    assert not covers(ax)
    ax.set_ylim(0, 3)
    ax.plot([0.5], [math.nan])  # a non-finite point is no data to cover
    assert covers(ax)
    plt.close(fig)
