"""Render a results JSON (``scoreclaims verify --json``) into DIR/REPORT.md with figures and CSVs.

Layout of DIR::

    REPORT.md              summary table, findings, a section per claim, reproducibility footer
    results.json           a byte copy of the results rendered
    figures/<claim>-*.png  rate fits (log-log, fitted curve, local exponents), distances, hooks
    trajectories/<claim>-<n>.csv  trajectory of every failing, erroring or counterexample instance

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
import shlex
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scoreclaims.reports import hooks
from scoreclaims.reports.hooks import FIGURES_DIR, TRAJECTORIES_DIR, ClaimContext
from scoreclaims.reports.markdown import (
    Slugs,
    as_float,
    blockquote,
    code,
    compact,
    fmt,
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
RESULTS_NAME = "results.json"
MAX_CURVES = 6  # instances per rate figure
MAX_PANELS = 6  # instances per distances figure
MAX_INLINE_TRAJECTORIES = 12  # failing instances with rows inline, per claim
EDGE_ROWS = 3  # first and last rows shown inline
MAX_INLINE_COLUMNS = 9
INSTANCE_CHARS = 70
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
    try:
        for rel, data in sorted(report.assets.items()):
            target = out / rel
            target.parent.mkdir(exist_ok=True)
            _write_bytes(target, data)
        copy = out / RESULTS_NAME
        if not (copy.exists() and os.path.samefile(copy, results_json_path)):
            _write_bytes(copy, raw)
        _write_bytes(out / REPORT_NAME, report.markdown.encode("utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot write the report into {str(out)!r}: {exc}") from None
    _remove_stale(out, set(report.assets))
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


def _remove_stale(out: Path, keep: set[str]) -> None:
    """Delete figures and CSVs an earlier report left that this one does not reference."""
    for sub, suffix in ((FIGURES_DIR, ".png"), (TRAJECTORIES_DIR, ".csv")):
        folder = out / sub
        if folder.is_dir():
            for f in folder.iterdir():
                if f.suffix == suffix and f"{sub}/{f.name}" not in keep:
                    f.unlink(missing_ok=True)


# ------------------------------------------------------------------ rendering


def render(document: Mapping[str, Any]) -> Report:
    """The report of a results document (validated by `load_results`)."""
    hooks.load_modules()
    assets: dict[str, bytes] = {}
    drawn: dict[str, tuple[str, str]] = {}
    claims = list(document["claims"])
    slugs = Slugs()
    for heading in (TITLE, "Summary", "Findings"):
        slugs(heading)
    anchors = {c["id"]: slugs(_heading(c)) for c in claims}
    parts = [
        _header(document),
        _summary(document, claims, anchors),
        _findings(document, claims),
        *(_claim_section(c, ClaimContext(c, assets, drawn)) for c in claims),
        _footer(document),
    ]
    return Report("\n\n".join(p.strip("\n") for p in parts if p) + "\n", assets)


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
            "reported apart, never part of a verdict.",
        ]
    )


# ------------------------------------------------------------------ summary


def _summary(doc: Mapping[str, Any], claims: Sequence[Mapping[str, Any]],
             anchors: Mapping[str, str]) -> str:
    if not claims:
        return "## Summary\n\nNo claims in this results file."
    rows = []
    for c in claims:
        rows.append(
            [
                f"[{code(c['id'])}](#{anchors[c['id']]})",
                c.get("paper_ref", ""),
                c.get("regime", ""),
                _verdict_text(c),
                _counts_text(c.get("in_hypotheses", {})),
                _exploration_text(c.get("exploration", {})),
                _key_figures(c),
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


def _key_figures(claim: Mapping[str, Any]) -> str:
    hook = hooks.hooks_for(claim).key_figures
    if hook is not None:
        return hook(claim)
    parts = [_rate_summary(name, fits) for name, fits in _rates_by_name(claim, inside=True).items()]
    parts += [f"{k} = {v}" for k, v in _metric_items(claim.get("metrics") or {})[:3]]
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


def _rate_summary(name: str, values: Sequence[Any]) -> str:
    fits = [v for v in values if _is_fit(v)]
    if not fits:
        nums = [f for v in values if (f := as_float(v)) is not None and math.isfinite(f)]
        if not nums:
            return ""
        return f"{name} = {fmt(nums[0])}" if len(set(nums)) == 1 else (
            f"{name} in [{fmt(min(nums))}, {fmt(max(nums))}] ({len(nums)} instances)"
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
        span = fmt(lo) if fmt(lo) == fmt(hi) else f"{fmt(lo)}…{fmt(hi)}"
        text += f", {label} {span}"
        if cis:
            text += f" (CIs within [{fmt(min(c[0] for c in cis))}, {fmt(max(c[1] for c in cis))}])"
    return text


def _metric_items(metrics: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(name, value with uncertainty) of the claim's own metrics (not the framework counts)."""
    items = []
    for key, value in metrics.items():
        if key in FRAMEWORK_METRICS or key.endswith(("_ci", "_se")):
            continue
        if isinstance(value, (dict, list)) and not (
            isinstance(value, list) and len(value) <= 4 and all(as_float(v) is not None
                                                                 for v in value)
        ):
            items.append((key, compact(value, 80)))
            continue
        items.append((key, with_ci(value, metrics.get(f"{key}_ci"), metrics.get(f"{key}_se"))))
    return items


# ------------------------------------------------------------------ findings


def _findings(doc: Mapping[str, Any], claims: Sequence[Mapping[str, Any]]) -> str:
    """Mismatches first, then the variants, the claims' own findings, and the exploration."""
    if not claims:
        return ""
    bullets: list[str] = []
    for c in claims:
        if not c.get("variant_of") and not c.get("matches_expectation"):
            bullets.append(
                f"{code(c['id'])} ({c.get('paper_ref', '')}) was "
                + ("registered as undecidable" if c["expected"] == "undecidable"
                   else "expected to hold")
                + f" but is **{c['verdict']}**: {c.get('reason', '')}"
            )
    variants = [c for c in claims if c.get("variant_of")]
    missed = [c for c in variants if c["verdict"] != "fail"]
    if variants and not missed:
        lead = (f"All {len(variants)} known-false variants were" if len(variants) > 1
                else "The known-false variant was")
        bullets.append(
            f"{lead} rejected: each fails on at least one instance inside its hypotheses, so the "
            "checks tell the false statements from the claims."
        )
    for c in missed:
        bullets.append(
            f"Known-false variant {code(c['id'])} was **not rejected** (verdict {c['verdict']}): "
            f"the checks of {code(str(c['variant_of']))} cannot tell it apart. "
            + str(c.get("reason", ""))
        )
    for c in claims:
        own = (c.get("metrics") or {}).get("findings")
        items = [own] if isinstance(own, str) else list(own or [])
        hook = hooks.hooks_for(c).findings
        if hook is not None:
            items += list(hook(c))
        bullets += [f"{code(c['id'])}: {text}" for text in items]
    for c in claims:
        exploration = c.get("exploration") or {}
        beyond = exploration.get("instances") or 0
        if c.get("variant_of") or not beyond:
            continue
        if exploration.get("verdict") == "pass":
            bullets.append(
                f"{code(c['id'])}: the conclusions also hold on all {beyond} instances checked "
                "beyond the hypotheses: there the hypotheses look stronger than needed."
            )
        elif exploration.get("verdict") == "fail":
            failed = (exploration.get("counts") or {}).get("fail", 0)
            bullets.append(
                f"{code(c['id'])}: beyond the hypotheses the conclusions fail on {failed} of "
                f"{beyond} instances explored."
            )
    return "## Findings\n\n" + "\n".join(f"- {b}" for b in bullets)


# ------------------------------------------------------------------ claim sections


def _claim_section(claim: Mapping[str, Any], ctx: ClaimContext) -> str:
    expected = EXPECTED_VERDICT[claim["expected"]]
    match = "✓ as expected" if claim.get("matches_expectation") else "**✗ MISMATCH**"
    parts = [
        f"## {_heading(claim)}",
        f"**Verdict: {claim['verdict']}**, expected {expected} ({claim['expected']}): {match}. "
        f"Wall time {_seconds(claim.get('wall_time_s'))}.\n\nReason: {claim.get('reason', '')}",
        _statement(claim),
        _checked(claim),
        _instances(ctx, inside=True),
        _instances(ctx, inside=False),
        _rate_table(ctx),
        _figures(ctx),
        _counterexamples(ctx),
        _claim_metrics(claim),
    ]
    hook = hooks.hooks_for(claim).section
    if hook is not None:
        parts.append(hook(ctx))
    return "\n\n".join(p.strip("\n") for p in parts if p)


def _statement(claim: Mapping[str, Any]) -> str:
    text = claim["statement_md"]
    plain = text.replace("*", "")
    marks = [f"{m} {why}" for m, why in MARKS.items() if m in plain]
    out = "### Statement\n\n" + blockquote(text)
    if marks:
        out += "\n\nProvenance marks: " + "; ".join(marks) + "."
    return out


def _checked(claim: Mapping[str, Any]) -> str:
    lines = ["### What was checked", ""]
    lines.append(f"- **Hypotheses:** {claim.get('hypotheses', '?')}")
    conclusions = claim.get("conclusions") or {}
    lines.append("- **Conclusions**, each checked on every instance:")
    lines += [f"  - {code(name)}: {desc}" for name, desc in conclusions.items()]
    params = claim.get("parameters") or {}
    if params:
        lines.append(
            "- **Parameters:** " + ", ".join(f"{code(k)} = {fmt(v)}" for k, v in params.items())
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
            text += f"; minimal counterexample {code(compact(shrunk, 120))}"
            if search.get("shrink_budget_exhausted"):
                text += " (shrink budget exhausted: it may not be minimal)"
        if search.get("error"):
            text += f"; **search error:** {search['error']}"
        lines.append(text + ".")
    return "\n".join(lines)


def _label(number: int, entry: Mapping[str, Any]) -> str:
    return f"#{number}" + ("" if entry.get("in_hypotheses") else " (beyond)")


def _instances(ctx: ClaimContext, inside: bool) -> str:
    entries = list(ctx.numbered(inside))
    claim = ctx.claim
    if inside:
        title = "### Instances inside the hypotheses"
        intro = f"These decide the verdict (**{claim['verdict']}**)."
    else:
        if not entries:
            return ""
        title = "### Instances beyond the hypotheses (exploration)"
        verdict = (claim.get("exploration") or {}).get("verdict")
        intro = (f"Exploration verdict **{verdict}**; these instances never enter the claim's "
                 "verdict.")
    if not entries:
        return f"{title}\n\nNone were checked."
    counterexample = _counterexample_number(ctx)
    rows = []
    for number, e in entries:
        mark = " (minimal counterexample)" if number == counterexample else ""
        rows.append(
            [
                f"{number}",
                code(compact(e.get("instance"), INSTANCE_CHARS)),
                e.get("source", ""),
                f"**{e.get('verdict')}**{mark}",
                _predicates_text(e.get("predicates") or {}),
                _metrics_text(e.get("metrics") or {}),
                _seconds(e.get("wall_time_s")),
            ]
        )
    out = f"{title}\n\n{intro}\n\n" + table(
        ["#", "Instance", "Source", "Verdict", "Conclusions", "Metrics", "Time"], rows,
        align="rlllllr",
    )
    notes = [f"- #{n}: {e['notes']}" for n, e in entries if e.get("notes")]
    notes += [f"- #{n}: warning: {w}" for n, e in entries for w in e.get("warnings") or []]
    if notes:
        out += "\n\n" + "\n".join(notes)
    return out


def _predicates_text(predicates: Mapping[str, Any]) -> str:
    parts = []
    for name, result in predicates.items():
        holds = result.get("holds") if isinstance(result, dict) else result
        if holds == NOT_APPLICABLE:
            parts.append(f"{name} n/a")
            continue
        mark = {True: "✓", False: "✗", None: "?"}.get(holds, "?")
        detail = result.get("detail", "") if isinstance(result, dict) else ""
        parts.append(f"{name} {mark}" + (f" ({detail})" if detail and holds is not True else ""))
    return "; ".join(parts) or "–"


def _metrics_text(metrics: Mapping[str, Any], limit: int = 4) -> str:
    items = [f"{k} = {fmt(v)}" for k, v in metrics.items() if not isinstance(v, (dict, list))]
    extra = len(metrics) - min(len(items), limit)
    text = ", ".join(items[:limit])
    return text + (f", … (+{extra})" if extra > 0 else "") if text else "–"


def _rate_table(ctx: ClaimContext) -> str:
    """Fitted rates, inside and beyond the hypotheses in separate tables."""
    blocks, reasons, levels = [], [], set()
    for inside in (True, False):
        rows = []
        for number, e in ctx.numbered(inside):
            for name, fit in (e.get("rates") or {}).items():
                if not _is_fit(fit):
                    rows.append([f"#{number}", name, "value", fmt(fit), None, None, "–", "–"])
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
        note += ("\n\n<details>\n<summary>Why each form was chosen</summary>\n\n"
                 + "\n".join(reasons) + "\n\n</details>")
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


def _figures(ctx: ClaimContext) -> str:
    out: list[str] = []
    for inside in (True, False):
        group = "inside the hypotheses" if inside else "beyond the hypotheses (exploration)"
        tag = "inside" if inside else "beyond"
        entries = _priority(ctx.numbered(inside))
        out += _rate_figures(ctx, entries, group, tag)
        out += _distance_figures(ctx, entries, group, tag)
    return "### Figures\n\n" + "\n\n".join(out) if out else ""


def _rate_figures(ctx: ClaimContext, entries: list[Numbered], group: str,
                  tag: str) -> list[str]:
    from scoreclaims.reports import figures

    out = []
    names: list[str] = []
    for _, e in entries:
        names += [n for n, f in (e.get("rates") or {}).items() if _is_fit(f) and n not in names]
    for name in names:
        fits = [(n, _label(n, e), e["rates"][name]) for n, e in entries
                if _is_fit((e.get("rates") or {}).get(name)) and e["rates"][name].get("plot")]
        if not fits:
            continue
        shown = sorted(fits[:MAX_CURVES], key=lambda x: x[0])
        title = f"{name}, {group}"
        key = ["rate", title, [(n, label, fit["plot"], _fit_key(fit)) for n, label, fit in shown]]
        caption = (
            f"*{name} against tau in log-log ({group}): samples (markers) and the fitted form on "
            "its window (line); below, local exponents -d log v / d log tau per half-decade of the "
            "data (markers; hollow outside the fitting window) and of the fit (line).*"
            + _shown(len(shown), len(fits), "fits")
        )
        out.append(ctx.figure_once(f"rate-{_safe(name)}-{tag}", key,
                                   lambda s=shown, t=title, q=name: figures.rate_figure(s, q, t),
                                   f"{name[:1].upper()}{name[1:]} against tau, {group}",
                                   caption))
    if not names:
        series = [(n, _label(n, e), *_columns(e, "tau", "loss")) for n, e in entries
                  if _has_columns(e, "tau", "loss")]
        if series:
            shown = sorted(series[:MAX_CURVES], key=lambda x: x[0])
            title = f"loss, {group}"
            caption = (f"*Loss against tau in log-log ({group}); no rate was fitted.*"
                       + _shown(len(shown), len(series), "instances"))
            out.append(ctx.figure_once(f"loss-{tag}", ["loss", title, shown],
                                       lambda: figures.loss_figure(shown, "loss", title),
                                       f"Loss against tau, {group}", caption))
    return out


def _fit_key(fit: Mapping[str, Any]) -> list[Any]:
    return [fit.get(k) for k in ("classification", "exponent", "log_power", "ratio")]


def _distance_figures(ctx: ClaimContext, entries: list[Numbered], group: str,
                      tag: str) -> list[str]:
    from scoreclaims.reports import figures

    panels = []
    for n, e in entries:
        rows = e.get("trajectory") or []
        if not rows or "tau" not in rows[0]:
            continue
        dist_cols = [c for c in rows[0] if c.startswith("dist_")]
        if dist_cols:
            tau = [r.get("tau") for r in rows]
            panels.append((n, _label(n, e), tau, {c: [r.get(c) for r in rows] for c in dist_cols}))
    if not panels:
        return []
    shown = sorted(panels[:MAX_PANELS], key=lambda x: x[0])
    title = f"distance of each mean to the truth, {group}"
    caption = (f"*Distance of each mean to the truth against tau ({group}; symlog tau axis, so "
               "tau = 0 is shown).*" + _shown(len(shown), len(panels), "instances"))
    return [ctx.figure_once(f"distances-{tag}", ["distances", title, shown],
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


def _counterexamples(ctx: ClaimContext) -> str:
    failing = [(n, e) for n, e in ctx.numbered() if e.get("verdict") in ("fail", "error")]
    extra = ctx.claim.get("counterexample")
    if extra and not any(e.get("instance") == extra.get("instance") for _, e in failing):
        failing.append((0, extra))  # a counterexample not among the instances (defensive)
    if not failing:
        return ""
    minimal = _counterexample_number(ctx)
    blocks = []
    for k, (number, e) in enumerate(failing):
        label = _label(number, e) if number else "counterexample"
        if number and number == minimal:
            label += " (minimal counterexample of the search)"
        instance = compact(e.get("instance"))
        shown = code(instance) if len(instance) <= 120 else f"\n\n```json\n{instance}\n```\n"
        head = f"**{label}**, {e.get('verdict')}: {shown}\n\n{e.get('reason', '')}"
        rows = e.get("trajectory") or []
        if rows:
            columns = list(rows[0])
            path = ctx.csv(str(number or "counterexample"), columns,
                           [[r.get(c) for c in columns] for r in rows])
            total = e.get("trajectory_rows", len(rows))
            thinned = (f"{len(rows)} of {total} recorded rows (the results file thins long "
                       "trajectories, keeping the first and last)") if total > len(rows) else (
                f"all {len(rows)} recorded rows")
            head += f"\n\nTrajectory: [{path}]({path}), {thinned}."
            if k < MAX_INLINE_TRAJECTORIES:
                head += "\n\n" + _edge_rows(rows, columns)
        elif e.get("verdict") == "fail":
            head += "\n\nNo trajectory was recorded for this instance."
        if e.get("traceback"):
            head += ("\n\n<details>\n<summary>Traceback</summary>\n\n```text\n"
                     + e["traceback"].rstrip() + "\n```\n\n</details>")
        blocks.append(head)
    if len(failing) > MAX_INLINE_TRAJECTORIES:
        blocks.append(f"Rows are shown inline for the first {MAX_INLINE_TRAJECTORIES} only; every "
                      "trajectory is linked.")
    intro = ""
    if any(e.get("trajectory") for _, e in failing):
        intro = ("First and last rows of each trajectory inline; the linked CSV holds every row "
                 "of the results file.\n\n")
    return "### Failing instances and counterexample trajectories\n\n" + intro + "\n\n".join(
        blocks)


def _edge_rows(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    shown = _inline_columns(columns)
    picks = list(range(len(rows)))
    gap = len(rows) > 2 * EDGE_ROWS
    if gap:
        picks = picks[:EDGE_ROWS] + picks[-EDGE_ROWS:]
    body: list[list[str]] = []
    for i, r in enumerate(picks):
        if gap and i == EDGE_ROWS:
            body.append(["…"] * len(shown))
        body.append([fmt(rows[r].get(c), 6) for c in shown])
    text = table(shown, body, align="r" * len(shown))
    hidden = len(columns) - len(shown)
    if hidden:
        text += f"\n\n({hidden} more columns in the CSV.)"
    return text


def _inline_columns(columns: Sequence[str]) -> list[str]:
    if len(columns) <= MAX_INLINE_COLUMNS:
        return list(columns)
    preferred = [c for c in columns if c in ("tau", "loss", "grad_norm")]
    preferred += [c for c in columns if c.startswith("dist_")]
    rest = [c for c in columns if c not in preferred and not c.startswith("mu_")]
    chosen = (preferred + rest)[:MAX_INLINE_COLUMNS]
    return [c for c in columns if c in chosen]


def _claim_metrics(claim: Mapping[str, Any]) -> str:
    items = _metric_items(claim.get("metrics") or {})
    if not items:
        return ""
    return "### Claim metrics\n\n" + table(["Metric", "Value"], items)


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
