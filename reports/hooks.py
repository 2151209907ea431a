"""Claim-specific additions to a report: key figures, findings and extra sections by claim id.

The generic report covers every claim (statement, checks, instance tables, rate and distance
figures, counterexample trajectories). A claim that needs more (a phase-boundary plot, a table of
stationary points) registers `ClaimHooks` under its id, either with `register` or by listing a
module that defines ``HOOKS = {"T3.1": ClaimHooks(section=...)}``. A
known-false variant without hooks of its own uses its claim's. Sketch::

    def stationary_points(ctx: ClaimContext) -> str:
        rows = [(n, inst["instance"]["n"], inst["metrics"]["s_star"]) for n, inst in ctx.numbered()]
        fig, ax = new_figure()          # from scoreclaims.reports.figures, build inside @styled
        ...
        return "#### Stationary points\\n\\n" + table(["#", "n", "s*"], rows) + "\\n\\n" + \\
            ctx.figure("phase-boundary", fig, "Phase boundary")

Hooks read only the claim's entry of the results JSON (`ctx.claim`), so a report stays a
function of the results file.
"""

from __future__ import annotations

import csv
import hashlib
import importlib
import io
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING, Any

from scoreclaims.reports.markdown import file_stem

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# Modules defining HOOKS: Mapping[str, ClaimHooks], imported when a report is rendered.
GROUP = "scoreclaims.report_sections"

FIGURES_DIR = "figures"
TRAJECTORIES_DIR = "trajectories"
DATA_DIR = "data"  # what leaves the page: a claim's nested metrics, as JSON


@dataclass
class ClaimContext:
    """One claim's entry of the results JSON, numbered instances, and a sink for its files.

    `assets` maps a path relative to the report directory to the file's bytes; it is shared by
    the whole report and written only once every section has rendered.
    """

    claim: Mapping[str, Any]
    assets: dict[str, bytes] = field(default_factory=dict)
    drawn: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (path, claim id)
    anchor: str = ""  # the link to the claim's heading ("#x", or "BEYOND.md#x"; "" outside)

    @property
    def stem(self) -> str:
        return file_stem(str(self.claim["id"]))

    def numbered(self, inside: bool | None = None) -> Iterator[tuple[int, Mapping[str, Any]]]:
        """(number, instance entry) in results order, numbers from 1; `inside` filters."""
        for number, entry in enumerate(self.claim.get("instances") or [], 1):
            if inside is None or bool(entry.get("in_hypotheses")) == inside:
                yield number, entry

    def add_file(self, path: str, data: bytes) -> str:
        if path in self.assets:
            raise ValueError(f"report file {path!r} is written twice")
        self.assets[path] = data
        return path

    def save_figure(self, name: str, fig: Figure, tight: bool = True) -> str:
        """Save `fig` as figures/<claim>-<name>.png (closing it); returns the path.

        `tight` crops the PNG to its content, so a hook's figure needs no layout of its own.
        """
        from scoreclaims.reports.figures import png_bytes

        return self.add_file(f"{FIGURES_DIR}/{self.stem}-{name}.png", png_bytes(fig, tight))

    def figure(self, name: str, fig: Figure, alt: str) -> str:
        """Save `fig` as figures/<claim>-<name>.png; returns the markdown image."""
        return f"![{alt}]({self.save_figure(name, fig)})"

    def figure_once(self, name: str, key: Any, build: Callable[[], Figure], alt: str,
                    caption: str = "") -> str:
        """`figure` plus `caption`, unless a figure with the same inputs `key` (JSON-able) was
        drawn earlier in this report (a variant running its claim's instances): then a one-line
        link to that figure. The PNG is cropped to its content (`png_bytes(tight=True)`), so
        labels and legends placed outside the axes are inside the image."""
        digest = "figure:" + json.dumps(key, sort_keys=True, separators=(",", ":"))
        if digest in self.drawn:
            path, owner = self.drawn[digest]
            return f"Same figure as for `{owner}`: [{alt}]({path})."
        path = self.save_figure(name, build(), tight=True)
        self.drawn[digest] = (path, str(self.claim["id"]))
        return f"![{alt}]({path})" + (f"\n{caption}" if caption else "")

    def shown_before(self, key: Any) -> tuple[str, str] | None:
        """(anchor, claim id) of an earlier claim that showed the same content `key` (JSON-able),
        else None, recording this claim as showing it."""
        digest = "shown:" + json.dumps(key, sort_keys=True, separators=(",", ":"))
        if digest in self.drawn:
            return self.drawn[digest]
        self.drawn[digest] = (self.anchor, str(self.claim["id"]))
        return None

    def csv(self, name: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
        """Save rows as trajectories/<claim>-<name>.csv (floats exactly, via repr); its path.

        The same rows already saved for another claim (a variant running its claim's instance)
        are not written twice: the earlier file's path is returned."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_csv_value(v) for v in row] for row in rows])
        data = buf.getvalue().encode()
        digest = "csv:" + hashlib.sha256(data).hexdigest()
        if digest in self.drawn:
            return self.drawn[digest][0]
        path = self.add_file(f"{TRAJECTORIES_DIR}/{self.stem}-{name}.csv", data)
        self.drawn[digest] = (path, str(self.claim["id"]))
        return path

    def json_file(self, name: str, obj: Any) -> str:
        """Save `obj` as data/<claim>-<name>.json (indented, keys in their order); its path."""
        text = json.dumps(obj, indent=1, ensure_ascii=False, allow_nan=False) + "\n"
        return self.add_file(f"{DATA_DIR}/{self.stem}-{name}.json", text.encode("utf-8"))


def _csv_value(v: Any) -> Any:
    if isinstance(v, float):
        return repr(v)
    if v is None:
        return ""
    return v


@dataclass(frozen=True)
class ClaimHooks:
    """What a claim adds: a summary-table cell, findings bullets, a markdown section.

    `generic_figures` False leaves out the generic loss and distance figures, for a claim whose
    section draws the same trajectories itself."""

    key_figures: Callable[[Mapping[str, Any]], str] | None = None
    findings: Callable[[Mapping[str, Any]], Sequence[str]] | None = None
    section: Callable[[ClaimContext], str] | None = None
    generic_figures: bool = True


REGISTRY: dict[str, ClaimHooks] = {}


def register(claim_id: str, hooks: ClaimHooks) -> ClaimHooks:
    """Register `hooks` for `claim_id` (replacing any earlier ones)."""
    REGISTRY[claim_id] = hooks
    return hooks


def section_modules() -> tuple[str, ...]:
    """The modules registered in the entry-point group ``scoreclaims.report_sections``."""
    seen: dict[str, None] = {}
    for entry in metadata.entry_points(group=GROUP):
        seen.setdefault(entry.value.partition(":")[0].strip(), None)
    return tuple(seen)


def load_modules(modules: Sequence[str] | None = None) -> None:
    """Import the section modules (default: the registered ones) and register their HOOKS."""
    for name in section_modules() if modules is None else modules:
        for claim_id, hooks in importlib.import_module(name).HOOKS.items():
            register(claim_id, hooks)


def hooks_for(claim: Mapping[str, Any]) -> ClaimHooks:
    """The hooks of a claim entry: its own, else its claim's (for a variant), else none."""
    own = REGISTRY.get(str(claim.get("id")))
    if own is not None:
        return own
    parent = claim.get("variant_of")
    return REGISTRY.get(str(parent), ClaimHooks()) if parent else ClaimHooks()
