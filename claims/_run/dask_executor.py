"""Jobs on a Dask distributed cluster (``scoreclaims verify --scheduler tcp://HOST:PORT``).

Optional: needs the `distributed` package (``pip install 'scoreclaims[dask]'``). Workers must have
scoreclaims installed at the same code version and numerical environment as the main process: a
worker that differs refuses each job (an error verdict naming the difference), so results stay
bit-identical. Start workers with one thread each (``dask worker ADDRESS --nthreads 1``): jobs in
one worker process run one at a time anyway (mpmath's precision and the warnings filters are
process-wide), so extra threads only matter while a job waits for its `task_map` items.

Each job is one Dask task (Dask's priorities: `task_map` items, then search instances, then the
grid). The main process writes the cache as each task completes. `task_map` inside a task submits
the items as tasks of their own through `distributed.worker_client` (the task secedes from the
worker's thread pool while it waits); they are not cached one by one. A worker that dies is
Dask's business: it reschedules the task, and after the scheduler's allowed failures
(``distributed.scheduler.allowed-failures``, default 3) the task fails with `KilledWorker`, which
becomes that instance's error verdict.
"""

from __future__ import annotations

import socket
import traceback
import uuid
from typing import Any

from scoreclaims.claims._run.base import PRIORITY_SEARCH, PRIORITY_TASK, Executor, Handle
from scoreclaims.claims._run.determinism import pin_blas_threads
from scoreclaims.claims._run.jobs import Envelope, Job, execute, failure, suspended, task_job
from scoreclaims.claims._run.parallel import set_route, values_or_raise
from scoreclaims.verifiers.errors import UsageError

INSTALL_HINT = "pip install 'scoreclaims[dask]' (the 'distributed' package)"
CONNECT_TIMEOUT_S = 20


def _dask_priority(priority: tuple[Any, ...]) -> int:
    """Dask runs higher priorities first."""
    if priority[:1] == PRIORITY_TASK:
        return 2
    return 1 if priority[:1] == PRIORITY_SEARCH else 0


def _task_name(job: Job) -> str:
    return f"scoreclaims-{job.kind}-{job.key[:12]}-{uuid.uuid4().hex[:8]}"


def _dask_route(fn: Any, items: list[Any], label: str, cache: bool) -> list[Any]:
    """`task_map` in a Dask worker: the items as tasks, the caller seceded while it waits."""
    from distributed import wait, worker_client

    jobs = [task_job(fn, item, label) for item in items]
    with suspended(), worker_client() as client:
        futures = [client.submit(run_on_worker, job, key=_task_name(job), pure=False,
                                 priority=_dask_priority(PRIORITY_TASK)) for job in jobs]
        wait(futures)
        envelopes = [_envelope(future) for future in futures]
    return values_or_raise(envelopes, label)


def run_on_worker(job: Job) -> Envelope:
    """The task Dask runs: pin BLAS and route `task_map` (once per process), then the job."""
    pin_blas_threads()
    set_route(_dask_route)
    return execute(job)


def _envelope(future: Any) -> Envelope:
    if future.status == "finished":
        return future.result()
    if future.status == "cancelled":
        return failure("cancelled: the run was stopped before this task finished")
    exc = future.exception()
    tb = "".join(traceback.format_exception(type(exc), exc, future.traceback()))
    if type(exc).__name__ == "KilledWorker":
        return failure(f"Dask workers died running this job ({exc})", tb)
    return failure(f"{type(exc).__name__} on the Dask cluster: {exc}", tb)


def _probe(address: str) -> None:
    """A usage error, before any Dask client exists, unless `address` is tcp://HOST:PORT (or
    HOST:PORT) with something listening there (a client that fails half-way hangs in its
    destructor for its connect timeout)."""
    scheme, _, rest = address.rpartition("://")
    host, _, port = rest.rpartition(":")
    if scheme not in ("", "tcp") or not host or not port.isdigit():
        raise UsageError(f"--scheduler needs an address such as tcp://127.0.0.1:8786, got "
                         f"{address!r}")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as exc:
        raise UsageError(f"cannot reach the Dask scheduler at {address!r}: "
                         f"{exc.strerror or exc}") from None


class DaskExecutor(Executor):
    """Jobs as tasks of the Dask scheduler at `address`."""

    kind = "dask"

    def __init__(self, address: str) -> None:
        try:
            import distributed
        except ImportError:
            raise UsageError(f"--scheduler needs the optional Dask support: {INSTALL_HINT}"
                             ) from None
        _probe(address)
        try:
            self.client = distributed.Client(address, timeout=CONNECT_TIMEOUT_S,
                                             set_as_default=False)
        except (OSError, TimeoutError, ValueError, TypeError) as exc:
            raise UsageError(f"cannot reach the Dask scheduler at {address!r}: {exc}") from None
        self.address = address
        self.workers = len(self.client.scheduler_info().get("workers", {}))

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "scheduler": self.address, "workers": self.workers}

    def submit(self, handle: Handle) -> None:
        if handle.job.call is None:
            handle.set(failure("this job cannot be sent to a Dask worker"))
            return
        future = self.client.submit(run_on_worker, handle.job, key=_task_name(handle.job),
                                    pure=False, priority=_dask_priority(handle.priority))
        future.add_done_callback(lambda f: handle.set(_envelope(f)))

    def close(self, abort: bool = False) -> None:
        self.client.close()
