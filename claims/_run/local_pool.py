"""A local pool of worker processes: `concurrent.futures.ProcessPoolExecutor`.

Workers are forked from a fork server (``multiprocessing``'s forkserver start method, spawn where
it does not exist) that has imported numpy, scipy, pandas, mpmath and the registered claim modules
once, with one BLAS thread: a new worker costs milliseconds instead of seconds of imports, and no
process is ever forked from the multi-threaded main process.

* At most `workers` jobs run at once. Jobs wait here in a priority heap and are handed to the
  pool one at a time as workers free up (the pool itself holds no queue), so hypothesis-search
  instances and `task_map` items overtake the grid.
* Worker processes pin BLAS to one thread, ignore SIGINT (the main process handles Ctrl-C and stops
  them), enable faulthandler, and exit by themselves when the main process disappears, so even a
  run killed with SIGKILL leaves no orphan computing on.
* `task_map` inside a worker sends its items to the main process (a listener thread here), which
  submits them as jobs of the run (cached, at top priority) and replies when all are done. The
  waiting worker is counted as blocked, not running, so another job may start, on one of `spare`
  extra processes; with no spare left the worker runs its items itself, one after the other.
* A worker that dies breaks a ProcessPoolExecutor: every job in flight fails, the culprit unknown.
  The pool is then replaced and each job that was in flight is rerun alone in a quarantine process
  of its own. Jobs that merely shared the broken pool complete there; the job that kills its
  process again gets an error envelope with the exit status or signal and whatever the process wrote
  to stderr (faulthandler prints the Python traceback of a segfault or abort).
"""

from __future__ import annotations

import faulthandler
import functools
import heapq
import itertools
import multiprocessing
import os
import pickle
import signal
import sys
import tempfile
import threading
import traceback
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from scoreclaims.claims._run.base import Executor, Handle, TaskSource
from scoreclaims.claims._run.determinism import pin_blas_threads
from scoreclaims.claims._run.jobs import (
    PICKLE_PROTOCOL,
    Envelope,
    current_job_key,
    execute,
    failure,
    task_job,
)
from scoreclaims.claims._run.parallel import set_route, values_or_raise

STDERR_TAIL = 6000  # characters of a dead process's stderr kept as evidence


# ----------------------------------------------------------------- worker side


def _watch_main(alive: Any) -> None:
    """Exit as soon as the main process is gone: `alive` is a pipe only the main process writes
    to, so reading it ends (EOF) exactly when the main process dies or closes the pool. (The
    parent process id cannot tell: workers forked by the fork server are its children, and the
    fork server lives as long as any of them.)"""

    def loop() -> None:
        try:
            while True:
                alive.recv()
        except (EOFError, OSError):
            os._exit(70)

    threading.Thread(target=loop, name="scoreclaims-watchdog", daemon=True).start()


class _PoolRoute:
    """`task_map` in a worker process: ask the main process to run the items on the pool."""

    def __init__(self, requests: Any, reply: Any, reply_id: tuple[Any, ...]) -> None:
        self.requests, self.reply, self.reply_id = requests, reply, reply_id

    def __call__(self, fn: Callable[[Any], Any], items: list[Any], label: str,
                 cache: bool) -> list[Any]:
        payload = pickle.dumps((fn, items, label, cache), protocol=PICKLE_PROTOCOL)
        self.requests.put(("map", self.reply_id, current_job_key(), payload))
        answer = self.reply.get()
        if answer[0] == "done":
            envelopes = pickle.loads(answer[1])
        else:  # "serial": no spare process to step aside to; run the items here
            envelopes = [execute(task_job(fn, item, label)) for item in items]
        return values_or_raise(envelopes, label)


def _prepare_process(context: tuple[Any, ...], reply: Any, reply_id: tuple[Any, ...]) -> None:
    alive, requests, environ, sys_path = context
    os.environ.clear()  # the main process's, not the fork server's (it started earlier)
    os.environ.update(environ)
    sys.path[:] = sys_path
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    faulthandler.enable()
    _watch_main(alive)
    pin_blas_threads()
    set_route(_PoolRoute(requests, reply, reply_id))


def _worker_init(context: tuple[Any, ...], replies: list[Any], slots: Any,
                 generation: int) -> None:
    slot = slots.get()
    _prepare_process(context, replies[slot], (generation, slot))


def _quarantine_main(conn: Any, job: Any, context: tuple[Any, ...], reply: Any,
                     reply_id: tuple[Any, ...], stderr_path: str) -> None:
    fd = os.open(stderr_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 2)
    os.close(fd)
    _prepare_process(context, reply, reply_id)
    conn.send(execute(job))
    conn.close()


# ----------------------------------------------------------------- main-process side


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _preload() -> list[str]:
    from scoreclaims.claims.registry import pack_modules

    return ["numpy", "scipy.linalg", "pandas", "mpmath", "scoreclaims.claims._run.local_pool",
            *pack_modules()]


def _quiet_resource_tracker() -> None:
    """Start multiprocessing's resource tracker with its standard error on /dev/null. When the
    main process is killed outright (kill -9), the tracker unlinks the pool's semaphores, as it
    should, and warns about "leaked semaphore objects" on the terminal of a run that is gone."""
    from multiprocessing import resource_tracker

    if getattr(resource_tracker._resource_tracker, "_pid", None) is not None:
        return  # already running (started by an earlier pool of this process)
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        resource_tracker.ensure_running()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _context() -> Any:
    """The forkserver context, its server started with one BLAS thread; else spawn."""
    _quiet_resource_tracker()
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    from multiprocessing import forkserver

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(_preload())
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    os.environ.update(dict.fromkeys(THREAD_VARIABLES, "1"))
    try:
        forkserver.ensure_running()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return ctx


class _Generation:
    """One ProcessPoolExecutor with a reply queue per possible worker process."""

    def __init__(self, ctx: Any, size: int, context: tuple[Any, ...], number: int) -> None:
        self.number = number
        self.replies = [ctx.Queue() for _ in range(size)]
        slots = ctx.Queue()
        for slot in range(size):
            slots.put(slot)
        self.pool = ProcessPoolExecutor(
            size, mp_context=ctx, initializer=_worker_init,
            initargs=(context, self.replies, slots, number),
        )
        self.broken = False


def _terminate(pool: ProcessPoolExecutor) -> None:
    stop = getattr(pool, "terminate_workers", None)  # Python >= 3.14
    if stop is not None:
        stop()
        return
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()


class LocalPool(Executor):
    """`workers` concurrent jobs on local worker processes (see the module docstring)."""

    kind = "local"

    def __init__(self, workers: int, *, spare: int | None = None) -> None:
        if workers < 1:
            raise ValueError("a local pool needs at least one worker")
        self.workers = workers
        self.spare = 2 * workers if spare is None else spare
        self.restarts = 0  # pools replaced after a worker died
        self._ctx = _context()
        self._lock = threading.RLock()
        self._heap: list[tuple[tuple[Any, ...], int, Handle]] = []
        self._seq = itertools.count()
        self._suspects: deque[Handle] = deque()
        self._running: dict[str, tuple[Handle, _Generation | None]] = {}  # None: quarantined
        self._blocked: dict[str, tuple[Any, ...]] = {}  # job key -> reply id of its request
        self._generations: dict[int, _Generation] = {}
        self._current: _Generation | None = None
        self._numbers = itertools.count()
        self._quarantined: dict[tuple[Any, ...], tuple[Any, Any]] = {}  # reply id -> (queue, proc)
        self._tasks: TaskSource | None = None
        self._closed = False
        self._requests = self._ctx.Queue()
        self._alive_r, self._alive_w = self._ctx.Pipe(duplex=False)
        self._listener = threading.Thread(target=self._listen, name="scoreclaims-requests",
                                          daemon=True)
        self._listener.start()
        self._wake = threading.Event()
        threading.Thread(target=self._dispatch_loop, name="scoreclaims-dispatch",
                         daemon=True).start()

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "workers": self.workers, "spare": self.spare,
                "start_method": self._ctx.get_start_method(), "pool_restarts": self.restarts}

    def bind(self, tasks: TaskSource | None) -> None:
        self._tasks = tasks

    def submit(self, handle: Handle) -> None:
        with self._lock:
            closed = self._closed
            if not closed:
                heapq.heappush(self._heap, (handle.priority, next(self._seq), handle))
                self._dispatch()
        if closed:
            handle.set(failure("the pool was closed before this job ran"))

    # -------------------------------------------------------- dispatching (under the lock)

    def _process_context(self) -> tuple[Any, ...]:
        """What every worker process gets: the liveness pipe, the request queue, and this
        process's environment variables and import path (as they are now)."""
        return (self._alive_r, self._requests, dict(os.environ), list(sys.path))

    def _kick(self) -> None:
        """Dispatch from the dispatcher thread: a pool's own thread, which reports results,
        must release its idle-worker semaphore before the next job is submitted, or the pool
        starts a new process for it."""
        self._wake.set()

    def _dispatch_loop(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            try:
                with self._lock:
                    if self._closed:
                        return
                    self._dispatch()
            except Exception as exc:  # noqa: BLE001 - e.g. no process can be started any more
                with self._lock:
                    waiting = [h for _, _, h in self._heap] + list(self._suspects)
                    self._heap.clear()
                    self._suspects.clear()
                tb = traceback.format_exc()
                for handle in waiting:  # error verdicts rather than a run waiting forever
                    handle.set(failure(f"the local pool cannot run jobs: {exc!r}", tb))

    def _active(self) -> int:
        return len(self._running) - len(self._blocked)

    def _generation(self) -> _Generation:
        if self._current is None or self._current.broken:
            number = next(self._numbers)
            self._current = _Generation(self._ctx, self.workers + self.spare,
                                        self._process_context(), number)
            self._generations = {n: g for n, g in self._generations.items() if not g.broken}
            self._generations[number] = self._current
        return self._current

    def _dispatch(self) -> None:
        while not self._closed and self._active() < self.workers:
            if self._suspects:
                handle = self._suspects.popleft()
                self._running[handle.job.key] = (handle, None)
                threading.Thread(target=self._quarantine, args=(handle,), daemon=True,
                                 name="scoreclaims-quarantine").start()
                continue
            if not self._heap:
                break
            generation = self._generation()
            _, _, handle = heapq.heappop(self._heap)
            try:
                future = generation.pool.submit(execute, handle.job)
            except BaseException as exc:
                heapq.heappush(self._heap, (handle.priority, next(self._seq), handle))
                if not isinstance(exc, BrokenProcessPool):
                    raise
                self._break(generation)
                continue
            self._running[handle.job.key] = (handle, generation)
            future.add_done_callback(functools.partial(self._finished, handle, generation))

    def _break(self, generation: _Generation) -> None:
        """A worker of `generation` died: every job in flight there goes to quarantine."""
        if generation.broken:
            return
        generation.broken = True
        self.restarts += 1
        for key, (handle, owner) in list(self._running.items()):
            if owner is generation:
                del self._running[key]
                self._blocked.pop(key, None)
                self._suspects.append(handle)

    def _release(self, handle: Handle) -> None:
        self._running.pop(handle.job.key, None)
        self._blocked.pop(handle.job.key, None)

    # -------------------------------------------------------- completions (pool threads)

    def _finished(self, handle: Handle, generation: _Generation, future: Future[Any]) -> None:
        envelope: Envelope | None = None
        if future.cancelled():
            envelope = failure("cancelled: the run was stopped before this job finished")
        elif isinstance(future.exception(), BrokenProcessPool):
            with self._lock:
                if self._running.get(handle.job.key, (None, None))[1] is generation:
                    self._break(generation)
                self._kick()
            return
        elif future.exception() is not None:
            exc = future.exception()
            envelope = failure(f"{type(exc).__name__} in the worker pool: {exc}",
                               "".join(traceback.format_exception(exc)))
        else:
            envelope = future.result()
        with self._lock:
            if self._running.get(handle.job.key, (None, None))[1] is generation:
                self._release(handle)
            elif handle in self._suspects and envelope.ok:  # finished just before the break
                self._suspects.remove(handle)
            else:
                return  # stale: the job was moved to quarantine and runs again there
            self._kick()
        handle.set(envelope)

    def _quarantine(self, handle: Handle) -> None:
        reply_id = ("q", next(self._numbers))
        reply = self._ctx.Queue()
        with tempfile.TemporaryDirectory(prefix="scoreclaims-") as tmp:
            stderr_path = os.path.join(tmp, "stderr")
            receiver, sender = self._ctx.Pipe(duplex=False)
            process = self._ctx.Process(
                target=_quarantine_main, daemon=True, name="scoreclaims-quarantine",
                args=(sender, handle.job, self._process_context(), reply, reply_id,
                      stderr_path),
            )
            with self._lock:
                self._quarantined[reply_id] = (reply, process)
            process.start()
            sender.close()
            try:
                envelope: Envelope | None = receiver.recv()
            except (EOFError, OSError):
                envelope = None
            process.join()
            if envelope is None:
                envelope = _death(process.exitcode, stderr_path)
        with self._lock:
            self._quarantined.pop(reply_id, None)
            self._release(handle)
            self._kick()
        handle.set(envelope)

    # -------------------------------------------------------- task_map requests

    def _listen(self) -> None:
        while True:
            message = self._requests.get()
            if message[0] == "stop":
                return
            _, reply_id, requester, payload = message
            try:
                self._serve(reply_id, requester, payload)
            except Exception:  # noqa: BLE001 - the worker then runs its items itself
                queue = self._reply_queue(reply_id)
                if queue is not None:
                    queue.put(("serial",))

    def _reply_queue(self, reply_id: tuple[Any, ...]) -> Any:
        with self._lock:
            if reply_id[0] == "q":
                entry = self._quarantined.get(reply_id)
                return None if entry is None else entry[0]
            generation = self._generations.get(reply_id[0])
            return None if generation is None else generation.replies[reply_id[1]]

    def _serve(self, reply_id: tuple[Any, ...], requester: str | None, payload: bytes) -> None:
        queue = self._reply_queue(reply_id)
        if queue is None:
            return  # the requesting process belongs to a broken pool: it is gone
        fn, items, label, cache = pickle.loads(payload)
        tasks = self._tasks
        with self._lock:
            block = (tasks is not None and requester in self._running
                     and len(self._blocked) < self.spare)
            if block:
                self._blocked[requester] = reply_id
        if not block:
            queue.put(("serial",))
            return
        try:
            handles = tasks.task_handles(fn, items, label, cache)
        except BaseException:
            with self._lock:
                self._blocked.pop(requester, None)
            raise
        remaining = [len(handles)]
        count_lock = threading.Lock()

        def one_done(_: Handle) -> None:
            with count_lock:
                remaining[0] -= 1
                if remaining[0]:
                    return
            with self._lock:
                if self._blocked.get(requester) == reply_id:
                    del self._blocked[requester]
            queue.put(("done", pickle.dumps([h.envelope for h in handles],
                                            protocol=PICKLE_PROTOCOL)))

        for handle in handles:
            handle.add_callback(one_done)

    # -------------------------------------------------------- closing

    def close(self, abort: bool = False) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._wake.set()
            waiting = [h for _, _, h in self._heap] + list(self._suspects)
            self._heap.clear()
            self._suspects.clear()
            generations = list(self._generations.values())
            quarantined = [p for _, p in self._quarantined.values()]
        self._requests.put(("stop",))
        self._listener.join(timeout=5)
        for generation in generations:
            if abort:
                _terminate(generation.pool)
            generation.pool.shutdown(wait=not abort, cancel_futures=True)
        for process in quarantined:
            if abort and process.is_alive():
                process.terminate()
        self._alive_w.close()
        for handle in waiting:
            handle.set(failure("the run stopped before this job ran"))


def _death(exitcode: int | None, stderr_path: str) -> Envelope:
    if exitcode is not None and exitcode < 0:
        try:
            how = f"killed by signal {signal.Signals(-exitcode).name}"
        except ValueError:
            how = f"killed by signal {-exitcode}"
    else:
        how = f"exit status {exitcode}"
    try:
        with open(stderr_path, encoding="utf-8", errors="replace") as stream:
            text = stream.read()[-STDERR_TAIL:].strip()
    except OSError:
        text = ""
    reason = (f"worker process died ({how}) while running this job alone, after a worker of "
              "the pool died with it in flight")
    tb = text or (f"no Python traceback: the process was {how} "
                  "(an external kill or the out-of-memory killer leave none)")
    return failure(reason, tb)
