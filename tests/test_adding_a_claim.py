"""docs/ADDING_A_CLAIM.md's worked claim, run as written: its module and its test are the code
blocks of the page (each starts with a ``# file:`` line)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from scoreclaims.claims.registry import Registry

DOC = Path(__file__).resolve().parent.parent / "docs" / "ADDING_A_CLAIM.md"


def blocks() -> dict[str, str]:
    found = re.findall(r"```python\n# file: (\S+)\n(.*?)```", DOC.read_text(), flags=re.S)
    return dict(found)


def test_the_worked_claim_runs_as_documented(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    code = blocks()
    assert set(code) == {"toy_pack/collapse.py", "test_toy_collapse.py"}
    (tmp_path / "toy_pack").mkdir()
    (tmp_path / "toy_pack" / "__init__.py").write_text("")
    (tmp_path / "toy_pack" / "collapse.py").write_text(code["toy_pack/collapse.py"])
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)  # the cache and example database of the run go here
    for name in ("toy_pack", "toy_pack.collapse"):
        sys.modules.pop(name, None)
    namespace: dict[str, object] = {}
    exec(compile(code["test_toy_collapse.py"], "test_toy_collapse.py", "exec"), namespace)
    namespace["test_toy_claim_holds_and_its_variant_is_rejected"]()  # type: ignore[operator]
    namespace["test_every_conclusion_can_fail"]()  # type: ignore[operator]

    from toy_pack.collapse import CLAIMS

    registry = Registry(CLAIMS)
    assert [c.id for c in registry] == ["TOY.collapse", "TOY.collapse~eta-over-n"]


def test_the_documented_registry_line_is_this_projects_form() -> None:
    """The page's entry-point group is the one the registry reads."""
    from scoreclaims.claims.registry import GROUP

    assert f'[project.entry-points."{GROUP}"]' in DOC.read_text()
    pyproject = (DOC.parent.parent / "pyproject.toml").read_text()
    assert f'[project.entry-points."{GROUP}"]' in pyproject
