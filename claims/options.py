"""How a run is made: profile, cache, seeds, executor (`RunOptions`)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from scoreclaims.claims.model import PROFILES

if TYPE_CHECKING:
    from scoreclaims.claims._run.base import Executor
    from scoreclaims.claims._run.cache import ResultsCache
    from scoreclaims.claims._run.scheduler import StatusSink


def default_examples_dir() -> Path:
    return Path(os.environ.get("SCORECLAIMS_EXAMPLES") or Path(".scoreclaims") / "examples")


def ci_requested() -> bool:
    """True when the environment variable CI is set to something other than empty/0/false."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@dataclass
class RunOptions:
    """How to run claims. `cache=None` bypasses the cache (``--no-cache``); `executor=None` runs
    every job in the main process."""

    profile: str = "quick"
    cache: ResultsCache | None = None
    examples_dir: Path = field(default_factory=default_examples_dir)
    derandomize: bool = False
    seed: int | None = None  # fixed generation seed (no example database); None: random
    replay_only: bool = False  # search: replay saved counterexamples only, generate nothing new
    progress: StatusSink | None = None
    executor: Executor | None = None

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(f"unknown profile {self.profile!r}; profiles are {PROFILES}")
