"""Which arithmetic runs the engine's float64 gradient descent: "numpy" or "jax" (compiled).

The numpy engine is the reference: it builds every rule and computes every evaluation that is not
a reuse of a frozen rule. The "jax" backend runs the reuses, with the engine's own checks at every
step, in compiled loops (`verifiers.compiled`): the same steps, the same accept/refit decisions,
values equal to the last few bits. "auto" (the default) is "jax" where JAX is installed, else
"numpy". Arbitrary precision (mpmath) always runs on numpy object arrays.

The choice is process-wide and part of every cache key (`claims._run.jobs.precision`): results of
the two backends are close, not bit-identical, so they never stand in for each other.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager

from scoreclaims.verifiers.errors import UsageError

BACKENDS = ("auto", "numpy", "jax")
_chosen = "auto"


def available(name: str) -> bool:
    if name == "jax":
        return importlib.util.find_spec("jax") is not None
    return name in ("numpy", "auto")


def resolve(name: str) -> str:
    """The backend `name` stands for ("auto" resolved); a usage error for an unknown or
    unavailable one."""
    if name not in BACKENDS:
        raise UsageError(f"backend must be one of {', '.join(BACKENDS)}, got {name!r}")
    if name == "auto":
        return "jax" if available("jax") else "numpy"
    if not available(name):
        raise UsageError(f"backend {name!r} is not installed (pip install jax)")
    return name


def current() -> str:
    """The backend in use in this process ("numpy" or "jax")."""
    return resolve(_chosen)


def set_backend(name: str) -> None:
    global _chosen
    resolve(name)
    _chosen = name


@contextmanager
def using(name: str) -> Iterator[str]:
    """Run the block on backend `name`; the previous choice after it."""
    global _chosen
    previous = _chosen
    set_backend(name)
    try:
        yield current()
    finally:
        _chosen = previous
