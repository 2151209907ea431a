"""What a float64 result depends on besides the code and its inputs, and pinning it down.

Bit-identical results whatever runs them need two things. First, one BLAS thread per process:
a multi-threaded BLAS splits reductions (dot products, matrix products) between threads, so the
summation order, and with it the last bits, depend on the thread count. `single_blas_thread()`
pins the main process for the duration of a run (restoring it afterwards), `pin_blas_threads()`
pins a worker process for good. Second, the same arithmetic everywhere: `environment_fingerprint()`
names the Python and library versions and the BLAS build and kernel (OpenBLAS picks its kernels by
CPU architecture, and different kernels round differently). It is part of every cache key, and a
worker whose fingerprint differs from the main process's refuses the job (an error verdict, never
silently different numbers).
"""

from __future__ import annotations

import functools
import hashlib
import json
import platform
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from typing import Any

VERSIONED = ("numpy", "scipy", "pandas", "mpmath", "gmpy2", "python-flint", "jax", "jaxlib")


def _load_blas() -> None:
    """Import the libraries that bring BLAS along, so that limiting them reaches every copy."""
    import numpy  # noqa: F401
    import scipy.linalg  # noqa: F401


@contextmanager
def single_blas_thread() -> Iterator[None]:
    """One BLAS/OpenMP thread in this process inside the block; the previous limits after it."""
    _load_blas()
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


@functools.cache
def pin_blas_threads() -> None:
    """One BLAS/OpenMP thread in this process from now on (worker processes; idempotent)."""
    _load_blas()
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


@functools.cache
def environment_fingerprint() -> dict[str, Any]:
    """Python, library versions, the mpmath backend and the BLAS libraries (build and kernel)."""
    _load_blas()
    import mpmath.libmp
    from threadpoolctl import threadpool_info

    found = {(i.get("internal_api"), i.get("version"), i.get("architecture"))
             for i in threadpool_info()}
    blas = sorted(found, key=str)
    return {
        "python": ".".join(map(str, sys.version_info[:3])),
        "machine": platform.machine(),
        "versions": {name: _version(name) for name in VERSIONED},
        "mpmath_backend": mpmath.libmp.BACKEND,
        "blas": [list(b) for b in blas],
    }


def fingerprint_digest(code: str) -> str:
    """Short digest of `code` (a code version) and the environment fingerprint."""
    text = json.dumps({"code": code, "env": environment_fingerprint()}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]
