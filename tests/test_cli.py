"""`scoreclaims evaluate` and `run`: bad input is one line on stderr, exit 2, no file left."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scoreclaims.claims.cli.main import main

BAD = [
    (["--means", "[[0.0]]"], "n >= 2"),
    (["--means", "[[0.0],[1.0,2.0]]"], "list of n lists"),
    (["--means", "[[0.0],[\"a\"]]"], "list of n lists"),
    (["--means", "not json"], "not valid JSON"),
    (["--means", "[[NaN],[1.0]]"], "NaN or infinite"),
    (["--means", "[[Infinity],[1.0]]"], "NaN or infinite"),
    (["--means", "[[0.0],[1.0]]", "--truth", "[1.0, 2.0]"], "d = 1"),
    (["--means", "[[0.0],[1.0]]", "--t", "-1"], "t must be"),
]


@pytest.mark.parametrize("command", ["evaluate", "run"])
@pytest.mark.parametrize(("args", "message"), BAD)
def test_bad_problem_input(command: str, args: list[str], message: str, tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "traj.csv"
    extra = ["--eta", "0.1", "--steps", "5", "--out", str(out)] if command == "run" else []
    assert main([command, *args, *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not out.exists() and list(tmp_path.iterdir()) == []


BAD_STEPS = [
    ["--eta", "0", "--steps", "5"],
    ["--eta", "-0.1", "--steps", "5"],
    ["--eta", "nan", "--steps", "5"],
    ["--eta", "0.1", "--steps", "0"],
    ["--eta", "0.1", "--steps", "-3"],
    ["--eta", "0.1", "--steps", "5", "--stride", "0"],
]


@pytest.mark.parametrize("step_args", BAD_STEPS)
def test_bad_step_input(step_args: list[str], tmp_path: Path,
                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "traj.csv"
    with pytest.raises(SystemExit) as exc:
        main(["run", "--means", "[[0.0],[1.0]]", *step_args, "--out", str(out)])
    assert exc.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--means", "[[0.0],[1.0]]", "--eta", "0.1", "--steps", "3",
                 "--out", str(tmp_path / "missing" / "x.csv")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_evaluate_json_and_run_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "--means", "[[0.0],[14.0]]", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert set(res) >= {"loss", "gradient", "error_estimate"}
    assert res["loss"] == pytest.approx(1.9611496342395205e-10, rel=1e-12)  # mpmath, 40 digits
    assert res["error_estimate"]["loss"] < 1e-10 * res["loss"]
    out = tmp_path / "traj.csv"
    assert main(["run", "--means", "[[0.5],[-1.0]]", "--eta", "0.1", "--steps", "8",
                 "--out", str(out)]) == 0
    assert out.read_text().splitlines()[0].startswith("tau,loss,loss_error")
    assert [p.name for p in tmp_path.iterdir()] == ["traj.csv"]
