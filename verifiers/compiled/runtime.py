"""JAX, imported on first use, with XLA on one thread and float64 in scope.

Importing `scoreclaims.verifiers` never imports JAX (its start-up costs about a second); the
compiled engine calls `jax_modules()` when it first needs it. Before JAX starts, XLA's flags get
one CPU thread per process (`XLA_THREAD_FLAGS`, appended to XLA_FLAGS unless XLA_FLAGS sets
them already): workers already run one per core, and a single thread keeps every reduction's
order, so results repeat bit for bit whatever the machine's load. If JAX was imported before (by
other code) its flags stand as they are. Float64 is switched on only around the engine's own
calls (`float64()`, JAX's scoped `enable_x64`), so code elsewhere in the process keeps JAX's
defaults.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from importlib import metadata
from types import ModuleType

XLA_THREAD_FLAGS = ("--xla_cpu_multi_thread_eigen=false", "intra_op_parallelism_threads=1")
# jaxlib 0.10 hands some float64 fusions to the YNNPACK library, measured 10 to 20 % slower
# here than XLA's own loops (the softmax of a 2,240-node rule, batches of line rules); the flag
# is experimental, and XLA aborts on a flag it does not know, so only for the versions tested.
YNN_OFF = {"0.10.": "--xla_cpu_experimental_ynn_fusion_type=-dot,-individual_dot,-eltwise,-reduce"}


def _xla_flags() -> list[str]:
    flags = list(XLA_THREAD_FLAGS)
    try:
        version = metadata.version("jaxlib")
    except metadata.PackageNotFoundError:  # pragma: no cover
        return flags
    flags += [flag for prefix, flag in YNN_OFF.items() if version.startswith(prefix)]
    return flags


@cache
def jax_modules() -> tuple[ModuleType, ModuleType]:
    """(jax, jax.numpy), with the thread flags set if JAX is not loaded yet."""
    if "jax" not in sys.modules:
        flags = os.environ.get("XLA_FLAGS", "").split()
        mine = [f for f in _xla_flags() if f.split("=")[0] not in {g.split("=")[0] for g in flags}]
        os.environ["XLA_FLAGS"] = " ".join(flags + mine)
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
