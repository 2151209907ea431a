"""Text for a terminal: markdown markers removed, long lines folded to its width, a standard
output that a closed pipe (``scoreclaims list | head -1``) cannot crash, and SIGTERM read as
Ctrl-C (what was finished is kept)."""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

_MARKERS = re.compile(r"\*\*|__|`|(?<![\w*])\*(?=\S)|(?<=\S)\*(?![\w*])")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]+\)")


def plain(markdown: str) -> str:
    """`markdown` as plain text: no emphasis or code markers, links as their text, one line."""
    return " ".join(_MARKERS.sub("", _LINK.sub(r"\1", markdown)).split())


def width(stream: TextIO | None = None) -> int:
    """The terminal's width (80 off a terminal, so that logs stay readable)."""
    stream = stream if stream is not None else sys.stdout
    try:
        if stream.isatty():
            return max(40, shutil.get_terminal_size().columns)
    except (AttributeError, ValueError):
        pass
    return 100


def fold(text: str, indent: int, stream: TextIO | None = None) -> str:
    """`text` folded to the terminal width, every line indented by `indent` spaces."""
    pad = " " * indent
    return textwrap.fill(text, width=width(stream), initial_indent=pad, subsequent_indent=pad,
                         break_long_words=False, break_on_hyphens=False)


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 3)] + "..."


class PipeSafe(io.TextIOBase):
    """Standard output that goes quiet once its reader has gone (a closed pipe): the command
    carries on and ends with its own exit status, instead of a BrokenPipeError traceback."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._closed_pipe = False

    def write(self, text: str) -> int:
        if not self._closed_pipe:
            try:
                self._stream.write(text)
            except BrokenPipeError:
                self._gone()
        return len(text)

    def flush(self) -> None:
        if not self._closed_pipe:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._gone()

    def _gone(self) -> None:
        self._closed_pipe = True
        try:  # the interpreter flushes stdout at exit: point the descriptor at /dev/null
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, io.UnsupportedOperation):
            pass

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    @property
    def encoding(self) -> Any:  # type: ignore[override]
        return self._stream.encoding


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """SIGTERM stops the run like Ctrl-C (workers stopped, finished instances kept)."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread (an embedding application): leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
