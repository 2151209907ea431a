"""The jobs of one run: deduplicated by key, served from the cache, queued on an executor.

A `Scheduler` is the run's single point of contact with execution and storage. `submit(job)`
returns the run's existing handle for the same key, or a cache hit, or a handle queued on the
executor (main-process jobs on the in-process queue); each finished job's output is written to
the cache the moment it arrives (errors are never cached). `wait(handles)` runs main-process jobs
while it waits. Worker processes' `task_map` calls arrive through `task_handles`; the main
process's own go through `map_here`. `counts` says how many instances (claim runs, not
`task_map` items) were reused from the cache, computed, or recomputed because their entry was
corrupt.
"""

from __future__ import annotations

import pickle
import threading
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any, Protocol

from scoreclaims.claims._run import parallel
from scoreclaims.claims._run.base import PRIORITY_TASK, Executor, Handle, InProcess
from scoreclaims.claims._run.cache import CORRUPT, ResultsCache
from scoreclaims.claims._run.determinism import single_blas_thread
from scoreclaims.claims._run.jobs import Envelope, Job, task_job


class StatusSink(Protocol):
    """Where a long wait reports what it is waiting for (the command line's progress line)."""

    def update(self, status: str, done: int | None = None) -> None: ...


REUSED, COMPUTED, RECOMPUTED_CORRUPT = "reused", "computed", "recomputed (corrupt entry)"


class Scheduler:
    """One run's jobs; use as a context manager (pins BLAS, routes `task_map`, binds the
    executor)."""

    def __init__(self, cache: ResultsCache | None, executor: Executor | None,
                 progress: StatusSink | None = None) -> None:
        self.cache = cache
        self.local = executor if isinstance(executor, InProcess) else InProcess()
        self.executor = executor or self.local
        self.progress = progress
        self.handles: dict[str, Handle] = {}
        self.counts: Counter[str] = Counter()  # instances (kind "run" jobs) by how they were had
        self.lock = threading.Lock()
        self.wakeup = threading.Event()
        self.jobs_done = 0
        self._stack = ExitStack()

    def __enter__(self) -> Scheduler:
        self._stack.enter_context(single_blas_thread())
        self._stack.enter_context(parallel.routed(self.map_here))
        self.executor.bind(self)
        self._stack.callback(self.executor.bind, None)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def submit(self, job: Job, priority: tuple[Any, ...], cache: bool = True,
               here: bool = False) -> Handle:
        """The handle of `job`: the run's existing one, a cache hit, or a newly submitted job."""
        with self.lock:
            handle = self.handles.get(job.key)
            if handle is not None:
                return handle
            handle = self.handles[job.key] = Handle(job, priority)
        handle.add_callback(self._finished)
        use_cache = cache and self.cache is not None
        how = COMPUTED
        if use_cache:
            assert self.cache is not None
            body = self.cache.get(job.key)
            if body is CORRUPT:
                how = RECOMPUTED_CORRUPT
            elif body is not None:
                try:
                    output = pickle.loads(body)
                except Exception:  # noqa: BLE001 - unreadable (e.g. older libraries): recompute
                    how = RECOMPUTED_CORRUPT
                else:
                    self._count(job, REUSED)
                    handle.cached = True
                    handle.set(Envelope(ok=True, blob=body, wall_time_s=output.wall_time_s,
                                        warnings=output.warnings))
                    return handle
            handle.add_callback(self._store)
        self._count(job, how)
        runs_here = here or job.call is None
        (self.local if runs_here else self.executor).submit(handle)
        return handle

    def _count(self, job: Job, how: str) -> None:
        if job.kind == "run":
            with self.lock:
                self.counts[how] += 1

    def _store(self, handle: Handle) -> None:
        envelope = handle.envelope
        if envelope is not None and envelope.ok and envelope.blob is not None:
            assert self.cache is not None
            self.cache.put(handle.job.key, envelope.blob)

    def _finished(self, handle: Handle) -> None:
        with self.lock:
            self.jobs_done += 1
        self.wakeup.set()

    def task_handles(self, fn: Callable[[Any], Any], items: list[Any], label: str,
                     cache: bool) -> list[Handle]:
        """`task_map` items requested by a worker process, as jobs of this run."""
        return [self.submit(task_job(fn, item, label), PRIORITY_TASK, cache) for item in items]

    def map_here(self, fn: Callable[[Any], Any], items: list[Any], label: str,
                 cache: bool) -> list[Any]:
        """`task_map` in the main process: the items one after the other, through the cache."""
        handles = [self.submit(task_job(fn, item, label), PRIORITY_TASK, cache, here=True)
                   for item in items]
        self.wait(handles)
        return parallel.values_or_raise([h.envelope for h in handles], label)  # type: ignore[misc]

    def wait(self, handles: list[Handle], status: Callable[[], str] | None = None) -> None:
        """Until every handle is done: run main-process jobs, else sleep until a job finishes."""
        while not all(h.done() for h in handles):
            if self.progress is not None and status is not None:
                self.progress.update(status())
            if self.local.has_work():
                self.local.run_next()
                continue
            if self.executor is self.local:
                raise RuntimeError("waiting for a job that no executor runs (a job waiting for "
                                   "itself through task_map?)")
            self.wakeup.wait(0.5)
            self.wakeup.clear()
