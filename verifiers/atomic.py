"""Atomic file output: a result file is either complete or absent, never half-written."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from scoreclaims.verifiers.errors import UsageError


def check_writable(path: str | os.PathLike[str]) -> Path:
    """Fail early, as a usage error, when a file cannot be written at `path`: its folder is
    missing or refuses a new file (tried for real: permissions alone do not tell, e.g. /proc)."""
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise UsageError(f"output path {str(p)!r} is a directory")
    if not parent.is_dir():
        raise UsageError(f"output folder {str(parent)!r} does not exist")
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".probe", dir=parent)
    except OSError as exc:
        raise UsageError(f"output folder {str(parent)!r} is not writable "
                         f"({exc.strerror or exc})") from None
    os.close(fd)
    os.unlink(probe)
    return p


def check_creatable_dir(path: str | os.PathLike[str]) -> Path:
    """Fail early, as a usage error, unless `path` is a writable folder or one that can be
    made (its parent exists and takes a new folder, tried for real)."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise UsageError(f"output path {str(p)!r} exists and is not a folder")
    if p.is_dir():
        check_writable(p / "probe")
        return p
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"output folder's parent {str(parent)!r} does not exist")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=f".{p.name}.", suffix=".probe", dir=parent))
    except OSError as exc:
        raise UsageError(f"cannot create output folder {str(p)!r} "
                         f"({exc.strerror or exc})") from None
    return p


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    target = check_writable(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; results are ordinary files
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
