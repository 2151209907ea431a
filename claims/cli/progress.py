"""One-line progress display on stderr for runs longer than a few seconds; silent off a terminal."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO


class Progress:
    """Redraws ``[k/N] <status> · <elapsed>`` in place, starting `delay` seconds into the run.

    Disabled (every method a no-op apart from `message`) unless `stream` is a terminal or `enabled`
    forces it. Use as a context manager; `message` prints a permanent line without garbling the
    status line.
    """

    def __init__(
        self,
        total: int,
        *,
        stream: TextIO | None = None,
        delay: float = 3.0,
        interval: float = 0.5,
        enabled: bool | None = None,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = _isatty(self.stream) if enabled is None else enabled
        self.total = total
        self.done = 0
        self.status = ""
        self.delay = delay
        self.interval = interval
        self._start = time.monotonic()
        self._shown = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Progress:
        if self.enabled:
            self._thread = threading.Thread(
                target=self._loop, name="scoreclaims-progress", daemon=True
            )
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, status: str, *, done: int | None = None) -> None:
        """Set the status text (and the count of finished items)."""
        with self._lock:
            self.status = status
            if done is not None:
                self.done = done

    def message(self, line: str, stream: TextIO | None = None) -> None:
        """Print `line` (to stdout by default) above the status line."""
        with self._lock:
            was_shown = self._shown
            self._clear()
            print(line, file=stream if stream is not None else sys.stdout, flush=True)
            if was_shown:
                self._draw()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._lock:
            self._clear()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            if time.monotonic() - self._start >= self.delay:
                with self._lock:
                    self._draw()

    def _draw(self) -> None:
        elapsed = time.monotonic() - self._start
        line = f"[{self.done}/{self.total}] {self.status} · {elapsed:.0f} s"
        self.stream.write("\r\x1b[K" + line[:200])
        self.stream.flush()
        self._shown = True

    def _clear(self) -> None:
        if self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = False


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
