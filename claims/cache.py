"""Results cache: one file per (claim, instance, precision, parameters, code version).

An entry is a header line ``scoreclaims-cache 1 <sha256 of body>`` followed by the JSON body. It is
written atomically; an entry that is unreadable or whose checksum does not match is a miss (and is
overwritten by the recomputed result), never trusted. Default location ``.scoreclaims/cache``
under the current directory, or ``$SCORECLAIMS_CACHE``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from verifiers.atomic import write_text_atomic
from verifiers.errors import UsageError

HEADER = "scoreclaims-cache 1"
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
    """Directory of checksummed JSON entries; a failed write only warns (once)."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()
        self._warned = False

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The entry's body, or None when absent, unreadable or corrupt."""
        try:
            text = self.path(key).read_text(encoding="utf-8")
            header, body = text.split("\n", 1)
            if header != f"{HEADER} {hashlib.sha256(body.encode()).hexdigest()}":
                return None
            entry = json.loads(body)
        except (OSError, ValueError, UnicodeDecodeError):
            return None
        if not isinstance(entry, dict) or entry.get("key") != key:
            return None
        return entry.get("payload")

    def put(self, key: str, payload: dict[str, Any]) -> None:
        body = json.dumps({"key": key, "payload": payload}, separators=(",", ":"))
        text = f"{HEADER} {hashlib.sha256(body.encode()).hexdigest()}\n{body}"
        path = self.path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(path, text)
        except (OSError, UsageError) as exc:
            if not self._warned:
                print(f"scoreclaims: warning: results cache not written ({exc})", file=sys.stderr)
                self._warned = True
