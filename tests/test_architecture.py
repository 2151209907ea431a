"""The layers of the package, read statically from the sources (docs/ARCHITECTURE.md):

    verifiers (engine) < highprec < reports < claims (framework < paper, _run, cli)

An import may only point down; the paper's claims see the engine's public face and the claim
framework's, nothing of execution or the command line; no module-level import cycles; importlib
by name only where a registry needs it."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {"scoreclaims": "scoreclaims", "verifiers": "scoreclaims.verifiers",
           "highprec": "scoreclaims.highprec", "reports": "scoreclaims.reports",
           "claims": "scoreclaims.claims"}
FRAMEWORK = "claims.framework"


def modules() -> dict[str, Path]:
    out = {}
    for folder, package in FOLDERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            rel = path.relative_to(ROOT / folder).with_suffix("")
            parts = [] if rel.parts == ("__init__",) else list(rel.parts)
            if parts and parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([package, *parts])] = path
    return out


MODULES = modules()


def imports(path: Path, top_level_only: bool = False) -> Iterator[str]:
    """scoreclaims modules imported by `path` (the longest known prefix of each name)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    for node in nodes:
        if isinstance(node, ast.If) and top_level_only:
            continue  # TYPE_CHECKING blocks
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            subs = [f"{node.module}.{a.name}" for a in node.names]
            names = [n for n in subs if n in MODULES]  # `from package import submodule`
            if len(names) < len(subs):
                names.append(node.module)
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name.startswith("scoreclaims"):
                yield name


def layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) < 2 or parts[1] == "__main__":
        return "root"
    if parts[1] != "claims":
        return parts[1]
    if len(parts) > 2 and parts[2] in ("paper", "_run", "cli"):
        return f"claims.{parts[2]}"
    return "claims.pytest_plugin" if parts[-1] == "pytest_plugin" else FRAMEWORK


ENGINE_UTILITIES = {"scoreclaims.verifiers.errors", "scoreclaims.verifiers.atomic",
                    "scoreclaims.verifiers.backend"}
ALLOWED = {
    "verifiers": {"verifiers"},
    "highprec": {"verifiers", "highprec"},
    "reports": {"reports"},
    FRAMEWORK: {FRAMEWORK, "claims._run"},
    "claims._run": {FRAMEWORK, "claims._run"},
    "claims.paper": {"claims.paper", "highprec"},
    "claims.cli": {FRAMEWORK, "claims._run", "claims.cli", "verifiers", "highprec", "reports",
                   "root"},
    "claims.pytest_plugin": {FRAMEWORK, "claims._run"},
    "root": {"claims.cli"},
}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module: str) -> None:
    mine = layer(module)
    for target in set(imports(MODULES[module])):
        theirs = layer(target)
        if target in ENGINE_UTILITIES and mine != "verifiers":
            continue  # UsageError, atomic writes, the backend choice serve every layer
        if theirs in ALLOWED[mine]:
            continue
        if target == "scoreclaims.verifiers" and mine == "claims.paper":
            continue  # the engine's public face
        if target == "scoreclaims.reports.schema" and mine == FRAMEWORK:
            continue  # the results file's contract, which the framework writes
        if target == "scoreclaims.claims" and mine == "claims.paper":
            continue  # the framework's public face for claim authors
        raise AssertionError(f"{module} ({mine}) imports {target} ({theirs})")


def test_paper_sees_only_the_engines_public_names() -> None:
    import scoreclaims.verifiers as engine

    for module, path in MODULES.items():
        if layer(module) != "claims.paper":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "scoreclaims.verifiers":
                hidden = {a.name for a in node.names} - set(engine.__all__)
                assert not hidden, f"{module} uses engine internals {sorted(hidden)}"


def test_no_module_level_import_cycles() -> None:
    graph = {m: set(imports(p, top_level_only=True)) - {m} for m, p in MODULES.items()}
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt] if nxt in stack else [node, nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for module in graph:
        if module not in state:
            visit(module, [module])


def test_importlib_by_name_only_in_registries() -> None:
    # the two registries, and the two lazy public faces
    allowed = {"scoreclaims.claims.registry", "scoreclaims.reports.hooks", "scoreclaims",
               "scoreclaims.claims"}
    users = {m for m, p in MODULES.items() if "import_module(" in p.read_text()}
    assert users <= allowed, sorted(users - allowed)


def test_the_wheel_layout_maps_every_folder() -> None:
    """pyproject lists every package folder (a new subfolder must be added to the wheel)."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = {m for m, p in MODULES.items() if p.name == "__init__.py"}
    assert packages == set(config["packages"])
    assert all(name == "scoreclaims" or name.startswith("scoreclaims.")
               for name in config["package-dir"])
