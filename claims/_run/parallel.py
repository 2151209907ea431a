"""Independent sub-tasks of a claim run (seeds, bisection brackets, multi-starts).

`task_map(fn, items)` is the one entry point claim code uses for work that splits into
independent pieces. It returns `[fn(item) for item in items]`, in order; where the pieces run is
the run's business, not the claim's:

* in a ``scoreclaims verify`` run on a local process pool (``--workers N``), the worker running
  the claim's instance sends the items to the main process, which queues them on the same pool
  ahead of every other job and caches each result like an instance; while it waits, the worker
  steps aside (it does not count against N, and the pool may start a spare process). There is no
  nested pool, and a killed run resumes item by item;
* on a Dask cluster (``--scheduler``), the items are sub-tasks submitted from the running task
  through `distributed.worker_client` (the task secedes while it waits); they are cached only as
  part of their instance;
* in the main process (``--workers 0``, or a claim whose run cannot be pickled), serially, through
  the run's cache;
* outside any run (a test calling a run function directly), serially, without a cache.

Contract for callers: `fn` is a module-level (picklable) function, deterministic given its item
(randomness only from seeds inside the item), and items and results are picklable. The contract is
checked on every path, so breaking it is the same error whatever the executor. Failures: inside a
run, once every item has finished, the failure of the lowest-index item raises `TaskError` with
that item's traceback (the instance then gets an error verdict carrying it); outside a run the
first exception propagates as is. `cache=False` keeps the items out of the results cache (items
whose results are large and cheap to recompute).
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

from scoreclaims.claims._run.jobs import PICKLE_PROTOCOL, Envelope, fn_ref, importable

T = TypeVar("T")
R = TypeVar("R")


class TaskError(RuntimeError):
    """An item of a `task_map` failed (raised in the calling claim's run)."""


class Route(Protocol):
    def __call__(self, fn: Callable[[Any], Any], items: list[Any], label: str,
                 cache: bool) -> list[Any]: ...


_route: Route | None = None  # where this process sends task_map items (None: serially, here)


def set_route(route: Route | None) -> None:
    """Route this process's `task_map` calls (worker processes, for good)."""
    global _route
    _route = route


@contextmanager
def routed(route: Route) -> Iterator[None]:
    """Route `task_map` calls through `route` inside the block (the main process of a run)."""
    global _route
    previous, _route = _route, route
    try:
        yield
    finally:
        _route = previous


def task_map(fn: Callable[[T], R], items: Iterable[T], *, label: str = "",
             cache: bool = True) -> list[R]:
    """`[fn(item) for item in items]`; `label` names the batch in messages, `cache=False` keeps
    the items out of the results cache."""
    items = list(items)
    if not importable(fn):
        raise TypeError(f"task_map needs a module-level function, got {fn_ref(fn)}")
    try:
        pickle.dumps(items, protocol=PICKLE_PROTOCOL)
    except Exception as exc:  # noqa: BLE001 - any pickling failure breaks the contract
        raise TypeError(f"task_map items must be picklable: {exc}") from exc
    if _route is None or not items:
        return [fn(item) for item in items]
    return _route(fn, items, label or fn_ref(fn), cache)


def values_or_raise(envelopes: Sequence[Envelope], label: str) -> list[Any]:
    """The items' values in order, or `TaskError` for the lowest-index failure."""
    for index, envelope in enumerate(envelopes):
        if not envelope.ok:
            raise TaskError(
                f"task_map {label}: item {index} of {len(envelopes)} failed: {envelope.reason}"
                + (f"\n--- item {index} ---\n{envelope.traceback}" if envelope.traceback else "")
            )
    return [envelope.output().value for envelope in envelopes]
