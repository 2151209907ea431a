"""Render a results JSON (``scoreclaims verify --json``) into DIR/REPORT.md with figures and CSVs.

Layout of DIR::

    REPORT.md              summary table, findings, a section per claim, reproducibility footer
    results.json           a byte copy of the results rendered
    figures/<claim>-*.png  rate fits (log-log, fitted curve, local exponents), distances, hooks
    trajectories/<claim>-<n>.csv  trajectory of every failing, erroring or counterexample instance
    data/<claim>-metrics.json     a claim's metrics, when some are nested (too big for the page)

A claim's section: its statement (the claim as the paper states it) apart from how it was checked
(the statement's set-up sentences, hypotheses, conclusions, parameters), one compact row per
instance with everything else about each folded under the tables (`<details>`), rate fits,
figures, the claim's short metrics, and what its hooks add. Nothing the results hold is dropped:
what leaves the page is folded or in a linked file.

The report is a function of the results file alone: the same JSON gives a byte-identical REPORT.md
(wall times and environment come from the JSON, never from the clock), and, with the same
matplotlib, identical PNGs. Everything is rendered in memory first; files are then written
atomically one by one, REPORT.md last, so a failure never leaves a half-written REPORT.md and a
failure while rendering leaves DIR untouched.

Claim modules can contribute key figures and findings through their metrics: ``findings`` (a string
or a list of markdown strings) goes to the findings paragraph; a metric ``x`` with ``x_ci`` (a pair)
or ``x_se`` beside it is shown with its uncertainty. Richer additions go through `reports.hooks`.
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import textwrap
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scoreclaims.reports import hooks
from scoreclaims.reports.hooks import DATA_DIR, FIGURES_DIR, TRAJECTORIES_DIR, ClaimContext
from scoreclaims.reports.markdown import (
    Slugs,
    as_float,
    blockquote,
    code,
    compact,
    describe,
    fmt,
    ranges,
    table,
    with_ci,
)
from scoreclaims.reports.schema import (
    EXPECTED_VERDICT,
    FRAMEWORK_METRICS,
    NOT_APPLICABLE,
    SchemaError,
    validate,
)
from scoreclaims.reports.schema import VERDICTS as VERDICT_ORDER
from scoreclaims.verifiers.atomic import atomic_path
from scoreclaims.verifiers.errors import UsageError

REPORT_NAME = "REPORT.md"
BEYOND_NAME = "BEYOND.md"  # the sections of the claims beyond the paper, apart from its own
BEYOND_TITLE = "Beyond the paper: the suite's own claims"
MANIFEST_NAME = ".report-files.json"  # what the report wrote, so a rerun removes only its own
RESULTS_NAME = "results.json"
MAX_CURVES = 6  # instances per rate figure
MAX_PANELS = 6  # instances per distances figure
SAME_FIGURE = "Same figure as for "  # how `ClaimContext.figure_once` links a figure drawn before
MAX_ROWS = 4  # instances in a table shown one per row; more are grouped by outcome
KEY_RATES = 2  # rates and metrics in a summary row's key figures (without a hook)
KEY_METRICS = 3
MEANS_KEYS = ("means", "m")  # instance keys holding the n x d means
LABEL_VALUE_CHARS = 16  # longer instance values are left out of legends and figure titles
# A statement's checking set-up starts with a sentence opening with one of these words.
SETUP_OPENERS = ("Checked", "Encoded", "Measured", "Hypotheses assumed")
_SETUP = re.compile(r"(?:^|(?<=[.;])\s+)(?=(?:" + "|".join(SETUP_OPENERS) + r")\b)")
MARKS = {
    "(reported)": "from the public summary of the paper; constants may be off",
    "(derived)": "worked out and checked by the suite's authors",
}
PAPER = (
    "Y. Zhang, W. Xu, M. Zhou, M. Fazel, S. S. Du, *Convergence Dynamics of Over-Parameterized "
    "Score Matching for a Single Gaussian* (arXiv 2511.22069, ICLR 2026)"
)
TITLE = "Verification report: over-parameterised score matching of a single Gaussian"


@dataclass
class Report:
    """A rendered report: the markdown and its files (path relative to DIR -> bytes)."""

    markdown: str
    assets: dict[str, bytes]


# ------------------------------------------------------------------ loading


def load_results(path: str | os.PathLike[str]) -> tuple[dict[str, Any], bytes]:
    """The results document and its bytes; a usage error when missing or not a results file."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"results file {str(p)!r} does not exist") from None
    except IsADirectoryError:
        raise UsageError(f"results file {str(p)!r} is a directory") from None
    except OSError as exc:
        raise UsageError(f"cannot read results file {str(p)!r}: {exc.strerror}") from None
    try:
        document = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise UsageError(f"results file {str(p)!r} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"results file {str(p)!r} is not valid JSON ({exc.msg} at line {exc.lineno})"
        ) from None
    try:
        validate(document)
    except SchemaError as exc:
        raise UsageError(f"results file {str(p)!r} is not a valid scoreclaims results file: "
                         f"{exc}") from None
    return document, raw


# ------------------------------------------------------------------ writing


def write_report(
    results_json_path: str | os.PathLike[str], out_dir: str | os.PathLike[str]
) -> Path:
    """Render `results_json_path` into `out_dir` (created if its parent exists); REPORT.md's path.

    Missing or invalid results and an unusable `out_dir` are usage errors (exit status 2).
    """
    document, raw = load_results(results_json_path)
    out = _prepare_dir(Path(out_dir))
    report = render(document)
    earlier = _report_files(out)
    try:
        for rel, data in sorted(report.assets.items()):
            target = out / rel
            target.parent.mkdir(exist_ok=True)
            _write_bytes(target, data)
        copy = out / RESULTS_NAME
        if not (copy.exists() and os.path.samefile(copy, results_json_path)):
            _write_bytes(copy, raw)
        _write_bytes(out / MANIFEST_NAME, (json.dumps(sorted(report.assets), indent=0)
                                           + "\n").encode())
        _write_bytes(out / REPORT_NAME, report.markdown.encode("utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot write the report into {str(out)!r}: {exc}") from None
    for rel in earlier - set(report.assets):
        (out / rel).unlink(missing_ok=True)
    return out / REPORT_NAME


def _write_bytes(path: Path, data: bytes) -> None:
    """Atomically, readable as a normal file (umask applied; the temporary file is 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
        tmp.chmod(0o666 & ~mask)


def _prepare_dir(out: Path) -> Path:
    if out.exists() and not out.is_dir():
        raise UsageError(f"report path {str(out)!r} exists and is not a directory")
    if not out.exists():
        parent = out.parent if str(out.parent) else Path(".")
        if not parent.is_dir():
            raise UsageError(f"report folder's parent {str(parent)!r} does not exist")
        try:
            out.mkdir()
        except OSError as exc:
            raise UsageError(f"cannot create report folder {str(out)!r}: {exc.strerror}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise UsageError(f"report folder {str(out)!r} is not writable")
    return out


def _report_files(out: Path) -> set[str]:
    """The files an earlier report wrote into `out`: its manifest's list, else (a report from
    before manifests) the figures, CSVs and data files its REPORT.md links to. Nothing else in
    the folder is ever deleted: a user's own files there stay."""
    try:
        listed = json.loads((out / MANIFEST_NAME).read_text())
        if isinstance(listed, list):
            return {str(rel) for rel in listed if _report_path(str(rel))}
    except (OSError, ValueError):
        pass
    try:
        text = (out / REPORT_NAME).read_text(encoding="utf-8")
    except OSError:
        return set()
    return {rel for rel in re.findall(r"\]\(([^)\s]+)\)", text) if _report_path(rel)}


def _report_path(rel: str) -> bool:
    """A path the report itself writes: BEYOND.md, figures/*.png, trajectories/*.csv and
    data/*.json."""
    parts = Path(rel).parts
    if rel == BEYOND_NAME:
        return True
    return (len(parts) == 2 and ".." not in parts
            and (parts[0], Path(parts[1]).suffix) in {(FIGURES_DIR, ".png"),
                                                      (TRAJECTORIES_DIR, ".csv"),
                                                      (DATA_DIR, ".json")})


# ------------------------------------------------------------------ rendering


def render(document: Mapping[str, Any]) -> Report:
    """The report of a results document (validated by `load_results`)."""
    hooks.load_modules()
    assets: dict[str, bytes] = {}
    drawn: dict[str, tuple[str, str]] = {}
    claims = list(document["claims"])
    beyond = [c for c in claims if _beyond(c)]
    if len(beyond) == len(claims):
        beyond = []  # a report of such claims alone keeps them in REPORT.md
    apart = {c["id"] for c in beyond}
    slugs, beyond_slugs = Slugs(), Slugs()
    for heading in (TITLE, "Summary", "Findings"):
        slugs(heading)
    beyond_slugs(BEYOND_TITLE)
    # each claim's link target: its heading in REPORT.md, or in BEYOND.md
    anchors = {c["id"]: (f"{BEYOND_NAME}#{beyond_slugs(_heading(c))}" if c["id"] in apart
                         else f"#{slugs(_heading(c))}") for c in claims}
    by_id = {c["id"]: c for c in claims}
    ctxs = {c["id"]: ClaimContext(c, assets, drawn, anchors[c["id"]]) for c in claims}
    # Variants whose instances are all their claim's: their per-instance outcomes are folded
    # into the claim's per-instance detail, beside the claim's own.
    riders: dict[str, list[Rider]] = {}
    for c in claims:
        parent = by_id.get(str(c.get("variant_of")))
        mapping = _in_parent(ctxs[c["id"]], parent)
        if parent is not None and mapping:
            riders.setdefault(parent["id"], []).append(Rider(ctxs[c["id"]], mapping))
    sections: dict[bool, list[str]] = {False: [], True: []}
    for c in claims:
        parent = by_id.get(str(c.get("variant_of")))
        sections[c["id"] in apart].append(_claim_section(c, ctxs[c["id"]], parent, anchors,
                                                         riders.get(c["id"], [])))
    pointer = ""
    if beyond:
        names = ", ".join(code(str(c["id"])) for c in beyond if not c.get("variant_of"))
        pointer = (f"The claims beyond the paper's statements ({names}, with their known-false "
                   f"variants) have their sections in [{BEYOND_NAME}]({BEYOND_NAME}); the "
                   "summary and the findings above cover them.")
        page = [f"# {BEYOND_TITLE}",
                f"Questions the paper leaves open or that the suite asks of it, each a claim "
                f"with its own domain, conclusions that can fail and known-false variants; the "
                f"paper's own claims are in [{REPORT_NAME}]({REPORT_NAME}).",
                *sections[True]]
        assets[BEYOND_NAME] = ("\n\n".join(p.strip("\n") for p in page if p)
                               + "\n").encode("utf-8")
    parts = [
        _header(document),
        _summary(document, claims, anchors),
        _findings(document, claims),
        pointer,
        *sections[False],
        _footer(document),
    ]
    return Report("\n\n".join(p.strip("\n") for p in parts if p) + "\n", assets)


def _beyond(claim: Mapping[str, Any]) -> bool:
    """A claim beyond the paper's statements (its paper reference says so)."""
    return str(claim.get("paper_ref", "")).startswith("beyond the paper")


@dataclass
class Rider:
    """A variant whose every instance is one of its claim's: own number -> the claim's."""

    ctx: ClaimContext
    in_parent: Mapping[int, int]


def _heading(claim: Mapping[str, Any]) -> str:
    if claim.get("variant_of"):
        return f"{claim['id']}: known-false variant of {claim['variant_of']}"
    return f"{claim['id']}: {claim.get('paper_ref', '?')} ({claim.get('regime', '?')})"


def _header(doc: Mapping[str, Any]) -> str:
    summary = doc["summary"]
    claims = doc["claims"]
    mismatched = list(summary.get("mismatched") or [])
    n = len(claims)
    if not n:
        status = "**No claims were verified** (none registered or none selected)."
    elif mismatched:
        status = (
            f"**{len(mismatched)} of {n} verdicts do not match their expectations:** "
            + ", ".join(code(m) for m in mismatched)
            + f" (exit status {summary.get('exit_status', 1)})."
        )
    else:
        status = f"**All {n} verdicts match their expectations** (exit status 0)."
    skipped = (doc.get("environment") or {}).get("skipped_claims") or []
    if skipped:
        status += (" Not run in this profile (their instances are too slow for it): "
                   + ", ".join(code(c) for c in skipped) + ".")
    wall = summary.get("wall_time_s")
    budget = summary.get("budget_s")
    timing = f"Wall time {_seconds(wall)}" + (f" of a {_seconds(budget)} budget" if budget else "")
    return "\n\n".join(
        [
            f"# {TITLE}",
            f"Claims of {PAPER}, checked by `scoreclaims verify` on the exact population "
            f"dynamics. Profile **{doc.get('profile', '?')}**; rendered from "
            f"[{RESULTS_NAME}]({RESULTS_NAME}); how to reproduce it is at the "
            "[end](#reproducibility).",
            f"{status} {timing}.",
            "A claim expected to hold must **pass** on every instance inside its hypotheses; a "
            "known-false variant (a deliberately wrong rate, constant or regime) must **fail**, "
            "which shows the checks can tell; a claim registered as undecidable (no feasible "
            "horizon decides it inside its hypotheses) must come out **inconclusive**, and "
            "would be a finding otherwise. Instances beyond the hypotheses are exploration: "
            "reported apart, never part of a verdict. Each claim's section gives its statement, "
            "how it was checked, a compact table of its instances (their full detail folded "
            "below it), figures and what the claim adds; numbers that do not fit the page are "
            "in the linked files beside this report.",
            *([_marks_text(claims)] if _marks_text(claims) else []),
        ]
    )


def _marks_text(claims: Sequence[Mapping[str, Any]]) -> str:
    """What the provenance marks used in the statements mean (said once, for every claim)."""
    plain = " ".join(str(c.get("statement_md", "")) for c in claims).replace("*", "")
    marks = [f"**{m}** {why}" for m, why in MARKS.items() if m in plain]
    return ("Provenance marks in the statements: " + "; ".join(marks) + ".") if marks else ""


# ------------------------------------------------------------------ summary


def _summary(doc: Mapping[str, Any], claims: Sequence[Mapping[str, Any]],
             anchors: Mapping[str, str]) -> str:
    if not claims:
        return "## Summary\n\nNo claims in this results file."
    rows = []
    for c in claims:
        rows.append(
            [
                f"[{code(c['id'])}]({anchors[c['id']]})",
                c.get("paper_ref", ""),
                c.get("regime", ""),
                _verdict_text(c),
                _counts_text(c.get("in_hypotheses", {})),
                _exploration_text(c.get("exploration", {})),
                key_figures(c),
                _seconds(c.get("wall_time_s")),
            ]
        )
    return "## Summary\n\n" + table(
        ["Claim", "Paper", "Regime", "Verdict (expected)", "Inside hypotheses",
         "Beyond (exploration)", "Key figures", "Wall time"],
        rows,
        align="lllllllr",
    )


def _verdict_text(claim: Mapping[str, Any]) -> str:
    expected = EXPECTED_VERDICT[claim["expected"]]
    known = "" if claim["expected"] == "holds" else f"{claim['expected']}, "
    match = "✓" if claim.get("matches_expectation") else "**✗ mismatch**"
    return f"**{claim['verdict']}** ({known}expected {expected}) {match}"


def _counts_text(block: Mapping[str, Any]) -> str:
    counts = block.get("counts") or {}
    total = block.get("instances", 0)
    parts = [f"{counts[v]} {v}" for v in VERDICT_ORDER if counts.get(v)]
    return f"{total}: " + ", ".join(parts) if parts else str(total)


def _exploration_text(block: Mapping[str, Any]) -> str:
    if not block or not block.get("instances"):
        return "–"
    return _counts_text(block)


def key_figures(claim: Mapping[str, Any]) -> str:
    """The summary's key-figures cell: the claim's hook, else its rates and first few scalar
    metrics. Readable figures only: never JSON, never cut short."""
    hook = hooks.hooks_for(claim).key_figures
    text = hook(claim) if hook is not None else ""
    if text and text != "–":
        return text
    parts = [_rate_summary(name, fits) for name, fits in
             list(_rates_by_name(claim, inside=True).items())[:KEY_RATES]]
    parts += [f"{k} = {v}" for k, v in
              _metric_items(claim.get("metrics") or {})[:KEY_METRICS]]
    return "; ".join(p for p in parts if p) or "–"


def _rates_by_name(claim: Mapping[str, Any], inside: bool | None) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for entry in claim.get("instances") or []:
        if inside is None or bool(entry.get("in_hypotheses")) == inside:
            for name, value in (entry.get("rates") or {}).items():
                out.setdefault(name, []).append(value)
    return out


def _is_fit(value: Any) -> bool:
    return isinstance(value, dict) and "classification" in value


def _span(lo: float, hi: float) -> str:
    return fmt(lo) if fmt(lo) == fmt(hi) else f"{fmt(lo)} to {fmt(hi)}"


def _rate_summary(name: str, values: Sequence[Any]) -> str:
    fits = [v for v in values if _is_fit(v)]
    if not fits:
        nums = [f for v in values if (f := as_float(v)) is not None and math.isfinite(f)]
        if not nums:
            return ""
        return f"{name} = {fmt(nums[0])}" if len(set(nums)) == 1 else (
            f"{name} {_span(min(nums), max(nums))} ({len(nums)} instances)"
        )
    kinds = Counter(f["classification"] for f in fits)
    kind_text = ", ".join(f"{k} ×{n}" if n > 1 else k for k, n in sorted(kinds.items()))
    text = f"{name}: {kind_text}"
    for label, key, ci_key in (("p", "exponent", "exponent_ci"), ("q", "log_power", "log_power_ci"),
                               ("ρ", "ratio", "ratio_ci")):
        vals = [f for f in fits if f.get(key) is not None]
        if not vals:
            continue
        if len(vals) == 1:
            text += f", {label} = {with_ci(vals[0][key], vals[0].get(ci_key))}"
            continue
        lo, hi = min(v[key] for v in vals), max(v[key] for v in vals)
        cis = [v[ci_key] for v in vals if v.get(ci_key)]
        text += f", {label} {_span(lo, hi)}"
        if cis:
            text += f" (CIs within [{fmt(min(c[0] for c in cis))}, {fmt(max(c[1] for c in cis))}])"
    return text


def _is_short(value: Any) -> bool:
    """A scalar, or a list of at most four numbers: what a table cell shows whole."""
    if isinstance(value, dict):
        return False
    if isinstance(value, list):
        return len(value) <= 4 and all(as_float(v) is not None for v in value)
    return True


def _metric_items(metrics: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(name, value with uncertainty) of the claim's own short metrics (scalars and short
    numeric lists; not the framework counts, not nested values, which go to a file)."""
    items = []
    for key, value in metrics.items():
        if key in FRAMEWORK_METRICS or key.endswith(("_ci", "_se")) or key == "findings":
            continue
        if _is_short(value):
            items.append((key, with_ci(value, metrics.get(f"{key}_ci"),
                                       metrics.get(f"{key}_se"))))
    return items


def _nested_metrics(metrics: Mapping[str, Any]) -> list[str]:
    return [k for k, v in metrics.items()
            if k not in FRAMEWORK_METRICS and k != "findings" and not _is_short(v)]


# ------------------------------------------------------------------ findings


def _own_findings(claim: Mapping[str, Any]) -> list[str]:
    """The claim's findings (its metrics' and its hook's), without a leading repeat of its id."""
    own = (claim.get("metrics") or {}).get("findings")
    items = [own] if isinstance(own, str) else list(own or [])
    hook = hooks.hooks_for(claim).findings
    if hook is not None:
        items += list(hook(claim))
    prefix = f"{claim['id']}:"
    out = []
    for text in items:
        text = str(text).strip()
        if text.startswith(prefix):
            text = text[len(prefix):].lstrip()
            text = text[:1].upper() + text[1:]
        out.append(text)
    return out


def _findings(doc: Mapping[str, Any], claims: Sequence[Mapping[str, Any]]) -> str:
    """Mismatches first, then the variants, then each claim's own findings and its exploration:
    one bullet per claim, naming it once, its findings under it."""
    if not claims:
        return ""
    mismatches: list[str] = []
    bullets: list[str] = []
    variants = [c for c in claims if c.get("variant_of")]
    missed = [c for c in variants if c["verdict"] != "fail"]
    if variants and not missed:
        lead = (f"All {len(variants)} known-false variants were" if len(variants) > 1
                else "The known-false variant was")
        bullets.append(
            f"{lead} rejected: each fails on at least one instance inside its hypotheses, so the "
            "checks tell the false statements from the claims."
        )
    for c in claims:
        items = _own_findings(c)
        exploration = c.get("exploration") or {}
        beyond = exploration.get("instances") or 0
        if not c.get("variant_of") and beyond:
            if exploration.get("verdict") == "pass":
                items.append(f"The conclusions also hold on all {beyond} instances checked "
                             "beyond the hypotheses: there the hypotheses look stronger than "
                             "needed.")
            elif exploration.get("verdict") == "fail":
                failed = (exploration.get("counts") or {}).get("fail", 0)
                items.append(f"Beyond the hypotheses the conclusions fail on {failed} of "
                             f"{beyond} instances explored.")
        sub = "".join(f"\n  - {t[:1].upper()}{t[1:]}" for t in items)
        if c.get("variant_of") and c["verdict"] != "fail":
            mismatches.append(
                f"Known-false variant {code(c['id'])} was **not rejected** (verdict "
                f"{c['verdict']}): the checks of {code(str(c['variant_of']))} cannot tell it "
                f"apart. {c.get('reason', '')}" + sub)
        elif not c.get("variant_of") and not c.get("matches_expectation"):
            expected = ("registered as undecidable" if c["expected"] == "undecidable"
                        else "expected to hold")
            mismatches.append(f"{code(c['id'])} ({c.get('paper_ref', '')}) was {expected} but "
                              f"is **{c['verdict']}**: {c.get('reason', '')}" + sub)
        elif len(items) == 1:
            bullets.append(f"{code(c['id'])}: {items[0]}")
        elif items:
            bullets.append(f"{code(c['id'])} ({c.get('paper_ref', '')}):" + sub)
    return "## Findings\n\n" + "\n".join(f"- {b}" for b in mismatches + bullets)


# ------------------------------------------------------------------ claim sections


def _claim_section(claim: Mapping[str, Any], ctx: ClaimContext,
                   parent: Mapping[str, Any] | None = None,
                   anchors: Mapping[str, str] | None = None,
                   riders: Sequence[Rider] = ()) -> str:
    """A claim's section. A variant whose instances are all its claim's (the same runs, judged
    by other conclusions) shows its verdicts grouped by outcome; each instance's outcome is in
    the claim's per-instance detail, and the fits, figures and the claim's sections are the
    claim's, linked rather than repeated."""
    expected = EXPECTED_VERDICT[claim["expected"]]
    match = "✓ as expected" if claim.get("matches_expectation") else "**✗ MISMATCH**"
    in_parent = _in_parent(ctx, parent)
    parts = [
        f"## {_heading(claim)}",
        f"**Verdict: {claim['verdict']}**, expected {expected} ({claim['expected']}): {match}. "
        f"Wall time {_seconds(claim.get('wall_time_s'))}. Reason: {claim.get('reason', '')}",
        _statement(claim),
        _checked(claim, parent),
        _instances(ctx, in_parent, riders),
    ]
    own_hooks = hooks.REGISTRY.get(str(claim["id"]))
    if in_parent and parent is not None:
        numbers = ranges(sorted(set(in_parent.values())))
        link = f"[{code(str(parent['id']))}]({(anchors or {}).get(str(parent['id']), '#')})"
        parts.append(f"Each instance's detail, with this variant's conclusions (and its "
                     f"trajectory file where it fails), is folded in the section of {link} "
                     f"({numbers} there), beside that claim's fits and figures of the same runs.")
        parts.append(_claim_metrics(ctx))
        hook = own_hooks.section if own_hooks is not None else None
    else:
        parts += [_rate_table(ctx), _figures(ctx), _claim_metrics(ctx)]
        hook = hooks.hooks_for(claim).section
    if hook is not None:
        parts.append(hook(ctx))
    return "\n\n".join(p.strip("\n") for p in parts if p)


def split_statement(text: str) -> tuple[str, str]:
    """A claim's `statement_md` as (the claim as stated, how it is checked).

    By convention the checking set-up starts with a sentence opening with one of
    `SETUP_OPENERS` ("Checked (**(derived)** set-up): ..."); a statement without one is all
    claim.
    """
    match = _SETUP.search(text)
    if not match:
        return text.strip(), ""
    return text[:match.start()].strip(), text[match.start():].strip()


def _statement(claim: Mapping[str, Any]) -> str:
    statement, _ = split_statement(claim["statement_md"])
    return blockquote("**Statement.** " + statement)


def _checked(claim: Mapping[str, Any], parent: Mapping[str, Any] | None = None) -> str:
    _, setup = split_statement(str(claim.get("statement_md", "")))
    lines = [f"**How it was checked.** {setup}".rstrip()]
    lines.append(f"- **Hypotheses:** {claim.get('hypotheses', '?')}")
    conclusions = claim.get("conclusions") or {}
    if len(conclusions) == 1:
        (name, desc), = conclusions.items()
        lines.append(f"- **Conclusion**, checked on every instance: {code(name)}: {desc}")
    else:
        lines.append("- **Conclusions**, each checked on every instance:")
        lines += [f"  - {code(name)}: {desc}" for name, desc in conclusions.items()]
    params = claim.get("parameters") or {}
    if params and parent is not None and params == parent.get("parameters"):
        lines.append(f"- **Parameters:** those of {code(str(parent['id']))}")
    elif params:
        lines.append(
            "- **Parameters:** " + ", ".join(f"{code(k)} = {describe(v)}"
                                             for k, v in params.items())
        )
    entries = claim.get("instances") or []
    sources = Counter(str(e.get("source", "grid")) for e in entries if e.get("in_hypotheses"))
    inside = sum(sources.values())
    origin = ", ".join(f"{n} from the {s}" for s, n in sorted(sources.items()))
    beyond = len(entries) - inside
    lines.append(
        f"- **Instances:** {inside} inside the hypotheses"
        + (f" ({origin})" if origin else "")
        + f", {beyond} beyond them (exploration)."
    )
    cached = sum(bool(e.get("cached")) for e in entries)
    if cached:
        lines.append(f"- {cached} instance results came from the cache (same code and precision).")
    search = claim.get("search")
    if search:
        text = (
            f"- **Counterexample search** (hypothesis): {search.get('examples', 0)} instances "
            f"evaluated (budget {search.get('max_examples', '?')} examples), "
            f"{'derandomised' if search.get('derandomized') else 'random seed'}"
        )
        skipped = [(search.get("skipped_outside") or 0, "outside the hypotheses"),
                   (search.get("skipped_unsearchable") or 0,
                    "inside them but refused as not searchable (see the hypotheses)")]
        for count, why in skipped:
            if count:
                text += f"; {count} draws skipped, {why}"
        if search.get("falsifying_seen"):
            text += f"; {search['falsifying_seen']} falsifying instances met while shrinking"
        shrunk = search.get("shrunk_counterexample")
        if shrunk is not None:
            text += f"; minimal counterexample {code(compact(shrunk))}"
            if search.get("shrink_budget_exhausted"):
                text += " (shrink budget exhausted: it may not be minimal)"
        if search.get("error"):
            text += f"; **search error:** {search['error']}"
        lines.append(text + ".")
    return "\n".join(lines)


def _label(number: int, entry: Mapping[str, Any]) -> str:
    return f"#{number}" + ("" if entry.get("in_hypotheses") else " (beyond)")


# ------------------------------------------------------------------ instances


def _common(entries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The instance keys with one value across all `entries` (when there are several)."""
    dicts = [e.get("instance") for e in entries]
    if len(dicts) < 2 or not all(isinstance(d, dict) for d in dicts):
        return {}
    first = dicts[0]
    return {k: v for k, v in first.items() if all(k in d and d[k] == v for d in dicts[1:])}


def _describe_instance(instance: Any, skip: Mapping[str, Any] | None = None,
                       short: bool = False) -> str:
    """An instance as readable parameters (`describe`), leaving out the keys in `skip`; means
    given as an n × d array read "n = .., d = ..", or are listed when few. `short` (for a
    legend): means always as n and d, and no value longer than `LABEL_VALUE_CHARS`."""
    if not isinstance(instance, dict):
        return describe(instance)
    parts = []
    for key, value in instance.items():
        if skip and key in skip:
            continue
        text = describe(value)
        if key in MEANS_KEYS and (text.endswith(" array") or (short and text.startswith("[["))):
            parts.append(f"n = {len(value)}, d = {len(value[0])}")
        elif not short or len(text) <= LABEL_VALUE_CHARS:
            parts.append(f"{key} = {text}")
    return ", ".join(parts) or "(as above)"


def _conclusions_cell(predicates: Mapping[str, Any]) -> str:
    """Conclusions in a few characters: those not holding by name with their mark, the rest
    counted."""
    ok = na = 0
    bad = []
    for name, result in predicates.items():
        holds = result.get("holds") if isinstance(result, dict) else result
        if holds is True:
            ok += 1
        elif holds == NOT_APPLICABLE:
            na += 1
        else:
            bad.append(f"{name} {'✗' if holds is False else '?'}")
    counted = (f"{ok} ✓" if bad or na or ok == 1 else f"all {ok} ✓") if ok else ""
    if na:
        counted += (", " if counted else "") + f"{na} n/a"
    return "; ".join([*bad, counted] if counted else bad) or "–"


def _predicates_text(predicates: Mapping[str, Any], details: str = "failing") -> str:
    """Every conclusion with its mark; `details` "failing" adds the detail of those not
    holding, "all" of every one."""
    parts = []
    for name, result in predicates.items():
        holds = result.get("holds") if isinstance(result, dict) else result
        detail = result.get("detail", "") if isinstance(result, dict) else ""
        if holds == NOT_APPLICABLE:
            parts.append(f"{name} n/a" + (f" ({detail})" if detail and details == "all" else ""))
            continue
        mark = {True: "✓", False: "✗", None: "?"}.get(holds, "?")
        show = detail and (details == "all" or holds is not True)
        parts.append(f"{name} {mark}" + (f" ({detail})" if show else ""))
    return "; ".join(parts) or "–"


def _metrics_text(metrics: Mapping[str, Any]) -> str:
    """Every scalar metric of an instance; nested ones by name (they are in the results file)."""
    items = [f"{k} = {fmt(v)}" for k, v in metrics.items() if _is_short(v)]
    nested = [k for k, v in metrics.items() if not _is_short(v)]
    text = ", ".join(items)
    if nested:
        text += ("; " if text else "") + "nested: " + ", ".join(nested)
    return text or "–"


def _trajectory_csv(ctx: ClaimContext, number: int, entry: Mapping[str, Any]) -> str | None:
    """The CSV of a failing or erroring instance's recorded trajectory; its path."""
    rows = entry.get("trajectory") or []
    if entry.get("verdict") not in ("fail", "error") or not rows:
        return None
    columns = list(rows[0])
    return ctx.csv(str(number or "counterexample"), columns,
                   [[r.get(c) for c in columns] for r in rows])


def _in_parent(ctx: ClaimContext, parent: Mapping[str, Any] | None) -> dict[int, int] | None:
    """For a variant whose every instance is one of its claim's: own number -> the claim's."""
    if not parent:
        return None
    where: dict[str, int] = {}
    for number, e in enumerate(parent.get("instances") or [], 1):
        where.setdefault(compact(e.get("instance")), number)
    mapping = {}
    for number, e in ctx.numbered():
        key = compact(e.get("instance"))
        if key not in where:
            return None
        mapping[number] = where[key]
    return mapping or None


def _instances(ctx: ClaimContext, in_parent: Mapping[int, int] | None = None,
               riders: Sequence[Rider] = ()) -> str:
    """The instance tables (inside, then beyond the hypotheses) and the per-instance detail.

    A table of at most `MAX_ROWS` instances has a short row per instance; a longer one, and a
    variant's instances that are all its claim's, one row per outcome (the instances' numbers
    and the parameter values they take). Everything about each instance is folded below.
    """
    claim = ctx.claim
    entries = list(ctx.numbered())
    minimal = _counterexample_number(ctx)
    paths = {n: p for n, e in entries if (p := _trajectory_csv(ctx, n, e))}
    common = _common([e for _, e in entries])
    blocks = [] if in_parent else ["### Instances"]
    for inside in (True, False):
        group = [(n, e) for n, e in entries if bool(e.get("in_hypotheses")) == inside]
        if inside:
            intro = (f"**{'Instances' if in_parent else 'Inside the hypotheses'}**"
                     f"{' inside the hypotheses' if in_parent else ''}: these decide the "
                     f"verdict (**{claim['verdict']}**).")
        else:
            if not group:
                continue
            verdict = (claim.get("exploration") or {}).get("verdict")
            intro = (f"**Beyond the hypotheses** (exploration, verdict **{verdict}**): these "
                     "never enter the claim's verdict.")
        if not group:
            blocks.append(f"{intro} None were checked.")
            continue
        if inside and common:
            intro += " Every instance of the claim has " + _describe_instance(common) + "."
        if in_parent:
            body = _grouped_table(group, common, minimal, in_parent, str(claim["variant_of"]))
            intro += (f" They are instances of {code(str(claim['variant_of']))}, one row per "
                      "outcome.")
        elif len(group) > MAX_ROWS:
            body = _grouped_table(group, common, minimal)
            intro += " One row per outcome; each instance is in the detail below."
        else:
            body = _instance_table(group, common, minimal, paths)
        blocks.append(f"{intro}\n\n{body}")
    warnings = [f"- {_label(n, e)}: warning: {w}" for n, e in entries
                for w in e.get("warnings") or []]
    if warnings:
        blocks.append("\n".join(warnings))
    blocks += _tracebacks(entries)
    if not in_parent:
        blocks.append(_detail(ctx, entries, minimal, paths, _rider_notes(riders)))
    return "\n\n".join(b for b in blocks if b)


def _rider_notes(riders: Sequence[Rider]) -> dict[int, list[str]]:
    """Per instance of a claim, how each variant running it judged it (with the variant's
    trajectory file where it fails)."""
    notes: dict[int, list[str]] = {}
    for rider in riders:
        vid = str(rider.ctx.claim["id"])
        minimal = _counterexample_number(rider.ctx)
        for number, e in rider.ctx.numbered():
            text = f"{code(vid)} #{number}: **{e.get('verdict')}**"
            if number == minimal:
                text += " (minimal counterexample of its search)"
            predicates = e.get("predicates") or {}
            text += f", {_predicates_text(predicates, 'all')}" if predicates else (
                f", {e.get('reason', '')}")
            path = _trajectory_csv(rider.ctx, number, e)
            if path:
                text += f", trajectory [{path}]({path})"
            notes.setdefault(rider.in_parent[number], []).append(text)
    return notes


def _instance_table(group: Sequence[Numbered], common: Mapping[str, Any], minimal: int | None,
                    paths: Mapping[int, str]) -> str:
    """One short row per instance: its parameters, verdict, conclusions, time, trajectory."""
    sources = {str(e.get("source", "grid")) for _, e in group}
    show_source = sources != {"grid"}
    show_path = any(n in paths for n, _ in group)
    rows = []
    for number, e in group:
        mark = " (minimal counterexample)" if number == minimal else ""
        row = [str(number), _describe_instance(e.get("instance"), common)]
        if show_source:
            row.append(str(e.get("source", "")))
        row += [f"**{e.get('verdict')}**{mark}", _conclusions_cell(e.get("predicates") or {}),
                _seconds(e.get("wall_time_s"))]
        if show_path:
            row.append(f"[CSV]({paths[number]})" if number in paths else "–")
        rows.append(row)
    headers = ["#", "Instance", *(["Source"] if show_source else []), "Verdict", "Conclusions",
               "Time", *(["Trajectory"] if show_path else [])]
    align = "rl" + ("l" if show_source else "") + "llr" + ("l" if show_path else "")
    return table(headers, rows, align=align)


def _values(instances: Sequence[Any], skip: Mapping[str, Any]) -> str:
    """The values each instance parameter takes over `instances` (keys in `skip` left out)."""
    keys: list[str] = []
    for inst in instances:
        if isinstance(inst, dict):
            keys += [k for k in inst if k not in keys and k not in skip]
    parts = []
    for key in keys:
        vals = [inst[key] for inst in instances if isinstance(inst, dict) and key in inst]
        texts = [describe(v) for v in vals]
        part = (f" ({len(vals)} of {len(instances)})" if len(vals) < len(instances) else "")
        if key in MEANS_KEYS and all(t.endswith(" array") or t.startswith("[[") for t in texts):
            shapes = [(len(v), len(v[0])) for v in vals]
            parts.append(_one_of("n", [s[0] for s in shapes]) + part)
            parts.append(_one_of("d", [s[1] for s in shapes]) + part)
        elif all(isinstance(v, (int, float, str)) and not isinstance(v, bool) for v in vals):
            parts.append(_one_of(key, vals) + part)
        else:
            distinct = list(dict.fromkeys(texts))
            if len(distinct) == 1:
                parts.append(f"{key} = {distinct[0]}{part}")
            elif len(distinct) <= 4 and sum(map(len, distinct)) <= 60:
                parts.append(f"{key} ∈ {{{', '.join(distinct)}}}{part}")
            else:
                parts.append(f"{key}: {len(distinct)} values{part}")
    return "; ".join(parts) or "–"


def _one_of(key: str, values: Sequence[Any]) -> str:
    distinct = sorted(set(values), key=lambda v: (isinstance(v, str), v))
    if len(distinct) == 1:
        return f"{key} = {fmt(distinct[0])}"
    if len(distinct) > 6 and all(as_float(v) is not None for v in distinct):
        return (f"{key}: {len(distinct)} values from {fmt(distinct[0])} to "
                f"{fmt(distinct[-1])}")
    return f"{key} ∈ {{{', '.join(fmt(v) for v in distinct)}}}"


def _grouped_table(group: Sequence[Numbered], common: Mapping[str, Any], minimal: int | None,
                   in_parent: Mapping[int, int] | None = None, parent_id: str = "") -> str:
    """One row per outcome (verdict and conclusions): the instances, the values their
    parameters take, their total time."""
    groups: dict[tuple[str, str], list[Numbered]] = {}
    for number, e in group:
        key = (str(e.get("verdict")), _conclusions_cell(e.get("predicates") or {}))
        groups.setdefault(key, []).append((number, e))
    rows = []
    for (verdict, concl), members in groups.items():
        numbers = [n for n, _ in members]
        mark = " (includes the minimal counterexample)" if minimal in numbers else ""
        where = ranges(numbers)
        if in_parent:
            where += f" ({parent_id} " + ranges(in_parent[n] for n in numbers) + ")"
        total = sum(as_float(e.get("wall_time_s")) or 0.0 for _, e in members)
        rows.append([where, str(len(members)),
                     _values([e.get("instance") for _, e in members], common),
                     f"**{verdict}**{mark}", concl, _seconds(total)])
    return table(["Instances", "Count", "Parameters", "Verdict", "Conclusions", "Time"], rows,
                 align="lrlllr")


def _tracebacks(entries: Sequence[Numbered]) -> list[str]:
    return [f"<details><summary>Traceback of {_label(n, e)}</summary>\n\n```text\n"
            + e["traceback"].rstrip() + "\n```\n\n</details>"
            for n, e in entries if e.get("traceback")]


def _detail(ctx: ClaimContext, entries: Sequence[Numbered], minimal: int | None,
            paths: Mapping[int, str], riders: Mapping[int, Sequence[str]]) -> str:
    """Everything about each instance, folded: the full instance, every conclusion with its
    detail, every scalar metric, rates, notes, the trajectory file, and how the known-false
    variants running the same instance judged it."""
    lines = []
    for number, e in entries:
        where = [("inside" if e.get("in_hypotheses") else "beyond") + " the hypotheses",
                 str(e.get("source", "grid"))]
        if e.get("cached"):
            where.append("from the cache")
        head = f"- **#{number}** ({', '.join(where)}): **{e.get('verdict')}**"
        if number == minimal:
            head += " (minimal counterexample of the search)"
        text = [head + f", {code(compact(e.get('instance')))}, {_seconds(e.get('wall_time_s'))}."]
        predicates = e.get("predicates") or {}
        if e.get("verdict") == "error" or not predicates:
            text.append(f"{e.get('reason', '')}.")
        if predicates:
            text.append(f"Conclusions: {_predicates_text(predicates, 'all')}.")
        if e.get("metrics"):
            text.append(f"Metrics: {_metrics_text(e['metrics'])}.")
        rates = e.get("rates") or {}
        if rates:
            text.append("Rates: " + "; ".join(
                f"{k} {_fit_short(v)}" if _is_fit(v) else f"{k} = {fmt(v)}"
                for k, v in rates.items()) + ".")
        if e.get("notes"):
            text.append(f"Notes: {e['notes']}.")
        for w in e.get("warnings") or []:
            text.append(f"Warning: {w}.")
        rows = e.get("trajectory") or []
        if number in paths:
            total = e.get("trajectory_rows", len(rows))
            kept = (f"{len(rows)} of {total} recorded rows, the first and last kept"
                    if total > len(rows) else f"all {len(rows)} recorded rows")
            text.append(f"Trajectory: [{paths[number]}]({paths[number]}) ({kept}).")
        elif e.get("verdict") == "fail" and not rows:
            text.append("No trajectory was recorded.")
        if riders.get(number):
            text.append("Known-false variants on this instance: " + "; ".join(riders[number])
                        + ".")
        lines.append(" ".join(text))
    extra = ctx.claim.get("counterexample")
    if extra and not any(e.get("instance") == extra.get("instance") for _, e in entries):
        lines.append(f"- **Counterexample** (not among the instances): "
                     f"{code(compact(extra.get('instance')))}: {extra.get('reason', '')}.")
    count = f"{len(entries)} instance" + ("s" if len(entries) != 1 else "")
    summary = (f"Per-instance detail ({count}): the full instance, every "
               "conclusion with its detail, metrics, rates, notes")
    if paths:
        summary += ", trajectory files"
    if riders:
        summary += ", the known-false variants' conclusions"
    return f"<details><summary>{summary}</summary>\n\n" + "\n".join(lines) + "\n</details>"


def _fit_short(fit: Mapping[str, Any]) -> str:
    text = str(fit.get("classification", "?"))
    for label, key in (("p", "exponent"), ("q", "log_power"), ("ρ", "ratio")):
        if fit.get(key) is not None:
            text += f", {label} = {with_ci(fit[key], fit.get(f'{key}_ci'))}"
    return text


# ------------------------------------------------------------------ rate fits


def _rate_table(ctx: ClaimContext) -> str:
    """Fitted rates, inside and beyond the hypotheses in separate tables (plain rate values are
    in the per-instance detail)."""
    blocks, reasons, levels = [], [], set()
    for inside in (True, False):
        rows = []
        for number, e in ctx.numbered(inside):
            for name, fit in (e.get("rates") or {}).items():
                if not _is_fit(fit):
                    continue
                levels.add((fit.get("settings") or {}).get("confidence"))
                window = fit.get("window") or {}
                span = "–"
                if window.get("tau_start") is not None:
                    span = (f"{_tau(window['tau_start'])} … {_tau(window.get('tau_end'))} "
                            f"({fmt(window.get('decades'), 3)} decades)")
                rows.append([f"#{number}", name, fit.get("classification", "?"),
                             _opt_ci(fit, "exponent"), _opt_ci(fit, "log_power"),
                             _opt_ci(fit, "ratio"), span, fmt(window.get("n_points"))])
                if fit.get("reason"):
                    reasons.append(f"- {_label(number, e)} {code(name)}: {fit['reason']}")
        if rows:
            blocks.append((inside, rows))
    if not blocks:
        return ""
    earlier = ctx.shown_before(["fits", blocks])
    if earlier:
        anchor, owner = earlier
        return (f"### Rate fits\n\nThe same fits as for [{code(owner)}]({anchor}) (the same "
                "instances).")
    headers = ["#", "Quantity", "Form", "Exponent p", "Log power q", "Ratio ρ", "Window (tau)",
               "Points"]
    used = [i for i in range(len(headers))
            if any(row[i] is not None for _, rows in blocks for row in rows)]
    level = as_float(next(iter(levels))) if len(levels) == 1 else None
    parts = ["### Rate fits"]
    for inside, rows in blocks:
        if len(blocks) > 1 or not inside:
            parts.append("Inside the hypotheses:" if inside
                         else "Beyond the hypotheses (exploration):")
        parts.append(table([headers[i] for i in used],
                           [["–" if row[i] is None else row[i] for i in used] for row in rows]))
    ci = f"{level * 100:.0f}% confidence" if level else "the fits' confidence level"
    note = f"Brackets: {ci} intervals. Only the window is fitted; the transient before it is not."
    if reasons:
        note += ("\n\n<details><summary>Why each form was chosen</summary>\n\n"
                 + "\n".join(reasons) + "\n</details>")
    parts.append(note)
    return "\n\n".join(parts)


def _tau(value: Any) -> str:
    x = as_float(value)
    if x is not None and math.isfinite(x) and x.is_integer() and abs(x) < 1e9:
        return str(int(x))
    return fmt(value)


def _opt_ci(fit: Mapping[str, Any], key: str) -> str | None:
    value = fit.get(key)
    return None if value is None else with_ci(value, fit.get(f"{key}_ci"))


Numbered = tuple[int, Mapping[str, Any]]


def _priority(entries: Iterable[Numbered]) -> list[Numbered]:
    """Failing and erroring instances first, then the rest, each in results order."""
    entries = list(entries)
    bad = [x for x in entries if x[1].get("verdict") in ("fail", "error")]
    return bad + [x for x in entries if x not in bad]


def _shown(count: int, total: int, what: str) -> str:
    return "" if count == total else f" Showing {count} of {total} {what}, failing ones first."


# ------------------------------------------------------------------ figures


def _curve_labels(ctx: ClaimContext, entries: Sequence[Numbered]) -> tuple[dict[int, str], str]:
    """Legend labels saying what each instance's curve is (#number and the parameters that tell
    the shown instances apart) and the parameters they share, for the title."""
    shown = [e for _, e in entries]
    common = _common(shown)
    labels = {}
    for number, e in entries:
        text = _describe_instance(e.get("instance"), common, short=True)
        labels[number] = _wrap(f"#{number}: {text}", 60) if len(shown) > 1 else f"#{number}"
    shared = _describe_instance(common, short=True) if common else ""
    if len(shown) == 1:
        shared = _describe_instance(shown[0].get("instance"), short=True)
    return labels, shared


def _wrap(text: str, width: int = 70) -> str:
    return "\n".join(textwrap.wrap(text, width)) if text else ""


def _figures(ctx: ClaimContext) -> str:
    out: list[str] = []
    for inside in (True, False):
        group = "inside the hypotheses" if inside else "beyond the hypotheses (exploration)"
        tag = "inside" if inside else "beyond"
        entries = _priority(ctx.numbered(inside))
        out += _rate_figures(ctx, entries, group, tag)
        if hooks.hooks_for(ctx.claim).generic_figures:
            out += _distance_figures(ctx, entries, group, tag)
    drawn = [f for f in out if not f.startswith(SAME_FIGURE)]
    same = [f.removeprefix(SAME_FIGURE) for f in out if f.startswith(SAME_FIGURE)]
    if same:
        owners = sorted({s.split(":", 1)[0] for s in same})
        links = [s.split(": ", 1)[1].rstrip(".") for s in same]
        drawn.append(f"Drawn for {', '.join(owners)} (the same instances): "
                     + ", ".join(links) + ".")
    return "### Figures\n\n" + "\n\n".join(drawn) if drawn else ""


def _title(ctx: ClaimContext, what: str, group: str, shared: str) -> str:
    head = f"{ctx.claim['id']}: {what}, {group}"
    return head + ("\n" + _wrap(shared, 90) if shared else "")


def _rate_figures(ctx: ClaimContext, entries: list[Numbered], group: str,
                  tag: str) -> list[str]:
    from scoreclaims.reports import figures

    out = []
    names: list[str] = []
    for _, e in entries:
        names += [n for n, f in (e.get("rates") or {}).items() if _is_fit(f) and n not in names]
    for name in names:
        fits = [(n, e, e["rates"][name]) for n, e in entries
                if _is_fit((e.get("rates") or {}).get(name)) and e["rates"][name].get("plot")]
        if not fits:
            continue
        shown = sorted(fits[:MAX_CURVES], key=lambda x: x[0])
        labels, shared = _curve_labels(ctx, [(n, e) for n, e, _ in shown])
        curves = [(n, labels[n], fit) for n, _, fit in shown]
        title = _title(ctx, f"{name} against tau", group, shared)
        # what is drawn, not the numbering: a claim running the same runs links this figure
        key = ["rate", f"{name}, {group}",
               [(compact(e.get("instance")), fit["plot"], _fit_key(fit)) for _, e, fit in shown]]
        caption = (
            f"*{name} against tau in log-log ({group}): samples (markers) and the fitted form on "
            "its window (line); below, local exponents -d log v / d log tau per half-decade of the "
            "data (markers; hollow outside the fitting window) and of the fit (line).*"
            + _shown(len(shown), len(fits), "fits")
        )
        out.append(ctx.figure_once(f"rate-{_safe(name)}-{tag}", key,
                                   lambda c=curves, t=title, q=name: figures.rate_figure(c, q, t),
                                   f"{name[:1].upper()}{name[1:]} against tau, {group}",
                                   caption))
    if not names and hooks.hooks_for(ctx.claim).generic_figures:
        series = [(n, e) for n, e in entries if _has_columns(e, "tau", "loss")]
        if series:
            picked = sorted(series[:MAX_CURVES], key=lambda x: x[0])
            labels, shared = _curve_labels(ctx, picked)
            shown = [(n, labels[n], *_columns(e, "tau", "loss")) for n, e in picked]
            title = _title(ctx, "loss against tau", group, shared)
            caption = (f"*Loss against tau in log-log ({group}); no rate was fitted.*"
                       + _shown(len(shown), len(series), "instances"))
            out.append(ctx.figure_once(f"loss-{tag}", ["loss", f"loss, {group}", shown],
                                       lambda: figures.loss_figure(shown, "loss", title),
                                       f"Loss against tau, {group}", caption))
    return out


def _fit_key(fit: Mapping[str, Any]) -> list[Any]:
    return [fit.get(k) for k in ("classification", "exponent", "log_power", "ratio")]


def _distance_figures(ctx: ClaimContext, entries: list[Numbered], group: str,
                      tag: str) -> list[str]:
    from scoreclaims.reports import figures

    picked = []
    for n, e in entries:
        rows = e.get("trajectory") or []
        if rows and "tau" in rows[0] and any(c.startswith("dist_") for c in rows[0]):
            picked.append((n, e))
    if not picked:
        return []
    chosen = sorted(picked[:MAX_PANELS], key=lambda x: x[0])
    labels, shared = _curve_labels(ctx, chosen)
    shown = []
    for n, e in chosen:
        rows = e["trajectory"]
        dist_cols = [c for c in rows[0] if c.startswith("dist_")]
        shown.append((n, _wrap(labels[n].replace("\n", " "), 40), [r.get("tau") for r in rows],
                      {c: [r.get(c) for r in rows] for c in dist_cols}))
    title = _title(ctx, "distance of each mean to the truth", group, shared)
    caption = (f"*Distance of each mean to the truth against tau ({group}; symlog tau axis, so "
               "tau = 0 is shown).*" + _shown(len(shown), len(picked), "instances"))
    return [ctx.figure_once(f"distances-{tag}", ["distances", group, shown],
                            lambda: figures.distances_figure(shown, title),
                            f"Distances of each mean, {group}", caption)]


def _has_columns(entry: Mapping[str, Any], *cols: str) -> bool:
    rows = entry.get("trajectory") or []
    return bool(rows) and all(c in rows[0] for c in cols)


def _columns(entry: Mapping[str, Any], *cols: str) -> tuple[list[Any], ...]:
    rows = entry.get("trajectory") or []
    return tuple([r.get(c) for r in rows] for c in cols)


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in name)


def _counterexample_number(ctx: ClaimContext) -> int | None:
    example = ctx.claim.get("counterexample")
    if not example or not ctx.claim.get("search") or not ctx.claim["search"].get(
            "shrunk_counterexample"):
        return None
    for number, e in ctx.numbered():
        if e.get("instance") == example.get("instance"):
            return number
    return None


# ------------------------------------------------------------------ claim metrics


def _claim_metrics(ctx: ClaimContext) -> str:
    """The claim's short metrics as a table; the nested ones (and all of them) in a JSON file."""
    metrics = ctx.claim.get("metrics") or {}
    items = _metric_items(metrics)
    nested = _nested_metrics(metrics)
    if not items and not nested:
        return ""
    text = "**Claim metrics:** " + "; ".join(f"{code(k)} = {v}" for k, v in items) + "."
    if nested:
        own = {k: v for k, v in metrics.items() if k not in FRAMEWORK_METRICS}
        path = ctx.json_file("metrics", own)
        where = f"[{path}]({path})"
        names = ", ".join(code(k) for k in nested)
        text = (text + f" All of them, with the nested ones ({names}): {where}." if items
                else f"**Claim metrics** (nested: {names}): {where}.")
    return text


# ------------------------------------------------------------------ footer


def _footer(doc: Mapping[str, Any]) -> str:
    env = doc["environment"]
    summary = doc["summary"]
    git = env.get("git")
    if git:
        commit = code(str(git.get("commit"))) + (
            " **with uncommitted changes**" if git.get("dirty") else " (clean)"
        )
    else:
        commit = "unknown (not a git checkout)"
    precision = env.get("precision") or {}
    seeds = env.get("seeds") or {}
    if seeds.get("derandomized"):
        seed_text = "hypothesis derandomised (a fixed seed per claim)"
    elif seeds.get("hypothesis") is not None:
        seed_text = f"hypothesis seed {seeds['hypothesis']}"
    else:
        seed_text = "hypothesis random seed"
    if env.get("example_database"):
        seed_text += f", example database {code(str(env['example_database']))}"
    rows = [
        ("Profile", f"{doc.get('profile', '?')} (budget {_seconds(summary.get('budget_s'))}, "
                    f"took {_seconds(summary.get('wall_time_s'))})"),
        ("Git commit", commit),
        ("Code version (source hash)", code(str(env.get("code_version", "?")))),
        ("Python", f"{env.get('python', '?')} ({env.get('implementation', '?')})"),
        ("Platform", f"{env.get('platform', '?')}, {env.get('cpu_count', '?')} CPUs"),
        ("Floating point", str(precision.get("float", "?"))),
        ("mpmath", f"precision {precision.get('mp_prec', '?')} bits, backend "
                   f"{precision.get('mpmath_backend', '?')}"),
        ("Seeds", seed_text),
        ("Cache", code(str(env["cache"])) if env.get("cache") else "not used (--no-cache)"),
        ("Started", str(env.get("started_at", "?"))),
    ]
    versions = env.get("versions") or {}
    command = env.get("command_line") or []
    cmd = shlex.join(str(a) for a in command) if command else "?"
    return "\n\n".join(
        [
            "## Reproducibility",
            table(["Setting", "Value"], rows),
            "Versions: " + ", ".join(f"{k} {v if v is not None else '(not installed)'}"
                                     for k, v in versions.items()) + ".",
            f"Command line:\n\n```sh\n{cmd}\n```",
            f"Regenerate this report from its results: `scoreclaims report {RESULTS_NAME} --out "
            "DIR`.",
        ]
    )


def _seconds(value: Any) -> str:
    s = as_float(value)
    if s is None:
        return "–"
    if s < 10:
        return f"{s:.2f} s"
    if s < 600:
        return f"{s:.0f} s"
    return f"{s / 60:.1f} min"
