"""Executors: where a run's jobs execute. In the main process, a local process pool, or Dask.

`make_executor(workers, scheduler)` picks one: ``workers == 0`` runs every job in the main process
(`InProcess`: no isolation, handy under a debugger), ``workers >= 1`` a local pool of that many
worker processes (`local_pool.LocalPool`), a scheduler address a Dask cluster
(`dask_executor.DaskExecutor`, needs the optional `distributed` package). Whatever the executor, a
job's result is bit-identical (see `determinism`) and the verdicts are the same. The interface
they share is in `base`.
"""

from __future__ import annotations

import os

from scoreclaims.claims._run.base import Executor, InProcess
from scoreclaims.verifiers.errors import UsageError


def default_workers() -> int:
    """``$SCORECLAIMS_WORKERS`` if set, else the number of cores this process may use."""
    env = os.environ.get("SCORECLAIMS_WORKERS", "").strip()
    if env:
        return parse_workers(env, "SCORECLAIMS_WORKERS")
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def parse_workers(text: str, what: str = "--workers") -> int:
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"{what} must be a whole number >= 0, got {text!r}") from None
    if value < 0:
        raise UsageError(f"{what} must be a whole number >= 0, got {text!r}")
    return value


def make_executor(workers: int, scheduler: str | None = None) -> Executor:
    """`InProcess` for 0 workers, a `LocalPool` of `workers` processes, or Dask at `scheduler`."""
    if scheduler is not None:
        from scoreclaims.claims._run.dask_executor import DaskExecutor

        return DaskExecutor(scheduler)
    if workers == 0:
        return InProcess()
    from scoreclaims.claims._run.local_pool import LocalPool

    return LocalPool(workers)
