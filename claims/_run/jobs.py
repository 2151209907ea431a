"""Jobs: the unit of work every executor runs, and `execute`, which runs one in any process.

A job is a claim's `run` on one instance (kind "run") or one item of a `task_map` (kind "task").
It travels as bytes, ``pickle((fn, args))``, so the same job runs identically in the main process,
in a local worker process or on a Dask worker; a function that cannot be pickled by reference (a
lambda, a closure) gives a job that only the main process can run (`Job.local`).

A job's key names everything its result depends on: the function, its arguments, the mpmath
working precision, the environment fingerprint (library versions, BLAS build) and the code version
(`keys.code_version`: the engine and the function's own import closure, not the whole package).
Claims and known-false variants that share a `run` and parameters therefore
share one job per instance: it is computed once per run and once per cache.

`execute` returns an `Envelope`: the pickled `JobOutput` (value, wall time, warnings) when the job
succeeds, or the reason and traceback when it raises. The output is always pickled, also in the
main process, so that a result no worker could send back is an error everywhere, and every claim
judging a shared outcome gets its own copy.
"""

from __future__ import annotations

import hashlib
import pickle
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from scoreclaims.claims._run.cache import cache_key
from scoreclaims.claims._run.determinism import environment_fingerprint, fingerprint_digest
from scoreclaims.claims._run.keys import code_version

PICKLE_PROTOCOL = 4  # fixed: task keys hash pickled items
MAX_WARNINGS = 10


@dataclass(frozen=True)
class Job:
    """One unit of work; `call` is ``pickle((fn, args))``, or None when only `local` can run it."""

    key: str
    kind: str  # "run" or "task"
    label: str
    call: bytes | None
    mp_prec: int
    expect: str  # fingerprint digest a process must match to run the job
    backend: str = "numpy"  # the float64 engine's backend the job runs on
    local: tuple[Callable[..., Any], tuple[Any, ...]] | None = field(default=None, compare=False)

    def __reduce__(self) -> tuple[Any, ...]:  # `local` stays in this process
        return (Job, (self.key, self.kind, self.label, self.call, self.mp_prec, self.expect,
                      self.backend))


@dataclass
class JobOutput:
    """What a successful job produced; the cache stores it pickled."""

    value: Any
    wall_time_s: float
    warnings: list[str]


@dataclass
class Envelope:
    """A job's result as it travels back: `blob` (pickled `JobOutput`) or the failure."""

    ok: bool
    blob: bytes | None = None
    reason: str = ""
    traceback: str | None = None
    wall_time_s: float = 0.0
    warnings: list[str] = field(default_factory=list)

    def output(self) -> JobOutput:
        assert self.ok and self.blob is not None
        return pickle.loads(self.blob)


def failure(reason: str, tb: str | None = None, wall_time_s: float = 0.0) -> Envelope:
    return Envelope(ok=False, reason=reason, traceback=tb, wall_time_s=wall_time_s)


def fn_ref(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', repr(fn))}"


def importable(fn: Callable[..., Any]) -> bool:
    """True when pickle stores `fn` by reference (a module-level function or class)."""
    ref = fn_ref(fn)
    return "<lambda>" not in ref and "<locals>" not in ref and not ref.startswith("?")


def precision() -> dict[str, Any]:
    """The arithmetic the results depend on (part of every cache key)."""
    import mpmath
    import mpmath.libmp

    from scoreclaims.verifiers.backend import current

    return {"float": "float64", "backend": current(), "mp_prec": mpmath.mp.prec,
            "mpmath_backend": mpmath.libmp.BACKEND}


def _make_job(kind: str, label: str, fn: Callable[..., Any], args: tuple[Any, ...],
              parts: dict[str, Any]) -> Job:
    import mpmath

    code = code_version(fn)
    prec = precision()
    key = cache_key({**parts, "precision": prec, "environment": environment_fingerprint(),
                     "code": code})
    call = None
    if importable(fn):
        try:
            call = pickle.dumps((fn, args), protocol=PICKLE_PROTOCOL)
        except Exception:  # noqa: BLE001 - unpicklable arguments: the main process runs it
            call = None
    return Job(key=key, kind=kind, label=label, call=call, mp_prec=mpmath.mp.prec,
               expect=fingerprint_digest(code), backend=prec["backend"], local=(fn, args))


def run_job(fn: Callable[..., Any], instance: Mapping[str, Any], params: Mapping[str, Any],
            *, claim_id: str, json_params: Any) -> Job:
    """The job of `fn(instance, params)` (a claim's run); `instance` is already normalised.

    A function pickle cannot store by reference is keyed by the claim id as well (two lambdas
    share a qualified name).
    """
    parts: dict[str, Any] = {"run": fn_ref(fn), "instance": instance, "params": json_params}
    if not importable(fn):
        parts["claim"] = claim_id
    return _make_job("run", claim_id, fn, (dict(instance), dict(params)), parts)


def task_key_parts(fn: Callable[..., Any], item: Any) -> dict[str, Any]:
    data = pickle.dumps(item, protocol=PICKLE_PROTOCOL)
    return {"task": fn_ref(fn), "item": hashlib.sha256(data).hexdigest()}


def task_job(fn: Callable[..., Any], item: Any, label: str) -> Job:
    """The job of `fn(item)`, one `task_map` item (keyed by the pickled item)."""
    return _make_job("task", label, fn, (item,), task_key_parts(fn, item))


# One job at a time per process: mpmath's precision and the warnings filters are process-wide,
# and a Dask worker may run several tasks in threads. `suspended` releases it while a job waits
# for its own sub-tasks.
_EXCLUSIVE = threading.RLock()
_LOCAL = threading.local()


def current_job_key() -> str | None:
    """Key of the job this thread is executing (the innermost one), None outside jobs."""
    stack = getattr(_LOCAL, "keys", None)
    return stack[-1] if stack else None


@contextmanager
def suspended() -> Iterator[None]:
    """Let other jobs run in this process while the current one waits (Dask `task_map`)."""
    import mpmath

    held = getattr(_LOCAL, "depth", 0)
    if not held:
        yield
        return
    saved = (mpmath.mp.prec, list(warnings.filters), warnings.showwarning)
    for _ in range(held):
        _EXCLUSIVE.release()
    try:
        yield
    finally:
        for _ in range(held):
            _EXCLUSIVE.acquire()
        mpmath.mp.prec, warnings.filters[:], warnings.showwarning = saved


def _check_outcome(outcome: Any) -> None:
    """Reject what the results file could not hold: an error of the claim, not a later crash."""
    import pandas as pd

    from scoreclaims.claims.evidence import jsonable
    from scoreclaims.claims.model import InstanceOutcome

    if not isinstance(outcome, InstanceOutcome):
        raise TypeError(f"run returned {type(outcome).__name__}, not InstanceOutcome")
    if outcome.trajectory is not None and not isinstance(outcome.trajectory, pd.DataFrame):
        raise TypeError(f"trajectory is a {type(outcome.trajectory).__name__}, not a DataFrame")
    jsonable(outcome.metrics)
    jsonable(outcome.rates)


def execute(job: Job) -> Envelope:
    """Run `job` here, at its mpmath precision and on its backend; any exception of the job's
    code becomes a failure with its traceback."""
    import mpmath

    from scoreclaims.verifiers.backend import using

    start = time.perf_counter()
    stage = "setup"
    with _EXCLUSIVE:
        _LOCAL.depth = getattr(_LOCAL, "depth", 0) + 1
        _LOCAL.keys = [*getattr(_LOCAL, "keys", []), job.key]
        try:
            with (warnings.catch_warnings(record=True) as caught,
                  mpmath.workprec(job.mp_prec), using(job.backend)):
                warnings.simplefilter("default")  # each distinct warning once
                try:
                    if job.call is not None:
                        fn, args = pickle.loads(job.call)
                    else:
                        assert job.local is not None
                        fn, args = job.local
                    if fingerprint_digest(code_version(fn)) != job.expect:
                        raise RuntimeError(
                            "this process runs other code or another numerical environment "
                            f"than the main process ({environment_fingerprint()}); results "
                            "would not be identical"
                        )
                    stage = "run" if job.kind == "run" else "task"
                    value = fn(*args)
                    if job.kind == "run":
                        stage = "outcome check"
                        _check_outcome(value)
                    stage = "pickling the result"
                    elapsed = time.perf_counter() - start
                    messages = _messages(caught)
                    blob = pickle.dumps(JobOutput(value, elapsed, messages),
                                        protocol=PICKLE_PROTOCOL)
                    return Envelope(ok=True, blob=blob, wall_time_s=elapsed, warnings=messages)
                except Exception as exc:  # noqa: BLE001 - any failure of the job's code
                    envelope = failure(f"{type(exc).__name__} in {stage}: {exc}",
                                       traceback.format_exc(), time.perf_counter() - start)
                    envelope.warnings = _messages(caught)
                    return envelope
        finally:
            _LOCAL.depth -= 1
            _LOCAL.keys = _LOCAL.keys[:-1]


def _messages(caught: list[warnings.WarningMessage]) -> list[str]:
    return list(dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught))[
        :MAX_WARNINGS
    ]
