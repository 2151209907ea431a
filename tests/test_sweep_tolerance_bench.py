"""The sweep-tolerance benchmark's summary (benchmarks/sweep_tolerance.py): seeds compared by the
tol-check's own rule, a differing seed and the undecided counted, the table's figures."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.sweep_tolerance import _summary, _table


def _run(seed: int, converged: list[int] | None, cpu: float) -> dict[str, Any]:
    return {"seed": seed, "decided": converged is not None, "converged": converged or [],
            "diverged": [], "tau": 32, "evaluations": 1, "cpu_s": cpu}


def _row(seed: int, sweep: list[int] | None, default: list[int] | None) -> dict[str, Any]:
    return {"M0": 8.0, "seed": seed, "sweep": _run(seed, sweep, 1.0),
            "default": _run(seed, default, 10.0 + seed)}


def test_summary_counts_agreement_differences_and_undecided() -> None:
    rows = [_row(0, [0], [0]), _row(1, [2], [2]), _row(2, [1], [3]), _row(3, [4], None)]
    s = _summary("8", rows)
    assert s["seeds"] == 4 and s["decided_at_both"] == 3 and s["differ"] == [2]
    assert s["undecided_sweep"] == 0 and s["undecided_default"] == 1
    assert s["cpu_s_sweep"] == pytest.approx(4.0) and s["cpu_s_default"] == pytest.approx(46.0)
    assert s["median_ratio_decided"] == pytest.approx(11.0)  # 10, 11, 12 over 1
    clean = _summary("8", rows[:2])
    assert clean["differ"] == [] and clean["rate_upper"] < s["rate_upper"]
    table = _table([s])
    assert table.splitlines()[2].startswith("| 8 | 4 | 3 | [2] | ")
    assert "| 0, 1 | 4, 46 | 11 |" in table
