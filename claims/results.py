"""The results file: environment, summary, one entry per claim; strict JSON written atomically."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from scoreclaims.claims._run.jobs import precision
from scoreclaims.claims._run.keys import package_sources_hash
from scoreclaims.claims.evidence import ClaimResult
from scoreclaims.claims.model import PROFILE_BUDGET_S
from scoreclaims.claims.options import RunOptions
from scoreclaims.claims.verdict import exit_status
from scoreclaims.reports.schema import SCHEMA_ID, validate
from scoreclaims.verifiers.atomic import write_text_atomic

DEPENDENCIES = (
    "scoreclaims",
    "numpy",
    "scipy",
    "pandas",
    "mpmath",
    "gmpy2",
    "python-flint",
    "hypothesis",
)


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def git_commit() -> dict[str, Any] | None:
    """HEAD of the repository holding the package, and whether tracked files differ from it."""
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", *args], cwd=root, env=env, capture_output=True, text=True, timeout=10
        )

    try:
        head = git("rev-parse", "HEAD")
        if head.returncode != 0:
            return None
        dirty = git("diff", "--quiet", "HEAD", "--").returncode != 0
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": head.stdout.strip(), "dirty": dirty}


def environment(options: RunOptions, argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Everything a reader needs to reproduce the run."""
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "versions": {name: _version(name) for name in DEPENDENCIES},
        "precision": precision(),
        "code_version": package_sources_hash(),
        "git": git_commit(),
        "profile": options.profile,
        "seeds": {"hypothesis": options.seed, "derandomized": options.derandomize},
        "example_database": None
        if options.derandomize or options.seed is not None
        else str(options.examples_dir),
        "cache": None if options.cache is None else str(options.cache.root),
        "command_line": list(sys.argv if argv is None else argv),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def results_document(
    results: Sequence[ClaimResult], env: dict[str, Any], wall_time_s: float,
    instances: dict[str, int] | None = None,
) -> dict[str, Any]:
    """The whole results file as a JSON-able dict; `instances`: how many were reused from the
    cache, computed, recomputed (`Scheduler.counts`)."""
    return {
        "schema": SCHEMA_ID,
        "environment": env,
        "profile": env["profile"],
        "summary": {
            "claims": len(results),
            "matched": sum(r.matches_expectation for r in results),
            "mismatched": [r.claim.id for r in results if not r.matches_expectation],
            "exit_status": exit_status(r.matches_expectation for r in results),
            "wall_time_s": round(wall_time_s, 6),
            "budget_s": PROFILE_BUDGET_S[env["profile"]],
            "instances": dict(instances or {}),
        },
        "claims": [r.to_json() for r in results],
    }


def write_results(path: str | os.PathLike[str], document: dict[str, Any]) -> None:
    """Validate `document` against the results schema, then write it as strict JSON atomically
    (the file is complete or absent)."""
    validate(document)
    write_text_atomic(path, json.dumps(document, indent=1, allow_nan=False) + "\n")
