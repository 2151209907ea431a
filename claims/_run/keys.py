"""What a job's result depends on in code: the code version that goes into its cache key.

A claim's outcome on an instance is a function of the claim's `run` and the helpers it imports,
the engine, and the parameters and arithmetic (keyed elsewhere, `jobs`). So a job's code version
is the hash of

* the engine: every source file of `scoreclaims.verifiers` and `scoreclaims.highprec`;
* the outcome's format: `scoreclaims.claims.outcome` (what the cache stores);
* the import closure of the job function's module: that module and every module it imports,
  transitively, read statically from the sources (``import`` statements anywhere in the file,
  relative ones included), restricted to the function's own top-level package, minus the parts
  that cannot change an outcome: the claim framework (judging, registry, results), execution
  (`scoreclaims.claims._run`), the command line and the reports, and the engine (already counted
  whole).

So a comment added to the report, the progress display, the command line, the pytest plugin or
another claim reruns nothing of a claim; an edit to a claim's module reruns that claim (and every
claim or variant sharing its `run`) and the claims whose modules import it. Imports made by
`importlib` at run time are not seen: claim code imports what it uses with import statements.
Code with no source file (``python -c``, a REPL) gets a per-process token: its outcomes are never
served to a later run.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ENGINE_PACKAGES = ("scoreclaims.verifiers", "scoreclaims.highprec")
OUTCOME_MODULE = "scoreclaims.claims.outcome"
# Never followed from a claim module: they do not compute outcomes (or, the engine, are hashed
# whole). Packages match themselves and everything below them; modules match exactly.
NOT_FOLLOWED_PACKAGES = (
    *ENGINE_PACKAGES,
    "scoreclaims.reports",
    "scoreclaims.claims._run",
    "scoreclaims.claims.cli",
)
NOT_FOLLOWED_MODULES = frozenset({
    "scoreclaims",
    "scoreclaims.claims",  # the package's face: re-exports of the framework below
    "scoreclaims.claims.pytest_plugin",
    "scoreclaims.claims.registry",
    "scoreclaims.claims.runner",
    "scoreclaims.claims.options",
    "scoreclaims.claims.judge",
    "scoreclaims.claims.search",
    "scoreclaims.claims.evidence",
    "scoreclaims.claims.results",
    "scoreclaims.claims.model",
    "scoreclaims.claims.verdict",
    OUTCOME_MODULE,
})

# Stands for the source of a module that has no file: outcomes of such code are shared within
# this process only, never served to a later run.
NO_SOURCE = f"no-source-{secrets.token_hex(8)}"


def read_source(path: Path) -> bytes:
    """A source file's bytes (one place, so tests can stand an edited file in for the real one)."""
    return path.read_bytes()


def _digest(items: Iterable[tuple[str, bytes]]) -> str:
    h = hashlib.sha256()
    for name, data in items:
        h.update(name.encode())
        h.update(b"\0")
        h.update(data)
        h.update(b"\0")
    return h.hexdigest()


@functools.cache
def module_file(name: str) -> Path | None:
    """The source file of module `name` (found without importing it), None without one."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    origin = None if spec is None else spec.origin
    if not origin or not origin.endswith(".py"):
        return None
    path = Path(origin)
    return path if path.is_file() else None


def _package_files(package: str) -> list[Path]:
    init = module_file(package)
    return [] if init is None else sorted(init.parent.rglob("*.py"))


@functools.cache
def engine_hash() -> str:
    """sha256 of every source file of the engine packages (verifiers, highprec)."""
    files = [(f"{pkg}/{p.relative_to(module_file(pkg).parent)}", p)  # type: ignore[union-attr]
             for pkg in ENGINE_PACKAGES for p in _package_files(pkg)]
    return _digest((name, read_source(p)) for name, p in files)


def _followed(name: str, top: str) -> bool:
    if name.split(".")[0] != top or name in NOT_FOLLOWED_MODULES:
        return False
    return not any(name == skip or name.startswith(skip + ".") for skip in NOT_FOLLOWED_PACKAGES)


def _imported(name: str, path: Path, source: bytes) -> set[str]:
    """Module names that `source` (module `name` at `path`) imports, statically."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)  # submodules, if any
    return found


@functools.cache
def closure(module: str) -> tuple[tuple[str, Path], ...]:
    """The modules whose sources make up `module`'s part of a code version: itself and what it
    imports, transitively, within its top-level package, except the framework (`NOT_FOLLOWED_*`)."""
    top = module.split(".")[0]
    seen: dict[str, Path] = {}
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = module_file(name)
        if path is None:
            continue
        seen[name] = path
        todo.extend(m for m in _imported(name, path, read_source(path))
                    if m not in seen and _followed(m, top))
    return tuple(sorted(seen.items()))


@functools.cache
def module_hash(module: str) -> str:
    """sha256 of the sources in `closure(module)`; `NO_SOURCE` for a module without a file."""
    files = closure(module)
    if not files:
        return NO_SOURCE
    return _digest((name, read_source(path)) for name, path in files)


def code_version(fn: Callable[..., Any]) -> str:
    """The code version of a job running `fn`: engine, outcome format, `fn`'s import closure."""
    module = getattr(fn, "__module__", "") or ""
    own = module_hash(module) if module and module != "__main__" else NO_SOURCE
    return f"{engine_hash()}:{module_hash(OUTCOME_MODULE)}:{own}"


@functools.cache
def package_sources_hash() -> str:
    """sha256 of every source file of the scoreclaims package (the results file's code id)."""
    init = module_file("scoreclaims")
    roots = [("scoreclaims", init.parent)] if init is not None else []
    for sub in ("verifiers", "highprec", "reports", "claims"):
        path = module_file(f"scoreclaims.{sub}")
        if path is not None:
            roots.append((f"scoreclaims.{sub}", path.parent))
    files = sorted((f"{name}/{p.relative_to(root)}", p) for name, root in roots
                   for p in sorted(root.rglob("*.py")))
    return _digest((name, read_source(p)) for name, p in files)


def clear() -> None:
    """Forget every hash (after sources changed within this process: tests)."""
    for cached in (module_file, engine_hash, closure, module_hash, package_sources_hash):
        cached.cache_clear()
