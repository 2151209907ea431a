"""Results cache: one file per job (a claim's run on one instance, or one `task_map` item).

An entry is a header line ``scoreclaims-cache 2 <sha256 of body>`` followed by the body, the job's
pickled output (value, wall time, warnings). It is written atomically (a temporary file renamed
into place), so a run killed at any moment leaves every entry complete or absent; an entry that is
unreadable, truncated or whose checksum does not match is a miss (and is overwritten by the
recomputed result), never trusted. Only the main process of a run reads and writes the cache.
Entries are keyed by the job's function, its arguments, the arithmetic (precision, library versions,
BLAS build) and the code version (`job_key`); the body is a pickle, so a cache directory is as
trusted as the code next to it. Default location ``.scoreclaims/cache`` under the current
directory, or ``$SCORECLAIMS_CACHE``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

from scoreclaims.verifiers.atomic import atomic_path
from scoreclaims.verifiers.errors import UsageError

HEADER = b"scoreclaims-cache 2"
# Packages whose sources make up the code version (a change anywhere invalidates the cache).
CODE_PACKAGES = ("claims", "verifiers", "highprec")


def default_cache_dir() -> Path:
    return Path(os.environ.get("SCORECLAIMS_CACHE") or Path(".scoreclaims") / "cache")


def _hash_files(paths: list[Path], root: Path | None = None) -> str:
    h = hashlib.sha256()
    for path in paths:
        h.update(str(path.relative_to(root) if root else path.name).encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


@functools.cache
def package_sources_hash() -> str:
    """sha256 of every ``*.py`` file of the packages in `CODE_PACKAGES`."""
    root = Path(__file__).resolve().parent.parent
    files = sorted(
        p for pkg in CODE_PACKAGES if (root / pkg).is_dir() for p in (root / pkg).rglob("*.py")
    )
    return _hash_files(files, root)


@functools.cache
def module_source_hash(module_name: str) -> str:
    """sha256 of a module's source file ('' when it has none)."""
    module = sys.modules.get(module_name)
    path = getattr(module, "__file__", None)
    return _hash_files([Path(path)]) if path and Path(path).is_file() else ""


def cache_key(parts: dict[str, Any]) -> str:
    """Hex key of the canonical JSON of `parts`."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class ResultsCache:
    """Directory of checksummed entries; a failed write only warns (once). Thread-safe."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()
        self._warned = False
        self._lock = threading.Lock()

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.entry"

    def get(self, key: str) -> bytes | None:
        """The entry's body, or None when absent, unreadable or corrupt."""
        try:
            data = self.path(key).read_bytes()
        except OSError:
            return None
        header, sep, body = data.partition(b"\n")
        if not sep or header != HEADER + b" " + hashlib.sha256(body).hexdigest().encode():
            return None
        return body

    def put(self, key: str, body: bytes) -> None:
        path = self.path(key)
        data = HEADER + b" " + hashlib.sha256(body).hexdigest().encode() + b"\n" + body
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp:
                tmp.write_bytes(data)
        except (OSError, UsageError) as exc:
            with self._lock:
                if not self._warned:
                    print(f"scoreclaims: warning: results cache not written ({exc})",
                          file=sys.stderr)
                    self._warned = True
