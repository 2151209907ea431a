"""``scoreclaims report RESULTS.json --out DIR``: render a results file as a markdown report."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        help="render a results JSON (from verify --json) as DIR/REPORT.md with figures and CSVs",
        description="Render the results of `scoreclaims verify --json FILE` as a markdown report: "
        "DIR/REPORT.md with figures (PNG), trajectories (CSV) and a copy of the results JSON; "
        "when the paper's claims and claims beyond the paper are both present, the latter get "
        "their sections on DIR/BEYOND.md. The same results give byte-identical pages. Exit "
        "status 0, or 2 for a usage error "
        "(missing or invalid results file, unusable output folder).",
    )
    parser.add_argument("results", metavar="RESULTS.json", help="results file of verify --json")
    parser.add_argument("--out", required=True, metavar="DIR", help="report folder (created)")
    parser.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from scoreclaims.reports.render import write_report

    path = write_report(args.results, args.out)
    print(f"report written to {path}")
    return 0
