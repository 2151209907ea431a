"""The installed package as a user meets it: one import package, its commands, and no trace in
other projects (scoreclaims' pytest plugin loads in every pytest run where it is installed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import scoreclaims


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, cwd=cwd, timeout=300)


def test_an_unrelated_project_with_its_own_claims_package_is_unaffected(tmp_path: Path) -> None:
    """Its own `claims`, `verifiers` and `reports` packages import as its own, and pytest runs
    (the scoreclaims plugin loads lazily and adds nothing without --claims)."""
    for name in ("claims", "verifiers", "reports", "highprec"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"OWNER = 'other project: {name}'\n")
    (tmp_path / "test_mine.py").write_text(
        "import claims, reports, verifiers\n\n"
        "def test_mine():\n"
        "    assert claims.OWNER == 'other project: claims'\n"
        "    assert reports.OWNER.endswith('reports') and verifiers.OWNER.endswith('verifiers')\n")
    proc = _run(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout


def test_the_package_root_and_its_commands(tmp_path: Path) -> None:
    assert scoreclaims.__version__ and scoreclaims.__version__ != "0+unknown"
    assert {"verify", "load_claims", "evaluate", "run_gd", "Claim"} <= set(dir(scoreclaims))
    assert scoreclaims.load_claims is scoreclaims.claims.load_claims
    module = _run(sys.executable, "-m", "scoreclaims", "--help", cwd=tmp_path)
    script = _run(str(Path(sys.executable).with_name("scoreclaims")), "--help", cwd=tmp_path)
    assert module.returncode == script.returncode == 0
    assert module.stdout == script.stdout and "verify" in module.stdout
    version = _run(sys.executable, "-m", "scoreclaims", "--version", cwd=tmp_path)
    assert version.stdout.strip() == f"scoreclaims {scoreclaims.__version__}"


def test_importing_the_plugin_imports_nothing_heavy() -> None:
    code = ("import sys, scoreclaims.claims.pytest_plugin\n"
            "heavy = [m for m in ('numpy', 'pandas', 'scipy', 'mpmath', 'matplotlib') "
            "if m in sys.modules]\n"
            "print(','.join(heavy))")
    proc = _run(sys.executable, "-c", code)
    assert proc.returncode == 0 and proc.stdout.strip() == "", proc.stdout + proc.stderr


def test_docs_claims_page_is_the_registry() -> None:
    """docs/claims.md is `scoreclaims list --markdown` (regenerate it after editing a claim)."""
    from scoreclaims.claims.cli.verify import markdown
    from scoreclaims.claims.registry import load

    root = Path(__file__).resolve().parent.parent
    page = (root / "docs" / "claims.md").read_text()
    assert page == markdown(list(load())), "run: scoreclaims list --markdown > docs/claims.md"


def test_readme_links_resolve() -> None:
    import re

    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text()
    links = re.findall(r"\]\(([^)#]+)\)", readme)
    assert links and all((root / link).exists() for link in links), links
    assert len(readme.splitlines()) <= 150
