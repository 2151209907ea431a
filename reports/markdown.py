"""Small, deterministic markdown helpers: number formatting, escaping, tables, slugs."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

NON_FINITE = {"nan": "NaN", "inf": "∞", "-inf": "-∞"}


def fmt(x: Any, digits: int = 4) -> str:
    """A number as short text: ints as they are, floats to `digits` significant figures.

    The strict-JSON spellings of non-finite floats ("nan", "inf", "-inf") and None are shown
    as NaN, ∞, -∞ and an en dash.
    """
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        if math.isnan(x):
            return "NaN"
        if math.isinf(x):
            return "∞" if x > 0 else "-∞"
        return f"{x:.{digits}g}"
    if isinstance(x, str):
        return NON_FINITE.get(x, x)
    if isinstance(x, (list, tuple)) and len(x) <= 4 and all(_is_number(v) for v in x):
        return "[" + ", ".join(fmt(v, digits) for v in x) + "]"
    if isinstance(x, dict) and x and all(_is_scalar(v) for v in x.values()):
        return ", ".join(f"{k} = {fmt(v, digits)}" for k, v in x.items())
    return compact(x)


def _is_scalar(x: Any) -> bool:
    return x is None or isinstance(x, (bool, int, float, str))


def describe(value: Any, digits: int = 4) -> str:
    """A JSON value as short readable text, never JSON syntax and never cut: scalars as `fmt`
    writes them, short numeric vectors and small matrices in brackets, larger arrays by their
    shape and range, objects as `key value` pairs (nested ones described the same way)."""
    if _is_scalar(value):
        return fmt(value, digits)
    if isinstance(value, dict):
        return ", ".join(f"{k} = {describe(v, digits)}" for k, v in value.items()) or "{}"
    items = list(value)
    if all(_is_number(v) for v in items):
        if len(items) <= 6:
            return "[" + ", ".join(fmt(v, digits) for v in items) + "]"
        nums = [as_float(v) for v in items]
        return (f"{len(items)} values from {fmt(min(nums), digits)} to "  # type: ignore[type-var]
                f"{fmt(max(nums), digits)}")  # type: ignore[type-var]
    if items and all(isinstance(r, list) and r and all(_is_number(v) for v in r)
                     for r in items):
        widths = {len(r) for r in items}
        if sum(len(r) for r in items) <= 6:
            return "[" + ", ".join(describe(r, digits) for r in items) + "]"
        if len(widths) == 1:
            return f"{len(items)}×{widths.pop()} array"
    if all(_is_scalar(v) for v in items) and len(items) <= 6:
        return "[" + ", ".join(describe(v, digits) for v in items) + "]"
    return f"{len(items)} items"


def _is_number(x: Any) -> bool:
    return (isinstance(x, (int, float)) and not isinstance(x, bool)) or (
        isinstance(x, str) and x in NON_FINITE)


def as_float(x: Any) -> float | None:
    """A JSON number (or "nan"/"inf"/"-inf") as float; None for anything else."""
    if isinstance(x, bool) or x is None:
        return None
    if isinstance(x, (int, float)):
        return float(x)
    if isinstance(x, str) and x in NON_FINITE:
        return float(x)
    return None


def with_ci(value: Any, ci: Any = None, se: Any = None, digits: int = 4) -> str:
    """`value [lo, hi]` or `value ± se` (whichever is given)."""
    text = fmt(value, digits)
    if isinstance(ci, (list, tuple)) and len(ci) == 2:
        text += f" [{fmt(ci[0], digits)}, {fmt(ci[1], digits)}]"
    elif se is not None:
        text += f" ± {fmt(se, 2)}"
    return text


def ranges(numbers: Iterable[int], prefix: str = "#") -> str:
    """Sorted integers as runs: [1, 2, 3, 5] -> "#1–#3, #5"."""
    nums = sorted(set(numbers))
    runs: list[list[int]] = []
    for x in nums:
        if runs and x == runs[-1][1] + 1:
            runs[-1][1] = x
        else:
            runs.append([x, x])
    return ", ".join(f"{prefix}{a}" if a == b else f"{prefix}{a}–{prefix}{b}" for a, b in runs)


def compact(obj: Any, limit: int | None = None) -> str:
    """Compact JSON with sorted keys and floats to 6 significant figures, optionally truncated."""
    text = json.dumps(_round(obj), sort_keys=True, separators=(", ", ": "), ensure_ascii=False)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def _round(obj: Any) -> Any:
    if isinstance(obj, float) and math.isfinite(obj):
        return float(f"{obj:.6g}")
    if isinstance(obj, dict):
        return {k: _round(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_round(v) for v in obj]
    return obj


def cell(text: Any) -> str:
    """Text safe for one table cell: no newlines, pipes escaped."""
    s = text if isinstance(text, str) else fmt(text)
    return " ".join(s.split()).replace("|", "\\|")


def code(text: str) -> str:
    """An inline code span that survives backticks in `text`."""
    ticks = "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], align: str = "") -> str:
    """A GitHub table; `align` has one letter per column (l, r, c), default left."""
    rows = [[cell(c) for c in row] for row in rows]
    marks = {"l": "---", "r": "---:", "c": ":---:"}
    rule = [marks[align[i]] if i < len(align) else "---" for i in range(len(headers))]
    lines = ["| " + " | ".join(cell(h) for h in headers) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def blockquote(text: str) -> str:
    return "\n".join("> " + line if line.strip() else ">" for line in text.strip().splitlines())


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading (before de-duplication)."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def file_stem(claim_id: str) -> str:
    """A claim id as a portable file name stem (`T2.1~fast` -> `T2.1-fast`)."""
    return re.sub(r"[^A-Za-z0-9._-]", "-", claim_id)


class Slugs:
    """GitHub heading anchors with its de-duplication rule (second `x` becomes `x-1`)."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def __call__(self, heading: str) -> str:
        base = github_slug(heading)
        count = self._seen.get(base, 0)
        self._seen[base] = count + 1
        return base if count == 0 else f"{base}-{count}"
