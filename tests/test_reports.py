"""Reports: golden REPORT.md, links and images, markdown rendering, determinism, hooks, CLI errors.

The golden results (tests/data/report_synthetic/results.json) come from running the claim
framework on the small synthetic claims below, with wall times and environment fixed. Regenerate
both golden files after an intended change with::

    SCORECLAIMS_UPDATE_GOLDEN=1 pytest tests/test_reports.py -k golden
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import sys
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from scoreclaims.claims import registry
from scoreclaims.claims.cli.main import main
from scoreclaims.claims.model import Claim, Domain, InstanceOutcome, Predicate
from scoreclaims.claims.registry import Registry
from scoreclaims.claims.results import environment, results_document
from scoreclaims.claims.runner import RunOptions, verify
from scoreclaims.reports import figures, hooks, render
from scoreclaims.reports.figures import new_figure, styled
from scoreclaims.reports.hooks import ClaimContext, ClaimHooks
from scoreclaims.reports.markdown import Slugs, cell, code, fmt, github_slug, table
from scoreclaims.reports.render import load_results, write_report
from scoreclaims.verifiers.errors import UsageError
from scoreclaims.verifiers.rates import fit_rates

GOLDEN = Path(__file__).parent / "data" / "report_synthetic"
UPDATE = os.environ.get("SCORECLAIMS_UPDATE_GOLDEN") == "1"

# ---------------------------------------------------------------- synthetic claims

TAUS = np.array([0] + [2**k for k in range(15)], dtype=float)


def trajectory(dists: np.ndarray, loss: np.ndarray) -> pd.DataFrame:
    """A frame shaped like the engine's: tau, loss, errors, grad norm, means (d = 1), distances."""
    n = dists.shape[0]
    frame = {"tau": TAUS.astype(np.int64), "loss": loss, "loss_error": loss * 1e-12,
             "grad_norm": 2 * np.sqrt(loss), "grad_error": np.sqrt(loss) * 1e-12}
    frame |= {f"mu_{i}_0": dists[i] for i in range(n)}
    frame |= {f"dist_{i}": dists[i] for i in range(n)}
    return pd.DataFrame(frame)


def run_decay(instance: Mapping[str, Any], params: Mapping[str, Any]) -> InstanceOutcome:
    """Loss a (1 + tau)^-p with p = 1 for a <= 1 and 1/4 beyond; n means share the distance."""
    a, n = instance["a"], instance["n"]
    p = 1.0 if a <= 1 else 0.25
    loss = a * (1 + TAUS) ** -p
    dists = np.array([np.sqrt(loss) * (i + 1) / n for i in range(n)])
    fit = fit_rates(TAUS, loss).to_dict()
    return InstanceOutcome(metrics={"final_loss": float(loss[-1]), "n": n},
                           trajectory=trajectory(dists, loss), rates={"loss": fit})


def rate_at_least(outcome: InstanceOutcome, params: Mapping[str, Any]) -> tuple[bool | None, str]:
    fit = outcome.rates["loss"]
    if fit["exponent"] is None:
        return None, "no rate"
    return fit["exponent"] >= params["p_min"] - params["slack"], (
        f"p = {fit['exponent']:.4g} vs {params['p_min']}")


def summarize_decay(results: list[Any]) -> dict[str, Any]:
    inside = [r for r in results if r.in_hypotheses]
    worst = min(inside, key=lambda r: r.rates["loss"]["exponent"])
    return {"worst_exponent": worst.rates["loss"]["exponent"],
            "worst_exponent_ci": worst.rates["loss"]["exponent_ci"],
            "findings": ["the fitted loss exponent (about 1) is sharper than the reported "
                         "O(1/sqrt(tau)) bound."]}


DECAY = Claim(
    id="S.decay",
    paper_ref="Thm S.1",
    regime="large noise",
    statement_md="From `a <= 1` the loss decays as `O(1/sqrt(tau))` (**reported**); the exact "
    "dynamics give `1/tau` (derived).",
    hypotheses=Domain(
        description="0 < a <= 1, n in {2, 3}",
        contains=lambda i: 0 < i["a"] <= 1,
        instances={"quick": [{"a": 0.2, "n": 2}, {"a": 0.8, "n": 3}, {"a": 3.0, "n": 2}]},
    ),
    conclusions=(Predicate("rate", "fitted loss exponent >= p_min - slack", rate_at_least),),
    run=run_decay,
    parameters={"p_min": 0.5, "slack": 0.01},
    summarize=summarize_decay,
)
DECAY_FAST = DECAY.variant(
    "fast", "The loss decays as `O(tau^-2)` (derived); deliberately too fast.",
    parameters={"p_min": 2.0, "slack": 0.01}, summarize=None,
)


def run_threshold(instance: Mapping[str, Any], params: Mapping[str, Any]) -> InstanceOutcome:
    """Mean 0 converges; the other two converge when eps <= 1/2 and diverge otherwise."""
    eps = instance["eps"]
    growth = params["growth"] if eps > 0.5 else -0.5
    dists = np.array([1 / (1 + TAUS), (1 + eps) * (1 + TAUS) ** growth,
                      2 * (1 + TAUS) ** growth])
    loss = 1 / (1 + TAUS) ** 2
    return InstanceOutcome(metrics={"max_final_distance": float(dists[:, -1].max())},
                           trajectory=trajectory(dists, loss))


THRESHOLD = Claim(
    id="S.threshold",
    paper_ref="Thm S.2",
    regime="low noise",
    statement_md="For every `eps <= 1` all three means converge (reported).",
    hypotheses=Domain(
        description="0 <= eps <= 1",
        contains=lambda i: 0 <= i["eps"] <= 1,
        instances={"quick": [{"eps": 0.1}, {"eps": 0.3}, {"eps": 2.0}]},
        strategy=st.fixed_dictionaries({"eps": st.floats(0, 1)}),
        search_examples={"quick": 20},
        max_shrinks=30,
    ),
    conclusions=(
        Predicate("converge", "every final distance <= tol",
                  lambda o, p: (o.metrics["max_final_distance"] <= p["tol"],
                                f"max distance {o.metrics['max_final_distance']:.3g}")),
    ),
    run=run_threshold,
    parameters={"tol": 0.05, "growth": 0.25},
)


def run_broken(instance: Mapping[str, Any], params: Mapping[str, Any]) -> InstanceOutcome:
    raise RuntimeError("engine exploded")


BROKEN = Claim(
    id="S.broken",
    paper_ref="Lemma S.3",
    regime="any",
    statement_md="Anything at all (derived).",
    hypotheses=Domain(description="all", contains=lambda i: True, instances={"quick": [{"k": 1}]}),
    conclusions=(Predicate("never", "not reached", lambda o, p: True),),
    run=run_broken,
)

SYNTHETIC = (DECAY, DECAY_FAST, THRESHOLD, BROKEN)


@styled
def _boundary_figure(eps: list[float], dist: list[float]) -> Any:
    fig, ax = new_figure(5, 3)
    ax.semilogy(eps, dist, "o")
    ax.set_xlabel("eps")
    ax.set_ylabel("max final distance")
    return fig


def threshold_section(ctx: ClaimContext) -> str:
    """A claim-specific section: a phase-boundary plot and a table."""
    points = sorted((e["instance"]["eps"], e["metrics"]["max_final_distance"], n)
                    for n, e in ctx.numbered() if "max_final_distance" in e["metrics"])
    image = ctx.figure("phase-boundary", _boundary_figure([p[0] for p in points],
                                                           [p[1] for p in points]),
                       "phase boundary in eps")
    rows = [(f"#{n}", fmt(eps), fmt(d)) for eps, d, n in points]
    return "### Phase boundary\n\n" + image + "\n\n" + table(["#", "eps", "distance"], rows)


THRESHOLD_HOOKS = ClaimHooks(key_figures=lambda c: "boundary eps* = 0.5",
                             findings=lambda c: ["the boundary sits at eps = 1/2."],
                             section=threshold_section)


@pytest.fixture
def with_hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(hooks.REGISTRY, "S.threshold", THRESHOLD_HOOKS)


def run_synthetic() -> dict[str, Any]:
    """The results document of the synthetic claims (derandomised, no cache)."""
    options = RunOptions(profile="quick", derandomize=True)
    results = verify(SYNTHETIC, options)
    env = environment(options, ["scoreclaims", "verify", "--derandomize", "--json", "r.json"])
    return json.loads(json.dumps(results_document(results, env, 1.5), allow_nan=False))


def normalise(doc: dict[str, Any]) -> dict[str, Any]:
    """Fix what varies between runs (wall times, environment) so the golden file is stable."""
    counter = iter(range(1, 10_000))

    def walk(obj: Any) -> Any:
        if isinstance(obj, dict):
            return {k: (round(0.0125 * next(counter), 4) if k == "wall_time_s" else walk(v))
                    for k, v in obj.items()}
        if isinstance(obj, list):
            return [walk(v) for v in obj]
        return obj

    doc = walk(doc)
    doc["summary"]["wall_time_s"] = 1.5
    doc["environment"].update(
        python="3.11.7", implementation="CPython", platform="Linux-x86_64", cpu_count=2,
        versions={"scoreclaims": "0.1.0", "numpy": "2.4.6", "scipy": "1.17.1", "pandas": "3.1.1",
                  "mpmath": "1.4.1", "gmpy2": "2.3.2", "python-flint": "0.9.0",
                  "hypothesis": "6.170.15"},
        precision={"float": "float64", "mp_prec": 53, "mpmath_backend": "gmpy"},
        code_version="0123456789abcdef", git={"commit": "f" * 40, "dirty": False},
        cache=None, started_at="2026-01-01T00:00:00+00:00",
    )
    for claim in doc["claims"]:
        for entry in [*claim["instances"], claim.get("counterexample") or {}]:
            if entry.get("traceback"):
                entry["traceback"] = re.sub(r'File "[^"]*/', 'File "', entry["traceback"])
    return doc


@pytest.fixture(scope="module")
def golden_json() -> Path:
    path = GOLDEN / "results.json"
    if UPDATE:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        doc = normalise(run_synthetic())
        path.write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n")
    return path


@pytest.fixture(scope="module")
def rendered(golden_json: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The golden results rendered once (with the threshold hooks) for the read-only tests."""
    out = tmp_path_factory.mktemp("report") / "rep"
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(hooks.REGISTRY, "S.threshold", THRESHOLD_HOOKS)
        write_report(golden_json, out)
    return out


def html_of(md: str) -> str:
    return MarkdownIt("commonmark", {"html": True}).enable("table").render(md)


# ---------------------------------------------------------------- golden and determinism


def test_golden_report(rendered: Path) -> None:
    text = (rendered / "REPORT.md").read_text(encoding="utf-8")
    if UPDATE:
        (GOLDEN / "REPORT.md").write_text(text, encoding="utf-8")
    assert text == (GOLDEN / "REPORT.md").read_text(encoding="utf-8")


def test_deterministic_bytes(golden_json: Path, rendered: Path, tmp_path: Path,
                             with_hooks: None) -> None:
    first, second = rendered, tmp_path / "b"
    write_report(golden_json, second)

    def files(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}

    a, b = files(first), files(second)
    assert a.keys() == b.keys() and a == b  # REPORT.md, every PNG and CSV byte for byte
    assert (first / "results.json").read_bytes() == golden_json.read_bytes()
    assert any(k.endswith(".png") for k in a) and any(k.endswith(".csv") for k in a)


# ---------------------------------------------------------------- what the report says


def test_links_and_images_exist(rendered: Path) -> None:
    md = (rendered / "REPORT.md").read_text(encoding="utf-8")
    tokens = MarkdownIt("commonmark", {"html": True}).enable("table").parse(md)
    slugs = Slugs()
    anchors: set[str] = set()
    targets: list[str] = []
    for i, tok in enumerate(tokens):
        if tok.type == "heading_open":
            anchors.add(slugs(tokens[i + 1].content))
        for child in tok.children or []:
            if child.type == "link_open":
                targets.append(str(child.attrs["href"]))
            elif child.type == "image":
                targets.append(str(child.attrs["src"]))
    assert len(targets) > 10
    referenced = set()
    for target in targets:
        assert "://" not in target and not target.startswith("/"), target  # relative only
        if target.startswith("#"):
            assert target[1:] in anchors, target
        else:
            assert (rendered / target).is_file(), target
            referenced.add(target)
    on_disk = {str(p.relative_to(rendered)) for p in rendered.rglob("*") if p.is_file()}
    assert on_disk - referenced == {"REPORT.md", ".report-files.json"}  # no orphan file


def test_markdown_renders_tables_and_images(rendered: Path) -> None:
    md = (rendered / "REPORT.md").read_text(encoding="utf-8")
    html = html_of(md)
    pngs = sorted(str(p.relative_to(rendered)) for p in rendered.rglob("*.png"))
    images = re.findall(r'<img src="([^"]+)"', html)
    assert set(images) == set(pngs) and len(pngs) >= 6
    assert "|---" not in html and "| ---" not in html  # every table came through as a table
    summary = html.split("<h2>Summary</h2>")[1].split("</table>")[0]
    rows = re.findall(r"<tr>", summary.split("<tbody>")[1])
    assert len(rows) == len(SYNTHETIC)
    assert html.count("<table>") >= 10
    assert "<details><summary>Traceback of #1</summary>" in html
    # the per-instance detail is folded and its markdown still renders inside the fold
    assert re.search(r"<details><summary>Per-instance detail \(3 instances\).*?</summary>\s*<ul>",
                     html, re.S)


def test_summary_and_findings(rendered: Path) -> None:
    md = (rendered / "REPORT.md").read_text(encoding="utf-8")
    summary = md.split("## Summary")[1].split("## Findings")[0]
    lines = [ln for ln in summary.splitlines() if ln.startswith("| [")]
    assert [re.search(r"\[`([^`]+)`\]", ln)[1] for ln in lines] == [c.id for c in SYNTHETIC]
    decay, fast, threshold, broken = lines
    assert "**pass**" in decay and "✓" in decay and "loss: power" in decay and "p 0.99" in decay
    assert "worst_exponent = 0.99" in decay and "[0.99" in decay  # value with its interval
    assert "1: 1 fail" in decay  # the beyond instance, in its own column
    assert "**fail** (known-false, expected fail) ✓" in fast
    assert "**fail** (expected pass) **✗ mismatch**" in threshold
    assert "boundary eps* = 0.5" in threshold  # from the claim's hook
    assert "**error**" in broken and "mismatch" in broken
    findings = md.split("## Findings")[1].split("\n## ")[0]
    assert "The known-false variant was rejected" in findings
    assert "sharper than the reported" in findings and "boundary sits at eps = 1/2" in findings
    assert findings.index("`S.threshold` (Thm S.2) was expected to hold") < findings.index(
        "The known-false variant")  # mismatches first, the claim's findings under its own
    assert "Beyond the hypotheses the conclusions fail on 1 of 1" in findings
    assert "2 of 4 verdicts do not match" in md.split("## Summary")[0]


def test_findings_name_each_claim_once(rendered: Path) -> None:
    """A claim with several findings has one bullet naming it, the findings under it; a
    finding that starts with its claim's id is not prefixed by it again."""
    md = (rendered / "REPORT.md").read_text(encoding="utf-8")
    findings = md.split("## Findings")[1].split("\n## ")[0]
    top = [ln for ln in findings.splitlines() if ln.startswith("- `")]
    ids = [re.match(r"- `([^`]+)`", ln)[1] for ln in top]
    assert len(ids) == len(set(ids)) and {"S.decay", "S.threshold"} <= set(ids)
    claim = {"id": "T9", "metrics": {"findings": ["T9: a finding", "T9: another one"]}}
    assert render._own_findings(claim) == ["A finding", "Another one"]
    text = render._findings({}, [{**claim, "variant_of": None, "matches_expectation": True,
                                  "expected": "holds", "verdict": "pass", "paper_ref": "Thm 9"}])
    assert text.count("T9") == 1 and "T9: T9" not in text and "`T9`: `T9`" not in text


def test_claim_sections(rendered: Path) -> None:
    md = (rendered / "REPORT.md").read_text(encoding="utf-8")
    sections = dict(re.findall(r"^## (S\.\S+?):.*?\n(.*?)(?=^## )", md, re.M | re.S))
    decay = sections["S.decay"]
    assert "> **Statement.** From `a <= 1` the loss decays" in decay
    assert "**(reported)** from the public" in md.split("## Summary")[0]  # the marks, once
    inside = decay.split("**Inside the hypotheses**")[1].split("**Beyond")[0]
    beyond = decay.split("**Beyond the hypotheses**")[1].split("<details>")[0]
    assert "| a = 0.2, n = 2 |" in inside and "a = 3" not in inside  # never blended
    assert "| a = 3, n = 2 |" in beyond and "(exploration, verdict **fail**)" in beyond
    assert "figures/S.decay-rate-loss-inside.png" in decay
    assert "figures/S.decay-rate-loss-beyond.png" in decay
    assert "figures/S.decay-distances-inside.png" in decay
    assert "### Rate fits" in decay and "Why each form was chosen" in decay
    # The failing beyond instance: its CSV linked from its row and from its detail.
    assert "[CSV](trajectories/S.decay-3.csv)" in beyond
    assert "[trajectories/S.decay-3.csv](trajectories/S.decay-3.csv)" in decay
    # The variant runs its claim's instances: grouped by outcome, its per-instance outcomes
    # (and the trajectory of each failing one) folded into the claim's detail, nothing drawn
    # or tabled twice.
    fast = sections["S.decay~fast"]
    assert "| #1–#2 (S.decay #1–#2) | 2 |" in fast and "| #3 (S.decay #3) | 1 |" in fast
    assert "folded in the section of [`S.decay`](#sdecay-thm-s1-large-noise)" in fast
    assert "figures/" not in fast and "### Rate fits" not in fast and "<details>" not in fast
    detail = decay.split("<details><summary>Per-instance detail")[1].split("</details>")[0]
    assert "`S.decay~fast` #1: **fail**, rate ✗ (p = 0.9995 vs 2.0), trajectory " \
           "[trajectories/S.decay-fast-1.csv]" in detail
    # the variant's failing beyond instance is the claim's failing run: one CSV, linked twice
    assert "`S.decay~fast` #3: **fail**, rate ✗ (p = 0.2497 vs 2.0), trajectory " \
           "[trajectories/S.decay-3.csv]" in detail
    threshold = sections["S.threshold"]
    assert "**fail** (minimal counterexample)" in threshold and "### Phase boundary" in threshold
    assert "| 4 | eps = 1 | search |" in threshold
    assert "figures/S.threshold-loss-inside.png" in threshold  # no rates: plain loss figure
    assert "Traceback" in sections["S.broken"] and "engine exploded" in sections["S.broken"]


def test_statement_apart_from_the_checking_set_up() -> None:
    text = ("Large noise (Thm 2.1, **(reported)**): GD converges; L <= O(1/sqrt(tau)). Checked "
            "(**(derived)** set-up): canonical step; horizon 4096. Expected: tau^-2.")
    statement, setup = render.split_statement(text)
    assert statement == "Large noise (Thm 2.1, **(reported)**): GD converges; L <= O(1/sqrt(tau))."
    assert setup.startswith("Checked (**(derived)** set-up)") and setup.endswith("tau^-2.")
    assert render.split_statement("Known false: 'x'. Chosen because y.") == (
        "Known false: 'x'. Chosen because y.", "")
    for opener in ("Encoded (a)", "Measured by b", "Hypotheses assumed to be c"):
        assert render.split_statement(f"The claim. {opener}.")[1] == f"{opener}."
    claim = {"id": "T9", "statement_md": text, "hypotheses": "h", "conclusions": {"c": "d"}}
    assert "Checked" not in render._statement(claim) and "> **Statement.** Large" in \
        render._statement(claim)
    assert render._checked(claim).startswith("**How it was checked.** Checked (**(derived)**")


def test_trajectory_csv_matches_results(rendered: Path) -> None:
    doc = json.loads((rendered / "results.json").read_text())
    entry = doc["claims"][2]["instances"][3]  # S.threshold's minimal counterexample
    frame = pd.read_csv(rendered / "trajectories" / "S.threshold-4.csv")
    assert list(frame.columns) == list(entry["trajectory"][0])
    assert len(frame) == len(entry["trajectory"])
    assert frame["loss"].tolist() == [r["loss"] for r in entry["trajectory"]]  # exact floats
    md = (rendered / "REPORT.md").read_text(encoding="utf-8")
    detail = md.split("- **#4** (inside the hypotheses, search): **fail** (minimal "
                      "counterexample of the search)")[1].splitlines()[0]
    assert "Trajectory: [trajectories/S.threshold-4.csv](trajectories/S.threshold-4.csv) " \
           f"(all {len(entry['trajectory'])} recorded rows)" in detail


def test_footer_comes_from_the_json(rendered: Path) -> None:
    md = (rendered / "REPORT.md").read_text(encoding="utf-8")
    footer = md.split("## Reproducibility")[1]
    for text in ("3.11.7", "backend gmpy", "precision 53 bits", "derandomised", "f" * 40,
                 "quick (budget 300 s", "numpy 2.4.6", "hypothesis 6.170.15",
                 "scoreclaims verify --derandomize --json r.json", "(clean)"):
        assert text in footer, text


# ---------------------------------------------------------------- hooks, stale files, atomicity


def test_hooks_fall_back_to_the_claim_and_load_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    hook = ClaimHooks(key_figures=lambda c: "x")
    monkeypatch.setattr(hooks, "REGISTRY", {})
    module = types.ModuleType("fake_sections")
    module.HOOKS = {"T9": hook}  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_sections", module)
    hooks.load_modules(["fake_sections"])
    assert hooks.hooks_for({"id": "T9"}) is hook
    assert hooks.hooks_for({"id": "T9~wrong", "variant_of": "T9"}) is hook
    assert hooks.hooks_for({"id": "T8"}).section is None


def test_failure_leaves_the_old_report(rendered: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "rep"
    shutil.copytree(rendered, out)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def explode(*args: Any) -> Any:
        raise RuntimeError("figure failed")

    monkeypatch.setattr(figures, "rate_figure", explode)
    with pytest.raises(RuntimeError, match="figure failed"):
        write_report(out / "results.json", out)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    fresh = tmp_path / "fresh"
    with pytest.raises(RuntimeError):
        write_report(out / "results.json", fresh)
    assert not (fresh / "REPORT.md").exists() and not any(fresh.rglob("*.png"))


def subset(tmp_path: Path, *ids: str) -> Path:
    """The golden results restricted to `ids`, as a file."""
    doc = json.loads((GOLDEN / "results.json").read_text())
    doc["claims"] = [c for c in doc["claims"] if c["id"] in ids]
    doc["summary"]["mismatched"] = [c["id"] for c in doc["claims"]
                                    if not c["matches_expectation"]]
    doc["summary"].update(claims=len(doc["claims"]),
                          exit_status=1 if doc["summary"]["mismatched"] else 0)
    path = tmp_path / "subset.json"
    path.write_text(json.dumps(doc))
    return path


def test_stale_report_files_removed_and_only_those(tmp_path: Path) -> None:
    """A rerun removes what the earlier report wrote and no longer needs (its manifest, or the
    files an older REPORT.md links), never the user's own files in the same folders."""
    out = tmp_path / "rep"
    first = write_report(GOLDEN / "results.json", out)
    linked = {p for p in (out / "figures").iterdir()}
    (out / "figures" / "my-own.png").write_bytes(b"mine")
    (out / "trajectories" / "my-own.csv").write_text("mine")
    (out / "trajectories" / "keep.txt").write_text("mine")
    write_report(subset(tmp_path, "S.broken"), out)
    assert all((out / "figures" / n).read_bytes() == b"mine" for n in ("my-own.png",))
    assert (out / "trajectories" / "my-own.csv").read_text() == "mine"
    assert (out / "trajectories" / "keep.txt").read_text() == "mine"
    now = json.loads((out / ".report-files.json").read_text())
    assert all((out / rel).exists() for rel in now)
    assert not any(p.exists() for p in linked if f"figures/{p.name}" not in now)
    # a folder written before manifests: the old REPORT.md's links tell what is the report's
    write_report(GOLDEN / "results.json", out)
    (out / ".report-files.json").unlink()
    write_report(subset(tmp_path, "S.broken"), out)
    now = set(json.loads((out / ".report-files.json").read_text()))
    gone = {p for p in linked if f"figures/{p.name}" not in now}
    assert gone and not any(p.exists() for p in gone)
    assert (out / "figures" / "my-own.png").exists() and first.exists()


def test_non_finite_values_and_undecided_fits(tmp_path: Path) -> None:
    """A diverging run ("inf", "nan" in strict JSON) and an undecided fit still render."""
    path = subset(tmp_path, "S.decay~fast")
    doc = json.loads(path.read_text())
    entry = doc["claims"][0]["instances"][0]
    entry["trajectory"][-1].update(loss="inf", dist_0="nan", dist_1="inf")
    fit = entry["rates"]["loss"]
    fit.update(classification="undecided", exponent=None, exponent_ci=None)
    fit["plot"].update(curve_tau=[], curve_log10_value=[])
    doc["claims"][0]["instances"] = [entry]
    path.write_text(json.dumps(doc))
    out = tmp_path / "rep"
    md = write_report(path, out).read_text(encoding="utf-8")
    assert "| #1 | loss | undecided |" in md
    assert "inf" in (out / "trajectories" / "S.decay-fast-1.csv").read_text().splitlines()[-1]
    assert len(list((out / "figures").glob("*.png"))) == 2


def test_empty_results(tmp_path: Path) -> None:
    md = write_report(subset(tmp_path), tmp_path / "rep").read_text(encoding="utf-8")
    assert "No claims were verified" in md and "## Reproducibility" in md
    assert "## Findings" not in md


# ---------------------------------------------------------------- command line


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code_ = main(list(argv))
    except SystemExit as exc:
        code_ = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code_, out, err


def test_verify_with_report_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    with_hooks: None,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SCORECLAIMS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(registry, "load", lambda modules=None: Registry(SYNTHETIC))
    code_, _, _ = run_cli(capsys, "verify", "S.threshold", "--derandomize", "--report", "rep")
    assert code_ == 1  # S.threshold does not match its expectation
    md = (tmp_path / "rep" / "REPORT.md").read_text(encoding="utf-8")
    doc = json.loads((tmp_path / "rep" / "results.json").read_text())
    assert [c["id"] for c in doc["claims"]] == ["S.threshold"]
    assert "### Phase boundary" in md and "1 of 1 verdicts do not match" in md
    command = " ".join(doc["environment"]["command_line"])
    assert command in md.split("## Reproducibility")[1]



def test_report_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = subset(tmp_path, "S.broken")
    code_, out, err = run_cli(capsys, "report", str(results), "--out", str(tmp_path / "rep"))
    assert code_ == 0 and f"{tmp_path / 'rep' / 'REPORT.md'}" in out and not err
    assert (tmp_path / "rep" / "results.json").read_bytes() == results.read_bytes()
    assert "## S.broken: Lemma S.3 (any)" in (tmp_path / "rep" / "REPORT.md").read_text()


@pytest.mark.parametrize(
    ("setup", "argv", "message"),
    [
        (None, ["report", "missing.json", "--out", "rep"], "does not exist"),
        ("bad", ["report", "bad.json", "--out", "rep"], "is not valid JSON"),
        ("other", ["report", "other.json", "--out", "rep"], "not a valid scoreclaims results file"),
        ("good", ["report", "good.json", "--out", "good.json"], "is not a directory"),
        ("good", ["report", "good.json", "--out", "no/such/dir"], "does not exist"),
        ("good", ["report", "good.json", "--out", "good.json/sub"], "does not exist"),
        ("good", ["report", "good.json"], "required: --out"),
    ],
)
def test_bad_input_is_a_one_line_usage_error(
    setup: str | None, argv: list[str], message: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("bad.json").write_text("{not json")
    Path("other.json").write_text(json.dumps({"schema": "something/else"}))
    Path("good.json").write_text((GOLDEN / "results.json").read_text())
    code_, out, err = run_cli(capsys, *argv)
    assert code_ == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not list(tmp_path.rglob("REPORT.md"))


def test_unwritable_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rep"
    out.mkdir()
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # root ignores chmod
    code_, _, err = run_cli(capsys, "report", str(GOLDEN / "results.json"), "--out", str(out))
    assert code_ == 2 and "is not writable" in err and len(err.strip().splitlines()) == 1
    assert not any(out.iterdir())


def test_load_results_checks_the_schema(tmp_path: Path) -> None:
    doc = json.loads((GOLDEN / "results.json").read_text())
    doc["claims"][0].pop("verdict")
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(UsageError, match=r"claims\[0\] must contain \['verdict'\]"):
        load_results(path)
    with pytest.raises(UsageError, match="is a directory"):
        load_results(tmp_path)


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["claims"][0].update(verdict="maybe"),
     r"claims\[0\]\.verdict must be one of \['pass', 'fail', 'inconclusive', 'error'\]"),
    (lambda d: d["claims"][0].update(verdict="fail" if d["claims"][0]["verdict"] == "pass"
                                     else "pass"),
     r"claims\[0\] \(.*\): matches_expectation is"),
    (lambda d: d["claims"][0]["instances"][0]["predicates"].update(x={"holds": "yes",
                                                                      "detail": ""}),
     r"holds must be one of"),
    (lambda d: d["summary"].update(exit_status=1 - d["summary"]["exit_status"]),
     r"summary.exit_status is"),
])
def test_report_refuses_what_the_schema_refuses(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                edit: Any, message: str) -> None:
    """A hand-edited verdict (or any other departure from the schema) is one line, exit 2,
    and nothing is written."""
    doc = json.loads((GOLDEN / "results.json").read_text())
    edit(doc)
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc))
    code_, _, err = run_cli(capsys, "report", str(path), "--out", str(tmp_path / "rep"))
    assert code_ == 2 and len(err.strip().splitlines()) == 1
    assert re.search(message, err), err
    assert not (tmp_path / "rep").exists()


def test_schema_vocabulary_is_the_frameworks() -> None:
    """The verdicts, expectations and "n/a" of the claim framework are the schema's."""
    from scoreclaims.claims.model import NOT_APPLICABLE as FRAMEWORK_NA
    from scoreclaims.claims.verdict import Expectation, Verdict
    from scoreclaims.reports import schema

    assert tuple(v.value for v in Verdict) == schema.VERDICTS
    assert tuple(e.value for e in Expectation) == schema.EXPECTATIONS
    assert all(e.expected_verdict.value == schema.EXPECTED_VERDICT[e.value] for e in Expectation)
    assert FRAMEWORK_NA == schema.NOT_APPLICABLE


# ---------------------------------------------------------------- markdown helpers


def test_markdown_helpers() -> None:
    assert fmt(None) == "–" and fmt("nan") == "NaN" and fmt("-inf") == "-∞" and fmt(math.inf) == "∞"
    assert fmt(0.000123456) == "0.0001235" and fmt(7) == "7" and fmt([1.0, 2.5]) == "[1, 2.5]"
    assert cell("a|b\nc") == "a\\|b c"
    assert code("x`y") == "``x`y``"
    assert github_slug("T2.1: Thm 2.1 (large noise)") == "t21-thm-21-large-noise"
    slugs = Slugs()
    assert [slugs("A b"), slugs("A b")] == ["a-b", "a-b-1"]
    html = html_of(table(["a", "b"], [[1, "x|y"]]))
    assert "<td>x|y</td>" in html



def test_not_applicable_conclusions_are_marked_not_ticked() -> None:
    text = render._predicates_text({"a": {"holds": "n/a", "detail": "other kind"},
                                    "b": {"holds": True, "detail": ""},
                                    "c": {"holds": None, "detail": "horizon"}})
    assert text == "a n/a; b ✓; c ? (horizon)"


def test_refused_search_draws_are_reported() -> None:
    claim = {"hypotheses": "h", "search": {"examples": 3, "max_examples": 12,
                                           "derandomized": True, "skipped_outside": 0,
                                           "skipped_unsearchable": 4}}
    text = render._checked(claim)
    assert "4 draws skipped, inside them but refused as not searchable" in text
    assert "outside the hypotheses" not in text  # a zero count is not listed


def test_claims_beyond_the_paper_go_to_their_own_page(golden_json: Path, tmp_path: Path,
                                                      with_hooks: None) -> None:
    """Claims whose paper reference says "beyond the paper" get their sections in BEYOND.md,
    apart from the paper's own (REPORT.md keeps the summary and findings of all, linking
    there); a later report without such claims removes the page it wrote."""
    doc = json.loads(golden_json.read_text())
    moved = doc["claims"][0]["id"]
    for c in doc["claims"]:
        if c["id"] == moved or c.get("variant_of") == moved:
            c["paper_ref"] = "beyond the paper (a test)"
    split = tmp_path / "split.json"
    split.write_text(json.dumps(doc))
    out = tmp_path / "rep"
    write_report(split, out)
    report, beyond = (out / "REPORT.md").read_text(), (out / "BEYOND.md").read_text()
    assert f"## {moved}:" in beyond and f"## {moved}:" not in report
    assert "](BEYOND.md)" in report and "](REPORT.md)" in beyond
    assert re.search(rf"\[`{re.escape(moved)}`\]\(BEYOND\.md#", report)
    write_report(golden_json, out)
    assert not (out / "BEYOND.md").exists()
