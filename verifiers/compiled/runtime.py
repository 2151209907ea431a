"""JAX, imported on first use, with XLA on one thread and float64 in scope.

Importing `scoreclaims.verifiers` never imports JAX (its start-up costs about a second); the
compiled engine calls `jax_modules()` when it first needs it. Before JAX starts, XLA's flags get
one CPU thread per process (`XLA_THREAD_FLAGS`, appended to XLA_FLAGS): workers already run one
per core, and a single thread keeps every reduction's order, so results repeat bit for bit
whatever the machine's load. If JAX was imported before (by other code) its flags stand as they
are. Float64 is switched on only around the engine's own calls (`float64()`, JAX's scoped
`enable_x64`), so code elsewhere in the process keeps JAX's defaults.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from types import ModuleType

XLA_THREAD_FLAGS = ("--xla_cpu_multi_thread_eigen=false", "intra_op_parallelism_threads=1")


@cache
def jax_modules() -> tuple[ModuleType, ModuleType]:
    """(jax, jax.numpy), with the thread flags set if JAX is not loaded yet."""
    if "jax" not in sys.modules:
        flags = os.environ.get("XLA_FLAGS", "").split()
        flags += [f for f in XLA_THREAD_FLAGS if f not in flags]
        os.environ["XLA_FLAGS"] = " ".join(flags)
    import jax
    import jax.numpy as jnp

    return jax, jnp


@contextmanager
def float64() -> Iterator[ModuleType]:
    """jax.numpy with float64 enabled inside the block (tracing and running both happen here)."""
    jax, jnp = jax_modules()
    with jax.enable_x64(True):
        yield jnp


def jax_version() -> str:
    return jax_modules()[0].__version__
