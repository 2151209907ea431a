"""Results cache: one file per job (a claim's run on one instance, or one `task_map` item).

An entry is a header line ``scoreclaims-cache 2 <sha256 of body>`` followed by the body, the job's
pickled output (value, wall time, warnings). It is written atomically (a temporary file renamed
into place), so a run killed at any moment leaves every entry complete or absent; an entry that is
unreadable, truncated or whose checksum does not match is a miss (and is overwritten by the
recomputed result), never trusted. Only the main process of a run reads and writes the cache.
Entries are keyed by the job's function, its arguments, the arithmetic (precision, library
versions, BLAS build) and the code version (`keys.code_version`); the body is a pickle, so a cache
directory is as trusted as the code next to it. Default location ``.scoreclaims/cache`` under the
current directory, or ``$SCORECLAIMS_CACHE``.
"""

from __future__ import annotations

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


class _Corrupt:
    """What `ResultsCache.get` returns for an entry that exists but cannot be trusted."""

    def __repr__(self) -> str:
        return "CORRUPT"


CORRUPT = _Corrupt()


def default_cache_dir() -> Path:
    return Path(os.environ.get("SCORECLAIMS_CACHE") or Path(".scoreclaims") / "cache")


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

    def get(self, key: str) -> bytes | _Corrupt | None:
        """The entry's body; None when absent; `CORRUPT` when present but unreadable, truncated
        or failing its checksum (a miss too: recomputed and overwritten, never trusted)."""
        try:
            data = self.path(key).read_bytes()
        except FileNotFoundError:
            return None
        except OSError:
            return CORRUPT
        header, sep, body = data.partition(b"\n")
        if not sep or header != HEADER + b" " + hashlib.sha256(body).hexdigest().encode():
            return CORRUPT
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
