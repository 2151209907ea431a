"""Non-finite results are never converged, and the command line says so: one line on stderr,
a non-zero exit, valid JSON (null, never NaN), no numpy warnings. Means whose loss or integrands
float64 cannot hold are refused up front (exit 2)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from scoreclaims.claims.cli import engine
from scoreclaims.claims.cli.main import main
from scoreclaims.verifiers.errors import UsageError
from scoreclaims.verifiers.geometry import as_means, as_truth
from scoreclaims.verifiers.population import Evaluation, evaluate

HUGE = ["[[1e308],[0.0]]", "[[1e200,0],[0,1e200]]", "[[1e150],[1.0]]"]


def _strict_json(text: str) -> dict:
    """json.loads refusing NaN and Infinity (which are not JSON)."""
    def refuse(name: str) -> None:
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(autouse=True)
def _warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


@pytest.mark.parametrize("means", [*HUGE, "[[NaN],[0.0]]", "[[Infinity],[0.0]]"])
def test_engine_out_of_range_is_never_converged(means: str) -> None:
    m = np.array(json.loads(means), dtype=float)
    ev = evaluate(m)
    assert ev.converged is False
    assert np.isnan(ev.loss) and np.all(np.isnan(ev.grad))


@pytest.mark.parametrize("means", [[[1e100], [0.0]], [[1e100, 0.0], [0.0, -1e100]],
                                   [[1e60], [-3e59], [2.0]]])
def test_engine_large_means_in_range_are_quiet(means: list) -> None:
    ev = evaluate(np.array(means))
    assert isinstance(ev.converged, bool)
    if ev.converged:
        assert np.isfinite(ev.loss) and np.all(np.isfinite(ev.grad))


def test_engine_converged_is_a_bool_and_false_for_nan() -> None:
    ev = evaluate(np.array([[0.0], [3.0]]))
    assert ev.converged is True
    capped = evaluate(np.array([[0.0], [3.0]]), max_evaluations=5)  # NaN values
    assert capped.converged is False and np.isnan(capped.loss)


def test_inputs_beyond_the_engine_range_are_refused() -> None:
    with pytest.raises(UsageError, match="range"):
        as_means([[1e101], [0.0]])
    with pytest.raises(UsageError, match="range"):
        as_truth([-1e101], 1)
    as_means([[1e100], [0.0]])


@pytest.mark.parametrize("means", HUGE)
@pytest.mark.parametrize("command", ["evaluate", "run"])
def test_cli_refuses_unrepresentable_means(command: str, means: str, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "traj.csv"
    extra = (["--eta", "0.1", "--steps", "3", "--out", str(out)] if command == "run"
             else ["--json"])
    assert main([command, "--means", means, *extra]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "range" in captured.err
    assert list(tmp_path.iterdir()) == []


def test_cli_unconverged_evaluate_exits_1_with_valid_json(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "--means", "[[0],[80]]", "--json"]) == 1  # below float64's range
    captured = capsys.readouterr()
    res = _strict_json(captured.out)
    assert res["converged"] is False
    assert captured.err.count("\n") == 1
    assert main(["evaluate", "--means", "[[0],[80]]"]) == 1
    assert capsys.readouterr().err.count("\n") == 1


def test_cli_non_finite_values_are_null(monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    def nan_engine(m: np.ndarray, tol: float | None = None) -> Evaluation:
        return Evaluation(np.nan, np.full(m.shape, np.nan), np.inf, np.nan, 0, False)

    monkeypatch.setattr(engine, "evaluate", nan_engine)
    assert main(["evaluate", "--means", "[[0],[3]]", "--json"]) == 1
    captured = capsys.readouterr()
    res = _strict_json(captured.out)
    assert res["loss"] is None and res["gradient"] == [[None], [None]]
    assert res["error_estimate"] == {"loss": None, "gradient": None}
    assert res["converged"] is False
    assert captured.err.count("\n") == 1 and "non-finite" in captured.err
    assert main(["evaluate", "--means", "[[0],[3]]"]) == 1
    assert capsys.readouterr().err.count("\n") == 1


def test_cli_highprec_json_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    """The arbitrary-precision path: no digit at all verified prints null, not -Infinity."""
    assert main(["evaluate", "--means", "[[1e308],[0.0]]", "--dps", "30", "--json"]) == 1
    captured = capsys.readouterr()
    _strict_json(captured.out)
    assert captured.err.count("\n") == 1


def test_cli_run_that_goes_non_finite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "traj.csv"
    assert main(["run", "--means", "[[0],[3]]", "--eta", "1e305", "--steps", "3",
                 "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "non-finite" in captured.err
    assert out.exists()
