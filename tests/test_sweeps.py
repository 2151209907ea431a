"""Sweeps at scale: bit-identical results whatever the executor (in-process, local pool, a real
Dask LocalCluster on loopback), task_map forwarding, a worker that dies, a run killed by a real
signal that resumes from the cache, corrupted cache entries recomputed."""

from __future__ import annotations

import dataclasses
import multiprocessing.forkserver  # noqa: F401 (see TESTS below)
import multiprocessing.resource_tracker  # noqa: F401
import multiprocessing.synchronize  # noqa: F401
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sweep_claims as sc
from threadpoolctl import threadpool_limits

from scoreclaims.claims._run import parallel
from scoreclaims.claims._run.base import PRIORITY_TASK, Handle
from scoreclaims.claims._run.cache import ResultsCache
from scoreclaims.claims._run.determinism import single_blas_thread
from scoreclaims.claims._run.jobs import task_job
from scoreclaims.claims._run.local_pool import LocalPool
from scoreclaims.claims._run.parallel import TaskError, task_map
from scoreclaims.claims.cli.main import main
from scoreclaims.claims.evidence import ClaimResult
from scoreclaims.claims.model import Domain
from scoreclaims.claims.runner import RunOptions, result_key, verify
from scoreclaims.claims.verdict import Verdict

TESTS = Path(__file__).resolve().parent
# The multiprocessing modules above are imported here, not first inside a test: pytester drops
# the modules a test imports, and a fresh resource tracker would later be told to forget
# semaphores it never saw (noise at exit).


@pytest.fixture(autouse=True)
def sweep_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(sc.LOG_ENV, str(tmp_path / "log"))
    monkeypatch.setenv("SCORECLAIMS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SCORECLAIMS_EXAMPLES", str(tmp_path / "examples"))
    # worker processes (spawned by the pool, or by a Dask nanny) import sweep_claims from here
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH",
                                                                                 "")]))
    monkeypatch.delenv("CI", raising=False)
    return tmp_path


def events(name: str = "log") -> list[tuple[str, str, int]]:
    path = Path(name)
    if not path.exists():
        return []
    return [(e, arg, int(pid)) for e, arg, pid in
            (line.split() for line in path.read_text().splitlines())]


def run(claims: Any, executor: Any = None, cache: ResultsCache | None = None,
        profile: str = "quick") -> list[ClaimResult]:
    options = RunOptions(profile=profile, cache=cache, executor=executor,
                         examples_dir=Path("examples"))
    return verify(claims, options)


def view(results: list[ClaimResult]) -> list[Any]:
    """Everything a result says except timings and cache flags, for exact (==) comparison."""
    out = []
    for r in results:
        out.append((r.claim.id, r.verdict, r.reason, [
            (i.instance, i.in_hypotheses, i.verdict, i.reason, i.metrics, i.rates, i.checks,
             i.warnings, None if i.trajectory is None else i.trajectory.to_dict("split"))
            for i in r.inside + r.beyond]))
    return out


def test_local_pool_is_bit_identical_and_forwards_task_map() -> None:
    serial = run(sc.CLAIMS)
    assert [r.verdict for r in serial] == [Verdict.PASS, Verdict.FAIL]
    starts = [e for e in events() if e[0] == "start"]
    assert len(starts) == 6  # the variant shares the claim's jobs: each instance runs once
    assert {pid for *_, pid in events()} == {os.getpid()}

    with LocalPool(2) as pool:
        pooled = run(sc.CLAIMS, pool)
    assert view(pooled) == view(serial)  # floats compared with ==, trajectories included
    log = events()[len(events()) // 2:]
    start_pid = {int(arg): pid for e, arg, pid in log if e == "start"}
    assert len(start_pid) == 6 and os.getpid() not in start_pid.values()
    # each instance's chunks ran in other processes while it waited (no nested pool)
    for e, arg, pid in log:
        if e == "chunk-start":
            assert pid != start_pid[int(arg) // 100]


def test_dask_local_cluster_matches_local() -> None:
    from distributed import LocalCluster

    from scoreclaims.claims._run.dask_executor import DaskExecutor

    serial = run(sc.CLAIMS)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        with DaskExecutor(cluster.scheduler_address) as executor:
            assert executor.describe()["workers"] == 2
            dasked = run(sc.CLAIMS, executor)
    assert view(dasked) == view(serial)
    pids = {pid for e, _, pid in events() if e == "start"}
    assert os.getpid() in pids and len(pids) >= 2  # the cluster's processes ran the second sweep


CRASH = dataclasses.replace(
    sc.SWEEP, id="S.crash",
    hypotheses=Domain("all", contains=lambda i: True, instances={"quick": [
        {"id": 1}, {"id": 2, "die": True}, {"id": 3, "raise": True}, {"id": 4},
        {"id": 5, "extra_seeds": [-7, -2]}]}),
)


def test_dying_worker_and_raising_instances_are_error_verdicts() -> None:
    with LocalPool(2) as pool:
        result = run([CRASH], pool)[0]
        assert pool.restarts >= 1
    by_id = {r.instance["id"]: r for r in result.inside}
    assert result.verdict is Verdict.ERROR
    assert [by_id[i].verdict for i in (1, 4)] == [Verdict.PASS] * 2
    died = by_id[2]
    assert died.verdict is Verdict.ERROR and "killed by signal SIGKILL" in died.reason
    assert "no Python traceback" in died.traceback
    raised = by_id[3]
    assert raised.reason == "ValueError in run: instance 3 asked to raise"
    assert "run_sweep" in raised.traceback
    failed_item = by_id[5]  # the lowest-index failing chunk is reported, with its traceback
    assert "item 3 of 5 failed: ArithmeticError in task: chunk -7 asked to raise" in (
        failed_item.reason)
    assert "TaskError" in failed_item.traceback and "in chunk" in failed_item.traceback
    serial = run([dataclasses.replace(sc.SWEEP, hypotheses=dataclasses.replace(
        CRASH.hypotheses, instances={"quick": [{"id": 1}, {"id": 4}]}))])[0]
    assert [r.metrics for r in serial.inside] == [by_id[1].metrics, by_id[4].metrics]


CLI = ("import sys; import scoreclaims.claims.registry as r; "
       "r.pack_modules = lambda: ('sweep_claims',); "
       "from scoreclaims.claims.cli.main import main; sys.exit(main(sys.argv[1:]))")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def test_killed_run_resumes_without_recomputing(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    env = {**os.environ, "SWEEP_SLEEP": "0.05"}
    cache = ResultsCache(tmp_path / "cache")
    params = sc.SWEEP.params("full")
    grid = sc.SWEEP.hypotheses.grid("full")
    keys = {i["id"]: cache.path(result_key(sc.SWEEP, i, params)) for i in grid}
    argv = [sys.executable, "-c", CLI, "verify", "--profile", "full", "--workers", "2"]
    proc = subprocess.Popen(argv, env={**env, sc.LOG_ENV: "log1"}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while sum(p.exists() for p in keys.values()) < 3:
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # no chance to clean up: only atomic writes save us
    proc.wait()
    workers = {pid for *_, pid in events("log1")} - {proc.pid}
    assert workers
    deadline = time.monotonic() + 60
    while any(_alive(pid) for pid in workers):  # orphaned workers notice and exit
        assert time.monotonic() < deadline, "worker processes outlived the killed run"
        time.sleep(0.1)
    # what the run's helper processes printed after the kill (until the last one lets go of
    # its standard error): no "leaked semaphore objects" warning from the resource tracker
    err, deadline = b"", time.monotonic() + 15
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 0.2)
        chunk = os.read(proc.stderr.fileno(), 4096) if ready else b""
        if ready and not chunk:
            break
        err += chunk
    proc.stderr.close()
    assert b"leaked" not in err, err.decode(errors="replace")
    finished = {i for i, path in keys.items() if path.exists()}
    assert 3 <= len(finished) < len(grid), "the kill did not land mid-run"
    seeds = [i["id"] * 100 + k for i in grid for k in range(params["chunks"])]
    chunk_done = {s for s in seeds
                  if cache.path(task_job(sc.chunk, (s, params["size"]), "").key).exists()}
    assert chunk_done >= {i * 100 + k for i in finished for k in range(params["chunks"])}

    monkeypatch.setenv(sc.LOG_ENV, "log2")
    with LocalPool(2) as pool:  # the same run again, to the end
        resumed = run(sc.CLAIMS, pool, cache=cache, profile="full")
    again = events("log2")
    restarted = {int(a) for e, a, _ in again if e == "start"}
    assert restarted == set(keys) - finished  # no finished instance was recomputed
    recomputed_chunks = {int(a) for e, a, _ in again if e == "chunk-start"}
    assert recomputed_chunks == set(seeds) - chunk_done  # and no finished task_map item either
    assert view(resumed) == view(run(sc.CLAIMS, profile="full"))  # as if never interrupted


def test_corrupted_cache_entries_are_recomputed(tmp_path: Path) -> None:
    cache = ResultsCache(tmp_path / "cache")
    first = run(sc.CLAIMS, cache=cache)
    params = sc.SWEEP.params("quick")
    paths = [cache.path(result_key(sc.SWEEP, {"id": i}, params)) for i in (2, 5)]
    truncated = paths[0].read_bytes()
    paths[0].write_bytes(truncated[: len(truncated) // 2])
    flipped = bytearray(paths[1].read_bytes())
    flipped[-20] ^= 0x01
    paths[1].write_bytes(bytes(flipped))
    Path("log").unlink()

    second = run(sc.CLAIMS, cache=cache)
    assert sorted(int(a) for e, a, _ in events() if e == "start") == [2, 5]
    assert not [e for e in events() if e[0] == "chunk-start"]  # the chunks were intact
    assert view(second) == view(first)
    cached = {r.instance["id"]: r.cached for r in second[0].inside}
    assert cached == {1: True, 2: False, 3: True, 4: True, 5: False, 6: True}
    assert all(isinstance(cache.get(p.stem), bytes) for p in paths)


def test_task_map_contract_and_errors(tmp_path: Path) -> None:
    items = [(1, 8), (2, 8)]
    assert task_map(sc.chunk, items) == [sc.chunk(i) for i in items]  # outside a run: serial
    with pytest.raises(TypeError, match="module-level"):
        task_map(lambda x: x, [1])
    with pytest.raises(TypeError, match="picklable"):
        task_map(sc.chunk, [lambda: 0])
    with pytest.raises(ArithmeticError):
        task_map(sc.chunk, [(-1, 8)])
    envelopes = [dataclasses.replace(parallel.Envelope(ok=False), reason=f"r{i}") for i in (0, 1)]
    with pytest.raises(TaskError, match="item 0 of 2 failed: r0"):
        parallel.values_or_raise(envelopes, "demo")


def test_main_process_task_map_items_are_cached(tmp_path: Path) -> None:
    cache = ResultsCache(tmp_path / "cache")
    run([sc.SWEEP], cache=cache)
    assert len([e for e in events() if e[0] == "chunk-start"]) == 18
    Path("log").unlink()
    for path in (tmp_path / "cache").rglob("*.entry"):  # keep the chunks, drop the instances
        if any(path.name.startswith(result_key(sc.SWEEP, {"id": i}, sc.SWEEP.params("quick")))
               for i in range(1, 7)):
            path.unlink()
    run([sc.SWEEP], cache=cache)
    assert len([e for e in events() if e[0] == "start"]) == 6
    assert not [e for e in events() if e[0] == "chunk-start"]


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs two cores for two BLAS threads")
def test_blas_threads_change_the_bits_and_pinning_removes_that() -> None:
    rng = np.random.default_rng(3)
    u, w = rng.standard_normal(1_000_003), rng.standard_normal(1_000_003)
    with threadpool_limits(limits=2):
        two = float(u @ w)
    with single_blas_thread():
        one = float(u @ w)
    assert two != one  # why the pinning exists: same inputs, other last bits
    with LocalPool(1) as pool:
        handle = Handle(task_job(_dot, (u, w), "dot"), PRIORITY_TASK)
        pool.submit(handle)
        while not handle.done():
            time.sleep(0.01)
    assert handle.envelope.output().value == one


def _dot(pair: tuple[np.ndarray, np.ndarray]) -> float:
    return float(pair[0] @ pair[1])


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--workers", "-1"], "--workers must be a whole number >= 0"),
        (["--workers", "two"], "--workers must be a whole number >= 0"),
        (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "exclude each other"),
        (["--scheduler", "tcp://127.0.0.1:1"], "pip install 'scoreclaims[dask]'"),
    ],
)
def test_executor_usage_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if the extra were not installed
    code, _, err = run_cli(capsys, "verify", *argv, "--json", "out.json")
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not Path("out.json").exists()


def test_pytest_plugin_runs_claims_on_a_pool(pytester: pytest.Pytester,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from scoreclaims.claims import registry
    from scoreclaims.claims.registry import Registry

    monkeypatch.setattr(registry, "load", lambda modules=None: Registry(sc.CLAIMS))
    result = pytester.runpytest_inprocess("--claims", "quick", "--claims-workers", "2",
                                          "-p", "no:cacheprovider", "--claims-no-cache")
    result.assert_outcomes(passed=2)
    assert os.getpid() not in {pid for e, _, pid in events() if e == "start"}


def test_code_without_a_source_file_is_never_served_from_a_later_run() -> None:
    """A `run` defined where there is no source file (python -c, a REPL) cannot be hashed: its
    key carries a per-process token, so a later process with other code misses the cache."""
    import subprocess
    import sys

    from scoreclaims.claims._run.keys import code_version, engine_hash

    script = ("from scoreclaims.claims._run.keys import code_version\n"
              "def run(i, p):\n    return 1\n"
              "print(code_version(run))")
    keys = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           check=True).stdout.strip() for _ in range(2)]
    assert keys[0] != keys[1] and all(k.startswith(engine_hash()) for k in keys)
    assert code_version(test_code_without_a_source_file_is_never_served_from_a_later_run) \
        == code_version(test_code_without_a_source_file_is_never_served_from_a_later_run)
