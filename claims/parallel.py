"""Independent sub-tasks of a claim run (seeds, bisection brackets, multi-starts).

`task_map(fn, items)` is the one entry point claim code uses for work that splits into
independent pieces. It returns `[fn(item) for item in items]`, in order; how the pieces are
executed (serially, on a local process pool or on a Dask cluster) is the run's business, not the
claim's. Contract for callers: `fn` is a module-level (picklable) function, deterministic given
its item (randomness only from seeds inside the item), and items and results are picklable.

This first version runs serially; the executors of issue 11 plug in here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def task_map(fn: Callable[[T], R], items: Iterable[T], *, label: str = "") -> list[R]:
    """`[fn(item) for item in items]`; `label` names the batch in progress output."""
    del label
    return [fn(item) for item in items]
