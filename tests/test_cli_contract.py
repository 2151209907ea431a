"""The command line's contract: exit codes 0 / 1 / 2 / 130, one line and nothing written for a
usage error, outputs checked before anything is computed, a closed pipe that silences output but
not the command, and the CI outputs of `verify` (JUnit XML, GitHub annotations)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st

from scoreclaims.claims import registry
from scoreclaims.claims.cli.main import main
from scoreclaims.claims.cli.terminal import plain
from scoreclaims.claims.model import Claim, Domain, InstanceOutcome, Predicate
from scoreclaims.claims.registry import Registry

CALLS: list[dict[str, Any]] = []


def run_square(instance: dict[str, Any], params: dict[str, Any]) -> InstanceOutcome:
    CALLS.append(instance)
    return InstanceOutcome(metrics={"square": instance["x"] ** 2})


SMALL = Claim(
    id="C.small", paper_ref="synthetic", regime="any",
    statement_md="Every **integer** `0 <= x <= 5` has x^2 <= 25 (derived).",
    hypotheses=Domain("integer 0 <= x <= 5", contains=lambda i: 0 <= i["x"] <= 5,
                      instances={"quick": [{"x": 1}, {"x": 5}]},
                      strategy=st.fixed_dictionaries({"x": st.integers(0, 5)}),
                      search_examples={"quick": 5, "full": 5}),
    conclusions=(Predicate("small", "x^2 <= bound", lambda o, p: o.metrics["square"] <= p["b"]),),
    run=run_square, parameters={"b": 25},
)
SMALL_FALSE = SMALL.variant("bound-10", "Known false (derived): x^2 <= 10.",
                            parameters={"b": 10})
SMALL_WRONG = SMALL.variant("bound-100", "Wrongly registered as false (derived).",
                            parameters={"b": 100})


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SCORECLAIMS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    CALLS.clear()
    return tmp_path


def use(monkeypatch: pytest.MonkeyPatch, *claims: Claim) -> None:
    monkeypatch.setattr(registry, "load", lambda modules=None: Registry(claims))


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse
        code = int(exc.code)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("option", [
    ["--json", "/proc/nowhere/r.json"], ["--json", "/proc/r.json"], ["--report", "/proc/rep"],
    ["--junit", "/proc/j.xml"], ["--junit", "."], ["--report", "/dev/null"],
    ["--scheduler", "notaurl"], ["--scheduler", "tcp://127.0.0.1:1"], ["--workers", "-1"],
])
def test_unusable_outputs_are_refused_before_computing(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        option: list[str]) -> None:
    use(monkeypatch, SMALL)
    start = time.monotonic()
    code, out, err = cli(capsys, "verify", "--workers", "0", *option)
    assert code == 2 and err.startswith("scoreclaims: error: ") and len(err.splitlines()) == 1
    assert "Traceback" not in err and CALLS == [] and time.monotonic() - start < 30
    assert not list(Path().glob("*.json")) and not Path("cache").exists()


def test_json_to_standard_output(monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    use(monkeypatch, SMALL, SMALL_FALSE)
    code, out, err = cli(capsys, "verify", "--workers", "0", "--json", "-", "--derandomize")
    assert code == 0 and not Path("-").exists()
    doc = json.loads(out)  # nothing but the document on stdout
    assert [c["id"] for c in doc["claims"]] == ["C.small", "C.small~bound-10"]
    assert "2 claims, 2 as expected" in err and "instances:" in err


def test_junit_and_github_outputs(monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    use(monkeypatch, SMALL, SMALL_FALSE, SMALL_WRONG)
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, out, _ = cli(capsys, "verify", "--workers", "0", "--derandomize", "--junit", "j.xml",
                       "--github")
    assert code == 1
    suite = ET.parse("j.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "3" and suite.get("failures") == "1"
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["C.small"].find("failure") is None
    rejected = cases["C.small~bound-10"]
    assert rejected.find("failure") is None and rejected.find("error") is None
    assert "known-false variant rejected" in rejected.findtext("system-out", "")
    props = {p.get("name"): p.get("value") for p in rejected.iter("property")}
    assert props["expected"] == "known-false" and props["verdict"] == "fail"
    failure = cases["C.small~bound-100"].find("failure")
    assert failure is not None and "verdict pass, expected fail" in failure.get("message", "")
    annotations = [line for line in out.splitlines() if line.startswith("::")]
    assert annotations == [annotations[0]] and annotations[0].startswith(
        "::error title=C.small~bound-100%3A pass%2C expected fail::")
    table = summary.read_text()
    assert "1 of 3 verdicts do not match" in table and "| `C.small~bound-100` |" in table


def test_no_hypothesis_folder_in_the_working_directory(tmp_path: Path) -> None:
    """Hypothesis's own files (its cache of constants, written once per process) go beside the
    example database, not into ./.hypothesis (a fresh process, so that it writes them)."""
    script = ("import dataclasses, sys\n"  # T2.1's search alone (2 examples), without its grid
              "import scoreclaims.claims.registry as r\n"
              "from scoreclaims.claims.paper.large_noise import T2_1\n"
              "search = dataclasses.replace(T2_1, hypotheses=dataclasses.replace(\n"
              "    T2_1.hypotheses, instances={'quick': []}))\n"
              "r.load = lambda modules=None: r.Registry((search,))\n"
              "from scoreclaims.claims.cli.main import main\n"
              "sys.exit(main(['verify', '--workers', '0', '--derandomize']))\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / ".hypothesis").exists()
    assert (tmp_path / ".scoreclaims" / "hypothesis").is_dir()


def test_list_reads_as_plain_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "list")
    assert code == 0 and "**" not in out and "`" not in out.split("(instances")[0]
    header = out.splitlines()[0]
    starts = [header.index(h) for h in ("EXPECTED", "PAPER", "REGIME", "STATEMENT")]
    for line in out.splitlines()[1:]:
        if line and not line.startswith(" ") and not line.startswith("("):
            assert line[starts[0]:].split()[0] in ("holds", "known-false", "undecidable"), line
    assert plain("**(reported)** `x` [see](a.md) *t*") == "(reported) x see t"


def _closed_pipe(*argv: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    """`scoreclaims argv | head -c 1`: the reader goes away after one byte."""
    command = " ".join(["'" + sys.executable + "'", "-m", "scoreclaims", *argv])
    return subprocess.run(["bash", "-c", f"set -o pipefail; {command} | head -c 1 >/dev/null; "
                           "echo ${PIPESTATUS[0]} >&2"], capture_output=True, cwd=cwd,
                          timeout=300)


def test_a_closed_pipe_is_not_a_crash(tmp_path: Path) -> None:
    listed = _closed_pipe("list", cwd=tmp_path)
    assert b"Traceback" not in listed.stderr and listed.stderr.split()[-1] == b"0"
    verified = _closed_pipe("verify", "T3.4~opposite-side", "--workers", "0", cwd=tmp_path)
    assert b"Traceback" not in verified.stderr, verified.stderr.decode()
    assert verified.stderr.split()[-1] == b"0"  # its verdict, not the pipe, sets the status


@pytest.mark.parametrize("argv, message", [
    (["run", "--means", "[[0.0],[1.0]]", "--eta", "0.1", "--steps", "1" + "0" * 26, "--out",
      "t.csv"], "--steps: must be <= 1e+15"),
    (["evaluate", "--means", "[[0.0],[1.0]]", "--dps", "1000000"], "--dps: must be <= 1e+04"),
    (["evaluate", "--means", "[[true],[false]]"], "must hold numbers, not booleans"),
    (["evaluate", "--means", "[[0.0],[1.0]]", "--truth", "[true]"], "not booleans"),
    (["evaluate", "--means", '[["1"],[true]]', "--dps", "30"], "not booleans"),
    (["run", "--means", "[[0.0],[1.0]]", "--eta", "0.1", "--steps", "10", "--no-handover",
      "--out", "t.csv"], "--no-handover applies to --dps runs"),
])
def test_engine_commands_refuse_bad_input(capsys: pytest.CaptureFixture[str], argv: list[str],
                                          message: str) -> None:
    code, out, err = cli(capsys, *argv)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not Path("t.csv").exists()


def test_an_interrupted_run_keeps_its_rows(tmp_path: Path) -> None:
    """SIGTERM (as Ctrl-C) ends a long run with the rows computed so far in OUT's .partial file,
    written atomically, and exit status 130; a complete trajectory at OUT is left alone."""
    import signal

    out = tmp_path / "t.csv"
    out.write_text("an earlier complete run\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "scoreclaims", "run", "--means", "[[0.0],[3.0],[-2.0]]", "--eta",
         "0.01", "--steps", "100000000", "--out", str(out), "--backend", "numpy"],
        stderr=subprocess.PIPE, text=True)
    # signalled once the run says it is under way (its estimate line, after 5 s of steps), not
    # after a fixed sleep: on a loaded machine the imports alone can take longer than that
    watchdog = threading.Timer(300, proc.kill)
    watchdog.start()
    first = proc.stderr.readline() if proc.stderr else ""
    watchdog.cancel()
    assert "steps at about" in first, first
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    err = first + err
    partial = tmp_path / "t.partial.csv"
    assert proc.returncode == 130, err
    assert "(partial)" in err and "Traceback" not in err
    rows = partial.read_text().splitlines()
    assert rows[0].startswith("tau,loss,loss_error") and len(rows) > 3
    assert out.read_text() == "an earlier complete run\n"


def test_run_backends_agree_on_t21s_n5_d3_start(tmp_path: Path) -> None:
    """`run --backend jax` (compiled reuses of the engine's rules) and `--backend numpy` give
    the same trajectory to 1e-12 on T2.1's n = 5, d = 3 start (inside its hypotheses)."""
    import numpy as np
    import pandas as pd

    from scoreclaims.claims.paper.large_noise import _inside

    inst = _inside(5, 3, 1)
    frames = {}
    for backend in ("numpy", "jax"):
        out = tmp_path / f"{backend}.csv"
        proc = subprocess.run(
            [sys.executable, "-m", "scoreclaims", "run", "--means", json.dumps(inst["means"]),
             "--truth", json.dumps(inst["truth"]), "--t", repr(inst["t"]), "--eta",
             repr(inst["eta"]), "--steps", "600", "--stride", "50", "--out", str(out),
             "--backend", backend], capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        frames[backend] = pd.read_csv(out)
    a, b = frames["numpy"], frames["jax"]
    assert list(a["tau"]) == list(b["tau"])
    cols = [c for c in a.columns if c.startswith("mu_")]
    canonical = (a[cols].to_numpy() - np.tile(inst["truth"], 5)) * np.exp(-inst["t"])
    moved = (b[cols].to_numpy() - a[cols].to_numpy()) * np.exp(-inst["t"])
    assert np.max(np.abs(moved)) <= 1e-12 * np.max(np.abs(canonical))
    assert np.allclose(a["loss"], b["loss"], rtol=1e-12, atol=0)
