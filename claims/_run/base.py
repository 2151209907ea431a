"""The executor interface: `Handle`s, the `Executor` base class, priorities, `InProcess`.

The run (`claims._run.scheduler`) talks to an executor through `Handle`s: it submits a handle, the
executor eventually sets its `Envelope` (from any thread) and the handle's callbacks fire.
Priorities are tuples, smaller first: `task_map` items, then hypothesis-search instances (a
sequential chain, so they must not queue behind the grid), then grid instances in registry order.
"""

from __future__ import annotations

import heapq
import itertools
import sys
import threading
from collections.abc import Callable
from typing import Any, Protocol

from scoreclaims.claims._run.jobs import Envelope, Job, execute

PRIORITY_TASK = (0,)
PRIORITY_SEARCH = (1,)
PRIORITY_GRID = (2,)


class Handle:
    """A submitted job: its priority, then its `Envelope` once done (set exactly once)."""

    def __init__(self, job: Job, priority: tuple[Any, ...]) -> None:
        self.job = job
        self.priority = priority
        self.envelope: Envelope | None = None
        self.cached = False  # the envelope came from the results cache
        self._event = threading.Event()
        self._callbacks: list[Callable[[Handle], None]] = []
        self._lock = threading.Lock()

    def done(self) -> bool:
        return self._event.is_set()

    def set(self, envelope: Envelope) -> None:
        """Record the result (first call wins), run the callbacks, then wake waiters."""
        with self._lock:
            if self.envelope is not None:
                return
            self.envelope = envelope
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            _safely(callback, self)
        self._event.set()

    def add_callback(self, callback: Callable[[Handle], None]) -> None:
        """Call `callback(handle)` once the result is set (now, if it already is)."""
        with self._lock:
            if self.envelope is None:
                self._callbacks.append(callback)
                return
        _safely(callback, self)


def _safely(callback: Callable[[Handle], None], handle: Handle) -> None:
    try:
        callback(handle)
    except Exception as exc:  # noqa: BLE001 - a callback must not kill an executor thread
        print(f"scoreclaims: warning: callback failed for {handle.job.label}: {exc!r}",
              file=sys.stderr)


class TaskSource(Protocol):
    """The run that serves `task_map` requests coming from worker processes."""

    def task_handles(self, fn: Callable[[Any], Any], items: list[Any], label: str,
                     cache: bool) -> list[Handle]: ...


class Executor:
    """Base class. `submit` never blocks; `close(abort=True)` stops running work."""

    kind = "abstract"
    workers = 0

    def bind(self, tasks: TaskSource | None) -> None:
        """The run whose `task_map` requests this executor forwards (None: unbind)."""

    def submit(self, handle: Handle) -> None:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "workers": self.workers}

    def close(self, abort: bool = False) -> None:
        """Release processes and connections; `abort` also stops jobs still running."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.close(abort=exc_type is not None)


class InProcess(Executor):
    """Runs jobs in the calling thread, highest priority first, when the run asks (`run_next`)."""

    kind = "in-process"

    def __init__(self) -> None:
        self._heap: list[tuple[tuple[Any, ...], int, Handle]] = []
        self._seq = itertools.count()
        self._lock = threading.Lock()

    def submit(self, handle: Handle) -> None:
        with self._lock:
            heapq.heappush(self._heap, (handle.priority, next(self._seq), handle))

    def has_work(self) -> bool:
        with self._lock:
            return bool(self._heap)

    def run_next(self) -> None:
        with self._lock:
            _, _, handle = heapq.heappop(self._heap)
        handle.set(execute(handle.job))
